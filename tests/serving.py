"""A corridor served as `corridor up` serves it (every node, the card scheme, the token platforms, the API and the
dashboard), in a thread with its own event loop, on a free loopback port: what the API and dashboard tests talk to.

`up_cmd.serve` itself runs there, so the tests exercise exactly what the command does."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

from corridor.cli.up_cmd import serve
from corridor.node.embedded import EmbeddedCorridor
from corridor.scenario import load_scenario

T = TypeVar("T")
START_TIMEOUT_S = 120


@dataclass(frozen=True)
class Served:
    url: str
    keys: dict[str, str]
    data_dir: Path
    corridor: EmbeddedCorridor
    loop: asyncio.AbstractEventLoop

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

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


@contextmanager
def corridor_served(data_dir: Path, name: str = "corridor-up") -> Iterator[Served]:
    """Serve a corridor kept in `data_dir` until the block ends, then stop it all."""
    corridor = EmbeddedCorridor(load_scenario(), data_dir)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    failed: list[BaseException] = []
    main: list[asyncio.Task[None]] = []

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def go() -> None:
            up = asyncio.Event()
            task = loop.create_task(serve(corridor, "127.0.0.1", 0, ready=up))
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

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    assert ready.wait(START_TIMEOUT_S), f"the corridor did not come up in {START_TIMEOUT_S} s"
    if failed:
        raise failed[0]
    url = (data_dir / "api" / "url").read_text().strip()
    keys = json.loads((data_dir / "keys" / "api-keys.json").read_text())
    try:
        yield Served(url, keys, data_dir, corridor, loop)
    finally:
        loop.call_soon_threadsafe(main[0].cancel)
        thread.join(60)
