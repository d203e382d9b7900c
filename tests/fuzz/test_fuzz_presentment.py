"""An acquirer's presentment batch (cards/presentment.py `parse_batch`) as clearing receives it: whatever the file
holds (a byte changed, cut short, nested past any parser's depth, numbers past any integer's size), clearing gets a
checked batch that writes back to itself, or a BatchError naming where it is wrong. tests/cards/test_presentment.py
fuzzes the batch's JSON values; this fuzzes its bytes."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from corridor.cards.presentment import BatchError, Presentment, PresentmentBatch, parse_batch
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import mutated

BATCH = PresentmentBatch(
    "B-2026-11-26.1",
    "928002",
    "VES",
    (
        Presentment("000001", "1126100000", "633000000001", "A00001", 452_000),
        Presentment("000002", "1126100500", "633000000002", "B2C3D4", 1),
        Presentment("000003", "1126101000", "63300000000X", "000003", 999_999_999_999),
    ),
)
SEED = BATCH.to_json()


def read(data: bytes) -> None:
    try:
        batch = parse_batch(data)
    except BatchError as refused:
        assert refused.where and refused.reason
        return
    assert parse_batch(batch.to_json()) == batch
    assert all(0 < p.amount < 10**12 for p in batch.presentments)


@fuzz_settings(300)
@given(mutated(SEED))
@example(b'{"batch_id":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
@example(SEED.replace(b'"count":3', b'"count":' + b"9" * 5000))
@example(SEED.replace(b'"amount":1,', b'"amount":1e999,'))
@example(SEED.replace(b"VES", b"\\u0000ES"))
def test_a_batch_file_changed_in_any_byte_is_read_whole_or_refused_naming_where(data: bytes) -> None:
    read(data)


@fuzz_settings(200)
@given(st.binary(max_size=600))
def test_any_bytes_are_a_batch_or_a_batch_error(data: bytes) -> None:
    read(data)
