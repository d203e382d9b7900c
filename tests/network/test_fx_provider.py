"""The FX provider's node (fx/provider.py): the quotes asked in one request are signed together, each still believed
alone with the provider's directory key; a payment asked for twice gets one quote."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from corridor.fx.provider import QuoteRequest
from corridor.fx.quotes import Quote
from corridor.money import Money
from corridor.network.context import Context
from corridor.node import actions
from corridor.node.network import EmbeddedNetwork
from tests.network.conftest import running_network


def request(uetr: str, rub: str = "100.00") -> QuoteRequest:
    return QuoteRequest(uetr, "VES", "RUB", {"buy": Money.of(rub, "RUB")})


def check_alone(net: EmbeddedNetwork, quote: Quote) -> None:
    provider = net.directory.get(net.fx_bic)
    assert provider is not None
    read = Quote.from_token(quote.token())
    read.check(provider.public_key, uetr=read.uetr, sell=read.sell, buy=read.buy, now_ns=read.issued_ns)


def test_quotes_asked_together_share_one_signature_and_each_is_believed_alone(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            uetrs = [str(uuid.uuid4()) for _ in range(5)]
            made = await actions.quotes(net.nodes[net.fx_bic], [request(uetr) for uetr in uetrs])
            quotes = [quote for quote in made if isinstance(quote, Quote)]
            assert [quote.uetr for quote in quotes] == uetrs
            assert len({quote.signature for quote in quotes}) == 1
            for quote in quotes:
                check_alone(net, quote)

    asyncio.run(scenario())


def test_a_payment_asked_for_twice_in_one_request_gets_one_quote(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            uetr = str(uuid.uuid4())
            first, second = await actions.quotes(net.nodes[net.fx_bic], [request(uetr), request(uetr)])
            assert isinstance(first, Quote) and first == second
            await net.quiesce()
            assert net.nodes[net.fx_bic].store.get(f"quote:{uetr}") == first.token()

    asyncio.run(scenario())


def test_a_kept_quote_the_provider_cannot_read_is_replaced_by_a_new_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            uetr = str(uuid.uuid4())
            fx = net.nodes[net.fx_bic]
            await fx.run(lambda ctx: _keep(ctx, f"quote:{uetr}", "an.old-format"))
            [made] = await actions.quotes(fx, [request(uetr)])
            assert isinstance(made, Quote) and made.uetr == uetr
            check_alone(net, made)

    asyncio.run(scenario())


async def _keep(ctx: Context, key: str, value: str) -> None:
    ctx.unit.kv[key] = value
