"""Presentment batches (cards/presentment.py): what an acquirer sends clearing, and how clearing reads it. A batch
round-trips through its JSON form; `parse_batch` refuses a faulty batch whole with a BatchError naming the field that
is wrong, and nothing else escapes it, whatever the bytes; `batch_of` presents an authorization with its increments
as one line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.cards.authlog import AUTHORIZATION_KIND, PURCHASE, Approval
from corridor.cards.iso8583 import request_key
from corridor.cards.presentment import (
    MAX_BATCH_BYTES,
    BatchError,
    Presentment,
    PresentmentBatch,
    batch_of,
    parse_batch,
)

BATCH = PresentmentBatch(
    "ANDS-2026-11-26.1",
    "928002",
    "VES",
    (
        Presentment("000001", "1126100000", "633000000001", "A1B2C3", 1_000_000),
        Presentment("000002", "1126100500", "633000000002", "000417", 25),
    ),
)


def document(**changes: Any) -> dict[str, Any]:
    """BATCH as a JSON document, with top-level fields changed (a value of None removes the field)."""
    data: dict[str, Any] = json.loads(BATCH.to_json())
    for name, value in changes.items():
        if value is None:
            del data[name]
        else:
            data[name] = value
    return data


def with_first(**changes: Any) -> dict[str, Any]:
    """BATCH's document with fields of its first presentment changed (None removes the field); `total` follows the
    amount when it stays a positive integer."""
    data = document()
    first = data["presentments"][0]
    for name, value in changes.items():
        if value is None:
            del first[name]
        else:
            first[name] = value
    if type(first.get("amount")) is int:
        data["total"] = sum(p["amount"] for p in data["presentments"])
    return data


def refusal(data: Any) -> BatchError:
    with pytest.raises(BatchError) as caught:
        parse_batch(json.dumps(data).encode())
    return caught.value


def approval(stan: str, amount: int, *, kind: str = AUTHORIZATION_KIND, original: str | None = None) -> Approval:
    return Approval(
        request_key=request_key("928002", stan, "1126100000"),
        kind=kind,
        issuer="VOLGRUMM",
        acquirer="928002",
        stan=stan,
        transmitted="1126100000",
        rrn=f"633000{stan}",
        auth_code=f"A{stan[1:]}",
        terminal="ANDS0001",
        amount=amount,
        currency="VES",
        billed=amount * 2,
        card_currency="RUB",
        rate="62295455",
        original=original,
    )


# Round trip


def test_a_batch_round_trips_through_its_json() -> None:
    assert parse_batch(BATCH.to_json()) == BATCH


def test_the_json_of_a_batch_carries_its_count_and_total() -> None:
    data = json.loads(BATCH.to_json())
    assert (data["count"], data["total"]) == (2, 1_000_025)


def test_an_empty_batch_round_trips() -> None:
    empty = PresentmentBatch("empty", "643002", "RUB", ())
    assert parse_batch(empty.to_json()) == empty


# Control totals


def test_a_batch_whose_count_is_not_its_presentments_is_refused_at_count() -> None:
    assert refusal(document(count=3)).where == "count"


def test_a_batch_whose_total_is_not_the_sum_of_its_amounts_is_refused_at_total() -> None:
    assert refusal(document(total=1_000_024)).where == "total"


@pytest.mark.parametrize("value", [-1, 2.0, True, "2"], ids=["negative", "float", "bool", "text"])
def test_a_count_that_is_not_a_non_negative_integer_is_refused_at_count(value: object) -> None:
    assert refusal(document(count=value)).where == "count"


@pytest.mark.parametrize("value", [-1, 1_000_025.0, "1000025"], ids=["negative", "float", "text"])
def test_a_total_that_is_not_a_non_negative_integer_is_refused_at_total(value: object) -> None:
    assert refusal(document(total=value)).where == "total"


# Missing fields


@pytest.mark.parametrize("name", ["batch_id", "acquirer", "currency", "count", "total", "presentments"])
def test_a_batch_missing_a_field_is_refused_at_that_field(name: str) -> None:
    assert refusal(document(**{name: None})).where == name


@pytest.mark.parametrize("name", ["stan", "transmitted", "rrn", "auth_code", "amount"])
def test_a_presentment_missing_a_field_is_refused_at_that_field(name: str) -> None:
    assert refusal(with_first(**{name: None})).where == f"presentments[0].{name}"


def test_a_fault_in_a_later_presentment_names_its_place() -> None:
    data = document()
    data["presentments"][1]["rrn"] = "short"
    assert refusal(data).where == "presentments[1].rrn"


def test_a_presentment_that_is_not_an_object_is_refused_at_its_place() -> None:
    data = document()
    data["presentments"][1] = ["000002"]
    assert refusal(data).where == "presentments[1]"


def test_presentments_that_are_not_a_list_are_refused_at_presentments() -> None:
    assert refusal(document(presentments={"0": {}})).where == "presentments"


# Amounts


@pytest.mark.parametrize(
    "amount",
    [0, -100, 100.0, 1.5, True, "100", 10**12, 10**15],
    ids=["zero", "negative", "float", "fraction", "bool", "text", "13-digits", "16-digits"],
)
def test_an_amount_that_is_not_a_positive_integer_of_at_most_12_digits_is_refused_at_amount(amount: object) -> None:
    error = refusal(with_first(amount=amount))
    assert error.where == "presentments[0].amount"


def test_an_amount_of_12_digits_is_accepted() -> None:
    batch = parse_batch(json.dumps(with_first(amount=10**12 - 1)).encode())
    assert batch.presentments[0].amount == 999_999_999_999


# The request key and the approval's references


@pytest.mark.parametrize("stan", ["00001", "0000001", "00000a", " 00001", ""])
def test_a_stan_that_is_not_6_digits_is_refused_at_stan(stan: str) -> None:
    assert refusal(with_first(stan=stan)).where == "presentments[0].stan"


@pytest.mark.parametrize("stan", [123456, None], ids=["number", "null"])
def test_a_stan_that_is_not_a_string_is_refused_at_stan(stan: object) -> None:
    data = with_first()
    data["presentments"][0]["stan"] = stan
    assert refusal(data).where == "presentments[0].stan"


@pytest.mark.parametrize("transmitted", ["112610000", "11261000000", "112610000x", "1126-10000"])
def test_a_transmission_time_that_is_not_10_digits_is_refused_at_transmitted(transmitted: str) -> None:
    assert refusal(with_first(transmitted=transmitted)).where == "presentments[0].transmitted"


@pytest.mark.parametrize("rrn", ["63300000000", "6330000000011", "63300000000-", "63300000000 ", "63300000000é"])
def test_an_rrn_that_is_not_12_letters_or_digits_is_refused_at_rrn(rrn: str) -> None:
    assert refusal(with_first(rrn=rrn)).where == "presentments[0].rrn"


def test_an_rrn_of_letters_and_digits_is_accepted() -> None:
    batch = parse_batch(json.dumps(with_first(rrn="ABC123def456")).encode())
    assert batch.presentments[0].rrn == "ABC123def456"


@pytest.mark.parametrize("code", ["A1B2C", "A1B2C3D", "A1B2C ", "A1-2C3", "A1B2Cß"])
def test_an_auth_code_that_is_not_6_letters_or_digits_is_refused_at_auth_code(code: str) -> None:
    assert refusal(with_first(auth_code=code)).where == "presentments[0].auth_code"


# The batch's own fields


@pytest.mark.parametrize("code", ["XXX", "RUBL", "", "R", "ZZZ"])
def test_an_unknown_currency_is_refused_at_currency(code: str) -> None:
    assert refusal(document(currency=code)).where == "currency"


@pytest.mark.parametrize("acquirer", ["92800A", "", "-928002", "928 002", "123456789012", "+928002"])
def test_an_acquirer_that_is_not_1_to_11_digits_is_refused_at_acquirer(acquirer: str) -> None:
    assert refusal(document(acquirer=acquirer)).where == "acquirer"


@pytest.mark.parametrize("batch_id", ["", "a b", "a/b", "a" * 65, "batch\n1", "bätch"])
def test_a_batch_id_with_other_than_1_to_64_letters_digits_or_dot_colon_dash_underscore_is_refused(
    batch_id: str,
) -> None:
    assert refusal(document(batch_id=batch_id)).where == "batch_id"


def test_a_batch_id_of_64_allowed_characters_is_accepted() -> None:
    batch_id = ("aZ0._:-" * 10)[:64]
    assert parse_batch(json.dumps(document(batch_id=batch_id)).encode()).batch_id == batch_id


# The document as a whole


@pytest.mark.parametrize("data", [b"", b"{", b"not json", b"\xff\xfe\x00", b"[" * 100_000])
def test_bytes_that_are_not_json_are_refused_at_batch(data: bytes) -> None:
    with pytest.raises(BatchError) as caught:
        parse_batch(data)
    assert caught.value.where == "batch"


@pytest.mark.parametrize("data", [b"[]", b"null", b'"batch"', b"42"])
def test_json_that_is_not_an_object_is_refused_at_batch(data: bytes) -> None:
    with pytest.raises(BatchError) as caught:
        parse_batch(data)
    assert caught.value.where == "batch"


def test_a_batch_over_max_batch_bytes_is_refused_at_batch_before_being_read() -> None:
    data = BATCH.to_json()
    padded = data + b" " * (MAX_BATCH_BYTES + 1 - len(data))  # valid JSON, one byte too long
    with pytest.raises(BatchError) as caught:
        parse_batch(padded)
    assert caught.value.where == "batch"
    assert "over the limit" in caught.value.reason


def test_a_batch_of_exactly_max_batch_bytes_is_read() -> None:
    data = BATCH.to_json()
    assert parse_batch(data + b" " * (MAX_BATCH_BYTES - len(data))) == BATCH


# Refusals the checks should make and do not (bugs)


@pytest.mark.parametrize(
    ("name", "digits"),
    [
        ("stan", "¹²³⁴⁵⁶"),
        ("stan", "١٢٣٤٥٦"),
        ("stan", "１２３４５６"),
        ("transmitted", "１１２６１０００００"),
    ],
    ids=["stan-superscript", "stan-arabic-indic", "stan-fullwidth", "transmitted-fullwidth"],
)
def test_a_stan_or_transmission_time_of_non_ascii_digits_is_refused_at_that_field(name: str, digits: str) -> None:
    assert refusal(with_first(**{name: digits})).where == f"presentments[0].{name}"


def test_an_acquirer_of_non_ascii_digits_is_refused_at_acquirer() -> None:
    assert refusal(document(acquirer="²")).where == "acquirer"


def test_a_currency_of_thousands_of_digits_is_refused_at_currency() -> None:
    assert refusal(document(currency="1" * 5000)).where == "currency"


@pytest.mark.parametrize("code", ["rub", " RUB", "643"])
def test_a_currency_not_written_as_its_alphabetic_code_is_refused_or_read_as_that_code(code: str) -> None:
    try:
        batch = parse_batch(json.dumps(document(currency=code)).encode())
    except BatchError as error:
        assert error.where == "currency"
    else:
        assert batch.currency == "RUB"


# batch_of


def test_batch_of_presents_each_approval_for_what_was_approved() -> None:
    sale, other = approval("000001", 10_000), approval("000002", 2_500, kind=PURCHASE)
    batch = batch_of("B1", "928002", "VES", [sale, other])
    assert batch == PresentmentBatch(
        "B1",
        "928002",
        "VES",
        (
            Presentment("000001", "1126100000", "633000000001", "A00001", 10_000),
            Presentment("000002", "1126100000", "633000000002", "A00002", 2_500),
        ),
    )


def test_batch_of_sums_an_authorizations_increments_into_its_presentment() -> None:
    hold = approval("000001", 10_000)
    first = approval("000002", 1_500, original=hold.request_key)
    second = approval("000003", 250, original=hold.request_key)
    batch = batch_of("B1", "928002", "VES", [hold, first, second])
    assert [p.amount for p in batch.presentments] == [11_750]


def test_batch_of_leaves_increments_out_as_lines_of_their_own() -> None:
    hold, other = approval("000001", 10_000), approval("000004", 700)
    increment = approval("000002", 1_500, original=hold.request_key)
    batch = batch_of("B1", "928002", "VES", [hold, increment, other])
    assert [(p.stan, p.amount) for p in batch.presentments] == [("000001", 11_500), ("000004", 700)]


def test_batch_of_adds_an_increment_listed_before_its_authorization() -> None:
    hold = approval("000001", 10_000)
    increment = approval("000002", 1_500, original=hold.request_key)
    assert [p.amount for p in batch_of("B1", "928002", "VES", [increment, hold]).presentments] == [11_500]


def test_a_batch_of_approvals_round_trips_through_its_json() -> None:
    hold = approval("000001", 10_000)
    batch = batch_of("B1", "928002", "VES", [hold, approval("000002", 1, original=hold.request_key)])
    assert parse_batch(batch.to_json()) == batch
    assert batch.key_of(batch.presentments[0]) == hold.request_key


# Fuzz: parse_batch returns a batch or raises BatchError, nothing else

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", "000001", "1126100000", "633000000001", "A1B2C3", "RUB", "643002", "0"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
TOP_FIELDS = ["batch_id", "acquirer", "currency", "count", "total", "presentments"]
ITEM_FIELDS = ["stan", "transmitted", "rrn", "auth_code", "amount"]


def parsed_or_refused(data: bytes) -> PresentmentBatch | None:
    try:
        batch = parse_batch(data)
    except BatchError as error:
        assert error.where and error.reason
        return None
    assert isinstance(batch, PresentmentBatch)
    return batch


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_parse_batch_of_arbitrary_bytes_returns_a_batch_or_raises_batch_error(data: bytes) -> None:
    parsed_or_refused(data)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_parse_batch_of_arbitrary_json_returns_a_batch_or_raises_batch_error(value: Any) -> None:
    parsed_or_refused(json.dumps(value).encode())


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*TOP_FIELDS, *(f"{i}.{name}" for i in range(2) for name in ITEM_FIELDS), "0", "extra"]),
            st.one_of(st.just("<delete>"), json_values),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_parse_batch_of_a_mutated_batch_returns_a_batch_or_raises_batch_error(
    mutations: list[tuple[str, Any]],
) -> None:
    data = document()
    for path, value in mutations:
        table: Any = data
        name = path
        if "." in path:
            index, name = path.split(".")
            table = data.get("presentments")
            if not isinstance(table, list) or int(index) >= len(table) or not isinstance(table[int(index)], dict):
                continue
            table = table[int(index)]
        elif path == "0":
            table = data.get("presentments")
            if not isinstance(table, list) or not table:
                continue
            table[0] = value
            continue
        if value == "<delete>":
            table.pop(name, None)
        else:
            table[name] = value
    batch = parsed_or_refused(json.dumps(data).encode())
    if batch is not None:
        assert parse_batch(batch.to_json()) == batch
