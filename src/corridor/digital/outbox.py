"""An institution's outbox: every transaction it signs is journaled, as bytes, before it is sent; one per key.

Why: a mint that follows a central bank's exchange of reserves, a bank's transfer that follows a customer's debit,
are each the second half of one operation. If the process died between signing and hearing the platform's answer,
signing again after a restart would make a second transaction (another nonce, another id) for the same intent, and
both could commit: money minted twice. So the signed bytes are written (fsync) under the caller's idempotency key
before they are sent, and after a crash the same bytes are sent again: the platform commits them or answers
`replayed`, never twice.

Nonces: a signer has at most one transaction whose answer is unknown. Before signing, every journaled transaction
of the same signer still waiting for its answer is sent again, and the new one takes the platform's nonce plus one,
so a refusal (which gives its nonce back) never strands a later transaction behind a gap.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from corridor.digital import tx as txmod
from corridor.digital.platform import Reason, Receipt
from corridor.digital.pvp import PlatformPort
from corridor.digital.wallet import Wallet

SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    key TEXT PRIMARY KEY, platform TEXT NOT NULL, signer BLOB NOT NULL, tx_id BLOB NOT NULL, wire BLOB NOT NULL,
    status TEXT NOT NULL, reason TEXT, detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sent_waiting ON sent (platform, signer) WHERE status = 'waiting';
"""
WAITING, COMMITTED, REFUSED = "waiting", "committed", "refused"
MAX_KEY = 200


class OutboxError(RuntimeError):
    """A journaled transaction the platform refused for a reason that only a broken journal explains (a nonce
    taken by something this outbox did not sign)."""


@dataclass(frozen=True, slots=True)
class Sent:
    key: str
    platform: str
    signer: bytes
    tx_id: bytes
    wire: bytes
    status: str
    reason: str | None
    detail: str

    @property
    def receipt(self) -> Receipt:
        if self.status == COMMITTED:
            return Receipt(self.tx_id, None, self.detail)
        assert self.status == REFUSED and self.reason is not None, "a waiting entry has no answer yet"
        return Receipt(self.tx_id, Reason(self.reason), self.detail)


class Outbox:
    """The journal of one process's signed transactions (SQLite, synchronous=FULL). Not thread-safe."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def get(self, key: str) -> Sent | None:
        row = self._db.execute("SELECT * FROM sent WHERE key = ?", (key,)).fetchone()
        return None if row is None else Sent(*row)

    def waiting(self, platform: str | None = None) -> list[Sent]:
        query = "SELECT * FROM sent WHERE status = 'waiting'"
        rows = (
            self._db.execute(query + " ORDER BY rowid")
            if platform is None
            else self._db.execute(query + " AND platform = ? ORDER BY rowid", (platform,))
        )
        return [Sent(*row) for row in rows]

    def send(self, port: PlatformPort, key: str, wallet: Wallet, build: Callable[[Wallet], txmod.SignedTx]) -> Receipt:
        """The platform's answer to the transaction `build` signs with `wallet`, signed and sent once per `key`.

        A key seen before returns its recorded answer (sending its journaled bytes again if the answer was never
        heard), whatever `build` would sign now. OSError (the platform unreachable) leaves it waiting."""
        if not 1 <= len(key) <= MAX_KEY:
            raise ValueError(f"an outbox key is 1 to {MAX_KEY} characters, got {len(key)}")
        found = self.get(key)
        if found is not None:
            return found.receipt if found.status != WAITING else self._resend(port, found)
        for earlier in self.waiting(wallet.platform):
            if earlier.signer == wallet.public_key:
                self._resend(port, earlier)
        wallet.sync(port.nonce(wallet.public_key))
        signed = build(wallet)
        assert signed.signer == wallet.public_key and signed.platform == wallet.platform
        with self._tx() as db:
            db.execute(
                "INSERT INTO sent VALUES (?, ?, ?, ?, ?, 'waiting', NULL, '')",
                (key, wallet.platform, wallet.public_key, signed.id, signed.wire),
            )
        return self._resend(port, self.get(key) or _missing(key))

    def resend_waiting(self, ports: dict[str, PlatformPort]) -> list[Receipt]:
        """After a restart: send again every transaction whose answer was never heard, oldest first."""
        return [self._resend(ports[sent.platform], sent) for sent in self.waiting() if sent.platform in ports]

    def _resend(self, port: PlatformPort, sent: Sent) -> Receipt:
        (receipt,) = port.submit([sent.wire])
        if receipt.reason is Reason.REPLAYED and "already committed" in receipt.detail:
            receipt = Receipt(sent.tx_id, None, receipt.detail)
        elif receipt.reason in (Reason.DOUBLE_SPEND, Reason.WRONG_NONCE):
            raise OutboxError(
                f"outbox entry {sent.key!r}: the platform answered {receipt.reason.value} ({receipt.detail}); "
                "another signer is using this key's nonces"
            )
        status = COMMITTED if receipt.committed else REFUSED
        with self._tx() as db:
            db.execute(
                "UPDATE sent SET status = ?, reason = ?, detail = ? WHERE key = ?",
                (status, None if receipt.reason is None else receipt.reason.value, receipt.detail, sent.key),
            )
        return receipt


def _missing(key: str) -> Sent:
    raise AssertionError(f"outbox entry {key!r} vanished after it was written")
