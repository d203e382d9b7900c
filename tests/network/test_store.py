"""A node's store (network/store.py): what a commit makes durable is what the node reads back, from memory while it
runs and from the file once reopened; a unit whose message was processed before fails alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from corridor.network.store import DuplicateMessage, NodeStore, Unit


def unit(message_id: str, *, quote: str | None = None, uetr: str | None = None) -> Unit:
    made = Unit()
    made.record_inbox("SENDER01", message_id, b"digest", "pacs.008.001.08", "2026-01-01T00:00:00.000Z", "processed")
    if quote is not None:
        made.kv[f"quote:{message_id}"] = quote
    if uetr is not None:
        made.put_payment(uetr, "reserved", None, {"uetr": uetr, "role": "test"}, "2026-01-01T00:00:00.000Z")
    return made


def test_kv_values_and_payment_records_are_read_back_after_commit_and_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    store = NodeStore(path)
    store.commit_sync(unit("M1", quote="TOKEN-1", uetr="u-1"))
    assert store.get("quote:M1") == "TOKEN-1" and store.get("quote:M2") is None
    assert store.payment("u-1") == ("reserved", {"uetr": "u-1", "role": "test"})
    store.close()
    reopened = NodeStore(path)
    try:
        assert reopened.get("quote:M1") == "TOKEN-1"
        assert reopened.payment("u-1") == ("reserved", {"uetr": "u-1", "role": "test"})
    finally:
        reopened.close()


def test_among_units_committed_together_a_duplicate_fails_alone_and_the_others_commit(tmp_path: Path) -> None:
    store = NodeStore(tmp_path / "node.db")
    try:
        store.commit_sync(unit("M1"))

        async def group() -> list[object]:
            units = [unit("M2", quote="TOKEN-2"), unit("M1", quote="TOKEN-1"), unit("M3", quote="TOKEN-3")]
            return await asyncio.gather(*(store.commit(u) for u in units), return_exceptions=True)

        outcomes = asyncio.run(group())
        assert outcomes[0] is None and outcomes[2] is None
        assert isinstance(outcomes[1], DuplicateMessage)
        assert [store.get(f"quote:{m}") for m in ("M1", "M2", "M3")] == [None, "TOKEN-2", "TOKEN-3"]
    finally:
        store.close()


def test_a_bulk_batch_with_a_duplicate_applies_the_others_one_by_one(tmp_path: Path) -> None:
    from corridor.network.store import BatchUnit

    store = NodeStore(tmp_path / "node.db")
    try:
        store.commit_sync(unit("M1"))
        batch = BatchUnit([unit("M2", uetr="u-2"), unit("M1", uetr="u-1"), unit("M3", uetr="u-3")], lambda _: ([], []))
        store.commit_sync(batch)
        assert [o is None for o in batch.outcomes] == [True, False, True]
        assert isinstance(batch.outcomes[1], DuplicateMessage)
        assert store.payment("u-1") is None and store.payment("u-3") is not None
    finally:
        store.close()


@pytest.mark.parametrize("count", [1, 50])
def test_a_bulk_batch_of_new_messages_applies_every_unit(tmp_path: Path, count: int) -> None:
    from corridor.network.store import BatchUnit

    store = NodeStore(tmp_path / "node.db")
    try:
        batch = BatchUnit([unit(f"M{n}", uetr=f"u-{n}") for n in range(count)], lambda _: ([], []))
        store.commit_sync(batch)
        assert batch.outcomes == [None] * count
        assert all(store.payment(f"u-{n}") is not None for n in range(count))
        assert store.counts()["inbox"] == count
    finally:
        store.close()
