"""The log of approvals a hop answered (cards/authlog.py): which answers are approvals and of what kind, what a foreign
card's billing and a partial approval record, increments and reversals, and what an acquirer presents from it."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.cards.authlog import (
    AUTHORIZATION_KIND,
    PURCHASE,
    REFUND,
    Approval,
    AuthorizationLog,
    approval_of,
    log_answer,
)
from corridor.cards.iso8583 import Fields, original_data, request_key

APPROVED: Fields = {"39": "00", "38": "123456"}
AT = "2026-11-18T12:00:00Z"


def request(
    t: str = "0100", stan: str = "000001", amount: str = "000000452000", processing: str = "000000", **more: str
) -> Fields:
    fields: Fields = {
        "t": t,
        "2": "2204120000000017",
        "3": processing,
        "4": amount,
        "7": "1118120000",
        "11": stan,
        "32": "928002",
        "37": f"632212{stan}",
        "41": "ANDS0001",
        "49": "928",
    }
    fields.update(more)
    return fields


def key_of(fields: Fields) -> str:
    return request_key(str(fields["32"]), str(fields["11"]), str(fields["7"]))


def reversal_of(original: Fields, stan: str = "000900", t: str = "0400") -> Fields:
    return request(t, stan, str(original["4"]), **{"90": original_data(original)})


def is_reversed(log: AuthorizationLog, key: str) -> bool:
    approval = log.get(key)
    assert approval is not None
    return approval.reversed


def with_log(tmp_path: Path, test: Callable[[AuthorizationLog], Coroutine[Any, Any, None]]) -> None:
    log = AuthorizationLog(tmp_path / "authlog.db")
    try:
        asyncio.run(test(log))
    finally:
        log.close()


def test_an_approved_0100_is_an_authorization() -> None:
    approval = approval_of(request("0100"), APPROVED, "ORINVECA")
    assert approval is not None
    assert approval.kind == AUTHORIZATION_KIND
    assert approval.request_key == "928002|000001|1118120000"
    assert (approval.issuer, approval.acquirer, approval.stan, approval.transmitted) == (
        "ORINVECA",
        "928002",
        "000001",
        "1118120000",
    )
    assert (approval.rrn, approval.auth_code, approval.terminal) == ("632212000001", "123456", "ANDS0001")
    assert (approval.amount, approval.currency) == (452_000, "VES")
    assert (approval.billed, approval.card_currency, approval.rate) == (452_000, "VES", None)
    assert approval.original is None and not approval.reversed


def test_an_approved_0200_is_a_purchase() -> None:
    approval = approval_of(request("0200"), APPROVED, "ORINVECA")
    assert approval is not None and approval.kind == PURCHASE


def test_an_approved_0200_with_processing_code_20_is_a_refund() -> None:
    approval = approval_of(request("0200", processing="200000"), APPROVED, "ORINVECA")
    assert approval is not None and approval.kind == REFUND


def test_a_0100_with_processing_code_20_is_still_an_authorization() -> None:
    approval = approval_of(request("0100", processing="200000"), APPROVED, "ORINVECA")
    assert approval is not None and approval.kind == AUTHORIZATION_KIND


def test_a_declined_answer_is_no_approval() -> None:
    assert approval_of(request("0100"), {"39": "51"}, "ORINVECA") is None
    assert approval_of(request("0200"), {"39": "05"}, "ORINVECA") is None
    assert approval_of(request("0100"), {}, "ORINVECA") is None


def test_an_approved_network_message_is_no_approval() -> None:
    echo: Fields = {"t": "0800", "7": "1118120000", "11": "000001", "70": "301"}
    assert approval_of(echo, {"39": "00"}, "ORINVECA") is None


def test_an_approved_reversal_is_no_approval_of_its_own() -> None:
    assert approval_of(reversal_of(request()), APPROVED, "ORINVECA") is None


def test_a_partial_approval_records_the_amount_approved() -> None:
    answer: Fields = {"39": "10", "38": "123456", "4": "000000300000"}
    approval = approval_of(request("0100", amount="000000452000"), answer, "ORINVECA")
    assert approval is not None
    assert approval.amount == approval.billed == 300_000


def test_a_foreign_cards_answer_records_the_billed_amount_the_cards_currency_and_the_rate() -> None:
    billing: Fields = {"6": "000001037546", "10": "62295455", "51": "643"}
    answer = APPROVED | billing
    approval = approval_of(request("0100", amount="000000452000") | billing, answer, "VOLGRUMM")
    assert approval is not None
    assert (approval.amount, approval.currency) == (452_000, "VES")
    assert (approval.billed, approval.card_currency, approval.rate) == (1_037_546, "RUB", "62295455")


def test_a_foreign_cards_billing_is_taken_from_the_request_when_the_answer_does_not_repeat_it() -> None:
    billing: Fields = {"6": "000001037546", "10": "62295455", "51": "643"}
    approval = approval_of(request("0200") | billing, APPROVED, "VOLGRUMM")
    assert approval is not None
    assert (approval.billed, approval.card_currency, approval.rate) == (1_037_546, "RUB", "62295455")


def test_an_0100_with_field_90_is_an_increment_of_the_authorization_it_names() -> None:
    first = request("0100", "000001")
    more = request("0100", "000002", "000000050000", **{"90": original_data(first)})
    approval = approval_of(more, APPROVED, "ORINVECA")
    assert approval is not None
    assert approval.kind == AUTHORIZATION_KIND
    assert approval.original == key_of(first) == "928002|000001|1118120000"
    assert approval.request_key == key_of(more) and approval.amount == 50_000


def test_a_logged_increment_is_listed_under_its_authorization(tmp_path: Path) -> None:
    first = request("0100", "000001")
    more = request("0100", "000002", "000000050000", **{"90": original_data(first)})

    async def check(log: AuthorizationLog) -> None:
        await log_answer(log, first, APPROVED, "ORINVECA", AT)
        await log_answer(log, more, APPROVED, "ORINVECA", AT)
        assert [i.request_key for i in log.increments(key_of(first))] == [key_of(more)]
        assert log.increments(key_of(more)) == []

    with_log(tmp_path, check)


def test_a_logged_approval_reads_back_as_it_was_approved(tmp_path: Path) -> None:
    billing: Fields = {"6": "000001037546", "10": "62295455", "51": "643"}
    sale = request("0200") | billing

    async def check(log: AuthorizationLog) -> None:
        await log_answer(log, sale, APPROVED | billing, "VOLGRUMM", AT)
        assert log.get(key_of(sale)) == approval_of(sale, APPROVED | billing, "VOLGRUMM")
        assert log.get("928002|999999|1118120000") is None

    with_log(tmp_path, check)


def test_a_declined_answer_is_not_logged(tmp_path: Path) -> None:
    async def check(log: AuthorizationLog) -> None:
        await log_answer(log, request(), {"39": "51"}, "ORINVECA", AT)
        assert log.get(key_of(request())) is None and log.to_present("B1") == []

    with_log(tmp_path, check)


def test_the_same_approval_added_twice_is_kept_once(tmp_path: Path) -> None:
    async def check(log: AuthorizationLog) -> None:
        approval = approval_of(request(), APPROVED, "ORINVECA")
        assert approval is not None
        await log.add(approval, AT)
        await log.add(approval, "2026-11-18T12:00:05Z")
        await log_answer(log, request(), APPROVED, "ORINVECA", AT)
        assert log.to_present("B1") == [approval]

    with_log(tmp_path, check)


def test_an_approved_reversal_marks_the_authorization_and_its_increments_reversed(tmp_path: Path) -> None:
    first = request("0100", "000001")
    more = request("0100", "000002", "000000050000", **{"90": original_data(first)})
    other = request("0100", "000003")

    async def check(log: AuthorizationLog) -> None:
        for fields in (first, more, other):
            await log_answer(log, fields, APPROVED, "ORINVECA", AT)
        await log_answer(log, reversal_of(first), {"39": "00"}, "ORINVECA", AT)
        assert is_reversed(log, key_of(first))
        assert [i.reversed for i in log.increments(key_of(first))] == [True]
        assert not is_reversed(log, key_of(other))
        assert [a.request_key for a in log.to_present("B1")] == [key_of(other)]

    with_log(tmp_path, check)


def test_a_repeated_reversal_0420_approved_marks_the_original_reversed(tmp_path: Path) -> None:
    sale = request("0200")

    async def check(log: AuthorizationLog) -> None:
        await log_answer(log, sale, APPROVED, "ORINVECA", AT)
        await log_answer(log, reversal_of(sale, t="0420"), {"39": "00"}, "ORINVECA", AT)
        assert is_reversed(log, key_of(sale))

    with_log(tmp_path, check)


def test_a_reversal_answered_original_not_found_changes_nothing(tmp_path: Path) -> None:
    first = request("0100", "000001")
    more = request("0100", "000002", "000000050000", **{"90": original_data(first)})

    async def check(log: AuthorizationLog) -> None:
        await log_answer(log, first, APPROVED, "ORINVECA", AT)
        await log_answer(log, more, APPROVED, "ORINVECA", AT)
        before = log.to_present("B1")
        await log_answer(log, reversal_of(first), {"39": "25"}, "ORINVECA", AT)
        assert log.to_present("B1") == before
        assert not any(a.reversed for a in before) and len(before) == 2

    with_log(tmp_path, check)


def test_a_reversal_of_an_increment_reverses_only_the_increment(tmp_path: Path) -> None:
    first = request("0100", "000001")
    more = request("0100", "000002", "000000050000", **{"90": original_data(first)})

    async def check(log: AuthorizationLog) -> None:
        await log_answer(log, first, APPROVED, "ORINVECA", AT)
        await log_answer(log, more, APPROVED, "ORINVECA", AT)
        await log_answer(log, reversal_of(more), {"39": "00"}, "ORINVECA", AT)
        assert is_reversed(log, key_of(more))
        assert not is_reversed(log, key_of(first))

    with_log(tmp_path, check)


def test_a_batch_presents_what_is_not_reversed_and_again_the_same_for_the_same_batch(tmp_path: Path) -> None:
    one, two, three = request("0100", "000001"), request("0200", "000002"), request("0100", "000003")

    async def check(log: AuthorizationLog) -> None:
        for fields in (one, two, three):
            await log_answer(log, fields, APPROVED, "ORINVECA", AT)
        await log_answer(log, reversal_of(two), {"39": "00"}, "ORINVECA", AT)
        batch = log.to_present("B1")
        assert [a.request_key for a in batch] == [key_of(one), key_of(three)]  # in the order approved
        await log.presented([a.request_key for a in batch], "B1")
        assert log.to_present("B1") == batch  # rebuilt the same after a crash
        assert log.to_present("B2") == []

    with_log(tmp_path, check)


def test_a_later_batch_presents_only_what_was_approved_since(tmp_path: Path) -> None:
    one, two = request("0100", "000001"), request("0100", "000002")

    async def check(log: AuthorizationLog) -> None:
        await log_answer(log, one, APPROVED, "ORINVECA", AT)
        await log.presented([key_of(one)], "B1")
        await log_answer(log, two, APPROVED, "ORINVECA", AT)
        assert [a.request_key for a in log.to_present("B2")] == [key_of(two)]
        assert [a.request_key for a in log.to_present("B1")] == [key_of(one), key_of(two)]

    with_log(tmp_path, check)


def test_an_approval_is_found_by_its_rrn(tmp_path: Path) -> None:
    one, two = request("0100", "000001"), request("0200", "000002")

    async def check(log: AuthorizationLog) -> None:
        await log_answer(log, one, APPROVED, "ORINVECA", AT)
        await log_answer(log, two, APPROVED, "ORINVECA", AT)
        found = log.by_rrn("632212000002")
        assert found is not None and found.request_key == key_of(two) and found.kind == PURCHASE
        assert log.by_rrn("632212999999") is None

    with_log(tmp_path, check)


def test_the_log_survives_being_closed_and_opened_again(tmp_path: Path) -> None:
    with_log(tmp_path, lambda log: log_answer(log, request(), APPROVED, "ORINVECA", AT))
    log = AuthorizationLog(tmp_path / "authlog.db")
    try:
        assert log.get(key_of(request())) == approval_of(request(), APPROVED, "ORINVECA")
    finally:
        log.close()


stans = st.integers(min_value=1, max_value=999_999).map(lambda n: f"{n:06d}")
amounts = st.integers(min_value=1, max_value=10**12 - 1).map(lambda n: f"{n:012d}")
kinds = st.sampled_from([("0100", "000000"), ("0200", "000000"), ("0200", "200000")])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(kinds, stans, amounts), min_size=1, max_size=8, unique_by=lambda spec: spec[1]))
def test_what_is_logged_is_what_was_approved_each_kept_once_in_the_order_approved(
    specs: list[tuple[tuple[str, str], str, str]],
) -> None:
    requests = [request(t, stan, amount, processing) for (t, processing), stan, amount in specs]
    expected: list[Approval] = []
    for fields in requests:
        approval = approval_of(fields, APPROVED, "ORINVECA")
        assert approval is not None
        expected.append(approval)

    async def check(log: AuthorizationLog) -> None:
        for fields in requests + requests:  # every answer logged twice, as after a repeated request
            await log_answer(log, fields, APPROVED, "ORINVECA", AT)
        assert log.to_present("B1") == expected
        assert [log.by_rrn(a.rrn) for a in expected] == expected

    with tempfile.TemporaryDirectory() as directory:
        with_log(Path(directory), check)


def test_stan_blocks_reserved_in_the_log_never_overlap_even_across_a_reopening(tmp_path: Path) -> None:
    log = AuthorizationLog(tmp_path / "acquired.db")
    first, second = log.reserve_stans(1000), log.reserve_stans(1000)
    log.close()
    reopened = AuthorizationLog(tmp_path / "acquired.db")
    third = reopened.reserve_stans(1000)
    reopened.close()
    assert (first, second, third) == (0, 1000, 2000)
