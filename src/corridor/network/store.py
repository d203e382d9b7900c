"""A node's own database: inbox, outbox, payment state and tracking events, committed together.

This is the node's half of exactly-once. A message's effects on this node's records (the inbox entry that marks it
processed, the payment's new state, the messages it causes, the tracking events) are written in one transaction,
so a crash leaves either all of them or none; the outbox is then relayed to the transport until it is accepted.
Ledger effects are not in this transaction: they carry ids derived from the payment and the step
(network/context.py, ledger_id), so doing one again after a crash returns `exists` instead of moving money twice,
and they are always made before the transaction that records the message as processed.

Writes are group-committed by one writer thread, like the ledger's: every unit of work queued while a commit is
in flight goes into the next transaction, each inside its own savepoint so one failing unit fails alone.
SQLite in WAL mode with synchronous=FULL: a committed unit survives power loss, as a ledger group does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from corridor.handoff import Answer, LoopAnswer, take_group

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    sender TEXT NOT NULL, message_id TEXT NOT NULL, digest BLOB NOT NULL, message_type TEXT NOT NULL,
    received_at TEXT NOT NULL, outcome TEXT NOT NULL, PRIMARY KEY (sender, message_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE, recipient TEXT NOT NULL,
    message_type TEXT NOT NULL, uetr TEXT, data BLOB NOT NULL, created_at TEXT NOT NULL, sent_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE TABLE IF NOT EXISTS payments (
    seq INTEGER PRIMARY KEY, uetr TEXT NOT NULL UNIQUE, state TEXT NOT NULL, deadline_ns INTEGER, data TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_deadline ON payments (deadline_ns) WHERE deadline_ns IS NOT NULL;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, uetr TEXT NOT NULL, at TEXT NOT NULL, node TEXT NOT NULL,
    status TEXT NOT NULL, reason TEXT, detail TEXT NOT NULL, payment_seq INTEGER
);
CREATE INDEX IF NOT EXISTS events_of_payment ON events (payment_seq, seq) WHERE payment_seq IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_unlinked ON events (uetr, seq) WHERE payment_seq IS NULL;
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, sender TEXT, message_id TEXT, reason TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, account TEXT NOT NULL, created_at TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS kv (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sent_uetrs (
    message_id TEXT NOT NULL, uetr TEXT NOT NULL, PRIMARY KEY (message_id, uetr)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS parked (
    sender TEXT NOT NULL, message_id TEXT NOT NULL, part INTEGER NOT NULL, message_type TEXT NOT NULL,
    header BLOB NOT NULL, document BLOB NOT NULL, attempts INTEGER NOT NULL, due_ns INTEGER NOT NULL,
    error TEXT NOT NULL, PRIMARY KEY (sender, message_id, part)
) WITHOUT ROWID;
"""
SCHEMA_VERSION = 2
"""`PRAGMA user_version` of a store in this layout. Version 1 (a store that predates the pragma, which reads 0) kept
payments and kv values in WITHOUT ROWID tables keyed by UETR or key, and indexed tracking events by UETR: every
record written and every event dirtied a random page (a 4 KiB WAL frame, then the same page again at the checkpoint),
most of a busy node's disk writes, since UETRs are random. Keyed by an ascending seq, the records of payments in
flight share the table's last pages, a record costs a random page only in the small UETR index, once, when it is
first written, and an event of a payment with a record here is indexed by that record's seq, next to the others of
payments in flight. Only events of a UETR with no record here (an FX quote, a refused message) are indexed by UETR."""

_MIGRATE_1_TO_2 = f"""
BEGIN IMMEDIATE;
DROP INDEX IF EXISTS payments_deadline;
DROP INDEX IF EXISTS events_uetr;
ALTER TABLE events ADD COLUMN payment_seq INTEGER;
ALTER TABLE payments RENAME TO payments_v1;
ALTER TABLE kv RENAME TO kv_v1;
{SCHEMA}
INSERT INTO payments (uetr, state, deadline_ns, data, updated_at)
    SELECT uetr, state, deadline_ns, data, updated_at FROM payments_v1 ORDER BY updated_at;
INSERT INTO kv (key, value) SELECT key, value FROM kv_v1;
DROP TABLE payments_v1;
DROP TABLE kv_v1;
PRAGMA user_version = {SCHEMA_VERSION};
COMMIT;
"""

GROUP_MAX = 512
PAYMENT_CACHE_MAX = 100_000
"""Payment records kept in memory, most recently written; a record not among them is read from the file."""
KV_CACHE_MAX = 100_000
"""Small values kept in memory likewise (the FX provider keeps a quote per payment there)."""


class DuplicateMessage(Exception):
    """The inbox already holds this (sender, message id): the message was processed before."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    seq: int
    message_id: str
    recipient: str
    message_type: str
    uetr: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class ParkedMessage:
    """A received transaction whose handler raised. Its envelope was still processed: the inbox entry and the other
    transactions' effects committed, with this row, so one failing payment cannot hold back the others of a bulk
    document, and the node's timer runs it again (with a growing delay) until it commits."""

    sender: str
    message_id: str
    part: int
    message_type: str
    header: bytes
    document: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Event:
    uetr: str
    at: str
    node: str
    status: str
    reason: str | None
    detail: str


@dataclass(slots=True)
class Unit:
    """Everything one message (or one timer, or one API call) changes in the node's records."""

    inbox: tuple[str, str, bytes, str, str, str] | None = None
    payments: dict[str, tuple[str, int | None, str]] = field(default_factory=dict)
    outbox: list[tuple[str, str, str, str | None, bytes, str]] = field(default_factory=list)
    events: list[tuple[str, str, str, str, str | None, str]] = field(default_factory=list)
    rejected: list[tuple[str, str | None, str | None, str, str]] = field(default_factory=list)
    kv: dict[str, str] = field(default_factory=dict)
    reports: list[tuple[str, str, str, bytes]] = field(default_factory=list)
    """Documents for customers (camt.054, camt.053): kind, account, time, XML."""
    at: str = ""
    pending: list[tuple[str, str, Any, str | None]] = field(default_factory=list)
    """Bulk messages not sealed yet (document id, recipient, model, uetr): the node's batch seals them, merged
    with those of the batch's other units (node/runtime.py, Batcher), once it knows this unit applies."""
    sent_uetrs: list[tuple[str, str]] = field(default_factory=list)
    """(document id, UETR) of each payment a bulk document sent carries."""
    parked: list[tuple[str, str, int, str, bytes, bytes, int, int, str]] = field(default_factory=list)
    """Received transactions whose handler failed, kept to be run again (see ParkedMessage)."""
    unpark: tuple[str, str, int] | None = None
    """The parked transaction this unit is the successful run of: removed in the same transaction."""

    @property
    def empty(self) -> bool:
        """Nothing to record (a timer's pass with nothing due): such a unit needs no store transaction."""
        return not (
            self.inbox
            or self.payments
            or self.outbox
            or self.events
            or self.rejected
            or self.kv
            or self.reports
            or self.pending
            or self.sent_uetrs
            or self.parked
            or self.unpark
        )

    def absorb(self, other: Unit) -> None:
        """Take `other`'s changes into this unit, so that both apply or neither does (one envelope's transactions
        and its inbox entry)."""
        assert other.inbox is None and other.unpark is None
        self.payments.update(other.payments)
        self.outbox.extend(other.outbox)
        self.events.extend(other.events)
        self.rejected.extend(other.rejected)
        self.kv.update(other.kv)
        self.reports.extend(other.reports)
        self.pending.extend(other.pending)
        self.sent_uetrs.extend(other.sent_uetrs)
        self.parked.extend(other.parked)
        self.at = other.at or self.at

    def record_inbox(
        self, sender: str, message_id: str, digest: bytes, message_type: str, at: str, outcome: str
    ) -> None:
        self.inbox = (sender, message_id, digest, message_type, at, outcome)

    def put_payment(self, uetr: str, state: str, deadline_ns: int | None, data: dict[str, Any], at: str) -> None:
        self.payments[uetr] = (state, deadline_ns, json.dumps(data, sort_keys=True, separators=(",", ":")))
        self.at = at

    def enqueue(
        self, message_id: str, recipient: str, message_type: str, uetr: str | None, data: bytes, at: str
    ) -> None:
        self.outbox.append((message_id, recipient, message_type, uetr, data, at))

    def event(self, uetr: str, at: str, node: str, status: str, reason: str | None, detail: str) -> None:
        self.events.append((uetr, at, node, status, reason, detail))

    def reject(self, at: str, sender: str | None, message_id: str | None, reason: str, detail: str) -> None:
        self.rejected.append((at, sender, message_id, reason, detail))

    def _committed(self, cache: PaymentCache, kv: RecentCache[str]) -> None:
        """The unit is durable: its payment records and kv values become what `NodeStore.payment` and `get` answer."""
        for uetr, (state, _, data) in self.payments.items():
            cache.put(uetr, (state, data))
        for key, value in self.kv.items():
            kv.put(key, value)

    def _apply(self, conn: sqlite3.Connection) -> None:
        if self.inbox is not None:
            try:
                conn.execute(_INSERT_INBOX, self.inbox)
            except sqlite3.IntegrityError:
                raise DuplicateMessage(f"{self.inbox[0]}/{self.inbox[1]} was already processed") from None
        rows = _Rows()
        rows.add(self)
        rows.write(conn)


_INSERT_INBOX = "INSERT INTO inbox VALUES (?, ?, ?, ?, ?, ?)"


class _Rows:
    """The rows of several units but their inbox entries, written table by table with one executemany each: a
    batch's units share their statements rather than paying a call per row (the store's writer thread holds the
    GIL for each call, which the node's event loop then waits for)."""

    __slots__ = ("events", "kv", "outbox", "parked", "payments", "rejected", "reports", "sent_uetrs", "unpark")

    def __init__(self) -> None:
        self.payments: list[tuple[str, str, int | None, str, str]] = []
        self.outbox: list[tuple[str, str, str, str | None, bytes, str]] = []
        self.events: list[tuple[str, str, str, str, str | None, str]] = []
        self.rejected: list[tuple[str, str | None, str | None, str, str]] = []
        self.reports: list[tuple[str, str, str, bytes]] = []
        self.kv: list[tuple[str, str]] = []
        self.sent_uetrs: list[tuple[str, str]] = []
        self.parked: list[tuple[str, str, int, str, bytes, bytes, int, int, str]] = []
        self.unpark: list[tuple[str, str, int]] = []

    def add(self, unit: Unit) -> None:
        at = unit.at
        self.payments.extend(
            (uetr, state, deadline, data, at) for uetr, (state, deadline, data) in unit.payments.items()
        )
        self.outbox.extend(unit.outbox)
        self.events.extend(unit.events)
        self.rejected.extend(unit.rejected)
        self.reports.extend(unit.reports)
        self.kv.extend(unit.kv.items())
        self.sent_uetrs.extend(unit.sent_uetrs)
        self.parked.extend(unit.parked)
        if unit.unpark is not None:
            self.unpark.append(unit.unpark)

    def write(self, conn: sqlite3.Connection) -> None:
        """In the order a unit's own rows were always written, so a payment's later state wins."""
        if self.payments:
            conn.executemany(
                "INSERT INTO payments (uetr, state, deadline_ns, data, updated_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (uetr) DO UPDATE SET state = excluded.state, deadline_ns = excluded.deadline_ns,"
                " data = excluded.data, updated_at = excluded.updated_at",
                self.payments,
            )
        if self.outbox:
            conn.executemany(
                "INSERT INTO outbox (message_id, recipient, message_type, uetr, data, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                self.outbox,
            )
        if self.events:
            conn.executemany(
                "INSERT INTO events (uetr, at, node, status, reason, detail, payment_seq)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT seq FROM payments WHERE uetr = ?1))",
                self.events,
            )
        if self.rejected:
            conn.executemany(
                "INSERT INTO rejected (at, sender, message_id, reason, detail) VALUES (?, ?, ?, ?, ?)", self.rejected
            )
        if self.reports:
            conn.executemany("INSERT INTO reports (kind, account, created_at, data) VALUES (?, ?, ?, ?)", self.reports)
        if self.kv:
            conn.executemany(
                "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                self.kv,
            )
        if self.sent_uetrs:
            conn.executemany("INSERT OR IGNORE INTO sent_uetrs VALUES (?, ?)", self.sent_uetrs)
        if self.parked:
            conn.executemany(
                "INSERT INTO parked VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender, message_id, part) DO"
                " UPDATE SET attempts = excluded.attempts, due_ns = excluded.due_ns, error = excluded.error",
                self.parked,
            )
        if self.unpark:
            conn.executemany("DELETE FROM parked WHERE sender = ? AND message_id = ? AND part = ?", self.unpark)


def _apply_units(conn: sqlite3.Connection, units: list[Unit]) -> list[Exception | None]:
    """Apply several units, each all or nothing, and say how each went.

    The common case costs one statement per table for all of them: every inbox entry inserted at once (OR IGNORE),
    and if all of them were new, everything else. A unit whose message was processed before (its inbox entry exists:
    a duplicate delivery) must fail alone, so if any was, the whole attempt is rolled back and the units are applied
    one by one, each in a savepoint of its own, as they always were."""
    inbox = [unit.inbox for unit in units if unit.inbox is not None]
    conn.execute("SAVEPOINT bulk")
    before = conn.total_changes
    conn.executemany("INSERT OR IGNORE INTO inbox VALUES (?, ?, ?, ?, ?, ?)", inbox)
    if conn.total_changes - before != len(inbox):
        conn.execute("ROLLBACK TO bulk")
        conn.execute("RELEASE bulk")
        return _apply_one_by_one(conn, units)
    rows = _Rows()
    for unit in units:
        rows.add(unit)
    rows.write(conn)
    conn.execute("RELEASE bulk")
    return [None] * len(units)


def _apply_one_by_one(conn: sqlite3.Connection, units: list[Unit], *, savepoint: str = "b") -> list[Exception | None]:
    """Each unit in a savepoint of its own (named `savepoint` and its index): one that fails leaves nothing."""
    outcomes: list[Exception | None] = []
    for index, unit in enumerate(units):
        conn.execute(f"SAVEPOINT {savepoint}{index}")
        try:
            unit._apply(conn)
        except Exception as exc:
            conn.execute(f"ROLLBACK TO {savepoint}{index}")
            outcomes.append(exc)
        else:
            outcomes.append(None)
        conn.execute(f"RELEASE {savepoint}{index}")
    return outcomes


def _create_or_migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Create the tables, or bring a store written by an earlier version to this layout, in one transaction."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"{path} is a node store of layout {version}, newer than this Corridor's {SCHEMA_VERSION}: upgrade Corridor"
        )
    if version == SCHEMA_VERSION:
        conn.executescript(SCHEMA)
        return
    old = conn.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'payments'").fetchone()
    conn.executescript(
        _MIGRATE_1_TO_2 if old else f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    )


WAL_SIZE_LIMIT = 64 * 1024 * 1024


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    # A unit's savepoint journals and sorts in memory: as files they were created, written and deleted in /var/tmp
    # several times a second, most of a busy node's disk writes.
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    # A checkpoint leaves the WAL file at its largest size; after a burst that was hundreds of MB for good. The limit
    # truncates it back once checkpointed (it bounds the file, not the work between checkpoints).
    conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    return conn


V = TypeVar("V")


class RecentCache(Generic[V]):
    """The most recently committed records of one kind (payments, or small kv values), loaded when the store opens,
    then filled only by the writer after a commit, so it is never older than the file.

    While it holds every record (none was ever dropped), a key it lacks does not exist, which spares the file a read
    for each new payment (or each new quote); once the bound has dropped the oldest, a miss is read from the file."""

    def __init__(self, limit: int, records: dict[str, V]) -> None:
        self._limit = limit
        self._records = records
        self.complete = len(records) <= limit
        while len(records) > limit:
            del records[next(iter(records))]

    def put(self, key: str, value: V) -> None:
        records = self._records
        records.pop(key, None)
        records[key] = value
        if len(records) > self._limit:
            self.complete = False
            del records[next(iter(records))]

    def get(self, key: str) -> V | None:
        return self._records.get(key)


PaymentCache = RecentCache[tuple[str, str]]


class NodeStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._writer_conn = _connect(path)
        try:
            _create_or_migrate(self._writer_conn, path)
        except BaseException:
            self._writer_conn.close()
            raise
        self._local = threading.local()
        rows = self._writer_conn.execute("SELECT uetr, state, data FROM payments ORDER BY updated_at").fetchall()
        self._cache = PaymentCache(PAYMENT_CACHE_MAX, {str(u): (str(s), str(d)) for u, s, d in rows})
        values = self._writer_conn.execute("SELECT key, value FROM kv").fetchall()
        self._kv = RecentCache[str](KV_CACHE_MAX, {str(k): str(v) for k, v in values})
        self._queue: queue.SimpleQueue[tuple[Unit, Answer] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"store:{path.name}", daemon=True)
        self._thread.start()

    # -- writes ---------------------------------------------------------------------------------------------------

    def submit(self, unit: Unit) -> Future[None]:
        future: Future[None] = Future()
        self._queue.put((unit, future))
        return future

    async def commit(self, unit: Unit) -> None:
        """Durably apply `unit`; raise DuplicateMessage if its inbox entry exists already."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((unit, LoopAnswer(loop, future)))
        await future

    def commit_sync(self, unit: Unit) -> None:
        self.submit(unit).result()

    def _run(self) -> None:
        conn = self._writer_conn
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = take_group(self._queue, item, GROUP_MAX)
            outcomes: list[BaseException | None] = []
            try:
                conn.execute("BEGIN IMMEDIATE")
                outcomes = list(_apply_one_by_one(conn, [unit for unit, _ in group], savepoint="u"))
                conn.execute("COMMIT")
            except Exception as exc:  # the commit itself failed: nothing of the group is durable
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                outcomes = [exc] * len(group)
            else:
                # Before any caller is answered, so the next handler of a payment reads what this one wrote.
                for (unit, _), outcome in zip(group, outcomes, strict=True):
                    if outcome is None:
                        unit._committed(self._cache, self._kv)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                # A caller cancelled while waiting (its task was stopped): its future is done already, and
                # answering it must not kill this thread, or every later commit of the node would wait forever;
                # nor must a caller's loop that has closed.
                with contextlib.suppress(InvalidStateError, RuntimeError):
                    if outcome is None:
                        future.set_result(None)
                    else:
                        future.set_exception(outcome)

    def mark_sent(self, seqs: list[int], at: str) -> Future[None]:
        """Record that the transport accepted these outbox rows; losing this write only causes a harmless resend."""
        return self.submit(_MarkSent(seqs, at))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._writer_conn.close()

    # -- reads (each thread its own connection; WAL lets them run beside the writer) ------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
        return conn

    def inbox_digest(self, sender: str, message_id: str) -> bytes | None:
        row = (
            self._reader()
            .execute("SELECT digest FROM inbox WHERE sender = ? AND message_id = ?", (sender, message_id))
            .fetchone()
        )
        return None if row is None else bytes(row[0])

    def payment(self, uetr: str) -> tuple[str, dict[str, Any]] | None:
        """A payment's state and record (a fresh copy: the caller may change it), from memory when recently written.

        Handlers read their payment's record once per message; reading it from SQLite on the event loop cost more
        than the rest of a status's handling."""
        cached = self._cache.get(uetr)
        if cached is not None:
            return cached[0], json.loads(cached[1])
        if self._cache.complete:
            return None
        row = self._reader().execute("SELECT state, data FROM payments WHERE uetr = ?", (uetr,)).fetchone()
        return None if row is None else (str(row[0]), json.loads(row[1]))

    def payments(self, state: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        sql = "SELECT uetr, state, data FROM payments" + (" WHERE state = ?" if state else "") + " ORDER BY uetr"
        rows = self._reader().execute(sql, (state,) if state else ()).fetchall()
        return [(str(u), str(s), json.loads(d)) for u, s, d in rows]

    def recent_payments(self, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
        """The `limit` payments whose records were written last (by first write), oldest first: what a live view
        reads, without loading every payment the node ever handled."""
        rows = (
            self._reader()
            .execute("SELECT uetr, state, data FROM payments ORDER BY seq DESC LIMIT ?", (limit,))
            .fetchall()
        )
        return [(str(u), str(s), json.loads(d)) for u, s, d in reversed(rows)]

    def due_payments(self, now_ns: int) -> list[str]:
        rows = (
            self._reader()
            .execute(
                "SELECT uetr FROM payments WHERE deadline_ns IS NOT NULL AND deadline_ns <= ? ORDER BY deadline_ns",
                (now_ns,),
            )
            .fetchall()
        )
        return [str(row[0]) for row in rows]

    def unsent(self, limit: int = 256, *, after: int = 0, include_sent: bool = False) -> list[OutboxRow]:
        where = "seq > ?" + ("" if include_sent else " AND sent_at IS NULL")
        rows = (
            self._reader()
            .execute(
                "SELECT seq, message_id, recipient, message_type, uetr, data FROM outbox"
                f" WHERE {where} ORDER BY seq LIMIT ?",
                (after, limit),
            )
            .fetchall()
        )
        return [OutboxRow(int(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4], bytes(r[5])) for r in rows]

    def outbox_row(self, message_id: str) -> OutboxRow | None:
        """The message this node sent (or will send) with id `message_id`."""
        row = (
            self._reader()
            .execute(
                "SELECT seq, message_id, recipient, message_type, uetr, data FROM outbox WHERE message_id = ?",
                (message_id,),
            )
            .fetchone()
        )
        return (
            None
            if row is None
            else OutboxRow(int(row[0]), str(row[1]), str(row[2]), str(row[3]), row[4], bytes(row[5]))
        )

    def uetr_sent(self, message_id: str) -> str | None:
        """The payment this node sent message `message_id` for, if it sent it for one payment only."""
        row = self._reader().execute("SELECT uetr FROM outbox WHERE message_id = ?", (message_id,)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def uetrs_sent(self, message_id: str) -> list[str]:
        """Every payment message `message_id` sent by this node carried: one, or those of a bulk document."""
        single = self.uetr_sent(message_id)
        if single is not None:
            return [single]
        rows = self._reader().execute("SELECT uetr FROM sent_uetrs WHERE message_id = ?", (message_id,)).fetchall()
        return [str(row[0]) for row in rows]

    def due_parked(self, now_ns: int, limit: int = 64) -> list[ParkedMessage]:
        """Parked transactions due for another run, oldest due first."""
        rows = (
            self._reader()
            .execute(
                "SELECT sender, message_id, part, message_type, header, document, attempts FROM parked"
                " WHERE due_ns <= ? ORDER BY due_ns LIMIT ?",
                (now_ns, limit),
            )
            .fetchall()
        )
        return [
            ParkedMessage(str(r[0]), str(r[1]), int(r[2]), str(r[3]), bytes(r[4]), bytes(r[5]), int(r[6])) for r in rows
        ]

    def sent_messages(self) -> list[tuple[str, OutboxRow]]:
        """Every message this node has put in its outbox, with its creation time, oldest first (for archives)."""
        rows = (
            self._reader()
            .execute("SELECT created_at, seq, message_id, recipient, message_type, uetr, data FROM outbox ORDER BY seq")
            .fetchall()
        )
        return [(str(r[0]), OutboxRow(int(r[1]), str(r[2]), str(r[3]), str(r[4]), r[5], bytes(r[6]))) for r in rows]

    def reports(self, kind: str | None = None) -> list[tuple[str, str, str, bytes]]:
        """Customer documents, oldest first: (kind, account, created_at, XML)."""
        sql = "SELECT kind, account, created_at, data FROM reports" + (" WHERE kind = ?" if kind else "")
        rows = self._reader().execute(sql + " ORDER BY seq", (kind,) if kind else ()).fetchall()
        return [(str(k), str(a), str(c), bytes(d)) for k, a, c, d in rows]

    def events(self, uetr: str) -> list[Event]:
        return _events_of(self._reader(), uetr)

    def rejections(self) -> list[tuple[str, str | None, str | None, str, str]]:
        rows = self._reader().execute("SELECT at, sender, message_id, reason, detail FROM rejected ORDER BY seq")
        return [tuple(row) for row in rows.fetchall()]

    def counts(self) -> dict[str, int]:
        conn = self._reader()
        return {
            table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            for table in ("inbox", "outbox", "payments", "events", "rejected", "parked")
        }

    def get(self, key: str) -> str | None:
        cached = self._kv.get(key)
        if cached is not None or self._kv.complete:
            return cached
        row = self._reader().execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])


def read_events(path: Path, uetr: str) -> list[Event]:
    """A payment's tracking events from a node's database file, read-only, without starting the node."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) < SCHEMA_VERSION:  # not opened since an upgrade
            rows = conn.execute(
                "SELECT uetr, at, node, status, reason, detail FROM events WHERE uetr = ? ORDER BY seq", (uetr,)
            ).fetchall()
            return [Event(*row) for row in rows]
        return _events_of(conn, uetr)
    finally:
        conn.close()


_EVENTS_OF = (
    "SELECT seq, uetr, at, node, status, reason, detail FROM events"
    " WHERE payment_seq = (SELECT seq FROM payments WHERE uetr = ?1)"
    " UNION ALL SELECT seq, uetr, at, node, status, reason, detail FROM events"
    " WHERE payment_seq IS NULL AND uetr = ?1 ORDER BY 1"
)


def _events_of(conn: sqlite3.Connection, uetr: str) -> list[Event]:
    """A UETR's events in the order recorded: those linked to its payment record, and any from before it existed."""
    return [Event(*row[1:]) for row in conn.execute(_EVENTS_OF, (uetr,)).fetchall()]


OutboxValues = tuple[str, str, str, str | None, bytes, str]
"""An outbox row as inserted: message id, recipient, message type, UETR (None for several), data, created at."""
Sealer = Callable[[list[Unit]], tuple[list[OutboxValues], list[tuple[str, str]]]]


class BatchUnit(Unit):
    """The units of one send batch (node/runtime.py, Batcher), each in its own savepoint, then the bulk documents
    sealed from the units that applied.

    `seal(applied)` is called inside the transaction, once the outcome of every unit is known, unless every unit
    applied and the documents were sealed in advance (`sealed`); it returns the outbox rows of the bulk documents
    and their (document id, UETR) rows. A unit refused here (DuplicateMessage, a
    constraint) therefore leaves no transaction of its own in any document sent. `outcomes` gives each unit's own
    result; a failure of the sealing or of the commit fails them all, and nothing of the batch is durable."""

    def __init__(
        self,
        units: list[Unit],
        seal: Sealer,
        *,
        sealed: tuple[list[OutboxValues], list[tuple[str, str]]] | None = None,
    ) -> None:
        super().__init__()
        self._units = units
        self._seal = seal
        self._sealed = sealed
        """What `seal(units)` gives, sealed in advance: used when every unit applies, else `seal` is asked again."""
        self._applied: list[Unit] = []
        self.outcomes: list[Exception | None] = []

    def _committed(self, cache: PaymentCache, kv: RecentCache[str]) -> None:
        for unit in self._applied:
            unit._committed(cache, kv)

    def _apply(self, conn: sqlite3.Connection) -> None:
        self.outcomes = _apply_units(conn, self._units)
        applied = [unit for unit, outcome in zip(self._units, self.outcomes, strict=True) if outcome is None]
        self._applied = applied
        if self._sealed is not None and len(applied) == len(self._units):
            rows, uetrs = self._sealed
        else:
            rows, uetrs = self._seal(applied)
        conn.executemany(
            "INSERT INTO outbox (message_id, recipient, message_type, uetr, data, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany("INSERT INTO sent_uetrs VALUES (?, ?)", uetrs)


class _MarkSent(Unit):
    def __init__(self, seqs: list[int], at: str) -> None:
        super().__init__()
        self._seqs = seqs
        self._sent_at = at

    def _apply(self, conn: sqlite3.Connection) -> None:
        conn.executemany("UPDATE outbox SET sent_at = ? WHERE seq = ?", [(self._sent_at, s) for s in self._seqs])
