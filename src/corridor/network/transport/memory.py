"""The in-process transport of the embedded default: one asyncio queue per participant.

Same contract as JetStream's (at-least-once, acknowledgement by a handler that returns, redelivery after a
failure), so the nodes above it run the code they would run distributed. It is not durable: a crash of the process
loses what is queued, which is why a node republishes its unacknowledged outbox when it starts (node/runtime.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Sequence

from corridor.network.transport.base import Delivery, Handler, TransportError

REDELIVERY_DELAY_S = 0.05
MAX_IN_FLIGHT = 256
"""Messages one participant handles at once; the node serializes those of one payment (a lock per UETR)."""
DEDUPE_WINDOW = 100_000
"""Message ids remembered per recipient to drop a duplicate publish, like JetStream's duplicate window."""


class MemoryTransport:
    durable = False

    def __init__(self, *, redelivery_delay_s: float = REDELIVERY_DELAY_S) -> None:
        self._queues: dict[str, asyncio.Queue[tuple[str, bytes, int]]] = {}
        self._seen: dict[str, OrderedDict[str, None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._delay = redelivery_delay_s
        self._closed = False

    async def start(self) -> None:
        return None

    def _queue(self, recipient: str) -> asyncio.Queue[tuple[str, bytes, int]]:
        queue = self._queues.get(recipient)
        if queue is None:
            queue = self._queues[recipient] = asyncio.Queue()
            self._seen[recipient] = OrderedDict()
        return queue

    async def publish(self, recipient: str, message_id: str, data: bytes) -> None:
        if self._closed:
            raise TransportError("the in-process transport is closed")
        queue = self._queue(recipient)
        seen = self._seen[recipient]
        if message_id in seen:
            return
        seen[message_id] = None
        if len(seen) > DEDUPE_WINDOW:
            seen.popitem(last=False)
        queue.put_nowait((message_id, data, 1))

    async def publish_many(self, messages: Sequence[tuple[str, str, bytes]]) -> None:
        for recipient, message_id, data in messages:
            await self.publish(recipient, message_id, data)

    async def subscribe(self, recipient: str, handler: Handler) -> None:
        """Deliver to `handler` concurrently (up to MAX_IN_FLIGHT), started in arrival order."""
        queue = self._queue(recipient)
        self._tasks.append(asyncio.create_task(self._consume(recipient, queue, handler), name=f"inbox:{recipient}"))

    async def _consume(self, recipient: str, queue: asyncio.Queue[tuple[str, bytes, int]], handler: Handler) -> None:
        """Hand messages over in arrival order, up to MAX_IN_FLIGHT at once, so the node's commits can group them."""
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                message_id, data, attempt = await queue.get()
                await slots.acquire()
                task = asyncio.create_task(
                    self._deliver(queue, handler, Delivery(recipient, message_id, data, attempt))
                )
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _: slots.release())
        finally:
            for task in running:
                task.cancel()

    async def _deliver(
        self, queue: asyncio.Queue[tuple[str, bytes, int]], handler: Handler, delivery: Delivery
    ) -> None:
        try:
            await handler(delivery)
        except asyncio.CancelledError:
            raise
        except Exception:
            await asyncio.sleep(self._delay * min(delivery.attempt, 20))
            queue.put_nowait((delivery.message_id, delivery.data, delivery.attempt + 1))

    def pending(self) -> int:
        """Messages queued and not yet handled, across all participants (for tests and the dashboard)."""
        return sum(queue.qsize() for queue in self._queues.values())

    async def close(self) -> None:
        self._closed = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
