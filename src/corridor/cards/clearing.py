"""Clearing: acquirers' presentments matched to the switch's approvals, priced, and summed into net positions.

Each presentment is matched to the approval the switch logged under the same request key, with the same RRN and
authorization code, not reversed and not cleared before, for at most what was approved (original and increments;
a purchase or refund for exactly that). A match is priced once, when it is cleared, and kept:

- the amount in the card's currency: what was approved if the whole of it is presented, else the presented amount
  at the rate the cardholder was billed at (field 10), rounded half-even, as the switch computed it;
- interchange, paid by the acquirer to the issuer: `interchange_domestic_bp` or `interchange_cross_border_bp` of the
  amount, on each side in its own currency (the acquirer's share in the merchant's, the issuer's in the card's);
- the scheme fee, `scheme_fee_bp`, paid to the scheme by each side in its own currency;
- refunds carry neither: the issuer is paid back what it credited the card, the acquirer pays what its merchant gave.

Each amount is rounded half-even per presentment, so a member can recompute every figure of its report from its own
records. The net position of a member in a currency and cycle is the sum of its sides of what cleared: an issuer
pays what its cardholders were billed less interchange plus the scheme fee; an acquirer is paid what its merchants
sold less interchange and the scheme fee. Settlement (settlement.py) turns the positions into postings.

Exactly once: a batch is known by its acquirer and id, and a presentment by its approval's request key; sending a
batch again gives the first answer, and presenting an approval twice gets DUPL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Final

from corridor.cards.authlog import AUTHORIZATION_KIND, REFUND, Approval, AuthorizationLog
from corridor.cards.billing import convert, rate_of
from corridor.cards.presentment import BatchError, Presentment, PresentmentBatch
from corridor.money import currency, round_fraction
from corridor.scenario.cards import CardSchemeSpec
from corridor.sqlwriter import GroupWriter

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    acquirer TEXT NOT NULL, batch_id TEXT NOT NULL, cycle TEXT NOT NULL, at TEXT NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (acquirer, batch_id)
);
CREATE TABLE IF NOT EXISTS cleared (
    seq INTEGER PRIMARY KEY, request_key TEXT NOT NULL UNIQUE, batch_id TEXT NOT NULL, cycle TEXT NOT NULL,
    kind TEXT NOT NULL, issuer TEXT NOT NULL, acquirer TEXT NOT NULL, terminal TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, billed INTEGER NOT NULL, card_currency TEXT NOT NULL,
    interchange_acquirer INTEGER NOT NULL, interchange_issuer INTEGER NOT NULL,
    fee_acquirer INTEGER NOT NULL, fee_issuer INTEGER NOT NULL, completion TEXT
);
CREATE INDEX IF NOT EXISTS cleared_by_cycle ON cleared (cycle);
CREATE TABLE IF NOT EXISTS disputes (
    request_key TEXT PRIMARY KEY, reason TEXT NOT NULL, amount INTEGER NOT NULL, billed INTEGER NOT NULL,
    stage TEXT NOT NULL, deadline TEXT NOT NULL, history TEXT NOT NULL
);
"""

BP: Final = 10_000
CLEARED_COLUMNS: Final = (
    "request_key, batch_id, cycle, kind, issuer, acquirer, terminal, amount, currency, billed, card_currency,"
    " interchange_acquirer, interchange_issuer, fee_acquirer, fee_issuer, completion"
)
"""A clearing record's columns, in the order `Cleared` takes them."""
CHARGEBACK, REPRESENTMENT, ARBITRATION = "chargeback", "representment", "arbitration"
"""Kinds of the clearing records a dispute makes (disputes.py): a chargeback and an arbitration won by the issuer
move the money back to the issuer; a representment moves it to the acquirer again."""
RETURNED: Final = (CHARGEBACK, ARBITRATION)


class Reject(StrEnum):
    """Why a presentment was not cleared (the rest of its batch is)."""

    NO_AUTHORIZATION = "NOAU"
    """No approval under this request key with this RRN and authorization code."""
    REVERSED = "REVD"
    DUPLICATE = "DUPL"
    """Cleared before (in this batch or an earlier one)."""
    AMOUNT = "AMNT"
    """More than approved; or, for a purchase or refund (posted when approved), not what was approved."""
    CURRENCY = "CURR"
    """The batch's currency is not the one the approval was in."""


@dataclass(frozen=True, slots=True)
class Cleared:
    request_key: str
    batch_id: str
    cycle: str
    kind: str
    issuer: str
    """The issuing bank's BIC."""
    acquirer: str
    """The acquiring bank's BIC."""
    terminal: str
    amount: int
    """In minor units of `currency`, the merchant's."""
    currency: str
    billed: int
    """In minor units of `card_currency`."""
    card_currency: str
    interchange_acquirer: int
    """Interchange in the merchant's currency: what the acquirer gives up."""
    interchange_issuer: int
    """Interchange in the card's currency: what the issuer keeps."""
    fee_acquirer: int
    fee_issuer: int
    completion: str | None = None
    """For an authorization: the issuer's answer when asked to post its hold (None: not asked yet)."""

    @property
    def acquirer_net(self) -> int:
        """What the acquirer is paid for this presentment (negative: pays), in `currency`."""
        if self.kind == REFUND:
            return -self.amount
        if self.kind in RETURNED:  # a chargeback, or an arbitration the issuer won: the sale undone, fees kept
            return -(self.amount - self.interchange_acquirer)
        return self.amount - self.interchange_acquirer - self.fee_acquirer

    @property
    def issuer_net(self) -> int:
        """What the issuer is paid for this presentment (negative: pays), in `card_currency`."""
        if self.kind == REFUND:
            return self.billed
        if self.kind in RETURNED:
            return self.billed - self.interchange_issuer
        return -(self.billed - self.interchange_issuer + self.fee_issuer)


@dataclass(frozen=True, slots=True)
class Rejected:
    index: int
    """The presentment's place in its batch."""
    request_key: str
    reason: Reject


@dataclass(frozen=True, slots=True)
class BatchResult:
    batch_id: str
    cycle: str
    cleared: int
    rejected: tuple[Rejected, ...]


class Clearing:
    def __init__(self, scheme: CardSchemeSpec, banks: Mapping[str, str], log: AuthorizationLog, path: Path) -> None:
        """`banks`: each member bank's BIC -> its country, to tell domestic from cross-border; `log`: the switch's
        authorization log."""
        self.scheme = scheme
        self._countries = dict(banks)
        self._acquirer_banks = {a.institution_id: a.bank for a in scheme.acquirers}
        self._log = log
        self.db = GroupWriter(path, SCHEMA)
        self._lock = asyncio.Lock()
        """One batch at a time: two batches presenting the same approval must not both clear it."""

    async def submit(self, batch: PresentmentBatch, cycle: str, at: str) -> BatchResult:
        """Clear what matches in `batch` in `cycle`; a batch sent again is answered as it was the first time."""
        if batch.acquirer not in self._acquirer_banks:
            raise BatchError("acquirer", f"{batch.acquirer} is not an acquirer of the scheme")
        async with self._lock:
            seen = self.db.read(
                "SELECT cycle, result FROM batches WHERE acquirer = ? AND batch_id = ?",
                (batch.acquirer, batch.batch_id),
            )
            if seen:
                return _result_from(batch.batch_id, seen[0][0], seen[0][1])
            cleared: list[Cleared] = []
            rejected: list[Rejected] = []
            keys: set[str] = set()
            for index, presentment in enumerate(batch.presentments):
                key = batch.key_of(presentment)
                outcome = self._match(batch, presentment, key, cycle, duplicate=key in keys)
                if isinstance(outcome, Reject):
                    rejected.append(Rejected(index, key, outcome))
                else:
                    keys.add(key)  # cleared: the same approval again in this batch is a duplicate
                    cleared.append(outcome)
            result = BatchResult(batch.batch_id, cycle, len(cleared), tuple(rejected))
            writes = [cleared_insert(item) for item in cleared]
            writes.append(
                (
                    "INSERT INTO batches VALUES (?, ?, ?, ?, ?)",
                    (batch.acquirer, batch.batch_id, cycle, at, _result_json(result)),
                )
            )
            await self.db.write_all(writes)
            return result

    def _match(
        self, batch: PresentmentBatch, presentment: Presentment, key: str, cycle: str, *, duplicate: bool
    ) -> Cleared | Reject:
        approval = self._log.get(key)
        if approval is None or approval.original is not None:
            return Reject.NO_AUTHORIZATION
        if (approval.rrn, approval.auth_code) != (presentment.rrn, presentment.auth_code):
            return Reject.NO_AUTHORIZATION
        if approval.reversed:
            return Reject.REVERSED
        if duplicate or self.db.read("SELECT 1 FROM cleared WHERE request_key = ?", (key,)):
            return Reject.DUPLICATE
        if batch.currency != approval.currency:
            return Reject.CURRENCY
        increments = [i for i in self._log.increments(key) if not i.reversed]
        approved = approval.amount + sum(i.amount for i in increments)
        whole = presentment.amount == approved
        if presentment.amount > approved or (approval.kind != AUTHORIZATION_KIND and not whole):
            return Reject.AMOUNT
        if whole:
            billed = approval.billed + sum(i.billed for i in increments)
        elif approval.rate is None:
            billed = presentment.amount
        else:
            rate = rate_of(approval.rate)
            billed = convert(presentment.amount, rate, currency(approval.currency), currency(approval.card_currency))
        return self.price(approval, presentment.amount, billed, batch.batch_id, cycle)

    def price(self, approval: Approval, amount: int, billed: int, batch_id: str, cycle: str) -> Cleared:
        """Interchange and scheme fees of a presentment of `amount` (billed `billed`) of `approval`."""
        acquirer = self._acquirer_banks[approval.acquirer]
        cross_border = self._countries.get(acquirer) != self._countries.get(approval.issuer)
        refund = approval.kind == REFUND
        interchange = (
            0
            if refund
            else (self.scheme.interchange_cross_border_bp if cross_border else self.scheme.interchange_domestic_bp)
        )
        fee = 0 if refund else self.scheme.scheme_fee_bp
        return Cleared(
            request_key=approval.request_key,
            batch_id=batch_id,
            cycle=cycle,
            kind=approval.kind,
            issuer=approval.issuer,
            acquirer=acquirer,
            terminal=approval.terminal,
            amount=amount,
            currency=approval.currency,
            billed=billed,
            card_currency=approval.card_currency,
            interchange_acquirer=_share(amount, interchange),
            interchange_issuer=_share(billed, interchange),
            fee_acquirer=_share(amount, fee),
            fee_issuer=_share(billed, fee),
        )

    def cleared(self, cycle: str) -> list[Cleared]:
        return self._cleared("cycle = ?", (cycle,))

    def _cleared(self, where: str, params: tuple[object, ...]) -> list[Cleared]:
        rows = self.db.read(f"SELECT {CLEARED_COLUMNS} FROM cleared WHERE {where} ORDER BY seq", params)
        return [Cleared(*row) for row in rows]

    def find(self, request_key: str) -> tuple[Cleared, date] | None:
        """A presentment cleared under `request_key`, with the day it was cleared (what dispute deadlines count
        from)."""
        found = self._cleared("request_key = ?", (request_key,))
        if not found:
            return None
        item = found[0]
        institutions = [i for i, bank in self._acquirer_banks.items() if bank == item.acquirer]
        batch = self.db.read(
            f"SELECT at FROM batches WHERE batch_id = ? AND acquirer IN ({', '.join('?' * len(institutions))})",
            (item.batch_id, *institutions),
        )
        if not batch:  # a dispute's own record: not a presentment
            return None
        return item, date.fromisoformat(str(batch[0][0])[:10])

    def to_complete(self, cycle: str, issuer: str) -> list[Cleared]:
        """The authorizations of `issuer` cleared in `cycle` whose holds the issuer has not been asked to post."""
        return self._cleared(
            "cycle = ? AND issuer = ? AND kind = ? AND completion IS NULL", (cycle, issuer, AUTHORIZATION_KIND)
        )

    async def completed(self, request_key: str, answer: str) -> None:
        """Keep the issuer's answer to posting a cleared authorization's hold (00, or why not)."""
        await self.db.write("UPDATE cleared SET completion = ? WHERE request_key = ?", (answer, request_key))

    def close(self) -> None:
        self.db.close()


def _share(amount: int, bp: int) -> int:
    return round_fraction(Fraction(amount * bp, BP), "half_even")


def cleared_insert(item: Cleared) -> tuple[str, tuple[object, ...]]:
    return (
        "INSERT INTO cleared (request_key, batch_id, cycle, kind, issuer, acquirer, terminal, amount, currency,"
        " billed, card_currency, interchange_acquirer, interchange_issuer, fee_acquirer, fee_issuer)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.request_key,
            item.batch_id,
            item.cycle,
            item.kind,
            item.issuer,
            item.acquirer,
            item.terminal,
            item.amount,
            item.currency,
            item.billed,
            item.card_currency,
            item.interchange_acquirer,
            item.interchange_issuer,
            item.fee_acquirer,
            item.fee_issuer,
        ),
    )


def _result_json(result: BatchResult) -> str:
    return json.dumps(
        {"cleared": result.cleared, "rejected": [[r.index, r.request_key, r.reason.value] for r in result.rejected]}
    )


def _result_from(batch_id: str, cycle: str, text: str) -> BatchResult:
    data = json.loads(text)
    rejected = tuple(Rejected(index, key, Reject(reason)) for index, key, reason in data["rejected"])
    return BatchResult(batch_id, cycle, data["cleared"], rejected)
