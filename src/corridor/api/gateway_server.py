"""An acquiring bank's e-commerce gateway (api/ecommerce.py) served over HTTP in the process its acquirer runs in.

In the distributed mode the acquirer is in the acquiring bank's node process (node/cardhost.py), so its gateway is
too: `GatewayServer` serves `ecommerce_app` with uvicorn on the node's event loop, at the node config's `[cards]
gateway`, with the merchants' API keys from `[cards] merchant_keys` (the file `corridor network init` makes, the one
`corridor up` keeps for the embedded mode: terminal id -> key, 0600), the idempotency secret beside it, and the
idempotency store in the node's own folder. `corridor up --config` reaches it through api/proxy.py at
`/acquiring/<BIC>/`; the gateway is served with that root path, so its answers (a problem's `instance`, its OpenAPI
document and `/docs`) are the embedded mode's. With the node's `[tls]` it serves HTTPS (corridor/tls.py), refusing
clients without a certificate its CA signed when the node requires client certificates.

This module imports nothing of node/: the node process imports it (node/cardhost.py), not the other way round.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path

import uvicorn

from corridor.api.ecommerce import ecommerce_app
from corridor.api.idempotency import IdempotencyStore
from corridor.cards.acquirer import Acquirer
from corridor.network.identity import load_or_create_api_keys, load_or_create_secret
from corridor.node.config import GATEWAY_SECRET_FILE
from corridor.scenario.model import Scenario
from corridor.tls import TlsFiles

STORE_FILE = "acquiring.db"
"""The gateway's idempotency store, in the node's own folder."""
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
"""How long a stopping gateway lets the requests it is answering finish."""


def prefix(bic: str) -> str:
    """Where `corridor up` serves an acquiring bank's gateway."""
    return f"/acquiring/{bic}"


def merchants_of(scenario: Scenario, bic: str, merchant_keys: Mapping[str, str]) -> dict[str, str]:
    """API key -> terminal id of the merchants whose accounts `bic` holds (the ones its acquirer acquires for)."""
    if scenario.cards is None:
        return {}
    accounts = {a.number for a in scenario.accounts if a.bank == bic}
    return {merchant_keys[m.terminal]: m.terminal for m in scenario.cards.merchants if m.account in accounts}


class _Server(uvicorn.Server):
    """uvicorn's server, leaving the process's signals to their owner (the node stops on SIGTERM, then the
    gateway with it): uvicorn's own handlers would take SIGTERM from the node."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class GatewayServer:
    """`bic`'s e-commerce gateway over `acquirer`, listening at `host:port` once started."""

    def __init__(
        self,
        acquirer: Acquirer,
        scenario: Scenario,
        bic: str,
        at: tuple[str, int],
        *,
        merchant_keys: Path,
        data_dir: Path,
        tls: TlsFiles | None = None,
    ) -> None:
        """`tls`: serve HTTPS with these files (mutual when they require client certificates); None: HTTP."""
        self._acquirer, self._scenario, self._bic, self._at = acquirer, scenario, bic, at
        self._keys_path, self._data_dir = merchant_keys, data_dir
        self._tls = tls
        self._store: IdempotencyStore | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int | None:
        """The port it listens on (the one asked, or the one given for port 0), once started."""
        return None if self._socket is None else int(self._socket.getsockname()[1])

    async def start(self) -> None:
        """Bind (an OSError if the endpoint is taken: the node does not start), then serve."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        scheme = self._scenario.cards
        terminals = [] if scheme is None else [m.terminal for m in scheme.merchants]
        keys = load_or_create_api_keys(self._keys_path, terminals)
        secret = load_or_create_secret(self._keys_path.parent / GATEWAY_SECRET_FILE)
        self._socket = socket.create_server(self._at)
        self._store = IdempotencyStore(self._data_dir / STORE_FILE, secret)
        app = ecommerce_app(self._acquirer, merchants_of(self._scenario, self._bic, keys), self._store)
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="off",
            root_path=prefix(self._bic),
            timeout_graceful_shutdown=int(STOP_TIMEOUT_S),
            **({} if self._tls is None else self._tls.uvicorn_options()),
        )
        self._server = _Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[self._socket]))
        async with asyncio.timeout(START_TIMEOUT_S):
            while not self._server.started and not self._task.done():
                await asyncio.sleep(0.02)
        if self._task.done():
            await self._task
            raise OSError(f"{self._bic}'s e-commerce gateway could not serve at {self._at[0]}:{self._at[1]}")

    async def stop(self) -> None:
        """Stop taking requests, let those in flight finish (at most STOP_TIMEOUT_S), close the store."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S + 2)
            if not self._task.done():
                self._server.force_exit = True
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._socket is not None:
            self._socket.close()
        if self._store is not None:
            self._store.close()
