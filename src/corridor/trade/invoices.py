"""Where an invoice stands, from its payments alone, and whether it can take one more.

Plain functions over records: the standing of an invoice is never stored, so it cannot disagree with the payments
it is computed from, and a store, a report or a test computes it the same way.

What counts: money is **paid** once its payment is `settled`, and stops being paid if it is `refunded`. A `pending`
payment is not paid yet, but it is on its way, so it takes room: a new payment is refused when what is settled, what
is pending and the new amount together would pass the total. That way two payments in flight at once can never add
up to more than the exporter asked for, whichever of them settles. `failed` payments count for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, get_args

from corridor.money import Money
from corridor.trade.errors import InvalidRecord, PaymentRefused
from corridor.trade.model import Invoice, Payment

__all__ = [
    "INVOICE_STATUSES",
    "InstalmentStanding",
    "InvoiceStatus",
    "Standing",
    "Totals",
    "check_payment",
    "standing",
    "totals",
]

InvoiceStatus = Literal["open", "partially_paid", "paid", "overdue"]
INVOICE_STATUSES: tuple[InvoiceStatus, ...] = get_args(InvoiceStatus)


@dataclass(frozen=True, slots=True)
class Totals:
    """An invoice's money, by where it is. `outstanding` is what is not paid yet (pending included): the
    exporter's claim. `room` is what a new payment may still be: the outstanding less what is already on its way."""

    total: Money
    paid: Money
    pending: Money
    refunded: Money
    outstanding: Money

    @property
    def room(self) -> Money:
        return self.outstanding - self.pending


@dataclass(frozen=True, slots=True)
class InstalmentStanding:
    """One instalment and how much of it the settled payments cover, earliest instalment first."""

    number: int
    """1 for the first instalment."""
    due_on: date
    amount: Money
    covered: Money
    overdue: bool
    """Past its due date (the day after `due_on` or later) and not covered in full."""

    @property
    def remaining(self) -> Money:
        return self.amount - self.covered

    @property
    def is_covered(self) -> bool:
        return self.covered == self.amount


@dataclass(frozen=True, slots=True)
class Standing:
    """An invoice's status on a day, with the figures and the instalments it follows from."""

    invoice: str
    status: InvoiceStatus
    totals: Totals
    instalments: tuple[InstalmentStanding, ...]

    @property
    def overdue(self) -> Money:
        """What should have been paid by now and has not been."""
        late = sum(item.remaining.minor for item in self.instalments if item.overdue)
        return Money(late, self.totals.total.currency)


def _checked(invoice: Invoice, payments: Iterable[Payment]) -> list[Payment]:
    """The payments, refusing any that is not this invoice's or is listed twice: counting either would make
    every figure wrong without a sign of it."""
    listed = list(payments)
    seen: dict[tuple[str, str], int] = {}
    total = invoice.total
    for index, payment in enumerate(listed):
        if not isinstance(payment, Payment):
            raise InvalidRecord(f"payments[{index}]: must be a Payment, got {type(payment).__name__}")
        if payment.invoice != invoice.number:
            raise InvalidRecord(f"payments[{index}].invoice: {payment.invoice!r}, not {invoice.number!r}")
        if payment.amount.currency != total.currency:
            raise InvalidRecord(
                f"payments[{index}].amount: in {payment.amount.currency.code}, the invoice is in {invoice.currency}"
            )
        first = seen.setdefault(payment.key, index)
        if first != index:
            raise InvalidRecord(f"payments[{index}]: the same {payment.rail} payment as payments[{first}]")
    return listed


def tally(invoice: Invoice, payments: Sequence[Payment]) -> Totals:
    """The figures as they are, unchecked, even impossible ones (an overpayment): reconciliation reports those
    rather than refusing to look at them. Every payment must be this invoice's, in its currency, listed once."""
    cur = invoice.total.currency

    def of(status: str) -> Money:
        return Money(sum(p.amount.minor for p in payments if p.status == status), cur)

    total, paid = invoice.total, of("settled")
    return Totals(total, paid, of("pending"), of("refunded"), total - paid)


def totals(invoice: Invoice, payments: Iterable[Payment]) -> Totals:
    """The invoice's figures. Payments of another invoice or currency, a payment listed twice, or more settled and
    pending than the total (which the store never lets happen) are refused as InvalidRecord."""
    figures = tally(invoice, _checked(invoice, payments))
    if figures.room.minor < 0:
        raise InvalidRecord(
            f"payments: {figures.paid} settled and {figures.pending} pending pass the total {figures.total}"
        )
    return figures


def standing(invoice: Invoice, payments: Iterable[Payment], today: date) -> Standing:
    """The invoice's status on `today`.

    Settled money covers the instalments in order, the earliest first, as a creditor applies payments to the oldest
    debt. The status is, first that applies: `paid` (settled equals the total), `overdue` (an instalment past its
    due date is not covered in full), `partially_paid` (something is settled), `open`. Pending money covers
    nothing: an invoice whose payment is in flight on its due date is overdue until the payment settles.
    """
    if type(today) is not date:
        raise InvalidRecord(f"today: must be a datetime.date, got {type(today).__name__}")
    figures = totals(invoice, payments)
    left = figures.paid.minor
    items: list[InstalmentStanding] = []
    for number, instalment in enumerate(invoice.schedule, start=1):
        covered = min(left, instalment.amount.minor)
        left -= covered
        late = today > instalment.due_on and covered < instalment.amount.minor
        items.append(
            InstalmentStanding(
                number, instalment.due_on, instalment.amount, Money(covered, instalment.amount.currency), late
            )
        )
    status: InvoiceStatus
    if figures.outstanding.minor == 0:
        status = "paid"
    elif any(item.overdue for item in items):
        status = "overdue"
    elif figures.paid.minor > 0:
        status = "partially_paid"
    else:
        status = "open"
    return Standing(invoice.number, status, figures, tuple(items))


def check_payment(invoice: Invoice, payments: Iterable[Payment], payment: Payment) -> None:
    """Refuse (PaymentRefused) a payment the invoice cannot take: another invoice's, in another currency, or more
    than its room (what is neither settled nor pending). `payments` are the invoice's others; one with the same
    rail and reference is the payment itself, heard again, and is left out rather than counted twice."""
    if payment.invoice != invoice.number:
        raise PaymentRefused(f"payment.invoice: {payment.invoice!r} is not invoice {invoice.number!r}")
    if payment.amount.currency.code != invoice.currency:
        raise PaymentRefused(
            f"payment.amount: {payment.amount} is in {payment.amount.currency.code}; invoice {invoice.number} "
            f"is paid in {invoice.currency} (convert before paying it, not after)"
        )
    others = [p for p in payments if not (p.rail == payment.rail and p.reference == payment.reference)]
    room = totals(invoice, others).room
    if payment.status in ("pending", "settled") and payment.amount > room:
        raise PaymentRefused(
            f"payment.amount: {payment.amount} would overpay invoice {invoice.number}: {room} is left to pay "
            "(pending payments included)"
        )
