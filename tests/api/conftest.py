"""The API tests talk to one corridor served as `corridor up` serves it (tests/serving.py), started once per test
session: starting it costs seconds, and the tests use their own keys and accounts so that they do not depend on one
another's order."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from corridor.node.launcher import DistributedNetwork, open_distributed

from ..network.conftest import distributed_layout
from ..serving import Served, corridor_served

__all__ = ["Served", "UpConfig"]


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with corridor_served(tmp_path_factory.mktemp("corridor-up")) as running:
        yield running


@dataclass(frozen=True)
class UpConfig:
    """`corridor up --config` running over a network of node processes (real PostgreSQL and NATS)."""

    url: str
    data_dir: Path
    keys: dict[str, str]
    """The participants' API keys."""
    merchant_keys: dict[str, str]
    """Terminal id -> its merchant's key at its acquirer's e-commerce gateway."""
    network: DistributedNetwork
    """The network's layout (configs, scenario), for a test's own control connection; not the running processes."""

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.keys[who]}"}, timeout=30)


UP_START_TIMEOUT_S = 90
UP_STOP_TIMEOUT_S = 30


@pytest.fixture(scope="package")
def up_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpConfig]:
    """One `corridor up --config` process for the package's distributed tests (starting its nine processes costs
    seconds): it starts the nodes and the scheme, serves on a free loopback port, and stops them all on SIGTERM; the
    stream and every ledger schema are dropped after. Skipped without PostgreSQL or NATS (failed under CI)."""
    with distributed_layout(tmp_path_factory.mktemp("up-config"), "u") as data_dir:
        log = (data_dir / "up.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "corridor", "up", "--config", str(data_dir), "--port", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        try:
            url = _wait_for_url(data_dir, process)
            keys = json.loads((data_dir / "keys" / "api-keys.json").read_text())
            merchant_keys = json.loads((data_dir / "keys" / "merchant-keys.json").read_text())
            yield UpConfig(url, data_dir, keys, merchant_keys, open_distributed(data_dir))
        finally:
            process.send_signal(signal.SIGTERM)  # it stops the processes it started
            try:
                process.wait(UP_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()


def _wait_for_url(data_dir: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + UP_START_TIMEOUT_S
    url_file = data_dir / "api" / "url"
    while time.monotonic() < deadline:
        assert process.poll() is None, (data_dir / "up.log").read_text()[-3000:]
        if url_file.exists():
            url = url_file.read_text().strip()
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return url
        time.sleep(0.2)
    raise TimeoutError(f"corridor up --config did not serve in {UP_START_TIMEOUT_S} s")
