"""The worked example of docs/trade.md: Caracas Transportes (VE) imports truck parts from Volga Truck Parts (RU),
priced and paid in roubles. Builders take keyword changes, so each test states only what it is about."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from corridor.money import Money
from corridor.scenario.model import load_scenario
from corridor.trade import Contract, Delivery, Instalment, Invoice, InvoiceLine, Party, Payment

SCENARIO = load_scenario()
"""The default RU/VE scenario: loading it registers its tokens (RUBD and RUBS at par with RUB, VESD, VOIL) as
currencies, as an orchestrator's start-up does."""
AT_PAR = {token.code: token.currency for token in SCENARIO.digital.tokens if token.currency} if SCENARIO.digital else {}

UETR = "3f2b8c1e-5d4a-4b6c-9e8f-1a2b3c4d5e6f"
UETR_2 = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
TOKEN_TX = "ab" * 32
LOCK_TX = "cd" * 32
CARD_REF = "40000001:512345678901"
AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def rub(text: str) -> Money:
    return Money.of(text, "RUB")


def exporter(**changes: Any) -> Party:
    party = Party(
        id="volga-truck-parts",
        name="Volga Truck Parts",
        role="exporter",
        country="RU",
        account="RU0440701810000000011",
        bank="VOLGRUMM",
        registration_number="1027700132195",
        tax_id="7707083893",
        address="ul. Zavodskaya 12, Samara 443001",
        email="sales@volga-truck-parts.example",
        kyc_tier=3,
    )
    return replace(party, **changes)


def importer(**changes: Any) -> Party:
    party = Party(
        id="caracas-transportes",
        name="Caracas Transportes",
        role="importer",
        country="VE",
        account="VE0102010000000000031",
        bank="ORINVECA",
        registration_number="J-30012345-6",
        tax_id="J300123456",
        address="Av. Urdaneta 45, Caracas 1010",
        email="compras@caracas-transportes.example",
        kyc_tier=2,
    )
    return replace(party, **changes)


def contract(**changes: Any) -> Contract:
    agreed = Contract(
        id="CT-2026-007",
        importer="caracas-transportes",
        exporter="volga-truck-parts",
        currency="RUB",
        delivery=Delivery("FCA", "Novorossiysk"),
        description="Truck tyres, batteries and spare parts for the 2026 fleet renewal",
        signed_on=date(2026, 1, 15),
    )
    return replace(agreed, **changes)


TYRES = InvoiceLine("truck tyres 315/80R22.5", 40, "pcs", rub("18 500.00"), "401120")
BATTERIES = InvoiceLine("truck batteries 12V 225Ah", 20, "pcs", rub("21 000.00"), "850710")
SPARES = InvoiceLine("brake pads and filters, assorted", 1, "set", rub("320 000.00"), "870830")
"""40 x 18 500 + 20 x 21 000 + 320 000 = 1 480 000.00 RUB."""


def invoice(**changes: Any) -> Invoice:
    issued = Invoice(
        number="INV-2026-0042",
        contract="CT-2026-007",
        issued_on=date(2026, 2, 1),
        due_on=date(2026, 3, 31),
        currency="RUB",
        lines=(TYRES, BATTERIES, SPARES),
    )
    return replace(issued, **changes)


def in_instalments() -> Invoice:
    """The same goods paid in three instalments."""
    return invoice(
        instalments=(
            Instalment(date(2026, 2, 15), rub("480 000.00")),
            Instalment(date(2026, 3, 15), rub("500 000.00")),
            Instalment(date(2026, 3, 31), rub("500 000.00")),
        )
    )


def payment(**changes: Any) -> Payment:
    made = Payment(
        id="PAY-1",
        invoice="INV-2026-0042",
        rail="credit_transfer",
        reference=UETR,
        amount=rub("400 000.00"),
        status="pending",
        recorded_at=AT,
    )
    return replace(made, **changes)
