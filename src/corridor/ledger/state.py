"""The state machine: applies batches of events to the writer's in-memory view and produces one commit group.

Only the writer thread touches this. It holds every account touched since the ledger opened and the pending
transfers still in play, so validating an event costs dictionary lookups, not database round trips; storage is
asked only for what the view has not seen yet (prefetch) and then receives the group's rows in one transaction.

Events are checked completely before anything is changed, so a failed event needs no undo. Linked chains are the
exception: their earlier events have already changed the view when a later one fails, so while a chain runs every
change is logged and a failure replays the log backwards.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from corridor.ledger.codec import (
    TRANSFER_STRUCT,
    ZERO16,
    account_bytes,
    chain_hash,
    expiry_bytes,
    id_bytes,
    u64_to_i64,
)
from corridor.ledger.idfilter import IdFilter
from corridor.ledger.results import CreateAccountResult as AR
from corridor.ledger.results import CreateTransferResult as TR
from corridor.ledger.storage.base import CommitGroup, JournalEntry, PendingRecord, Storage
from corridor.ledger.types import (
    ACCOUNT_FLAGS_KNOWN,
    AMOUNT_MAX,
    ID_MAX,
    NS_PER_S,
    TRANSFER_FLAGS_KNOWN,
    Account,
    AccountFlags,
    PendingStatus,
    Transfer,
    TransferFlags,
)

_LINKED = int(TransferFlags.LINKED)
_PENDING = int(TransferFlags.PENDING)
_POST = int(TransferFlags.POST_PENDING_TRANSFER)
_VOID = int(TransferFlags.VOID_PENDING_TRANSFER)
_BAL_DEBIT = int(TransferFlags.BALANCING_DEBIT)
_BAL_CREDIT = int(TransferFlags.BALANCING_CREDIT)
_CLOSE_DEBIT = int(TransferFlags.CLOSING_DEBIT)
_CLOSE_CREDIT = int(TransferFlags.CLOSING_CREDIT)
_RESOLVE = _POST | _VOID
_SPECIAL = _PENDING | _RESOLVE | _BAL_DEBIT | _BAL_CREDIT | _CLOSE_DEBIT | _CLOSE_CREDIT
_T_UNKNOWN = ~int(TRANSFER_FLAGS_KNOWN) & 0xFFFF
_A_UNKNOWN = ~int(ACCOUNT_FLAGS_KNOWN) & 0xFFFF
_DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_HISTORY = int(AccountFlags.HISTORY)
_CLOSED = int(AccountFlags.CLOSED)
_A_LINKED = int(AccountFlags.LINKED)

_pack_transfer = TRANSFER_STRUCT.pack
_STATUS_PENDING = int(PendingStatus.PENDING)
_STATUS_POSTED = int(PendingStatus.POSTED)
_STATUS_VOIDED = int(PendingStatus.VOIDED)
_STATUS_EXPIRED = int(PendingStatus.EXPIRED)


class AccountState:
    """An account's live state in the writer: creation fields plus the mutable balances."""

    __slots__ = (
        "closed",
        "code",
        "cp",
        "cpo",
        "dp",
        "dpo",
        "flags",
        "id",
        "id_b",
        "last_ts",
        "ledger",
        "timestamp",
        "user_data_32",
        "user_data_64",
        "user_data_128",
    )

    def __init__(self, a: Account, created_flags: int, closed: bool, last_ts: int) -> None:
        self.id = a.id
        self.id_b = id_bytes(a.id)
        self.ledger = a.ledger
        self.code = a.code
        self.flags = created_flags
        self.closed = closed
        self.user_data_128 = a.user_data_128
        self.user_data_64 = a.user_data_64
        self.user_data_32 = a.user_data_32
        self.dp = a.debits_pending
        self.dpo = a.debits_posted
        self.cp = a.credits_pending
        self.cpo = a.credits_posted
        self.timestamp = a.timestamp
        self.last_ts = last_ts

    def row(self) -> tuple[Any, ...]:
        return (
            self.id_b,
            self.ledger,
            self.code,
            self.flags,
            int(self.closed),
            id_bytes(self.user_data_128),
            u64_to_i64(self.user_data_64),
            self.user_data_32,
            self.dp,
            self.dpo,
            self.cp,
            self.cpo,
            self.timestamp,
            self.last_ts,
        )


class PendingState:
    """A pending transfer in play: what it reserved, and whether it has been resolved yet."""

    __slots__ = (
        "amount",
        "code",
        "credit",
        "debit",
        "expires_at",
        "flags",
        "id",
        "ledger",
        "resolved_at",
        "status",
        "timestamp",
    )

    def __init__(self, t: Transfer, status: int, expires_at: int | None, resolved_at: int | None) -> None:
        self.id = t.id
        self.debit = t.debit_account_id
        self.credit = t.credit_account_id
        self.amount = t.amount
        self.ledger = t.ledger
        self.code = t.code
        self.flags = int(t.flags)
        self.timestamp = t.timestamp
        self.status = status
        self.expires_at = expires_at
        self.resolved_at = resolved_at


UndoEntry = Callable[[], object]


@dataclass(frozen=True, slots=True)
class GroupToken:
    """What the view may forget once its group is committed."""

    created: list[int]
    resolved: list[PendingState]


class StateMachine:
    """Applies groups of batches. Call begin(), prefetch, apply batches, expire, then finish() for the rows."""

    def __init__(self, storage: Storage, *, id_filter: bool = False) -> None:
        self._storage = storage
        self.accounts: dict[int, AccountState] = {}
        self.pending: dict[int, PendingState] = {}
        self._expiring: list[tuple[int, int]] = storage.open_expiring()
        heapq.heapify(self._expiring)
        head = storage.journal_head()
        self._seq = head.seq if head else 0
        self._head_hash = head.hash if head else bytes(32)
        self._next_ts = storage.max_timestamp() + 1
        # No transfer with an id above this exists, so time-ordered ids (new_id()) are new without a lookup.
        self._max_transfer_id = storage.max_transfer_id()
        # Transfers created by groups not yet known to be committed: storage cannot answer for them yet.
        self._created: dict[int, tuple[Transfer, int, int, int, int, int, int]] = {}
        self._group_created: list[int] = []
        # Random ids below the ceiling: the ids stored, and applied since, so that most new ones need no lookup.
        self._ids: IdFilter | None = self._load_ids() if id_filter else None
        # Per-group state, reset by begin().
        self._existing: dict[int, Transfer] = {}
        self._rows: list[tuple[Any, ...]] = []
        self._parts: list[bytes] = []
        self._balances: list[tuple[Any, ...]] = []
        self._new_accounts: dict[int, AccountState] = {}
        self._dirty: set[AccountState] = set()
        self._new_pending: dict[int, PendingState] = {}
        self._dirty_pending: set[PendingState] = set()
        self._undo: list[UndoEntry] | None = None
        self._base = 0

    @property
    def head_hash(self) -> bytes:
        return self._head_hash

    @property
    def created(self) -> dict[int, tuple[Transfer, int, int, int, int, int, int]]:
        """Transfers of groups not yet known to be committed, by id: what storage cannot answer for yet."""
        return self._created

    def stored_transfer(self, transfer_id: int) -> Transfer:
        """A transfer of `created` as storage will hold it (timestamp, amount and accounts filled in)."""
        return self._stored_transfer(transfer_id)

    # --- group lifecycle ---------------------------------------------------------------------------------------

    def begin(self, now_ns: int) -> int:
        """Start a group at max(last timestamp + 1, now) and release the pending transfers expired by then."""
        self._existing = {}
        self._group_created = []
        self._rows = []
        self._parts = []
        self._balances = []
        self._new_accounts = {}
        self._dirty = set()
        self._new_pending = {}
        self._dirty_pending = set()
        self._base = max(self._next_ts, now_ns)
        self._next_ts = self._base
        self._expire(self._base)
        return self._base

    def prefetch(self, accounts: Sequence[Sequence[Account]], transfers: Sequence[Sequence[Transfer]]) -> None:
        """Load, in a few queries, everything the group's events refer to that the view does not hold yet."""
        account_ids: set[int] = set()
        for batch in accounts:
            account_ids.update(a.id for a in batch)
        transfer_ids: set[int] = set()
        pending_ids: set[int] = set()
        for tbatch in transfers:
            for t in tbatch:
                transfer_ids.add(t.id)
                if t.flags & _RESOLVE:
                    pending_ids.add(t.pending_id)
                else:
                    account_ids.add(t.debit_account_id)
                    account_ids.add(t.credit_account_id)
        pending_ids.discard(0)
        missing_pending = [p for p in pending_ids if p not in self.pending]
        if missing_pending:
            for record in self._storage.load_pending(missing_pending):
                self._cache_pending(record)
        for p in pending_ids:
            state = self.pending.get(p)
            if state is not None:
                account_ids.add(state.debit)
                account_ids.add(state.credit)
            else:
                # Not a pending transfer storage knows: only the stored transfer itself tells "not pending" (it
                # exists, without the flag) from "not found". A pending one in the view needs no lookup.
                transfer_ids.add(p)
        created = self._created  # iterate the group's few ids, not every transfer still waiting for its commit
        transfer_ids = {i for i in transfer_ids if i not in created}
        ceiling = self._max_transfer_id
        ids = self._ids
        if ids is None:
            lookup = [i for i in transfer_ids if i <= ceiling]
        else:
            lookup = [i for i in transfer_ids if i <= ceiling and i in ids]
        if lookup:
            # update, not replace: an inline group prefetches once per batch applied into it
            self._existing.update((t.id, t) for t in self._storage.load_transfers(lookup))
        account_ids.discard(0)
        missing = [i for i in account_ids if i not in self.accounts]
        if missing:
            for rec in self._storage.load_accounts(missing):
                self.accounts[rec.account.id] = AccountState(
                    rec.account, rec.created_flags, rec.closed, rec.last_transfer_ts
                )

    def finish(self) -> tuple[CommitGroup, GroupToken]:
        """Close the group: the rows to write, the journal entry that chains them, and a token for committed()."""
        group = CommitGroup()
        token = GroupToken(self._group_created, [p for p in self._dirty_pending if p.status != _STATUS_PENDING])
        if self._group_created:
            self._max_transfer_id = max(self._max_transfer_id, max(self._group_created))
        if not self._parts:
            return group, token
        group.new_accounts = [a.row() for a in self._new_accounts.values()]
        group.account_updates = [
            (a.dp, a.dpo, a.cp, a.cpo, int(a.closed), a.last_ts, a.id_b)
            for a in self._dirty
            if a.id not in self._new_accounts
        ]
        group.new_transfers = self._rows
        group.new_pending = [
            (id_bytes(p.id), p.timestamp, p.status, p.expires_at, p.resolved_at) for p in self._new_pending.values()
        ]
        group.pending_updates = [
            (p.status, p.resolved_at, id_bytes(p.id)) for p in self._dirty_pending if p.id not in self._new_pending
        ]
        group.balances = self._balances
        digest = hashlib.sha256(b"".join(self._parts)).digest()
        seq = self._seq + 1
        first_ts, last_ts = self._base, self._next_ts - 1
        link = chain_hash(self._head_hash, seq, first_ts, last_ts, len(self._parts), digest)
        group.journal = JournalEntry(seq, first_ts, last_ts, len(self._parts), digest, self._head_hash, link)
        self._seq = seq
        self._head_hash = link
        return group, token

    def committed(self, token: GroupToken) -> None:
        """A group's commit is durable: storage can now answer for its transfers and resolved pending transfers."""
        created = self._created
        for tid in token.created:
            created.pop(tid, None)
        for p in token.resolved:
            if p.status != _STATUS_PENDING and self.pending.get(p.id) is p:
                del self.pending[p.id]

    # --- expiry ----------------------------------------------------------------------------------------------

    def has_due(self, now_ns: int) -> bool:
        """Whether a pending transfer's timeout has passed (the idle writer then commits its expiry)."""
        return bool(self._expiring) and self._expiring[0][0] <= now_ns

    def _expire(self, now: int) -> None:
        heap = self._expiring
        if not heap or heap[0][0] > now:
            return
        due: list[tuple[int, int]] = []
        while heap and heap[0][0] <= now:
            due.append(heapq.heappop(heap))
        missing = [pid for _, pid in due if pid not in self.pending]
        if missing:
            for record in self._storage.load_pending(missing):
                self._cache_pending(record)
        need = [i for _, pid in due if (p := self.pending.get(pid)) for i in (p.debit, p.credit)]
        missing_accounts = [i for i in need if i not in self.accounts]
        if missing_accounts:
            for rec in self._storage.load_accounts(missing_accounts):
                self.accounts[rec.account.id] = AccountState(
                    rec.account, rec.created_flags, rec.closed, rec.last_transfer_ts
                )
        for expires_at, pid in sorted(due):
            p = self.pending.get(pid)
            if p is None or p.status != _STATUS_PENDING or p.expires_at != expires_at:
                continue
            ts = self._next_ts
            self._next_ts += 1
            dr = self.accounts[p.debit]
            cr = self.accounts[p.credit]
            dr.dp -= p.amount
            cr.cp -= p.amount
            if p.flags & _CLOSE_DEBIT:
                dr.closed = False
            if p.flags & _CLOSE_CREDIT:
                cr.closed = False
            self._dirty.add(dr)
            self._dirty.add(cr)
            p.status = _STATUS_EXPIRED
            p.resolved_at = ts
            self._dirty_pending.add(p)
            self._parts.append(expiry_bytes(id_bytes(pid), ts))

    # --- batches and chains ----------------------------------------------------------------------------------

    def create_accounts(self, batch: Sequence[Account]) -> list[AR]:
        return self._run(batch, self._create_account, AR.linked_event_failed, AR.linked_event_chain_open, AR)

    def create_transfers(self, batch: Sequence[Transfer]) -> list[TR]:
        return self._run(batch, self._create_transfer, TR.linked_event_failed, TR.linked_event_chain_open, TR)

    def _run(
        self, batch: Sequence[Any], apply: Callable[[Any, int], Any], failed: Any, chain_open: Any, kind: Any
    ) -> list[Any]:
        ok, exists = kind.ok, kind.exists
        n = len(batch)
        first_ts = self._next_ts
        self._next_ts += n
        results: list[Any] = [None] * n
        i = 0
        while i < n:
            event = batch[i]
            if not event.flags & _LINKED:
                results[i] = apply(event, first_ts + i)
                i += 1
                continue
            end = i
            while end < n and batch[end].flags & _LINKED:
                end += 1
            if end == n:  # the batch ends inside a chain: the whole chain fails unevaluated
                for k in range(i, n - 1):
                    results[k] = failed
                results[n - 1] = chain_open
                break
            self._run_chain(batch, i, end, apply, first_ts, results, ok, exists, failed)
            i = end + 1
        return results

    def _run_chain(
        self,
        batch: Sequence[Any],
        start: int,
        end: int,
        apply: Callable[[Any, int], Any],
        first_ts: int,
        results: list[Any],
        ok: Any,
        exists: Any,
        failed: Any,
    ) -> None:
        marks = (len(self._rows), len(self._parts), len(self._balances))
        self._undo = []
        try:
            for k in range(start, end + 1):
                result = apply(batch[k], first_ts + k)
                if result is ok or result is exists:
                    results[k] = result
                    continue
                for undo in reversed(self._undo):
                    undo()
                del self._rows[marks[0] :]
                del self._parts[marks[1] :]
                del self._balances[marks[2] :]
                for j in range(start, end + 1):
                    results[j] = failed
                results[k] = result
                return
        finally:
            self._undo = None

    # --- accounts --------------------------------------------------------------------------------------------

    def _create_account(self, a: Account, ts: int) -> AR:
        if a.timestamp:
            return AR.timestamp_must_be_zero
        flags = int(a.flags)
        if flags & _A_UNKNOWN:
            return AR.reserved_flag
        if a.id == 0:
            return AR.id_must_not_be_zero
        if a.id == ID_MAX:
            return AR.id_must_not_be_int_max
        existing = self.accounts.get(a.id)
        if existing is not None:
            return _account_exists(a, existing)
        if flags & _DMNEC and flags & _CMNED:
            return AR.flags_are_mutually_exclusive
        if a.debits_pending:
            return AR.debits_pending_must_be_zero
        if a.debits_posted:
            return AR.debits_posted_must_be_zero
        if a.credits_pending:
            return AR.credits_pending_must_be_zero
        if a.credits_posted:
            return AR.credits_posted_must_be_zero
        if a.ledger == 0:
            return AR.ledger_must_not_be_zero
        if a.code == 0:
            return AR.code_must_not_be_zero
        state = AccountState(replace(a, timestamp=ts), flags, bool(flags & _CLOSED), 0)
        self.accounts[a.id] = state
        self._new_accounts[a.id] = state
        self._parts.append(
            account_bytes(state.id_b, a.user_data_128, a.user_data_64, a.user_data_32, a.ledger, a.code, flags, ts)
        )
        if self._undo is not None:
            self._undo.append(partial(self.accounts.pop, a.id))
            self._undo.append(partial(self._new_accounts.pop, a.id))
        return AR.ok

    # --- transfers -------------------------------------------------------------------------------------------

    def _create_transfer(self, t: Transfer, ts: int) -> TR:
        if t.timestamp:
            return TR.timestamp_must_be_zero
        flags = t.flags
        if flags & _T_UNKNOWN:
            return TR.reserved_flag
        tid = t.id
        if tid == 0:
            return TR.id_must_not_be_zero
        if tid == ID_MAX:
            return TR.id_must_not_be_int_max
        if tid in self._created or tid in self._existing:
            return _transfer_exists(t, self._stored_transfer(tid))
        if flags & _SPECIAL:
            kinds = (flags & _PENDING != 0) + (flags & _POST != 0) + (flags & _VOID != 0)
            if kinds > 1 or (flags & _RESOLVE and flags & (_BAL_DEBIT | _BAL_CREDIT | _CLOSE_DEBIT | _CLOSE_CREDIT)):
                return TR.flags_are_mutually_exclusive
            if flags & _RESOLVE:
                return self._resolve_pending(t, ts)
        debit_id = t.debit_account_id
        credit_id = t.credit_account_id
        if debit_id == 0:
            return TR.debit_account_id_must_not_be_zero
        if debit_id == ID_MAX:
            return TR.debit_account_id_must_not_be_int_max
        if credit_id == 0:
            return TR.credit_account_id_must_not_be_zero
        if credit_id == ID_MAX:
            return TR.credit_account_id_must_not_be_int_max
        if debit_id == credit_id:
            return TR.accounts_must_be_different
        if t.pending_id:
            return TR.pending_id_must_be_zero
        pending = flags & _PENDING
        if t.timeout and not pending:
            return TR.timeout_reserved_for_pending_transfer
        if flags & (_CLOSE_DEBIT | _CLOSE_CREDIT) and not pending:
            return TR.closing_transfer_must_be_pending
        amount = t.amount
        if amount == 0:
            return TR.amount_must_not_be_zero
        ledger = t.ledger
        if ledger == 0:
            return TR.ledger_must_not_be_zero
        if t.code == 0:
            return TR.code_must_not_be_zero
        dr = self.accounts.get(debit_id)
        if dr is None:
            return TR.debit_account_not_found
        cr = self.accounts.get(credit_id)
        if cr is None:
            return TR.credit_account_not_found
        if dr.ledger != cr.ledger:
            return TR.accounts_must_have_the_same_ledger
        if ledger != dr.ledger:
            return TR.transfer_must_have_the_same_ledger_as_accounts
        if dr.closed:
            return TR.debit_account_already_closed
        if cr.closed:
            return TR.credit_account_already_closed
        if flags & _BAL_DEBIT:
            amount = min(amount, max(0, dr.cpo - dr.dp - dr.dpo))
        if flags & _BAL_CREDIT:
            amount = min(amount, max(0, cr.dpo - cr.cp - cr.cpo))
        if pending:
            if dr.dp + amount > AMOUNT_MAX:
                return TR.overflows_debits_pending
            if cr.cp + amount > AMOUNT_MAX:
                return TR.overflows_credits_pending
        else:
            if dr.dpo + amount > AMOUNT_MAX:
                return TR.overflows_debits_posted
            if cr.cpo + amount > AMOUNT_MAX:
                return TR.overflows_credits_posted
        if dr.dp + dr.dpo + amount > AMOUNT_MAX:
            return TR.overflows_debits
        if cr.cp + cr.cpo + amount > AMOUNT_MAX:
            return TR.overflows_credits
        if pending and ts + t.timeout * NS_PER_S > AMOUNT_MAX:
            return TR.overflows_timeout
        if dr.flags & _DMNEC and dr.dp + dr.dpo + amount > dr.cpo:
            return TR.exceeds_credits
        if cr.flags & _CMNED and cr.cp + cr.cpo + amount > cr.dpo:
            return TR.exceeds_debits

        undo = self._undo
        if undo is not None:
            undo.append(_snapshot(dr))
            undo.append(_snapshot(cr))
        if pending:
            dr.dp += amount
            cr.cp += amount
            expires_at = ts + t.timeout * NS_PER_S if t.timeout else None
            p = PendingState(t, _STATUS_PENDING, expires_at, None)
            p.debit, p.credit, p.amount, p.timestamp = debit_id, credit_id, amount, ts
            self.pending[tid] = p
            self._new_pending[tid] = p
            if expires_at is not None:
                heapq.heappush(self._expiring, (expires_at, tid))
            if flags & _CLOSE_DEBIT:
                dr.closed = True
            if flags & _CLOSE_CREDIT:
                cr.closed = True
            if undo is not None:
                undo.append(partial(self.pending.pop, tid))
                undo.append(partial(self._new_pending.pop, tid))
        else:
            dr.dpo += amount
            cr.cpo += amount
        self._record(t, ts, amount, dr, cr, ledger, t.code, ZERO16)
        return TR.ok

    def _resolve_pending(self, t: Transfer, ts: int) -> TR:
        pid = t.pending_id
        if pid == 0:
            return TR.pending_id_must_not_be_zero
        if pid == ID_MAX:
            return TR.pending_id_must_not_be_int_max
        if pid == t.id:
            return TR.pending_id_must_be_different
        if t.timeout:
            return TR.timeout_reserved_for_pending_transfer
        p = self.pending.get(pid)
        if p is None:
            if pid in self._created or pid in self._existing:
                return TR.pending_transfer_not_pending
            return TR.pending_transfer_not_found
        if t.debit_account_id and t.debit_account_id != p.debit:
            return TR.pending_transfer_has_different_debit_account_id
        if t.credit_account_id and t.credit_account_id != p.credit:
            return TR.pending_transfer_has_different_credit_account_id
        if t.ledger and t.ledger != p.ledger:
            return TR.pending_transfer_has_different_ledger
        if t.code and t.code != p.code:
            return TR.pending_transfer_has_different_code
        post = t.flags & _POST
        if post:
            amount = p.amount if t.amount in (0, AMOUNT_MAX) else t.amount
            if amount > p.amount:
                return TR.exceeds_pending_transfer_amount
        else:
            if t.amount not in (0, p.amount):
                return TR.pending_transfer_has_different_amount
            amount = p.amount
        if p.status != _STATUS_PENDING:
            if p.status == _STATUS_POSTED:
                return TR.pending_transfer_already_posted
            if p.status == _STATUS_VOIDED:
                return TR.pending_transfer_already_voided
            return TR.pending_transfer_expired
        dr = self.accounts[p.debit]
        cr = self.accounts[p.credit]
        if post:
            if dr.dpo + amount > AMOUNT_MAX:
                return TR.overflows_debits_posted
            if cr.cpo + amount > AMOUNT_MAX:
                return TR.overflows_credits_posted

        undo = self._undo
        if undo is not None:
            undo.append(_snapshot(dr))
            undo.append(_snapshot(cr))
            status_before = p.status

            def restore_status() -> None:
                p.status = status_before
                p.resolved_at = None

            undo.append(restore_status)
        dr.dp -= p.amount
        cr.cp -= p.amount
        if post:
            dr.dpo += amount
            cr.cpo += amount
            p.status = _STATUS_POSTED
        else:
            p.status = _STATUS_VOIDED
            if p.flags & _CLOSE_DEBIT:
                dr.closed = False
            if p.flags & _CLOSE_CREDIT:
                cr.closed = False
        p.resolved_at = ts
        self._dirty_pending.add(p)
        self._record(t, ts, amount, dr, cr, p.ledger, p.code, id_bytes(pid))
        return TR.ok

    def _record(
        self,
        t: Transfer,
        ts: int,
        amount: int,
        dr: AccountState,
        cr: AccountState,
        ledger: int,
        code: int,
        pending_b: bytes,
    ) -> None:
        """Append the stored transfer's row, digest part and history links, and remember it for this group."""
        # The hot path of every transfer: helpers are inlined here on purpose (a call costs ~0.1 us in CPython).
        tid = t.id
        id_b = tid.to_bytes(16, "big")
        ud128 = t.user_data_128
        ud128_b = ud128.to_bytes(16, "big") if ud128 else ZERO16
        ud64 = t.user_data_64
        timeout = t.timeout
        flags = t.flags
        debit_b = dr.id_b
        credit_b = cr.id_b
        self._rows.append(
            (
                ts,
                id_b,
                debit_b,
                credit_b,
                amount,
                pending_b if pending_b is not ZERO16 else None,
                ud128_b if ud128 else None,
                ud64 - (1 << 64) if ud64 >= 1 << 63 else ud64,
                t.user_data_32,
                timeout,
                ledger,
                code,
                flags,
                dr.last_ts,
                cr.last_ts,
            )
        )
        self._parts.append(
            _pack_transfer(
                b"T",
                id_b,
                debit_b,
                credit_b,
                amount,
                pending_b,
                ud128_b,
                ud64,
                t.user_data_32,
                timeout,
                ledger,
                code,
                flags,
                ts,
            )
        )
        dr.last_ts = ts
        cr.last_ts = ts
        dirty = self._dirty
        dirty.add(dr)
        dirty.add(cr)
        self._created[tid] = (t, ts, amount, dr.id, cr.id, ledger, code)
        self._group_created.append(tid)
        if self._ids is not None:
            self._ids.add(tid)
            if self._ids.full:
                self._ids = self._load_ids()
        if dr.flags & _HISTORY:
            self._balances.append((debit_b, ts, dr.dp, dr.dpo, dr.cp, dr.cpo))
        if cr.flags & _HISTORY:
            self._balances.append((credit_b, ts, cr.dp, cr.dpo, cr.cp, cr.cpo))
        if self._undo is not None:
            self._undo.append(partial(self._created.pop, tid))

    def _load_ids(self) -> IdFilter:
        """The filter of every id stored and every id applied but not known committed (a growing filter is rebuilt:
        the ids it held are all in one of the two)."""
        stored = self._storage.transfer_ids()
        return IdFilter.of(itertools.chain(stored, self._created), self._storage.transfer_count() + len(self._created))

    def _stored_transfer(self, tid: int) -> Transfer:
        created = self._created.get(tid)
        if created is None:
            return self._existing[tid]
        t, ts, amount, debit, credit, ledger, code = created
        return replace(
            t,
            timestamp=ts,
            amount=amount,
            debit_account_id=debit,
            credit_account_id=credit,
            ledger=ledger,
            code=code,
        )

    def _cache_pending(self, record: PendingRecord) -> None:
        self.pending[record.transfer.id] = PendingState(
            record.transfer, record.status, record.expires_at, record.resolved_at
        )


def _snapshot(a: AccountState) -> UndoEntry:
    saved = (a.dp, a.dpo, a.cp, a.cpo, a.closed, a.last_ts)

    def restore() -> None:
        a.dp, a.dpo, a.cp, a.cpo, a.closed, a.last_ts = saved

    return restore


def _account_exists(a: Account, s: AccountState) -> AR:
    if int(a.flags) & ~_A_LINKED != s.flags & ~_A_LINKED:
        return AR.exists_with_different_flags
    if a.user_data_128 != s.user_data_128:
        return AR.exists_with_different_user_data_128
    if a.user_data_64 != s.user_data_64:
        return AR.exists_with_different_user_data_64
    if a.user_data_32 != s.user_data_32:
        return AR.exists_with_different_user_data_32
    if a.ledger != s.ledger:
        return AR.exists_with_different_ledger
    if a.code != s.code:
        return AR.exists_with_different_code
    return AR.exists


def _transfer_exists(e: Transfer, s: Transfer) -> TR:
    """Compare a resubmitted event with the transfer stored under its id (docs/ledger.md, Idempotency)."""
    ef = int(e.flags)
    if ef & ~_LINKED != int(s.flags) & ~_LINKED:
        return TR.exists_with_different_flags
    if e.pending_id != s.pending_id:
        return TR.exists_with_different_pending_id
    if e.timeout != s.timeout:
        return TR.exists_with_different_timeout
    resolve = ef & _RESOLVE
    if e.debit_account_id != s.debit_account_id and not (resolve and e.debit_account_id == 0):
        return TR.exists_with_different_debit_account_id
    if e.credit_account_id != s.credit_account_id and not (resolve and e.credit_account_id == 0):
        return TR.exists_with_different_credit_account_id
    if ef & (_BAL_DEBIT | _BAL_CREDIT):
        if e.amount < s.amount:
            return TR.exists_with_different_amount
    elif resolve:
        whole = e.amount == 0 or (ef & _POST and e.amount == AMOUNT_MAX)
        if not whole and e.amount != s.amount:
            return TR.exists_with_different_amount
    elif e.amount != s.amount:
        return TR.exists_with_different_amount
    if e.user_data_128 != s.user_data_128:
        return TR.exists_with_different_user_data_128
    if e.user_data_64 != s.user_data_64:
        return TR.exists_with_different_user_data_64
    if e.user_data_32 != s.user_data_32:
        return TR.exists_with_different_user_data_32
    if e.ledger != s.ledger and not (resolve and e.ledger == 0):
        return TR.exists_with_different_ledger
    if e.code != s.code and not (resolve and e.code == 0):
        return TR.exists_with_different_code
    return TR.exists
