"""Reconciliation: does what the trade records say was paid match what the ledger actually moved?

The orchestrator that moves money tells trade/ which ledger entries back each payment; nothing here takes that on
trust. Given an invoice, its payments and the ledger's answer for each reference (the amount the entry moved, or
None when the ledger has no such entry), the report lists every disagreement with its reason, and is `ok` only when
there is none. It is pure: the ledger is read through the mapping or callable the caller passes, once per reference,
so the same inputs always give the same report, and a report can be recomputed by anyone holding them.

What each status must show in the ledger:

Entries are in the payment's currency, or in the token it names as `paid_in` (a token at par, counted unit for unit).

- `settled`: at least one entry; every entry exists; together they move the payment's amount.
- `refunded`: as settled, and at least one refund entry; the refund entries exist and move the amount back.
- `pending`: nothing yet required (a credit transfer may still be on its way), but what is already in the ledger
  must be in the right currency and must not move more than the payment.
- `failed`: the money may have moved and come back (an escrow locked, then refunded on expiry), but net of its refund
  entries it moved nothing. A forward entry the ledger does not have is normal here (a transfer the ledger refused
  leaves none); a refund entry it does not have is not.

Across the invoice: one ledger entry backs one payment only (an entry named twice would count its money twice), and
settled plus pending never passes the total.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from corridor.money import Currency, Money
from corridor.trade.invoices import Totals, tally
from corridor.trade.model import Invoice, Payment

__all__ = ["LedgerAmounts", "Mismatch", "PaymentCheck", "Reason", "Reconciliation", "reconcile"]

LedgerAmounts = Mapping[str, Money] | Callable[[str], Money | None]
"""For a ledger reference, the amount the entry moved (a posted transfer's amount; zero for a voided pending one),
or None (missing from the mapping) when the ledger has no such entry."""


class Reason(StrEnum):
    """Why a payment and the ledger disagree; the value is stable, for reports and alerts."""

    OTHER_INVOICE = "other_invoice"
    """A payment of another invoice was handed in: it is left out of the figures."""
    WRONG_CURRENCY = "wrong_currency"
    """A payment not in the invoice's currency, or a ledger entry not in its payment's."""
    DUPLICATE_PAYMENT = "duplicate_payment"
    """The same rail and reference twice: the second is left out of the figures."""
    NOT_BACKED = "not_backed"
    """A settled or refunded payment that names no ledger entry for what it says moved."""
    MISSING_ENTRY = "missing_entry"
    """A ledger entry the payment names is not in the ledger."""
    AMOUNT_MISMATCH = "amount_mismatch"
    """The entries move another amount than the payment's."""
    MOVED_ON_FAILURE = "moved_on_failure"
    """A failed payment whose entries, net of refunds, moved money."""
    SHARED_ENTRY = "shared_entry"
    """One ledger entry named by two payments."""
    OVERPAID = "overpaid"
    """Settled and pending payments pass the invoice's total."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    reason: Reason
    payment: str | None
    """The payment's id; None for the invoice as a whole."""
    ledger_ref: str | None
    """The ledger entry concerned, when there is one."""
    detail: str

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class PaymentCheck:
    """One payment against the ledger: what its entries moved toward the exporter (`moved`) and back (`returned`),
    in the payment's currency, counting only entries that exist and are in the currency they should be (the
    payment's, or its `paid_in` token unit for unit)."""

    payment: Payment
    moved: Money
    returned: Money
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The report. `mismatches` holds every disagreement (the payments' and the invoice's own), in payment order;
    `totals` counts only the payments that belong to the invoice, each once."""

    invoice: str
    totals: Totals
    payments: tuple[PaymentCheck, ...]
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches


class _Ledger:
    """The caller's ledger view, asked once per reference however many payments name it."""

    def __init__(self, ledger: LedgerAmounts) -> None:
        self._lookup: Callable[[str], Money | None] = ledger.get if isinstance(ledger, Mapping) else ledger
        self._seen: dict[str, Money | None] = {}

    def amount(self, ref: str) -> Money | None:
        if ref not in self._seen:
            found = self._lookup(ref)
            if found is not None and not isinstance(found, Money):
                raise TypeError(f"the ledger lookup returned {type(found).__name__} for {ref!r}: Money or None")
            self._seen[ref] = found
        return self._seen[ref]


def _describe(payment: Payment) -> str:
    return f"payment {payment.id} ({payment.rail} {payment.reference}, {payment.status} {payment.amount})"


class _Check:
    """The mismatches of one payment, as they are found."""

    def __init__(self, payment: Payment, ledger: _Ledger) -> None:
        self.payment = payment
        self.ledger = ledger
        self.found: list[Mismatch] = []

    def add(self, reason: Reason, detail: str, ref: str | None = None) -> None:
        self.found.append(Mismatch(reason, self.payment.id, ref, f"{_describe(self.payment)}: {detail}"))

    def side(self, refs: Sequence[str], what: str, *, missing_allowed: bool) -> Money:
        """What the existing entries in the payment's currency move; the others are reported."""
        cur: Currency = self.payment.moved_in
        moved = 0
        for ref in refs:
            amount = self.ledger.amount(ref)
            if amount is None:
                if not missing_allowed:
                    self.add(Reason.MISSING_ENTRY, f"{what} entry {ref} is not in the ledger", ref)
            elif amount.currency != cur:
                self.add(Reason.WRONG_CURRENCY, f"{what} entry {ref} moved {amount}, not {cur.code}", ref)
            else:
                moved += amount.minor
        return Money(moved, self.payment.amount.currency)  # a token at par counts unit for unit

    def run(self) -> PaymentCheck:
        payment = self.payment
        status = payment.status
        moved = self.side(payment.ledger_refs, "ledger", missing_allowed=status in ("pending", "failed"))
        returned = self.side(payment.refund_refs, "refund", missing_allowed=False)
        if status in ("settled", "refunded"):
            self._exactly(payment.ledger_refs, moved, "ledger_refs", "moved")
        if status == "refunded":
            self._exactly(payment.refund_refs, returned, "refund_refs", "moved back")
        if status == "pending" and moved > payment.amount:
            self.add(Reason.AMOUNT_MISMATCH, f"its ledger entries already move {moved}, more than the payment")
        if status == "failed" and moved != returned:
            self.add(Reason.MOVED_ON_FAILURE, f"its entries moved {moved} and moved back {returned}: net not zero")
        return PaymentCheck(payment, moved, returned, tuple(self.found))

    def _exactly(self, refs: Sequence[str], moved: Money, name: str, verb: str) -> None:
        if not refs:
            self.add(Reason.NOT_BACKED, f"{name} is empty: no ledger entry shows the money {verb}")
        elif moved != self.payment.amount:
            self.add(Reason.AMOUNT_MISMATCH, f"its {name} {verb} {moved} in the ledger, not {self.payment.amount}")


def reconcile(invoice: Invoice, payments: Sequence[Payment], ledger: LedgerAmounts) -> Reconciliation:
    """Check an invoice's payments against the ledger and against the invoice; see the module's rules."""
    cur = invoice.total.currency
    looked_up = _Ledger(ledger)
    checks: list[PaymentCheck] = []
    counted: list[Payment] = []
    keys: dict[tuple[str, str], str] = {}
    ids: set[str] = set()
    named_by: dict[str, str] = {}
    for payment in payments:
        if payment.invoice != invoice.number:
            detail = f"{_describe(payment)} is for invoice {payment.invoice}, not {invoice.number}"
            checks.append(_excluded(payment, Mismatch(Reason.OTHER_INVOICE, payment.id, None, detail)))
            continue
        if payment.amount.currency != cur:
            detail = f"{_describe(payment)} is not in the invoice's currency {cur.code}"
            checks.append(_excluded(payment, Mismatch(Reason.WRONG_CURRENCY, payment.id, None, detail)))
            continue
        first = keys.get(payment.key) or (payment.id if payment.id in ids else None)
        if first is not None:
            detail = f"{_describe(payment)} repeats the rail reference or the id of payment {first}"
            checks.append(_excluded(payment, Mismatch(Reason.DUPLICATE_PAYMENT, payment.id, None, detail)))
            continue
        keys[payment.key] = payment.id
        ids.add(payment.id)
        counted.append(payment)
        check = _Check(payment, looked_up)
        for ref in payment.ledger_refs + payment.refund_refs:
            other = named_by.setdefault(ref, payment.id)
            if other != payment.id:
                check.add(Reason.SHARED_ENTRY, f"ledger entry {ref} also backs payment {other}", ref)
        checks.append(check.run())
    figures = tally(invoice, counted)
    mismatches = [mismatch for check in checks for mismatch in check.mismatches]
    if figures.room.minor < 0:
        detail = (
            f"invoice {invoice.number}: {figures.paid} settled and {figures.pending} pending pass its total "
            f"{figures.total}"
        )
        mismatches.append(Mismatch(Reason.OVERPAID, None, None, detail))
    return Reconciliation(invoice.number, figures, tuple(checks), tuple(mismatches))


def _excluded(payment: Payment, mismatch: Mismatch) -> PaymentCheck:
    """A payment left out of the invoice's figures and not looked up: it is not this invoice's to check."""
    zero = Money.zero(payment.amount.currency)
    return PaymentCheck(payment, zero, zero, (mismatch,))
