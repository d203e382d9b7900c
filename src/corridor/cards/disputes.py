"""Disputes: chargeback, representment and arbitration of a cleared presentment, each within the scheme's deadline.

The cycle is the one schemes run. The issuer, for its cardholder, charges a cleared sale back (all of it or part,
with a reason code) within `chargeback_days` of clearing: the money goes back to the issuer in the next settlement.
The acquirer, for its merchant, may present it again (represent it, with its evidence) within `representment_days`:
the money goes to the acquirer again. The issuer may then take the dispute to the scheme's arbitration within
`arbitration_days`, and the scheme rules: for the issuer, the money goes back to it once more; for the acquirer,
nothing moves. A stage not taken in time closes the dispute for the side that acted last (`expire`).

Every stage that moves money is a clearing record (clearing.py `CHARGEBACK`, `REPRESENTMENT`, `ARBITRATION`) in the
cycle it is raised in, so it settles with that cycle through the same plan and postings as the day's sales: the
presentment's amount in the merchant's currency and, for the issuer, in the card's at the rate the cardholder was
billed at; interchange goes back with the money (in proportion to the amount disputed); scheme fees do not. Each
stage is kept under the presentment's request key, so asking twice does not move the money twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from corridor.cards.authlog import REFUND
from corridor.cards.clearing import ARBITRATION, CHARGEBACK, REPRESENTMENT, Cleared, Clearing, cleared_insert
from corridor.money import round_fraction
from corridor.sqlwriter import Write


class Reason(StrEnum):
    """Why an issuer charges back (the message reason codes schemes use)."""

    NO_AUTHORIZATION = "4808"
    """Presented without a valid authorization."""
    DUPLICATE = "4834"
    """Presented twice."""
    FRAUD = "4837"
    """The cardholder did not take part."""
    NOT_AS_DESCRIBED = "4853"
    """Goods or services not as described, or defective."""
    NOT_RECEIVED = "4855"
    """Goods or services not provided."""
    CREDIT_NOT_PROCESSED = "4860"
    """A refund the merchant promised was not made."""


class Stage(StrEnum):
    CHARGED_BACK = "charged back"
    REPRESENTED = "represented"
    IN_ARBITRATION = "in arbitration"
    CLOSED_FOR_ISSUER = "closed for the issuer"
    CLOSED_FOR_ACQUIRER = "closed for the acquirer"


class DisputeError(ValueError):
    """A dispute step the scheme refuses; `code` says which rule (NOT_CLEARED, NOT_DISPUTABLE, AMOUNT, LATE,
    STAGE, DISPUTED)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Dispute:
    request_key: str
    reason: Reason
    amount: int
    """Disputed, in the merchant's currency."""
    billed: int
    """Disputed, in the card's currency."""
    stage: Stage
    deadline: date
    """The last day for the next side to act (representment, arbitration); after it, `expire` closes it."""
    history: tuple[tuple[str, str, str], ...]
    """(stage, when, cycle) of each step."""


class Disputes:
    def __init__(self, clearing: Clearing, *, clock: Callable[[], float] = time.time) -> None:
        self._clearing = clearing
        self._db = clearing.db
        self._rules = clearing.scheme
        self._clock = clock
        self._lock = asyncio.Lock()
        """One step at a time: a step reads the stage and writes the next, and two at once (two chargebacks, a
        representment and the day's expiry) must not both act on what they read."""

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock(), UTC).date()

    def get(self, request_key: str) -> Dispute | None:
        rows = self._db.read(
            "SELECT request_key, reason, amount, billed, stage, deadline, history FROM disputes WHERE request_key = ?",
            (request_key,),
        )
        if not rows:
            return None
        key, reason, amount, billed, stage, deadline, history = rows[0]
        steps = tuple(tuple(step) for step in json.loads(history))
        return Dispute(key, Reason(reason), amount, billed, Stage(stage), date.fromisoformat(deadline), steps)

    async def charge_back(self, request_key: str, reason: Reason, cycle: str, amount: int | None = None) -> Dispute:
        """The issuer charges a cleared sale back, all of it or `amount` (in the merchant's currency)."""
        async with self._lock:
            return await self._charge_back_unlocked(request_key, reason, cycle, amount)

    async def represent(self, request_key: str, cycle: str) -> Dispute:
        """The acquirer presents a charged-back sale again, within `representment_days` of the chargeback."""
        async with self._lock:
            return await self._represent_unlocked(request_key, cycle)

    async def arbitrate(self, request_key: str) -> Dispute:
        """The issuer takes a represented dispute to the scheme, within `arbitration_days` of the representment."""
        async with self._lock:
            return await self._arbitrate_unlocked(request_key)

    async def rule(self, request_key: str, *, for_issuer: bool, cycle: str) -> Dispute:
        """The scheme's ruling: for the issuer the money goes back to it in `cycle`; for the acquirer it stays."""
        async with self._lock:
            return await self._rule_unlocked(request_key, for_issuer=for_issuer, cycle=cycle)

    async def expire(self) -> list[Dispute]:
        """Close the disputes whose next side did not act by the deadline: a chargeback not represented stands, a
        representment not taken to arbitration stands."""
        async with self._lock:
            return await self._expire_unlocked()

    async def _charge_back_unlocked(self, request_key: str, reason: Reason, cycle: str, amount: int | None) -> Dispute:
        original, cleared_on = self._original(request_key)
        if original.kind == REFUND:
            raise DisputeError("NOT_DISPUTABLE", f"{request_key} is a refund: there is nothing to charge back")
        if self.get(request_key) is not None:
            raise DisputeError("DISPUTED", f"{request_key} has been charged back already")
        disputed = original.amount if amount is None else amount
        if not 0 < disputed <= original.amount:
            raise DisputeError("AMOUNT", f"{disputed} is not between 1 and the {original.amount} cleared")
        self._in_time(cleared_on, self._rules.chargeback_days, "a chargeback")
        billed = original.billed if disputed == original.amount else _part(original.billed, disputed, original.amount)
        deadline = self._today() + timedelta(days=self._rules.representment_days)
        opened = Dispute(request_key, Reason(reason), disputed, billed, Stage.CHARGED_BACK, deadline, ())
        return await self._record(original, opened, CHARGEBACK, cycle, new=True)

    async def _represent_unlocked(self, request_key: str, cycle: str) -> Dispute:
        dispute = self._at_stage(request_key, Stage.CHARGED_BACK, "represent")
        deadline = self._today() + timedelta(days=self._rules.arbitration_days)
        return await self._advance(dispute, Stage.REPRESENTED, REPRESENTMENT, cycle, deadline)

    async def _arbitrate_unlocked(self, request_key: str) -> Dispute:
        dispute = self._at_stage(request_key, Stage.REPRESENTED, "take to arbitration")
        return await self._advance(dispute, Stage.IN_ARBITRATION, None, "", dispute.deadline)

    async def _rule_unlocked(self, request_key: str, *, for_issuer: bool, cycle: str) -> Dispute:
        dispute = self.get(request_key)
        if dispute is None or dispute.stage != Stage.IN_ARBITRATION:
            raise DisputeError("STAGE", f"{request_key} is not in arbitration")
        if for_issuer:
            return await self._advance(dispute, Stage.CLOSED_FOR_ISSUER, ARBITRATION, cycle, dispute.deadline)
        return await self._advance(dispute, Stage.CLOSED_FOR_ACQUIRER, None, cycle, dispute.deadline)

    async def _expire_unlocked(self) -> list[Dispute]:
        closed = []
        rows = self._db.read(
            "SELECT request_key FROM disputes WHERE stage IN (?, ?) AND deadline < ?",
            (Stage.CHARGED_BACK.value, Stage.REPRESENTED.value, self._today().isoformat()),
        )
        for (key,) in rows:
            dispute = self.get(key)
            assert dispute is not None
            stage = Stage.CLOSED_FOR_ISSUER if dispute.stage == Stage.CHARGED_BACK else Stage.CLOSED_FOR_ACQUIRER
            closed.append(await self._advance(dispute, stage, None, "", dispute.deadline))
        return closed

    def _original(self, request_key: str) -> tuple[Cleared, date]:
        found = self._clearing.find(request_key)
        if found is None:
            raise DisputeError("NOT_CLEARED", f"{request_key} was not cleared")
        return found

    def _at_stage(self, request_key: str, stage: Stage, what: str) -> Dispute:
        dispute = self.get(request_key)
        if dispute is None or dispute.stage != stage:
            now = "not disputed" if dispute is None else dispute.stage.value
            raise DisputeError("STAGE", f"cannot {what} {request_key}: it is {now}")
        if self._today() > dispute.deadline:
            raise DisputeError("LATE", f"cannot {what} {request_key}: the deadline was {dispute.deadline}")
        return dispute

    def _in_time(self, since: date, days: int, what: str) -> None:
        if self._today() > since + timedelta(days=days):
            raise DisputeError("LATE", f"{what} must come within {days} days of {since}")

    async def _advance(self, dispute: Dispute, stage: Stage, kind: str | None, cycle: str, deadline: date) -> Dispute:
        original, _ = self._original(dispute.request_key)
        return await self._record(original, replace(dispute, stage=stage, deadline=deadline), kind, cycle)

    async def _record(
        self, original: Cleared, dispute: Dispute, kind: str | None, cycle: str, *, new: bool = False
    ) -> Dispute:
        """Keep a dispute's new stage, with the clearing record that moves the money if the stage does (all or
        nothing)."""
        d = replace(dispute, history=(*dispute.history, (dispute.stage.value, self._now(), cycle)))
        history = json.dumps(d.history)
        writes: list[Write]
        if new:
            writes = [
                (
                    "INSERT INTO disputes VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (d.request_key, d.reason.value, d.amount, d.billed, d.stage.value, d.deadline.isoformat(), history),
                )
            ]
        else:
            writes = [
                (
                    "UPDATE disputes SET stage = ?, deadline = ?, history = ? WHERE request_key = ?",
                    (d.stage.value, d.deadline.isoformat(), history, d.request_key),
                )
            ]
        if kind is not None:
            writes.append(cleared_insert(_movement(original, kind, d.amount, d.billed, cycle)))
        await self._db.write_all(writes)
        return d

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _part(whole: int, part: int, of: int) -> int:
    """`whole` times part/of, rounded half-even: the share of a figure a partial dispute carries."""
    return round_fraction(Fraction(whole * part, of), "half_even")


def _movement(original: Cleared, kind: str, amount: int, billed: int, cycle: str) -> Cleared:
    """The clearing record of a dispute stage: the original's parties, the disputed amounts, interchange in
    proportion, no scheme fee."""
    return Cleared(
        request_key=f"{original.request_key}|{kind}",
        batch_id=f"dispute:{kind}",
        cycle=cycle,
        kind=kind,
        issuer=original.issuer,
        acquirer=original.acquirer,
        terminal=original.terminal,
        amount=amount,
        currency=original.currency,
        billed=billed,
        card_currency=original.card_currency,
        interchange_acquirer=_part(original.interchange_acquirer, amount, original.amount),
        interchange_issuer=_part(original.interchange_issuer, amount, original.amount),
        fee_acquirer=0,
        fee_issuer=0,
    )
