"""What the SQLite and PostgreSQL backends share: the queries, the row conversions and the migration runner.

A backend supplies connections (one per thread for reads; the writer's own for commits), its parameter style, and
its bulk-write path. Everything else, including the history walk, is one SQL text for both.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from importlib import resources
from typing import Any

from corridor.ledger.codec import i64_to_u64, id_bytes, id_int
from corridor.ledger.errors import SchemaError
from corridor.ledger.storage.base import (
    AccountRecord,
    JournalEntry,
    LedgerTotals,
    PendingRecord,
)
from corridor.ledger.types import (
    Account,
    AccountBalance,
    AccountFlags,
    PendingStatus,
    PendingTransfer,
    Transfer,
)

ACCOUNT_COLUMNS = (
    "id, ledger, code, flags, closed, user_data_128, user_data_64, user_data_32, debits_pending, debits_posted, "
    "credits_pending, credits_posted, timestamp, last_transfer_ts"
)
TRANSFER_COLUMNS = (
    "timestamp, id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64, "
    "user_data_32, timeout, ledger, code, flags, prev_debit_ts, prev_credit_ts"
)
_T_COLUMNS_QUALIFIED = ", ".join(f"t.{c.strip()}" for c in TRANSFER_COLUMNS.split(","))
_IN_CHUNK = 900
_CLOSED = int(AccountFlags.CLOSED)


def account_from_row(row: Sequence[Any]) -> AccountRecord:
    closed = bool(row[4])
    flags = (row[3] & ~_CLOSED) | (_CLOSED if closed else 0)
    account = Account(
        id=id_int(row[0]),
        ledger=row[1],
        code=row[2],
        flags=flags,
        user_data_128=id_int(row[5]),
        user_data_64=i64_to_u64(row[6]),
        user_data_32=row[7],
        debits_pending=row[8],
        debits_posted=row[9],
        credits_pending=row[10],
        credits_posted=row[11],
        timestamp=row[12],
    )
    # Account.flags shows CLOSED as it stands now; the record also keeps the flags as created (idempotency).
    return AccountRecord(account, row[3], closed, row[13])


def transfer_from_row(row: Sequence[Any]) -> Transfer:
    return Transfer(
        timestamp=row[0],
        id=id_int(row[1]),
        debit_account_id=id_int(row[2]),
        credit_account_id=id_int(row[3]),
        amount=row[4],
        pending_id=id_int(row[5]),
        user_data_128=id_int(row[6]),
        user_data_64=i64_to_u64(row[7]),
        user_data_32=row[8],
        timeout=row[9],
        ledger=row[10],
        code=row[11],
        flags=row[12],
    )


def _chunks(values: Sequence[bytes]) -> Iterator[Sequence[bytes]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def migration_scripts(backend: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every migration shipped for a backend, in order."""
    folder = resources.files("corridor.ledger.storage").joinpath("migrations", backend)
    scripts = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            scripts.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(scripts)


class SqlStorage(ABC):
    """Common queries over a DB-API connection; subclasses provide connections, dialect and bulk commit."""

    backend: str
    url: str
    param = "?"

    def __init__(self) -> None:
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()

    # --- connections ------------------------------------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> Any: ...

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _q(self, sql: str) -> str:
        return sql if self.param == "?" else sql.replace("?", self.param)

    def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        cur = self._conn().execute(self._q(sql), params)
        rows: list[Any] = cur.fetchall()
        return rows

    def _select_in(self, sql: str, keys: Sequence[bytes]) -> list[Any]:
        """Run `sql` (which ends in `IN ({})`) over the keys in chunks the backend accepts."""
        rows: list[Any] = []
        for chunk in _chunks(keys):
            rows.extend(self._fetchall(sql.format(", ".join("?" * len(chunk))), chunk))
        return rows

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(Exception):  # best effort: the connection may already be broken
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    # --- migrations ----------------------------------------------------------------------------------------

    def _applied_versions(self, conn: Any) -> set[int]:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        return {row[0] for row in conn.execute("SELECT version FROM schema_migrations").fetchall()}

    def _check_schema_version(self, applied: set[int], scripts: list[tuple[int, str, str]]) -> None:
        known = {version for version, _, _ in scripts}
        unknown = applied - known
        if unknown:
            raise SchemaError(
                f"the {self.backend} ledger at {self.url} has schema version {max(unknown)}, newer than this "
                f"code knows ({max(known)}); upgrade corridor"
            )

    # --- writer loads ----------------------------------------------------------------------------------------

    def load_accounts(self, ids: Collection[int]) -> list[AccountRecord]:
        rows = self._select_in(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id IN ({{}})", [id_bytes(i) for i in ids])
        return [account_from_row(r) for r in rows]

    def load_transfers(self, ids: Collection[int]) -> list[Transfer]:
        rows = self._select_in(
            f"SELECT {TRANSFER_COLUMNS} FROM transfers WHERE id IN ({{}})", [id_bytes(i) for i in ids]
        )
        return [transfer_from_row(r) for r in rows]

    pending_by_id = "p.id"
    """The column a lookup of pending transfers by id goes through: a backend whose pending_transfers table is not
    keyed by id finds them by the transfers' id index (`t.id`)."""

    def load_pending(self, ids: Collection[int]) -> list[PendingRecord]:
        rows = self._select_in(
            f"SELECT {_T_COLUMNS_QUALIFIED}, p.status, p.expires_at, p.resolved_at FROM pending_transfers p "
            f"JOIN transfers t ON t.timestamp = p.timestamp WHERE {self.pending_by_id} IN ({{}})",
            [id_bytes(i) for i in ids],
        )
        return [PendingRecord(transfer_from_row(r), r[15], r[16], r[17]) for r in rows]

    def open_expiring(self) -> list[tuple[int, int]]:
        rows = self._fetchall(
            "SELECT expires_at, id FROM pending_transfers WHERE status = 1 AND expires_at IS NOT NULL"
        )
        return [(r[0], id_int(r[1])) for r in rows]

    def journal_head(self) -> JournalEntry | None:
        rows = self._fetchall(
            "SELECT seq, first_ts, last_ts, count, digest, prev_hash, hash FROM journal ORDER BY seq DESC LIMIT 1"
        )
        return _journal_entry(rows[0]) if rows else None

    def max_transfer_id(self) -> int:
        rows = self._fetchall("SELECT id FROM transfers ORDER BY id DESC LIMIT 1")
        return id_int(rows[0][0]) if rows else 0

    def max_timestamp(self) -> int:
        head = self.journal_head()
        return head.last_ts if head else 0

    def transfer_ids(self) -> Iterator[int]:
        for row in _iterate(self._scan_cursor("SELECT id FROM transfers")):
            yield id_int(row[0])

    def transfer_count(self) -> int:
        rows = self._fetchall("SELECT count(*) FROM transfers")
        return int(rows[0][0])

    # --- queries ---------------------------------------------------------------------------------------------

    def lookup_accounts(self, ids: Collection[int]) -> list[Account]:
        found = {r.account.id: r.account for r in self.load_accounts(ids)}
        return [found[i] for i in ids if i in found]

    def lookup_transfers(self, ids: Collection[int]) -> list[Transfer]:
        found = {t.id: t for t in self.load_transfers(ids)}
        return [found[i] for i in ids if i in found]

    def account_transfers(self, account_id: int, limit: int, before: int | None) -> list[Transfer]:
        """Walk the account's history chain from its newest transfer (or from just before `before`)."""
        account_b = id_bytes(account_id)
        head_rows = self._fetchall("SELECT last_transfer_ts FROM accounts WHERE id = ?", (account_b,))
        if not head_rows or limit <= 0:
            return []
        start = head_rows[0][0]
        if before is not None:
            # Fast path: `before` is the oldest transfer of the previous page, so continue from its link.
            rows = self._fetchall(
                "SELECT debit_account_id, credit_account_id, prev_debit_ts, prev_credit_ts FROM transfers "
                "WHERE timestamp = ?",
                (before,),
            )
            if rows and account_b in (bytes(rows[0][0]), bytes(rows[0][1])):
                start = rows[0][2] if bytes(rows[0][0]) == account_b else rows[0][3]
                before = None
        if start == 0:
            return []
        sql = (
            f"WITH RECURSIVE chain({TRANSFER_COLUMNS}) AS ("
            f" SELECT {TRANSFER_COLUMNS} FROM transfers WHERE timestamp = ?"
            f" UNION ALL"
            f" SELECT {_T_COLUMNS_QUALIFIED} FROM transfers t JOIN chain c ON t.timestamp ="
            f" CASE WHEN c.debit_account_id = ? THEN c.prev_debit_ts ELSE c.prev_credit_ts END"
            f") SELECT {TRANSFER_COLUMNS} FROM chain"
        )
        params: list[Any] = [start, account_b]
        if before is not None:
            sql += " WHERE timestamp < ?"
            params.append(before)
        sql += " LIMIT ?"
        params.append(limit)
        rows = self._fetchall(sql, params)
        return sorted((transfer_from_row(r) for r in rows), key=lambda t: t.timestamp, reverse=True)

    def account_balances(self, account_id: int, limit: int, before: int | None) -> list[AccountBalance]:
        rows = self._fetchall(
            "SELECT account_id, timestamp, debits_pending, debits_posted, credits_pending, credits_posted "
            "FROM account_balances WHERE account_id = ? AND timestamp < ? ORDER BY timestamp DESC LIMIT ?",
            (id_bytes(account_id), before if before is not None else 2**63 - 1, limit),
        )
        return [AccountBalance(id_int(r[0]), *r[1:]) for r in rows]

    def pending_transfers(self, limit: int, after: int | None) -> list[PendingTransfer]:
        rows = self._fetchall(
            f"SELECT {_T_COLUMNS_QUALIFIED}, p.status, p.expires_at, p.resolved_at FROM pending_transfers p "
            "JOIN transfers t ON t.timestamp = p.timestamp WHERE p.status = 1 AND p.timestamp > ? "
            "ORDER BY p.timestamp LIMIT ?",
            (after or 0, limit),
        )
        return [PendingTransfer(transfer_from_row(r), PendingStatus(r[15]), r[16], r[17]) for r in rows]

    def totals(self) -> list[LedgerTotals]:
        # Summed in Python: SQLite's sum() raises on 64-bit overflow, and sums of balances may pass 2**63.
        sums: dict[int, list[int]] = {}
        cur = self._conn().execute(
            "SELECT ledger, debits_pending, debits_posted, credits_pending, credits_posted FROM accounts"
        )
        for ledger, dp, dpo, cp, cpo in _iterate(cur):
            s = sums.setdefault(ledger, [0, 0, 0, 0, 0])
            s[0] += 1
            s[1] += dp
            s[2] += dpo
            s[3] += cp
            s[4] += cpo
        return [LedgerTotals(ledger, *s) for ledger, s in sorted(sums.items())]

    # --- verification scans ----------------------------------------------------------------------------------

    def scan_journal(self) -> Iterator[JournalEntry]:
        cur = self._scan_cursor(
            "SELECT seq, first_ts, last_ts, count, digest, prev_hash, hash FROM journal ORDER BY seq"
        )
        for row in _iterate(cur):
            yield _journal_entry(row)

    def scan_accounts(self) -> Iterator[AccountRecord]:
        cur = self._scan_cursor(f"SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY timestamp")
        for row in _iterate(cur):
            yield account_from_row(row)

    def scan_transfers(self) -> Iterator[tuple[Transfer, int, int]]:
        cur = self._scan_cursor(f"SELECT {TRANSFER_COLUMNS} FROM transfers ORDER BY timestamp")
        for row in _iterate(cur):
            yield transfer_from_row(row), row[13], row[14]

    def scan_pending(self) -> Iterator[tuple[int, int, int, int | None, int | None]]:
        cur = self._scan_cursor(
            "SELECT id, timestamp, status, expires_at, resolved_at FROM pending_transfers ORDER BY timestamp"
        )
        for row in _iterate(cur):
            yield id_int(row[0]), row[1], row[2], row[3], row[4]

    def scan_balances(self) -> Iterator[AccountBalance]:
        cur = self._scan_cursor(
            "SELECT account_id, timestamp, debits_pending, debits_posted, credits_pending, credits_posted "
            "FROM account_balances ORDER BY timestamp, account_id"
        )
        for row in _iterate(cur):
            yield AccountBalance(id_int(row[0]), *row[1:])

    def _scan_cursor(self, sql: str) -> Any:
        """A cursor over a possibly large result; backends may stream it server-side."""
        return self._conn().execute(self._q(sql))


def _iterate(cur: Any, size: int = 10_000) -> Iterator[Any]:
    while True:
        rows = cur.fetchmany(size)
        if not rows:
            return
        yield from rows


def _journal_entry(row: Sequence[Any]) -> JournalEntry:
    return JournalEntry(row[0], row[1], row[2], row[3], bytes(row[4]), bytes(row[5]), bytes(row[6]))
