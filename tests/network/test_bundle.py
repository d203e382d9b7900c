"""Bundle framing: what goes in comes out, in order; anything else is refused as a BundleError, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.network.transport.bundle import MAX_BYTES, MAX_PARTS, BundleError, bundle_id, group, pack, unpack

parts_strategy = st.lists(
    st.tuples(st.text(min_size=1, max_size=40), st.binary(max_size=300)), min_size=1, max_size=MAX_PARTS
)


@given(parts_strategy)
def test_unpacking_a_packed_bundle_gives_back_every_part_in_order(parts: list[tuple[str, bytes]]) -> None:
    assert unpack(pack(parts), len(parts)) == parts


@given(st.binary(max_size=2000), st.integers(min_value=-5, max_value=MAX_PARTS + 5))
def test_any_bytes_either_unpack_exactly_or_are_refused_as_a_bundle_error(data: bytes, count: int) -> None:
    try:
        parts = unpack(data, count)
    except BundleError:
        return
    assert pack(parts) == data and len(parts) == count


@given(parts_strategy, st.integers(min_value=1, max_value=50))
def test_a_truncated_bundle_is_refused(parts: list[tuple[str, bytes]], cut: int) -> None:
    data = pack(parts)
    with pytest.raises(BundleError):
        unpack(data[: max(0, len(data) - cut)], len(parts))


def test_a_bundle_claiming_more_parts_than_it_holds_is_refused() -> None:
    with pytest.raises(BundleError, match="runs past the end"):
        unpack(pack([("m1", b"x")]), 2)


def test_grouping_keeps_each_recipients_order_and_cuts_at_the_part_limit() -> None:
    messages = [("A", f"a{i}", b"x") for i in range(MAX_PARTS + 3)] + [("B", "b0", b"y")]
    groups = list(group(messages))
    assert [(recipient, len(parts)) for recipient, parts in groups] == [("A", MAX_PARTS), ("A", 3), ("B", 1)]
    assert [part_id for _, parts in groups[:2] for part_id, _ in parts] == [f"a{i}" for i in range(MAX_PARTS + 3)]


def test_grouping_cuts_before_a_bundle_would_pass_the_byte_limit() -> None:
    big = b"x" * (MAX_BYTES // 2)
    groups = list(group([("A", "m1", big), ("A", "m2", big)]))
    assert [len(parts) for _, parts in groups] == [1, 1]


def test_the_same_envelopes_in_the_same_order_name_the_same_bundle() -> None:
    assert bundle_id(["m1", "m2"]) == bundle_id(["m1", "m2"]) != bundle_id(["m2", "m1"])
