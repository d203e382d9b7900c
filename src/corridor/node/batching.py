"""A node's group commit of handler runs, which is also where its bulk messages are merged and sealed.

Why a batch at all: the store and the ledger already group-commit, but a payment's messages were sealed one by one
by each handler run. Committing the runs together lets the pacs.008s and pacs.002s they send to one recipient
travel as one bulk document (network/bulk.py), paying for a signature, a schema check, a parse, an inbox and an
outbox row, and a transport message once per document instead of once per payment.

How: a run joins the open batch when it first sends a bulk message (or when it commits, if it sent none), and
is handed the id of the document its message will travel in. One batch commits at a time; the batch that was open
meanwhile closes when that commit ends (or, while other runs of the node are in progress, up to LINGER_S after its
first run joined), and flushes once every run that joined it has handed in its unit (or given up). The flush is
one store transaction (store.BatchUnit): the units, each all or nothing, then, from the units that applied only,
the bulk documents put in the outbox in the order their ids were handed out. The documents are sealed before the
transaction for the usual case of every unit applying, and sealed again inside it, from those that did, when one
did not (a duplicate delivery).
A run's unit, its ledger effects aside, is therefore durable with the documents that carry its messages, or not
at all; a run whose commit failed has its ids go unused, and its retry sends new documents.

Limits: a document holds at most bulk.MAX_TXS transactions, never two of one payment (a new document is started
instead), and one batch waits for its slowest run, so a run must not join (send) before its slow work is done.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from dataclasses import dataclass, field

from corridor.handoff import settle
from corridor.iso20022.models.common import Message
from corridor.network import bulk
from corridor.network.context import NodeServices, Ticket, app_header, iso_time, new_message_id
from corridor.network.envelope import seal
from corridor.network.store import BatchUnit, OutboxValues, Unit

LINGER_S = 0.05
"""How long an open batch may wait, from its first run, for the node's other runs in progress to join it."""
SEAL_TIMEOUT_S = 30
"""How long the store's writer waits, inside its transaction, for the event loop to seal a batch's documents: a
loop that has stopped (a node closing) must not hold the writer forever."""


@dataclass(slots=True)
class _Document:
    id: str
    count: int = 0
    uetrs: set[str] = field(default_factory=set)


class _Batch:
    """The handler runs whose units commit together, and the bulk documents their messages travel in."""

    __slots__ = (
        "bic",
        "closed",
        "documents",
        "entries",
        "flushing",
        "joined",
        "order",
        "sealed_documents",
        "sealed_transactions",
        "started",
        "timer",
    )

    def __init__(self, bic: str) -> None:
        self.bic = bic
        self.documents: dict[tuple[str, str, str], _Document] = {}
        self.order: dict[str, int] = {}
        self.joined = 0
        self.entries: list[tuple[Unit, asyncio.Future[None]]] = []
        self.closed = False
        self.flushing = False
        self.started = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.sealed_documents = 0
        self.sealed_transactions = 0

    def allocate(self, recipient: str, message: Message, uetr: str) -> str:
        kind, method = bulk.group_key(message)
        key = (recipient, kind, method)
        document = self.documents.get(key)
        if document is None or document.count >= bulk.MAX_TXS[kind] or uetr in document.uetrs:
            document = self.documents[key] = _Document(new_message_id(self.bic))
            self.order[document.id] = len(self.order)
        document.count += 1
        document.uetrs.add(uetr)
        return document.id


class Batcher:
    """One node's batches: see the module's docstring."""

    def __init__(self, services: NodeServices) -> None:
        self.services = services
        self.open = _Batch(self.services.bic)
        self.busy = False
        self.running = 0
        self.task: asyncio.Task[None] | None = None
        self.batches = 0
        self.documents = 0
        self.transactions = 0

    def ticket(self) -> Ticket:
        return Ticket(self._join)

    def start(self, ticket: Ticket) -> None:
        """`ticket`'s run is working: an open batch may wait for it to join (LINGER_S at most)."""
        assert not ticket.running and ticket.batch is None
        ticket.running = True
        self.running += 1

    def settle(self, ticket: Ticket) -> None:
        """`ticket`'s run has ended, committed or not: no batch waits for it any more."""
        self._stopped(ticket)

    def _stopped(self, ticket: Ticket) -> None:
        if ticket.running:
            ticket.running = False
            self.running -= 1
            if self.running == 0:
                self._advance(self.open)

    def _join(self, ticket: Ticket) -> _Batch:
        batch = self.open
        if batch.joined == 0:
            batch.started = asyncio.get_running_loop().time()
        batch.joined += 1
        ticket.batch = batch
        self._stopped(ticket)
        return batch

    async def commit(self, ticket: Ticket, unit: Unit) -> None:
        """Commit `unit` with the batch `ticket` joined (joining the open one if it sent nothing)."""
        if ticket.batch is None:
            self._join(ticket)
        batch = ticket.batch
        assert isinstance(batch, _Batch) and not ticket.handed_in
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        batch.entries.append((unit, future))
        ticket.handed_in = True
        self._advance(batch)
        await future

    def abandon(self, ticket: Ticket) -> None:
        """A run that will not commit: the batch it joined, or the open one, no longer waits for it (its ids go
        unused)."""
        self._stopped(ticket)
        batch = ticket.batch
        if batch is None or ticket.handed_in:
            # Handed in already (say its run was cancelled while waiting for the commit): the batch counts on its
            # entry, and commits it or answers its cancelled future.
            return
        assert isinstance(batch, _Batch)
        ticket.batch = None
        batch.joined -= 1
        self._advance(batch)

    def _advance(self, batch: _Batch) -> None:
        if batch is self.open and not self.busy and batch.joined:
            # Nagle's trade: while other runs are still working, a few milliseconds more let their messages share
            # this batch's documents; when none is, there is nothing to wait for.
            loop = asyncio.get_running_loop()
            wait = batch.started + LINGER_S - loop.time()
            if self.running and wait > 0:
                if batch.timer is None:
                    batch.timer = loop.call_later(wait, self._advance, batch)
                return
            batch.closed = True
            self.open = _Batch(self.services.bic)
        if batch.closed and not batch.flushing and len(batch.entries) == batch.joined:
            batch.flushing = True
            self.busy = True
            self.task = asyncio.get_running_loop().create_task(self._flush(batch))

    async def _flush(self, batch: _Batch) -> None:
        try:
            if batch.entries:
                await self._commit(batch)
        finally:
            self.busy = False
            if self.open.joined:
                self._advance(self.open)

    async def _commit(self, batch: _Batch) -> None:
        loop = asyncio.get_running_loop()

        def seal_on_loop(applied: list[Unit]) -> tuple[list[OutboxValues], list[tuple[str, str]]]:
            # Called by the store's writer inside the transaction once it knows which units applied. The sealing
            # runs on the event loop, where every other use of lxml's schemas is, while the writer waits.
            done: concurrent.futures.Future[tuple[list[OutboxValues], list[tuple[str, str]]]]
            done = concurrent.futures.Future()

            def work() -> None:
                try:
                    done.set_result(self._seal(batch, applied))
                except BaseException as exc:  # handed to the writer, which fails the whole batch
                    done.set_exception(exc)

            loop.call_soon_threadsafe(work)
            return done.result(timeout=SEAL_TIMEOUT_S)

        entries = batch.entries
        units = [unit for unit, _ in entries]
        if all(unit.empty for unit in units):
            # Runs that recorded nothing (a central bank's tick with nothing due, ten times a second): their ledger
            # effects, if any, are made durable before they are answered, but no store transaction is opened.
            failed: Exception | None = None
            try:
                await self.services.ledger.aflush()
            except Exception as exc:
                failed = exc
            for _, future in entries:
                settle(future, None, failed)
            return
        # Sealed here, for the case of every unit applying, which is all but always; the writer calls back for the
        # units that did apply only if one did not (a duplicate delivery), so that no document carries its messages.
        try:
            sealed = self._seal(batch, units)
        except Exception as exc:
            for _, future in entries:
                if not future.done():
                    future.set_exception(exc)
            return
        unit = BatchUnit(units, seal_on_loop, sealed=sealed)
        try:
            await self.services.commit(unit)
        except Exception as exc:
            for _, future in entries:
                if not future.done():
                    future.set_exception(exc)
            return
        self.batches += 1
        self.documents += batch.sealed_documents
        self.transactions += batch.sealed_transactions
        for (_, future), outcome in zip(entries, unit.outcomes, strict=True):
            settle(future, None, outcome)

    def _seal(self, batch: _Batch, applied: list[Unit]) -> tuple[list[OutboxValues], list[tuple[str, str]]]:
        groups: dict[str, tuple[str, list[Message], list[str | None]]] = {}
        for unit in applied:
            for document_id, recipient, message, uetr in unit.pending:
                group = groups.setdefault(document_id, (recipient, [], []))
                group[1].append(message)
                group[2].append(uetr)
        services = self.services
        now = services.clock()
        at = iso_time(now)
        rows: list[OutboxValues] = []
        uetr_rows: list[tuple[str, str]] = []
        for document_id in sorted(groups, key=batch.order.__getitem__):
            recipient, messages, uetrs = groups[document_id]
            kind = messages[0].MESSAGE_TYPE
            header = app_header(services.bic, recipient, document_id, kind, now)
            data = seal(header, bulk.merge(document_id, messages), services.key)
            if len(messages) == 1:
                rows.append((document_id, recipient, kind, uetrs[0], data, at))
            else:
                rows.append((document_id, recipient, kind, None, data, at))
                uetr_rows.extend((document_id, uetr) for uetr in _payments(messages))
        batch.sealed_documents = len(rows)
        batch.sealed_transactions = sum(len(group[1]) for group in groups.values())
        return rows, uetr_rows


def _payments(messages: list[Message]) -> list[str]:
    found = [bulk.bulk_uetr(message) for message in messages]
    return [uetr for uetr in found if uetr is not None]
