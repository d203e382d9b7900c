"""ISO 8583 over TCP: length-prefixed frames on persistent connections, responses matched by STAN and RRN.

Card networks keep one long-lived connection between each pair of hops (terminal concentrator or acquirer -> switch
-> issuer) and multiplex requests over it: each request carries a System Trace Audit Number (field 11) and, for
transactions, a Retrieval Reference Number (field 37), and its response echoes both, in whatever order responses
come. A frame is a 2-byte big-endian length, then the message. A request unanswered within its timeout fails with
`ResponseTimeout` (an acquirer then reverses it); a response that arrives after that is dropped and counted. An
echo test (0800, field 70 = 301) is answered by the link itself, so an idle connection can be known alive.

A peer's malformed message costs it a format-error response (39 = 30) when its type and STAN could be read, or is
dropped when not; the connection goes on serving the next frame. Only a frame whose length cannot be trusted (over
the size limit) closes the connection, since the next frame's start is then unknown.

Either end may run over TLS (`ssl`: a server context for `serve`, a client context for `Client.connect`; corridor/
tls.py makes both): the frames are the same inside it. A server whose context requires client certificates refuses
a peer without one during the handshake, before any frame; a peer speaking plain TCP to a TLS server gets its
connection closed, and its requests fail with LinkClosed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as _ssl
from collections.abc import Awaitable, Callable
from typing import Final

from corridor.cards.iso8583 import (
    ECHO,
    MAX_MESSAGE_BYTES,
    NETWORK,
    REQUESTS,
    Fields,
    MessageError,
    check_field,
    decode,
    encode,
    redacted,
    response_type,
)

log = logging.getLogger(__name__)

PREFIX_BYTES: Final = 2
MAX_CONCURRENT_PER_CONNECTION: Final = 512
"""Requests one connection may have in its handler at once; more wait for a slot, which slows the peer down."""
ECHOED: Final = ("11", "32", "37")
"""Fields a response carries back from its request, so that it can be matched (`match_key`)."""
FORMAT_ERROR: Final = "30"
SYSTEM_ERROR: Final = "96"

Handler = Callable[[Fields], Awaitable[Fields]]
"""Answers one request with its response (the link fills in the response type, STAN and RRN if left out)."""


class FrameError(Exception):
    """A frame that cannot be read: its length is zero or over the limit, or the stream ended inside it."""


class ResponseTimeout(Exception):
    """No response to a request within its timeout."""


class LinkClosed(Exception):
    """The connection ended while requests were waiting for their responses."""


def frame(data: bytes) -> bytes:
    if not 0 < len(data) <= MAX_MESSAGE_BYTES:
        raise FrameError(f"a frame holds 1 to {MAX_MESSAGE_BYTES} bytes, not {len(data)}")
    return len(data).to_bytes(PREFIX_BYTES, "big") + data


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next frame's message, or None at a clean end of stream (between frames)."""
    try:
        prefix = await reader.readexactly(PREFIX_BYTES)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise FrameError("the stream ended inside a length prefix") from None
    size = int.from_bytes(prefix, "big")
    if not 0 < size <= MAX_MESSAGE_BYTES:
        raise FrameError(f"a frame of {size} bytes announced; a frame holds 1 to {MAX_MESSAGE_BYTES}")
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise FrameError(f"the stream ended inside a frame of {size} bytes") from None


def match_key(message: Fields) -> tuple[str, str, str]:
    """What pairs a response with its request: STAN, RRN and acquiring institution. A switch forwards many
    acquirers' requests on one connection to an issuer, and two acquirers may use the same STAN and RRN at once.
    A request without an RRN or acquiring institution (a terminal's, an echo) is answered by the response with its
    STAN, whatever RRN the response brings (an acquirer assigns it)."""
    return str(message.get("11", "")), str(message.get("37", "")), str(message.get("32", ""))


def format_error(partial: Fields) -> Fields | None:
    """The format-error response to a malformed request, if enough of it was read to address one."""
    kind = partial.get("t")
    if kind not in REQUESTS or not _valid("11", partial):
        return None
    answer: Fields = {"t": response_type(str(kind)), "39": FORMAT_ERROR}
    for key in (*ECHOED, "41", "42"):
        if _valid(key, partial):  # a field cut short by the error is left out rather than echoed malformed
            answer[key] = partial[key]
    return answer


def _valid(key: str, message: Fields) -> bool:
    if key not in message:
        return False
    try:
        check_field(key, message[key])
    except MessageError:
        return False
    return True


class Corked:
    """A connection's frames written in one turn of the event loop go out in one write (one system call) at its
    end, rather than one each: a link carries tens of requests or answers at once, and a send per frame was the
    largest single cost of the acquirer and the switch after the codec (docs/benchmarks.md)."""

    __slots__ = ("_pending", "_writer")

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        """Write what is pending now (before the connection is closed, say)."""
        pending, self._pending = self._pending, []
        if pending and not self._writer.is_closing():
            self._writer.write(b"".join(pending))


class Client:
    """One persistent connection to a peer, many requests in flight on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._out = Corked(writer)
        self._waiting: dict[tuple[str, str, str], asyncio.Future[Fields]] = {}
        self._by_stan: dict[str, list[tuple[str, str, str]]] = {}
        self._closed = False
        self.late_responses = 0
        """Responses that came after their request timed out (or matched no request): dropped."""
        self._reading = asyncio.get_running_loop().create_task(self._read_loop())

    @property
    def closed(self) -> bool:
        """Whether the connection has ended (a new one is needed to send more)."""
        return self._closed

    @classmethod
    async def connect(
        cls, host: str, port: int, *, timeout_s: float = 5.0, ssl: _ssl.SSLContext | None = None
    ) -> Client:
        """Open the connection (over TLS with `ssl`, the server's certificate checked against `host`)."""
        opening = asyncio.open_connection(host, port, ssl=ssl, server_hostname=host if ssl is not None else None)
        reader, writer = await asyncio.wait_for(opening, timeout_s)
        return cls(reader, writer)

    async def request(self, message: Fields, *, timeout_s: float) -> Fields:
        """Send a request and wait for its response; ResponseTimeout if none comes in time."""
        if self._closed:
            raise LinkClosed("the connection is closed")
        key = match_key(message)
        if not key[0]:
            raise MessageError("11", "a request needs a STAN to be matched with its response")
        if key in self._waiting:
            raise MessageError("11", "a request with this STAN and RRN is already waiting for its response")
        data = frame(encode(message))
        future: asyncio.Future[Fields] = asyncio.get_running_loop().create_future()
        self._waiting[key] = future
        self._by_stan.setdefault(key[0], []).append(key)
        try:
            self._out.write(data)
            await self._writer.drain()
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise ResponseTimeout(f"no response to {message.get('t')!s} STAN {key[0]} within {timeout_s} s") from None
        finally:
            self._waiting.pop(key, None)
            same_stan = self._by_stan.get(key[0], [])
            if key in same_stan:
                same_stan.remove(key)
            if not same_stan:
                self._by_stan.pop(key[0], None)

    async def echo(self, stan: str, *, timeout_s: float = 5.0) -> bool:
        """An echo test: whether the peer answered 0810 with response code 00 in time."""
        try:
            answer = await self.request({"t": NETWORK, "11": stan, "70": ECHO}, timeout_s=timeout_s)
        except (ResponseTimeout, LinkClosed, OSError):
            return False
        return answer.get("39") == "00"

    async def _read_loop(self) -> None:
        try:
            while (data := await read_frame(self._reader)) is not None:
                try:
                    message = decode(data)
                except MessageError as exc:
                    log.warning("undecodable response dropped: %s", exc)
                    continue
                future = self._match(message)
                if future is None or future.done():
                    self.late_responses += 1
                    continue
                future.set_result(message)
        except (FrameError, OSError) as exc:
            log.warning("link to peer ended: %s", exc)
        finally:
            self._closed = True
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(LinkClosed("the connection ended before the response came"))

    def _match(self, response: Fields) -> asyncio.Future[Fields] | None:
        stan, rrn, acquirer = match_key(response)
        for key in self._by_stan.get(stan, ()):
            if key[1] in ("", rrn) and key[2] in ("", acquirer):
                return self._waiting[key]
        return None

    async def close(self) -> None:
        self._closed = True
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        self._out.flush()
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


async def serve(handler: Handler, host: str, port: int, *, ssl: _ssl.SSLContext | None = None) -> asyncio.Server:
    """Accept peers' connections and answer every request on each with `handler`, several at once (over TLS with
    `ssl`, a server context)."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        out = Corked(writer)
        slots = asyncio.Semaphore(MAX_CONCURRENT_PER_CONNECTION)
        running: set[asyncio.Task[None]] = set()

        async def answer(request: Fields) -> None:
            try:
                response = await _respond(handler, request)
                out.write(frame(encode(response)))
            except Exception:  # a handler's bug answers 96 rather than silence the request or the connection
                log.exception("request %s failed", redacted(request))
                with contextlib.suppress(Exception):
                    out.write(frame(encode(_system_error(request))))
            finally:
                slots.release()

        try:
            while (data := await read_frame(reader)) is not None:
                try:
                    request = decode(data)
                except MessageError as exc:
                    log.info("malformed request: %s", exc)
                    reply = format_error(exc.partial)
                    if reply is not None:
                        out.write(frame(encode(reply)))
                    continue
                if request["t"] not in REQUESTS:
                    continue  # a response nobody asked for: nothing to answer
                await slots.acquire()
                task = asyncio.get_running_loop().create_task(answer(request))
                running.add(task)
                task.add_done_callback(running.discard)
        except (FrameError, OSError) as exc:
            log.info("peer connection closed: %s", exc)
        except Exception:  # a bug here ends this connection only; the server and the other connections go on
            log.exception("peer connection ended by an error")
        except asyncio.CancelledError:
            # The serving loop is shutting down (a server's close() leaves its connections open until then): end
            # quietly, since asyncio would otherwise report every cancelled connection as an unretrieved error.
            pass
        finally:
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            out.flush()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    return await asyncio.start_server(connection, host, port, ssl=ssl)


async def _respond(handler: Handler, request: Fields) -> Fields:
    kind = str(request["t"])
    if kind == NETWORK and request.get("70") == ECHO:
        response: Fields = {"t": response_type(kind), "39": "00", "70": ECHO}
    else:
        response = dict(await handler(request))
    return _addressed(request, response)


def _system_error(request: Fields) -> Fields:
    return _addressed(request, {"39": SYSTEM_ERROR})


def _addressed(request: Fields, response: Fields) -> Fields:
    """`response` with the response type and, unless it set them, the request's STAN, RRN and acquirer."""
    response.setdefault("t", response_type(str(request["t"])))
    for key in ECHOED:
        if key in request:
            response.setdefault(key, request[key])
    return response
