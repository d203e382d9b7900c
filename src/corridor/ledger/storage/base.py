"""The storage interface both backends implement, and the records that cross it.

The writer owns the truth while the ledger is open: storage only loads what the writer has not seen yet and commits
what one group produced, in one transaction. Rows are tuples in the column order of the `transfers`, `accounts`,
`pending_transfers`, `account_balances` and `journal` tables (see migrations/), so backends can bulk-insert them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from corridor.ledger.types import Account, AccountBalance, PendingTransfer, Transfer

Row = tuple[Any, ...]


@dataclass(slots=True)
class AccountRecord:
    """An account as the writer tracks it: creation fields, live balances and the head of its history chain."""

    account: Account
    created_flags: int
    closed: bool
    last_transfer_ts: int


@dataclass(slots=True)
class PendingRecord:
    """A pending transfer as stored, with its resolution."""

    transfer: Transfer
    status: int
    expires_at: int | None
    resolved_at: int | None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    first_ts: int
    last_ts: int
    count: int
    digest: bytes
    prev_hash: bytes
    hash: bytes


@dataclass(slots=True)
class CommitGroup:
    """Everything one group commit writes, applied by the backend in a single transaction."""

    new_accounts: list[Row] = field(default_factory=list)
    """(id, ledger, code, flags, closed, user_data_128, user_data_64, user_data_32, debits_pending, debits_posted,
    credits_pending, credits_posted, timestamp, last_transfer_ts)"""
    account_updates: list[Row] = field(default_factory=list)
    """(debits_pending, debits_posted, credits_pending, credits_posted, closed, last_transfer_ts, id)"""
    new_transfers: list[Row] = field(default_factory=list)
    """(timestamp, id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, user_data_64,
    user_data_32, timeout, ledger, code, flags, prev_debit_ts, prev_credit_ts)"""
    new_pending: list[Row] = field(default_factory=list)
    """(id, timestamp, status, expires_at, resolved_at)"""
    pending_updates: list[Row] = field(default_factory=list)
    """(status, resolved_at, id)"""
    balances: list[Row] = field(default_factory=list)
    """(account_id, timestamp, debits_pending, debits_posted, credits_pending, credits_posted)"""
    journal: JournalEntry | None = None

    @property
    def empty(self) -> bool:
        return self.journal is None


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    """The sums over every account of one ledger (currency)."""

    ledger: int
    accounts: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


class Storage(Protocol):
    """What the ledger needs from a backend. Reads run on the calling thread's own connection."""

    url: str

    # --- the writer's loads and commit -------------------------------------------------------------------------
    def load_accounts(self, ids: Collection[int]) -> list[AccountRecord]: ...
    def load_transfers(self, ids: Collection[int]) -> list[Transfer]: ...
    def load_pending(self, ids: Collection[int]) -> list[PendingRecord]: ...
    def open_expiring(self) -> list[tuple[int, int]]:
        """(expires_at, id) of every open pending transfer that has a timeout."""
        ...

    def journal_head(self) -> JournalEntry | None: ...
    def max_transfer_id(self) -> int:
        """The largest transfer id stored (0 if none): ids above it need no lookup."""
        ...

    def max_timestamp(self) -> int: ...
    def transfer_ids(self) -> Iterator[int]:
        """Every stored transfer's id, in no particular order (for the writer's id filter)."""
        ...

    def transfer_count(self) -> int: ...
    def commit(self, group: CommitGroup) -> None: ...
    def commit_many(self, groups: Sequence[CommitGroup]) -> None:
        """Several groups, in their order, in one transaction."""
        ...

    # --- queries --------------------------------------------------------------------------------------------
    def lookup_accounts(self, ids: Collection[int]) -> list[Account]: ...
    def lookup_transfers(self, ids: Collection[int]) -> list[Transfer]: ...
    def account_transfers(self, account_id: int, limit: int, before: int | None) -> list[Transfer]: ...
    def account_balances(self, account_id: int, limit: int, before: int | None) -> list[AccountBalance]: ...
    def pending_transfers(self, limit: int, after: int | None) -> list[PendingTransfer]: ...
    def totals(self) -> list[LedgerTotals]: ...

    # --- verification scans, in timestamp order --------------------------------------------------------------
    def scan_journal(self) -> Iterator[JournalEntry]: ...
    def scan_accounts(self) -> Iterator[AccountRecord]: ...
    def scan_transfers(self) -> Iterator[tuple[Transfer, int, int]]:
        """Every transfer with its (prev_debit_ts, prev_credit_ts) history links."""
        ...

    def scan_pending(self) -> Iterator[tuple[int, int, int, int | None, int | None]]:
        """(id, timestamp, status, expires_at, resolved_at) of every pending transfer."""
        ...

    def scan_balances(self) -> Iterator[AccountBalance]: ...

    def close(self) -> None: ...
