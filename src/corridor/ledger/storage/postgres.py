"""PostgreSQL backend (psycopg 3): one schema per ledger, durable commits, a session advisory lock for the writer.

Reads run on autocommit connections (one per thread), so each sees the latest committed group. The writer's
connection holds `pg_try_advisory_lock` for the ledger's schema while the ledger is open: a second writer is refused
rather than allowed to diverge. A group is written in one transaction: COPY for the new rows, one UPDATE ... FROM
unnest(...) for every touched account, so the round trips per group are a handful whatever its size.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from corridor.ledger.errors import LedgerLocked, SchemaError
from corridor.ledger.storage.base import CommitGroup, LedgerTotals
from corridor.ledger.storage.sql import ACCOUNT_COLUMNS, TRANSFER_COLUMNS, SqlStorage, migration_scripts

_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


LOCK_WAIT_S = 2.0


def _redacted(url: str) -> str:
    """The url without its password, for messages and `Ledger.url`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStorage(SqlStorage):
    backend = "postgres"
    param = "%s"

    def __init__(self, url: str, *, schema: str = "corridor", readonly: bool = False) -> None:
        super().__init__()
        if not _SCHEMA.match(schema):
            raise ValueError(
                f"invalid PostgreSQL schema name {schema!r}: use lowercase letters, digits and _, "
                "starting with a letter or _"
            )
        self._dsn = url
        self.schema = schema
        self.url = f"{_redacted(url)}#{schema}"
        self.readonly = readonly
        self._writer: psycopg.Connection[Any] | None = None
        if readonly:
            return
        try:
            self._writer = psycopg.connect(url, autocommit=True)
            self._writer.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self._writer.execute(f'SET search_path TO "{schema}"')
            if not self._take_lock(f"corridor.ledger.{schema}"):
                raise LedgerLocked(f"the ledger in schema {schema!r} is open for writing by another process")
            self._migrate(self._writer)
        except BaseException:
            self.close()
            raise

    def _take_lock(self, name: str) -> bool:
        """The writer's session lock, tried for up to LOCK_WAIT_S: a writer that has just closed its session may
        still hold it for a moment, since the server releases it when that session's process exits."""
        assert self._writer is not None
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            row = self._writer.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (name,)).fetchone()
            if row and row[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def _connect(self) -> Any:
        return psycopg.connect(self._dsn, autocommit=True, options=f"-c search_path={self.schema}")

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        scripts = migration_scripts("postgres")
        applied = self._applied_versions(conn)
        self._check_schema_version(applied, scripts)
        for version, name, sql in scripts:
            if version in applied:
                continue
            try:
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                        (version, name, datetime.now(UTC).isoformat()),
                    )
            except psycopg.Error as exc:
                raise SchemaError(f"migration {name} failed on {self.url}: {exc}") from exc

    def _select_in(self, sql: str, keys: Sequence[bytes]) -> list[Any]:
        if not keys:
            return []
        return self._fetchall(sql.replace("IN ({})", "= ANY(?)"), (list(keys),))

    def totals(self) -> list[LedgerTotals]:
        rows = self._fetchall(
            "SELECT ledger, count(*), coalesce(sum(debits_pending), 0), coalesce(sum(debits_posted), 0), "
            "coalesce(sum(credits_pending), 0), coalesce(sum(credits_posted), 0) FROM accounts "
            "GROUP BY ledger ORDER BY ledger"
        )
        return [LedgerTotals(int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]

    def _scan_cursor(self, sql: str) -> Any:
        return _StreamingScan(self._connect(), sql.replace("?", "%s"))

    def commit(self, group: CommitGroup) -> None:
        self.commit_many([group])

    def commit_many(self, groups: Sequence[CommitGroup]) -> None:
        """Several groups, in order, in one transaction: one fsync for all of them."""
        assert self._writer is not None, "commit on a read-only ledger"
        conn = self._writer
        with conn.transaction(), conn.cursor() as cur:
            for group in groups:
                _write_group(cur, group)

    def close(self) -> None:
        super().close()
        if self._writer is not None:
            with contextlib.suppress(psycopg.Error):
                self._writer.close()  # closing the session releases the advisory lock
            self._writer = None


def _copy_rows(cur: psycopg.Cursor[Any], table: str, rows: Sequence[Sequence[Any]]) -> None:
    """COPY rather than INSERT: one stream for a group's new rows, the fastest way PostgreSQL takes them in."""
    with cur.copy(f"COPY {table} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _write_group(cur: psycopg.Cursor[Any], group: CommitGroup) -> None:
    assert group.journal is not None
    if group.new_accounts:
        _copy_rows(cur, f"accounts ({ACCOUNT_COLUMNS})", group.new_accounts)
    if group.new_transfers:
        _copy_rows(cur, f"transfers ({TRANSFER_COLUMNS})", group.new_transfers)
    if group.account_updates:
        columns = list(zip(*group.account_updates, strict=True))
        cur.execute(
            "UPDATE accounts a SET debits_pending = v.dp, debits_posted = v.dpo, credits_pending = v.cp, "
            "credits_posted = v.cpo, closed = v.closed, last_transfer_ts = v.last_ts FROM ("
            "SELECT unnest(%s::int8[]) dp, unnest(%s::int8[]) dpo, unnest(%s::int8[]) cp, "
            "unnest(%s::int8[]) cpo, unnest(%s::int8[]) closed, unnest(%s::int8[]) last_ts, "
            "unnest(%s::bytea[]) id) v WHERE a.id = v.id",
            [list(c) for c in columns],
        )
    if group.new_pending:
        _copy_rows(cur, "pending_transfers (id, timestamp, status, expires_at, resolved_at)", group.new_pending)
    if group.pending_updates:
        columns = list(zip(*group.pending_updates, strict=True))
        cur.execute(
            "UPDATE pending_transfers p SET status = v.status, resolved_at = v.resolved_at FROM ("
            "SELECT unnest(%s::int8[]) status, unnest(%s::int8[]) resolved_at, unnest(%s::bytea[]) id) v "
            "WHERE p.id = v.id",
            [list(c) for c in columns],
        )
    if group.balances:
        _copy_rows(cur, "account_balances", group.balances)
    j = group.journal
    cur.execute(
        "INSERT INTO journal (seq, first_ts, last_ts, count, digest, prev_hash, hash) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (j.seq, j.first_ts, j.last_ts, j.count, j.digest, j.prev_hash, j.hash),
    )


class _StreamingScan:
    """A server-side cursor on a connection of its own, so several scans can stream side by side."""

    def __init__(self, conn: psycopg.Connection[Any], sql: str) -> None:
        self._conn = conn
        self._conn.autocommit = False
        self._cur = conn.cursor(name="corridor_scan")
        self._cur.execute(sql)

    def fetchmany(self, size: int) -> list[Any]:
        rows = self._cur.fetchmany(size)
        if not rows:
            self.close()
        return rows

    def close(self) -> None:
        if not self._conn.closed:
            with contextlib.suppress(psycopg.Error):
                self._cur.close()
                self._conn.rollback()
            self._conn.close()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cur)
