"""The orchestrator's walkthrough of docs/trade.md, run as written: two parties onboarded, a contract, an invoice for
truck parts in roubles, a partial credit transfer then a digital-rouble payment, the standing and the
reconciliation. If this test changes, the document changes with it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from corridor.money import Money
from corridor.trade import (
    Contract,
    Delivery,
    Invoice,
    InvoiceLine,
    Party,
    Payment,
    Reason,
    TradeStore,
    reconcile,
    standing,
)
from tests.trade.examples import AT_PAR


def test_the_walkthrough_of_the_documentation(tmp_path: Path) -> None:
    assert AT_PAR["RUBD"] == "RUB"  # the scenario says RUBD is at par with RUB, and registers it
    store = TradeStore(tmp_path / "trade.sqlite")

    # Onboarding: the exporter in Russia, the importer in Venezuela, each with the account trade payments use.
    store.add_party(
        Party(
            id="volga-truck-parts", name="Volga Truck Parts", role="exporter", country="RU",
            account="RU0440701810000000011", bank="VOLGRUMM", registration_number="1027700132195",
            tax_id="7707083893", address="ul. Zavodskaya 12, Samara 443001",
            email="sales@volga-truck-parts.example", kyc_tier=3,
        )
    )  # fmt: skip
    store.add_party(
        Party(
            id="caracas-transportes", name="Caracas Transportes", role="importer", country="VE",
            account="VE0102010000000000031", bank="ORINVECA", registration_number="J-30012345-6",
            tax_id="J300123456", address="Av. Urdaneta 45, Caracas 1010",
            email="compras@caracas-transportes.example", kyc_tier=2,
        )
    )  # fmt: skip

    # The contract fixes the currency: every invoice under it is in RUB.
    store.add_contract(
        Contract(
            id="CT-2026-007", importer="caracas-transportes", exporter="volga-truck-parts", currency="RUB",
            delivery=Delivery.parse("FCA Novorossiysk"),
            description="Truck tyres, batteries and spare parts for the 2026 fleet renewal",
            signed_on=date(2026, 1, 15),
        )
    )  # fmt: skip

    def rub(text: str) -> Money:
        return Money.of(text, "RUB")

    invoice = store.add_invoice(
        Invoice(
            number="INV-2026-0042", contract="CT-2026-007", currency="RUB",
            issued_on=date(2026, 2, 1), due_on=date(2026, 3, 31),
            lines=(
                InvoiceLine("truck tyres 315/80R22.5", 40, "pcs", rub("18 500.00"), hs_code="401120"),
                InvoiceLine("truck batteries 12V 225Ah", 20, "pcs", rub("21 000.00"), hs_code="850710"),
                InvoiceLine("brake pads and filters, assorted", 1, "set", rub("320 000.00"), hs_code="870830"),
            ),
        )
    )  # fmt: skip
    assert invoice.total == rub("1 480 000.00")

    # A credit transfer of 400 000 RUB: recorded when the pacs.008 leaves, settled when the ACSC comes back.
    uetr = "3f2b8c1e-5d4a-4b6c-9e8f-1a2b3c4d5e6f"
    store.record_payment(
        Payment(
            id="PAY-2026-0042-1", invoice="INV-2026-0042", rail="credit_transfer", reference=uetr,
            amount=rub("400 000.00"), status="pending", recorded_at=datetime(2026, 2, 20, 10, 0, tzinfo=UTC),
        )
    )  # fmt: skip
    store.advance_payment("credit_transfer", uetr, "settled", ledger_refs=["VOLGRUMM:transfer:0001"])

    # The rest in digital roubles, at par: the token transaction commits at once.
    tx_id = "9c" * 32
    store.record_payment(
        Payment(
            id="PAY-2026-0042-2", invoice="INV-2026-0042", rail="token", reference=tx_id,
            amount=rub("1 080 000.00"), status="settled", recorded_at=datetime(2026, 3, 2, 8, 15, tzinfo=UTC),
            ledger_refs=("CBXRRUMM-digital:tx:" + tx_id[:32],), paid_in="RUBD",
        )
    )  # fmt: skip

    payments = store.payments("INV-2026-0042")
    assert standing(invoice, payments[:1], date(2026, 3, 1)).status == "partially_paid"
    now = standing(invoice, payments, date(2026, 3, 2))
    assert (now.status, now.totals.paid, now.totals.outstanding) == ("paid", rub("1 480 000.00"), rub("0"))

    # What the ledgers say they moved (the orchestrator reads them; here, as a mapping).
    ledger = {
        "VOLGRUMM:transfer:0001": rub("400 000.00"),
        "CBXRRUMM-digital:tx:" + tx_id[:32]: Money.of("1 080 000.00", "RUBD"),
    }
    assert reconcile(invoice, payments, ledger).ok

    # A ledger that moved one kopeck less is caught, and says where.
    ledger["VOLGRUMM:transfer:0001"] = rub("399 999.99")
    report = reconcile(invoice, payments, ledger)
    assert not report.ok
    (mismatch,) = report.mismatches
    assert (mismatch.reason, mismatch.payment) == (Reason.AMOUNT_MISMATCH, "PAY-2026-0042-1")
    assert str(mismatch) == (
        "amount_mismatch: payment PAY-2026-0042-1 (credit_transfer 3f2b8c1e-5d4a-4b6c-9e8f-1a2b3c4d5e6f, settled "
        "400 000.00 RUB): its ledger_refs moved 399 999.99 RUB in the ledger, not 400 000.00 RUB"
    )
    store.close()
