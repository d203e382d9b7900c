"""What a participant's role sees of its node while it handles one message: ledger, records, outbox, clock.

A role (a bank, a central bank's RTGS, an FX provider) is written as handlers that take a Context. Everything a
handler changes in the node's records goes into the context's Unit and is committed in one transaction after the
handler returns; messages it sends go into the outbox in that same transaction. Ledger transfers are made at once,
with ids derived from the payment and the step (`ledger_id`), so a handler run twice after a crash finds its
transfers already there (`exists`) rather than moving money twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from corridor.compliance.audit import AuditTrail
from corridor.iso20022.models.common import Message
from corridor.iso20022.models.header import AppHeader
from corridor.ledger import CreateTransferResult, Ledger, Transfer, TransferFlags
from corridor.network.bulk import bulk_uetr
from corridor.network.directory import Directory
from corridor.network.envelope import read_sealed, seal
from corridor.network.identity import SigningKey
from corridor.network.store import NodeStore, Unit
from corridor.sqlwriter import GroupWriter

ID_MASK = (1 << 127) - 1


def ledger_id(*parts: str) -> int:
    """A ledger id (u128, never 0) that the same parts always give: the ledger's idempotency does the rest."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return (int.from_bytes(digest[:16], "big") & ID_MASK) or 1


_ID_PROCESS = secrets.token_hex(8).upper()
_ID_SEQUENCE = itertools.count()


def utc_time(ns: int) -> datetime:
    """A node clock reading as an aware datetime, to the microsecond (what ISO 20022 timestamps carry)."""
    return datetime.fromtimestamp(ns // 1000 / 1e6, UTC)


def app_header(
    sender: str, recipient: str, message_id: str, message_type: str, now_ns: int, related: AppHeader | None = None
) -> AppHeader:
    """The Business Application Header of a message this node sends (with the message it answers, if any)."""
    return AppHeader(
        sender_bic=sender,
        recipient_bic=recipient,
        message_id=message_id,
        message_type=message_type,
        created=utc_time(now_ns),
        business_service="corridor.xbct",
        related_message_id=None if related is None else related.message_id,
        related_message_type=None if related is None else related.message_type,
        related_created=None if related is None else related.created,
    )


def new_message_id(bic: str) -> str:
    """A message id no other message of this sender has: 4 letters of the BIC, 64 random bits drawn once per process,
    and a counter (32 characters; MsgId allows 35). A random id per message cost a system call each."""
    return f"{bic[:4]}{_ID_PROCESS}{next(_ID_SEQUENCE):012X}"


def uetr_for(idempotency_key: str) -> str:
    """A UUID v4-shaped UETR from a client's idempotency key, so the same request names the same payment."""
    digest = bytearray(hashlib.sha256(b"corridor-uetr|" + idempotency_key.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x40
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


def iso_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Clock(Protocol):
    def __call__(self) -> int: ...


@dataclass
class NodeServices:
    """The parts of a node that outlive one message."""

    bic: str
    key: SigningKey
    directory: Directory
    ledger: Ledger
    store: NodeStore
    clock: Clock
    config: dict[str, Any] = field(default_factory=dict)
    data_dir: Path | None = None
    """The node's folder, where a role keeps files of its own beside the node's."""
    records: GroupWriter | None = None
    """The node's compliance database (compliance/desk.py open_records): a bank's desk keeps its cases there."""
    audit: AuditTrail | None = None
    """The node's hash-chained audit trail of privileged actions, in `records`."""
    reservations: dict[int, Transfer] = field(default_factory=dict)
    """Pending transfers this node made and has not resolved yet, as it made them, most recent last (at most
    RESERVATIONS_MAX): resolving one needs its accounts and amount, and reading them back from the ledger on the
    event loop cost more than the resolution. A restarted node reads them from the ledger."""

    async def record_action(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> None:
        """Put a privileged action (a manual posting, a card's status, a reviewer's decision) in the audit trail."""
        if self.audit is not None:
            await self.audit.record(iso_time(self.clock()), actor, action, subject, details)

    async def commit(self, unit: Unit) -> None:
        """Make durable what the handlers applied to the ledger, then `unit`, which records what followed from it.

        Handlers apply their transfers inline (Context.transfers): the results come at once and the effects are
        durable only after a flush. The records, the inbox entry and the messages sent must never be durable
        before the ledger effects they follow from, so every commit of the node's store comes after one. (Having
        the store's writer wait for the ledger's commit instead, one hand-off fewer, measured ~7% slower: the
        ledger and the store no longer committed side by side.)"""
        await self.ledger.aflush()
        await self.store.commit(unit)


class TransferFailed(Exception):
    """A ledger transfer the handler needed was refused; `result` is the ledger's own result name."""

    def __init__(self, result: CreateTransferResult) -> None:
        super().__init__(result.name)
        self.result = result


SUCCESS = (CreateTransferResult.ok, CreateTransferResult.exists)
RESERVATIONS_MAX = 200_000
_PENDING = int(TransferFlags.PENDING)
_BALANCING = int(TransferFlags.BALANCING_DEBIT | TransferFlags.BALANCING_CREDIT)
_ALREADY_RESOLVED = (
    CreateTransferResult.pending_transfer_already_posted,
    CreateTransferResult.pending_transfer_already_voided,
    CreateTransferResult.pending_transfer_expired,
)


class SendBatch(Protocol):
    """A node's open batch of handler runs (node/runtime.py, Batcher), seen from a handler run."""

    def allocate(self, recipient: str, message: Message, uetr: str) -> str:
        """The id of the bulk document `message` will travel in."""
        ...


@dataclass(slots=True)
class Ticket:
    """A handler run's (or one envelope's) place in its node's send batch.

    It joins the batch open when it first sends a bulk message, and its unit must then commit with that batch,
    since the ids it was handed are those of that batch's bulk documents."""

    join: Callable[[Ticket], SendBatch]
    batch: SendBatch | None = None
    running: bool = False
    """Counted among the node's runs in progress, which an open batch waits for a little (node/batching.py)."""
    handed_in: bool = False
    """Its unit is in its batch's entries: the batch commits it, whatever happens to the run now."""

    def allocate(self, recipient: str, message: Message, uetr: str) -> str:
        if self.batch is None:
            self.batch = self.join(self)
        return self.batch.allocate(recipient, message, uetr)


@dataclass
class Context:
    services: NodeServices
    unit: Unit
    now_ns: int
    sent: list[tuple[str, str]] = field(default_factory=list)
    ticket: Ticket | None = None
    _now: datetime | None = field(default=None, init=False, repr=False)
    _at: str | None = field(default=None, init=False, repr=False)

    @property
    def bic(self) -> str:
        return self.services.bic

    @property
    def ledger(self) -> Ledger:
        return self.services.ledger

    @property
    def now(self) -> datetime:
        now = self._now
        if now is None:
            now = self._now = utc_time(self.now_ns)
        return now

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def at(self) -> str:
        """The handler's time as every record of its unit carries it, formatted once (a handler writes several;
        functools.cached_property would take a lock on every read on Python 3.11)."""
        at = self._at
        if at is None:
            at = self._at = iso_time(self.now_ns)
        return at

    def new_message_id(self) -> str:
        return new_message_id(self.bic)

    def send(
        self,
        recipient: str,
        message: Message,
        *,
        uetr: str | None = None,
        related: AppHeader | None = None,
        possible_duplicate: bool = False,
    ) -> str:
        """Seal `message` for `recipient` and put it in the outbox of this handler's transaction; return its id.

        In a batched run (a ticket), a pacs.008 or a pacs.002 for a payment is only recorded here: the node's batch
        seals it in one bulk document with the others of its recipient and type (network/bulk.py), and the id
        returned is that document's, which is what an answer will name as the original message. A possible duplicate
        (a payment's chase, network/chase.py) travels alone: the flag is its header's, for that one payment."""
        alone = related is not None or possible_duplicate
        payment = bulk_uetr(message) if self.ticket is not None and not alone else None
        if self.ticket is not None and payment is not None:
            document_id = self.ticket.allocate(recipient, message, payment)
            self.unit.pending.append((document_id, recipient, message, uetr))
            self.sent.append((recipient, message.MESSAGE_TYPE))
            return document_id
        message_id: str = message.message_id if hasattr(message, "message_id") else message.assignment_id  # type: ignore[attr-defined]
        header = app_header(self.bic, recipient, message_id, message.MESSAGE_TYPE, self.now_ns, related)
        if possible_duplicate:
            header = dataclasses.replace(header, possible_duplicate=True)
        data = seal(header, message.to_element(), self.services.key)
        self.unit.enqueue(message_id, recipient, message.MESSAGE_TYPE, uetr, data, self.at)
        self.sent.append((recipient, message.MESSAGE_TYPE))
        return message_id

    def resend(self, message_id: str, uetr: str) -> str | None:
        """Send payment `uetr`'s part of message `message_id` (sent before by this node) again, alone, as a possible
        duplicate with an id of its own; return that id, or None if this node has no such message for the payment.

        A bulk document is not sent again whole: the receiver would answer again for every payment in it."""
        row = self.services.store.outbox_row(message_id)
        if row is None:
            return None
        messages = read_sealed(row.data)
        for message in messages:
            if len(messages) == 1 or bulk_uetr(message) == uetr:
                again = dataclasses.replace(message, message_id=self.new_message_id(), created=self.now)  # type: ignore[type-var]
                return self.send(row.recipient, again, uetr=uetr, possible_duplicate=True)
        return None

    def event(self, uetr: str, status: str, detail: str, reason: str | None = None) -> None:
        self.unit.event(uetr, self.at, self.bic, status, reason, detail)

    def save(self, uetr: str, state: str, data: dict[str, Any], *, deadline_ns: int | None = None) -> None:
        data["state"] = state
        self.unit.put_payment(uetr, state, deadline_ns, data, self.at)

    async def transfers(self, batch: Sequence[Transfer]) -> list[CreateTransferResult]:
        """Apply a batch (linked or not) and return one result per event; `exists` means done before.

        Applied inline, on the event loop: durable with the next flush, which comes before the store commit of this
        handler's unit (NodeServices.commit), so nothing that follows from these results outlives a crash that
        loses them."""
        results = self.ledger.apply_transfers(batch)
        reservations = self.services.reservations
        for transfer, result in zip(batch, results, strict=True):
            # A balancing transfer's stored amount may be less than asked: only exact reservations are remembered.
            flags = int(transfer.flags)
            if flags & _PENDING and not flags & _BALANCING and result in SUCCESS:
                reservations[transfer.id] = transfer
                if len(reservations) > RESERVATIONS_MAX:
                    del reservations[next(iter(reservations))]
        return results

    async def transfer(self, *batch: Transfer) -> None:
        """Apply a batch that must succeed as a whole; raise TransferFailed with the refusal that caused the failure.

        In a linked chain every other event reports `linked_event_failed`; the cause (say the spread leg's
        `exceeds_credits`) is what the payer must be told, so it is preferred over the echo.
        """
        refusals = [result for result in await self.transfers(batch) if result not in SUCCESS]
        if refusals:
            causes = [r for r in refusals if r is not CreateTransferResult.linked_event_failed]
            raise TransferFailed((causes or refusals)[0])

    async def void_if_pending(self, pending_id: int) -> bool:
        """Void a reservation made by a handler run that died before recording it (its id is derived, so it can be
        found without a record); True if there was one."""
        left = self.ledger.view_transfer(pending_id)
        if left is None or not left.flags & TransferFlags.PENDING:
            return False
        await self.resolve(pending_id, post=False, step="void")
        return True

    def resolution_id(self, pending_id: int, step: str) -> int:
        return ledger_id(self.bic, str(pending_id), step)

    async def resolve(self, pending_id: int, *, post: bool, step: str) -> bool:
        """Post or void a pending transfer; return True if it ended posted, whichever decision reached it first.

        The ledger resolves a pending transfer at most once, so it is the durable record of a two-phase decision:
        a timer that voids and a message that posts cannot both win, and whoever comes second learns the outcome.
        """
        pending = self.services.reservations.get(pending_id) or self.ledger.view_transfer(pending_id)
        if pending is None:
            raise LookupError(f"pending transfer {pending_id} not found")
        flag = TransferFlags.POST_PENDING_TRANSFER if post else TransferFlags.VOID_PENDING_TRANSFER
        resolution = Transfer(
            id=self.resolution_id(pending_id, step),
            debit_account_id=pending.debit_account_id,
            credit_account_id=pending.credit_account_id,
            amount=pending.amount,
            pending_id=pending_id,
            ledger=pending.ledger,
            code=pending.code,
            flags=flag,
            user_data_128=pending.user_data_128,
        )
        (result,) = await self.transfers([resolution])
        if result in SUCCESS or result in _ALREADY_RESOLVED:
            self.services.reservations.pop(pending_id, None)
        if result in SUCCESS:
            return post
        if result == CreateTransferResult.pending_transfer_already_posted:
            return True
        if result in (
            CreateTransferResult.pending_transfer_already_voided,
            CreateTransferResult.pending_transfer_expired,
        ):
            return False
        if result == CreateTransferResult.exists_with_different_flags:
            return not post
        raise TransferFailed(result)
