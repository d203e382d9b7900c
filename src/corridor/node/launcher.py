"""Lay out a network for separate node processes and run them: `corridor network init`, `corridor network run`,
and the kill-and-restart tests and the NATS benchmark.

`init_network` writes, under one data directory, every participant's key (0600), the operator-signed directory and
one node.toml per participant; for a scenario with a card scheme, also each card member's endpoints and an issuer's
card keys in its node.toml (`[cards]`), and the scheme process's own config (`scheme/scheme.toml`). `NodeProcess`
runs `python -m corridor node --config ...` for one participant (`SchemeProcess`: `corridor scheme --config ...`)
and can stop it politely (SIGTERM) or kill it (SIGKILL) and start it again on the same files.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

import nats.errors
from nats.aio.client import Client

from corridor.network.identity import load_or_create_api_keys, load_or_create_secret, read_secret
from corridor.network.transport.base import TransportError
from corridor.network.transport.nats import connect_bounded
from corridor.node.cardnet import load_issuer_keys
from corridor.node.config import (
    DEFAULT_NATS_URL,
    DEFAULT_STREAM,
    GATEWAY_SECRET_FILE,
    MERCHANT_KEYS_FILE,
    Endpoint,
    NodeConfig,
    load_node_config,
    url_holds_password,
)
from corridor.node.network import FINAL_STATES, build_directory, load_or_create_key
from corridor.node.platformkeys import write_public_keys
from corridor.node.rpc import RpcClient, RpcError
from corridor.node.schemeconfig import SchemeConfig, load_scheme_config
from corridor.scenario.model import Scenario, load_scenario
from corridor.tls import TlsFiles

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
CARD_HOST = "127.0.0.1"
"""Where init_network puts the card endpoints (ISO 8583 over TCP): loopback, every process on one machine."""
END_OF_DAY_TIMEOUT_S = 120.0


CONTROL_SECRET_FILE = "control.secret"
"""The network's control secret, in its keys folder (node/rpc.py)."""


def scheme_config_path(data_dir: Path) -> Path:
    """Where init_network writes the card scheme process's config."""
    return data_dir / "scheme" / "scheme.toml"


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
    card_port_base: int | None = None,
    nats_replicas: int = 1,
    tls_dir: Path | None = None,
) -> dict[str, Path]:
    """Keys, signed directory and one config per participant; existing keys are kept. Returns BIC -> config path.

    With `postgres` (a postgresql:// URL), each node keeps its ledger in that server, in a schema of its own
    (`<schema_prefix>_<bic>`): separate books in one server, as separate databases would be on separate machines.

    A scenario with a card scheme also gets its card endpoints on loopback: the switch's, each issuing bank's, each
    acquiring bank's, then each acquiring bank's e-commerce gateway (HTTP), on consecutive ports from
    `card_port_base` (the switch first), or without it on ports free at the time; each issuing bank's card keys
    (`keys/cards-<BIC>.json`, 0600, kept if present); the merchants' API keys the gateways authenticate them by
    (`keys/merchant-keys.json`, 0600, kept if present) and the gateways' idempotency secret beside them
    (`keys/api-idempotency.key`); and the scheme process's config (`scheme/scheme.toml`, scheme_config_path).

    `nats_url` may name a cluster's servers, comma-separated; `nats_replicas` is how many of them keep the stream
    (3 on a three-server cluster survives the loss of any one).

    `tls_dir`: a folder of PEM files from the operator's PKI, `ca.crt` and `<name>.crt` with `<name>.key` for every
    participant with card endpoints and for `scheme`; each of those then gets a `[tls]` table (mutual TLS on its
    ISO 8583 links and its e-commerce gateway: docs/security.md §4). ValueError naming every file missing."""
    if postgres is not None and url_holds_password(postgres):
        raise ValueError("the PostgreSQL URL holds a password: give it in PGPASSFILE or PGPASSWORD, not in node.toml")
    data_dir = data_dir.resolve()
    scenario = load_scenario(scenario_path)
    cards = _card_endpoints(scenario, card_port_base)
    tls = _tls_files(tls_dir, cards) if tls_dir is not None else {}  # checked before anything is written
    keys_dir = data_dir / "keys"
    operator = load_or_create_key(keys_dir / "operator.pem")
    keys = {p.bic: load_or_create_key(keys_dir / f"{p.bic}.pem") for p in scenario.participants}
    directory_path = data_dir / "directory.json"
    build_directory(scenario, keys, operator).save(directory_path)
    control_secret = keys_dir / CONTROL_SECRET_FILE
    load_or_create_secret(control_secret)  # 0600, once: every process signs its control requests with it
    merchant_keys = keys_dir / MERCHANT_KEYS_FILE
    if cards.gateways and scenario.cards is not None:
        # Made here once (0600), so that the gateways' node processes and `corridor up` read the same files.
        load_or_create_api_keys(merchant_keys, [m.terminal for m in scenario.cards.merchants])
        load_or_create_secret(keys_dir / GATEWAY_SECRET_FILE)
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
            nats_replicas=nats_replicas,
            control_secret=control_secret,
            ledger_url=postgres,
            ledger_schema=None if postgres is None else f"{schema_prefix}_{spec.bic.lower()}",
            digital_keys=keys_dir / "digital" if spec.bic in operators else None,
            card_issuer=cards.issuers.get(spec.bic),
            card_acquirer=cards.acquirers.get(spec.bic),
            card_switch=cards.switch if spec.bic in cards.acquirers else None,
            card_keys=keys_dir / f"cards-{spec.bic}.json" if spec.bic in cards.issuers else None,
            card_gateway=cards.gateways.get(spec.bic),
            merchant_keys=merchant_keys if spec.bic in cards.gateways else None,
            tls=tls.get(spec.bic),
        )
        if config.card_keys is not None:
            load_issuer_keys(config.card_keys)  # made here (0600) once: the card bureau and the issuer share them
        path = node_dir / "node.toml"
        path.write_text(config.to_toml(node_dir))
        configs[spec.bic] = path
    if cards.switch is not None:
        _write_scheme_config(data_dir, cards, scenario_path, nats_url, rpc_prefix, control_secret, tls.get(SCHEME_TLS))
    else:  # a scenario without a scheme: no scheme process, even where an earlier init wrote one
        scheme_config_path(data_dir).unlink(missing_ok=True)
    return configs


@dataclass(frozen=True)
class _CardEndpoints:
    switch: Endpoint | None = None
    issuers: dict[str, Endpoint] = field(default_factory=dict)
    acquirers: dict[str, Endpoint] = field(default_factory=dict)
    gateways: dict[str, Endpoint] = field(default_factory=dict)
    """Each acquiring bank's e-commerce gateway (HTTP, served in its node process)."""


def _card_endpoints(scenario: Scenario, port_base: int | None) -> _CardEndpoints:
    """The switch's, the issuers', the acquirers' and their e-commerce gateways' endpoints, in that order (none for
    a scenario without a card scheme)."""
    if scenario.cards is None:
        return _CardEndpoints()
    issuers = [spec.bank for spec in scenario.cards.issuers]
    acquirers = [spec.bank for spec in scenario.cards.acquirers]
    count = 1 + len(issuers) + 2 * len(acquirers)
    if port_base is not None and not 0 < port_base <= 65536 - count:
        raise ValueError(f"card_port_base {port_base}: {count} ports from it must be between 1 and 65535")
    ports = list(range(port_base, port_base + count)) if port_base is not None else _free_ports(count)
    at = [(CARD_HOST, port) for port in ports]
    gateways_from = 1 + len(issuers) + len(acquirers)
    return _CardEndpoints(
        at[0],
        dict(zip(issuers, at[1 : 1 + len(issuers)], strict=True)),
        dict(zip(acquirers, at[1 + len(issuers) : gateways_from], strict=True)),
        dict(zip(acquirers, at[gateways_from:], strict=True)),
    )


SCHEME_TLS = "scheme"
"""The name of the card scheme's certificate and key in an init's TLS folder (`scheme.crt`, `scheme.key`)."""


def _tls_files(folder: Path, cards: _CardEndpoints) -> dict[str, TlsFiles]:
    """Each card participant's (and the scheme's) TLS files in `folder`, mutual; ValueError naming what is missing."""
    folder = folder.resolve()
    names = sorted({*cards.issuers, *cards.acquirers}) + ([SCHEME_TLS] if cards.switch is not None else [])
    wanted = [folder / "ca.crt", *(folder / f"{name}.{kind}" for name in names for kind in ("crt", "key"))]
    missing = [path.name for path in wanted if not path.is_file()]
    if missing:
        raise ValueError(f"{folder}: missing {', '.join(missing)} (a CA bundle, and a certificate and key for each)")
    return {
        name: TlsFiles(folder / f"{name}.crt", folder / f"{name}.key", folder / "ca.crt", require_client_cert=True)
        for name in names
    }


def _free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports nothing listens on now (held open together while chosen, so distinct)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind((CARD_HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]


def _write_scheme_config(
    data_dir: Path,
    cards: _CardEndpoints,
    scenario_path: Path | None,
    nats_url: str,
    rpc_prefix: str,
    control_secret: Path,
    tls: TlsFiles | None,
) -> None:
    """The card scheme process's config, its folder, and its advice queue's key (0600, kept if present)."""
    assert cards.switch is not None
    scheme_dir = scheme_config_path(data_dir).parent
    scheme_dir.mkdir(parents=True, exist_ok=True)
    advice_key = data_dir / "keys" / "cards-switch.key"
    load_or_create_secret(advice_key)
    scheme = SchemeConfig(
        data_dir=scheme_dir,
        advice_key=advice_key,
        switch=cards.switch,
        issuers=cards.issuers,
        scenario=scenario_path.resolve() if scenario_path else None,
        nats_url=nats_url,
        rpc_prefix=rpc_prefix,
        control_secret=control_secret,
        tls=tls,
    )
    scheme_config_path(data_dir).write_text(scheme.to_toml(scheme_dir))


@dataclass
class NodeProcess:
    """One node's process; its output goes to node.log beside its files.

    It is started with a lifeline (rpc.watch_lifeline): its standard input is a pipe whose other end only this
    object holds, so the process stops by itself once this object is gone or the launcher's process dies, even if
    nobody stopped it (a test run killed half-way, `corridor up --config` killed with SIGKILL)."""

    bic: str
    config: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)
    _lifeline: IO[bytes] | None = field(default=None, repr=False)
    command: ClassVar[str] = "node"
    log_name: ClassVar[str] = "node.log"

    @property
    def log_path(self) -> Path:
        return self.config.parent / self.log_name

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.bic} is already running"
        self._cut_lifeline()
        self._log = self.log_path.open("ab")
        read, write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "corridor", self.command, "--config", str(self.config), "--lifeline"],
                stdin=read,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                env=os.environ | {"PYTHONUNBUFFERED": "1"},
            )
        except BaseException:
            os.close(write)
            raise
        finally:
            os.close(read)
        self._lifeline = os.fdopen(write, "wb")

    def _cut_lifeline(self) -> None:
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None

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
        self._cut_lifeline()


@dataclass
class SchemeProcess(NodeProcess):
    """The card scheme's process (`corridor scheme --config`), named on the control interface as its config says."""

    command: ClassVar[str] = "scheme"
    log_name: ClassVar[str] = "scheme.log"


class DistributedNetwork:
    """Every participant of a scenario as its own process on NATS, and a control connection to them."""

    def __init__(
        self,
        data_dir: Path,
        configs: dict[str, Path],
        scenario: Scenario,
        nats_url: str,
        rpc_prefix: str,
        scheme_config: Path | None = None,
        control_secret: bytes | None = None,
    ):
        """`scheme_config`: the card scheme process's config, to run it beside the nodes (`scheme`);
        `control_secret`: what the control requests are signed with (node/rpc.py)."""
        self.data_dir = data_dir
        self.control_secret = control_secret
        self.scenario = scenario
        self.nats_url = nats_url
        self.rpc_prefix = rpc_prefix
        self.nodes = {bic: NodeProcess(bic, path) for bic, path in configs.items()}
        self.scheme: SchemeProcess | None = None
        if scheme_config is not None:
            self.scheme = SchemeProcess(load_scheme_config(scheme_config).name, scheme_config)
        self._nc = Client()
        self.rpc = RpcClient(self._nc, rpc_prefix, secret=control_secret)

    async def connect(self) -> None:
        """Open the control connection only (to use a network whose nodes run elsewhere); TransportError if NATS
        does not answer in time. Again after `disconnect`: a new connection (one for each event loop a caller runs)."""
        if self._nc.is_closed:
            self._nc = Client()
            self.rpc = RpcClient(self._nc, self.rpc_prefix, secret=self.control_secret)
        try:
            await connect_bounded(self._nc, self.nats_url, reconnect=True, closing=lambda: self._nc.is_closed)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            await self._nc.close()
            raise TransportError(f"cannot reach NATS at {self.nats_url}: {exc!r}") from None

    async def disconnect(self) -> None:
        if not self._nc.is_closed:
            await self._nc.close()

    @property
    def processes(self) -> dict[str, NodeProcess]:
        """Every process of the network by its name on the control interface: the nodes, and the scheme's."""
        return self.nodes | ({self.scheme.bic: self.scheme} if self.scheme is not None else {})

    async def start(self) -> None:
        await self.connect()
        for process in self.processes.values():
            process.start()
        await asyncio.gather(*(self.ready(name) for name in self.processes))

    async def ready(self, bic: str, timeout_s: float = READY_TIMEOUT_S) -> dict[str, Any]:
        """Wait until the node (or the scheme, by its name) answers its control interface; fail early if its
        process died."""
        deadline = time.monotonic() + timeout_s
        node = self.processes[bic]
        while True:
            if not node.running:
                raise RuntimeError(f"{node.command} {bic} exited; see {node.log_path}")
            try:
                return await self.rpc.call(bic, "ping", timeout_s=1.0)
            except RpcError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"node {bic} did not become ready in {timeout_s} s") from None
                await asyncio.sleep(0.1)

    async def restart(self, bic: str, *, kill: bool = True) -> None:
        node = self.processes[bic]
        if kill:
            node.kill()
        else:
            node.stop()
        node.restarts += 1
        node.start()
        await self.ready(bic)

    async def stop(self) -> None:
        processes = list(self.processes.values())
        for node in processes:  # all at once, then wait for each
            if node.running and node.process is not None:
                node.process.send_signal(signal.SIGTERM)
        for node in processes:
            node.stop()
        await self.disconnect()

    async def end_of_day(self, cycle: str, timeout_s: float = END_OF_DAY_TIMEOUT_S) -> dict[str, Any]:
        """Ask the card scheme's process to close the day `cycle` across the members (schemehost.day_json)."""
        if self.scheme is None:
            raise RuntimeError(f"no card scheme process in {self.data_dir}: the scenario has no [cards]")
        return await self.rpc.call(self.scheme.bic, "end_of_day", {"cycle": cycle}, timeout_s=timeout_s)

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
    scheme = scheme_config_path(data_dir)
    secret = None if first.control_secret is None else read_secret(first.control_secret)
    return DistributedNetwork(
        data_dir,
        configs,
        scenario,
        first.nats_url,
        first.rpc_prefix,
        scheme if scheme.exists() else None,
        control_secret=secret,
    )
