"""The ledger's public face: open on a backend, submit batches, query, check and verify.

Everything that changes a balance in Corridor goes through `create_accounts` and `create_transfers` here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, cast

from corridor.handoff import LoopAnswer
from corridor.ledger.errors import LedgerUnavailable
from corridor.ledger.results import CreateAccountResult, CreateTransferResult
from corridor.ledger.storage.base import LedgerTotals, Storage
from corridor.ledger.types import Account, AccountBalance, PendingTransfer, Transfer
from corridor.ledger.validation import validate_batch
from corridor.ledger.verify import VerifyReport, verify_storage
from corridor.ledger.writer import Writer

DEFAULT_SCHEMA = "corridor"


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Double entry per ledger: total debits equal total credits, pending and posted."""

    ledgers: list[LedgerTotals]
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def open_storage(url: str, *, schema: str | None = None, readonly: bool = False) -> Storage:
    """A backend for `url`: a path or sqlite:///path for SQLite, postgresql://... for PostgreSQL."""
    if url.startswith(("postgresql://", "postgres://")):
        from corridor.ledger.storage.postgres import PostgresStorage

        return PostgresStorage(url, schema=schema or DEFAULT_SCHEMA, readonly=readonly)
    if "://" in url and not url.startswith("sqlite://"):
        raise ValueError(f"unsupported ledger url {url!r}: use a file path, sqlite:///path or postgresql://...")
    if schema is not None:
        raise ValueError("schema= applies to PostgreSQL ledgers only")
    from corridor.ledger.storage.sqlite import SqliteStorage

    path = url.removeprefix("sqlite://")
    path = path[1:] if path.startswith("//") else path
    return SqliteStorage(path, readonly=readonly)


class Ledger:
    """A double-entry ledger on SQLite or PostgreSQL with one group-committing writer (see docs/ledger.md)."""

    def __init__(self, storage: Storage, clock: Callable[[], int], *, readonly: bool, id_filter: bool = False) -> None:
        self._storage = storage
        self._writer = None if readonly else Writer(storage, clock, id_filter=id_filter)
        self.readonly = readonly

    @classmethod
    def open(
        cls,
        url: str,
        *,
        schema: str | None = None,
        clock: Callable[[], int] | None = None,
        readonly: bool = False,
        id_filter: bool = False,
    ) -> Ledger:
        """`id_filter`: keep a Bloom filter of the stored transfer ids (ledger/idfilter.py), for a caller whose ids
        are random (derived from what they record) rather than time-ordered: such ids then need no storage lookup to
        be known new. About 2 bytes per transfer, and one scan of the ids when opening."""
        storage = open_storage(str(url), schema=schema, readonly=readonly)
        try:
            return cls(storage, clock or time.time_ns, readonly=readonly, id_filter=id_filter)
        except BaseException:
            storage.close()
            raise

    @property
    def url(self) -> str:
        return self._storage.url

    def close(self) -> None:
        if self._writer is not None:
            self._writer.stop()
        self._storage.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- writes ---------------------------------------------------------------------------------------------

    def submit_accounts(self, batch: Sequence[Account]) -> Future[list[CreateAccountResult]]:
        return cast(Future[list[CreateAccountResult]], self._submit("accounts", batch, Account))

    def submit_transfers(self, batch: Sequence[Transfer]) -> Future[list[CreateTransferResult]]:
        return cast(Future[list[CreateTransferResult]], self._submit("transfers", batch, Transfer))

    def create_accounts(self, batch: Sequence[Account]) -> list[CreateAccountResult]:
        return self.submit_accounts(batch).result()

    def create_transfers(self, batch: Sequence[Transfer]) -> list[CreateTransferResult]:
        return self.submit_transfers(batch).result()

    async def acreate_accounts(self, batch: Sequence[Account]) -> list[CreateAccountResult]:
        return cast(list[CreateAccountResult], await self._asubmit("accounts", batch, Account))

    async def acreate_transfers(self, batch: Sequence[Transfer]) -> list[CreateTransferResult]:
        return cast(list[CreateTransferResult], await self._asubmit("transfers", batch, Transfer))

    async def _asubmit(self, kind: str, batch: Sequence[Any], record: type[Account] | type[Transfer]) -> list[Any]:
        """As `_submit`, answered straight on the caller's loop (writer.LoopAnswer) rather than through a Future."""
        if self._writer is None:
            raise LedgerUnavailable("the ledger was opened read-only")
        events = validate_batch(batch, record)
        if not events:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self._writer.submit_to(kind, events, LoopAnswer(loop, future))  # type: ignore[arg-type]
        return await future

    # --- inline writes: applied on the caller's thread, durable after flush ---------------------------------------

    def apply_accounts(self, batch: Sequence[Account]) -> list[CreateAccountResult]:
        """Apply a batch now, on the calling thread, and return its results; see `apply_transfers`."""
        return cast(list[CreateAccountResult], self._apply("accounts", batch, Account))

    def apply_transfers(self, batch: Sequence[Transfer]) -> list[CreateTransferResult]:
        """Apply a batch now, on the calling thread, and return its results, without waiting for storage.

        For a caller that makes many small batches and must not wait for a commit after each (a node's event loop,
        one or two transfers per message handled): the effects are durable only once `flush` (or `aflush`)
        returns, and until then visible to no one but through `view_transfer` and `view_account`. Whatever the
        caller does because of these results must not leave its process before that flush: a crash in between
        loses the effects, and the caller's retry must find them undone, not half done.
        """
        return cast(list[CreateTransferResult], self._apply("transfers", batch, Transfer))

    def flush(self) -> None:
        """Wait until everything applied so far (inline or queued) is durable."""
        writer = self._require_writer()
        done: Future[None] = Future()
        writer.flush(done)
        done.result()

    async def aflush(self) -> None:
        """`flush` for an asyncio caller: answered on its loop, without blocking it."""
        writer = self._require_writer()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        writer.flush(LoopAnswer(loop, future))
        await future

    def view_transfer(self, transfer_id: int) -> Transfer | None:
        """The transfer as applied, durable or not yet: for an inline caller reading back its own effects."""
        if self._writer is not None:
            found = self._writer.view_transfer(transfer_id)
            if found is not None:
                return found
        return self.get_transfer(transfer_id)

    def view_account(self, account_id: int) -> Account | None:
        """The account with every applied transfer counted, durable or not yet (see `view_transfer`)."""
        if self._writer is not None:
            found = self._writer.view_account(account_id)
            if found is not None:
                return found
        return self.get_account(account_id)

    def _apply(self, kind: str, batch: Sequence[Any], record: type[Account] | type[Transfer]) -> list[Any]:
        writer = self._require_writer()
        events = validate_batch(batch, record)
        if not events:
            return []
        return writer.apply(kind, events)  # type: ignore[arg-type]

    def _require_writer(self) -> Writer:
        if self._writer is None:
            raise LedgerUnavailable("the ledger was opened read-only")
        return self._writer

    def _submit(self, kind: str, batch: Sequence[Any], record: type[Account] | type[Transfer]) -> Future[list[Any]]:
        if self._writer is None:
            raise LedgerUnavailable("the ledger was opened read-only")
        events = validate_batch(batch, record)
        if not events:
            done: Future[list[Any]] = Future()
            done.set_result([])
            return done
        return self._writer.submit(kind, events)  # type: ignore[arg-type]

    # --- queries --------------------------------------------------------------------------------------------

    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]:
        return self._storage.lookup_accounts(list(ids))

    def get_account(self, account_id: int) -> Account | None:
        found = self._storage.lookup_accounts([account_id])
        return found[0] if found else None

    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]:
        return self._storage.lookup_transfers(list(ids))

    def get_transfer(self, transfer_id: int) -> Transfer | None:
        found = self._storage.lookup_transfers([transfer_id])
        return found[0] if found else None

    def account_transfers(self, account_id: int, *, limit: int = 100, before: int | None = None) -> list[Transfer]:
        """The account's transfers, newest first; pass the last page's oldest timestamp as `before`."""
        return self._storage.account_transfers(account_id, limit, before)

    def account_balances(self, account_id: int, *, limit: int = 100, before: int | None = None) -> list[AccountBalance]:
        return self._storage.account_balances(account_id, limit, before)

    def pending_transfers(self, *, limit: int = 100, after: int | None = None) -> list[PendingTransfer]:
        return self._storage.pending_transfers(limit, after)

    # --- integrity ------------------------------------------------------------------------------------------

    def check(self) -> CheckReport:
        totals = self._storage.totals()
        problems = [
            f"ledger {t.ledger}: {what} debits {d} != credits {c}"
            for t in totals
            for what, d, c in (
                ("posted", t.debits_posted, t.credits_posted),
                ("pending", t.debits_pending, t.credits_pending),
            )
            if d != c
        ]
        return CheckReport(totals, problems)

    def verify(self, expected_head: str | None = None) -> VerifyReport:
        return verify_storage(self._storage, expected_head=expected_head)
