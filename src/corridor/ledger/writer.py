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

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

from corridor.ledger.errors import LedgerUnavailable
from corridor.ledger.state import StateMachine
from corridor.ledger.storage.base import Storage
from corridor.ledger.types import Account, Transfer

GROUP_MAX = 65_536
IDLE_SWEEP_S = 1.0


class _Request:
    __slots__ = ("events", "future", "kind")

    def __init__(self, kind: str, events: Sequence[Account] | Sequence[Transfer]) -> None:
        self.kind = kind
        self.events = events
        self.future: Future[list[Any]] = Future()


_STOP = object()


class Writer:
    def __init__(self, storage: Storage, clock: Callable[[], int], name: str = "ledger") -> None:
        self._storage = storage
        self._clock = clock
        self._state = StateMachine(storage)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        self._stopped = False
        self._submit_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"corridor-writer-{name}", daemon=True)
        self._thread.start()

    @property
    def head_hash(self) -> bytes:
        return self._state.head_hash

    def submit(self, kind: str, events: Sequence[Account] | Sequence[Transfer]) -> Future[list[Any]]:
        request = _Request(kind, events)
        with self._submit_lock:
            if self._stopped or self._failure is not None:
                raise LedgerUnavailable(self._why_unavailable())
            self._queue.put(request)
        return request.future

    def stop(self) -> None:
        with self._submit_lock:
            if self._stopped:
                return
            self._stopped = True
            self._queue.put(_STOP)
        self._thread.join()

    def _why_unavailable(self) -> str:
        if self._failure is not None:
            return f"the ledger writer stopped after a storage failure ({self._failure!r}); reopen the ledger"
        return "the ledger is closed"

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=IDLE_SWEEP_S)
            except queue.Empty:
                self._commit([])
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
            self._commit(group)
            if self._failure is not None:
                break
        self._fail_waiting()

    def _commit(self, group: list[_Request]) -> None:
        if self._failure is not None:
            return
        try:
            state = self._state
            state.begin(self._clock())
            accounts = [r.events for r in group if r.kind == "accounts"]
            transfers = [r.events for r in group if r.kind == "transfers"]
            state.prefetch(accounts, transfers)  # type: ignore[arg-type]
            results = [
                state.create_accounts(r.events) if r.kind == "accounts" else state.create_transfers(r.events)  # type: ignore[arg-type]
                for r in group
            ]
            commit = state.finish()
            if not commit.empty:
                self._storage.commit(commit)
            state.forget_resolved()
        except BaseException as exc:
            self._failure = exc
            for request in group:
                request.future.set_exception(LedgerUnavailable(self._why_unavailable()))
            return
        for request, result in zip(group, results, strict=True):
            request.future.set_result(result)

    def _fail_waiting(self) -> None:
        while True:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                return
            if request is not _STOP:
                request.future.set_exception(LedgerUnavailable(self._why_unavailable()))
