"""An institution's compliance desk: the check every outgoing payment passes before it leaves, the cases a reviewer
decides, the reports filed, and the audit trail of it all, in one SQLite file beside the node's own.

A check is kept under the payment's own key (its UETR, the card request's key), so a payment asked for again gets
the verdict it got the first time: its activity is counted once, its case opened once. A check that holds, refuses
or reports is durable before its verdict is given. One that passes (nearly all) is queued for the next group commit
without the payment waiting for the disk: waiting cost a quarter of a bank's payments per second. The payment's own
record is durable in the node's store either way; what a crash of the machine can lose is the last few passed
checks' activity, which the velocity and structuring windows then count short by as many. A hold opens a case; the
reviewer's decision is one transaction with its audit entry, and the payment acts on it (transfers/bank.py: at once
when the decision comes through its node, or at the payment's next look at its case after a restart).

What a decision means for the watch-list hits it covers: releasing says they are false positives, so the same
party's name is not held for the same entry again; rejecting says at least one is a true match, so every later
payment with that party and entry is refused outright (RR04). A case held only by the AML rules teaches nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from corridor.compliance.audit import SCHEMA as AUDIT_SCHEMA
from corridor.compliance.audit import AuditTrail
from corridor.compliance.policy import CompliancePolicy
from corridor.compliance.rules import HOLD, NS_PER_S, REFUSE, REPORT, Activity, Finding, assess
from corridor.compliance.screening import Hit, Party, Screener
from corridor.compliance.watchlist import WatchList, load_watchlist
from corridor.keylocks import KeyLocks
from corridor.sqlwriter import GroupWriter, Write

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS checks (
    subject TEXT PRIMARY KEY, rail TEXT NOT NULL, account TEXT NOT NULL, verdict TEXT NOT NULL, at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cases (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, rail TEXT NOT NULL, subject TEXT NOT NULL,
    account TEXT NOT NULL, status TEXT NOT NULL, opened_at TEXT NOT NULL, details TEXT NOT NULL,
    decided_at TEXT, decided_by TEXT, note TEXT
);
CREATE INDEX IF NOT EXISTS cases_by_status ON cases (status, seq);
CREATE TABLE IF NOT EXISTS decisions (
    party TEXT NOT NULL, entry TEXT NOT NULL, decision TEXT NOT NULL, case_id TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (party, entry)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, at_ns INTEGER NOT NULL, amount INTEGER NOT NULL,
    currency TEXT NOT NULL, subject TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS activity_by_time ON activity (at_ns);
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, subject TEXT NOT NULL, account TEXT NOT NULL,
    at TEXT NOT NULL, details TEXT NOT NULL, UNIQUE (kind, subject)
);
"""
    + AUDIT_SCHEMA
)
log = logging.getLogger(__name__)
PASS = "pass"
OPEN, RELEASED, REJECTED = "open", "released", "rejected"
RELEASE, REJECT = "release", "reject"
CLEARED, CONFIRMED = "cleared", "confirmed"
MAX_NOTE = 500
VERDICTS_KEPT = 100_000


class CaseError(Exception):
    """A decision that cannot be taken; `code` says why: not_found, decided, invalid."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str
    """pass, hold or refuse."""
    reason: str | None = None
    """The ISO reason code a hold or refusal is reported with (RR04, AM02, AM14)."""
    detail: str = ""
    """What the payer may be told: not which list or rule (a reviewer reads that in the case)."""
    case_id: str | None = None
    rules: tuple[str, ...] = ()
    """The rules that found something (watchlist, velocity, structuring, kyc_per_day...), for the card rail's
    choice of response code."""

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail,
            "case_id": self.case_id,
            "rules": list(self.rules),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        return cls(data["outcome"], data["reason"], data["detail"], data["case_id"], tuple(data.get("rules", ())))


PASSED = Verdict(PASS)


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    rail: str
    subject: str
    account: str
    status: str
    opened_at: str
    details: dict[str, Any]
    """The hits (party, entry, score, why) and the AML findings the case was opened for."""
    decided_at: str | None = None
    decided_by: str | None = None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rail": self.rail,
            "subject": self.subject,
            "account": self.account,
            "status": self.status,
            "opened_at": self.opened_at,
            "details": self.details,
            "decided_at": self.decided_at,
            "decided_by": self.decided_by,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Report:
    seq: int
    kind: str
    subject: str
    account: str
    at: str
    details: dict[str, Any]


@dataclass(slots=True)
class _Recent:
    """An account's outgoing payments within the longest window a rule looks back over, oldest first."""

    items: deque[Activity] = field(default_factory=deque)

    def prune(self, since_ns: int) -> None:
        while self.items and self.items[0].at_ns <= since_ns:
            self.items.popleft()


def case_id_for(bic: str, subject: str) -> str:
    """A case's id, the same for the same payment at the same institution (a repeated check finds its case)."""
    return "CASE-" + hashlib.sha256(f"{bic}|{subject}".encode()).hexdigest()[:16].upper()


def open_records(path: Path) -> tuple[GroupWriter, AuditTrail]:
    """A node's compliance database (checks, cases, decisions, activity, reports) and its audit trail, which share
    the file so that a decision and its audit entry commit together. One per node process: the trail's head is
    kept in memory."""
    db = GroupWriter(path, SCHEMA)
    return db, AuditTrail(db)


def _read_again(lists: Sequence[WatchList]) -> tuple[WatchList, ...]:
    return tuple(load_watchlist(Path(w.source)) for w in lists)


class ComplianceDesk:
    def __init__(
        self,
        bic: str,
        policy: CompliancePolicy,
        db: GroupWriter,
        audit: AuditTrail,
        *,
        clock: Callable[[], int],
        at: Callable[[int], str],
    ) -> None:
        """`db`, `audit`: the node's records (open_records); `clock`: nanoseconds since the epoch (the node's);
        `at`: how the node writes a time."""
        self.bic = bic
        self.policy = policy
        self.screener = Screener(policy.watchlists, policy.screening)
        self._clock = clock
        self._at = at
        self._db = db
        self.audit = audit
        self._deciding = asyncio.Lock()
        self._checking = KeyLocks()
        self._verdicts: dict[str, Verdict] = {}
        """The latest verdicts given, at most VERDICTS_KEPT, oldest first."""
        self._decisions = {
            (party, entry): decision
            for party, entry, decision in self._db.read("SELECT party, entry, decision FROM decisions")
        }
        self._recent: dict[str, _Recent] = {}
        since = clock() - policy.aml.window_s * NS_PER_S
        for account, at_ns, amount, code in self._db.read(
            "SELECT account, at_ns, amount, currency FROM activity WHERE at_ns > ? ORDER BY at_ns", (since,)
        ):
            self._recent.setdefault(account, _Recent()).items.append(Activity(at_ns, amount, code))

    # -- the check ------------------------------------------------------------------------------------------------

    def verdict(self, subject: str) -> Verdict | None:
        """The verdict given for `subject`: from memory for the recent ones, else from the file."""
        known = self._verdicts.get(subject)
        if known is not None:
            return known
        rows = self._db.read("SELECT verdict FROM checks WHERE subject = ?", (subject,))
        return Verdict.from_json(json.loads(rows[0][0])) if rows else None

    async def check(
        self,
        *,
        rail: str,
        subject: str,
        account: str,
        tier: int | None,
        amount: int,
        currency: str,
        parties: Sequence[Party],
        fresh: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> Verdict:
        """The verdict on a payment of `amount` (minor units of `currency`) from `account` with `parties`; the
        first verdict for `subject` is kept and given again. `fresh`: the caller knows of no earlier attempt of this
        payment (its own records hold none), so only this process's recent verdicts are looked at, not the file: a
        payment that died with its process between its check and its record is then checked anew, its activity
        counted twice (the safe side). `details`: kept with the case if the payment is held (what carrying it out
        once released needs, for a rail whose payment the desk's node does not hold itself)."""
        async with self._checking.hold(subject):
            known = self._verdicts.get(subject) if fresh else self.verdict(subject)
            if known is not None:
                return known
            verdict = await self._check(rail, subject, account, tier, amount, currency, parties, details or {})
            self._verdicts[subject] = verdict
            if len(self._verdicts) > VERDICTS_KEPT:
                del self._verdicts[next(iter(self._verdicts))]
            return verdict

    async def _check(
        self,
        rail: str,
        subject: str,
        account: str,
        tier: int | None,
        amount: int,
        currency: str,
        parties: Sequence[Party],
        payment: Mapping[str, Any],
    ) -> Verdict:
        now_ns = self._clock()
        at = self._at(now_ns)
        hits, confirmed = self._screen(parties)
        recent = self._recent.setdefault(account, _Recent())
        recent.prune(now_ns - self.policy.aml.window_s * NS_PER_S)
        findings = assess(self.policy.aml, tier, amount, currency, recent.items, now_ns)
        refusals = [f for f in findings if f.action == REFUSE]
        holds = [f for f in findings if f.action == HOLD]
        writes: list[Write] = []
        rules = tuple(dict.fromkeys([*(["watchlist"] if hits or confirmed else []), *(f.rule for f in findings)]))
        if confirmed:
            verdict = Verdict(REFUSE, "RR04", "refused for a regulatory reason", None, rules)
        elif refusals:
            first = refusals[0]
            verdict = Verdict(REFUSE, first.reason, first.detail, None, rules)
        elif hits or holds:
            case_id = case_id_for(self.bic, subject)
            verdict = Verdict(HOLD, "RR04", f"held for compliance review (case {case_id})", case_id, rules)
            details = {
                "amount": amount,
                "currency": currency,
                "hits": [_hit_json(hit) for hit in hits],
                "findings": [_finding_json(f) for f in holds],
                "payment": dict(payment),
            }
            writes.append(
                (
                    "INSERT OR IGNORE INTO cases (id, rail, subject, account, status, opened_at, details)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (case_id, rail, subject, account, OPEN, at, json.dumps(details, sort_keys=True)),
                )
            )
        else:
            verdict = Verdict(PASS, None, "", None, rules)
        if verdict.outcome != REFUSE:
            recent.items.append(Activity(now_ns, amount, currency))
            writes.append(
                (
                    "INSERT INTO activity (account, at_ns, amount, currency, subject) VALUES (?, ?, ?, ?, ?)",
                    (account, now_ns, amount, currency, subject),
                )
            )
            for finding in findings:
                if finding.action == REPORT:
                    report = {"amount": amount, "currency": currency, "rule": finding.rule, "detail": finding.detail}
                    writes.append(
                        (
                            _INSERT_REPORT,
                            (finding.rule, subject, account, at, json.dumps(report, sort_keys=True)),
                        )
                    )
        writes.append(
            (
                "INSERT OR IGNORE INTO checks (subject, rail, account, verdict, at) VALUES (?, ?, ?, ?, ?)",
                (subject, rail, account, json.dumps(verdict.to_json(), sort_keys=True), at),
            )
        )
        if verdict.outcome == PASS and not any(f.action == REPORT for f in findings):
            # see the module's note on what a passed check keeps; a failed write is logged, not lost unseen
            self._db.write_later(writes).add_done_callback(_log_failed_write)
        else:
            await self._db.write_all(writes)
        return verdict

    def _screen(self, parties: Sequence[Party]) -> tuple[list[Hit], list[Hit]]:
        """(hits to review, hits a reviewer confirmed before); hits cleared before are dropped."""
        if not self.screener.entries:
            return [], []
        review: list[Hit] = []
        confirmed: list[Hit] = []
        for hit in self.screener.screen_all(parties):
            decision = self._decisions.get((hit.party.key, hit.entry.ref))
            if decision == CONFIRMED:
                confirmed.append(hit)
            elif decision != CLEARED:
                review.append(hit)
        return review, confirmed

    # -- cases ----------------------------------------------------------------------------------------------------

    def case(self, case_id: str) -> Case | None:
        rows = self._db.read(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,))
        return _case_of(rows[0]) if rows else None

    def cases(self, status: str | None = None, limit: int = 100) -> list[Case]:
        if status is None:
            rows = self._db.read(f"SELECT {_CASE_COLUMNS} FROM cases ORDER BY seq DESC LIMIT ?", (limit,))
        else:
            rows = self._db.read(
                f"SELECT {_CASE_COLUMNS} FROM cases WHERE status = ? ORDER BY seq DESC LIMIT ?", (status, limit)
            )
        return [_case_of(row) for row in rows]

    async def decide(self, case_id: str, decision: str, reviewer: str, note: str | None = None) -> Case:
        """Release or reject an open case, with its audit entry in the same transaction; CaseError otherwise. The
        same decision asked again of a case already so decided returns the case (a retried request)."""
        if decision not in (RELEASE, REJECT):
            raise CaseError("invalid", f"decision: {RELEASE} or {REJECT}, got {decision!r}")
        if not reviewer or len(reviewer) > 128:
            raise CaseError("invalid", "reviewer: who decides, 1 to 128 characters")
        if note is not None and len(note) > MAX_NOTE:
            raise CaseError("invalid", f"note: at most {MAX_NOTE} characters")
        status = RELEASED if decision == RELEASE else REJECTED
        async with self._deciding:
            case = self.case(case_id)
            if case is None:
                raise CaseError("not_found", f"no case {case_id} at {self.bic}")
            if case.status != OPEN:
                if case.status == status:
                    return case
                raise CaseError("decided", f"case {case_id} was already {case.status} by {case.decided_by}")
            at = self._at(self._clock())
            learned = CLEARED if decision == RELEASE else CONFIRMED
            writes: list[Write] = [
                (
                    "UPDATE cases SET status = ?, decided_at = ?, decided_by = ?, note = ? WHERE id = ? AND status = ?",
                    (status, at, reviewer, note, case_id, OPEN),
                )
            ]
            pairs = [(hit["party_key"], hit["entry"]) for hit in case.details.get("hits", [])]
            writes += [
                ("INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?)", (party, entry, learned, case_id, at))
                for party, entry in pairs
            ]
            details = {"rail": case.rail, "subject": case.subject, "note": note, "entries": [e for _, e in pairs]}
            await self.audit.record(at, reviewer, f"review.{decision}", case_id, details, with_writes=writes)
            for pair in pairs:
                self._decisions[pair] = learned
        decided = self.case(case_id)
        assert decided is not None and decided.status == status
        return decided

    # -- the lists ------------------------------------------------------------------------------------------------

    def watchlists(self) -> list[dict[str, Any]]:
        """The lists screened against now: name, entries, the file's name and its SHA-256."""
        return [
            {"name": w.name, "entries": len(w.entries), "file": Path(w.source).name, "digest": w.digest}
            for w in self.policy.watchlists
        ]

    async def reload_watchlists(self, actor: str) -> list[dict[str, Any]]:
        """Read every watch-list again from its file and screen against the new versions from then on, without a
        restart (a sanctions list changes daily). All or nothing: a list that cannot be read raises WatchListError
        naming it, and the lists in use stay as they were. Recorded in the audit trail, each list's digest before
        and after; payments checked before keep their verdicts, and decisions stay with the entries they name."""
        async with self._deciding:
            before = self.policy.watchlists
            lists = await asyncio.to_thread(_read_again, before)
            screener = await asyncio.to_thread(Screener, lists, self.policy.screening)
            was = {w.name: w.digest for w in before}
            details = {
                "lists": [
                    {"name": w.name, "entries": len(w.entries), "digest": w.digest, "was": was.get(w.name)}
                    for w in lists
                ]
            }
            subject = ",".join(w.name for w in lists)
            await self.audit.record(self._at(self._clock()), actor, "watchlists.reloaded", subject, details)
            self.policy = replace(self.policy, watchlists=lists)
            self.screener = screener
        return self.watchlists()

    # -- reports --------------------------------------------------------------------------------------------------

    def reports(self, kind: str | None = None, limit: int = 100) -> list[Report]:
        query = "SELECT seq, kind, subject, account, at, details FROM reports"
        params: tuple[object, ...] = (limit,)
        if kind is not None:
            query += " WHERE kind = ?"
            params = (kind, limit)
        rows = self._db.read(query + " ORDER BY seq DESC LIMIT ?", params)
        return [
            Report(seq, k, subject, account, at, json.loads(details)) for seq, k, subject, account, at, details in rows
        ]


def _log_failed_write(done: Future[None]) -> None:
    failure = done.exception()
    if failure is not None:
        log.error("a passed compliance check's record was not written: %s", type(failure).__name__)


_INSERT_REPORT = "INSERT OR IGNORE INTO reports (kind, subject, account, at, details) VALUES (?, ?, ?, ?, ?)"
_CASE_COLUMNS = "id, rail, subject, account, status, opened_at, details, decided_at, decided_by, note"


def _case_of(row: tuple[Any, ...]) -> Case:
    return Case(row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), row[7], row[8], row[9])


def _hit_json(hit: Hit) -> dict[str, Any]:
    return {
        "role": hit.party.role,
        "party": hit.party.name,
        "party_key": hit.party.key,
        "entry": hit.entry.ref,
        "entry_name": hit.matched,
        "program": hit.entry.program,
        "score": hit.score,
        "basis": hit.basis,
        "notes": list(hit.notes),
        "describe": hit.describe(),
    }


def _finding_json(finding: Finding) -> dict[str, str]:
    return {"rule": finding.rule, "detail": finding.detail}
