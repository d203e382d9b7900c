"""A node's control interface: JSON requests and replies over core NATS, `<rpc_prefix>.<BIC>.<method>`.

This is how a separate process asks a node to act (pay, quote, report a payment's state) until the REST API exists.
It carries instructions to one participant's own node, never interbank messages: those travel signed, as ISO 20022,
through the JetStream transport. Core NATS request/reply suits it: the caller waits for the answer, and a request
lost with a dying node is simply retried with the same idempotency key.

Request body: a JSON object of parameters. Reply: {"result": {...}} or {"error": {"code", "message"}}, where code
is an ISO reason (AM04, AC01, FF01 ...) when the refusal has one, else "bad_request", "unknown_method", "internal"
or "unauthorized".

Whoever can publish on a node's subjects could otherwise ask a bank to pay from its customers' accounts, so requests
are signed: with the network's control secret (`keys/control.secret`, 0600, made by `corridor network init` and named
in every process's config), the caller sends a header `Corridor-Control: <ns>.<HMAC-SHA256(secret, subject, ns,
body)>`, and a node with the secret answers only a request signed with it, made within CONTROL_WINDOW_S of its own
clock and not seen before (a copy replayed is refused). A node configured without a secret answers every request,
and says so in its log when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from corridor.network.identity import read_secret
from corridor.network.transport.base import TransportError
from corridor.network.transport.nats import connect_bounded, subject_token
from corridor.node.config import ConfigError

log = logging.getLogger("corridor.rpc")

MAX_REQUEST_BYTES = 64 * 1024
Method = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
CONTROL_HEADER = "Corridor-Control"
CONTROL_WINDOW_S = 60
"""How far a signed request's time may be from the node's clock; the node remembers what it answered this long."""
MAX_REMEMBERED = 200_000
"""Signatures remembered against replays, at most (the oldest go first): bounds memory under a flood."""


def load_control_secret(path: Path | None) -> bytes | None:
    """The network's control secret a config names (None: none named), or ConfigError saying what is wrong."""
    if path is None:
        return None
    try:
        return read_secret(path)
    except ValueError as exc:
        raise ConfigError(f"[nats] control_secret: {exc}") from None


def control_signature(secret: bytes, subject: str, stamp: str, body: bytes) -> str:
    """The HMAC-SHA256 a control request carries: over its subject, its time and its body."""
    return hmac.new(secret, b"\n".join((subject.encode(), stamp.encode(), body)), hashlib.sha256).hexdigest()


class RpcError(Exception):
    """A refused or failed call; `code` says why in a word a program can test."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RpcServer:
    """Serves one participant's methods; each request runs as its own task, so slow calls do not queue others."""

    def __init__(
        self, nc: Client, prefix: str, bic: str, methods: dict[str, Method], *, secret: bytes | None = None
    ) -> None:
        """`secret`: the network's control secret; None answers unsigned requests (see the module's docstring)."""
        self._nc = nc
        self._subject = f"{prefix}.{subject_token(bic)}"
        self._methods = methods
        self._secret = secret
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._sub: Subscription | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._secret is None:
            log.warning("the control interface of %s answers unsigned requests: no control secret", self._subject)
        self._sub = await self._nc.subscribe(f"{self._subject}.*", cb=self._on_request)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None
        for task in list(self._running):
            task.cancel()

    async def _on_request(self, msg: Msg) -> None:
        task = asyncio.create_task(self._answer(msg))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _authenticate(self, msg: Msg) -> None:
        """Refuse a request not signed with the secret, out of its time window, or answered before."""
        if self._secret is None:
            return
        signed = str((msg.headers or {}).get(CONTROL_HEADER, ""))
        stamp, _, signature = signed.partition(".")
        # Outside input: a time is at most 20 ASCII digits (nanoseconds), compared as an integer; the signature is
        # compared as bytes (compare_digest refuses a str with other than ASCII in it).
        well_formed = stamp.isascii() and stamp.isdigit() and len(stamp) <= 20
        expected = control_signature(self._secret, msg.subject, stamp, msg.data).encode()
        if not well_formed or not hmac.compare_digest(signature.encode("utf-8", "surrogateescape"), expected):
            raise RpcError("unauthorized", "the request is not signed with this network's control secret")
        if abs(time.time_ns() - int(stamp)) > CONTROL_WINDOW_S * 1_000_000_000:
            raise RpcError("unauthorized", f"the request's time is more than {CONTROL_WINDOW_S} s from the node's")
        now = time.time()
        while self._seen and (next(iter(self._seen.values())) < now or len(self._seen) >= MAX_REMEMBERED):
            self._seen.popitem(last=False)
        if signature in self._seen:
            raise RpcError("unauthorized", "the request was answered before (a replay)")
        self._seen[signature] = now + 2 * CONTROL_WINDOW_S

    async def _answer(self, msg: Msg) -> None:
        method = msg.subject.rsplit(".", 1)[-1]
        try:
            self._authenticate(msg)
            result = await self._call(method, msg.data)
            reply: dict[str, Any] = {"result": result}
        except RpcError as exc:
            reply = {"error": {"code": exc.code, "message": exc.message}}
        if msg.reply:
            await msg.respond(json.dumps(reply).encode())

    async def _call(self, method: str, data: bytes) -> dict[str, Any]:
        target = self._methods.get(method)
        if target is None:
            raise RpcError("unknown_method", f"no method {method!r}; this node serves {sorted(self._methods)}")
        if len(data) > MAX_REQUEST_BYTES:
            raise RpcError("bad_request", f"request larger than {MAX_REQUEST_BYTES} bytes")
        try:
            params = json.loads(data or b"{}")
        except (ValueError, UnicodeDecodeError) as exc:
            raise RpcError("bad_request", f"request body is not JSON: {exc}") from None
        if not isinstance(params, dict):
            raise RpcError("bad_request", "request body must be a JSON object")
        try:
            return await target(params)
        except RpcError:
            raise
        except Exception as exc:
            code = getattr(exc, "code", None)  # PaymentRefused, QuoteError, LiquidityRefused: an ISO reason
            if isinstance(code, str):
                raise RpcError(code, str(exc)) from None
            if isinstance(exc, KeyError | TypeError | ValueError):
                raise RpcError("bad_request", f"{method}: {exc!r}") from None
            log.exception("rpc %s failed", method)
            raise RpcError("internal", f"{method} failed: {type(exc).__name__}") from None


def watch_lifeline(stop: asyncio.Event) -> None:
    """Set `stop` once standard input reaches its end. The launcher (node/launcher.py) starts each process with its
    standard input on a pipe whose other end only it holds, for as long as it runs: so no process of a network
    outlives the launcher that started it, even one killed with SIGKILL (a test run cut short, say)."""
    loop = asyncio.get_running_loop()

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        with contextlib.suppress(RuntimeError):  # the loop is already closed: the process has stopped
            loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


async def connect_control(url: str, stop: asyncio.Event) -> Client:
    """A process's control connection to NATS, reconnecting until `stop` is set; TransportError if NATS does not
    answer in time. It also stops the process on SIGTERM and SIGINT (by setting `stop`)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    control = Client()
    try:
        await connect_bounded(control, url, reconnect=True, closing=stop.is_set)
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        await control.close()
        raise TransportError(f"cannot reach NATS at {url}: {exc!r}") from None
    return control


class RpcClient:
    def __init__(self, nc: Client, prefix: str, *, secret: bytes | None = None) -> None:
        """`secret`: the network's control secret, which every request is signed with (None: unsigned)."""
        self._nc = nc
        self._prefix = prefix
        self._secret = secret

    async def call(
        self, bic: str, method: str, params: dict[str, Any] | None = None, *, timeout_s: float = 10.0
    ) -> dict[str, Any]:
        """Call `method` at node `bic`; raise RpcError with the node's code, or "unreachable" if nobody answered."""
        subject = f"{self._prefix}.{subject_token(bic)}.{method}"
        body = json.dumps(params or {}).encode()
        headers = None
        if self._secret is not None:
            stamp = str(time.time_ns())
            headers = {CONTROL_HEADER: f"{stamp}.{control_signature(self._secret, subject, stamp, body)}"}
        try:
            msg = await self._nc.request(subject, body, timeout=timeout_s, headers=headers)
        except Exception as exc:  # nats raises NoRespondersError, TimeoutError, ConnectionClosedError ...
            raise RpcError("unreachable", f"{bic} did not answer {method}: {type(exc).__name__}") from None
        reply = json.loads(msg.data)
        if "error" in reply:
            raise RpcError(str(reply["error"]["code"]), str(reply["error"]["message"]))
        result: dict[str, Any] = reply["result"]
        return result
