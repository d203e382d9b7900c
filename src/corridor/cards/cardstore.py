"""An issuer's card records and authorizations (SQLite, WAL, synchronous=FULL).

A card is kept as its `SealedPan` (found by the PAN's keyed hash, readable only with the vault's keys) with what the
issuer checks at authorization: expiry, service code, status, product and the PIN verification value. Never the
PIN, the CVV2 or a PIN block. An authorization is kept under the request's own key (acquirer, STAN, transmission
time), with the response given, so a request the acquirer sends again is answered the same way without a second
hold, and a reversal finds what it reverses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.cards.pan import SealedPan
from corridor.sqlwriter import GroupWriter

SCHEMA = """
CREATE TABLE IF NOT EXISTS cards (
    lookup TEXT PRIMARY KEY, key_id TEXT NOT NULL, ciphertext BLOB NOT NULL, masked TEXT NOT NULL,
    account TEXT NOT NULL, product TEXT NOT NULL, expires TEXT NOT NULL, service_code TEXT NOT NULL,
    status TEXT NOT NULL, pvv TEXT NOT NULL, issued_at TEXT NOT NULL, per_transaction INTEGER, per_day INTEGER
);
CREATE TABLE IF NOT EXISTS authorizations (
    seq INTEGER PRIMARY KEY, request_key TEXT NOT NULL UNIQUE, lookup TEXT NOT NULL, hold_id TEXT,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, day TEXT NOT NULL, response TEXT NOT NULL, auth_code TEXT,
    state TEXT NOT NULL, at TEXT NOT NULL, original TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
    lookup TEXT PRIMARY KEY, card TEXT NOT NULL, device TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL
);
-- covering: a card's daily total (card_for, once per authorization) is summed from the index alone
DROP INDEX IF EXISTS authorizations_of_card;
CREATE INDEX IF NOT EXISTS authorizations_of_card_day ON authorizations (lookup, day, state, amount);
CREATE INDEX IF NOT EXISTS increments ON authorizations (original) WHERE original IS NOT NULL;
"""

CARD_STATUSES = ("active", "blocked", "lost", "expired")
TOKEN_STATUSES = ("active", "suspended", "deleted")
HELD, POSTED, REFUNDED, REVERSED, DECLINED, UNFUNDED = "held", "posted", "refunded", "reversed", "declined", "unfunded"
COMPLETED = "completed"
"""HELD: an authorization's hold (dual message), COMPLETED once clearing posted it; POSTED: a purchase debited at once
(single message); REFUNDED: money
returned to the card; UNFUNDED: a stand-in approval the cardholder's account could not cover when its advice came,
collected later."""
SPENT = (HELD, COMPLETED, POSTED)
"""States that count against a card's daily limit."""


@dataclass(frozen=True, slots=True)
class CardRecord:
    sealed: SealedPan
    account: str
    product: str
    expires: str
    service_code: str
    status: str
    pvv: str
    per_transaction: int | None = None
    per_day: int | None = None
    """The card's own limits in its currency's minor units, within its product's (None: the product's)."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A device token: a number in the issuer's BIN that stands for a card on one device (a phone's wallet), so the
    card's PAN never leaves the issuer; kept by its keyed hash only."""

    lookup: str
    card: str
    """The lookup hash of the card it stands for."""
    device: str
    status: str


@dataclass(frozen=True, slots=True)
class Authorization:
    request_key: str
    lookup: str
    hold_id: int | None
    amount: int
    """In minor units of `currency`, the card's: what was held (or asked, if declined)."""
    currency: str
    day: str
    response: str
    auth_code: str | None
    state: str
    original: str | None = None
    """For an incremental authorization: the request key of the authorization it adds to."""


CARD_COLUMNS = (
    "lookup, key_id, ciphertext, masked, account, product, expires, service_code, status, pvv, per_transaction, per_day"
)


def _card_of(row: tuple[Any, ...]) -> CardRecord:
    """A card from its row, read in CARD_COLUMNS order."""
    sealed = SealedPan(lookup=row[0], key_id=row[1], ciphertext=bytes(row[2]), masked=row[3])
    return CardRecord(sealed, *row[4:12])


class CardStore:
    """Reads on the caller's thread (the issuer's event loop: a small, cached file); writes group-committed by one
    writer thread (sqlwriter.py), so that the authorizations decided while one fsync runs share the next: one
    transaction and one fsync per group, not per authorization (which held an issuer to ~1,000 authorizations/s)."""

    def __init__(self, path: Path) -> None:
        self._db = GroupWriter(path, SCHEMA)
        columns = {row[1] for row in self._db.read("PRAGMA table_info(cards)")}
        for column in ("per_transaction", "per_day"):  # a store of before per-card limits: they are added empty
            if column not in columns:
                self._db.write_sync(f"ALTER TABLE cards ADD COLUMN {column} INTEGER", ())

    # -- writes ---------------------------------------------------------------------------------------------------

    def add_card(self, card: CardRecord, issued_at: str) -> None:
        if card.status not in CARD_STATUSES:
            raise ValueError(f"card status {card.status!r} is not one of {', '.join(CARD_STATUSES)}")
        s = card.sealed
        self._db.write_sync(
            "INSERT INTO cards VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                s.lookup,
                s.key_id,
                s.ciphertext,
                s.masked,
                card.account,
                card.product,
                card.expires,
                card.service_code,
                card.status,
                card.pvv,
                issued_at,
                card.per_transaction,
                card.per_day,
            ),
        )

    def set_limits(self, lookup: str, per_transaction: int | None, per_day: int | None) -> None:
        self._db.write_sync(
            "UPDATE cards SET per_transaction = ?, per_day = ? WHERE lookup = ?", (per_transaction, per_day, lookup)
        )

    def set_status(self, lookup: str, status: str) -> None:
        if status not in CARD_STATUSES:
            raise ValueError(f"card status {status!r} is not one of {', '.join(CARD_STATUSES)}")
        self._db.write_sync("UPDATE cards SET status = ? WHERE lookup = ?", (status, lookup))

    def add_token(self, token: TokenRecord, created_at: str) -> None:
        if token.status not in TOKEN_STATUSES:
            raise ValueError(f"token status {token.status!r} is not one of {', '.join(TOKEN_STATUSES)}")
        self._db.write_sync(
            "INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
            (token.lookup, token.card, token.device, token.status, created_at),
        )

    def set_token_status(self, lookup: str, status: str) -> None:
        if status not in TOKEN_STATUSES:
            raise ValueError(f"token status {status!r} is not one of {', '.join(TOKEN_STATUSES)}")
        self._db.write_sync("UPDATE tokens SET status = ? WHERE lookup = ?", (status, lookup))

    def token(self, lookup: str) -> TokenRecord | None:
        rows = self._db.read("SELECT lookup, card, device, status FROM tokens WHERE lookup = ?", (lookup,))
        return TokenRecord(*rows[0]) if rows else None

    def tokens_of(self, card: str) -> int:
        [(count,)] = self._db.read("SELECT count(*) FROM tokens WHERE card = ?", (card,))
        return int(count)

    async def record(self, auth: Authorization, at: str) -> None:
        """Durably keep an authorization (answered once its group is committed)."""
        await self._db.write(
            "INSERT INTO authorizations (request_key, lookup, hold_id, amount, currency, day, response, auth_code,"
            " state, at, original) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                auth.request_key,
                auth.lookup,
                str(auth.hold_id) if auth.hold_id else None,
                auth.amount,
                auth.currency,
                auth.day,
                auth.response,
                auth.auth_code,
                auth.state,
                at,
                auth.original,
            ),
        )

    async def set_state(self, request_key: str, state: str) -> None:
        await self._db.write("UPDATE authorizations SET state = ? WHERE request_key = ?", (state, request_key))

    # -- reads ----------------------------------------------------------------------------------------------------

    def card(self, lookup: str) -> CardRecord | None:
        rows = self._db.read(f"SELECT {CARD_COLUMNS} FROM cards WHERE lookup = ?", (lookup,))
        return _card_of(rows[0]) if rows else None

    def cards_of(self, account: str) -> list[CardRecord]:
        """The cards issued on a cardholder's account, in the order they were issued."""
        rows = self._db.read(f"SELECT {CARD_COLUMNS} FROM cards WHERE account = ? ORDER BY rowid", (account,))
        return [_card_of(row) for row in rows]

    def card_for(self, lookup: str, request_key: str, day: str) -> tuple[CardRecord | None, int, bool]:
        """What deciding a request needs, in one read (three were a fifth of an issuer's time): the card, what it
        has had authorized on `day` and not reversed (in its currency's minor units), and whether `request_key`
        has a record already."""
        rows = self._db.read(
            f"SELECT {CARD_COLUMNS}, (SELECT coalesce(sum(amount), 0) FROM authorizations a"
            "  WHERE a.lookup = cards.lookup AND a.day = ? AND a.state IN (?, ?, ?)),"
            " EXISTS (SELECT 1 FROM authorizations WHERE request_key = ?)"
            " FROM cards WHERE lookup = ?",
            (day, *SPENT, request_key, lookup),
        )
        if not rows:
            return None, 0, self.authorization(request_key) is not None
        row = rows[0]
        return _card_of(row[:12]), int(row[12]), bool(row[13])

    def authorization(self, request_key: str) -> Authorization | None:
        rows = self._authorizations("request_key = ?", request_key)
        return rows[0] if rows else None

    def increments(self, original: str) -> list[Authorization]:
        """The incremental authorizations added to `original`, in order."""
        return self._authorizations("original = ?", original)

    def _authorizations(self, where: str, value: str) -> list[Authorization]:
        rows = self._db.read(
            "SELECT request_key, lookup, hold_id, amount, currency, day, response, auth_code, state, original"
            f" FROM authorizations WHERE {where} ORDER BY seq",
            (value,),
        )
        return [Authorization(r[0], r[1], int(r[2]) if r[2] else None, *r[3:]) for r in rows]

    def close(self) -> None:
        self._db.close()
