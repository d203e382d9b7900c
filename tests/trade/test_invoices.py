"""An invoice's standing follows from its payments alone: what is paid, pending and outstanding, which instalments
are covered, and whether one more payment fits."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.money import Money
from corridor.trade import InvalidRecord, Payment, PaymentRefused, check_payment, standing, totals
from tests.trade.examples import TOKEN_TX, UETR, UETR_2, in_instalments, invoice, payment, rub

BEFORE_DUE = date(2026, 3, 1)
AFTER_DUE = date(2026, 4, 1)


def settled(amount: str, reference: str = UETR, number: int = 1) -> Payment:
    return payment(id=f"PAY-{number}", reference=reference, amount=rub(amount), status="settled", ledger_refs=["a"])


def test_an_invoice_with_nothing_settled_is_open_with_everything_outstanding() -> None:
    now = standing(invoice(), [], BEFORE_DUE)
    assert now.status == "open"
    assert (now.totals.paid, now.totals.outstanding) == (rub("0"), rub("1 480 000.00"))


def test_a_partial_payment_leaves_the_invoice_partially_paid_with_the_rest_due() -> None:
    now = standing(invoice(), [settled("400 000.00")], BEFORE_DUE)
    assert now.status == "partially_paid"
    assert now.totals.paid == rub("400 000.00")
    assert now.totals.outstanding == rub("1 080 000.00")


def test_payments_adding_up_to_the_total_make_the_invoice_paid() -> None:
    payments = [settled("400 000.00"), settled("1 080 000.00", UETR_2, 2)]
    now = standing(invoice(), payments, AFTER_DUE)
    assert now.status == "paid"
    assert now.totals.outstanding == rub("0")


def test_a_pending_payment_is_not_paid_yet() -> None:
    now = standing(invoice(), [payment(amount=rub("400 000.00"))], BEFORE_DUE)
    assert now.status == "open"
    assert (now.totals.paid, now.totals.pending) == (rub("0"), rub("400 000.00"))


def test_an_invoice_not_paid_by_its_due_date_is_overdue_the_day_after() -> None:
    partly = [settled("400 000.00")]
    assert standing(invoice(), partly, date(2026, 3, 31)).status == "partially_paid"
    late = standing(invoice(), partly, date(2026, 4, 1))
    assert late.status == "overdue"
    assert late.overdue == rub("1 080 000.00")


def test_a_payment_still_pending_on_the_due_date_leaves_the_invoice_overdue() -> None:
    assert standing(invoice(), [payment(amount=rub("1 480 000.00"))], AFTER_DUE).status == "overdue"


def test_a_refunded_payment_no_longer_counts_as_paid() -> None:
    refunded = replace(settled("1 480 000.00"), status="refunded", refund_refs=("b",))
    now = standing(invoice(), [refunded], BEFORE_DUE)
    assert now.status == "open"
    assert (now.totals.paid, now.totals.refunded) == (rub("0"), rub("1 480 000.00"))


def test_a_failed_payment_counts_for_nothing() -> None:
    now = standing(invoice(), [payment(status="failed")], BEFORE_DUE)
    assert (now.status, now.totals.pending, now.totals.paid) == ("open", rub("0"), rub("0"))


def test_settled_money_covers_the_earliest_instalments_first() -> None:
    now = standing(in_instalments(), [settled("700 000.00")], date(2026, 3, 1))
    covered = [(item.number, item.covered, item.is_covered) for item in now.instalments]
    assert covered == [
        (1, rub("480 000.00"), True),
        (2, rub("220 000.00"), False),
        (3, rub("0"), False),
    ]
    assert now.status == "partially_paid"


def test_a_missed_instalment_makes_the_invoice_overdue_before_its_final_due_date() -> None:
    now = standing(in_instalments(), [settled("700 000.00")], date(2026, 3, 16))
    assert now.status == "overdue"
    assert [item.overdue for item in now.instalments] == [False, True, False]
    assert now.overdue == rub("280 000.00")
    assert now.instalments[1].remaining == rub("280 000.00")


def test_an_instalment_is_not_overdue_on_its_due_date() -> None:
    assert standing(in_instalments(), [], date(2026, 2, 15)).status == "open"
    assert standing(in_instalments(), [], date(2026, 2, 16)).status == "overdue"


def test_today_is_a_calendar_day() -> None:
    with pytest.raises(InvalidRecord, match=r"^today: must be a datetime\.date"):
        standing(invoice(), [], datetime(2026, 3, 1, 12, 0))


def test_a_payment_of_another_invoice_is_not_counted_silently() -> None:
    with pytest.raises(InvalidRecord, match=r"^payments\[0\]\.invoice: 'INV-2026-0099', not 'INV-2026-0042'"):
        totals(invoice(), [payment(invoice="INV-2026-0099")])


def test_the_same_payment_listed_twice_is_not_counted_twice() -> None:
    with pytest.raises(InvalidRecord, match=r"^payments\[1\]: the same credit_transfer payment as payments\[0\]"):
        totals(invoice(), [settled("1.00"), settled("1.00")])


def test_a_payment_in_the_room_left_is_accepted() -> None:
    check_payment(invoice(), [settled("400 000.00")], payment(id="PAY-2", reference=UETR_2, amount=rub("1 080 000.00")))


def test_a_payment_that_would_overpay_is_refused() -> None:
    with pytest.raises(PaymentRefused, match=r"would overpay invoice INV-2026-0042: 1 080 000\.00 RUB is left"):
        check_payment(
            invoice(), [settled("400 000.00")], payment(id="PAY-2", reference=UETR_2, amount=rub("1 080 000.01"))
        )


def test_pending_payments_take_room_so_two_in_flight_cannot_overpay() -> None:
    in_flight = [payment(amount=rub("1 000 000.00"))]
    with pytest.raises(PaymentRefused, match=r"480 000\.00 RUB is left to pay \(pending payments included\)"):
        check_payment(invoice(), in_flight, payment(id="PAY-2", reference=UETR_2, amount=rub("500 000.00")))


def test_a_failed_payment_gives_its_room_back() -> None:
    check_payment(invoice(), [payment(amount=rub("1 480 000.00"), status="failed")], payment(id="P2", reference=UETR_2))


def test_a_payment_in_another_currency_than_the_invoice_is_refused() -> None:
    in_usd = payment(amount=Money.of("5 000.00", "USD"))
    with pytest.raises(
        PaymentRefused, match=r"^payment\.amount: 5 000\.00 USD is in USD; invoice INV-2026-0042 is paid in RUB"
    ):
        check_payment(invoice(), [], in_usd)


def test_a_payment_heard_again_is_not_counted_against_itself() -> None:
    whole = payment(amount=rub("1 480 000.00"))
    check_payment(invoice(), [whole], whole)


# --- Invariants ------------------------------------------------------------------------------------------------

REFERENCES = [UETR, UETR_2, *(f"{n:08x}-0000-4000-8000-000000000000" for n in range(40))]
statuses = st.sampled_from(["pending", "settled", "failed", "refunded"])
amounts = st.integers(min_value=1, max_value=200_000_000)  # kopecks: up to 2 000 000.00 RUB, more than the total


@given(st.lists(st.tuples(amounts, statuses), max_size=40), st.integers(0, 120))
def test_any_payments_the_invoice_admits_keep_paid_plus_outstanding_equal_to_the_total(
    attempts: list[tuple[int, str]], day: int
) -> None:
    bill = invoice()
    admitted: list[Payment] = []
    for number, (minor, status) in enumerate(attempts):
        refs = {"refund_refs": ("back",)} if status in ("failed", "refunded") else {}
        candidate = payment(
            id=f"P{number}", reference=REFERENCES[number], amount=rub("0.01") * minor, status=status, **refs
        )
        figures = totals(bill, admitted)
        try:
            check_payment(bill, admitted, candidate)
        except PaymentRefused:
            assert status in ("pending", "settled")
            assert figures.paid + figures.pending + candidate.amount > bill.total  # refused only when it overpays
            continue
        admitted.append(candidate)
    today = bill.issued_on + timedelta(days=day)
    now = standing(bill, admitted, today)
    figures = now.totals
    assert figures.paid + figures.outstanding == bill.total
    assert figures.outstanding.minor >= 0
    assert figures.paid + figures.pending <= bill.total
    assert sum((item.covered.minor for item in now.instalments), 0) == figures.paid.minor
    assert (now.status == "paid") == (figures.outstanding.minor == 0)
    assert now.status != "overdue" or today > bill.due_on


@given(st.lists(amounts, max_size=12), st.integers(0, 80))
def test_instalments_are_covered_in_order_never_beyond_their_amount(payments: list[int], day: int) -> None:
    bill = in_instalments()
    admitted: list[Payment] = []
    for number, minor in enumerate(payments):
        candidate = payment(id=f"P{number}", reference=REFERENCES[number], amount=rub("0.01") * minor, status="settled")
        try:
            check_payment(bill, admitted, candidate)
        except PaymentRefused:
            continue
        admitted.append(candidate)
    now = standing(bill, admitted, bill.issued_on + timedelta(days=day))
    items = now.instalments
    assert all(rub("0") <= item.covered <= item.amount for item in items)
    # an instalment is covered at all only once every earlier one is covered in full
    for earlier, later in pairwise(items):
        assert later.covered.minor == 0 or earlier.is_covered
    assert now.overdue == rub("0.01") * sum(item.remaining.minor for item in items if item.overdue)


def test_token_references_are_unique_per_rail_not_across_rails() -> None:
    token = payment(id="PAY-T", rail="token", reference=TOKEN_TX, amount=rub("1.00"))
    escrow = payment(id="PAY-E", rail="escrow", reference=TOKEN_TX, amount=rub("1.00"))
    assert totals(invoice(), [token, escrow]).pending == rub("2.00")
