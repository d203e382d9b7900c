"""Idempotency keys: a POST sent again with the same key gets the first answer, and has its effect once.

Each key is kept per client with a fingerprint of the request (an HMAC, because the request may carry a card number
and a plain hash of one can be reversed by trying every number), the state of its work and, once done, the answer.
A key reused for a different request is refused. A request whose work started but never recorded an answer (the
process died) is found `started`, with what the handler noted before it began, so that the handler can undo or
finish it before it works again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    client TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, state TEXT NOT NULL, note TEXT,
    status INTEGER, body TEXT, at TEXT NOT NULL, PRIMARY KEY (client, key)
);
"""
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Entry:
    fingerprint: str
    state: str
    """`started` (the work may or may not have happened) or `done` (status and body are the answer)."""
    note: dict[str, Any] | None
    status: int | None
    body: Any


class IdempotencyStore:
    """SQLite, synchronous=FULL: an answer recorded is one the client may have seen, so it must survive."""

    def __init__(self, path: Path, secret: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._secret = secret

    def fingerprint(self, *parts: object) -> str:
        data = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
        return hmac.new(self._secret, data, hashlib.sha256).hexdigest()

    def get(self, client: str, key: str) -> Entry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT fingerprint, state, note, status, body FROM idempotency WHERE client = ? AND key = ?",
                (client, key),
            ).fetchone()
        if row is None:
            return None
        return Entry(row[0], row[1], json.loads(row[2]) if row[2] else None, row[3], json.loads(row[4] or "null"))

    def start(self, client: str, key: str, fingerprint: str, note: dict[str, Any], at: str) -> None:
        """Keep that the work of `key` is about to begin, with what undoing it would need."""
        with self._lock:
            self._db.execute(
                "INSERT INTO idempotency (client, key, fingerprint, state, note, at) VALUES (?, ?, ?, 'started', ?, ?)"
                " ON CONFLICT (client, key) DO UPDATE SET state = 'started', note = excluded.note, at = excluded.at",
                (client, key, fingerprint, json.dumps(note), at),
            )

    def finish(self, client: str, key: str, fingerprint: str, status: int, body: Any, at: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO idempotency (client, key, fingerprint, state, status, body, at)"
                " VALUES (?, ?, ?, 'done', ?, ?, ?) ON CONFLICT (client, key) DO UPDATE SET state = 'done',"
                " status = excluded.status, body = excluded.body, at = excluded.at",
                (client, key, fingerprint, status, json.dumps(body), at),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
