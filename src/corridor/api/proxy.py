"""`/acquiring/<BIC>/` in `corridor up --config`: a small reverse proxy to each acquiring bank's e-commerce gateway.

In the distributed mode each acquirer, and its gateway (api/gateway_server.py), runs in its bank's node process, at
the node config's `[cards] gateway`. The API process forwards what a web shop sends under `/acquiring/<BIC>/` to
that bank's gateway: the method, the path below the prefix, the query, the body (at most MAX_BODY_BYTES) and the
`Authorization`, `Idempotency-Key`, `Content-Type` and `Accept` headers; and gives back the gateway's status, body
and headers that matter (`Content-Type`, `Idempotent-Replayed`, `Allow`, `Location`, `WWW-Authenticate`). The
gateway authenticates the merchant and keeps the idempotency keys itself, so the proxy holds no key and no state. A
gateway that does not answer is a 503 problem+json naming the bank (never a 500): a payment cut on its way is safe
to send again with the same Idempotency-Key. Nothing of a request (it carries a card number) is logged. A gateway
served over TLS (the node's `[tls]`) is reached over HTTPS, with the node's own certificate as the client's.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from corridor.api.gateway_server import prefix
from corridor.api.problems import Problem, problem_response
from corridor.node.config import Endpoint, load_node_config
from corridor.node.launcher import DistributedNetwork
from corridor.tls import TlsFiles

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024
"""A payment, a refund or a void is a few hundred bytes."""
CONNECT_TIMEOUT_S = 2.0
ANSWER_TIMEOUT_S = 30.0
"""Longer than the gateway takes at worst (the acquirer gives up on the switch after 10 s, then answers 91)."""
REQUEST_HEADERS = ("authorization", "idempotency-key", "content-type", "accept")
ANSWER_HEADERS = ("content-type", "idempotent-replayed", "allow", "location", "www-authenticate")


class AcquiringProxy:
    """An ASGI app forwarding every HTTP request it gets (mounted at `/acquiring/<BIC>`) to `bic`'s gateway."""

    def __init__(
        self, bic: str, at: Endpoint, *, timeout_s: float = ANSWER_TIMEOUT_S, tls: TlsFiles | None = None
    ) -> None:
        self.bic, self.at = bic, at
        self._tls = tls
        self._timeout = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.forward(request)
        await response(scope, receive, send)

    async def forward(self, request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                problem = Problem(
                    413, "too-large", "Request too large", f"a request body is at most {MAX_BODY_BYTES} bytes"
                )
                return problem_response(problem, request.url.path)
        headers = {name: value for name in REQUEST_HEADERS if (value := request.headers.get(name)) is not None}
        scheme = "http" if self._tls is None else "https"
        url = httpx.URL(scheme=scheme, host=self.at[0], port=self.at[1], raw_path=_below(request.scope))
        try:
            answer = await self._http().request(request.method, url, content=bytes(body), headers=headers)
        except httpx.TransportError as exc:
            # Nothing of the exception's text: it may quote the URL. Its class says enough (refused, timed out).
            log.warning("the e-commerce gateway of %s did not answer", self.bic, extra={"error": type(exc).__name__})
            sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            return problem_response(_unavailable(self.bic, sent=sent), request.url.path)
        kept = {name: value for name in ANSWER_HEADERS if (value := answer.headers.get(name)) is not None}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        """One connection pool per event loop (a pool is bound to the loop it was made in)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # trust_env off: the gateway is on the node's own address, never behind the environment's HTTP proxy.
            verify = True if self._tls is None else self._tls.client_context()
            self._client = httpx.AsyncClient(
                timeout=self._timeout, trust_env=False, follow_redirects=False, verify=verify
            )
            self._loop = loop
        return self._client


def mount_remote_acquiring(app: FastAPI, network: DistributedNetwork) -> list[AcquiringProxy]:
    """Mount at `/acquiring/<BIC>` a proxy to each acquiring bank's gateway (its node config's `[cards] gateway`).
    Returns the proxies (their connection pools close with `aclose`)."""
    proxies = []
    for bic, process in network.nodes.items():
        config = load_node_config(process.config)
        if config.card_gateway is None:
            continue
        proxy = AcquiringProxy(bic, config.card_gateway, tls=config.tls)
        app.mount(prefix(bic), proxy)
        proxies.append(proxy)
    return proxies


def _below(scope: Scope) -> bytes:
    """The request's path below the mount's prefix, as it was sent (still percent-encoded), with its query."""
    root = str(scope.get("root_path", "")).encode()
    raw = scope.get("raw_path") or str(scope["path"]).encode()
    rest = raw[len(root) :] if raw.startswith(root) else raw
    query = scope.get("query_string", b"")
    return (rest or b"/") + (b"?" + query if query else b"")


def _unavailable(bic: str, *, sent: bool) -> Problem:
    if sent:
        detail = (
            f"the e-commerce gateway of {bic} did not answer in time; the request may have been taken: send it again"
            " with the same Idempotency-Key (it is done once)"
        )
    else:
        detail = f"the e-commerce gateway of {bic} cannot be reached; nothing was sent to it: try again later"
    return Problem(503, "acquirer-unavailable", "Acquirer unavailable", detail, bank=bic)
