"""The trade part of `corridor demo`: an importer and an exporter onboarded with their KYC data, a contract, and an
invoice for truck parts paid by credit transfer in two parts, each payment reconciled with the ledgers."""

from __future__ import annotations

import asyncio
import time
from datetime import date

from rich.table import Table

from corridor.cli.common import console
from corridor.money import Money
from corridor.node.tradedesk import TradeDesk
from corridor.trade import Contract, Delivery, Invoice, InvoiceLine, Party

VOLGA, CARACAS = "RU0440701810000000011", "VE0102010000000000031"
TRUCK_PARTS = "INV-2026-0042"
OIL_PARTS = "INV-2026-0043"
INVOICE_DAY = date(2026, 11, 2)
EXPORTER = Party(
    id="volga-truck-parts", name="Volga Truck Parts", role="exporter", country="RU", account=VOLGA, bank="VOLGRUMM",
    registration_number="1027700132195", tax_id="7707083893", address="ul. Zavodskaya 12, Samara 443001",
    email="sales@volga-truck-parts.example", kyc_tier=2,
)  # fmt: skip
IMPORTER = Party(
    id="caracas-transportes", name="Caracas Transportes", role="importer", country="VE", account=CARACAS,
    bank="ORINVECA", registration_number="J-30012345-6", tax_id="J300123456",
    address="Av. Urdaneta 45, Caracas 1010", email="compras@caracas-transportes.example", kyc_tier=2,
)  # fmt: skip
"""Illustrative parties: every name and number is made up."""


def rub(text: str) -> Money:
    return Money.of(text, "RUB")


def open_trade(desk: TradeDesk) -> None:
    """Onboard both parties and record the two contracts and their invoices (the oil one is paid by escrow later)."""
    desk.onboard(EXPORTER)
    desk.onboard(IMPORTER)
    desk.add_contract(
        Contract("CT-2026-007", IMPORTER.id, EXPORTER.id, "RUB", Delivery("FCA", "Novorossiysk"),
                 "Truck tyres, batteries and spare parts for the 2026 fleet renewal", date(2026, 10, 15))
    )  # fmt: skip
    desk.add_invoice(
        Invoice(TRUCK_PARTS, "CT-2026-007", INVOICE_DAY, date(2026, 12, 31), "RUB", (
            InvoiceLine("truck tyres 315/80R22.5", 40, "pcs", rub("18 500.00"), "401120"),
            InvoiceLine("truck batteries 12V 225Ah", 20, "pcs", rub("21 000.00"), "850710"),
            InvoiceLine("brake pads and filters, assorted", 1, "set", rub("320 000.00"), "870830"),
        ))
    )  # fmt: skip
    desk.add_contract(
        Contract("CT-2026-008", IMPORTER.id, EXPORTER.id, "VOIL", Delivery("CIF", "La Guaira"),
                 "Spare parts paid in oil tokens, released against the bill of lading", date(2026, 10, 20))
    )  # fmt: skip
    desk.add_invoice(
        Invoice(OIL_PARTS, "CT-2026-008", INVOICE_DAY, date(2027, 1, 31), "VOIL", (
            InvoiceLine("truck spare parts, packing list PL-77", 1, "lot", Money.parse("350.0000 VOIL")),
        ))
    )  # fmt: skip


async def pay_by_transfer(desk: TradeDesk) -> None:
    """The truck parts invoice paid by credit transfer, in two parts (a deposit, then the balance)."""
    for key, part in (("inv42-deposit", "480 000.00 RUB"), ("inv42-balance", "1 000 000.00 RUB")):
        await desk.pay_by_transfer(TRUCK_PARTS, rub(part.removesuffix(" RUB")), key=key)
    deadline = time.monotonic() + 30
    while any(p.status == "pending" for p in await desk.follow(TRUCK_PARTS)) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def invoices_table(desk: TradeDesk) -> Table:
    table = Table(title="trade invoices (importer -> exporter), reconciled with the ledgers", title_justify="left")
    for column in ("invoice", "goods", "total", "payments", "status", "reconciled"):
        table.add_column(column, overflow="fold")
    for number in (TRUCK_PARTS, OIL_PARTS):
        invoice = desk.invoice(number)
        payments = await desk.follow(number)
        standing = await desk.standing(number, INVOICE_DAY)
        checked = await desk.reconcile(number)
        table.add_row(
            number,
            ", ".join(line.description.split(",")[0] for line in invoice.lines),
            str(invoice.total),
            "; ".join(f"{p.rail} {p.amount} {p.status}" for p in payments) or "-",
            standing.status,
            "yes" if checked.ok else f"NO: {checked.mismatches[0].detail}",
        )
    return table


async def print_invoices(desk: TradeDesk) -> None:
    console.print(await invoices_table(desk))
