"""A platform's own records (SQLite): the pool of accepted transactions, blocks, wallets and their nonces, locks.

Balances are not here: they live in the platform's ledger. This file holds what the ledger cannot: the signed
transactions (the pool until a block seals them), the chain of signed headers, the wallets' KYC tiers and nonces,
and the hash-time locks with their preimages once claimed.

The pool is the platform's write-ahead log. A batch is written to it, durable, before its transfers reach the ledger
(whose idle writer may make them durable at any moment); a crash then leaves each pooled transaction either in the
ledger (its deterministic transfer id says so) or not, and reopening the platform decides the rest and seals them
(docs/digital.md, "Crash recovery").
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS pool (seq INTEGER PRIMARY KEY, wire BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    height INTEGER PRIMARY KEY, header BLOB NOT NULL, signature BLOB NOT NULL, first_entry INTEGER NOT NULL,
    tx_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY, height INTEGER NOT NULL, idx INTEGER NOT NULL, tx_id BLOB NOT NULL, leaf BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_by_tx ON entries (tx_id);
CREATE TABLE IF NOT EXISTS wallets (
    key BLOB PRIMARY KEY, kind TEXT NOT NULL, tier INTEGER NOT NULL, bank BLOB, holder_ref BLOB,
    allowed BLOB NOT NULL, nonce INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS locks (
    lock_id BLOB PRIMARY KEY, payer BLOB NOT NULL, payee BLOB NOT NULL, token TEXT NOT NULL, amount INTEGER NOT NULL,
    hashlock BLOB NOT NULL, expires_at INTEGER NOT NULL, status TEXT NOT NULL, preimage BLOB, closed_by BLOB
);
CREATE TABLE IF NOT EXISTS attestations (
    token TEXT NOT NULL, serial INTEGER NOT NULL, quantity INTEGER NOT NULL, document TEXT NOT NULL,
    PRIMARY KEY (token, serial)
);
"""


@dataclass(slots=True)
class WalletRow:
    key: bytes
    kind: str
    """'institution' or 'user'."""
    tier: int
    bank: bytes | None
    holder_ref: bytes | None
    allowed: tuple[bytes, ...]
    nonce: int
    """The last nonce this key used in a committed transaction (0: none yet)."""


@dataclass(slots=True)
class LockRow:
    lock_id: bytes
    payer: bytes
    payee: bytes
    token: str
    amount: int
    hashlock: bytes
    expires_at: int
    status: str
    """'pending', 'claimed' or 'refunded'."""
    preimage: bytes | None = None
    closed_by: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as JSON values (bytes as hex), for the control interface."""
        return {k: v.hex() if isinstance(v, bytes) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LockRow:
        def raw(key: str) -> bytes | None:
            value = data.get(key)
            return None if value is None else bytes.fromhex(str(value))

        lock_id, payer, payee, hashlock = raw("lock_id"), raw("payer"), raw("payee"), raw("hashlock")
        assert lock_id is not None and payer is not None and payee is not None and hashlock is not None
        return cls(
            lock_id, payer, payee, str(data["token"]), int(data["amount"]), hashlock, int(data["expires_at"]),
            str(data["status"]), raw("preimage"), raw("closed_by"),
        )  # fmt: skip


@dataclass(slots=True)
class SealWrites:
    """Everything one block changes in the store, written in the block's own transaction."""

    height: int
    header: bytes
    signature: bytes
    entries: list[tuple[bytes, bytes]]
    wallets: list[WalletRow]
    """New wallets, and wallets whose nonce moved."""
    locks: list[LockRow]
    """New locks, and locks closed."""
    pool_upto: int
    """Pool rows up to this seq are decided: sealed here or refused."""


class PlatformStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA temp_store=MEMORY")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    # --- the pool ----------------------------------------------------------------------------------------------

    def pool_append(self, wires: Sequence[bytes]) -> int:
        """Write a batch durably; returns the seq of its last row."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM pool").fetchone()[0]
            conn.executemany(
                "INSERT INTO pool (seq, wire) VALUES (?, ?)", ((last + 1 + i, w) for i, w in enumerate(wires))
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(last) + len(wires)

    def pool_pending(self) -> list[tuple[int, bytes]]:
        return [(int(s), bytes(w)) for s, w in self._conn.execute("SELECT seq, wire FROM pool ORDER BY seq")]

    def pool_clear(self, upto: int) -> None:
        self._conn.execute("DELETE FROM pool WHERE seq <= ?", (upto,))

    # --- sealing -----------------------------------------------------------------------------------------------

    def seal(self, w: SealWrites) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            first = conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM entries").fetchone()[0]
            conn.execute(
                "INSERT INTO blocks (height, header, signature, first_entry, tx_count) VALUES (?, ?, ?, ?, ?)",
                (w.height, w.header, w.signature, first, len(w.entries)),
            )
            conn.executemany(
                "INSERT INTO entries (seq, height, idx, tx_id, leaf) VALUES (?, ?, ?, ?, ?)",
                ((first + i, w.height, i, tid, leaf) for i, (tid, leaf) in enumerate(w.entries)),
            )
            self._write_wallets(w.wallets)
            self._write_locks(w.locks)
            conn.execute("DELETE FROM pool WHERE seq <= ?", (w.pool_upto,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _write_wallets(self, rows: Iterable[WalletRow]) -> None:
        self._conn.executemany(
            "INSERT INTO wallets (key, kind, tier, bank, holder_ref, allowed, nonce) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET nonce = excluded.nonce",
            ((r.key, r.kind, r.tier, r.bank, r.holder_ref, b"".join(r.allowed), r.nonce) for r in rows),
        )

    def _write_locks(self, rows: Iterable[LockRow]) -> None:
        self._conn.executemany(
            "INSERT INTO locks "
            "(lock_id, payer, payee, token, amount, hashlock, expires_at, status, preimage, closed_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (lock_id) DO UPDATE SET status = excluded.status, preimage = excluded.preimage, "
            "closed_by = excluded.closed_by",
            (
                (
                    r.lock_id,
                    r.payer,
                    r.payee,
                    r.token,
                    r.amount,
                    r.hashlock,
                    r.expires_at,
                    r.status,
                    r.preimage,
                    r.closed_by,
                )
                for r in rows
            ),
        )

    def add_institutions(self, rows: Sequence[WalletRow]) -> None:
        """Register the platform's institutions (idempotent: a known key keeps its nonce)."""
        self._conn.executemany(
            "INSERT INTO wallets (key, kind, tier, bank, holder_ref, allowed, nonce) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING",
            ((r.key, r.kind, r.tier, r.bank, r.holder_ref, b"".join(r.allowed), r.nonce) for r in rows),
        )

    # --- reads -------------------------------------------------------------------------------------------------

    def head(self) -> tuple[int, bytes | None]:
        """The last block's height and header bytes (0, None before the first)."""
        row = self._conn.execute("SELECT height, header FROM blocks ORDER BY height DESC LIMIT 1").fetchone()
        return (0, None) if row is None else (int(row[0]), bytes(row[1]))

    def wallets(self) -> list[WalletRow]:
        rows = self._conn.execute("SELECT key, kind, tier, bank, holder_ref, allowed, nonce FROM wallets")
        return [
            WalletRow(
                bytes(k),
                kind,
                int(tier),
                _opt(bank),
                _opt(ref),
                tuple(bytes(a[i : i + 32]) for i in range(0, len(a), 32)),
                int(n),
            )
            for k, kind, tier, bank, ref, a, n in rows
        ]

    def locks(self, *, status: str | None = None) -> list[LockRow]:
        sql = (
            "SELECT lock_id, payer, payee, token, amount, hashlock, expires_at, status, preimage, closed_by FROM locks"
        )
        rows = self._conn.execute(sql + " WHERE status = ?", (status,)) if status else self._conn.execute(sql)
        return [_lock(row) for row in rows]

    def lock(self, lock_id: bytes) -> LockRow | None:
        row = self._conn.execute(
            "SELECT lock_id, payer, payee, token, amount, hashlock, expires_at, status, preimage, closed_by FROM locks "
            "WHERE lock_id = ?",
            (lock_id,),
        ).fetchone()
        return None if row is None else _lock(row)

    def entry_place(self, tx_id: bytes) -> tuple[int, int] | None:
        """(height, index) of a committed transaction, or None."""
        row = self._conn.execute("SELECT height, idx FROM entries WHERE tx_id = ?", (tx_id,)).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def entry_leaf(self, tx_id: bytes) -> bytes | None:
        """A committed transaction's signed bytes as its block holds them, or None."""
        row = self._conn.execute("SELECT leaf FROM entries WHERE tx_id = ?", (tx_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def recent_entries(self, limit: int) -> list[tuple[int, int, bytes, bytes]]:
        """The last `limit` committed transactions as (height, index, tx id, leaf), oldest first."""
        rows = self._conn.execute(
            "SELECT height, idx, tx_id, leaf FROM entries ORDER BY seq DESC LIMIT ?", (limit,)
        ).fetchall()
        return [(int(h), int(i), bytes(t), bytes(leaf)) for h, i, t, leaf in reversed(rows)]

    def block(self, height: int) -> tuple[bytes, bytes, list[bytes]] | None:
        """A block's header bytes, signature and leaves."""
        row = self._conn.execute(
            "SELECT header, signature, first_entry, tx_count FROM blocks WHERE height = ?", (height,)
        ).fetchone()
        if row is None:
            return None
        leaves = [
            bytes(r[0])
            for r in self._conn.execute(
                "SELECT leaf FROM entries WHERE seq >= ? ORDER BY seq LIMIT ?", (row[2], row[3])
            )
        ]
        return bytes(row[0]), bytes(row[1]), leaves

    def add_attestation(self, token: str, serial: int, quantity: int, document: str) -> None:
        self._conn.execute(
            "INSERT INTO attestations (token, serial, quantity, document) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (token, serial, quantity, document),
        )

    def attestations(self) -> list[tuple[str, int, int, str]]:
        return [
            (t, int(s), int(q), d)
            for t, s, q, d in self._conn.execute(
                "SELECT token, serial, quantity, document FROM attestations ORDER BY token, serial"
            )
        ]


def _opt(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value)


def _lock(row: tuple[Any, ...]) -> LockRow:
    lock_id, payer, payee, token, amount, hashlock, expires_at, status, preimage, closed_by = row
    return LockRow(
        bytes(lock_id),
        bytes(payer),
        bytes(payee),
        str(token),
        int(amount),
        bytes(hashlock),
        int(expires_at),
        str(status),
        _opt(preimage),
        _opt(closed_by),
    )
