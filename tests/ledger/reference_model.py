"""A reference model of the ledger, written from docs/ledger.md alone, for the property tests to compare against.

It is meant to be obviously right rather than fast: state is plain dictionaries, a linked chain is applied to a deep
copy that replaces the state only if the whole chain succeeds, and every rule is spelled out in the doc's order of
precedence. It shares nothing with the engine but the public records and result enums.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from corridor.ledger import AMOUNT_MAX, ID_MAX, Account, Transfer
from corridor.ledger import CreateAccountResult as AR
from corridor.ledger import CreateTransferResult as TR

LINKED = 1
DMNEC, CMNED, HISTORY, CLOSED = 2, 4, 8, 32
KNOWN_ACCOUNT_FLAGS = LINKED | DMNEC | CMNED | HISTORY | CLOSED
PENDING, POST, VOID, BAL_D, BAL_C, CLOSE_D, CLOSE_C = 2, 4, 8, 16, 32, 64, 128
KNOWN_TRANSFER_FLAGS = LINKED | PENDING | POST | VOID | BAL_D | BAL_C | CLOSE_D | CLOSE_C


@dataclass
class ModelAccount:
    created: Account
    dp: int = 0
    dpo: int = 0
    cp: int = 0
    cpo: int = 0
    closed: bool = False


@dataclass
class ModelPending:
    transfer: Transfer
    status: str = "pending"  # pending | posted | voided | expired
    expires_at: int | None = None


@dataclass
class State:
    accounts: dict[int, ModelAccount] = field(default_factory=dict)
    transfers: dict[int, Transfer] = field(default_factory=dict)
    pending: dict[int, ModelPending] = field(default_factory=dict)


class ReferenceLedger:
    def __init__(self) -> None:
        self.state = State()
        self.last_ts = 0
        self.next_ts = 1

    # --- the group: timestamps and expiry -------------------------------------------------------------------

    def _begin(self, now_ns: int) -> None:
        base = max(self.last_ts + 1, now_ns)
        self.next_ts = base
        due = sorted(
            (p.expires_at, pid)
            for pid, p in self.state.pending.items()
            if p.status == "pending" and p.expires_at is not None and p.expires_at <= base
        )
        for _, pid in due:
            p = self.state.pending[pid]
            self._release(p)
            p.status = "expired"
            self.next_ts += 1

    def _release(self, p: ModelPending) -> None:
        t = p.transfer
        dr, cr = self.state.accounts[t.debit_account_id], self.state.accounts[t.credit_account_id]
        dr.dp -= t.amount
        cr.cp -= t.amount
        if t.flags & CLOSE_D:
            dr.closed = False
        if t.flags & CLOSE_C:
            cr.closed = False

    def _run(self, batch: list, apply, failed, chain_open) -> list:
        results: list = [None] * len(batch)
        timestamps = [self.next_ts + i for i in range(len(batch))]
        self.next_ts += len(batch)
        self.last_ts = self.next_ts - 1
        i = 0
        while i < len(batch):
            end = i
            while end < len(batch) and batch[end].flags & LINKED:
                end += 1
            if end == len(batch):  # open chain
                for k in range(i, len(batch)):
                    results[k] = failed
                results[-1] = chain_open
                break
            saved = copy.deepcopy(self.state)
            for k in range(i, end + 1):
                result = apply(batch[k], timestamps[k])
                results[k] = result
                if result.name not in ("ok", "exists"):
                    self.state = saved
                    for j in range(i, end + 1):
                        results[j] = failed
                    results[k] = result
                    break
            i = end + 1
        return results

    # --- accounts -----------------------------------------------------------------------------------------

    def create_accounts(self, batch: list[Account], now_ns: int) -> list[AR]:
        self._begin(now_ns)
        return self._run(batch, self._account, AR.linked_event_failed, AR.linked_event_chain_open)

    def _account(self, a: Account, ts: int) -> AR:
        if a.timestamp != 0:
            return AR.timestamp_must_be_zero
        if a.flags & ~KNOWN_ACCOUNT_FLAGS:
            return AR.reserved_flag
        if a.id == 0:
            return AR.id_must_not_be_zero
        if a.id == ID_MAX:
            return AR.id_must_not_be_int_max
        old = self.state.accounts.get(a.id)
        if old is not None:
            e = old.created
            for result, mine, theirs in (
                (AR.exists_with_different_flags, a.flags & ~LINKED, e.flags & ~LINKED),
                (AR.exists_with_different_user_data_128, a.user_data_128, e.user_data_128),
                (AR.exists_with_different_user_data_64, a.user_data_64, e.user_data_64),
                (AR.exists_with_different_user_data_32, a.user_data_32, e.user_data_32),
                (AR.exists_with_different_ledger, a.ledger, e.ledger),
                (AR.exists_with_different_code, a.code, e.code),
            ):
                if mine != theirs:
                    return result
            return AR.exists
        if a.flags & DMNEC and a.flags & CMNED:
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
        self.state.accounts[a.id] = ModelAccount(replace(a, timestamp=ts), closed=bool(a.flags & CLOSED))
        return AR.ok

    # --- transfers ----------------------------------------------------------------------------------------

    def create_transfers(self, batch: list[Transfer], now_ns: int) -> list[TR]:
        self._begin(now_ns)
        return self._run(batch, self._transfer, TR.linked_event_failed, TR.linked_event_chain_open)

    def _transfer(self, t: Transfer, ts: int) -> TR:
        if t.timestamp != 0:
            return TR.timestamp_must_be_zero
        if t.flags & ~KNOWN_TRANSFER_FLAGS:
            return TR.reserved_flag
        if t.id == 0:
            return TR.id_must_not_be_zero
        if t.id == ID_MAX:
            return TR.id_must_not_be_int_max
        if t.id in self.state.transfers:
            return self._exists(t, self.state.transfers[t.id])
        phases = sum(1 for f in (PENDING, POST, VOID) if t.flags & f)
        resolving = t.flags & (POST | VOID)
        if phases > 1 or (resolving and t.flags & (BAL_D | BAL_C | CLOSE_D | CLOSE_C)):
            return TR.flags_are_mutually_exclusive
        if resolving:
            return self._resolve(t, ts)
        return self._single_or_pending(t, ts)

    def _exists(self, e: Transfer, s: Transfer) -> TR:
        resolving = e.flags & (POST | VOID)

        def differs(mine: int, theirs: int, inheritable: bool) -> bool:
            return mine != theirs and not (inheritable and resolving and mine == 0)

        if e.flags & ~LINKED != s.flags & ~LINKED:
            return TR.exists_with_different_flags
        if e.pending_id != s.pending_id:
            return TR.exists_with_different_pending_id
        if e.timeout != s.timeout:
            return TR.exists_with_different_timeout
        if differs(e.debit_account_id, s.debit_account_id, True):
            return TR.exists_with_different_debit_account_id
        if differs(e.credit_account_id, s.credit_account_id, True):
            return TR.exists_with_different_credit_account_id
        if e.flags & (BAL_D | BAL_C):
            amount_differs = e.amount < s.amount
        elif resolving:
            whole = e.amount == 0 or (e.flags & POST and e.amount == AMOUNT_MAX)
            amount_differs = not whole and e.amount != s.amount
        else:
            amount_differs = e.amount != s.amount
        if amount_differs:
            return TR.exists_with_different_amount
        if e.user_data_128 != s.user_data_128:
            return TR.exists_with_different_user_data_128
        if e.user_data_64 != s.user_data_64:
            return TR.exists_with_different_user_data_64
        if e.user_data_32 != s.user_data_32:
            return TR.exists_with_different_user_data_32
        if differs(e.ledger, s.ledger, True):
            return TR.exists_with_different_ledger
        if differs(e.code, s.code, True):
            return TR.exists_with_different_code
        return TR.exists

    def _single_or_pending(self, t: Transfer, ts: int) -> TR:
        pending = bool(t.flags & PENDING)
        checks = [
            (t.debit_account_id == 0, TR.debit_account_id_must_not_be_zero),
            (t.debit_account_id == ID_MAX, TR.debit_account_id_must_not_be_int_max),
            (t.credit_account_id == 0, TR.credit_account_id_must_not_be_zero),
            (t.credit_account_id == ID_MAX, TR.credit_account_id_must_not_be_int_max),
            (t.debit_account_id == t.credit_account_id, TR.accounts_must_be_different),
            (t.pending_id != 0, TR.pending_id_must_be_zero),
            (t.timeout != 0 and not pending, TR.timeout_reserved_for_pending_transfer),
            (bool(t.flags & (CLOSE_D | CLOSE_C)) and not pending, TR.closing_transfer_must_be_pending),
            (t.amount == 0, TR.amount_must_not_be_zero),
            (t.ledger == 0, TR.ledger_must_not_be_zero),
            (t.code == 0, TR.code_must_not_be_zero),
        ]
        for failed, result in checks:
            if failed:
                return result
        dr = self.state.accounts.get(t.debit_account_id)
        if dr is None:
            return TR.debit_account_not_found
        cr = self.state.accounts.get(t.credit_account_id)
        if cr is None:
            return TR.credit_account_not_found
        if dr.created.ledger != cr.created.ledger:
            return TR.accounts_must_have_the_same_ledger
        if t.ledger != dr.created.ledger:
            return TR.transfer_must_have_the_same_ledger_as_accounts
        if dr.closed:
            return TR.debit_account_already_closed
        if cr.closed:
            return TR.credit_account_already_closed
        amount = t.amount
        if t.flags & BAL_D:
            amount = min(amount, max(0, dr.cpo - dr.dp - dr.dpo))
        if t.flags & BAL_C:
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
        if pending and ts + t.timeout * 10**9 > AMOUNT_MAX:
            return TR.overflows_timeout
        if dr.created.flags & DMNEC and dr.dp + dr.dpo + amount > dr.cpo:
            return TR.exceeds_credits
        if cr.created.flags & CMNED and cr.cp + cr.cpo + amount > cr.dpo:
            return TR.exceeds_debits
        stored = replace(t, amount=amount, timestamp=ts)
        self.state.transfers[t.id] = stored
        if pending:
            dr.dp += amount
            cr.cp += amount
            if t.flags & CLOSE_D:
                dr.closed = True
            if t.flags & CLOSE_C:
                cr.closed = True
            expires = ts + t.timeout * 10**9 if t.timeout else None
            self.state.pending[t.id] = ModelPending(stored, expires_at=expires)
        else:
            dr.dpo += amount
            cr.cpo += amount
        return TR.ok

    def _resolve(self, t: Transfer, ts: int) -> TR:
        if t.pending_id == 0:
            return TR.pending_id_must_not_be_zero
        if t.pending_id == ID_MAX:
            return TR.pending_id_must_not_be_int_max
        if t.pending_id == t.id:
            return TR.pending_id_must_be_different
        if t.timeout != 0:
            return TR.timeout_reserved_for_pending_transfer
        target = self.state.transfers.get(t.pending_id)
        if target is None:
            return TR.pending_transfer_not_found
        if not target.flags & PENDING:
            return TR.pending_transfer_not_pending
        p = self.state.pending[t.pending_id]
        for mine, theirs, result in (
            (t.debit_account_id, target.debit_account_id, TR.pending_transfer_has_different_debit_account_id),
            (t.credit_account_id, target.credit_account_id, TR.pending_transfer_has_different_credit_account_id),
            (t.ledger, target.ledger, TR.pending_transfer_has_different_ledger),
            (t.code, target.code, TR.pending_transfer_has_different_code),
        ):
            if mine != 0 and mine != theirs:
                return result
        posting = bool(t.flags & POST)
        if posting:
            amount = target.amount if t.amount in (0, AMOUNT_MAX) else t.amount
            if amount > target.amount:
                return TR.exceeds_pending_transfer_amount
        else:
            if t.amount not in (0, target.amount):
                return TR.pending_transfer_has_different_amount
            amount = target.amount
        if p.status == "posted":
            return TR.pending_transfer_already_posted
        if p.status == "voided":
            return TR.pending_transfer_already_voided
        if p.status == "expired":
            return TR.pending_transfer_expired
        dr = self.state.accounts[target.debit_account_id]
        cr = self.state.accounts[target.credit_account_id]
        if posting:
            if dr.dpo + amount > AMOUNT_MAX:
                return TR.overflows_debits_posted
            if cr.cpo + amount > AMOUNT_MAX:
                return TR.overflows_credits_posted
        if posting:
            dr.dp -= target.amount
            cr.cp -= target.amount
            dr.dpo += amount
            cr.cpo += amount
            p.status = "posted"
        else:
            self._release(p)
            p.status = "voided"
        self.state.transfers[t.id] = replace(
            t,
            amount=amount,
            debit_account_id=target.debit_account_id,
            credit_account_id=target.credit_account_id,
            ledger=target.ledger,
            code=target.code,
            timestamp=ts,
        )
        return TR.ok
