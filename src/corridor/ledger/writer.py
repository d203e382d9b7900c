"""The single writer: one state machine per ledger, fed by two kinds of caller, and one committer thread.

Queued callers (`submit`) enqueue a batch and wait on a future. The writer thread takes every batch waiting (up to
GROUP_MAX events), applies them in order to the state machine, and hands the group to the committer, which writes it
in one storage transaction and only then resolves the futures. One transaction and one fsync are shared by all
callers of a group, and no row lock is ever taken, so a hot account costs no more than a cold one. When the queue is
idle the writer wakes once a second to expire pending transfers whose timeout has passed.

Inline callers (`apply`, `flush`) apply their batch on their own thread, under the writer's lock, into a group left
open until they flush it: the results come back at once, and the effects become durable when the group is
committed, which `flush` waits for. A node's event loop is such a caller (network/context.py): a handler learns its
ledger results without a round trip through two threads and an fsync per call, and the node waits once per batch of
handlers, before it records anything that depends on them. Results are therefore visible before they are durable,
to the inline caller alone: storage readers see committed groups only, and nothing an inline caller decides may
leave its process before its flush returns.

Every group, of either kind, gets its place in one commit order under the lock, so the journal chain is the order of
application. The committer writes every group waiting in one transaction.

If a commit fails the in-memory view may be ahead of storage, so the writer stops for good: every waiting and later
caller gets LedgerUnavailable, and reopening the ledger recovers from the last committed group.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from typing import Any

from corridor.handoff import Answer
from corridor.ledger.errors import LedgerUnavailable
from corridor.ledger.state import AccountState, GroupToken, StateMachine
from corridor.ledger.storage.base import CommitGroup, Storage
from corridor.ledger.types import Account, AccountFlags, Transfer

_CLOSED = int(AccountFlags.CLOSED)
GROUP_MAX = 65_536
IDLE_SWEEP_S = 1.0
PIPELINE_DEPTH = 1
"""Queued callers' groups that may wait behind the one being committed: the writer applies group N+1 while group N
commits, and no further, so its view runs ahead of storage by a bounded amount. Inline groups are never held back
(their caller is an event loop); their size is bounded by their caller's flushes."""


class _Request:
    __slots__ = ("events", "future", "kind")

    def __init__(self, kind: str, events: Sequence[Account] | Sequence[Transfer], answer: Answer) -> None:
        self.kind = kind
        self.events = events
        self.future = answer


@dataclass(slots=True)
class _Commit:
    """One group in the commit order, with the queued callers to answer once it is durable."""

    group: CommitGroup
    token: GroupToken
    requests: list[_Request]
    results: list[Any]
    seq: int
    queued: bool


_STOP = object()


class Writer:
    """The state machine behind a lock, the writer thread for queued callers, and the committer thread.

    The state machine's view runs ahead of storage; it keeps what storage cannot yet answer for (transfers and
    resolved pending transfers of uncommitted groups) until the committer reports back. Python's GIL is released
    while SQLite or PostgreSQL work, so applying and committing overlap on two cores.
    """

    def __init__(
        self, storage: Storage, clock: Callable[[], int], name: str = "ledger", *, id_filter: bool = False
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._state = StateMachine(storage, id_filter=id_filter)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._commits: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._slots = threading.BoundedSemaphore(PIPELINE_DEPTH + 1)
        self._done: queue.SimpleQueue[GroupToken] = queue.SimpleQueue()
        self._lock = threading.Lock()
        """Held to touch the state machine, the open inline group and the commit order."""
        self._open = False
        self._sequenced = 0
        """Groups placed in the commit order so far."""
        self._waiters_lock = threading.Lock()
        self._durable = 0
        """Groups committed so far (written by the committer under _waiters_lock)."""
        self._waiters: list[tuple[int, Answer]] = []
        self._failure: BaseException | None = None
        self._stopped = False
        self._submit_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"corridor-writer-{name}", daemon=True)
        self._committer = threading.Thread(target=self._commit_loop, name=f"corridor-commit-{name}", daemon=True)
        self._committer.start()
        self._thread.start()

    @property
    def head_hash(self) -> bytes:
        return self._state.head_hash

    # --- queued callers ----------------------------------------------------------------------------------------

    def submit(self, kind: str, events: Sequence[Account] | Sequence[Transfer]) -> Future[list[Any]]:
        future: Future[list[Any]] = Future()
        self.submit_to(kind, events, future)
        return future

    def submit_to(self, kind: str, events: Sequence[Account] | Sequence[Transfer], answer: Answer) -> None:
        """Queue a request whose outcome goes to `answer` (set once, from the committer or the writer thread)."""
        with self._submit_lock:
            if self._stopped or self._failure is not None:
                raise LedgerUnavailable(self._why_unavailable())
            self._queue.put(_Request(kind, events, answer))

    # --- inline callers ----------------------------------------------------------------------------------------

    def apply(self, kind: str, events: Sequence[Account] | Sequence[Transfer]) -> list[Any]:
        """Apply a batch now, on the caller's thread, into the open inline group; durable after `flush`."""
        with self._lock:
            if self._stopped or self._failure is not None:
                raise LedgerUnavailable(self._why_unavailable())
            state = self._state
            self._absorb_done()
            try:
                if not self._open:
                    state.begin(self._clock())
                    self._open = True
                if kind == "accounts":
                    state.prefetch([events], [])  # type: ignore[list-item]
                    return state.create_accounts(events)  # type: ignore[arg-type]
                state.prefetch([], [events])  # type: ignore[list-item]
                return state.create_transfers(events)  # type: ignore[arg-type]
            except BaseException as exc:  # a bug in the state machine: stop rather than commit a corrupt view
                self._failure = self._failure or exc
                raise LedgerUnavailable(self._why_unavailable()) from exc

    def flush(self, answer: Answer) -> None:
        """Close the open inline group; answer `answer` (with None) once every group applied so far is durable."""
        self.when_durable(self.flush_target(), answer)

    def flush_target(self) -> int:
        """Close the open inline group and say which group, once durable, makes everything applied so far durable."""
        with self._lock:
            if self._failure is None:
                self._seal_open()
            return self._sequenced

    def when_durable(self, target: int, answer: Answer) -> None:
        """Answer `answer` (with None) once group `target` (and so every one before it) is durable."""
        with self._waiters_lock:
            if self._failure is None and self._durable < target:
                self._waiters.append((target, answer))
                return
        _answer(answer, error=LedgerUnavailable(self._why_unavailable()) if self._failure else None)

    def view_transfer(self, transfer_id: int) -> Transfer | None:
        """A transfer this writer applied and has not yet seen committed (None: ask storage, it has it if anyone
        does), as storage will hold it."""
        with self._lock:
            if transfer_id in self._state.created:
                return self._state.stored_transfer(transfer_id)
        return None

    def view_account(self, account_id: int) -> Account | None:
        """An account as the view holds it, with every applied transfer counted (None: not in the view)."""
        with self._lock:
            found = self._state.accounts.get(account_id)
            return None if found is None else _account(found)

    # --- stopping ----------------------------------------------------------------------------------------------

    def stop(self) -> None:
        with self._submit_lock:
            if self._stopped:
                return
            self._stopped = True
            self._queue.put(_STOP)
        self._thread.join()
        self._committer.join()

    def _why_unavailable(self) -> str:
        if self._failure is not None:
            return f"the ledger writer stopped after a storage failure ({self._failure!r}); reopen the ledger"
        return "the ledger is closed"

    # --- the commit order (under _lock) ------------------------------------------------------------------------

    def _absorb_done(self) -> None:
        state = self._state
        while True:
            try:
                state.committed(self._done.get_nowait())
            except queue.Empty:
                return

    def _seal_open(self) -> None:
        """Close the open inline group and place it in the commit order."""
        if not self._open:
            return
        self._open = False
        group, token = self._state.finish()
        if group.empty:
            self._state.committed(token)
            return
        self._sequence(group, token, [], [], queued=False)

    def _sequence(
        self, group: CommitGroup, token: GroupToken, requests: list[_Request], results: list[Any], *, queued: bool
    ) -> None:
        self._sequenced += 1
        self._commits.put(_Commit(group, token, requests, results, self._sequenced, queued))

    # --- the writer thread: apply queued requests --------------------------------------------------------------

    def _run(self) -> None:
        try:
            stop = False
            while not stop and self._failure is None:
                try:
                    first = self._queue.get(timeout=IDLE_SWEEP_S)
                except queue.Empty:
                    self._sweep()
                    continue
                if first is _STOP:
                    break
                group = [first]
                count = len(first.events)
                while count < GROUP_MAX:
                    try:
                        request = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if request is _STOP:
                        stop = True
                        break
                    group.append(request)
                    count += len(request.events)
                self._apply(group)
        except BaseException as exc:  # a bug in the state machine: stop rather than commit a corrupt view
            self._failure = self._failure or exc
        finally:
            with self._lock:
                if self._failure is None:
                    self._seal_open()
            self._commits.put(_STOP)
            self._committer.join()
            self._fail_waiting()

    def _sweep(self) -> None:
        """Idle: commit an inline group left open, and expire pending transfers whose timeout has passed."""
        with self._lock:
            self._absorb_done()
            self._seal_open()
            due = self._state.has_due(self._clock())
        if due:
            self._apply([])

    def _apply(self, group: list[_Request]) -> None:
        self._slots.acquire()  # before the lock: an inline caller must never wait for a commit to finish
        with self._lock:
            state = self._state
            self._absorb_done()
            self._seal_open()
            try:
                state.begin(self._clock())
                accounts = [r.events for r in group if r.kind == "accounts"]
                transfers = [r.events for r in group if r.kind == "transfers"]
                state.prefetch(accounts, transfers)  # type: ignore[arg-type]
                results = [
                    state.create_accounts(r.events) if r.kind == "accounts" else state.create_transfers(r.events)  # type: ignore[arg-type]
                    for r in group
                ]
                commit, token = state.finish()
            except BaseException as exc:
                self._failure = exc
                self._slots.release()
                for request in group:
                    _answer(request.future, error=LedgerUnavailable(self._why_unavailable()))
                raise
            # Even a group that wrote nothing keeps its place: its `exists` may name a transfer of a group ahead of
            # it that is not durable yet, and its callers must not hear before that one is.
            self._sequence(commit, token, group, results, queued=True)

    # --- the committer thread: make durable, then answer -----------------------------------------------------

    def _commit_loop(self) -> None:
        stop = False
        while not stop:
            first = self._commits.get()
            if first is _STOP:
                break
            batch: list[_Commit] = [first]
            while True:
                try:
                    more = self._commits.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            groups = [item.group for item in batch if not item.group.empty]
            if self._failure is None and groups:
                try:
                    self._storage.commit_many(groups)
                except BaseException as exc:
                    self._failure = exc
            for item in batch:
                if self._failure is None:
                    self._done.put(item.token)
                    for request, result in zip(item.requests, item.results, strict=True):
                        _answer(request.future, result)
                else:
                    for request in item.requests:
                        _answer(request.future, error=LedgerUnavailable(self._why_unavailable()))
                if item.queued:
                    self._slots.release()
            self._wake(batch[-1].seq)

    def _wake(self, durable: int) -> None:
        with self._waiters_lock:
            if self._failure is None:
                self._durable = durable
                ready = [answer for target, answer in self._waiters if target <= durable]
                self._waiters = [(target, answer) for target, answer in self._waiters if target > durable]
            else:
                ready, self._waiters = [answer for _, answer in self._waiters], []
        error = LedgerUnavailable(self._why_unavailable()) if self._failure is not None else None
        for answer in ready:
            _answer(answer, error=error)

    def _fail_waiting(self) -> None:
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if request is not _STOP:
                _answer(request.future, error=LedgerUnavailable(self._why_unavailable()))
        with self._waiters_lock:
            ready, self._waiters = [answer for _, answer in self._waiters], []
        for answer in ready:
            _answer(answer, error=LedgerUnavailable(self._why_unavailable()))


def _account(state: AccountState) -> Account:
    """The account as storage's lookup gives it: flags as created, CLOSED as it stands now."""
    return Account(
        id=state.id,
        ledger=state.ledger,
        code=state.code,
        flags=(state.flags & ~_CLOSED) | (_CLOSED if state.closed else 0),
        user_data_128=state.user_data_128,
        user_data_64=state.user_data_64,
        user_data_32=state.user_data_32,
        debits_pending=state.dp,
        debits_posted=state.dpo,
        credits_pending=state.cp,
        credits_posted=state.cpo,
        timestamp=state.timestamp,
    )


def _answer(future: Answer, result: Any = None, *, error: BaseException | None = None) -> None:
    """Answer a caller, unless it stopped waiting: an asyncio caller whose task was cancelled cancels its future,
    and setting a cancelled future raises, which must not kill the writer or the committer thread; nor must a loop
    that has closed (RuntimeError from call_soon_threadsafe)."""
    with contextlib.suppress(InvalidStateError, RuntimeError):
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
