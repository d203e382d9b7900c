"""Helpers for the network tests: a whole scenario running in one process on the in-process transport.

pytest-asyncio is not used: each test is a plain function that runs its own `asyncio.run(scenario())`, and
`running_network` is the async context manager that builds, starts, settles and stops the network around it.
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

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
