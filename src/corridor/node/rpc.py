"""A node's control interface: JSON requests and replies over core NATS, `<rpc_prefix>.<BIC>.<method>`.

This is how a separate process asks a node to act (pay, quote, report a payment's state) until the REST API exists.
It carries instructions to one participant's own node, never interbank messages: those travel signed, as ISO 20022,
through the JetStream transport. Core NATS request/reply suits it: the caller waits for the answer, and a request
lost with a dying node is simply retried with the same idempotency key.

Request body: a JSON object of parameters. Reply: {"result": {...}} or {"error": {"code", "message"}}, where code
is an ISO reason (AM04, AC01, FF01 ...) when the refusal has one, else "bad_request", "unknown_method" or "internal".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from corridor.network.transport.base import TransportError
from corridor.network.transport.nats import connect_bounded, subject_token

log = logging.getLogger("corridor.rpc")

MAX_REQUEST_BYTES = 64 * 1024
Method = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class RpcError(Exception):
    """A refused or failed call; `code` says why in a word a program can test."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RpcServer:
    """Serves one participant's methods; each request runs as its own task, so slow calls do not queue others."""

    def __init__(self, nc: Client, prefix: str, bic: str, methods: dict[str, Method]) -> None:
        self._nc = nc
        self._subject = f"{prefix}.{subject_token(bic)}"
        self._methods = methods
        self._sub: Subscription | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
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

    async def _answer(self, msg: Msg) -> None:
        method = msg.subject.rsplit(".", 1)[-1]
        try:
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
    def __init__(self, nc: Client, prefix: str) -> None:
        self._nc = nc
        self._prefix = prefix

    async def call(
        self, bic: str, method: str, params: dict[str, Any] | None = None, *, timeout_s: float = 10.0
    ) -> dict[str, Any]:
        """Call `method` at node `bic`; raise RpcError with the node's code, or "unreachable" if nobody answered."""
        subject = f"{self._prefix}.{subject_token(bic)}.{method}"
        try:
            msg = await self._nc.request(subject, json.dumps(params or {}).encode(), timeout=timeout_s)
        except Exception as exc:  # nats raises NoRespondersError, TimeoutError, ConnectionClosedError ...
            raise RpcError("unreachable", f"{bic} did not answer {method}: {type(exc).__name__}") from None
        reply = json.loads(msg.data)
        if "error" in reply:
            raise RpcError(str(reply["error"]["code"]), str(reply["error"]["message"]))
        result: dict[str, Any] = reply["result"]
        return result
