"""The distributed transport: each participant's inbox is a durable JetStream consumer.

Retention is *work-queue*: a message is an instruction addressed to exactly one participant, so once that
participant acknowledges it nothing is gained by keeping it, and the stream's disk use stays bounded by the backlog
rather than by history (the ledgers, not the transport, are the record). Work-queue retention also makes the server
refuse a second, differently named consumer whose filter overlaps an existing one, so a misconfigured subject is a
loud error rather than a participant's messages silently split between two inboxes. Limits retention would need a
max-age and would keep every message on disk for replay nobody does.

Each participant gets one durable pull consumer named after it. Pulling (rather than push) lets the loop decide how
much it takes: it starts handlers in arrival order, at most `max_in_flight` at once (the node's group commits batch
them; it serializes the messages of one payment itself), and it survives a server restart by simply fetching again.
Handlers are acknowledged with the fire-and-forget `ack`, not `ack_sync`: a lost ack only causes a redelivery after
`ack_wait`, which the receiving inbox drops as a duplicate, while `ack_sync` would add a server round trip to every
message and hold its slot for that long.

A handler that raises is `nak`ed with a delay growing with the attempt number, so a poison message does not spin,
and it comes back behind later messages (as in the in-process transport).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import string
from collections.abc import Awaitable, Callable, Sequence

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RawStreamMsg,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from corridor.network.transport import bundle
from corridor.network.transport.base import Delivery, Handler, TransportError

log = logging.getLogger(__name__)

MSG_ID_HEADER = "Nats-Msg-Id"
BUNDLE_HEADER = "Corridor-Bundle"
"""On a message that is a bundle (bundle.py): how many envelopes it holds."""
FETCH_BATCH = 64
FETCH_TIMEOUT_S = 1.0
"""Long-poll length of one fetch; the server answers as soon as a message arrives, so this bounds only how long an
idle loop takes to notice it was cancelled or that the connection came back."""
FETCH_INTERVAL_S = 0.025
"""Least time between two fetches under load (the last one found several messages but not a full batch): a wake-up
of a process costs tens of microseconds on this machine and a fetch several messages to and from the server, so at
moderate load taking what arrived in 25 ms at once costs far less than taking each message as it comes, for at most
25 ms more per hop (docs/benchmarks.md has the measurements that chose it)."""
MAX_IN_FLIGHT = 256
"""Handlers one participant runs at once, as in the in-process transport: the node's group commits batch them and
it serializes the messages of one payment itself. 1 gives strictly sequential handling."""
MAX_ACK_PENDING = 1000
"""Bounds what the server hands out unacknowledged per participant, so a stalled consumer cannot pin the stream."""
REDELIVERY_DELAY_S = 0.05
"""The nak delay grows linearly with the attempt (capped at 20 steps), like the in-process transport's."""
MIN_BACKOFF_S = 0.1
MAX_BACKOFF_S = 2.0
CONNECT_TIMEOUT_S = 5.0
REQUEST_TIMEOUT_S = 5.0
JETSTREAM_READY_TIMEOUT_S = 60.0
"""How long `start` and `subscribe` keep asking JetStream's API when a connected server does not answer it. A cluster
that has just lost a server answers no API request until it has elected new leaders (about ten seconds on nats-server
2.9, found by `corridor chaos`), and a node started meanwhile (say, restarted after its own crash) should wait for
that rather than exit."""
_JETSTREAM_NOT_READY = (nats.errors.TimeoutError, nats.errors.NoRespondersError, nats.js.errors.ServiceUnavailableError)
"""What JetStream's API raises while the cluster has no leader for the request: worth asking again."""
STRANDED_SWEEP_S = 30.0
"""How often each subscription looks for its stranded messages (`_sweep`); 0 never."""
MAX_REPLICAS = 5
"""JetStream's own bound on a stream's replicas."""
STREAM_NAME_IN_USE = 10058
"""JetStream's err_code for creating a stream that exists with another configuration."""

_SUBJECT_SAFE = frozenset(string.ascii_letters + string.digits + "-_")

_NatsFailure = (nats.errors.Error, asyncio.TimeoutError, OSError)
"""What a connection or JetStream API call raises when the server is slow, gone or says no."""


def subject_token(recipient: str) -> str:
    """Map a participant name to one subject token that is also a valid consumer name.

    Characters outside [A-Za-z0-9_-] (dots and wildcards would change the subject's meaning) become `~XX` per UTF-8
    byte; `~` itself is escaped too, so two names never share a token.
    """
    if not recipient:
        raise ValueError("recipient must not be empty")
    return "".join(ch if ch in _SUBJECT_SAFE else "".join(f"~{b:02X}" for b in ch.encode()) for ch in recipient)


class NatsTransport:
    durable = True

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        *,
        stream: str = "CORRIDOR",
        subject_prefix: str = "corridor.inbox",
        ack_wait_s: float = 5.0,
        max_deliver: int = -1,
        duplicate_window_s: float = 120.0,
        redelivery_delay_s: float = REDELIVERY_DELAY_S,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        max_in_flight: int = MAX_IN_FLIGHT,
        fetch_interval_s: float = FETCH_INTERVAL_S,
        replicas: int = 1,
        jetstream_ready_timeout_s: float = JETSTREAM_READY_TIMEOUT_S,
        stranded_sweep_s: float = STRANDED_SWEEP_S,
    ) -> None:
        """`url`: one server, or several separated by commas (a cluster: the client moves to another when its server
        dies). `replicas`: how many servers of a JetStream cluster keep the stream (3 survives one server's loss)."""
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if not 1 <= replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be from 1 to {MAX_REPLICAS}")
        self._url = url
        self._stream = stream
        self._prefix = subject_prefix
        self._ack_wait_s = ack_wait_s
        self._max_deliver = max_deliver
        self._duplicate_window_s = duplicate_window_s
        self._redelivery_delay_s = redelivery_delay_s
        self._request_timeout_s = request_timeout_s
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._max_in_flight = max_in_flight
        self._fetch_interval_s = fetch_interval_s
        self._replicas = replicas
        self._jetstream_ready_s = jetstream_ready_timeout_s
        self._stranded_sweep_s = stranded_sweep_s
        self._tasks: list[asyncio.Task[None]] = []
        """Fetch loops and keep-alive tickers, one of each per subscription."""
        self._running: set[asyncio.Task[None]] = set()
        """Handlers in progress, across subscriptions."""
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and make sure the stream exists.

        The connection retries forever once established, so a restarted server is survived by publishers (their
        calls fail with TransportError meanwhile and the outbox retries) and by the consumer loops. The *first*
        connection is bounded by CONNECT_TIMEOUT_S instead: a node that cannot reach NATS at all should fail its
        start loudly rather than hang.
        """
        if self._closed:
            raise TransportError("this NATS transport is closed; create a new one")
        if self._nc is not None:
            return
        nc = Client()
        try:
            await connect_bounded(nc, self._url, reconnect=True, closing=self._is_closed)
            js = nc.jetstream(timeout=self._request_timeout_s)
            await self._until_ready("the stream", lambda: self._ensure_stream(js))
        except (*_NatsFailure, TransportError) as exc:
            with contextlib.suppress(Exception):
                await nc.close()
            if isinstance(exc, TransportError):
                raise
            raise TransportError(f"cannot start the NATS transport at {self._url}: {exc!r}") from exc
        self._nc, self._js = nc, js

    async def _until_ready(self, what: str, request: Callable[[], Awaitable[object]]) -> None:
        """Make a JetStream API request, asking again while the cluster cannot answer it yet (no leader), within
        JETSTREAM_READY_TIMEOUT_S; any other failure, or one past that bound, is raised."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._jetstream_ready_s
        pause = MIN_BACKOFF_S
        while True:
            try:
                await request()
                return
            except _JETSTREAM_NOT_READY as exc:
                if self._closed or loop.time() + pause >= deadline:
                    raise
                log.warning("JetStream did not answer for %s (%r); asking again in %.1f s", what, exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_BACKOFF_S)

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        """Create the stream, or accept an existing one that at least covers our subjects.

        An existing stream with other settings (say limits retention, another duplicate window) is left as it is:
        changing a live stream is an operator's decision, and the transport still works on it.
        """
        subjects = f"{self._prefix}.>"
        config = StreamConfig(
            name=self._stream,
            subjects=[subjects],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=self._duplicate_window_s,
            num_replicas=self._replicas,
        )
        try:
            await js.add_stream(config)
            return
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != STREAM_NAME_IN_USE:
                raise
        info = await js.stream_info(self._stream)
        existing = info.config.subjects or []
        if subjects not in existing:
            raise TransportError(f"stream {self._stream} exists with subjects {existing}, not {subjects}")
        log.warning("stream %s exists with a different configuration; using it as it is", self._stream)

    async def close(self) -> None:
        """Stop the consumer loops, hand back what they fetched but did not finish, and close the connection.

        Callable from inside a handler (to simulate a crash in tests): that handler is not cancelled under its own
        feet; it sees the transport closed when it returns and leaves its message unacknowledged, as a crash would.
        """
        self._closed = True
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        # Only now the handlers: the loops no longer start new ones. Each interrupted handler naks its message.
        handlers = [task for task in self._running if task is not current]
        for task in handlers:
            task.cancel()
        for task in handlers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            # close() flushes what is buffered (acks, naks) before dropping the socket; drain() would also wait on
            # the pull subscriptions' unread buffers, for up to its 30 s timeout.
            with contextlib.suppress(*_NatsFailure):
                await nc.close()

    def _is_closed(self) -> bool:
        return self._closed

    def _require_js(self) -> JetStreamContext:
        if self._js is None:
            raise TransportError(
                "the NATS transport is closed" if self._closed else "the NATS transport is not started"
            )
        return self._js

    # -- publishing --------------------------------------------------------------------------------------------

    async def publish(self, recipient: str, message_id: str, data: bytes) -> None:
        js = self._require_js()
        subject = f"{self._prefix}.{subject_token(recipient)}"
        try:
            await js.publish(
                subject,
                data,
                timeout=self._request_timeout_s,
                stream=self._stream,
                headers={MSG_ID_HEADER: message_id},
            )
        except _NatsFailure as exc:
            raise TransportError(f"JetStream did not accept {message_id} for {recipient}: {exc!r}") from exc

    async def publish_many(self, messages: Sequence[tuple[str, str, bytes]]) -> None:
        """Pipeline the batch, each recipient's messages bundled (bundle.py), then await every acknowledgement.

        One connection keeps the order the stream stores them in; the server's acks come back while later
        messages are still being written, so a batch costs about one round trip, and a bundle one stored message,
        instead of one each.
        """
        js = self._require_js()
        try:
            acks = []
            for recipient, parts in bundle.group(messages):
                if len(parts) == 1:
                    (message_id, data), headers = parts[0], {}
                else:
                    message_id = bundle.bundle_id([part_id for part_id, _ in parts])
                    data, headers = bundle.pack(parts), {BUNDLE_HEADER: str(len(parts))}
                acks.append(
                    await js.publish_async(
                        f"{self._prefix}.{subject_token(recipient)}",
                        data,
                        wait_stall=self._request_timeout_s,
                        stream=self._stream,
                        headers={MSG_ID_HEADER: message_id, **headers},
                    )
                )
            async with asyncio.timeout(self._request_timeout_s):
                await asyncio.gather(*acks)
        except (*_NatsFailure, nats.js.errors.APIError) as exc:
            raise TransportError(f"JetStream did not accept a batch of {len(messages)}: {exc!r}") from exc

    # -- consuming ---------------------------------------------------------------------------------------------

    def _consumer_config(self, token: str) -> ConsumerConfig:
        return ConsumerConfig(
            name=token,
            durable_name=token,
            filter_subject=f"{self._prefix}.{token}",
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait_s,
            max_deliver=self._max_deliver,
            max_ack_pending=MAX_ACK_PENDING,
        )

    async def _bind(self, token: str) -> JetStreamContext.PullSubscription:
        """Create (or update, or find unchanged) the participant's durable consumer and attach a pull inbox to it."""
        js = self._require_js()
        await self._until_ready(
            f"consumer {token}", lambda: js.add_consumer(self._stream, self._consumer_config(token))
        )
        return await js.pull_subscribe_bind(durable=token, stream=self._stream)

    async def subscribe(self, recipient: str, handler: Handler) -> None:
        """Bind the consumer before returning, so a bad configuration fails here and not in a background task."""
        token = subject_token(recipient)
        try:
            psub = await self._bind(token)
        except _NatsFailure as exc:
            raise TransportError(f"cannot subscribe {recipient} on stream {self._stream}: {exc!r}") from exc
        inflight: dict[int, Msg] = {}
        self._tasks.append(
            asyncio.create_task(self._consume(recipient, token, psub, handler, inflight), name=f"nats:{recipient}")
        )
        self._tasks.append(asyncio.create_task(self._keep_alive(inflight), name=f"nats-progress:{recipient}"))
        if self._stranded_sweep_s > 0:
            self._tasks.append(
                asyncio.create_task(self._sweep(recipient, token, handler), name=f"nats-sweep:{recipient}")
            )

    async def _consume(
        self,
        recipient: str,
        token: str,
        psub: JetStreamContext.PullSubscription,
        handler: Handler,
        inflight: dict[int, Msg],
    ) -> None:
        """Fetch batches and start their handlers in order, at most max_in_flight at once, until closed.

        Any failure of NATS is waited out, never fatal to the loop: a restarted server is simply fetched from again.
        `inflight` holds every fetched message not yet settled (waiting for a slot or being handled).
        """
        slots = asyncio.Semaphore(self._max_in_flight)

        def finished(task: asyncio.Task[None]) -> None:
            self._running.discard(task)
            slots.release()

        backoff = MIN_BACKOFF_S
        batch: list[Msg] = []
        loop = asyncio.get_running_loop()
        fetched_at = 0.0
        try:
            while not self._closed:
                # Paced: after a fetch that found messages but not a full batch, the next waits out FETCH_INTERVAL_S,
                # so that what arrives meanwhile comes in one fetch and one wake-up rather than one each. After an
                # empty (timed out) fetch the next goes at once: an idle node answers its first message at once.
                if 0 < len(batch) < FETCH_BATCH:
                    pause = fetched_at + self._fetch_interval_s - loop.time()
                    if pause > 0:
                        await asyncio.sleep(pause)
                fetched_at = loop.time()
                try:
                    batch = await psub.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_S)
                except nats.errors.TimeoutError:
                    backoff = MIN_BACKOFF_S  # an idle long poll, or a reconnect in progress
                    batch = []
                    continue
                except nats.js.errors.NotFoundError:
                    # The consumer (or the whole stream) vanished: the server lost its state or an operator
                    # deleted it. Recreate both so the participant keeps receiving what is published from now on.
                    log.warning("consumer %s on stream %s is gone; recreating it", token, self._stream)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    psub = await self._rebind(token, psub)
                    continue
                except Exception as exc:
                    if self._is_closed():  # a method call: mypy would keep `_closed` narrowed across the await
                        return
                    log.warning("fetch for %s failed (%r); retrying in %.1f s", recipient, exc, backoff)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                backoff = MIN_BACKOFF_S
                for msg in batch:
                    inflight[id(msg)] = msg
                while batch:
                    await slots.acquire()
                    msg = batch.pop(0)
                    task = asyncio.create_task(self._deliver(recipient, msg, handler, inflight))
                    self._running.add(task)
                    task.add_done_callback(finished)
        except asyncio.CancelledError:
            # A graceful close: fetched messages not yet started go back at once rather than after ack_wait.
            for msg in batch:
                inflight.pop(id(msg), None)
                with contextlib.suppress(*_NatsFailure):
                    await msg.nak()
            raise

    async def _deliver(self, recipient: str, msg: Msg, handler: Handler, inflight: dict[int, Msg]) -> None:
        """Run the handler on one message; ack when it returns, nak with a delay growing per attempt when it raises."""
        attempt = msg.metadata.num_delivered
        headers = msg.headers or {}
        message_id = headers.get(MSG_ID_HEADER) or f"{self._stream}:{msg.metadata.sequence.stream}"
        try:
            if BUNDLE_HEADER in headers:
                await self._deliver_bundle(recipient, message_id, msg.data, headers[BUNDLE_HEADER], attempt, handler)
            else:
                await handler(Delivery(recipient, message_id, msg.data, attempt))
        except asyncio.CancelledError:
            # close() from elsewhere interrupted the handler: hand the message back at once.
            inflight.pop(id(msg), None)
            with contextlib.suppress(*_NatsFailure):
                await msg.nak()
            raise
        except Exception:
            if self._closed:
                return
            log.warning("handler for %s failed on %s (attempt %d)", recipient, message_id, attempt, exc_info=True)
            inflight.pop(id(msg), None)
            await self._settle(msg.nak(delay=self._redelivery_delay_s * min(attempt, 20)), message_id)
            return
        if self._closed:
            # Closed while the handler ran, from inside it: behave like a crash and leave the message
            # unacknowledged, so JetStream redelivers it after ack_wait.
            return
        inflight.pop(id(msg), None)
        await self._settle(msg.ack(), message_id)

    async def _deliver_bundle(
        self, recipient: str, name: str, data: bytes, count: str, attempt: int, handler: Handler
    ) -> None:
        """Hand each envelope of a bundle to the handler, all started in order; raise if any handler raised.

        The whole bundle then comes back, and the inbox drops the envelopes that were processed the first time.
        A bundle whose framing is wrong can never be processed: it is logged and acknowledged, not retried forever
        (the envelopes in it are what is signed, not the bundle, so nothing authentic is lost with it).
        """
        try:
            parts = bundle.unpack(data, int(count) if count.isascii() and count.isdigit() else 0)
        except bundle.BundleError as exc:
            log.warning("dropped malformed bundle %s for %s: %s", name, recipient, exc)
            return
        outcomes = await asyncio.gather(
            *(handler(Delivery(recipient, part_id, part, attempt)) for part_id, part in parts), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            failed = f"{len(failures)} of {len(parts)} envelopes of bundle {name} failed"
            raise RuntimeError(failed) from failures[0]

    async def _sweep(self, recipient: str, token: str, handler: Handler) -> None:
        """Every STRANDED_SWEEP_S, hand the handler any message of ours the stream still holds below the consumer's
        acknowledgement floor, then delete it.

        In a healthy work-queue stream there is none: a message is removed once acknowledged, and the floor only
        passes acknowledged ones. nats-server 2.9 can break both after its leaders change in a cluster (found by
        `corridor chaos`, docs/chaos.md): a few acknowledged messages stay, and a consumer's state can jump past
        messages it never delivered, which would then never be delivered at all (18 of them in one run: payments
        settled at the central bank and never credited by the payee's bank). Handing them over is safe either way:
        the node's inbox drops what it has processed (a duplicate) and processes what it has not. A message whose
        handler raises stays for the next sweep."""
        subject = f"{self._prefix}.{token}"
        while True:
            await asyncio.sleep(self._stranded_sweep_s)
            try:
                js = self._require_js()
                info = await js.consumer_info(self._stream, token)
                floor = int(info.ack_floor.stream_seq or 0) if info.ack_floor is not None else 0
                seq = 1
                while seq <= floor:
                    try:
                        found = await js.get_msg(self._stream, seq=seq, subject=subject, next=True)
                    except nats.js.errors.NotFoundError:
                        break
                    if found.seq is None or found.seq > floor:
                        break
                    await self._deliver_stranded(recipient, found, handler)
                    with contextlib.suppress(nats.js.errors.NotFoundError):
                        await js.delete_msg(self._stream, found.seq)
                    seq = found.seq + 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # NATS unreachable, a leader being elected, a handler that failed: next time
                if self._is_closed():
                    return
                log.info("sweep for %s on %s did not finish: %r", recipient, self._stream, exc)

    async def _deliver_stranded(self, recipient: str, found: RawStreamMsg, handler: Handler) -> None:
        headers = found.headers or {}
        message_id = headers.get(MSG_ID_HEADER) or f"{self._stream}:{found.seq}"
        log.warning("message %s for %s was stranded in stream %s (seq %s); handing it over", message_id, recipient,
                    self._stream, found.seq)  # fmt: skip
        data = found.data or b""
        if BUNDLE_HEADER in headers:
            await self._deliver_bundle(recipient, message_id, data, headers[BUNDLE_HEADER], 1, handler)
        else:
            await handler(Delivery(recipient, message_id, data, 1))

    async def _settle(self, settling: Awaitable[None], message_id: str) -> None:
        """Send an ack or nak; if it cannot go out, the message simply comes back after ack_wait."""
        try:
            await settling
        except _NatsFailure as exc:
            log.info("could not settle %s (%r); it will be redelivered", message_id, exc)

    async def _rebind(self, token: str, old: JetStreamContext.PullSubscription) -> JetStreamContext.PullSubscription:
        with contextlib.suppress(*_NatsFailure, ValueError):
            await old.unsubscribe()
        try:
            await self._ensure_stream(self._require_js())
            return await self._bind(token)
        except (*_NatsFailure, TransportError) as exc:
            log.warning("cannot recreate consumer %s yet: %r", token, exc)
            return old

    async def _keep_alive(self, inflight: dict[int, Msg]) -> None:
        """Tell the server every half ack_wait that fetched messages are still being worked on.

        Without it, messages queued behind busy slots, or under a slow handler, would pass ack_wait while still
        held here and be delivered a second time; a message whose process died gets no such signal and returns on
        time.
        """
        while True:
            await asyncio.sleep(self._ack_wait_s / 2)
            for msg in tuple(inflight.values()):
                with contextlib.suppress(*_NatsFailure):
                    await msg.in_progress()

    # -- observation -------------------------------------------------------------------------------------------

    async def pending(self, recipient: str) -> int:
        """Messages for `recipient` not yet acknowledged: waiting in the stream plus handed out and unsettled."""
        js = self._require_js()
        try:
            info = await js.consumer_info(self._stream, subject_token(recipient))
        except _NatsFailure as exc:
            raise TransportError(f"cannot read the consumer of {recipient}: {exc!r}") from exc
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


async def delete_stream(url: str, stream: str) -> None:
    """Remove a stream and its consumers (tests); a stream that does not exist is already deleted."""
    nc = Client()
    try:
        await connect_bounded(nc, url, reconnect=False)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(stream)
    finally:
        await nc.close()


def servers_of(url: str) -> list[str]:
    """The servers a NATS url names: one, or a cluster's written as comma-separated urls (as the nats tools take
    them), so that one config field can name a whole cluster."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise ValueError(f"no NATS server in {url!r}")
    return servers


async def connect_bounded(nc: Client, url: str, *, reconnect: bool, closing: Callable[[], bool] = lambda: True) -> None:
    """Connect within CONNECT_TIMEOUT_S, to `url` or to any of several comma-separated urls (a cluster's servers,
    servers_of): the client reconnects to another of them when its server goes.

    nats-py retries the *first* connection too (60 attempts 2 s apart by default, forever with unlimited reconnects),
    even with allow_reconnect=False, so only an outer timeout bounds it. The caller closes `nc` on failure.
    `closing` tells a deliberate close from a lost server, so only the latter is logged as a warning.
    """

    async def on_error(exc: Exception) -> None:
        log.warning("NATS connection error at %s: %r", url, exc)

    async def on_disconnected() -> None:
        if not closing():
            log.warning("disconnected from NATS at %s; reconnecting", url)

    async def on_reconnected() -> None:
        log.warning("reconnected to NATS at %s", url)

    await asyncio.wait_for(
        nc.connect(
            servers=servers_of(url),
            name="corridor",
            allow_reconnect=reconnect,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            error_cb=on_error,
            disconnected_cb=on_disconnected,
            reconnected_cb=on_reconnected,
        ),
        timeout=CONNECT_TIMEOUT_S,
    )
