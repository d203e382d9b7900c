"""`corridor up`: the scenario's corridor on the embedded default, serving the REST API (and the dashboard).

Every node, the card scheme and the token platforms run in this process (node/embedded.py), with their files under
--data-dir, which is kept between runs: stopping and starting again continues where it stopped. The API keys are
made on first start and kept in <data dir>/keys/api-keys.json (0600); the observer key opens the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.markup import escape
from rich.panel import Panel

from corridor import logs
from corridor.api.app import api_for
from corridor.api.keys import OBSERVER
from corridor.cli.common import EXIT_FAILED, console, fail
from corridor.node.embedded import EmbeddedCorridor
from corridor.scenario import ScenarioError, load_scenario

log = logging.getLogger(__name__)


async def serve(corridor: EmbeddedCorridor, host: str, port: int, *, ready: asyncio.Event | None = None) -> None:
    """Start the corridor, serve its API until SIGINT/SIGTERM (or the task is cancelled), then stop it all."""
    await corridor.start()
    app, keys, store = api_for(corridor)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        task = asyncio.get_running_loop().create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if task.done():
            await task
            raise OSError(f"the API could not listen on {host}:{port}")
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        corridor_url = f"http://{host}:{bound}"
        (corridor.data_dir / "api").mkdir(parents=True, exist_ok=True)
        (corridor.data_dir / "api" / "url").write_text(corridor_url + "\n")
        log.info("corridor up", extra={"url": corridor_url, "nodes": len(corridor.network.nodes)})
        # The observer key opens the dashboard; it goes in the URL only on an interactive terminal, never into
        # output that may be captured to a log file (where the page asks for the key instead).
        fragment = f"#key={keys[OBSERVER]}" if console.is_terminal else "  (key: 'observer' in the API keys file)"
        console.print(
            Panel.fit(
                f"API       {corridor_url}/docs\n"
                f"dashboard {corridor_url}/{fragment}\n"
                f"metrics   {corridor_url}/metrics\n"
                f"API keys  {escape(str(corridor.data_dir / 'keys' / 'api-keys.json'))} (one per participant)",
                title=f"corridor up: {len(corridor.network.nodes)} nodes ({escape(corridor.scenario.name)})",
            )
        )
        if ready is not None:
            ready.set()
        await task
    finally:
        server.should_exit = True
        for opened in getattr(app.state, "stores", [store]):
            opened.close()
        await corridor.stop()


def up(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The corridor's files (kept between runs).")] = Path(
        "data/up"
    ),
    scenario: Annotated[Path | None, typer.Option("--scenario", help="A scenario TOML file (default RU-VE).")] = None,
    host: Annotated[str, typer.Option("--host", help="Where the API listens.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The API's port (0: any free one).", min=0, max=65535)] = 8000,
    log_json: Annotated[bool, typer.Option("--log-json", help="Logs as JSON lines on stderr.")] = False,
) -> None:
    """Run the scenario's corridor on the embedded default and serve its REST API and dashboard."""
    logs.configure(json=log_json, level=logging.INFO)
    try:
        corridor = EmbeddedCorridor(load_scenario(scenario), data_dir)
    except ScenarioError as exc:
        fail(f"scenario: {exc}", EXIT_FAILED)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serve(corridor, host, port)

    try:
        asyncio.run(main())
    except OSError as exc:
        fail(f"corridor up: {exc}", EXIT_FAILED)
