"""ISO 8583 over real TCP sockets on loopback (cards/link.py): responses matched to requests by STAN and RRN in any
order, echoes, timeouts and late responses, and a peer's malformed frames answered or dropped without ending the
connection."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from corridor.cards.iso8583 import Fields, encode
from corridor.cards.link import (
    Client,
    FrameError,
    LinkClosed,
    ResponseTimeout,
    frame,
    read_frame,
    serve,
)


def request(stan: str, rrn: str = "") -> Fields:
    message: Fields = {"t": "0100", "2": "2200123456789010", "4": "000000001000", "11": stan, "49": "643"}
    if rrn:
        message["37"] = rrn
    return message


async def approve(message: Fields) -> Fields:
    return {"39": "00", "38": "A00001"}


def run(test: Callable[[Client, asyncio.Server], Awaitable[None]], handler=approve) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        server = await serve(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = await Client.connect("127.0.0.1", port)
        try:
            await asyncio.wait_for(test(client, server), 20)
        finally:
            await client.close()
            server.close()
            await server.wait_closed()

    asyncio.run(main())


async def raw_exchange(server: asyncio.Server, *frames_out: bytes, answers: int) -> list[bytes]:
    """Send raw bytes on a fresh connection; read `answers` frames back."""
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for data in frames_out:
            writer.write(data)
        await writer.drain()
        got = []
        for _ in range(answers):
            message = await asyncio.wait_for(read_frame(reader), 5)
            assert message is not None
            got.append(message)
        return got
    finally:
        writer.close()


def test_a_request_is_answered_with_its_stan_and_rrn_and_the_response_type() -> None:
    async def check(client: Client, server: asyncio.Server) -> None:
        answer = await client.request(request("000001", "633000000001"), timeout_s=5)
        assert (answer["t"], answer["11"], answer["37"], answer["39"]) == ("0110", "000001", "633000000001", "00")

    run(check)


def test_responses_that_come_in_another_order_reach_their_own_requests() -> None:
    async def slow_first(message: Fields) -> Fields:
        if message["11"] == "000001":
            await asyncio.sleep(0.3)
        return {"39": "00", "4": message["4"]}

    async def check(client: Client, server: asyncio.Server) -> None:
        first = request("000001", "633000000001") | {"4": "000000000111"}
        second = request("000002", "633000000002") | {"4": "000000000222"}
        answers = await asyncio.gather(client.request(first, timeout_s=5), client.request(second, timeout_s=5))
        assert [(a["11"], a["4"]) for a in answers] == [("000001", "000000000111"), ("000002", "000000000222")]

    run(check, slow_first)


def test_an_echo_test_is_answered_by_the_link_itself() -> None:
    async def never(message: Fields) -> Fields:
        raise AssertionError("the handler must not see an echo")

    async def check(client: Client, server: asyncio.Server) -> None:
        assert await client.echo("000009")

    run(check, never)


def test_a_request_unanswered_in_time_times_out_and_its_late_response_is_dropped_and_counted() -> None:
    async def late(message: Fields) -> Fields:
        await asyncio.sleep(0.4)
        return {"39": "00"}

    async def check(client: Client, server: asyncio.Server) -> None:
        with pytest.raises(ResponseTimeout, match="STAN 000001"):
            await client.request(request("000001"), timeout_s=0.1)
        await asyncio.sleep(0.6)
        assert client.late_responses == 1
        assert await client.echo("000002")  # the connection still serves

    run(check, late)


def test_a_malformed_request_gets_a_format_error_with_its_stan_and_the_connection_serves_the_next() -> None:
    async def check(client: Client, server: asyncio.Server) -> None:
        good = encode(request("000002"))
        bad = good.replace(b"000000001000", b"00000000100X")  # letters in the amount
        answers = await raw_exchange(server, frame(bad), frame(good), answers=2)
        assert answers[0].startswith(b"0110") and b"00000230" in answers[0]  # STAN 000002, response code 30
        assert answers[1].startswith(b"0110") and answers[1].endswith(b"00")

    run(check)


def test_garbage_whose_type_cannot_be_read_is_dropped_and_the_connection_serves_the_next() -> None:
    async def check(client: Client, server: asyncio.Server) -> None:
        good = encode(request("000003"))
        answers = await raw_exchange(server, frame(b"\xff\xfe garbage"), frame(good), answers=1)
        assert answers[0].startswith(b"0110")

    run(check)


def test_an_oversize_frame_closes_that_connection_and_others_are_still_served() -> None:
    async def check(client: Client, server: asyncio.Server) -> None:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\xff\xff" + b"0" * 10)
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()
        assert await client.echo("000004")

    run(check)


def test_a_handler_that_fails_answers_system_error_96() -> None:
    async def broken(message: Fields) -> Fields:
        raise RuntimeError("bug")

    async def check(client: Client, server: asyncio.Server) -> None:
        answer = await client.request(request("000005"), timeout_s=5)
        assert answer["39"] == "96"

    run(check, broken)


def test_requests_waiting_when_the_peer_goes_away_fail_with_link_closed() -> None:
    async def main() -> None:
        async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_frame(reader)
            writer.close()

        server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        client = await Client.connect("127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            with pytest.raises(LinkClosed):
                await client.request(request("000006"), timeout_s=5)
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_a_frame_is_read_whole_and_a_clean_end_between_frames_is_none() -> None:
    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(frame(b"0800") + frame(b"0810"))
        reader.feed_eof()
        assert [await read_frame(reader), await read_frame(reader), await read_frame(reader)] == [
            b"0800",
            b"0810",
            None,
        ]

    asyncio.run(main())


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x05abc", b"\x00\x00"], ids=["cut prefix", "cut frame", "empty frame"])
def test_a_cut_or_empty_frame_is_a_frame_error(data: bytes) -> None:
    async def main() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        with pytest.raises(FrameError):
            await read_frame(reader)

    asyncio.run(main())


def test_after_hundreds_of_random_and_mangled_frames_the_connection_still_answers_a_good_request() -> None:
    rng = random.Random(8583)
    good = encode(request("000007"))
    noise = []
    for _ in range(300):
        if rng.random() < 0.5:
            noise.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
        else:
            mangled = bytearray(good[: rng.randrange(1, len(good) + 1)])
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
            noise.append(bytes(mangled))

    async def check(client: Client, server: asyncio.Server) -> None:
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for data in noise:
            writer.write(frame(data))
        writer.write(frame(encode(request("999999"))))
        await writer.drain()
        while True:  # format errors (and answers to mangled requests that still made sense), then ours
            answer = await asyncio.wait_for(read_frame(reader), 10)
            assert answer is not None and answer[:4] in (b"0110", b"0130", b"0210", b"0410", b"0430", b"0810")
            if b"999999" in answer:
                break
        writer.close()
        assert await client.echo("000008")

    run(check)
