"""A node: one participant's ledger, records, key and inbox, run on one transport.

Receiving a message, in order: open the envelope (signature, sender, schemas: network/envelope.py); refuse a stale
or future-dated message and a known id with other content (replays); acknowledge a message already processed
without processing it again (the inbox); run the role's handler, which makes its ledger transfers at once with
derived ids; then commit the inbox entry, the payment state, the tracking events and the outgoing messages in one
transaction. Only then is the delivery acknowledged, so a crash at any point makes the transport deliver it again
and the handler's second run finds its ledger effects done and its records absent, or its records present and
the message a duplicate. A relay task publishes the outbox until the transport accepts each message.

Handlers for one payment run one at a time (a lock per UETR); different payments run concurrently, so the ledger's
and the store's group commits see many at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from lxml import etree

from corridor.compliance.desk import open_records
from corridor.iso20022.models import MODELS
from corridor.iso20022.models.common import Message, MessageError
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import XmlRejected, parse_xml
from corridor.keylocks import KeyHold, KeyLocks
from corridor.ledger import Ledger
from corridor.network.bulk import expand_group_status
from corridor.network.context import Clock, Context, NodeServices, Ticket, iso_time
from corridor.network.directory import Directory
from corridor.network.envelope import EnvelopeRejected, OpenedMessage, open_envelope
from corridor.network.identity import SigningKey
from corridor.network.store import DuplicateMessage, NodeStore, ParkedMessage, Unit
from corridor.network.transport.base import Delivery, Transport, TransportError
from corridor.node.batching import Batcher

log = logging.getLogger("corridor.node")

REPLAY_WINDOW_NS = 24 * 3600 * 1_000_000_000
"""A message created longer ago than this is refused as a replay; the inbox keeps ids at least this long."""
CLOCK_SKEW_NS = 5 * 60 * 1_000_000_000
TIMER_PERIOD_S = 0.1
MARK_SENT_S = 1.0
MARK_SENT_ROWS = 1024


class Role(Protocol):
    async def setup(self, ctx: Context) -> None: ...

    async def handle(self, ctx: Context, header: AppHeader, message: Message) -> None: ...

    async def on_refused(self, ctx: Context, header: AppHeader, error: XmlRejected) -> None:
        """An authenticated sender's message could not be accepted: answer it where the standard has an answer."""
        ...

    async def on_deadline(self, ctx: Context, uetr: str) -> None: ...

    def key_of(self, message: Message) -> str:
        """The lock key for a message: its payment's UETR where it has one."""
        ...


PARK_RETRY_NS = 1_000_000_000
PARK_RETRY_MAX_NS = 60 * 1_000_000_000


def _parked_row(
    header: AppHeader, part: int, message: Message, attempts: int, now: int, error: Exception
) -> tuple[str, str, int, str, bytes, bytes, int, int, str]:
    delay = min(PARK_RETRY_NS << min(attempts - 1, 16), PARK_RETRY_MAX_NS)
    return (
        header.sender_bic,
        header.message_id,
        part,
        message.MESSAGE_TYPE,
        etree.tostring(header.to_element()),
        etree.tostring(message.to_element()),
        attempts,
        now + delay,
        f"{type(error).__name__}: {error}"[:500],
    )


class Node:
    def __init__(
        self,
        *,
        bic: str,
        key: SigningKey,
        directory: Directory,
        data_dir: Path,
        transport: Transport,
        role_factory: Callable[[NodeServices], Role],
        clock: Clock,
        ledger_url: str | None = None,
        ledger_schema: str | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.bic = bic
        self.data_dir = data_dir
        self.transport = transport
        data_dir.mkdir(parents=True, exist_ok=True)
        # Handlers' transfer ids are derived from the payment and the step: random, so the filter spares a storage
        # read per transfer (ledger/idfilter.py).
        ledger = Ledger.open(ledger_url or str(data_dir / "ledger.db"), schema=ledger_schema, id_filter=True)
        store = NodeStore(data_dir / "node.db")
        records, audit = open_records(data_dir / "compliance.db")
        self.services = NodeServices(
            bic, key, directory, ledger, store, clock, config or {}, data_dir, records=records, audit=audit
        )
        self.role = role_factory(self.services)
        self._locks = KeyLocks()
        self._waiters: dict[str, list[tuple[tuple[str, ...], asyncio.Future[str]]]] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.batcher = Batcher(self.services)
        self.processed = 0
        self.duplicates = 0
        self.refused = 0
        self._published_through = 0
        """The outbox's last row the relay handed to the transport (in memory: see _relay)."""

    @property
    def store(self) -> NodeStore:
        return self.services.store

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger

    def context(self) -> Context:
        return Context(self.services, Unit(), self.services.clock())

    async def start(self) -> None:
        ctx = self.context()
        await self.role.setup(ctx)
        await self.services.commit(ctx.unit)
        if not self.transport.durable:
            await self._republish_all()
        await self.transport.subscribe(self.bic, self._on_delivery)
        self._tasks.append(asyncio.create_task(self._relay(), name=f"relay:{self.bic}"))
        self._tasks.append(asyncio.create_task(self._timers(), name=f"timers:{self.bic}"))
        self._wake.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.batcher.task is not None and not self.batcher.task.done():
            # The batch being committed needs this loop to seal its documents: let it finish before the store closes.
            await asyncio.wait({self.batcher.task}, timeout=10)
        self.store.close()
        self.ledger.close()
        if self.services.records is not None:
            self.services.records.close()

    async def run(
        self, action: Callable[[Context], Awaitable[Any]], *, lock: str | None = None, locks: Sequence[str] = ()
    ) -> Any:
        """Run a local action (an API call, a setup step) with the same transaction rules as a message, holding the
        lock of `lock` and of each of `locks` (taken in one order, as a delivery takes its envelope's)."""
        async with contextlib.AsyncExitStack() as held:
            for key in sorted({*locks, *([lock] if lock else [])}):
                await held.enter_async_context(self._lock(key))
            ticket = self.batcher.ticket()
            ctx = Context(self.services, Unit(), self.services.clock(), ticket=ticket)
            self.batcher.start(ticket)
            try:
                result = await action(ctx)
            except BaseException:
                self.batcher.abandon(ticket)
                raise
            await self.batcher.commit(ticket, ctx.unit)
        self._committed(ctx.unit)
        if not ctx.unit.empty:
            self._wake.set()
        return result

    async def wait_for(self, uetr: str, states: tuple[str, ...], timeout_s: float) -> str:
        """Wait until this node records the payment in one of `states`; return the state."""
        found = self.store.payment(uetr)
        if found is not None and found[0] in states:
            return found[0]
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(uetr, []).append((states, future))
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            found = self.store.payment(uetr)
            raise TimeoutError(f"payment {uetr} still {found[0] if found else None!r} at {self.bic}") from None
        finally:
            waiting = self._waiters.get(uetr, [])
            if (states, future) in waiting:
                waiting.remove((states, future))
            if not waiting:
                self._waiters.pop(uetr, None)

    def _committed(self, unit: Unit) -> None:
        """Wake whoever waits for a payment state this unit just made durable."""
        if not self._waiters:
            return
        for uetr, (state, _, _) in unit.payments.items():
            for states, future in self._waiters.get(uetr, []):
                if state in states and not future.done():
                    future.set_result(state)

    def has_unsent(self) -> bool:
        """Whether the outbox holds a message the relay has not handed to the transport yet."""
        return bool(self.store.unsent(1, after=self._published_through))

    def busy(self) -> bool:
        """Whether a message or action is being handled, or one is still to be sent: the node is not quiet."""
        return self.batcher.running > 0 or self.has_unsent()

    def _lock(self, key: str) -> KeyHold:
        return self._locks.hold(key)

    # -- receiving ------------------------------------------------------------------------------------------------

    async def _on_delivery(self, delivery: Delivery) -> None:
        # Counted from its arrival among the runs the node's open batch may wait for (node/batching.py), so that at
        # load the messages of a transport's whole fetch can share documents.
        ticket = self.batcher.ticket()
        self.batcher.start(ticket)
        try:
            await self._receive(delivery, ticket)
        finally:
            self.batcher.settle(ticket)

    async def _receive(self, delivery: Delivery, ticket: Ticket) -> None:
        now = self.services.clock()
        try:
            opened = open_envelope(delivery.data, self.services.directory, self.bic, now_ns=now)
        except EnvelopeRejected as exc:
            await self._refuse(exc, exc.header if exc.authenticated else None, delivery)
            return
        except XmlRejected as exc:
            await self._refuse(exc, None, delivery)
            return
        header = opened.header
        # The inbox before the clock: a message processed before is acknowledged as the duplicate it is, however
        # old; only one never seen is judged by its age (a replay from outside the inbox's memory).
        known = self.store.inbox_digest(header.sender_bic, header.message_id)
        if known is not None:
            if known == opened.digest:
                self.duplicates += 1
                return
            await self._refuse(
                EnvelopeRejected("replay", f"message id {header.message_id} was used before for other content"),
                None,
                delivery,
            )
            return
        try:
            self._check_freshness(opened, now)
        except EnvelopeRejected as exc:
            await self._refuse(exc, None, delivery)
            return
        try:
            messages = opened.messages()
        except MessageError as exc:
            await self._refuse(exc, header, delivery, opened)
            return
        messages = [m for message in messages for m in expand_group_status(message, self.store.uetrs_sent)]
        keys = [self.role.key_of(message) for message in messages]
        if len(set(keys)) != len(keys):
            # Two transactions of one payment in one envelope (bulk.read refuses a bulk document with a UETR twice;
            # this catches keys that are not UETRs): read in one unit, the second would not see the first.
            error = MessageError("duplicate", "two transactions of one payment in one message", code="AM05")
            await self._refuse(error, header, delivery, opened)
            return
        envelope = Unit()
        envelope.record_inbox(
            header.sender_bic, header.message_id, opened.digest, opened.message_type, iso_time(now), "processed"
        )
        async with contextlib.AsyncExitStack() as locks:
            # Every lock of the envelope, in one order for all envelopes, before joining a batch: a batch waits
            # without bound only for runs that joined it, which hold their locks already, so no deadlock (it waits
            # for runs still taking theirs at most LINGER_S).
            for key in sorted(keys):
                await locks.enter_async_context(self._lock(key))

            async def run(part: int, message: Message) -> None:
                unit = Unit()
                try:
                    await self.role.handle(Context(self.services, unit, now, ticket=ticket), header, message)
                except Exception as exc:
                    # This transaction alone waits for another run; the envelope's others go on (bulk.py).
                    log.exception("handler failed at %s for %s part %d; parked", self.bic, header.message_id, part)
                    envelope.parked.append(_parked_row(header, part, message, 1, now, exc))
                else:
                    envelope.absorb(unit)

            try:
                # One after another: handlers apply their ledger transfers inline and wait for nothing else, so a
                # task each (as they had while every ledger call waited for a commit) would only add its cost.
                for part, message in enumerate(messages):
                    await run(part, message)
                await self.batcher.commit(ticket, envelope)
            except DuplicateMessage:
                self.duplicates += 1
                return
            except BaseException:
                self.batcher.abandon(ticket)
                raise
        self._committed(envelope)
        self.processed += len(messages) - len(envelope.parked)
        if envelope.outbox or envelope.pending:
            self._wake.set()

    async def _run_parked(self, parked: ParkedMessage) -> None:
        """Run a parked transaction's handler again; on success its effects and the parked row's removal commit
        together, on failure it waits longer (PARK_RETRY_NS, doubling)."""
        header = AppHeader.from_element(parse_xml(parked.header))
        message = MODELS[parked.message_type].from_element(parse_xml(parked.document))
        now = self.services.clock()
        async with self._lock(self.role.key_of(message)):
            ctx = Context(self.services, Unit(), now)
            try:
                await self.role.handle(ctx, header, message)
            except Exception as exc:
                log.exception("parked %s part %d failed again at %s", parked.message_id, parked.part, self.bic)
                retry = Unit()
                retry.parked.append(_parked_row(header, parked.part, message, parked.attempts + 1, now, exc))
                await self.services.commit(retry)
                return
            ctx.unit.unpark = (parked.sender, parked.message_id, parked.part)
            await self.services.commit(ctx.unit)
        self._committed(ctx.unit)
        self.processed += 1
        self._wake.set()

    def _check_freshness(self, opened: OpenedMessage, now: int) -> None:
        created = int(opened.header.created.timestamp() * 1_000_000) * 1000
        if created < now - REPLAY_WINDOW_NS:
            raise EnvelopeRejected(
                "replay", f"message {opened.header.message_id} was created {iso_time(created)}, too long ago"
            )
        if created > now + CLOCK_SKEW_NS:
            raise EnvelopeRejected(
                "clock", f"message {opened.header.message_id} is dated in the future ({iso_time(created)})"
            )

    async def _refuse(
        self, error: XmlRejected, header: AppHeader | None, delivery: Delivery, opened: OpenedMessage | None = None
    ) -> None:
        """Record the refusal; answer only a proven sender, and mark its message processed so it is answered once."""
        self.refused += 1
        ctx = self.context()
        sender = header.sender_bic if header else None
        ctx.unit.reject(ctx.at, sender, header.message_id if header else delivery.message_id, error.reason, str(error))
        log.warning("refused message %s from %s: %s", delivery.message_id, sender or "unproven sender", error)
        if header is not None:
            digest = opened.digest if opened is not None else b"refused"
            ctx.unit.record_inbox(header.sender_bic, header.message_id, digest, header.message_type, ctx.at, "refused")
            await self.role.on_refused(ctx, header, error)
        with contextlib.suppress(DuplicateMessage):
            await self.services.commit(ctx.unit)
        self._wake.set()

    # -- timers and relay -----------------------------------------------------------------------------------------

    async def _timers(self) -> None:
        while True:
            await asyncio.sleep(TIMER_PERIOD_S)
            try:
                tick = getattr(self.role, "on_tick", None)
                if tick is not None:
                    await self.run(tick)  # in a batch, so the statuses a tick sends share bulk documents
                for parked in self.store.due_parked(self.services.clock()):
                    await self._run_parked(parked)
                for uetr in self.store.due_payments(self.services.clock()):
                    async with self._lock(uetr):
                        ctx = self.context()
                        await self.role.on_deadline(ctx, uetr)
                        await self.services.commit(ctx.unit)
                    self._committed(ctx.unit)
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("timer pass failed at %s; retrying", self.bic)

    async def _relay(self) -> None:
        """Publish the outbox in order until the transport accepts each message.

        Which rows went out is kept in memory (`after`) and written to the store only every MARK_SENT_S or
        MARK_SENT_ROWS rows, in a transaction of its own that nothing waits for: a row published but not yet marked
        is only published again after a restart, and the transport's deduplication or the receiver's inbox drops
        it, so a commit per relay pass would buy nothing. (`has_unsent` answers from memory for the same reason.)"""
        unmarked: list[int] = []
        marked_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await self._wake_or_timeout(0.5)
            try:
                while rows := self.store.unsent(256, after=self._published_through):
                    await self.transport.publish_many([(row.recipient, row.message_id, row.data) for row in rows])
                    self._published_through = rows[-1].seq
                    unmarked.extend(row.seq for row in rows)
                if unmarked and (len(unmarked) >= MARK_SENT_ROWS or loop.time() - marked_at >= MARK_SENT_S):
                    self.store.mark_sent(unmarked, iso_time(self.services.clock()))
                    unmarked, marked_at = [], loop.time()
            except TransportError as exc:
                log.warning("transport refused a message from %s (%s); the outbox keeps it", self.bic, exc)
                await asyncio.sleep(0.5)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay pass failed at %s; retrying", self.bic)
                await asyncio.sleep(0.5)

    async def _wake_or_timeout(self, seconds: float) -> None:
        # asyncio.timeout rather than asyncio.wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives just as the event is set (CPython gh-86296), and stop() would then wait forever for the relay.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    async def _republish_all(self) -> None:
        """After a restart on a transport that kept nothing, send the whole outbox again; inboxes drop duplicates."""
        after = 0
        while rows := self.store.unsent(1024, after=after, include_sent=True):
            for row in rows:
                await self.transport.publish(row.recipient, row.message_id, row.data)
            after = rows[-1].seq
