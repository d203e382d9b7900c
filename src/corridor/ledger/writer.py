"""The single writer: one thread per ledger that group-commits the batches of every concurrent caller.

Callers enqueue a batch and wait on a future. The writer takes every batch waiting (up to GROUP_MAX events), applies
them in order to the state machine, writes the whole group in one storage transaction and only then resolves the
futures. One transaction and one fsync are shared by all callers of a group, and no row lock is ever taken, so a hot
account costs no more than a cold one. When the queue is idle the writer wakes once a second to expire pending
transfers whose timeout has passed.

If a commit fails the in-memory view may be ahead of storage, so the writer stops for good: every waiting and later
caller gets LedgerUnavailable, and reopening the ledger recovers from the last committed group.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Any

from corridor.handoff import Answer
from corridor.ledger.errors import LedgerUnavailable
from corridor.ledger.state import GroupToken, StateMachine
from corridor.ledger.storage.base import Storage
from corridor.ledger.types import Account, Transfer

GROUP_MAX = 65_536
IDLE_SWEEP_S = 1.0
PIPELINE_DEPTH = 1


class _Request:
    __slots__ = ("events", "future", "kind")

    def __init__(self, kind: str, events: Sequence[Account] | Sequence[Transfer], answer: Answer) -> None:
        self.kind = kind
        self.events = events
        self.future = answer


_STOP = object()


class Writer:
    """Two threads in a pipeline: the writer applies group N+1 while the committer makes group N durable.

    The state machine's view runs ahead of storage by at most PIPELINE_DEPTH groups; it keeps what storage cannot yet
    answer for (transfers and resolved pending transfers of uncommitted groups) until the committer reports back.
    Python's GIL is released while SQLite or PostgreSQL work, so the two halves overlap on two cores.
    """

    def __init__(self, storage: Storage, clock: Callable[[], int], name: str = "ledger") -> None:
        self._storage = storage
        self._clock = clock
        self._state = StateMachine(storage)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._commits: queue.Queue[Any] = queue.Queue(maxsize=PIPELINE_DEPTH)
        self._done: queue.SimpleQueue[GroupToken] = queue.SimpleQueue()
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

    # --- the writer thread: apply ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            stop = False
            while not stop and self._failure is None:
                try:
                    first = self._queue.get(timeout=IDLE_SWEEP_S)
                except queue.Empty:
                    self._apply([])
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
            self._commits.put(_STOP)
            self._committer.join()
            self._fail_waiting()

    def _apply(self, group: list[_Request]) -> None:
        state = self._state
        while True:
            try:
                state.committed(self._done.get_nowait())
            except queue.Empty:
                break
        if not group and not state.has_due(self._clock()):
            return
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
            for request in group:
                _answer(request.future, error=LedgerUnavailable(self._why_unavailable()))
            raise
        self._commits.put((commit, token, group, results))

    # --- the committer thread: make durable, then answer -----------------------------------------------------

    def _commit_loop(self) -> None:
        while True:
            item = self._commits.get()
            if item is _STOP:
                return
            commit, token, group, results = item
            if self._failure is None and not commit.empty:
                try:
                    self._storage.commit(commit)
                except BaseException as exc:
                    self._failure = exc
            if self._failure is not None:
                for request in group:
                    _answer(request.future, error=LedgerUnavailable(self._why_unavailable()))
                continue
            self._done.put(token)
            for request, result in zip(group, results, strict=True):
                _answer(request.future, result)

    def _fail_waiting(self) -> None:
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                return
            if request is not _STOP:
                _answer(request.future, error=LedgerUnavailable(self._why_unavailable()))


def _answer(future: Answer, result: Any = None, *, error: BaseException | None = None) -> None:
    """Answer a caller, unless it stopped waiting: an asyncio caller whose task was cancelled cancels its future,
    and setting a cancelled future raises, which must not kill the writer or the committer thread; nor must a loop
    that has closed (RuntimeError from call_soon_threadsafe)."""
    with contextlib.suppress(InvalidStateError, RuntimeError):
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
