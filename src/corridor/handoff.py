"""Handing a worker thread's answer to an asyncio caller, cheaply.

The ledger's writer and a node's store each run on threads of their own and answer many asyncio callers per
second: every ledger call and every store commit of every message. `asyncio.wrap_future` around a concurrent Future
costs a Condition, a chained callback and two futures per request (~20 us); a LoopAnswer is one
`call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import queue
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Answer(Protocol):
    """Where a request's outcome goes: a concurrent Future, or a LoopAnswer for an asyncio caller."""

    def set_result(self, result: Any) -> None: ...

    def set_exception(self, exception: BaseException) -> None: ...


class LoopAnswer:
    """Hands a writer thread's answer to an asyncio future on its own loop.

    Why not `asyncio.wrap_future(concurrent Future)`: that costs a Condition, a chained callback and two futures per
    request (~20 us), which a node pays for every ledger call and every store commit of every message."""

    __slots__ = ("_future", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self._loop = loop
        self._future = future

    def set_result(self, result: Any) -> None:
        self._loop.call_soon_threadsafe(settle, self._future, result, None)

    def set_exception(self, exception: BaseException) -> None:
        self._loop.call_soon_threadsafe(settle, self._future, None, exception)


def settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    """Answer `future` with `result`, or `error` when there is one, unless its caller stopped waiting."""
    if future.done():  # the caller was cancelled while it waited
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def take_group(waiting: queue.SimpleQueue[T | None], first: T, limit: int) -> list[T]:
    """`first` and what else is queued already, up to `limit` in all: what a writer thread commits together.

    A None in the queue asks the writer to stop; it is put back for the writer's next `get` once this group is done,
    so nothing queued before it is left out."""
    group = [first]
    while len(group) < limit:
        try:
            more = waiting.get_nowait()
        except queue.Empty:
            break
        if more is None:
            waiting.put(None)
            break
        group.append(more)
    return group
