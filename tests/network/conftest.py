"""Helpers for the network tests: a whole scenario running in one process on the in-process transport.

pytest-asyncio is not used: each test is a plain function that runs its own `asyncio.run(scenario())`, and
`running_network` is the async context manager that builds, starts, settles and stops the network around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from corridor.ledger import Ledger
from corridor.money import Money, currency
from corridor.network.context import ledger_id
from corridor.network.transport import MemoryTransport
from corridor.node.network import EmbeddedNetwork
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
