"""Lay out a network for separate node processes and run them: `corridor network init`, `corridor network run`,
and the kill-and-restart tests and the NATS benchmark.

`init_network` writes, under one data directory, every participant's key (0600), the operator-signed directory and
one node.toml per participant. `NodeProcess` runs `python -m corridor node --config ...` for one participant and
can stop it politely (SIGTERM) or kill it (SIGKILL) and start it again on the same files.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import nats.errors
from nats.aio.client import Client

from corridor.network.transport.base import TransportError
from corridor.network.transport.nats import connect_bounded
from corridor.node.config import DEFAULT_NATS_URL, DEFAULT_STREAM, NodeConfig, load_node_config
from corridor.node.network import FINAL_STATES, build_directory, load_or_create_key
from corridor.node.platformkeys import write_public_keys
from corridor.node.rpc import RpcClient, RpcError
from corridor.scenario.model import Scenario, load_scenario

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def init_network(
    data_dir: Path,
    *,
    scenario_path: Path | None = None,
    nats_url: str = DEFAULT_NATS_URL,
    stream: str = DEFAULT_STREAM,
    subject_prefix: str = "corridor.inbox",
    rpc_prefix: str = "corridor.rpc",
    postgres: str | None = None,
    schema_prefix: str = "corridor",
) -> dict[str, Path]:
    """Keys, signed directory and one config per participant; existing keys are kept. Returns BIC -> config path.

    With `postgres` (a postgresql:// URL), each node keeps its ledger in that server, in a schema of its own
    (`<schema_prefix>_<bic>`): separate books in one server, as separate databases would be on separate machines."""
    data_dir = data_dir.resolve()
    scenario = load_scenario(scenario_path)
    keys_dir = data_dir / "keys"
    operator = load_or_create_key(keys_dir / "operator.pem")
    keys = {p.bic: load_or_create_key(keys_dir / f"{p.bic}.pem") for p in scenario.participants}
    directory_path = data_dir / "directory.json"
    build_directory(scenario, keys, operator).save(directory_path)
    configs: dict[str, Path] = {}
    operators = set() if scenario.digital is None else set(write_public_keys(scenario, keys_dir / "digital"))
    for spec in scenario.participants:
        node_dir = data_dir / "nodes" / spec.bic
        node_dir.mkdir(parents=True, exist_ok=True)
        config = NodeConfig(
            bic=spec.bic,
            data_dir=node_dir,
            key=keys_dir / f"{spec.bic}.pem",
            directory=directory_path,
            operator_key=operator.public_key,
            scenario=scenario_path.resolve() if scenario_path else None,
            nats_url=nats_url,
            stream=stream,
            subject_prefix=subject_prefix,
            rpc_prefix=rpc_prefix,
            ledger_url=postgres,
            ledger_schema=None if postgres is None else f"{schema_prefix}_{spec.bic.lower()}",
            digital_keys=keys_dir / "digital" if spec.bic in operators else None,
        )
        path = node_dir / "node.toml"
        path.write_text(config.to_toml(node_dir))
        configs[spec.bic] = path
    return configs


@dataclass
class NodeProcess:
    """One node's process; its output goes to node.log beside its files."""

    bic: str
    config: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.bic} is already running"
        self._log = (self.config.parent / "node.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "corridor", "node", "--config", str(self.config)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as when the machine loses power."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        self._close_log()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class DistributedNetwork:
    """Every participant of a scenario as its own process on NATS, and a control connection to them."""

    def __init__(self, data_dir: Path, configs: dict[str, Path], scenario: Scenario, nats_url: str, rpc_prefix: str):
        self.data_dir = data_dir
        self.scenario = scenario
        self.nats_url = nats_url
        self.rpc_prefix = rpc_prefix
        self.nodes = {bic: NodeProcess(bic, path) for bic, path in configs.items()}
        self._nc = Client()
        self.rpc = RpcClient(self._nc, rpc_prefix)

    async def connect(self) -> None:
        """Open the control connection only (to use a network whose nodes run elsewhere); TransportError if NATS
        does not answer in time."""
        try:
            await connect_bounded(self._nc, self.nats_url, reconnect=True, closing=lambda: self._nc.is_closed)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            await self._nc.close()
            raise TransportError(f"cannot reach NATS at {self.nats_url}: {exc!r}") from None

    async def disconnect(self) -> None:
        if not self._nc.is_closed:
            await self._nc.close()

    async def start(self) -> None:
        await self.connect()
        for node in self.nodes.values():
            node.start()
        await asyncio.gather(*(self.ready(bic) for bic in self.nodes))

    async def ready(self, bic: str, timeout_s: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """Wait until the node answers its control interface; fail early if its process died."""
        deadline = time.monotonic() + timeout_s
        node = self.nodes[bic]
        while True:
            if not node.running:
                raise RuntimeError(f"node {bic} exited; see {node.config.parent / 'node.log'}")
            try:
                return await self.rpc.call(bic, "ping", timeout_s=1.0)
            except RpcError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"node {bic} did not become ready in {timeout_s} s") from None
                await asyncio.sleep(0.1)

    async def restart(self, bic: str, *, kill: bool = True) -> None:
        node = self.nodes[bic]
        if kill:
            node.kill()
        else:
            node.stop()
        node.restarts += 1
        node.start()
        await self.ready(bic)

    async def stop(self) -> None:
        for node in self.nodes.values():  # all at once, then wait for each
            if node.running and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes.values():
            node.stop()
        await self.disconnect()

    async def call(self, bic: str, method: str, params: dict[str, Any] | None = None, timeout_s: float = 10.0) -> Any:
        return await self.rpc.call(bic, method, params, timeout_s=timeout_s)

    async def pay(
        self, debtor_account: str, creditor_account: str, amount: str, idempotency_key: str, timeout_s: float = 10.0
    ) -> str:
        params = _pay_params(debtor_account, creditor_account, amount, idempotency_key)
        result = await self.rpc.call(self.scenario.account(debtor_account).bank, "pay", params, timeout_s=timeout_s)
        return str(result["uetr"])

    async def pay_and_wait(
        self, debtor_account: str, creditor_account: str, amount: str, idempotency_key: str, timeout_s: float = 30.0
    ) -> tuple[str, str]:
        """Pay and wait for the payer's bank to record the payment final, in one request: (UETR, final state)."""
        params = _pay_params(debtor_account, creditor_account, amount, idempotency_key)
        params["wait"] = {"states": list(FINAL_STATES), "timeout_s": timeout_s}
        bank = self.scenario.account(debtor_account).bank
        result = await self.rpc.call(bank, "pay", params, timeout_s=timeout_s + 5)
        return str(result["uetr"]), str(result["state"])

    async def wait(self, bic: str, uetr: str, states: tuple[str, ...], timeout_s: float = 30.0) -> str:
        params = {"uetr": uetr, "states": list(states), "timeout_s": timeout_s}
        result = await self.rpc.call(bic, "wait", params, timeout_s=timeout_s + 5)
        return str(result["state"])


def _pay_params(debtor_account: str, creditor_account: str, amount: str, idempotency_key: str) -> dict[str, Any]:
    return {
        "debtor_account": debtor_account,
        "creditor_account": creditor_account,
        "amount": amount,
        "idempotency_key": idempotency_key,
    }


def open_distributed(data_dir: Path, scenario_path: Path | None = None) -> DistributedNetwork:
    """A DistributedNetwork over the configs `init_network` wrote to `data_dir` (not started)."""
    configs = {path.parent.name: path for path in sorted((data_dir / "nodes").glob("*/node.toml"))}
    if not configs:
        raise FileNotFoundError(f"no node configs under {data_dir / 'nodes'}: run `corridor network init` first")
    first = load_node_config(next(iter(configs.values())))
    scenario = load_scenario(first.scenario if scenario_path is None else scenario_path)
    return DistributedNetwork(data_dir, configs, scenario, first.nats_url, first.rpc_prefix)
