"""Invoices paid through the running corridor: part by credit transfer, the rest by digital roubles; an invoice in
oil tokens through an escrow the bill of lading releases; overpayment refused before anything moves; each invoice
reconciled with its payments and the ledgers' own entries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import pytest

from corridor.money import Money
from corridor.node.embedded import EmbeddedCorridor
from corridor.node.tradedesk import TradeDesk
from corridor.node.traderails import EmbeddedRails
from corridor.scenario import load_scenario
from corridor.trade import Delivery, Invoice, InvoiceLine, PaymentRefused

from ..trade.examples import BATTERIES, SPARES, TYRES, contract, exporter, importer

BILL_OF_LADING = b"BILL OF LADING NVS-2026-0042: 40 tyres, 20 batteries, 1 set spares"
OIL_INVOICE = "INV-2026-0043"
MARCH = date(2026, 3, 1)
"""The day the invoices are looked at: before they fall due."""


class Clock:
    def __init__(self) -> None:
        self.ahead_s = 0

    def __call__(self) -> int:
        return time.time_ns() + self.ahead_s * 1_000_000_000


def run(tmp_path: Path, test: Callable[[TradeDesk], Awaitable[None]], clock: Clock | None = None) -> None:
    async def main() -> None:
        corridor = EmbeddedCorridor(load_scenario(), tmp_path, clock=clock or Clock())
        await corridor.start()
        assert corridor.trade is not None
        desk = corridor.trade
        try:
            desk.onboard(exporter())
            desk.onboard(importer())
            desk.add_contract(contract())
            desk.add_invoice(
                Invoice("INV-2026-0042", "CT-2026-007", date(2026, 2, 1), date(2026, 3, 31), "RUB",
                        (TYRES, BATTERIES, SPARES))
            )  # fmt: skip
            await test(desk)
        finally:
            await corridor.stop()

    asyncio.run(main())


def corridor_of(desk: TradeDesk) -> EmbeddedCorridor:
    """The embedded corridor the desk's rails run on (the tests fund wallets and move clocks through it)."""
    rails = desk.rails
    assert isinstance(rails, EmbeddedRails)
    return rails.corridor


async def settled(desk: TradeDesk, number: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while any(p.status == "pending" and p.rail == "credit_transfer" for p in await desk.follow(number)):
        assert time.monotonic() < deadline, "the credit transfer did not settle"
        await asyncio.sleep(0.05)


def test_an_invoice_paid_part_by_credit_transfer_and_part_in_digital_roubles_reconciles(tmp_path: Path) -> None:
    async def check(desk: TradeDesk) -> None:
        await desk.pay_by_transfer("INV-2026-0042", Money.parse("400 000.00 RUB"), key="inv42-ct")
        await settled(desk, "INV-2026-0042")
        assert (await desk.standing("INV-2026-0042", MARCH)).status == "partially_paid"
        assert corridor_of(desk).digital is not None
        await corridor_of(desk).digital.fund("CBXRRUMM", importer().account, Money.parse("1 080 000.00 RUBD"),
                                         key="fund-caracas")  # fmt: skip
        await desk.pay_by_token("INV-2026-0042", Money.parse("1 080 000.00 RUBD"), key="inv42-rubd")
        assert (await desk.standing("INV-2026-0042", MARCH)).status == "paid"
        report = await desk.reconcile("INV-2026-0042")
        assert report.ok, report.mismatches

    run(tmp_path, check)


def test_a_payment_that_would_overpay_is_refused_and_nothing_moves(tmp_path: Path) -> None:
    async def check(desk: TradeDesk) -> None:
        ledger = corridor_of(desk).network.nodes["ORINVECA"].ledger
        before = ledger.check()
        with pytest.raises(PaymentRefused):
            await desk.pay_by_transfer("INV-2026-0042", Money.parse("1 480 000.01 RUB"), key="too-much")
        assert desk.store.payments("INV-2026-0042") == []
        assert ledger.check() == before

    run(tmp_path, check)


def test_an_oil_token_invoice_is_paid_through_escrow_when_the_bill_of_lading_is_presented(tmp_path: Path) -> None:
    async def check(desk: TradeDesk) -> None:
        desk.add_contract(contract(id="CT-2026-008", currency="VOIL", delivery=Delivery("CIF", "La Guaira")))
        oil = InvoiceLine("truck parts, as per packing list PL-77", 1, "lot", Money.parse("350.0000 VOIL"))
        desk.add_invoice(Invoice(OIL_INVOICE, "CT-2026-008", date(2026, 2, 1), date(2026, 6, 30), "VOIL", (oil,)))
        expires = int(time.time()) + 30 * 86_400
        escrowed = desk.pay_by_escrow(
            OIL_INVOICE, Money.parse("350.0000 VOIL"), BILL_OF_LADING, expires_at=expires, key="inv43-escrow"
        )
        assert (await desk.standing(OIL_INVOICE, MARCH)).status == "open"  # locked, not yet the exporter's
        await desk.present_document(OIL_INVOICE, bytes.fromhex(escrowed.reference), BILL_OF_LADING, key="inv43-bl")
        assert (await desk.standing(OIL_INVOICE, MARCH)).status == "paid"
        assert (await desk.reconcile(OIL_INVOICE)).ok

    run(tmp_path, check)


def test_an_escrow_that_expires_fails_gives_the_invoice_its_room_back_and_still_reconciles(tmp_path: Path) -> None:
    clock = Clock()

    async def check(desk: TradeDesk) -> None:
        desk.add_contract(contract(id="CT-2026-008", currency="VOIL", delivery=Delivery("CIF", "La Guaira")))
        oil = InvoiceLine("truck parts, as per packing list PL-77", 1, "lot", Money.parse("350.0000 VOIL"))
        desk.add_invoice(Invoice(OIL_INVOICE, "CT-2026-008", date(2026, 2, 1), date(2026, 6, 30), "VOIL", (oil,)))
        expires = clock() // 1_000_000_000 + 60
        desk.pay_by_escrow(OIL_INVOICE, Money.parse("350.0000 VOIL"), BILL_OF_LADING, expires_at=expires, key="e")
        clock.ahead_s = 120
        assert corridor_of(desk).digital is not None
        corridor_of(desk).digital.platforms["CBXVVECA"].expire_locks()
        (payment,) = await desk.follow(OIL_INVOICE)
        assert payment.status == "failed"
        assert (await desk.standing(OIL_INVOICE, MARCH)).totals.room == Money.parse("350.0000 VOIL")
        assert (await desk.reconcile(OIL_INVOICE)).ok

    run(tmp_path, check, clock)


def test_a_transfer_the_importers_bank_refuses_fails_and_gives_the_room_back(tmp_path: Path) -> None:
    async def check(desk: TradeDesk) -> None:
        from corridor.transfers.bank import PaymentRefused as BankRefused

        desk.onboard(importer(id="poor-importer", account="VE0102010000000000033", name="Luis Rojas"))
        desk.add_contract(contract(id="CT-2026-009", importer="poor-importer"))
        desk.add_invoice(Invoice("INV-2026-0099", "CT-2026-009", date(2026, 2, 1), date(2026, 3, 31), "RUB",
                                 (BATTERIES,)))  # fmt: skip
        with pytest.raises(BankRefused):
            await desk.pay_by_transfer("INV-2026-0099", Money.parse("420 000.00 RUB"), key="no-funds")
        (failed,) = desk.store.payments("INV-2026-0099")
        assert failed.status == "failed"
        assert (await desk.standing("INV-2026-0099", MARCH)).totals.room == Money.parse("420 000.00 RUB")

    run(tmp_path, check)


def test_paying_again_under_the_same_key_pays_once(tmp_path: Path) -> None:
    async def check(desk: TradeDesk) -> None:
        for _ in range(2):
            await desk.pay_by_transfer("INV-2026-0042", Money.parse("100 000.00 RUB"), key="inv42-twice")
        await settled(desk, "INV-2026-0042")
        assert len(desk.store.payments("INV-2026-0042")) == 1
        assert (await desk.standing("INV-2026-0042", MARCH)).totals.paid == Money.parse("100 000.00 RUB")

    run(tmp_path, check)
