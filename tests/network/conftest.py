"""Helpers for the network tests: a whole scenario running in one process on the in-process transport.

pytest-asyncio is not used: each test is a plain function that runs its own `asyncio.run(scenario())`, and
`running_network` is the async context manager that builds, starts, settles and stops the network around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tomllib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from corridor.ledger import Ledger
from corridor.money import Money, currency
from corridor.network.context import ledger_id
from corridor.network.transport import MemoryTransport
from corridor.node.network import EmbeddedNetwork

if TYPE_CHECKING:
    from corridor.node.launcher import DistributedNetwork
from corridor.scenario.model import Scenario, default_scenario_path, load_scenario, parse_scenario

VE_IMPORTER = "VE0102010000000000031"  # Caracas Transportes at ORINVECA, 3 000 000.00 VES
VE_EXPORTER = "VE0134020000000000042"  # Andes Cacao at ANDSVECA, 250 000.00 VES
RU_EXPORTER = "RU0440701810000000011"  # Volga Truck Parts at VOLGRUMM, 1 000 000.00 RUB
RU_IMPORTER = "RU0440701810000000012"  # Kama Coffee Imports at VOLGRUMM, 5 000 000.00 RUB
RU_FERTILIZERS = "RU0440702810000000021"  # Ural Fertilizers at KAMARUMM, 500 000.00 RUB
RU_CLOSED = "RU0440702810000000022"  # Neva Machinery at KAMARUMM, closed

BANKS = ("VOLGRUMM", "KAMARUMM", "ORINVECA", "ANDSVECA")
CENTRAL_BANKS = {"RU": "CBXRRUMM", "VE": "CBXVVECA"}


class DroppingTransport(MemoryTransport):
    """The in-process transport, except that messages to the BICs in `unreachable` are accepted and lost."""

    def __init__(self) -> None:
        super().__init__()
        self.unreachable: set[str] = set()

    async def publish(self, recipient: str, message_id: str, data: bytes) -> None:
        if recipient in self.unreachable:
            return
        await super().publish(recipient, message_id, data)


def scenario_data() -> dict[str, Any]:
    """The default scenario as the dict its TOML file parses to, for a test to change before `parse_scenario`."""
    return tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))


def changed_scenario(change: Callable[[dict[str, Any]], None]) -> Scenario:
    data = scenario_data()
    change(data)
    return parse_scenario(data)


@asynccontextmanager
async def running_network(
    path: Path, scenario: Scenario | None = None, *, transport: MemoryTransport | None = None
) -> AsyncIterator[EmbeddedNetwork]:
    """A started network whose opening liquidity has reached every node; let go quiet, then stopped, on the way out.

    Going quiet before stopping also steps around a hang in Node.stop() on Python 3.11 (see
    test_credit_transfers.py::test_a_node_stops_at_once_right_after_it_was_woken).
    """
    net = EmbeddedNetwork(scenario or load_scenario(), path, transport or MemoryTransport())
    await net.start()
    try:
        await net.quiesce()
        yield net
    finally:
        with contextlib.suppress(TimeoutError):
            await net.quiesce(timeout_s=5)
        await net.stop()


def balance(ledger: Ledger, account_id: int) -> int:
    """Credits minus debits posted, in minor units (a customer's or a settlement account's balance)."""
    account = ledger.get_account(account_id)
    assert account is not None, f"account {account_id} not found"
    return account.credits_posted - account.debits_posted


def customer_balance(net: EmbeddedNetwork, number: str) -> Money:
    spec = net.scenario.account(number)
    bank_currency = net.scenario.country(net.scenario.participant(spec.bank).country).currency
    ledger = net.nodes[spec.bank].ledger
    return Money(balance(ledger, ledger_id(spec.bank, "account", number)), currency(bank_currency))


def nothing_pending(ledger: Ledger) -> bool:
    """No amount is reserved anywhere on this ledger: every pending transfer was posted or voided."""
    return all(t.debits_pending == 0 and t.credits_pending == 0 for t in ledger.check().ledgers)


class HoldingTransport(MemoryTransport):
    """The in-process transport, except that messages to the BICs in `holding` wait in `held` until released."""

    def __init__(self) -> None:
        super().__init__()
        self.holding: set[str] = set()
        self.held: list[tuple[str, str, bytes]] = []

    async def publish(self, recipient: str, message_id: str, data: bytes) -> None:
        if recipient in self.holding:
            self.held.append((recipient, message_id, data))
            return
        await super().publish(recipient, message_id, data)


# -- the real NATS server ------------------------------------------------------------------------------------------

NATS_URL = os.environ.get("CORRIDOR_TEST_NATS", "nats://127.0.0.1:4222")
REQUIRE_SERVICES = os.environ.get("CORRIDOR_REQUIRE_SERVICES") == "1"


async def jetstream_problem(url: str = NATS_URL) -> str | None:
    """None when NATS with JetStream answers at `url`, else why not."""
    from nats.aio.client import Client

    nc = Client()
    try:
        # nats-py retries a first connection for minutes unless something outside bounds it.
        await asyncio.wait_for(nc.connect(servers=[url], allow_reconnect=False, connect_timeout=2), timeout=3)
    except Exception as exc:  # any failure to connect means: not available
        await nc.close()
        return f"NATS at {url} is not reachable (is nats-server running with -js?): {exc!r}"
    try:
        await nc.jetstream(timeout=2).account_info()
    except Exception as exc:
        return f"NATS at {url} answers but JetStream does not (start it with -js): {exc!r}"
    finally:
        await nc.close()
    return None


def require_nats() -> str:
    """The server's URL; skips the calling test when it is down, or fails it when CI requires services."""
    reason = asyncio.run(jetstream_problem())
    if reason is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"CORRIDOR_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return NATS_URL


@pytest.fixture(scope="module")
def nats_url() -> str:
    return require_nats()


@contextlib.contextmanager
def distributed_layout(data_dir: Path, letter: str) -> Iterator[Path]:
    """A network laid out by `init_network` in `data_dir` (returned), on real NATS and PostgreSQL: a JetStream stream,
    subject prefixes and ledger schemas (`corridor_<letter><tag>_<bic>`, and `_platform` beside a central bank's) of
    its own, all dropped on the way out. Skips without NATS or PostgreSQL, or fails when CI requires them. Whoever
    starts processes on it stops them before leaving."""
    from corridor.network.transport.nats import delete_stream
    from corridor.node.config import load_node_config
    from corridor.node.launcher import init_network

    from ..conftest import POSTGRES_URL, drop_schema, require_postgres

    nats_url = require_nats()
    require_postgres()
    tag = uuid.uuid4().hex[:12]
    stream = f"CORRIDOR_TEST_{tag}"
    init_network(
        data_dir,
        nats_url=nats_url,
        stream=stream,
        subject_prefix=f"corridor.test.{tag}.inbox",
        rpc_prefix=f"corridor.test.{tag}.rpc",
        postgres=POSTGRES_URL,
        schema_prefix=f"corridor_{letter}{tag}",
    )
    try:
        yield data_dir
    finally:
        asyncio.run(delete_stream(nats_url, stream))
        for path in (data_dir / "nodes").glob("*/node.toml"):
            schema = load_node_config(path).ledger_schema
            if schema is not None:
                drop_schema(schema)
                drop_schema(f"{schema}_platform")


@pytest.fixture(scope="package")
def distributed_network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributedNetwork]:
    """One running network of node processes (seven nodes and the card scheme's) for the package's distributed tests,
    on its own stream, prefixes and ledger schemas (distributed_layout): starting it costs seconds. Each test makes
    its own payments under its own keys; a test that kills a process restarts it before it ends."""
    from corridor.node.launcher import open_distributed

    with distributed_layout(tmp_path_factory.mktemp("distributed"), "t") as data_dir:
        network = open_distributed(data_dir)
        try:
            asyncio.run(_started(network))
            yield network
        finally:
            for process in network.processes.values():  # the nodes and the card scheme's
                process.stop()


async def _started(network: DistributedNetwork) -> None:
    try:
        await network.start()
    finally:
        await network.disconnect()


QUIET_TIMEOUT_S = 30.0


def ledgers_quiet(configs: list[Path], timeout_s: float = QUIET_TIMEOUT_S) -> None:
    """Wait until every node's ledger (read-only, beside its running node) balances, verifies and holds nothing
    pending: the network has gone quiet. Payments other tests started without waiting (a retried request, say) may
    still be on their way, and a ledger read while a transfer is written can look unfinished; so it asks again until
    all agree, and fails with what still disagrees after `timeout_s`."""
    import time

    from corridor.node.config import load_node_config

    deadline = time.monotonic() + timeout_s
    while True:
        problems = []
        for path in configs:
            config = load_node_config(path)
            assert config.ledger_url is not None, "the distributed tests keep every ledger in PostgreSQL"
            with contextlib.closing(Ledger.open(config.ledger_url, schema=config.ledger_schema, readonly=True)) as led:
                checked, verified = led.check(), led.verify()
                if not (checked.ok and verified.ok and nothing_pending(led)):
                    problems.append(
                        f"{config.bic}: {checked.problems} {verified.problems} pending={not nothing_pending(led)}"
                    )
        if not problems:
            return
        assert time.monotonic() < deadline, problems
        time.sleep(0.2)


T = TypeVar("T")


def using(network: DistributedNetwork | Path, action: Callable[[DistributedNetwork], Awaitable[T]]) -> T:
    """Run `action` with a control connection of its own to the running network (given as its handle, or as its
    data directory: a new handle on the same layout)."""
    from corridor.node.launcher import open_distributed

    handle = open_distributed(network) if isinstance(network, Path) else network

    async def run() -> T:
        await handle.connect()
        try:
            return await action(handle)
        finally:
            await handle.disconnect()

    return asyncio.run(run())
