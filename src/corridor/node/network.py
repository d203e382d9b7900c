"""A whole scenario's network in one process: every participant a node with its own files, on one transport.

This is the embedded default behind `corridor demo`. Nothing is shared between nodes but the transport: each has
its own key, ledger file and records, and they talk only through signed, schema-validated messages, exactly as in
the distributed mode. Keys are generated once per data directory and kept there (0600); the directory is signed by
a network operator key generated the same way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corridor.fx.quotes import Quote
from corridor.money import Money
from corridor.network.context import Clock, Context, NodeServices
from corridor.network.directory import Directory, Participant
from corridor.network.identity import SigningKey
from corridor.network.transport.base import Transport
from corridor.node import actions
from corridor.node.auditfacts import record_start
from corridor.node.roles import make_role
from corridor.node.runtime import Node, Role
from corridor.rtgs.central_bank import CentralBankRole
from corridor.scenario.model import Scenario
from corridor.transfers.bank import BankRole

FINAL_STATES = ("completed", "rejected", "aborted", "returned")


def wall_clock() -> int:
    return time.time_ns()


def load_or_create_key(path: Path) -> SigningKey:
    if path.exists():
        return SigningKey.load(path)
    key = SigningKey.generate()
    key.save(path)
    return key


def build_directory(scenario: Scenario, keys: dict[str, SigningKey], operator: SigningKey) -> Directory:
    participants = []
    for spec in scenario.participants:
        country = scenario.country(spec.country)
        central = scenario.central_bank(spec.country).bic if spec.role != "central_bank" else None
        participants.append(
            Participant(
                bic=spec.bic,
                name=spec.name,
                country=spec.country,
                currency=country.currency,
                role=spec.role,
                public_key=keys[spec.bic].public_key,
                central_bank=central,
            )
        )
    return Directory.issue(participants, operator, version=1, issued_at=datetime(2026, 1, 1, tzinfo=UTC))


class EmbeddedNetwork:
    def __init__(self, scenario: Scenario, data_dir: Path, transport: Transport, *, clock: Clock = wall_clock) -> None:
        self.scenario = scenario
        self.data_dir = data_dir
        self.transport = transport
        self.clock = clock
        keys_dir = data_dir / "keys"
        self.operator = load_or_create_key(keys_dir / "operator.pem")
        self.keys = {p.bic: load_or_create_key(keys_dir / f"{p.bic}.pem") for p in scenario.participants}
        self.directory = build_directory(scenario, self.keys, self.operator)
        self.directory.save(data_dir / "directory.json")
        self.nodes: dict[str, Node] = {}
        self.fx_bic = scenario.fx.provider
        for spec in scenario.participants:
            self.nodes[spec.bic] = Node(
                bic=spec.bic,
                key=self.keys[spec.bic],
                directory=self.directory,
                data_dir=data_dir / "nodes" / spec.bic,
                transport=transport,
                role_factory=self._role_factory(spec.role),
                clock=clock,
            )

    def _role_factory(self, role: str) -> Callable[[NodeServices], Role]:
        return lambda services: make_role(role, services, self.scenario, self.quote)

    async def quote(self, uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote:
        return await actions.quote(self.nodes[self.fx_bic], uetr, sell_currency, buy_currency, **fixed)

    async def start(self) -> None:
        await self.transport.start()
        for node in self.nodes.values():
            await node.start()
            await record_start(node, self.scenario)

    async def stop(self) -> None:
        for node in self.nodes.values():
            await node.stop()
        await self.transport.close()

    def bank(self, bic: str) -> BankRole:
        role = self.nodes[bic].role
        assert isinstance(role, BankRole)
        return role

    def central_bank(self, bic: str) -> CentralBankRole:
        role = self.nodes[bic].role
        assert isinstance(role, CentralBankRole)
        return role

    async def pay(
        self,
        *,
        debtor_account: str,
        creditor_account: str,
        amount: Money,
        idempotency_key: str,
        remittance: str | None = None,
    ) -> str:
        """Send a credit transfer from one scenario account to another; the same key always names the same payment."""
        bank = self.scenario.account(debtor_account).bank
        return await actions.pay(
            self.nodes[bank],
            self.scenario,
            debtor_account=debtor_account,
            creditor_account=creditor_account,
            amount=amount,
            idempotency_key=idempotency_key,
            remittance=remittance,
        )

    async def act(self, bic: str, action: Callable[[Context], Awaitable[Any]], *, lock: str | None = None) -> Any:
        return await self.nodes[bic].run(action, lock=lock)

    def state(self, bic: str, uetr: str) -> str | None:
        found = self.nodes[bic].store.payment(uetr)
        return None if found is None else found[0]

    async def settle(
        self, uetr: str, bic: str, *, states: tuple[str, ...] = FINAL_STATES, timeout_s: float = 30
    ) -> str:
        """Wait until the payment reaches one of `states` at node `bic`; return the state."""
        return await self.nodes[bic].wait_for(uetr, states, timeout_s)

    async def quiesce(self, timeout_s: float = 30) -> None:
        """Wait until no node is handling a message or has one to send, and the transport has nothing queued (a
        message being handled was neither: under load, its handler could outlast the second look)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            busy = any(node.busy() for node in self.nodes.values())
            pending = getattr(self.transport, "pending", lambda: 0)()
            if not busy and not pending:
                await asyncio.sleep(0.05)
                if (
                    not any(node.busy() for node in self.nodes.values())
                    and not getattr(self.transport, "pending", lambda: 0)()
                ):
                    return
            await asyncio.sleep(0.02)
        raise TimeoutError("the network did not go quiet")
