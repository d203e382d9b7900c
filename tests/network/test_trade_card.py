"""Invoices paid by card: the exporter, a merchant of the card scheme, charges the importer's card in its own
currency through its acquirer; the payment is pending until the day's clearing pays the sale out, whose booking at
the acquiring bank (at the sale's full amount, fees apart) is the ledger entry the invoice reconciles against."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from corridor.cards.acquirer import ecommerce_request
from corridor.cards.responses import Response
from corridor.money import Money
from corridor.node.embedded import EmbeddedCorridor
from corridor.node.tradedesk import CardDeclined
from corridor.scenario import load_scenario
from corridor.trade import Contract, Delivery, Invoice, InvoiceLine, Party, PaymentRefused

WORKSHOP_CARD = "VE0102010000000000033"
"""Luis Rojas's account: his card pays for his workshop's parts."""
MOSCOW_AUTO_PARTS = "RU0440702810000000023"
"""A merchant of KAMARUMM, acquirer 643002, terminal KAMA0001."""
INVOICE = "INV-2026-0101"
CYCLE = "20261126"
IMPORTER = Party(
    id="rojas-taller", name="Taller Rojas", role="importer", country="VE", account=WORKSHOP_CARD, bank="ORINVECA",
    registration_number="V-12345678-9", tax_id="V123456789", address="Calle 5, Valencia 2001",
    email="taller@rojas.example", kyc_tier=1,
)  # fmt: skip
EXPORTER = Party(
    id="moscow-auto-parts", name="Moscow Auto Parts", role="exporter", country="RU", account=MOSCOW_AUTO_PARTS,
    bank="KAMARUMM", registration_number="1157746000001", tax_id="7701000001",
    address="Varshavskoye sh. 1, Moscow 117105", email="shop@moscow-auto-parts.example", kyc_tier=2,
)  # fmt: skip
"""Illustrative parties: every name and number is made up."""


def rub(text: str) -> Money:
    return Money.of(text, "RUB")


def run(tmp_path: Path, test: Callable[[EmbeddedCorridor], Awaitable[None]]) -> None:
    async def main() -> None:
        corridor = EmbeddedCorridor(load_scenario(), tmp_path)
        await corridor.start()
        assert corridor.trade is not None
        desk = corridor.trade
        try:
            desk.onboard(IMPORTER)
            desk.onboard(EXPORTER)
            desk.add_contract(
                Contract("CT-2026-101", IMPORTER.id, EXPORTER.id, "RUB", Delivery("DAP", "Valencia"),
                         "Filters and brake pads, ordered from the web shop", date(2026, 11, 1))
            )  # fmt: skip
            desk.add_invoice(
                Invoice(INVOICE, "CT-2026-101", date(2026, 11, 2), date(2026, 12, 2), "RUB", (
                    InvoiceLine("oil filters", 10, "pcs", rub("800.00"), "842123"),
                    InvoiceLine("brake pads, set", 4, "set", rub("2 500.00"), "870830"),
                ))
            )  # fmt: skip
            await test(corridor)
        finally:
            await corridor.stop()

    asyncio.run(main())


def test_an_invoice_paid_by_card_settles_when_the_day_is_cleared_and_reconciles(tmp_path: Path) -> None:
    async def test(corridor: EmbeddedCorridor) -> None:
        assert corridor.trade is not None and corridor.cards is not None
        desk, card = corridor.trade, corridor.cards.cards[WORKSHOP_CARD]
        payment = await desk.pay_by_card(INVOICE, card, rub("18 000.00"), key="rojas-1")
        assert payment.status == "pending" and payment.reference.startswith("643002:")
        assert (await desk.standing(INVOICE)).status != "paid"

        await corridor.cards.end_of_day(CYCLE)

        [paid] = await desk.follow(INVOICE)
        assert paid.status == "settled"
        [ref] = paid.ledger_refs
        assert ref.startswith("KAMARUMM:")
        assert await desk.ledger_amount(ref) == rub("18 000.00")  # the sale at its full amount; the fees apart
        assert (await desk.reconcile(INVOICE)).ok
        assert (await desk.standing(INVOICE)).status == "paid"

    run(tmp_path, test)


def test_a_declined_card_fails_the_payment_and_gives_the_invoice_its_room_back(tmp_path: Path) -> None:
    async def test(corridor: EmbeddedCorridor) -> None:
        assert corridor.trade is not None and corridor.cards is not None
        desk, card = corridor.trade, corridor.cards.cards[WORKSHOP_CARD]
        wrong = replace(card, cvv2="000" if card.cvv2 != "000" else "001")
        with pytest.raises(CardDeclined) as declined:
            await desk.pay_by_card(INVOICE, wrong, rub("18 000.00"), key="rojas-wrong-cvv2")
        assert declined.value.response_code != Response.APPROVED
        assert card.pan not in str(declined.value) and wrong.cvv2 not in str(declined.value)
        [failed] = await desk.follow(INVOICE)
        assert failed.status == "failed"
        paid = await desk.pay_by_card(INVOICE, card, rub("18 000.00"), key="rojas-2")
        assert paid.status == "pending"
        assert (await desk.reconcile(INVOICE)).ok

    run(tmp_path, test)


def test_paying_by_card_again_under_the_same_key_charges_once(tmp_path: Path) -> None:
    async def test(corridor: EmbeddedCorridor) -> None:
        assert corridor.trade is not None and corridor.cards is not None
        desk, card = corridor.trade, corridor.cards.cards[WORKSHOP_CARD]
        first = await desk.pay_by_card(INVOICE, card, rub("9 000.00"), key="rojas-half")
        again = await desk.pay_by_card(INVOICE, card, rub("9 000.00"), key="rojas-half")
        assert again == first
        assert [p.reference for p in await desk.follow(INVOICE)] == [first.reference]

    run(tmp_path, test)


def test_a_card_payment_that_would_overpay_is_refused_before_the_card_is_charged(tmp_path: Path) -> None:
    async def test(corridor: EmbeddedCorridor) -> None:
        assert corridor.trade is not None and corridor.cards is not None
        desk, card = corridor.trade, corridor.cards.cards[WORKSHOP_CARD]
        with pytest.raises(PaymentRefused):
            await desk.pay_by_card(INVOICE, card, rub("18 000.01"), key="too-much")
        with pytest.raises(PaymentRefused, match="RUB"):
            await desk.pay_by_card(INVOICE, card, Money.of("100.00", "VES"), key="wrong-currency")
        assert await desk.follow(INVOICE) == []
        assert corridor.cards.acquirer_logs["KAMARUMM"].to_present(f"643002-{CYCLE}") == []

    run(tmp_path, test)


def test_a_card_payment_the_merchant_took_itself_is_recorded_from_its_acquirers_log(tmp_path: Path) -> None:
    async def test(corridor: EmbeddedCorridor) -> None:
        assert corridor.trade is not None and corridor.cards is not None
        desk, card = corridor.trade, corridor.cards.cards[WORKSHOP_CARD]
        acquirer = corridor.cards.acquirers["KAMARUMM"]
        merchant = acquirer.merchant("KAMA0001")
        assert merchant is not None
        request = ecommerce_request(
            merchant, pan=card.pan, expiry=card.expires, amount_minor=1_800_000, currency_numeric=643, cvv2=card.cvv2
        )
        answer = await acquirer.send(acquirer.prepare(request, merchant))
        assert answer["39"] == Response.APPROVED
        reference = f"643002:{answer['37']}"

        recorded = await desk.record_card_payment(INVOICE, reference)
        assert recorded.status == "pending" and recorded.amount == rub("18 000.00")
        assert await desk.record_card_payment(INVOICE, reference) == recorded
        with pytest.raises(PaymentRefused):
            await desk.record_card_payment(INVOICE, f"928002:{answer['37']}")  # not the exporter's acquirer

        await corridor.cards.end_of_day(CYCLE)
        assert [p.status for p in await desk.follow(INVOICE)] == ["settled"]
        assert (await desk.reconcile(INVOICE)).ok

    run(tmp_path, test)
