"""The JetStream transport keeps the transport contract against a real NATS server: at-least-once, acknowledged
per message, de-duplicated by message id, durable across a restart of the process, ordered per participant.

Each test owns a stream and subject prefix of its own and deletes the stream at the end, so tests can share the
server with other users. Without a reachable server the tests are skipped, or fail when CORRIDOR_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from corridor.network.transport import Delivery, TransportError
from corridor.network.transport.nats import NatsTransport, delete_stream, subject_token
from tests.network.conftest import require_nats

BIC = "CBRURUMM"


@pytest.fixture(scope="module")
def nats_server() -> str:
    """The server's URL; skips the module's NATS tests when it is down, or fails them when CI requires services."""
    return require_nats()


@dataclass(frozen=True)
class Place:
    """Where one test's messages live: its own stream and subject prefix."""

    url: str
    stream: str
    prefix: str

    def transport(self, **options: Any) -> NatsTransport:
        return NatsTransport(self.url, stream=self.stream, subject_prefix=self.prefix, **options)


@pytest.fixture
def place(nats_server: str) -> Iterator[Place]:
    suffix = uuid.uuid4().hex[:12]
    spot = Place(nats_server, f"TEST_TRANSPORT_{suffix.upper()}", f"test.transport.{suffix}")
    yield spot
    asyncio.run(delete_stream(spot.url, spot.stream))


class Recorder:
    """A handler that remembers what it was given, optionally failing or misbehaving on chosen deliveries."""

    def __init__(self, before: Callable[[Delivery], Awaitable[None]] | None = None) -> None:
        self.deliveries: list[Delivery] = []
        self._before = before

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        if self._before is not None:
            await self._before(delivery)

    @property
    def ids(self) -> list[str]:
        return [d.message_id for d in self.deliveries]


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def until_settled(transport: NatsTransport, recipient: str, timeout: float = 5.0) -> None:
    """Wait until the server holds nothing for `recipient`: every delivery was acknowledged, not just handled."""
    deadline = time.monotonic() + timeout
    while await transport.pending(recipient):
        if time.monotonic() > deadline:
            raise AssertionError(f"{recipient} still has unacknowledged messages")
        await asyncio.sleep(0.02)


def test_recipient_names_become_distinct_subject_safe_tokens():
    assert subject_token("CBRURUMM") == "CBRURUMM"
    assert subject_token("node-1_a") == "node-1_a"
    tokens = {subject_token(name) for name in ("a.b", "a*b", "a>b", "a b", "a~2Eb", "a~b", "ä")}
    assert len(tokens) == 7
    assert all(set(token) <= set("abcdefABCDEF0123456789~-_") or token.isalnum() for token in tokens)
    assert not any(ch in token for token in tokens for ch in ".*> ")
    with pytest.raises(ValueError):
        subject_token("")


def test_publishing_on_a_transport_that_is_not_started_raises_transport_error():
    async def scenario() -> None:
        with pytest.raises(TransportError, match="not started"):
            await NatsTransport().publish(BIC, "m1", b"x")

    asyncio.run(scenario())


def test_a_published_message_reaches_its_recipients_handler_once_with_attempt_1(place: Place):
    async def scenario() -> None:
        transport = place.transport()
        await transport.start()
        mine, other = Recorder(), Recorder()
        await transport.subscribe(BIC, mine)
        await transport.subscribe("SABRRUMM", other)
        await transport.publish(BIC, "m1", b"hello")
        await until(lambda: len(mine.deliveries) == 1)
        await until_settled(transport, BIC)
        await transport.close()
        assert mine.deliveries == [Delivery(BIC, "m1", b"hello", 1)]
        assert other.deliveries == []

    asyncio.run(scenario())


def test_a_handler_that_raises_gets_the_message_again_and_then_it_is_acknowledged(place: Place):
    async def fail_first(delivery: Delivery) -> None:
        if delivery.attempt == 1:
            raise RuntimeError("ledger busy")

    async def scenario() -> None:
        transport = place.transport(ack_wait_s=1.0)
        await transport.start()
        handler = Recorder(fail_first)
        await transport.subscribe(BIC, handler)
        await transport.publish(BIC, "m1", b"pay")
        await until(lambda: len(handler.deliveries) == 2)
        await until_settled(transport, BIC)
        await asyncio.sleep(1.3)  # past ack_wait: a lost acknowledgement would have brought a third delivery
        await transport.close()
        assert [(d.message_id, d.attempt) for d in handler.deliveries] == [("m1", 1), ("m1", 2)]

    asyncio.run(scenario())


def test_publishing_the_same_message_id_twice_delivers_it_once(place: Place):
    async def scenario() -> None:
        transport = place.transport()
        await transport.start()
        await transport.publish(BIC, "m1", b"first")
        await transport.publish(BIC, "m1", b"retry after a lost PubAck")
        await transport.publish(BIC, "m2", b"sentinel")
        handler = Recorder()
        await transport.subscribe(BIC, handler)
        await until(lambda: "m2" in handler.ids)
        await until_settled(transport, BIC)
        await transport.close()
        assert [(d.message_id, d.data) for d in handler.deliveries] == [("m1", b"first"), ("m2", b"sentinel")]

    asyncio.run(scenario())


def test_messages_published_while_no_subscriber_runs_are_delivered_when_one_subscribes_even_after_a_restart(
    place: Place,
):
    async def scenario() -> None:
        first = place.transport()
        await first.start()
        await first.publish(BIC, "a1", b"1")
        await first.publish(BIC, "a2", b"2")
        early = Recorder()
        await first.subscribe(BIC, early)
        await until(lambda: len(early.deliveries) == 2)
        await until_settled(first, BIC)
        await first.close()

        publisher = place.transport()
        await publisher.start()
        await publisher.publish(BIC, "b1", b"3")
        await publisher.close()

        restarted = place.transport()
        await restarted.start()
        late = Recorder()
        await restarted.subscribe(BIC, late)
        await until(lambda: len(late.deliveries) == 1)
        await until_settled(restarted, BIC)
        await restarted.close()
        assert [(d.message_id, d.attempt) for d in early.deliveries] == [("a1", 1), ("a2", 1)]
        assert [(d.message_id, d.attempt) for d in late.deliveries] == [("b1", 1)]

    asyncio.run(scenario())


def test_a_message_whose_handler_never_finished_is_redelivered_to_a_new_instance_after_ack_wait(place: Place):
    async def scenario() -> None:
        crashing = place.transport(ack_wait_s=1.0)

        async def crash(delivery: Delivery) -> None:
            await crashing.close()  # the process "dies" before the handler returns

        await crashing.start()
        doomed = Recorder(crash)
        await crashing.subscribe(BIC, doomed)
        await crashing.publish(BIC, "m1", b"pay")
        await until(lambda: len(doomed.deliveries) == 1)
        crashed_at = time.monotonic()

        successor = place.transport(ack_wait_s=1.0)
        await successor.start()
        handler = Recorder()
        await successor.subscribe(BIC, handler)
        await until(lambda: len(handler.deliveries) == 1)
        waited = time.monotonic() - crashed_at
        await until_settled(successor, BIC)
        await successor.close()
        assert doomed.deliveries == [Delivery(BIC, "m1", b"pay", 1)]
        assert handler.deliveries == [Delivery(BIC, "m1", b"pay", 2)]
        assert waited > 0.5, "redelivered before ack_wait: the unfinished message was not left unacknowledged"

    asyncio.run(scenario())


def test_handlers_run_concurrently_up_to_the_in_flight_bound(place: Place):
    async def scenario() -> None:
        transport = place.transport(max_in_flight=4)
        await transport.start()
        release = asyncio.Event()

        async def hold(delivery: Delivery) -> None:
            await release.wait()

        handler = Recorder(hold)
        await transport.subscribe(BIC, handler)
        for i in range(10):
            await transport.publish(BIC, f"m{i}", b"x")
        await until(lambda: len(handler.deliveries) == 4)
        await asyncio.sleep(0.2)
        assert len(handler.deliveries) == 4
        release.set()
        await until(lambda: len(handler.deliveries) == 10)
        await until_settled(transport, BIC)
        await transport.close()
        assert handler.ids == [f"m{i}" for i in range(10)]

    asyncio.run(scenario())


def test_messages_for_one_recipient_arrive_in_publish_order(place: Place):
    async def scenario() -> None:
        transport = place.transport()
        await transport.start()
        expected = [f"m{i:03d}" for i in range(200)]
        for message_id in expected[:100]:
            await transport.publish(BIC, message_id, message_id.encode())
            await transport.publish("SABRRUMM", message_id, b"noise")
        handler = Recorder()
        await transport.subscribe(BIC, handler)
        for message_id in expected[100:]:
            await transport.publish(BIC, message_id, message_id.encode())
        await until(lambda: len(handler.deliveries) >= len(expected))
        await until_settled(transport, BIC)
        await transport.close()
        assert handler.ids == expected
        assert [d.data for d in handler.deliveries] == [m.encode() for m in expected]

    asyncio.run(scenario())


def test_a_batch_for_one_recipient_travels_as_one_bundle_and_each_envelope_arrives_with_its_own_id(place: Place):
    async def scenario() -> None:
        transport = place.transport()
        await transport.start()
        got = Recorder()
        await transport.subscribe(BIC, got)
        await transport.publish_many([(BIC, f"m{i}", f"body {i}".encode()) for i in range(5)])
        await until(lambda: len(got.deliveries) == 5)
        await until_settled(transport, BIC)
        info = await transport._require_js().stream_info(place.stream)
        await transport.close()
        assert sorted(got.ids) == [f"m{i}" for i in range(5)]
        assert {d.data for d in got.deliveries} == {f"body {i}".encode() for i in range(5)}
        assert info.state.messages == 0 and info.state.last_seq == 1  # one stored message for the five

    asyncio.run(scenario())


def test_a_bundle_whose_handler_fails_for_one_envelope_comes_back_whole(place: Place):
    failed: set[str] = set()

    async def fail_m1_once(delivery: Delivery) -> None:
        if delivery.message_id == "m1" and "m1" not in failed:
            failed.add("m1")
            raise RuntimeError("m1 fails once")

    async def scenario() -> None:
        transport = place.transport(redelivery_delay_s=0.01)
        await transport.start()
        got = Recorder(fail_m1_once)
        await transport.subscribe(BIC, got)
        await transport.publish_many([(BIC, "m0", b"a"), (BIC, "m1", b"b")])
        await until(lambda: len(got.deliveries) == 4)
        await until_settled(transport, BIC)
        await transport.close()
        assert sorted(got.ids) == ["m0", "m0", "m1", "m1"]
        assert sorted(d.attempt for d in got.deliveries) == [1, 1, 2, 2]

    asyncio.run(scenario())


def test_a_malformed_bundle_is_dropped_and_acknowledged_without_reaching_the_handler(place: Place):
    async def scenario() -> None:
        transport = place.transport()
        await transport.start()
        got = Recorder()
        await transport.subscribe(BIC, got)
        js = transport._require_js()
        await js.publish(f"{place.prefix}.{subject_token(BIC)}", b"\x00\x05short", headers={"Corridor-Bundle": "3"})
        await transport.publish(BIC, "after", b"fine")
        await until(lambda: got.ids == ["after"])
        await until_settled(transport, BIC)
        await transport.close()

    asyncio.run(scenario())
