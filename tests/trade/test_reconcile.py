"""Reconciliation sets each payment against the ledger entries said to back it, and the invoice against its
payments; the report is ok only when nothing disagrees, and each disagreement says exactly what and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.money import Money
from corridor.trade import Payment, Reason, reconcile
from tests.trade.examples import CARD_REF, LOCK_TX, TOKEN_TX, UETR, UETR_2, invoice, payment, rub

TRANSFER = "VOLGRUMM:transfer:0001"
TRANSFER_2 = "VOLGRUMM:transfer:0002"
TOKEN = "CBXRRUMM-digital:tx:" + "ab" * 8
REFUND = "VOLGRUMM:transfer:0003"


def settled(**changes: Any) -> Payment:
    return replace(payment(status="settled", ledger_refs=(TRANSFER,)), **changes)


def reasons(report_mismatches: object) -> list[Reason]:
    return [m.reason for m in report_mismatches]  # type: ignore[attr-defined]


def test_payments_whose_entries_move_exactly_their_amounts_reconcile() -> None:
    payments = [settled(), settled(id="PAY-2", rail="token", reference=TOKEN_TX, ledger_refs=(TOKEN,))]
    report = reconcile(invoice(), payments, {TRANSFER: rub("400 000.00"), TOKEN: rub("400 000.00")})
    assert report.ok
    assert report.mismatches == ()
    assert report.totals.paid == rub("800 000.00")
    assert report.totals.outstanding == rub("680 000.00")
    assert [check.moved for check in report.payments] == [rub("400 000.00"), rub("400 000.00")]


def test_the_ledger_may_be_a_callable() -> None:
    asked: list[str] = []

    def ledger(ref: str) -> Money | None:
        asked.append(ref)
        return rub("400 000.00") if ref == TRANSFER else None

    assert reconcile(invoice(), [settled()], ledger).ok
    assert asked == [TRANSFER]


def test_an_entry_missing_from_the_ledger_is_reported_by_name() -> None:
    report = reconcile(invoice(), [settled()], {})
    assert not report.ok
    (missing, short) = report.mismatches
    assert (missing.reason, missing.payment, missing.ledger_ref) == (Reason.MISSING_ENTRY, "PAY-1", TRANSFER)
    assert f"ledger entry {TRANSFER} is not in the ledger" in missing.detail
    assert short.reason is Reason.AMOUNT_MISMATCH


def test_entries_moving_another_amount_are_reported_with_both_amounts() -> None:
    report = reconcile(invoice(), [settled()], {TRANSFER: rub("399 999.99")})
    (mismatch,) = report.mismatches
    assert mismatch.reason is Reason.AMOUNT_MISMATCH
    assert mismatch.detail.endswith("its ledger_refs moved 399 999.99 RUB in the ledger, not 400 000.00 RUB")


def test_a_payment_backed_by_several_entries_reconciles_on_their_sum() -> None:
    split = settled(ledger_refs=(TRANSFER, TRANSFER_2))
    assert reconcile(invoice(), [split], {TRANSFER: rub("300 000.00"), TRANSFER_2: rub("100 000.00")}).ok


def test_a_ledger_entry_in_another_currency_is_reported_and_not_counted() -> None:
    report = reconcile(invoice(), [settled()], {TRANSFER: Money.of("400 000.00", "VES")})
    assert reasons(report.mismatches) == [Reason.WRONG_CURRENCY, Reason.AMOUNT_MISMATCH]
    assert report.payments[0].moved == rub("0")


def test_a_token_payment_at_par_reconciles_against_entries_in_its_token() -> None:
    in_rubd = settled(rail="token", reference=TOKEN_TX, ledger_refs=(TOKEN,), paid_in="RUBD")
    report = reconcile(invoice(), [in_rubd], {TOKEN: Money.of("400 000.00", "RUBD")})
    assert report.ok
    assert report.payments[0].moved == rub("400 000.00")


def test_entries_in_the_invoice_currency_do_not_back_a_payment_said_to_move_a_token() -> None:
    in_rubd = settled(rail="token", reference=TOKEN_TX, ledger_refs=(TOKEN,), paid_in="RUBD")
    report = reconcile(invoice(), [in_rubd], {TOKEN: rub("400 000.00")})
    assert reasons(report.mismatches) == [Reason.WRONG_CURRENCY, Reason.AMOUNT_MISMATCH]
    assert f"ledger entry {TOKEN} moved 400 000.00 RUB, not RUBD" in report.mismatches[0].detail


def test_entries_in_a_token_do_not_back_a_payment_that_names_none() -> None:
    report = reconcile(invoice(), [settled()], {TRANSFER: Money.of("400 000.00", "RUBD")})
    assert reasons(report.mismatches) == [Reason.WRONG_CURRENCY, Reason.AMOUNT_MISMATCH]


def test_a_settled_payment_naming_no_ledger_entry_is_not_backed() -> None:
    report = reconcile(invoice(), [settled(ledger_refs=())], {})
    (mismatch,) = report.mismatches
    assert mismatch.reason is Reason.NOT_BACKED
    assert "ledger_refs is empty" in mismatch.detail


def test_a_pending_payment_need_not_be_in_the_ledger_yet() -> None:
    assert reconcile(invoice(), [payment(ledger_refs=(TRANSFER,))], {}).ok


def test_a_pending_payment_must_not_move_more_than_its_amount() -> None:
    report = reconcile(invoice(), [payment(ledger_refs=(TRANSFER,))], {TRANSFER: rub("400 000.01")})
    assert reasons(report.mismatches) == [Reason.AMOUNT_MISMATCH]


def test_an_escrow_that_expired_reconciles_when_its_refund_returned_everything() -> None:
    expired = payment(rail="escrow", reference=LOCK_TX, status="failed", ledger_refs=("lock",), refund_refs=("back",))
    assert reconcile(invoice(), [expired], {"lock": rub("400 000.00"), "back": rub("400 000.00")}).ok


def test_a_failed_payment_whose_transfer_never_reached_the_ledger_reconciles() -> None:
    assert reconcile(invoice(), [payment(status="failed", ledger_refs=(TRANSFER,))], {}).ok


def test_a_failed_payment_that_moved_money_net_is_reported() -> None:
    kept = payment(status="failed", ledger_refs=(TRANSFER,))
    report = reconcile(invoice(), [kept], {TRANSFER: rub("400 000.00")})
    (mismatch,) = report.mismatches
    assert mismatch.reason is Reason.MOVED_ON_FAILURE
    assert "moved 400 000.00 RUB and moved back 0.00 RUB: net not zero" in mismatch.detail


def test_a_refund_entry_missing_from_the_ledger_is_reported_even_on_a_failed_payment() -> None:
    failed = payment(status="failed", ledger_refs=(TRANSFER,), refund_refs=(REFUND,))
    report = reconcile(invoice(), [failed], {TRANSFER: rub("400 000.00")})
    assert reasons(report.mismatches) == [Reason.MISSING_ENTRY, Reason.MOVED_ON_FAILURE]
    assert report.mismatches[0].ledger_ref == REFUND


def test_a_refunded_payment_needs_both_its_payment_and_its_refund_in_the_ledger() -> None:
    refunded = settled(rail="card", reference=CARD_REF, status="refunded", refund_refs=(REFUND,))
    assert reconcile(invoice(), [refunded], {TRANSFER: rub("400 000.00"), REFUND: rub("400 000.00")}).ok
    partial = reconcile(invoice(), [refunded], {TRANSFER: rub("400 000.00"), REFUND: rub("100 000.00")})
    assert reasons(partial.mismatches) == [Reason.AMOUNT_MISMATCH]
    assert "its refund_refs moved back 100 000.00 RUB in the ledger, not 400 000.00 RUB" in partial.mismatches[0].detail
    unbacked = reconcile(invoice(), [replace(refunded, refund_refs=())], {TRANSFER: rub("400 000.00")})
    assert reasons(unbacked.mismatches) == [Reason.NOT_BACKED]


def test_one_ledger_entry_backing_two_payments_is_reported() -> None:
    twice = [settled(), settled(id="PAY-2", reference=UETR_2)]
    report = reconcile(invoice(), twice, {TRANSFER: rub("400 000.00")})
    (shared,) = report.mismatches
    assert (shared.reason, shared.payment, shared.ledger_ref) == (Reason.SHARED_ENTRY, "PAY-2", TRANSFER)
    assert "also backs payment PAY-1" in shared.detail


def test_a_payment_of_another_invoice_is_reported_and_left_out_of_the_totals() -> None:
    stray = settled(invoice="INV-2026-0099")
    report = reconcile(invoice(), [stray], {TRANSFER: rub("400 000.00")})
    assert reasons(report.mismatches) == [Reason.OTHER_INVOICE]
    assert report.totals.paid == rub("0")


def test_a_payment_in_another_currency_is_reported_and_left_out_of_the_totals() -> None:
    report = reconcile(invoice(), [settled(amount=Money.of("5 000.00", "USD"))], {})
    assert reasons(report.mismatches) == [Reason.WRONG_CURRENCY]
    assert report.totals.paid == rub("0")


def test_the_same_payment_listed_twice_is_counted_once() -> None:
    report = reconcile(
        invoice(), [settled(), settled(status="refunded", refund_refs=(REFUND,))], {TRANSFER: rub("400 000.00")}
    )
    assert reasons(report.mismatches) == [Reason.DUPLICATE_PAYMENT]
    assert report.totals.paid == rub("400 000.00")


def test_an_overpaid_invoice_is_reported_for_the_invoice_as_a_whole() -> None:
    big = settled(amount=rub("1 480 000.00"))
    more = payment(id="PAY-2", reference=UETR_2, amount=rub("0.01"))
    report = reconcile(invoice(), [big, more], {TRANSFER: rub("1 480 000.00")})
    (overpaid,) = report.mismatches
    assert (overpaid.reason, overpaid.payment) == (Reason.OVERPAID, None)
    assert report.totals.room == rub("-0.01")


def test_a_ledger_answer_that_is_not_money_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match=r"returned int for 'VOLGRUMM:transfer:0001': Money or None"):
        reconcile(invoice(), [settled()], lambda ref: 40_000_000)  # type: ignore[arg-type,return-value]


def test_each_reference_is_looked_up_once() -> None:
    asked: list[str] = []

    def ledger(ref: str) -> Money | None:
        asked.append(ref)
        return rub("400 000.00")

    reconcile(invoice(), [settled(), settled(id="PAY-2", reference=UETR_2)], ledger)
    assert asked == [TRANSFER]


# --- Invariants ------------------------------------------------------------------------------------------------

_REFS = [UETR, UETR_2, *(f"{n:08x}-0000-4000-8000-000000000000" for n in range(20))]


@st.composite
def _honest_books(draw: st.DrawFn) -> tuple[list[Payment], dict[str, Money]]:
    """Payments within the total and a ledger that moved exactly what each says: what reconciliation must accept."""
    left = invoice().total.minor
    payments: list[Payment] = []
    ledger: dict[str, Money] = {}
    for n in range(draw(st.integers(0, 12))):
        if left == 0:
            break
        status = draw(st.sampled_from(["pending", "settled", "failed", "refunded"]))
        minor = draw(st.integers(1, left))
        parts = draw(st.integers(1, 3))
        amount = rub("0.01") * minor
        refs = tuple(f"tx:{n}:{i}" for i in range(parts))
        shares = amount.allocate([1] * parts)
        refund_refs: tuple[str, ...] = ()
        if status in ("settled", "refunded", "pending"):
            ledger.update(zip(refs, shares, strict=True))
        if status in ("failed", "refunded"):
            refund_refs = (f"back:{n}",)
            ledger[refund_refs[0]] = amount if status == "refunded" else rub("0")
        if status in ("pending", "settled"):
            left -= minor
        payments.append(
            payment(
                id=f"P{n}", reference=_REFS[n], amount=amount, status=status, ledger_refs=refs, refund_refs=refund_refs
            )
        )
    return payments, ledger


@given(_honest_books())
def test_books_that_agree_always_reconcile(books: tuple[list[Payment], dict[str, Money]]) -> None:
    payments, ledger = books
    report = reconcile(invoice(), payments, ledger)
    assert report.ok, [str(m) for m in report.mismatches]
    assert report.totals.paid + report.totals.outstanding == invoice().total


@given(_honest_books(), st.data())
def test_any_entry_moving_one_minor_unit_more_is_caught(
    books: tuple[list[Payment], dict[str, Money]], data: st.DataObject
) -> None:
    payments, ledger = books
    movers = [p for p in payments if p.status in ("settled", "refunded")]
    if not movers:
        return
    chosen = data.draw(st.sampled_from(movers))
    ref = data.draw(st.sampled_from(chosen.ledger_refs))
    tampered: Mapping[str, Money] = {**ledger, ref: ledger[ref] + rub("0.01")}
    report = reconcile(invoice(), payments, tampered)
    assert not report.ok
    assert [(m.reason, m.payment) for m in report.mismatches] == [(Reason.AMOUNT_MISMATCH, chosen.id)]


@given(_honest_books(), st.data())
def test_any_entry_missing_from_the_ledger_is_named(
    books: tuple[list[Payment], dict[str, Money]], data: st.DataObject
) -> None:
    payments, ledger = books
    movers = [p for p in payments if p.status in ("settled", "refunded")]
    if not movers:
        return
    chosen = data.draw(st.sampled_from(movers))
    ref = data.draw(st.sampled_from(chosen.ledger_refs))
    report = reconcile(invoice(), payments, {k: v for k, v in ledger.items() if k != ref})
    assert (Reason.MISSING_ENTRY, chosen.id, ref) in [(m.reason, m.payment, m.ledger_ref) for m in report.mismatches]
