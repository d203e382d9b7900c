"""SQLite backend: one file per ledger, WAL with synchronous=FULL, so a committed group survives power loss.

Readers (queries, the writer's prefetch) each use their own connection and see committed state only; the writer
commits on a connection of its own inside BEGIN IMMEDIATE. A second process that opens the same file for writing is
refused by an flock on `<file>.lock`, because two writers' in-memory views would diverge.

Checkpoints (copying WAL pages into the database file) run on a background thread rather than inside a commit, so
the commit path only appends to the WAL and fsyncs it; durability is unchanged, since a commit is durable once its
WAL frames are synced.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from corridor.ledger.errors import LedgerLocked, SchemaError
from corridor.ledger.storage.base import CommitGroup
from corridor.ledger.storage.sql import ACCOUNT_COLUMNS, TRANSFER_COLUMNS, SqlStorage, migration_scripts

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA temp_store=MEMORY",
)
_WRITER_CACHE_KIB = 262_144
_CHECKPOINT_EVERY_S = 2.0


class SqliteStorage(SqlStorage):
    backend = "sqlite"
    pending_by_id = "t.id"  # pending_transfers is keyed by timestamp (migration 0002)

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        # Absolute, so that the url opens the same file from any working directory ("sqlite:///data/x.db" of a
        # relative path would be read back as /data/x.db).
        self.url = f"sqlite:///{self.path.resolve()}"
        self.readonly = readonly
        self._lock_file: IO[str] | None = None
        self._writer: sqlite3.Connection | None = None
        self._checkpoint_stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        if readonly:
            if not self.path.exists():
                raise FileNotFoundError(f"no ledger at {self.path}")
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._take_writer_lock()
        try:
            self._writer = self._open_connection(cache_kib=_WRITER_CACHE_KIB)
            self._migrate(self._writer)
            self._writer.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name=f"corridor-checkpoint-{self.path.name}", daemon=True
            )
            self._checkpointer.start()
        except BaseException:
            self.close()
            raise

    def _take_writer_lock(self) -> None:
        lock_file = open(f"{self.path}.lock", "a+")  # noqa: SIM115 - held open for the ledger's lifetime
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise LedgerLocked(f"the ledger {self.path} is open for writing by another process") from None
        self._lock_file = lock_file

    def _open_connection(self, cache_kib: int = 16_384) -> sqlite3.Connection:
        if self.readonly:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        else:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in _PRAGMAS:
            if self.readonly and "journal_mode" in pragma:
                continue
            conn.execute(pragma)
        conn.execute(f"PRAGMA cache_size=-{cache_kib}")
        return conn

    def _connect(self) -> Any:
        return self._open_connection()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        scripts = migration_scripts("sqlite")
        applied = self._applied_versions(conn)
        self._check_schema_version(applied, scripts)
        for version, name, sql in scripts:
            if version in applied:
                continue
            try:
                conn.execute("BEGIN IMMEDIATE")
                for statement in _statements(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, name, datetime.now(UTC).isoformat()),
                )
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                conn.execute("ROLLBACK")
                raise SchemaError(f"migration {name} failed on {self.path}: {exc}") from exc

    def commit(self, group: CommitGroup) -> None:
        self.commit_many([group])

    def commit_many(self, groups: Sequence[CommitGroup]) -> None:
        """Several groups, in order, in one transaction: one fsync for all of them."""
        assert self._writer is not None, "commit on a read-only ledger"
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            for group in groups:
                _write_group(conn, group)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        if self._checkpointer is None or not self._checkpointer.is_alive():
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _checkpoint_loop(self) -> None:
        conn = self._open_connection()
        try:
            while not self._checkpoint_stop.wait(_CHECKPOINT_EVERY_S):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error:
            pass  # the writer falls back to checkpointing itself (below) if this thread is gone
        finally:
            conn.close()

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpoint_stop.set()
            self._checkpointer.join()
            self._checkpointer = None
        super().close()
        if self._writer is not None:
            with contextlib.suppress(sqlite3.Error):
                self._writer.close()
            self._writer = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def _write_group(conn: sqlite3.Connection, group: CommitGroup) -> None:
    assert group.journal is not None
    if group.new_accounts:
        conn.executemany(
            f"INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ({', '.join('?' * 14)})",
            group.new_accounts,
        )
    if group.new_transfers:
        _insert_many(conn, group.new_transfers)
    if group.account_updates:
        conn.executemany(
            "UPDATE accounts SET debits_pending = ?, debits_posted = ?, credits_pending = ?, "
            "credits_posted = ?, closed = ?, last_transfer_ts = ? WHERE id = ?",
            group.account_updates,
        )
    if group.new_pending:
        conn.executemany(
            "INSERT INTO pending_transfers (id, timestamp, status, expires_at, resolved_at) VALUES (?, ?, ?, ?, ?)",
            group.new_pending,
        )
    if group.pending_updates:
        conn.executemany(
            # keyed by timestamp (migration 0002): the pending transfer's timestamp is its row's in transfers
            "UPDATE pending_transfers SET status = ?, resolved_at = ?"
            " WHERE timestamp = (SELECT timestamp FROM transfers WHERE id = ?)",
            group.pending_updates,
        )
    if group.balances:
        conn.executemany("INSERT INTO account_balances VALUES (?, ?, ?, ?, ?, ?)", group.balances)
    j = group.journal
    conn.execute(
        "INSERT INTO journal (seq, first_ts, last_ts, count, digest, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (j.seq, j.first_ts, j.last_ts, j.count, j.digest, j.prev_hash, j.hash),
    )


_ROWS_PER_INSERT = 256
_ROW = "(" + ", ".join("?" * 15) + ")"
_INSERT_TRANSFERS = f"INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES " + ", ".join([_ROW] * _ROWS_PER_INSERT)


def _insert_many(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    """Insert transfer rows a few hundred per statement rather than one per step.

    executemany() takes the GIL back after every row's step, so while the writer thread is busy applying the next
    group the committer waits for the GIL once per row. One statement of 256 rows binds them together, then lets
    SQLite insert all of them with the GIL released.
    """
    full = len(rows) - len(rows) % _ROWS_PER_INSERT
    for start in range(0, full, _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        conn.execute(_INSERT_TRANSFERS, [value for row in chunk for value in row])
    if full < len(rows):
        conn.executemany(f"INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES {_ROW}", rows[full:])


def _statements(script: str) -> list[str]:
    """Split a migration into statements (ours hold no semicolons inside literals or triggers)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
