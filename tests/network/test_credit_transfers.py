"""Credit transfers across the whole embedded network: every participant a node, talking only through messages.

Each test runs a fresh network (own keys, ledgers and records under tmp_path) on the in-process transport and
checks what each node's own ledger and records say, never a shared view.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from corridor.fx.quotes import Quote
from corridor.iso20022.models import PaymentStatus
from corridor.iso20022.models.header import AppHeader
from corridor.money import Money, currency
from corridor.network.context import Context, ledger_id, uetr_for
from corridor.network.envelope import seal
from corridor.network.transport import MemoryTransport
from corridor.network.transport.base import Delivery
from corridor.node.network import EmbeddedNetwork
from corridor.rtgs.central_bank import LiquidityRefused
from corridor.scenario.model import load_scenario
from corridor.transfers.bank import PaymentRefused
from corridor.transfers.records import load_money
from tests.network.conftest import (
    BANKS,
    RU_CLOSED,
    RU_EXPORTER,
    RU_FERTILIZERS,
    RU_IMPORTER,
    VE_EXPORTER,
    VE_IMPORTER,
    DroppingTransport,
    HoldingTransport,
    balance,
    changed_scenario,
    customer_balance,
    nothing_pending,
    running_network,
)

VE_TO_RU_HOPS = ("ORINVECA", "CBXVVECA", "CBXRRUMM", "VOLGRUMM")
RU_TO_VE_HOPS = ("VOLGRUMM", "CBXRRUMM", "CBXVVECA", "ANDSVECA")
MID_VES_PER_RUB = Fraction(44, 100)


def quote_of(net: EmbeddedNetwork, uetr: str) -> Quote:
    token = net.nodes[net.fx_bic].store.get(f"quote:{uetr}")
    assert token is not None, f"the FX provider gave no quote for {uetr}"
    return Quote.from_token(token)


def record(net: EmbeddedNetwork, bic: str, uetr: str) -> tuple[str, dict[str, Any]]:
    found = net.nodes[bic].store.payment(uetr)
    assert found is not None, f"{bic} has no record of {uetr}"
    return found


async def settle_everywhere(net: EmbeddedNetwork, uetr: str, hops: tuple[str, ...]) -> list[str]:
    return [await net.settle(uetr, bic, timeout_s=10) for bic in hops]


def test_a_ve_importer_pays_a_ru_exporter_in_rub_completed_at_every_hop(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            importer_before = customer_balance(net, VE_IMPORTER)
            exporter_before = customer_balance(net, RU_EXPORTER)
            amount = Money.of("100000", "RUB")
            uetr = await net.pay(
                debtor_account=VE_IMPORTER, creditor_account=RU_EXPORTER, amount=amount, idempotency_key="ve-ru-rub"
            )
            assert await settle_everywhere(net, uetr, VE_TO_RU_HOPS) == ["completed"] * 4
            await net.quiesce()
            quote = quote_of(net, uetr)
            assert quote.buy == amount
            assert customer_balance(net, RU_EXPORTER) - exporter_before == amount
            assert importer_before - customer_balance(net, VE_IMPORTER) == quote.sell

    asyncio.run(scenario())


def actc_after(ms: int) -> Any:
    def change(data: dict[str, Any]) -> None:
        data["scenario"]["actc_after_ms"] = ms

    return changed_scenario(change)


def statuses_at(net: EmbeddedNetwork, bic: str, uetr: str) -> list[str]:
    return [event.status for event in net.nodes[bic].store.events(uetr)]


async def small_ve_to_ru_payment(net: EmbeddedNetwork, key: str, *, settled: bool = True) -> str:
    uetr = await net.pay(
        debtor_account=VE_IMPORTER, creditor_account=RU_EXPORTER, amount=Money.of("10", "RUB"), idempotency_key=key
    )
    if settled:
        await settle_everywhere(net, uetr, VE_TO_RU_HOPS)
    return uetr


def test_with_actc_at_once_the_payers_bank_hears_actc_from_its_central_bank_before_the_final_acsc(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path, actc_after(0)) as net:
            uetr = await small_ve_to_ru_payment(net, "actc")
            statuses = statuses_at(net, "ORINVECA", uetr)
            assert "ACTC" in statuses and statuses.index("ACTC") < statuses.index("ACSC")

    asyncio.run(scenario())


def test_a_payment_settled_before_actc_after_ms_hears_only_its_acsc(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path, actc_after(60_000)) as net:
            uetr = await small_ve_to_ru_payment(net, "no-actc")
            await net.quiesce()
            statuses = statuses_at(net, "ORINVECA", uetr)
            assert "ACSC" in statuses and "ACTC" not in statuses

    asyncio.run(scenario())


def test_a_payment_still_running_after_actc_after_ms_gets_its_actc_then(tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = DroppingTransport()
        async with running_network(tmp_path, actc_after(1), transport=transport) as net:
            transport.unreachable.add("VOLGRUMM")  # the payee's bank never answers: the payment stays reserved
            uetr = await small_ve_to_ru_payment(net, "slow", settled=False)
            deadline = time.monotonic() + 10
            while "ACTC" not in statuses_at(net, "ORINVECA", uetr):
                assert time.monotonic() < deadline, "no ACTC reached the payer's bank"
                await asyncio.sleep(0.05)
            assert record(net, "ORINVECA", uetr)[0] == "reserved"
            assert statuses_at(net, "ORINVECA", uetr).count("ACTC") == 1

    asyncio.run(scenario())


def test_a_ru_importer_pays_a_ve_exporter_in_ves_completed_at_every_hop(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            importer_before = customer_balance(net, RU_IMPORTER)
            exporter_before = customer_balance(net, VE_EXPORTER)
            amount = Money.of("50000", "VES")
            uetr = await net.pay(
                debtor_account=RU_IMPORTER, creditor_account=VE_EXPORTER, amount=amount, idempotency_key="ru-ve-ves"
            )
            assert await settle_everywhere(net, uetr, RU_TO_VE_HOPS) == ["completed"] * 4
            await net.quiesce()
            quote = quote_of(net, uetr)
            assert quote.buy == amount
            assert customer_balance(net, VE_EXPORTER) - exporter_before == amount
            assert importer_before - customer_balance(net, RU_IMPORTER) == quote.sell

    asyncio.run(scenario())


def test_a_payment_instructed_in_the_payers_currency_debits_exactly_that_and_credits_the_quotes_buy(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            importer_before = customer_balance(net, VE_IMPORTER)
            exporter_before = customer_balance(net, RU_EXPORTER)
            amount = Money.of("44000", "VES")
            uetr = await net.pay(
                debtor_account=VE_IMPORTER, creditor_account=RU_EXPORTER, amount=amount, idempotency_key="ve-ru-ves"
            )
            assert await settle_everywhere(net, uetr, VE_TO_RU_HOPS) == ["completed"] * 4
            await net.quiesce()
            quote = quote_of(net, uetr)
            assert quote.sell == amount
            assert importer_before - customer_balance(net, VE_IMPORTER) == amount
            assert customer_balance(net, RU_EXPORTER) - exporter_before == quote.buy
            # 44 000 VES less the 40 bp spread, at 0.44 VES per RUB, rounded down for the payee
            assert Money.of("99601.59", "RUB") == quote.buy

    asyncio.run(scenario())


def test_a_domestic_payment_settles_finally_through_the_rtgs(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            payer_before = customer_balance(net, RU_IMPORTER)
            payee_before = customer_balance(net, RU_FERTILIZERS)
            amount = Money.of("1234.56", "RUB")
            uetr = await net.pay(
                debtor_account=RU_IMPORTER, creditor_account=RU_FERTILIZERS, amount=amount, idempotency_key="dom"
            )
            assert await settle_everywhere(net, uetr, ("VOLGRUMM", "CBXRRUMM", "KAMARUMM")) == ["completed"] * 3
            await net.quiesce()
            rtgs_state, rtgs_record = record(net, "CBXRRUMM", uetr)
            assert (rtgs_state, rtgs_record["role"]) == ("completed", "rtgs")
            assert payer_before - customer_balance(net, RU_IMPORTER) == amount
            assert customer_balance(net, RU_FERTILIZERS) - payee_before == amount
            assert net.nodes["CBXVVECA"].store.payment(uetr) is None
            assert net.nodes[net.fx_bic].store.get(f"quote:{uetr}") is None

    asyncio.run(scenario())


def nostro_and_settlement(net: EmbeddedNetwork, bank: str) -> tuple[int, int]:
    """A bank's nostro as it sees it, and its settlement account as its central bank sees it (minor units)."""
    cb = net.scenario.central_bank(net.scenario.participant(bank).country).bic
    nostro = net.nodes[bank].ledger.get_account(ledger_id(bank, "nostro"))
    assert nostro is not None
    settlement = balance(net.nodes[cb].ledger, ledger_id(cb, "settlement", bank))
    return nostro.debits_posted - nostro.credits_posted, settlement


def test_every_banks_nostro_mirrors_its_settlement_account_after_a_mix_of_payments(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            payments = [
                (VE_IMPORTER, RU_EXPORTER, Money.of("100000", "RUB")),
                (RU_IMPORTER, VE_EXPORTER, Money.of("50000", "VES")),
                (RU_IMPORTER, RU_FERTILIZERS, Money.of("7500.25", "RUB")),
                (VE_EXPORTER, VE_IMPORTER, Money.of("1000.10", "VES")),
                (VE_IMPORTER, RU_CLOSED, Money.of("1000", "RUB")),
                (RU_FERTILIZERS, VE_IMPORTER, Money.of("20000", "RUB")),
            ]
            uetrs = [
                await net.pay(debtor_account=d, creditor_account=c, amount=a, idempotency_key=f"mix-{i}")
                for i, (d, c, a) in enumerate(payments)
            ]
            for uetr, (debtor, _, _) in zip(uetrs, payments, strict=True):
                await net.settle(uetr, net.scenario.account(debtor).bank, timeout_s=10)
            await net.quiesce()
            for bank in BANKS:
                mirror, settlement = nostro_and_settlement(net, bank)
                assert mirror == settlement, f"{bank}: nostro says {mirror}, its central bank says {settlement}"

    asyncio.run(scenario())


def test_a_payment_to_a_closed_account_is_rejected_ac04_at_every_hop_and_every_reservation_is_released(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            importer_before = customer_balance(net, VE_IMPORTER)
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=RU_CLOSED,
                amount=Money.of("1000", "RUB"),
                idempotency_key="closed",
            )
            hops = ("ORINVECA", "CBXVVECA", "CBXRRUMM", "KAMARUMM")
            states = await settle_everywhere(net, uetr, hops)
            assert states == ["rejected", "aborted", "aborted", "rejected"]
            await net.quiesce()
            for bic in hops:
                assert record(net, bic, uetr)[1]["reason"] == "AC04", bic
                assert any(e.reason == "AC04" for e in net.nodes[bic].store.events(uetr)), bic
            for bic, node in net.nodes.items():
                assert nothing_pending(node.ledger), f"{bic} still holds a reservation"
            assert customer_balance(net, VE_IMPORTER) == importer_before

    asyncio.run(scenario())


def test_a_payment_larger_than_the_payers_balance_is_refused_am04_at_once_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            bank = net.nodes["ORINVECA"]
            outbox_before = bank.store.counts()["outbox"]
            importer_before = customer_balance(net, VE_IMPORTER)
            with pytest.raises(PaymentRefused) as refused:
                await net.pay(
                    debtor_account=VE_IMPORTER,
                    creditor_account=RU_EXPORTER,
                    amount=Money.of("10000000", "RUB"),  # about 4.4 million VES; the importer has 3 million
                    idempotency_key="too-much",
                )
            assert refused.value.code == "AM04"
            uetr = uetr_for("too-much")
            assert bank.store.counts()["outbox"] == outbox_before
            assert bank.store.payment(uetr) is None
            assert customer_balance(net, VE_IMPORTER) == importer_before
            assert nothing_pending(bank.ledger)
            await net.quiesce()
            for node in net.nodes.values():
                assert node.store.payment(uetr) is None

    asyncio.run(scenario())


def test_a_payment_beyond_the_swap_line_is_rejected_am23(tmp_path: Path) -> None:
    def small_swap_line(data: dict[str, Any]) -> None:
        data["swap_line"]["limits"] = ["50 000.00 RUB", "20 000.00 VES"]

    async def scenario() -> None:
        async with running_network(tmp_path, changed_scenario(small_swap_line)) as net:
            importer_before = customer_balance(net, VE_IMPORTER)
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=RU_EXPORTER,
                amount=Money.of("60000", "RUB"),
                idempotency_key="beyond-swap",
            )
            assert await net.settle(uetr, "ORINVECA", timeout_s=10) == "rejected"
            await net.quiesce()
            assert record(net, "ORINVECA", uetr)[1]["reason"] == "AM23"
            creditor_cb_state, creditor_cb_record = record(net, "CBXRRUMM", uetr)
            assert (creditor_cb_state, creditor_cb_record["reason"]) == ("rejected", "AM23")
            assert record(net, "CBXVVECA", uetr)[0] == "aborted"
            assert net.nodes["VOLGRUMM"].store.payment(uetr) is None
            assert customer_balance(net, VE_IMPORTER) == importer_before
            assert net.central_bank("CBXRRUMM").net_position("CBXVVECA") == Money.of("0", "RUB")
            for bic, node in net.nodes.items():
                assert nothing_pending(node.ledger), f"{bic} still holds a reservation"

    asyncio.run(scenario())


def test_the_coordinator_aborts_ab05_when_the_creditors_bank_does_not_answer(tmp_path: Path) -> None:
    def short_timeout(data: dict[str, Any]) -> None:
        data["scenario"]["payment_timeout_s"] = 1

    async def scenario() -> None:
        transport = DroppingTransport()
        async with running_network(tmp_path, changed_scenario(short_timeout), transport=transport) as net:
            transport.unreachable.add("VOLGRUMM")
            importer_before = customer_balance(net, VE_IMPORTER)
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=RU_EXPORTER,
                amount=Money.of("1000", "RUB"),
                idempotency_key="no-answer",
            )
            assert await net.settle(uetr, "CBXRRUMM", states=("reserved",), timeout_s=5) == "reserved"
            assert not nothing_pending(net.nodes["CBXRRUMM"].ledger)
            assert await net.settle(uetr, "ORINVECA", timeout_s=10) == "rejected"
            assert await net.settle(uetr, "CBXRRUMM", timeout_s=5) == "aborted"
            await net.quiesce()
            assert record(net, "CBXVVECA", uetr)[0] == "aborted"
            for bic in ("ORINVECA", "CBXVVECA", "CBXRRUMM"):
                assert record(net, bic, uetr)[1]["reason"] == "AB05", bic
            for bic, node in net.nodes.items():
                assert nothing_pending(node.ledger), f"{bic} still holds a reservation"
            assert customer_balance(net, VE_IMPORTER) == importer_before

    asyncio.run(scenario())


def test_an_abort_that_overtakes_its_payment_leaves_nothing_reserved_at_the_creditors_bank(tmp_path: Path) -> None:
    def short_timeout(data: dict[str, Any]) -> None:
        data["scenario"]["payment_timeout_s"] = 1

    async def scenario() -> None:
        transport = HoldingTransport()
        async with running_network(tmp_path, changed_scenario(short_timeout), transport=transport) as net:
            transport.holding.add("VOLGRUMM")
            exporter_before = customer_balance(net, RU_EXPORTER)
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=RU_EXPORTER,
                amount=Money.of("1000", "RUB"),
                idempotency_key="overtaken",
            )
            assert await net.settle(uetr, "CBXRRUMM", timeout_s=10) == "aborted"
            await net.quiesce()
            transport.holding.clear()
            for held in reversed(transport.held):  # the RJCT first, then the pacs.008 it overtook
                await transport.publish(*held)
                await net.quiesce()
            assert record(net, "VOLGRUMM", uetr)[0] == "aborted"
            assert nothing_pending(net.nodes["VOLGRUMM"].ledger)
            assert customer_balance(net, RU_EXPORTER) == exporter_before

    asyncio.run(scenario())


def test_paying_twice_with_the_same_idempotency_key_makes_one_payment(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            importer_before = customer_balance(net, VE_IMPORTER)
            exporter_before = customer_balance(net, RU_EXPORTER)
            amount = Money.of("1000", "RUB")

            async def pay() -> str:
                return await net.pay(
                    debtor_account=VE_IMPORTER, creditor_account=RU_EXPORTER, amount=amount, idempotency_key="twice"
                )

            first, second = await asyncio.gather(pay(), pay())
            assert first == second
            assert await settle_everywhere(net, first, VE_TO_RU_HOPS) == ["completed"] * 4
            assert await pay() == first
            await net.quiesce()
            quote = quote_of(net, first)
            assert importer_before - customer_balance(net, VE_IMPORTER) == quote.sell
            assert customer_balance(net, RU_EXPORTER) - exporter_before == amount
            sent = net.nodes["ORINVECA"].store.unsent(100, include_sent=True)
            assert [row.message_type for row in sent if row.uetr == first] == ["pacs.008.001.08"]

    asyncio.run(scenario())


def test_a_recalled_payment_is_cancelled_and_returned_at_the_mid_rate_value(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            importer_before = customer_balance(net, VE_IMPORTER)
            exporter_before = customer_balance(net, RU_EXPORTER)
            amount = Money.of("100000", "RUB")
            uetr = await net.pay(
                debtor_account=VE_IMPORTER, creditor_account=RU_EXPORTER, amount=amount, idempotency_key="recall"
            )
            assert await settle_everywhere(net, uetr, VE_TO_RU_HOPS) == ["completed"] * 4
            bank = net.bank("ORINVECA")
            await net.act("ORINVECA", lambda ctx: bank.recall(ctx, uetr), lock=uetr)
            assert await net.settle(uetr, "ORINVECA", states=("returned",), timeout_s=10) == "returned"
            await net.quiesce()
            quote = quote_of(net, uetr)
            assert record(net, "VOLGRUMM", uetr)[0] == "returned"
            assert any(e.status == "RECALL-CNCL" for e in net.nodes["VOLGRUMM"].store.events(uetr))
            assert any(e.status == "RECALL-CNCL" for e in net.nodes["ORINVECA"].store.events(uetr))
            assert customer_balance(net, RU_EXPORTER) == exporter_before
            assert importer_before - customer_balance(net, VE_IMPORTER) == quote.sell - quote.sell_at_mid
            assert record(net, "ORINVECA", uetr)[1]["returned"] == [quote.sell_at_mid.minor, "VES"]
            for bic, node in net.nodes.items():
                assert nothing_pending(node.ledger), f"{bic} still holds a reservation"

    asyncio.run(scenario())


def test_the_central_banks_net_positions_agree_at_the_mid_rate_after_payments_both_ways(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            payments = [
                (VE_IMPORTER, RU_EXPORTER, Money.of("100000", "RUB")),
                (RU_IMPORTER, VE_EXPORTER, Money.of("50000", "VES")),
                (VE_IMPORTER, RU_FERTILIZERS, Money.of("12345.67", "VES")),
                (RU_FERTILIZERS, VE_IMPORTER, Money.of("9999.99", "RUB")),
            ]
            for i, (debtor, creditor, amount) in enumerate(payments):
                uetr = await net.pay(
                    debtor_account=debtor, creditor_account=creditor, amount=amount, idempotency_key=f"net-{i}"
                )
                assert await net.settle(uetr, net.scenario.account(creditor).bank, timeout_s=10) == "completed"
            await net.quiesce()
            ru_view = net.central_bank("CBXRRUMM").net_position("CBXVVECA")
            ve_view = net.central_bank("CBXVVECA").net_position("CBXRRUMM")
            assert ru_view.currency.code == "RUB"
            assert ve_view.currency.code == "VES"
            assert ru_view.minor != 0
            ru_in_ves_minor = ru_view.minor * MID_VES_PER_RUB
            assert abs(ru_in_ves_minor + ve_view.minor) <= len(payments)

    asyncio.run(scenario())


def test_every_ledger_balances_and_verifies_and_every_hop_tracks_a_completed_payment(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            out = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=RU_EXPORTER,
                amount=Money.of("2500.50", "RUB"),
                idempotency_key="full-1",
            )
            back = await net.pay(
                debtor_account=RU_IMPORTER,
                creditor_account=VE_EXPORTER,
                amount=Money.of("3000", "VES"),
                idempotency_key="full-2",
            )
            domestic = await net.pay(
                debtor_account=RU_IMPORTER,
                creditor_account=RU_FERTILIZERS,
                amount=Money.of("10", "RUB"),
                idempotency_key="full-3",
            )
            rejected = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=RU_CLOSED,
                amount=Money.of("10", "RUB"),
                idempotency_key="full-4",
            )
            assert await settle_everywhere(net, out, VE_TO_RU_HOPS) == ["completed"] * 4
            assert await settle_everywhere(net, back, RU_TO_VE_HOPS) == ["completed"] * 4
            assert await net.settle(domestic, "KAMARUMM", timeout_s=10) == "completed"
            assert await net.settle(rejected, "ORINVECA", timeout_s=10) == "rejected"
            await net.quiesce()
            for bic, node in net.nodes.items():
                check = node.ledger.check()
                assert check.ok, (bic, check.problems)
                verified = node.ledger.verify()
                assert verified.ok, (bic, verified.problems)
                assert node.refused == 0, (bic, node.store.rejections())
            for uetr, hops in ((out, VE_TO_RU_HOPS), (back, RU_TO_VE_HOPS)):
                for bic in hops:
                    events = net.nodes[bic].store.events(uetr)
                    assert events, f"{bic} recorded no tracking event for {uetr}"
                    assert {e.node for e in events} == {bic}
                    assert "ACSC" in [e.status for e in events], (bic, [e.status for e in events])

    asyncio.run(scenario())


def test_a_node_stops_at_once_right_after_it_was_woken(tmp_path: Path) -> None:
    """Stopping right after a local action (or a delivery) woke the node's relay must not hang."""

    async def nothing(ctx: Context) -> None:
        return None

    async def scenario() -> None:
        net = EmbeddedNetwork(load_scenario(), tmp_path, MemoryTransport())
        await net.start()
        await net.quiesce()
        await net.act("CBXRRUMM", nothing)
        started = time.monotonic()
        # a hung stop is cancelled after 3 s (and, swallowing that too, then finishes the other nodes)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(net.stop(), 3)
        assert time.monotonic() - started < 2, "Node.stop() hung: the relay task survived its cancellation"

    asyncio.run(scenario())


def test_the_mid_rate_of_the_scenario_is_what_the_net_position_test_assumes() -> None:
    rate = next(r for r in changed_scenario(lambda data: None).fx.rates if (r.base, r.quote) == ("RUB", "VES"))
    assert rate.mid == Decimal("0.4400")
    assert Fraction(rate.mid) == MID_VES_PER_RUB


def test_each_customer_accounts_statements_are_numbered_on_their_own(tmp_path: Path) -> None:
    async def scenario() -> list[tuple[str, int]]:
        async with running_network(tmp_path) as net:
            bank = net.bank("VOLGRUMM")
            numbered = []
            for number in (RU_EXPORTER, RU_EXPORTER, RU_IMPORTER):

                async def make(ctx: Context, number: str = number) -> int:
                    return (await bank.statement(ctx, number, 0, time.time_ns())).electronic_sequence

                numbered.append((number, await net.act("VOLGRUMM", make)))
            return numbered

    assert asyncio.run(scenario()) == [(RU_EXPORTER, 1), (RU_EXPORTER, 2), (RU_IMPORTER, 1)]


def test_a_recall_names_the_payments_own_settlement_date(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            uetr = await net.pay(
                debtor_account=RU_IMPORTER,
                creditor_account=VE_EXPORTER,
                amount=Money.of("100", "VES"),
                idempotency_key="recall-date",
            )
            await net.settle(uetr, "VOLGRUMM")
            settled_on = record(net, "VOLGRUMM", uetr)[1]["settlement_date"]
            await net.act("VOLGRUMM", lambda ctx: net.bank("VOLGRUMM").recall(ctx, uetr), lock=uetr)
            sent = [
                row for _, row in net.nodes["VOLGRUMM"].store.sent_messages() if row.message_type.startswith("camt.056")
            ]
            assert f"<OrgnlIntrBkSttlmDt>{settled_on}</OrgnlIntrBkSttlmDt>".encode() in sent[-1].data

    asyncio.run(scenario())


def test_a_refusal_that_names_only_the_original_message_releases_the_payers_reservation(tmp_path: Path) -> None:
    """A pacs.002 RJCT answering a message that could not be read carries no UETR; the payer's bank finds the
    payment by the message id it sent."""

    async def scenario() -> None:
        transport = DroppingTransport()
        async with running_network(tmp_path, transport=transport) as net:
            transport.unreachable.add("CBXVVECA")
            importer_before = customer_balance(net, VE_IMPORTER)
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=RU_EXPORTER,
                amount=Money.of("10", "RUB"),
                idempotency_key="unreadable",
            )
            sent = [row for _, row in net.nodes["ORINVECA"].store.sent_messages() if row.uetr == uetr]
            refusal = PaymentStatus(
                message_id="CBXVREFUSAL0001",
                created=datetime.now(UTC),
                original_message_id=sent[0].message_id,
                original_message_type="pacs.008.001.08",
                original_end_to_end_id=None,
                original_uetr=None,
                status="RJCT",
                reason_code="FF01",
                instructing_agent="CBXVVECA",
                instructed_agent="ORINVECA",
            )
            header = AppHeader(
                sender_bic="CBXVVECA",
                recipient_bic="ORINVECA",
                message_id=refusal.message_id,
                message_type=refusal.MESSAGE_TYPE,
                created=refusal.created,
                business_service="corridor.xbct",
            )
            data = seal(header, refusal.to_element(), net.keys["CBXVVECA"])
            await net.nodes["ORINVECA"]._on_delivery(Delivery("ORINVECA", refusal.message_id, data, 1))
            assert record(net, "ORINVECA", uetr)[0] == "rejected"
            assert nothing_pending(net.nodes["ORINVECA"].ledger)
            assert customer_balance(net, VE_IMPORTER) == importer_before

    asyncio.run(scenario())


def test_a_return_that_overtakes_the_payers_acsc_settles_the_payment_and_then_refunds_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = HoldingTransport()
        async with running_network(tmp_path, transport=transport) as net:
            importer_before = customer_balance(net, VE_IMPORTER)
            transport.holding.add("ORINVECA")
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=RU_EXPORTER,
                amount=Money.of("1000", "RUB"),
                idempotency_key="return-overtakes",
            )
            assert await net.settle(uetr, "VOLGRUMM", timeout_s=10) == "completed"
            await net.act("VOLGRUMM", lambda ctx: net.bank("VOLGRUMM").return_payment(ctx, uetr), lock=uetr)
            await net.quiesce()
            transport.holding.clear()
            for held in reversed(transport.held):  # the pacs.004 first, then the ACSC it overtook
                await transport.publish(*held)
                await net.quiesce()
            state, kept = record(net, "ORINVECA", uetr)
            assert state == "returned"
            assert nothing_pending(net.nodes["ORINVECA"].ledger)
            refund = load_money(kept["returned"])
            assert customer_balance(net, VE_IMPORTER) == importer_before - quote_of(net, uetr).sell + refund

    asyncio.run(scenario())


def test_a_liquidity_withdrawal_debits_the_settlement_account_once_and_the_bank_mirrors_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            before = nostro_and_settlement(net, "VOLGRUMM")
            cb = net.central_bank("CBXRRUMM")
            for _ in range(2):  # the same key twice: one withdrawal
                await net.act("CBXRRUMM", lambda ctx: cb.withdraw(ctx, "VOLGRUMM", Money.of("1000000", "RUB"), "wdr-1"))
            await net.quiesce()
            assert nostro_and_settlement(net, "VOLGRUMM") == (before[0] - 100_000_000, before[1] - 100_000_000)

    asyncio.run(scenario())


def test_a_withdrawal_beyond_the_settlement_balance_is_refused_am04_and_changes_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            before = nostro_and_settlement(net, "VOLGRUMM")
            cb = net.central_bank("CBXRRUMM")
            too_much = Money(before[1] + 1, currency("RUB"))
            with pytest.raises(LiquidityRefused) as refused:
                await net.act("CBXRRUMM", lambda ctx: cb.withdraw(ctx, "VOLGRUMM", too_much, "wdr-2"))
            assert refused.value.code == "AM04"
            await net.quiesce()
            assert nostro_and_settlement(net, "VOLGRUMM") == before

    asyncio.run(scenario())


def test_a_later_injection_with_its_own_key_adds_liquidity(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            before = nostro_and_settlement(net, "ORINVECA")
            cb = net.central_bank("CBXVVECA")
            await net.act("CBXVVECA", lambda ctx: cb.inject(ctx, "ORINVECA", Money.of("250", "VES"), "top-up-1"))
            await net.quiesce()
            assert nostro_and_settlement(net, "ORINVECA") == (before[0] + 25_000, before[1] + 25_000)

    asyncio.run(scenario())


def test_a_return_the_payees_bank_cannot_fund_waits_pdng_and_settles_once_liquidity_arrives(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=RU_EXPORTER,
                amount=Money.of("1000", "RUB"),
                idempotency_key="return-waits",
            )
            await settle_everywhere(net, uetr, VE_TO_RU_HOPS)
            cb = net.central_bank("CBXRRUMM")
            _, settlement = nostro_and_settlement(net, "VOLGRUMM")
            drain = Money(settlement - 10_000, currency("RUB"))  # leaves 100.00 RUB, less than the return
            await net.act("CBXRRUMM", lambda ctx: cb.withdraw(ctx, "VOLGRUMM", drain, "drain"))
            await net.act("VOLGRUMM", lambda ctx: net.bank("VOLGRUMM").return_payment(ctx, uetr), lock=uetr)
            await net.quiesce()
            assert record(net, "CBXRRUMM", uetr)[0] == "return_queued"
            assert "PDNG" in [e.status for e in net.nodes["CBXRRUMM"].store.events(uetr)]
            told = [e for e in net.nodes["VOLGRUMM"].store.events(uetr) if e.status == "PDNG"]
            assert [e.reason for e in told] == ["AM04"]  # the returning bank hears pacs.002 PDNG
            assert record(net, "ORINVECA", uetr)[0] == "completed"
            top_up = Money.of("5000", "RUB")
            await net.act("CBXRRUMM", lambda ctx: cb.inject(ctx, "VOLGRUMM", top_up, "top-up"))
            assert await net.settle(uetr, "ORINVECA", states=("returned",), timeout_s=10) == "returned"
            await net.quiesce()
            for bank in BANKS:
                mirror, settled = nostro_and_settlement(net, bank)
                assert mirror == settled, bank

    asyncio.run(scenario())


def test_a_node_keeps_no_lock_for_a_payment_once_it_is_done(tmp_path: Path) -> None:
    """Each node locks a payment while a message of it runs; one lock per payment ever handled would grow forever."""

    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            uetrs = [
                await net.pay(
                    debtor_account=VE_IMPORTER,
                    creditor_account=RU_EXPORTER,
                    amount=Money.of("10", "RUB"),
                    idempotency_key=f"locks-{n}",
                )
                for n in range(5)
            ]
            for uetr in uetrs:
                await settle_everywhere(net, uetr, VE_TO_RU_HOPS)
            await net.quiesce()
            assert {bic: node._locks for bic, node in net.nodes.items() if node._locks} == {}

    asyncio.run(scenario())
