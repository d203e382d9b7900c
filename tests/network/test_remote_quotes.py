"""A bank's quote service in distributed mode (node/service.py, RemoteQuotes): quotes asked together share one
request to the FX provider, and while requests are on their way later ones wait and share the next; each payment
still gets its own quote or refusal."""

from __future__ import annotations

import asyncio
from typing import Any

from corridor.fx.quotes import make_quote
from corridor.money import Money
from corridor.network.identity import SigningKey
from corridor.node.rpc import RpcError
from corridor.node.service import QUOTE_REQUESTS_IN_FLIGHT, RemoteQuotes
from corridor.scenario.model import load_scenario

UETRS = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(6)]


class FakeProvider:
    """Answers quote_many when the test releases it, and records what each request asked."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.release = asyncio.Event()
        self.key = SigningKey.generate()
        self.spec = load_scenario().fx

    async def call(self, bic: str, method: str, params: dict[str, Any], **_: Any) -> dict[str, Any]:
        assert (bic, method) == ("FXCRRUMM", "quote_many")
        self.requests.append([request["uetr"] for request in params["requests"]])
        await self.release.wait()
        answers: list[dict[str, Any]] = []
        for request in params["requests"]:
            if request["uetr"] == UETRS[-1]:
                answers.append({"error": {"code": "AM03", "message": "no rate"}})
                continue
            quote = make_quote(
                self.spec,
                self.key,
                quote_id="Q0000000000000001",
                uetr=request["uetr"],
                sell_currency=request["sell_currency"],
                buy_currency=request["buy_currency"],
                now_ns=0,
                buy=Money.parse(request["buy"]),
            )
            answers.append({"token": quote.token()})
        return {"answers": answers}


def test_quotes_asked_together_share_a_request_and_later_ones_wait_for_a_free_one() -> None:
    async def scenario() -> tuple[list[list[str]], list[Any]]:
        provider = FakeProvider()
        quotes = RemoteQuotes(provider, "FXCRRUMM")  # type: ignore[arg-type]

        def ask(uetrs: list[str]) -> list[asyncio.Task[Any]]:
            return [asyncio.create_task(quotes(uetr, "VES", "RUB", buy=Money.parse("10.00 RUB"))) for uetr in uetrs]

        asked = ask(UETRS[:3])  # one turn of the loop: one request
        await asyncio.sleep(0.01)
        asked += ask(UETRS[3:5])  # a later turn: a second request, while the first is on its way
        await asyncio.sleep(0.01)
        asked += ask(UETRS[5:])  # QUOTE_REQUESTS_IN_FLIGHT are on their way: this one waits for one to come back
        await asyncio.sleep(0.01)
        provider.release.set()
        answers = await asyncio.gather(*asked, return_exceptions=True)
        return provider.requests, answers

    assert QUOTE_REQUESTS_IN_FLIGHT == 2
    requests, answers = asyncio.run(scenario())
    assert requests == [UETRS[:3], UETRS[3:5], UETRS[5:]]
    assert [answer.uetr for answer in answers[:-1]] == UETRS[:-1]
    assert isinstance(answers[-1], RpcError) and answers[-1].code == "AM03"


def test_a_request_that_fails_as_a_whole_fails_each_payment_it_carried() -> None:
    class Unreachable:
        async def call(self, *_: Any, **__: Any) -> dict[str, Any]:
            raise RpcError("unreachable", "FXCRRUMM did not answer quote_many")

    async def scenario() -> list[Any]:
        quotes = RemoteQuotes(Unreachable(), "FXCRRUMM")  # type: ignore[arg-type]
        asked = [quotes(uetr, "VES", "RUB", buy=Money.parse("1.00 RUB")) for uetr in UETRS[:3]]
        return await asyncio.gather(*asked, return_exceptions=True)

    answers = asyncio.run(scenario())
    assert [getattr(answer, "code", None) for answer in answers] == ["unreachable"] * 3
