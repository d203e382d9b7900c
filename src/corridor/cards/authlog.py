"""A log of the approvals a hop passed on: what the switch matches presentments against, and what an acquirer
presents.

Clearing needs to know, for each presentment, that the scheme approved it, for how much, in which currencies and at
which rate; an acquirer needs to know what its terminals were approved for, to present it. Both keep the approvals
they answered here, under the request key (acquiring institution, STAN, transmission time), and mark the ones later
reversed. The log is written before the answer goes on, so an approval nobody recorded was never answered: the
acquirer, left without an answer, reverses it. WAL with synchronous=NORMAL: it survives the process being killed,
which is the failure the answer-before-record order must survive (a power cut is the issuer's records' business:
they hold the money).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from corridor.cards.iso8583 import (
    AUTHORIZATION,
    FINANCIAL,
    REVERSAL,
    REVERSAL_ADVICE,
    Fields,
    original_request_key,
    request_key,
)
from corridor.cards.responses import Response
from corridor.money import currency
from corridor.sqlwriter import GroupWriter

SCHEMA = """
CREATE TABLE IF NOT EXISTS approvals (
    seq INTEGER PRIMARY KEY, request_key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, issuer TEXT NOT NULL,
    acquirer TEXT NOT NULL, stan TEXT NOT NULL, transmitted TEXT NOT NULL, rrn TEXT NOT NULL, auth_code TEXT NOT NULL,
    terminal TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL, billed INTEGER NOT NULL,
    card_currency TEXT NOT NULL, rate TEXT, original TEXT, reversed INTEGER NOT NULL DEFAULT 0, at TEXT NOT NULL,
    presented TEXT
);
CREATE INDEX IF NOT EXISTS approvals_rrn ON approvals (rrn);
CREATE INDEX IF NOT EXISTS approvals_increments ON approvals (original) WHERE original IS NOT NULL;
CREATE TABLE IF NOT EXISTS stan_blocks (one INTEGER PRIMARY KEY CHECK (one = 1), next INTEGER NOT NULL);
"""

Kind = Literal["authorization", "purchase", "refund"]
AUTHORIZATION_KIND: Final = "authorization"
"""A hold (0100), completed by its presentment."""
PURCHASE: Final = "purchase"
"""Debited at once (0200)."""
REFUND: Final = "refund"
"""Credited to the card at once (0200, processing code 20)."""


@dataclass(frozen=True, slots=True)
class Approval:
    request_key: str
    kind: str
    issuer: str
    """The issuing bank (empty in an acquirer's log: the acquirer routes to the switch, not to issuers)."""
    acquirer: str
    stan: str
    transmitted: str
    rrn: str
    auth_code: str
    terminal: str
    amount: int
    """Approved, in minor units of `currency`, the transaction's (the merchant's)."""
    currency: str
    billed: int
    """Approved, in minor units of `card_currency` (the same as `amount` for a card of the merchant's currency)."""
    card_currency: str
    rate: str | None
    """Field 10 as the switch set it for a foreign card: the conversion rate the cardholder was billed at."""
    original: str | None
    """For an incremental authorization: the request key of the authorization it adds to."""
    reversed: bool = False


def approval_of(request: Fields, answer: Fields, issuer: str) -> Approval | None:
    """The approval a request and its answer make, or None if the answer is not one (or the request not a
    purchase, refund or authorization)."""
    kind = request.get("t")
    if answer.get("39") not in (Response.APPROVED, Response.PARTIAL_APPROVAL) or kind not in (
        AUTHORIZATION,
        FINANCIAL,
    ):
        return None
    merchant_currency = currency(int(str(request["49"]))).code
    amount = int(str(answer.get("4", request["4"])))  # a partial approval says in field 4 what it approved
    billing = answer.get("51", request.get("51"))
    card_currency = currency(int(str(billing))).code if billing else merchant_currency
    if billing and "6" not in answer and "6" not in request:
        return None  # a foreign card's approval without its billing amount cannot be priced: not one to present
    billed = int(str(answer.get("6", request.get("6")))) if billing else amount
    rate = answer.get("10", request.get("10")) if billing else None
    processing = str(request.get("3", "000000"))
    return Approval(
        request_key=request_key(str(request["32"]), str(request["11"]), str(request["7"])),
        kind=AUTHORIZATION_KIND if kind == AUTHORIZATION else REFUND if processing.startswith("20") else PURCHASE,
        issuer=issuer,
        acquirer=str(request["32"]),
        stan=str(request["11"]),
        transmitted=str(request["7"]),
        rrn=str(request.get("37", "")),
        auth_code=str(answer.get("38", "")),
        terminal=str(request.get("41", "")),
        amount=amount,
        currency=merchant_currency,
        billed=billed,
        card_currency=card_currency,
        rate=str(rate) if rate else None,
        original=original_request_key(str(request["90"])) if kind == AUTHORIZATION and "90" in request else None,
    )


async def log_answer(log: AuthorizationLog, request: Fields, answer: Fields, issuer: str, at: str) -> None:
    """Keep what an answer to `request` approved, or mark what it reversed."""
    if request.get("t") in (REVERSAL, REVERSAL_ADVICE):
        original = original_request_key(str(request.get("90", "")))
        if answer.get("39") == Response.APPROVED and original is not None:
            await log.reversed(original)
        return
    approval = approval_of(request, answer, issuer)
    if approval is not None:
        await log.add(approval, at)


class AuthorizationLog:
    def __init__(self, path: Path) -> None:
        self._db = GroupWriter(path, SCHEMA, synchronous="NORMAL")

    async def add(self, approval: Approval, at: str) -> None:
        """Keep an approval (a repeated request's, answered again, is kept once)."""
        a = approval
        await self._db.write_in_turn(
            "INSERT OR IGNORE INTO approvals (request_key, kind, issuer, acquirer, stan, transmitted, rrn, auth_code,"
            " terminal, amount, currency, billed, card_currency, rate, original, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                a.request_key,
                a.kind,
                a.issuer,
                a.acquirer,
                a.stan,
                a.transmitted,
                a.rrn,
                a.auth_code,
                a.terminal,
                a.amount,
                a.currency,
                a.billed,
                a.card_currency,
                a.rate,
                a.original,
                at,
            ),
        )

    async def reversed(self, key: str) -> None:
        """The approval under `key` was reversed (no-op for one never approved); so are its increments."""
        statement = "UPDATE approvals SET reversed = 1 WHERE request_key = ? OR original = ?"
        await self._db.write_in_turn(statement, (key, key))

    def reserve_stans(self, count: int) -> int:
        """Reserve the next `count` of the acquirer's transaction numbers and return the first (a running count,
        from 0, that the acquirer turns into STANs). Durable before it returns, so numbers handed out before a
        crash are never handed out again: a restarted acquirer starts after its last block, not at 1, and its STANs
        and RRNs (which carry the STAN) do not repeat (the issuer would take a repeated key for the request before)."""
        assert count > 0
        rows = self._db.read("SELECT next FROM stan_blocks WHERE one = 1")
        first = int(rows[0][0]) if rows else 0
        self._db.write_sync("INSERT OR REPLACE INTO stan_blocks (one, next) VALUES (1, ?)", (first + count,))
        return first

    def get(self, key: str) -> Approval | None:
        rows = self._select("WHERE request_key = ?", (key,))
        return rows[0] if rows else None

    def by_rrn(self, rrn: str) -> Approval | None:
        """The approval answered with this RRN (an acquirer's RRNs are its own and unique)."""
        rows = self._select("WHERE rrn = ?", (rrn,))
        return rows[-1] if rows else None

    def increments(self, key: str) -> list[Approval]:
        return self._select("WHERE original = ?", (key,))

    def to_present(self, batch_id: str) -> list[Approval]:
        """What an acquirer's batch `batch_id` presents: every approval not reversed and not in an earlier batch,
        in the order approved (the same list again for the same batch, so a batch is rebuilt the same after a
        crash)."""
        return self._select("WHERE reversed = 0 AND (presented IS NULL OR presented = ?)", (batch_id,))

    async def presented(self, keys: list[str], batch_id: str) -> None:
        """`keys` went to clearing in batch `batch_id`."""
        await self._db.write_all(
            [("UPDATE approvals SET presented = ? WHERE request_key = ?", (batch_id, key)) for key in keys]
        )

    def recent(self, limit: int) -> list[Approval]:
        """The last `limit` approvals answered, oldest first (what a dashboard shows as live card payments)."""
        return self._select("WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM approvals) - ?", (limit,))

    def _select(self, where: str, params: tuple[object, ...]) -> list[Approval]:
        rows = self._db.read(
            "SELECT request_key, kind, issuer, acquirer, stan, transmitted, rrn, auth_code, terminal, amount,"
            f" currency, billed, card_currency, rate, original, reversed FROM approvals {where} ORDER BY seq",
            params,
        )
        return [Approval(*row[:-1], reversed=bool(row[-1])) for row in rows]  # type: ignore[misc]

    def close(self) -> None:
        self._db.close()
