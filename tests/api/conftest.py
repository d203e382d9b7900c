"""A corridor served as `corridor up` serves it: every node, the card scheme and the token platforms in a thread of
their own, the API on a free loopback port. One per test session: starting it costs seconds, and the tests use
their own keys and accounts so that they do not depend on one another's order."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from corridor.cli.up_cmd import serve
from corridor.node.embedded import EmbeddedCorridor
from corridor.scenario import load_scenario


@dataclass(frozen=True)
class Served:
    url: str
    keys: dict[str, str]
    data_dir: Path
    corridor: EmbeddedCorridor

    def client(self, who: str | None = None) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("corridor-up")
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

    thread = threading.Thread(target=run, name="corridor-up", daemon=True)
    thread.start()
    assert ready.wait(120), "the corridor did not come up in 120 s"
    if failed:
        raise failed[0]
    url = (data_dir / "api" / "url").read_text().strip()
    keys = json.loads((data_dir / "keys" / "api-keys.json").read_text())
    try:
        yield Served(url, keys, data_dir, corridor)
    finally:
        loop.call_soon_threadsafe(main[0].cancel)
        thread.join(60)
