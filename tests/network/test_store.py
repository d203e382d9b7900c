"""A node's store (network/store.py): what a commit makes durable is what the node reads back, from memory while it
runs and from the file once reopened; a unit whose message was processed before fails alone."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from corridor.network.store import SCHEMA_VERSION, DuplicateMessage, NodeStore, Unit, read_events


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


def event_unit(message_id: str, uetr: str, status: str, *, record: bool) -> Unit:
    made = unit(message_id, uetr=uetr if record else None)
    made.event(uetr, "2026-01-01T00:00:00.000Z", "NODEAAAA", status, None, f"{status} of {uetr}")
    return made


def test_a_uetrs_events_read_back_in_order_whether_recorded_before_or_after_its_payment_record(
    tmp_path: Path,
) -> None:
    store = NodeStore(tmp_path / "node.db")
    try:
        store.commit_sync(event_unit("M1", "u-1", "RJCT", record=False))  # no record of u-1 here yet
        store.commit_sync(event_unit("M2", "u-2", "ACSP", record=True))
        store.commit_sync(event_unit("M3", "u-1", "ACSP", record=True))
        store.commit_sync(event_unit("M4", "u-1", "ACSC", record=False))  # the record exists by now
        assert [e.status for e in store.events("u-1")] == ["RJCT", "ACSP", "ACSC"]
        assert [e.status for e in store.events("u-2")] == ["ACSP"]
        assert store.events("u-3") == []
    finally:
        store.close()
    assert [e.status for e in read_events(tmp_path / "node.db", "u-1")] == ["RJCT", "ACSP", "ACSC"]


LAYOUT_1 = """
CREATE TABLE inbox (
    sender TEXT NOT NULL, message_id TEXT NOT NULL, digest BLOB NOT NULL, message_type TEXT NOT NULL,
    received_at TEXT NOT NULL, outcome TEXT NOT NULL, PRIMARY KEY (sender, message_id)
) WITHOUT ROWID;
CREATE TABLE payments (
    uetr TEXT PRIMARY KEY, state TEXT NOT NULL, deadline_ns INTEGER, data TEXT NOT NULL, updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX payments_deadline ON payments (deadline_ns) WHERE deadline_ns IS NOT NULL;
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, uetr TEXT NOT NULL, at TEXT NOT NULL, node TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT, detail TEXT NOT NULL
);
CREATE INDEX events_uetr ON events (uetr, seq);
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
INSERT INTO payments VALUES ('u-old', 'pending', 42, '{"uetr": "u-old"}', '2026-01-01T00:00:00.000Z');
INSERT INTO events (uetr, at, node, status, reason, detail) VALUES ('u-old', 't', 'NODEAAAA', 'ACSP', NULL, 'd');
INSERT INTO kv VALUES ('quote:u-old', 'TOKEN');
"""


def test_a_store_of_the_first_layout_is_migrated_on_opening_and_keeps_every_record(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript(LAYOUT_1)
    assert [e.status for e in read_events(path, "u-old")] == ["ACSP"]  # readable before it is migrated
    store = NodeStore(path)
    try:
        assert store.payment("u-old") == ("pending", {"uetr": "u-old"})
        assert store.get("quote:u-old") == "TOKEN"
        assert store.due_payments(100) == ["u-old"]
        store.commit_sync(event_unit("M1", "u-old", "ACSC", record=True))
        assert [e.status for e in store.events("u-old")] == ["ACSP", "ACSC"]
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
    assert not {"payments_v1", "kv_v1"} & tables


def test_a_store_of_a_newer_layout_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "node.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this Corridor"):
        NodeStore(path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] == 0
