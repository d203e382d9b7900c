"""Verification: recompute the journal's hash chain from the stored rows and replay every balance.

Two independent checks, so tampering has nowhere to hide:
- the chain: each journal row links to the one before, and its digest is recomputed from the canonical bytes of the
  accounts, transfers and expiries stored in its timestamp range; an altered, inserted or deleted row changes a
  digest or falls outside every group;
- the replay: every transfer and expiry is applied again, in timestamp order, from zero balances; the result must
  equal every stored balance, closed state, history link, pending status and history snapshot.
Deleting the newest groups together with their journal rows leaves a shorter but consistent chain; only a head hash
published earlier (`expected_head`) catches that.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field

from corridor.ledger.codec import (
    ZERO_HASH,
    account_bytes,
    chain_hash,
    expiry_bytes,
    id_bytes,
    transfer_bytes,
)
from corridor.ledger.storage.base import AccountRecord, JournalEntry, Storage
from corridor.ledger.types import NS_PER_S, AccountFlags, PendingStatus, TransferFlags

MAX_PROBLEMS = 50


@dataclass(slots=True)
class VerifyReport:
    groups: int = 0
    accounts: int = 0
    transfers: int = 0
    expiries: int = 0
    head: str = ZERO_HASH.hex()
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("... more problems not shown")


@dataclass(slots=True)
class _Replayed:
    ledger: int
    flags: int
    dp: int = 0
    dpo: int = 0
    cp: int = 0
    cpo: int = 0
    closed: bool = False
    last_ts: int = 0


_Event = tuple[int, str, bytes, object]


def verify_storage(storage: Storage, *, expected_head: str | None = None) -> VerifyReport:
    report = VerifyReport()
    journal = list(storage.scan_journal())
    _check_chain(journal, report)
    expected_pending: dict[int, tuple[int, int | None, int | None, int]] = {}
    replayed = _replay(storage, journal, report, expected_pending)
    _compare_accounts(storage, replayed, report)
    _compare_pending(storage, expected_pending, report)
    if expected_head is not None and expected_head.lower() != report.head:
        report.problem(f"journal head is {report.head}, expected {expected_head.lower()} (groups deleted?)")
    return report


def _check_chain(journal: list[JournalEntry], report: VerifyReport) -> None:
    prev = ZERO_HASH
    for index, entry in enumerate(journal):
        if entry.seq != index + 1:
            report.problem(f"journal: expected group {index + 1}, found {entry.seq} (a group was deleted)")
        if entry.prev_hash != prev:
            report.problem(f"journal group {entry.seq}: does not link to the group before it")
        link = chain_hash(entry.prev_hash, entry.seq, entry.first_ts, entry.last_ts, entry.count, entry.digest)
        if link != entry.hash:
            report.problem(f"journal group {entry.seq}: hash does not match its contents (journal row altered)")
        prev = entry.hash
    report.groups = len(journal)
    report.head = prev.hex()


def _events(storage: Storage, report: VerifyReport) -> Iterator[_Event]:
    """Every stored event as (timestamp, kind, canonical bytes, record), merged in timestamp order."""

    def accounts() -> Iterator[_Event]:
        for rec in storage.scan_accounts():
            a = rec.account
            data = account_bytes(
                id_bytes(a.id),
                a.user_data_128,
                a.user_data_64,
                a.user_data_32,
                a.ledger,
                a.code,
                rec.created_flags,
                a.timestamp,
            )
            yield a.timestamp, "A", data, rec

    def transfers() -> Iterator[_Event]:
        for t, prev_debit, prev_credit in storage.scan_transfers():
            data = transfer_bytes(
                id_bytes(t.id),
                id_bytes(t.debit_account_id),
                id_bytes(t.credit_account_id),
                t.amount,
                id_bytes(t.pending_id),
                id_bytes(t.user_data_128),
                t.user_data_64,
                t.user_data_32,
                t.timeout,
                t.ledger,
                t.code,
                int(t.flags),
                t.timestamp,
            )
            yield t.timestamp, "T", data, (t, prev_debit, prev_credit)

    expiries = sorted(
        (resolved_at, pid)
        for pid, _, status, _, resolved_at in storage.scan_pending()
        if status == PendingStatus.EXPIRED and resolved_at is not None
    )

    def expired() -> Iterator[_Event]:
        for ts, pid in expiries:
            yield ts, "X", expiry_bytes(id_bytes(pid), ts), pid

    return heapq.merge(accounts(), transfers(), expired(), key=lambda e: e[0])


def _replay(
    storage: Storage,
    journal: list[JournalEntry],
    report: VerifyReport,
    expected_pending: dict[int, tuple[int, int | None, int | None, int]],
) -> dict[int, _Replayed]:
    accounts: dict[int, _Replayed] = {}
    open_pending: dict[int, tuple[int, int, int, int]] = {}
    history: set[tuple[int, int, int, int, int, int]] = set()
    index = 0
    digest = hashlib.sha256()
    count = 0
    last_seen = -1

    def close_group(entry: JournalEntry) -> None:
        if digest.digest() != entry.digest or count != entry.count:
            report.problem(
                f"journal group {entry.seq}: stored rows do not match its digest "
                f"({count} events found, {entry.count} recorded): a row was altered, inserted or deleted"
            )

    for ts, kind, data, record in _events(storage, report):
        if ts == last_seen:
            report.problem(f"two stored events share timestamp {ts}")
        last_seen = ts
        while index < len(journal) and ts > journal[index].last_ts:
            close_group(journal[index])
            index += 1
            digest, count = hashlib.sha256(), 0
        if index >= len(journal) or ts < journal[index].first_ts:
            report.problem(f"{_kind_name(kind)} at timestamp {ts} is not covered by the journal (inserted?)")
        else:
            digest.update(data)
            count += 1
        if kind == "A":
            assert isinstance(record, AccountRecord)
            flags = record.created_flags
            accounts[record.account.id] = _Replayed(
                record.account.ledger, flags, closed=bool(flags & AccountFlags.CLOSED)
            )
            report.accounts += 1
        elif kind == "T":
            report.transfers += 1
            _replay_transfer(record, accounts, open_pending, expected_pending, history, report)  # type: ignore[arg-type]
        else:
            report.expiries += 1
            assert isinstance(record, int)
            pid = record
            p = open_pending.pop(pid, None)
            if p is None:
                report.problem(f"expiry at {ts} of {pid:#x}, which is not an open pending transfer")
                continue
            debit, credit, amount, flags = p
            _release(accounts, debit, credit, amount, flags)
            old = expected_pending[pid]
            expected_pending[pid] = (PendingStatus.EXPIRED, old[1], ts, old[3])
    while index < len(journal):
        close_group(journal[index])
        index += 1
        digest, count = hashlib.sha256(), 0
    stored_history = {
        (b.account_id, b.timestamp, b.debits_pending, b.debits_posted, b.credits_pending, b.credits_posted)
        for b in storage.scan_balances()
    }
    if stored_history != history:
        report.problem(f"account balance history differs from the replay in {len(stored_history ^ history)} rows")
    return accounts


def _replay_transfer(
    record: tuple[object, int, int],
    accounts: dict[int, _Replayed],
    open_pending: dict[int, tuple[int, int, int, int]],
    expected_pending: dict[int, tuple[int, int | None, int | None, int]],
    history: set[tuple[int, int, int, int, int, int]],
    report: VerifyReport,
) -> None:
    from corridor.ledger.types import Transfer

    t, prev_debit, prev_credit = record
    assert isinstance(t, Transfer)
    dr = accounts.get(t.debit_account_id)
    cr = accounts.get(t.credit_account_id)
    if dr is None or cr is None:
        report.problem(f"transfer {t.id:#x} names an account that does not exist")
        return
    if prev_debit != dr.last_ts or prev_credit != cr.last_ts:
        report.problem(f"transfer {t.id:#x}: its history links do not follow the accounts' previous transfers")
    flags = int(t.flags)
    if flags & (TransferFlags.POST_PENDING_TRANSFER | TransferFlags.VOID_PENDING_TRANSFER):
        p = open_pending.pop(t.pending_id, None)
        if p is None:
            report.problem(f"transfer {t.id:#x} resolves {t.pending_id:#x}, which is not an open pending transfer")
        else:
            debit, credit, amount, pflags = p
            _release(accounts, debit, credit, amount, pflags if flags & TransferFlags.VOID_PENDING_TRANSFER else 0)
            posted = bool(flags & TransferFlags.POST_PENDING_TRANSFER)
            if posted:
                dr.dpo += t.amount
                cr.cpo += t.amount
            old = expected_pending[t.pending_id]
            status = PendingStatus.POSTED if posted else PendingStatus.VOIDED
            expected_pending[t.pending_id] = (status, old[1], t.timestamp, old[3])
    elif flags & TransferFlags.PENDING:
        dr.dp += t.amount
        cr.cp += t.amount
        if flags & TransferFlags.CLOSING_DEBIT:
            dr.closed = True
        if flags & TransferFlags.CLOSING_CREDIT:
            cr.closed = True
        open_pending[t.id] = (t.debit_account_id, t.credit_account_id, t.amount, flags)
        expires = t.timestamp + t.timeout * NS_PER_S if t.timeout else None
        expected_pending[t.id] = (PendingStatus.PENDING, expires, None, t.timestamp)
    else:
        dr.dpo += t.amount
        cr.cpo += t.amount
    dr.last_ts = cr.last_ts = t.timestamp
    for account_id, a in ((t.debit_account_id, dr), (t.credit_account_id, cr)):
        if a.flags & AccountFlags.HISTORY:
            history.add((account_id, t.timestamp, a.dp, a.dpo, a.cp, a.cpo))


def _release(accounts: dict[int, _Replayed], debit: int, credit: int, amount: int, flags: int) -> None:
    dr, cr = accounts[debit], accounts[credit]
    dr.dp -= amount
    cr.cp -= amount
    if flags & TransferFlags.CLOSING_DEBIT:
        dr.closed = False
    if flags & TransferFlags.CLOSING_CREDIT:
        cr.closed = False


def _compare_accounts(storage: Storage, replayed: dict[int, _Replayed], report: VerifyReport) -> None:
    for rec in storage.scan_accounts():
        a = rec.account
        r = replayed.get(a.id)
        if r is None:
            continue
        stored = (
            a.debits_pending,
            a.debits_posted,
            a.credits_pending,
            a.credits_posted,
            rec.closed,
            rec.last_transfer_ts,
        )
        if stored != (r.dp, r.dpo, r.cp, r.cpo, r.closed, r.last_ts):
            report.problem(f"account {a.id:#x}: stored balances differ from the replay of its transfers")


def _compare_pending(
    storage: Storage, expected: dict[int, tuple[int, int | None, int | None, int]], report: VerifyReport
) -> None:
    seen: set[int] = set()
    for pid, ts, status, expires_at, resolved_at in storage.scan_pending():
        seen.add(pid)
        want = expected.get(pid)
        if want is None:
            report.problem(f"pending row {pid:#x} has no pending transfer")
        elif (status, expires_at, resolved_at, ts) != want:
            report.problem(f"pending transfer {pid:#x}: stored status differs from the replay")
    for pid in expected.keys() - seen:
        report.problem(f"pending transfer {pid:#x} has no pending row")


def _kind_name(kind: str) -> str:
    return {"A": "account", "T": "transfer", "X": "expiry"}[kind]
