"""A corridor served as `corridor up` serves it, with the dashboard mounted, and a headless Chromium to look at it.

The corridor runs its API (`api_for`) plus `corridor.web.mount` under uvicorn on a free loopback port, in a thread
with its own event loop, as tests/api/conftest.py does for the bare API: one per module, since starting it costs
about a second and each test only adds payments and token transactions of its own. The browser is Debian's
Chromium (Playwright's own download is not reachable here): without it the browser tests skip, unless
CORRIDOR_REQUIRE_SERVICES=1 says this run must exercise them, when they fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from corridor.api.app import api_for
from corridor.node.embedded import EmbeddedCorridor
from corridor.scenario import load_scenario
from corridor.web import mount

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_SERVICES = os.environ.get("CORRIDOR_REQUIRE_SERVICES") == "1"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
T = TypeVar("T")


@dataclass(frozen=True)
class Served:
    url: str
    keys: dict[str, str]
    corridor: EmbeddedCorridor
    loop: asyncio.AbstractEventLoop

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=30)

    def on_loop(self, work: Callable[[], T]) -> T:
        """Run `work` on the corridor's own thread, as an API handler would, and return its result."""
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(work())
            except BaseException as exc:
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return done.result(30)


async def _serve(corridor: EmbeddedCorridor, ready: asyncio.Event, bound: list[str]) -> None:
    """up_cmd.serve with the dashboard mounted: start the corridor, serve until cancelled, then stop it all."""
    await corridor.start()
    app, _keys, store = api_for(corridor)
    mount(app)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    try:
        task = asyncio.get_running_loop().create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if task.done():
            await task
            raise OSError("the dashboard's server could not listen")
        port = server.servers[0].sockets[0].getsockname()[1]
        bound.append(f"http://127.0.0.1:{port}")
        ready.set()
        await task
    finally:
        server.should_exit = True
        store.close()
        await corridor.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("corridor-web")
    corridor = EmbeddedCorridor(load_scenario(), data_dir)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failed: list[BaseException] = []
    main: list[asyncio.Task[None]] = []
    bound: list[str] = []

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def go() -> None:
            up = asyncio.Event()
            task = loop.create_task(_serve(corridor, up, bound))
            main.append(task)
            waiter = loop.create_task(up.wait())
            await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
            ready.set()
            await task

        try:
            loop.run_until_complete(go())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            failed.append(exc)
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="corridor-web", daemon=True)
    thread.start()
    assert ready.wait(120), "the corridor did not come up in 120 s"
    if failed:
        raise failed[0]
    keys = json.loads((data_dir / "keys" / "api-keys.json").read_text())
    try:
        yield Served(bound[0], keys, corridor, loop)
    finally:
        loop.call_soon_threadsafe(main[0].cancel)
        thread.join(60)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium); Playwright's own browser is not reachable"
        if REQUIRE_SERVICES:
            pytest.fail(f"CORRIDOR_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: $CORRIDOR_ARTIFACTS (kept by CI), else the test's own temporary directory."""
    where = Path(os.environ["CORRIDOR_ARTIFACTS"]) if os.environ.get("CORRIDOR_ARTIFACTS") else tmp_path
    where.mkdir(parents=True, exist_ok=True)
    return where


@dataclass
class Tab:
    """A fresh browser tab at 1280x800, with the script errors it met."""

    page: Page
    errors: list[str]


@pytest.fixture
def tab(browser: Browser, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Tab]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield Tab(page, errors)
    finally:
        with contextlib.suppress(PlaywrightError):  # an artifact, best effort: never hide the test's own failure
            page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar is drawn where the test had scrolled
            page.screenshot(path=str(artifacts / f"{request.node.name}.png"), full_page=True)
        context.close()
