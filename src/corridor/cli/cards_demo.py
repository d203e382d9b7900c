"""The card part of `corridor demo`: a day of the card scheme on the embedded network, then its settlement.

Terminals at a merchant in each country send ISO 8583 over loopback TCP to their acquirer, which goes through the
switch to the card's issuer: a Russian card at a Venezuelan merchant (an authorization, completed at clearing), a
Venezuelan card at a Russian merchant (a purchase), a decline, a purchase voided at the terminal, a refund. Then the
scheme closes the day: presentments, clearing, completion, settlement at both central banks with the cross-currency
part over their correspondent accounts, and the merchants' payouts; the settlement report is printed and written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from corridor.cards.iso8583 import Fields
from corridor.cards.link import Client
from corridor.cards.pan import mask
from corridor.cards.responses import Response, describe
from corridor.cli.common import console
from corridor.money import Money, currency
from corridor.node.cardnet import CardScheme, DayClosed

IRINA, LUIS = "RU0440701810000000013", "VE0102010000000000033"
MOSCOW_TERMINAL, MARACAIBO_TERMINAL = "KAMA0001", "ANDS0001"


@dataclass(frozen=True, slots=True)
class CardPayment:
    title: str
    holder: str
    terminal: str
    amount: str
    kind: str = "0100"
    processing: str = "000000"
    void: bool = False
    """Voided at the terminal (0400 naming its RRN) once approved."""


STORY = [
    CardPayment("RU card at a VE merchant", IRINA, MARACAIBO_TERMINAL, "4 520.00 VES"),
    CardPayment("VE card at a RU merchant", LUIS, MOSCOW_TERMINAL, "10 000.00 RUB", kind="0200"),
    CardPayment("declined: over the balance", LUIS, MOSCOW_TERMINAL, "200 000.00 RUB", kind="0200"),
    CardPayment("voided at the terminal", IRINA, MOSCOW_TERMINAL, "1 500.00 RUB", kind="0200", void=True),
    CardPayment("refund to a VE card", LUIS, MOSCOW_TERMINAL, "2 000.00 RUB", kind="0200", processing="200000"),
]


async def _terminal(cards: CardScheme, terminal: str, request: Fields) -> Fields:
    link = await Client.connect(*cards.terminals[terminal])
    try:
        return await link.request(request, timeout_s=10)
    finally:
        await link.close()


async def card_payments(cards: CardScheme) -> None:
    """Run the story's card payments on the running scheme and print them."""
    net = cards.network
    table = Table(title="card payments (ISO 8583: terminal -> acquirer -> switch -> issuer)", title_justify="left")
    for column in ("payment", "card", "merchant", "amount", "cardholder billed", "response"):
        table.add_column(column)
    merchants = {m.terminal: net.scenario.account(m.account).name for m in cards.scheme.merchants}
    for stan, payment in enumerate(STORY, start=1):
        card = cards.cards[payment.holder]
        amount = Money.parse(payment.amount)
        request: Fields = {
            "t": payment.kind,
            "2": card.pan,
            "3": payment.processing,
            "4": f"{amount.minor:012d}",
            "11": f"{stan:06d}",
            "14": card.expires,
            "41": payment.terminal,
        }
        answer = await _terminal(cards, payment.terminal, request)
        code = str(answer.get("39"))
        billed = amount
        if "6" in answer and "51" in answer:
            billed = Money(int(str(answer["6"])), currency(int(str(answer["51"]))))
        outcome = describe(code)
        if payment.void and code == Response.APPROVED:
            void = await _terminal(cards, payment.terminal, request | {"t": "0400", "37": answer["37"]})
            outcome += f", then voided: {describe(str(void.get('39')))}"
        table.add_row(
            payment.title,
            mask(card.pan),
            merchants[payment.terminal],
            str(amount),
            str(billed) if code in (Response.APPROVED, Response.PARTIAL_APPROVAL) else "-",
            outcome,
        )
    console.print(table)


async def close_card_day(cards: CardScheme, data_dir: Path, cycle: str) -> DayClosed:
    """The scheme's end of day (presentments, clearing, settlement at both central banks, merchants' payouts); its
    report written to <data dir>/cards/."""
    closed = await cards.end_of_day(cycle)
    _write_report(closed, data_dir / "cards")
    return closed


def _write_report(closed: DayClosed, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    (target / f"settlement-{closed.cycle}.txt").write_text(closed.report + "\n", encoding="utf-8")
    document = {
        "cycle": closed.cycle,
        "batches": {bank: asdict(result) for bank, result in closed.batches.items()},
        "completions": closed.completions,
        "currencies": {code: asdict(legs) for code, legs in closed.plan.currencies.items()},
        "conversions": [asdict(c) for c in closed.plan.conversions],
        "merchants": closed.plan.merchants,
        "settlements": closed.settlements,
    }
    (target / f"settlement-{closed.cycle}.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    console.print(f"settlement report written to {escape(str(target))}/settlement-{closed.cycle}.{{txt,json}}")
