"""A payment between two customers of one bank is booked within that bank: nothing is sent, no central bank money
moves, and the payee is credited at once (before, the central bank was sent it and refused it as FF01, since an
RTGS cannot settle a bank's account with itself)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from corridor.money import Money
from corridor.network.context import Context, ledger_id
from corridor.node.network import EmbeddedNetwork
from corridor.transfers.bank import BankRole, PaymentRefused
from tests.network.conftest import (
    RU_CLOSED,
    RU_EXPORTER,
    RU_FERTILIZERS,
    RU_IMPORTER,
    balance,
    customer_balance,
    nothing_pending,
    running_network,
)


async def pay_within_volgrumm(net: EmbeddedNetwork, key: str, creditor: str = RU_EXPORTER) -> str:
    return await net.pay(
        debtor_account=RU_IMPORTER, creditor_account=creditor, amount=Money.of("1 250.00", "RUB"), idempotency_key=key
    )


def test_a_payment_between_two_customers_of_one_bank_is_booked_within_it_and_sends_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            payer, payee = customer_balance(net, RU_IMPORTER), customer_balance(net, RU_EXPORTER)
            volgrumm = net.nodes["VOLGRUMM"]
            nostro = balance(volgrumm.ledger, ledger_id("VOLGRUMM", "nostro"))
            sent = volgrumm.store.counts()
            uetr = await pay_within_volgrumm(net, "on-us")
            assert await net.settle(uetr, "VOLGRUMM", timeout_s=5) == "completed"
            await net.quiesce()
            assert customer_balance(net, RU_IMPORTER) == payer - Money.of("1 250.00", "RUB")
            assert customer_balance(net, RU_EXPORTER) == payee + Money.of("1 250.00", "RUB")
            assert balance(volgrumm.ledger, ledger_id("VOLGRUMM", "nostro")) == nostro
            assert net.nodes["CBXRRUMM"].store.payment(uetr) is None
            assert volgrumm.store.counts()["outbox"] == sent["outbox"]
            assert nothing_pending(volgrumm.ledger)

    asyncio.run(scenario())


def test_a_payment_within_one_bank_is_booked_once_whatever_the_retries(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            payee = customer_balance(net, RU_EXPORTER)
            first = await pay_within_volgrumm(net, "on-us-retried")
            again = await pay_within_volgrumm(net, "on-us-retried")
            assert first == again
            await net.quiesce()
            assert customer_balance(net, RU_EXPORTER) == payee + Money.of("1 250.00", "RUB")

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("debtor", "creditor", "code"),
    [
        (RU_FERTILIZERS, RU_CLOSED, "AC04"),
        (RU_IMPORTER, "RU0440701810000000099", "AC01"),
        (RU_IMPORTER, RU_IMPORTER, "AG01"),
    ],
)
def test_a_payment_within_one_bank_to_an_account_that_cannot_take_it_is_refused_and_moves_nothing(
    tmp_path: Path, debtor: str, creditor: str, code: str
) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            payer = customer_balance(net, debtor)
            at = net.scenario.account(debtor).bank
            bank = net.nodes[at].role
            assert isinstance(bank, BankRole)

            async def pay(ctx: Context) -> object:
                return await bank.pay(
                    ctx,
                    uetr="0b7c9a53-3c1e-4d55-9a55-6f8f0f0c0a11",
                    debtor_account=debtor,
                    creditor_agent=at,
                    creditor_account=creditor,
                    creditor_name="Somebody",
                    amount=Money.of("10", "RUB"),
                )

            with pytest.raises(PaymentRefused) as refused:
                await net.nodes[at].run(pay)
            assert refused.value.code == code
            assert customer_balance(net, debtor) == payer
            assert nothing_pending(net.nodes[at].ledger)

    asyncio.run(scenario())


def test_a_payment_within_one_bank_cannot_be_recalled_through_the_network(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            uetr = await pay_within_volgrumm(net, "on-us-recall")
            await net.settle(uetr, "VOLGRUMM", timeout_s=5)
            bank = net.nodes["VOLGRUMM"].role
            assert isinstance(bank, BankRole)

            async def recall(ctx: Context) -> None:
                await bank.recall(ctx, uetr)

            with pytest.raises(PaymentRefused, match="within VOLGRUMM"):
                await net.nodes["VOLGRUMM"].run(recall)

    asyncio.run(scenario())
