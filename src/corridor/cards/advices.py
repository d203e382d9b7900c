"""The switch's queue of advices: stand-in decisions owed to issuers, kept until each issuer acknowledges them.

An advice carries the whole request (the PAN included), so it is stored encrypted: AES-256-GCM under the switch's
storage key, with the row's issuer and sequence number as associated data, so a row cannot be moved to another
issuer or replayed in another place. SQLite, WAL, synchronous=FULL: an approval the switch gave in stand-in is never
lost before its issuer has heard of it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from corridor.cards.iso8583 import Fields, decode, encode

SCHEMA = """
CREATE TABLE IF NOT EXISTS advices (
    seq INTEGER PRIMARY KEY, issuer TEXT NOT NULL, nonce BLOB NOT NULL, sealed BLOB NOT NULL, created_at TEXT NOT NULL,
    acknowledged_at TEXT
);
CREATE INDEX IF NOT EXISTS advices_owed ON advices (issuer, seq) WHERE acknowledged_at IS NULL;
"""
KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class Advice:
    seq: int
    issuer: str
    message: Fields

    def __repr__(self) -> str:
        return f"Advice(seq={self.seq}, issuer={self.issuer}, type={self.message.get('t')!s})"


class AdviceQueue:
    def __init__(self, path: Path, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the advice storage key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.executescript(SCHEMA)

    def add(self, issuer: str, message: Fields, at: str) -> int:
        """Keep an advice for `issuer` durably; its sequence number."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                seq = int(self._conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM advices").fetchone()[0])
                nonce = os.urandom(12)
                sealed = self._aead.encrypt(nonce, encode(message), _bound(issuer, seq))
                self._conn.execute(
                    "INSERT INTO advices (seq, issuer, nonce, sealed, created_at) VALUES (?, ?, ?, ?, ?)",
                    (seq, issuer, nonce, sealed, at),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return seq

    def owed(self, issuer: str, limit: int = 100) -> list[Advice]:
        """The oldest advices `issuer` has not acknowledged yet, in the order they were given."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, nonce, sealed FROM advices WHERE issuer = ? AND acknowledged_at IS NULL ORDER BY seq"
                " LIMIT ?",
                (issuer, limit),
            ).fetchall()
        return [
            Advice(seq, issuer, decode(self._aead.decrypt(nonce, sealed, _bound(issuer, seq))))
            for seq, nonce, sealed in rows
        ]

    def acknowledged(self, seq: int, at: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE advices SET acknowledged_at = ? WHERE seq = ?", (at, seq))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _bound(issuer: str, seq: int) -> bytes:
    return f"{issuer}|{seq}".encode()
