"""What every transport promises, so that a node runs unchanged in-process or over NATS JetStream.

A transport moves opaque bytes to a participant's durable inbox queue; it knows nothing of what it carries. The
promises are at-least-once delivery and per-message acknowledgement: a message whose handler raised, or whose
handler was never reached because the process died, is delivered again. Exactly-once *effect* is not the
transport's job: the receiving node's inbox drops what it has already processed (network/store.py, node/runtime.py).

`publish` de-duplicates by `message_id` where the transport can (JetStream's Nats-Msg-Id window); a duplicate that
slips through is still harmless.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message handed to a participant's handler."""

    recipient: str
    message_id: str
    data: bytes
    attempt: int
    """1 on first delivery, then 2, 3 ... on redeliveries."""


Handler = Callable[[Delivery], Awaitable[None]]
"""Returns normally to acknowledge; raises to have the message delivered again later."""


class TransportError(RuntimeError):
    """The transport could not accept a message durably; the caller keeps it (the outbox retries)."""


class Transport(Protocol):
    durable: bool
    """True when an accepted message survives the crash of this process (JetStream); False in-process."""

    async def start(self) -> None: ...

    async def publish(self, recipient: str, message_id: str, data: bytes) -> None:
        """Return once the message is accepted (durably when `durable`); raise TransportError otherwise."""
        ...

    async def publish_many(self, messages: Sequence[tuple[str, str, bytes]]) -> None:
        """Publish (recipient, message_id, data) in order, returning once every one is accepted.

        A transport pipelines them where it can (one round trip for the batch rather than one each); on
        TransportError some may have been accepted, and the caller publishes them again (de-duplicated).
        """
        ...

    async def subscribe(self, recipient: str, handler: Handler) -> None:
        """Deliver `recipient`'s messages to `handler`, started in arrival order, several at once.

        Handlers run concurrently (a bounded number in flight) so that the node's group commits can batch them;
        a node that needs order within one payment serializes those messages itself.
        """
        ...

    async def close(self) -> None: ...
