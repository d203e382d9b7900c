"""One SQLite file written by one thread in groups, read on the caller's thread.

The card rail's stores and each institution's compliance desk use it.

An issuer's, a switch's and an acquirer's records are written once or twice per authorization by many concurrent
requests; each write in its own transaction would cost an fsync (or at least a WAL append and lock) per request.
The writer thread commits what is queued while the previous group was being written as one transaction, each
statement under its own savepoint, so one failing statement (a duplicate key, say) fails alone.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import sqlite3
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Literal

from corridor.handoff import Answer, LoopAnswer, take_group

GROUP_MAX = 512
"""Writes committed together at most."""

Write = tuple[str, tuple[object, ...]]
"""One statement and its parameters."""


class GroupWriter:
    def __init__(self, path: Path, schema: str, *, synchronous: Literal["FULL", "NORMAL"] = "FULL") -> None:
        """`synchronous`: FULL survives a power cut; NORMAL (WAL) survives a crash of the process, not of the
        machine, and is for records that something durable elsewhere can rebuild."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._writing = threading.Lock()
        """Guards the writer connection: the writer thread's groups, and a turn's writes committed on the loop."""
        self._writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.execute(f"PRAGMA synchronous={synchronous}")
        self._writer.executescript(schema)
        self._reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        """Guards the reader connection, which more than one thread may use (tests, a CLI)."""
        self._queue: queue.SimpleQueue[tuple[Sequence[Write], Answer] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"sqlwriter:{path.name}", daemon=True)
        self._thread.start()
        self._turn: tuple[list[Write], asyncio.Future[None]] | None = None

    async def write(self, statement: str, params: tuple[object, ...]) -> None:
        """Run `statement` in the next group; answered once that group is committed."""
        await self.write_all([(statement, params)])

    async def write_all(self, writes: Sequence[Write]) -> None:
        """Run `writes` in the next group, all or none of them."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((writes, LoopAnswer(loop, future)))
        await future

    async def write_in_turn(self, statement: str, params: tuple[object, ...]) -> None:
        """Run `statement` with every other one asked for in this turn of the event loop, all or none of them, for
        statements that cannot fail on their own (INSERT OR IGNORE, UPDATE) on a path where a handoff per request
        is what costs (the switch's and acquirers' logs). With synchronous=NORMAL a commit does not wait for the
        disk, so the turn's writes are committed on the loop itself at the end of the turn: no thread to hand
        over to, no wake-up to come back; with FULL, they go to the writer thread together."""
        if self._turn is None:
            loop = asyncio.get_running_loop()
            self._turn = ([], loop.create_future())
            loop.call_soon(self._end_turn, loop)
        self._turn[0].append((statement, params))
        await asyncio.shield(self._turn[1])

    def _end_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._turn is not None
        writes, future = self._turn
        self._turn = None
        if self._synchronous == "FULL":
            self._queue.put((writes, LoopAnswer(loop, future)))
            return
        try:
            with self._writing:
                self._commit(writes)
        except sqlite3.Error as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    def _commit(self, writes: Sequence[Write]) -> None:
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            _execute(conn, writes)
            conn.execute("COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def write_sync(self, statement: str, params: tuple[object, ...]) -> None:
        """`write` for a caller that is not on an event loop (issuance, a CLI)."""
        self.write_all_sync([(statement, params)])

    def write_later(self, writes: Sequence[Write]) -> Future[None]:
        """Queue `writes` for the next group without waiting for it: for records whose loss in a crash of the
        machine costs little, on a path where waiting for the disk would cost every caller (a compliance check that
        passed). Groups commit in the order queued; `close` waits for what is queued."""
        future: Future[None] = Future()
        self._queue.put((writes, future))
        return future

    def write_all_sync(self, writes: Sequence[Write]) -> None:
        """`write_all` for a caller that is not on an event loop."""
        future: Future[None] = Future()
        self._queue.put((writes, future))
        future.result()

    def read(self, query: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._reader.execute(query, params).fetchall()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            group = take_group(self._queue, item, GROUP_MAX)
            with self._writing:
                self._commit_group(group)

    def _commit_group(self, group: list[tuple[Sequence[Write], Answer]]) -> None:
        """One transaction for the group, each write under its own savepoint, so that one failing fails alone."""
        conn = self._writer
        outcomes: list[BaseException | None] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for index, (writes, _) in enumerate(group):  # each alone: one failing fails alone
                conn.execute(f"SAVEPOINT w{index}")
                try:
                    _execute(conn, writes)
                except sqlite3.Error as exc:
                    conn.execute(f"ROLLBACK TO w{index}")
                    outcomes.append(exc)
                else:
                    outcomes.append(None)
                conn.execute(f"RELEASE w{index}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # the commit itself failed: nothing of the group is durable
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [exc] * len(group)
        for (_, answer), outcome in zip(group, outcomes, strict=True):
            if outcome is None:
                answer.set_result(None)
            else:
                answer.set_exception(outcome)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        with self._lock:
            self._reader.close()
        self._writer.close()


def _execute(conn: sqlite3.Connection, writes: Sequence[Write]) -> None:
    """Run `writes` in order, the same statement over consecutive rows as one executemany."""
    if len(writes) == 1:
        conn.execute(*writes[0])
        return
    for statement, rows in itertools.groupby(writes, key=lambda write: write[0]):
        conn.executemany(statement, [params for _, params in rows])
