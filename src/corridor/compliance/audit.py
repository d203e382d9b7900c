"""A hash-chained audit log: every privileged action an institution's node takes, in an order nobody can rewrite
unseen.

Each entry holds its sequence number, time, actor (who: a reviewer's key id, an operator, the node), action
(`review.release`, `liquidity.inject`, `card.status`, `config.loaded`, `key.rotated`...), subject and details, and
the SHA-256 of all that together with the previous entry's hash. Changing, removing or reordering any entry breaks
every hash after it, which `verify` finds and names (`corridor audit verify`). The chain proves the log is whole
since its first entry; its head hash, copied elsewhere (a report, the supervisor), proves nothing was cut off the
end either.

The log is a table in the institution's compliance database (desk.py), so a reviewer's decision and its entry are
one transaction: no decision without its entry, no entry for a decision not taken.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.sqlwriter import GroupWriter, Write

GENESIS = "0" * 64
SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, subject TEXT NOT NULL,
    details TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL
);
"""
_INSERT = "INSERT INTO audit (seq, at, actor, action, subject, details, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: str
    """Canonical JSON (sorted keys, no spaces): the bytes hashed are the bytes stored."""
    prev: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": json.loads(self.details),
            "prev": self.prev,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainCheck:
    entries: int
    head: str
    """The last entry's hash (GENESIS for an empty log)."""
    broken_at: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def canonical(details: Mapping[str, Any]) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(seq: int, at: str, actor: str, action: str, subject: str, details: str, prev: str) -> str:
    payload = json.dumps([seq, at, actor, action, subject, details, prev], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


def _write_of(entry: AuditEntry) -> Write:
    return (
        _INSERT,
        (entry.seq, entry.at, entry.actor, entry.action, entry.subject, entry.details, entry.prev, entry.hash),
    )


def check_chain(rows: Iterable[tuple[Any, ...]]) -> ChainCheck:
    """Walk entries in seq order (rows as the table stores them) and name the first that does not follow."""
    prev, count = GENESIS, 0
    for row in rows:
        seq, at, actor, action, subject, details, stored_prev, stored_hash = row
        if seq != count + 1:
            return ChainCheck(count, prev, count + 1, f"entry {count + 1} is missing (next is {seq})")
        if stored_prev != prev:
            return ChainCheck(count, prev, seq, f"entry {seq} does not follow entry {count}: its previous hash differs")
        if entry_hash(seq, at, actor, action, subject, details, prev) != stored_hash:
            return ChainCheck(count, prev, seq, f"entry {seq} was changed after it was written: its hash differs")
        prev, count = stored_hash, seq
    return ChainCheck(count, prev)


class AuditTrail:
    """Appends to the chain in one writer's order. The head advances in memory as each entry is made, so entries
    made one after another on the event loop chain even before the first is committed; the writer commits them in
    the order they were queued."""

    def __init__(self, db: GroupWriter) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._seq, self._head = self._read_head()

    def _read_head(self) -> tuple[int, str]:
        rows = self._db.read("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS)

    def _next(self, at: str, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> AuditEntry:
        assert actor and action, "an audit entry names who did what"
        text = canonical(details)
        with self._lock:
            seq, prev = self._seq + 1, self._head
            digest = entry_hash(seq, at, actor, action, subject, text, prev)
            self._seq, self._head = seq, digest
        return AuditEntry(seq, at, actor, action, subject, text, prev, digest)

    async def record(
        self,
        at: str,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, Any],
        *,
        with_writes: Sequence[Write] = (),
    ) -> AuditEntry:
        """Append an entry, committed in one transaction with `with_writes` (what the entry records), and only
        then return it. The entry is made and queued without yielding, so entries chain in the order they are
        recorded; after a failed commit the head is read back from the file."""
        entry = self._next(at, actor, action, subject, details)
        try:
            await self._db.write_all([*with_writes, _write_of(entry)])
        except sqlite3.Error:
            self._reload()
            raise
        return entry

    def record_sync(self, at: str, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> AuditEntry:
        """`record` for a caller that is not on an event loop (a CLI, a node starting)."""
        entry = self._next(at, actor, action, subject, details)
        try:
            self._db.write_all_sync([_write_of(entry)])
        except sqlite3.Error:
            self._reload()
            raise
        return entry

    def _reload(self) -> None:
        with self._lock:
            self._seq, self._head = self._read_head()

    @property
    def head(self) -> tuple[int, str]:
        """(last seq, its hash) as recorded so far."""
        with self._lock:
            return self._seq, self._head

    def entries(self, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        rows = self._db.read(
            "SELECT seq, at, actor, action, subject, details, prev, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [AuditEntry(*row) for row in rows]

    def check(self) -> ChainCheck:
        return check_chain(
            self._db.read("SELECT seq, at, actor, action, subject, details, prev, hash FROM audit ORDER BY seq")
        )


def verify_file(path: Path) -> ChainCheck:
    """Check the audit chain in a compliance database, read-only (the node may be running)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "audit" not in tables:
            raise ValueError(f"{path}: has no audit log (not a compliance database)")
        return check_chain(
            conn.execute("SELECT seq, at, actor, action, subject, details, prev, hash FROM audit ORDER BY seq")
        )
    finally:
        conn.close()
