"""`corridor up`: the scenario's corridor on the embedded default, serving the REST API (and the dashboard); with
`--config`, a network laid out by `corridor network init`, each node its own process, and the API over them.

Every node, the card scheme and the token platforms run in this process (node/embedded.py), with their files under
--data-dir, which is kept between runs: stopping and starting again continues where it stopped. The API keys are
made on first start and kept in <data dir>/keys/api-keys.json (0600); the observer key opens the dashboard.

With `--tls-cert` and `--tls-key` the API is served over HTTPS (corridor/tls.py); with `--tls-ca` and
`--tls-require-client-cert`, only to clients presenting a certificate that CA signed (mutual TLS). The options
name files; the key's password, if it has one, comes from the environment (CORRIDOR_TLS_KEY_PASSWORD_FILE).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from fastapi import FastAPI
from rich.markup import escape
from rich.panel import Panel

from corridor import logs
from corridor.api.app import api_for, api_over
from corridor.api.keys import OBSERVER
from corridor.cli.common import EXIT_FAILED, console, fail
from corridor.network.transport.base import TransportError
from corridor.node.digitalsetup import open_scenario_wallets
from corridor.node.embedded import EmbeddedCorridor
from corridor.node.launcher import open_distributed
from corridor.scenario import ScenarioError, load_scenario
from corridor.tls import TlsError, TlsFiles

log = logging.getLogger(__name__)


async def serve(
    corridor: EmbeddedCorridor,
    host: str,
    port: int,
    *,
    ready: asyncio.Event | None = None,
    tls: TlsFiles | None = None,
) -> None:
    """Start the corridor, serve its API until SIGINT/SIGTERM (or the task is cancelled), then stop it all; over
    HTTPS with `tls`."""
    await corridor.start()
    app, keys, store = api_for(corridor)
    title = f"corridor up: {len(corridor.network.nodes)} nodes ({escape(corridor.scenario.name)})"
    try:
        await _serve_app(app, keys, corridor.data_dir, host, port, title, ready=ready, dashboard=True, tls=tls)
    finally:
        for opened in getattr(app.state, "stores", [store]):
            opened.close()
        await corridor.stop()


async def serve_distributed(
    data_dir: Path,
    host: str,
    port: int,
    *,
    ready: asyncio.Event | None = None,
    start_nodes: bool = True,
    tls: TlsFiles | None = None,
) -> None:
    """Start every node of the network `corridor network init` laid out in `data_dir` as its own process (or, with
    `start_nodes=False`, use those already running), serve the API over them, then stop what it started."""
    network = open_distributed(data_dir)
    loop = asyncio.get_running_loop()

    def call(bic: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = asyncio.run_coroutine_threadsafe(
            network.call(bic, method, params, timeout_s=30), loop
        ).result()
        return found

    try:  # whatever fails from here on, the processes this started are stopped, never left running
        if start_nodes:
            await network.start()
        else:
            await network.connect()
        # The scenario's wallets, opened and funded once (a worker thread: the tooling is synchronous).
        await asyncio.to_thread(open_scenario_wallets, network.scenario, data_dir, call)
        app, keys, store = api_over(network)
        title = f"corridor up --config: {len(network.nodes)} node processes ({escape(network.scenario.name)})"
        try:
            await _serve_app(app, keys, data_dir, host, port, title, ready=ready, dashboard=True, tls=tls)
        finally:
            for opened in getattr(app.state, "stores", [store]):
                opened.close()
            for proxy in getattr(app.state, "proxies", []):
                await proxy.aclose()
    finally:
        if start_nodes:
            await network.stop()
        else:
            await network.disconnect()


async def _serve_app(
    app: FastAPI,
    keys: dict[str, str],
    data_dir: Path,
    host: str,
    port: int,
    title: str,
    *,
    ready: asyncio.Event | None,
    dashboard: bool,
    tls: TlsFiles | None = None,
) -> None:
    """Serve `app` until cancelled (over HTTPS with `tls`); its URL is written to <data dir>/api/url and shown with
    where the keys are."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        **({} if tls is None else tls.uvicorn_options()),
    )
    server = uvicorn.Server(config)
    try:
        task = asyncio.get_running_loop().create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if task.done():
            await task
            raise OSError(f"the API could not listen on {host}:{port}")
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        corridor_url = f"{'http' if tls is None else 'https'}://{host}:{bound}"
        (data_dir / "api").mkdir(parents=True, exist_ok=True)
        (data_dir / "api" / "url").write_text(corridor_url + "\n")
        log.info("corridor up", extra={"url": corridor_url})
        lines = [f"API       {corridor_url}/docs"]
        if dashboard:
            # The observer key opens the dashboard; it goes in the URL only on an interactive terminal, never into
            # output that may be captured to a log file (where the page asks for the key instead).
            fragment = f"#key={keys[OBSERVER]}" if console.is_terminal else "  (key: 'observer' in the API keys file)"
            lines.append(f"dashboard {corridor_url}/{fragment}")
        lines += [
            f"metrics   {corridor_url}/metrics",
            f"API keys  {escape(str(data_dir / 'keys' / 'api-keys.json'))} (one per participant)",
        ]
        console.print(Panel.fit("\n".join(lines), title=title))
        if ready is not None:
            ready.set()
        await task
    finally:
        server.should_exit = True


def up(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The corridor's files (kept between runs).")] = Path(
        "data/up"
    ),
    scenario: Annotated[Path | None, typer.Option("--scenario", help="A scenario TOML file (default RU-VE).")] = None,
    host: Annotated[str, typer.Option("--host", help="Where the API listens.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The API's port (0: any free one).", min=0, max=65535)] = 8000,
    log_json: Annotated[bool, typer.Option("--log-json", help="Logs as JSON lines on stderr.")] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A network laid out by `corridor network init` (its data directory): run each node as its own "
            "process (PostgreSQL, NATS JetStream) and serve the API over them.",
        ),
    ] = None,
    attach: Annotated[
        bool, typer.Option("--attach", help="With --config: the nodes run already (started elsewhere); serve only.")
    ] = False,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Serve HTTPS with this certificate (PEM); needs --tls-key.")
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option("--tls-key", help="Its private key file (PEM, 0600; a password only from the environment)."),
    ] = None,
    tls_ca: Annotated[
        Path | None, typer.Option("--tls-ca", help="The CA bundle client certificates are checked against.")
    ] = None,
    tls_require_client_cert: Annotated[
        bool, typer.Option("--tls-require-client-cert", help="Mutual TLS: refuse clients without a certificate.")
    ] = False,
) -> None:
    """Run the scenario's corridor and serve its REST API: on the embedded default (with the dashboard), or with
    --config as separate node processes."""
    tls = _tls(tls_cert, tls_key, tls_ca, tls_require_client_cert)
    logs.configure(json=log_json, level=logging.INFO)
    if config is not None:
        if not (config / "nodes").is_dir():
            fail(f"{config} holds no network: run `corridor network init --data-dir {config}` first", EXIT_FAILED)
        work = serve_distributed(config, host, port, start_nodes=not attach, tls=tls)
    else:
        try:
            corridor = EmbeddedCorridor(load_scenario(scenario), data_dir)
        except ScenarioError as exc:
            fail(f"scenario: {exc}", EXIT_FAILED)
        work = serve(corridor, host, port, tls=tls)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await work

    try:
        asyncio.run(main())
    except (OSError, TransportError, TimeoutError, RuntimeError) as exc:
        fail(f"corridor up: {exc}", EXIT_FAILED)


def _tls(cert: Path | None, key: Path | None, ca: Path | None, require_client_cert: bool) -> TlsFiles | None:
    """The API's TLS files from the command's options (None: plain HTTP), checked before anything starts."""
    if cert is None and key is None:
        if ca is not None or require_client_cert:
            fail("--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key")
        return None
    if cert is None or key is None:
        fail("--tls-cert and --tls-key go together")
    try:
        tls = TlsFiles(cert, key, ca, require_client_cert)
        tls.server_context()  # the files load: a mistake is told now, not after the corridor has started
    except TlsError as exc:
        fail(str(exc), EXIT_FAILED)
    return tls
