"""What the payments routes need from a running corridor, and its two implementations: the embedded corridor in
this process, and a distributed network of node processes reached over their control interface (node/rpc.py).

The routes (routes/payments.py) are written once against `PaymentsPort`; `corridor up` gives them an
`EmbeddedPayments`, `corridor up --config` a `RemotePayments`. A refusal has the same shape either way: a bank's
PaymentRefused with its ISO reason, a provider's QuoteError.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from corridor.fx.quotes import Quote, QuoteError
from corridor.money import Currency, Money, currency
from corridor.network.store import Event
from corridor.node import actions
from corridor.node.embedded import EmbeddedCorridor
from corridor.node.launcher import DistributedNetwork
from corridor.node.rpc import RpcError
from corridor.scenario.model import Scenario
from corridor.transfers.bank import PaymentRefused


class PaymentsPort(Protocol):
    scenario: Scenario

    def now_ns(self) -> int: ...

    def participants(self) -> list[str]: ...

    async def account(self, bank: str, number: str) -> tuple[int, int, Currency]:
        """The account's posted balance and what is held on it (pending), in minor units, and its currency."""
        ...

    async def statement(self, bank: str, number: str, from_ns: int, to_ns: int) -> tuple[str, str]:
        """A camt.053 of the account for [from_ns, to_ns): its message id and XML."""
        ...

    async def pay(
        self, *, debtor_account: str, creditor_account: str, amount: Money, idempotency_key: str, remittance: str | None
    ) -> tuple[str, str | None]:
        """Start a credit transfer (once per key): its UETR and its state at the payer's bank."""
        ...

    async def state(self, bic: str, uetr: str) -> str | None: ...

    async def events(self, uetr: str) -> list[Event]:
        """What every node recorded of the payment, in time order."""
        ...

    async def quote(self, uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote: ...


class EmbeddedPayments:
    """The port over the embedded corridor: every node's ledger and records in this process."""

    def __init__(self, corridor: EmbeddedCorridor) -> None:
        self.corridor = corridor
        self.scenario = corridor.scenario

    def now_ns(self) -> int:
        return self.corridor.network.clock()

    def participants(self) -> list[str]:
        return list(self.corridor.network.nodes)

    async def account(self, bank: str, number: str) -> tuple[int, int, Currency]:
        role = self.corridor.network.bank(bank)
        posted, held = role.balance(number)
        return posted, held, role.currency

    async def statement(self, bank: str, number: str, from_ns: int, to_ns: int) -> tuple[str, str]:
        role = self.corridor.network.bank(bank)
        made = await self.corridor.network.act(bank, lambda ctx: role.statement(ctx, number, from_ns, to_ns))
        return made.message_id, made.to_xml().decode()

    async def pay(
        self, *, debtor_account: str, creditor_account: str, amount: Money, idempotency_key: str, remittance: str | None
    ) -> tuple[str, str | None]:
        net = self.corridor.network
        uetr = await net.pay(
            debtor_account=debtor_account,
            creditor_account=creditor_account,
            amount=amount,
            idempotency_key=idempotency_key,
            remittance=remittance,
        )
        return uetr, net.state(self.scenario.account(debtor_account).bank, uetr)

    async def state(self, bic: str, uetr: str) -> str | None:
        return self.corridor.network.state(bic, uetr)

    async def events(self, uetr: str) -> list[Event]:
        nodes = self.corridor.network.nodes.values()
        return sorted((event for node in nodes for event in node.store.events(uetr)), key=lambda e: e.at)

    async def quote(self, uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote:
        net = self.corridor.network
        return await actions.quote(net.nodes[net.fx_bic], uetr, sell_currency, buy_currency, **fixed)


class RemotePayments:
    """The port over a distributed network: each node asked over its control interface."""

    def __init__(self, network: DistributedNetwork) -> None:
        self.network = network
        self.scenario = network.scenario

    def now_ns(self) -> int:
        return time.time_ns()

    def participants(self) -> list[str]:
        return list(self.network.nodes)

    async def account(self, bank: str, number: str) -> tuple[int, int, Currency]:
        found = await self._call(bank, "account", {"number": number})
        return int(found["posted"]), int(found["held"]), currency(str(found["currency"]))

    async def statement(self, bank: str, number: str, from_ns: int, to_ns: int) -> tuple[str, str]:
        made = await self._call(bank, "statement", {"number": number, "from_ns": from_ns, "to_ns": to_ns})
        return str(made["message_id"]), str(made["camt053"])

    async def pay(
        self, *, debtor_account: str, creditor_account: str, amount: Money, idempotency_key: str, remittance: str | None
    ) -> tuple[str, str | None]:
        bank = self.scenario.account(debtor_account).bank
        params: dict[str, Any] = {
            "debtor_account": debtor_account,
            "creditor_account": creditor_account,
            "amount": str(amount),
            "idempotency_key": idempotency_key,
        }
        if remittance is not None:
            params["remittance"] = remittance
        try:
            uetr = str((await self.network.call(bank, "pay", params))["uetr"])
        except RpcError as exc:
            raise _refusal(exc) from None
        return uetr, await self.state(bank, uetr)

    async def state(self, bic: str, uetr: str) -> str | None:
        found = (await self._call(bic, "state", {"uetr": uetr}))["state"]
        return None if found is None else str(found)

    async def events(self, uetr: str) -> list[Event]:
        found: list[Event] = []
        for bic in self.network.nodes:
            for event in (await self._call(bic, "events", {"uetr": uetr}))["events"]:
                found.append(Event(uetr, event["at"], event["node"], event["status"], event["reason"], event["detail"]))
        return sorted(found, key=lambda e: e.at)

    async def quote(self, uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote:
        params: dict[str, Any] = {"uetr": uetr, "sell_currency": sell_currency, "buy_currency": buy_currency}
        params |= {side: str(amount) for side, amount in fixed.items()}
        try:
            made = await self.network.call(self.scenario.fx.provider, "quote", params)
        except RpcError as exc:
            raise QuoteError(exc.message, exc.code) from None
        return Quote.from_token(str(made["token"]))

    async def _call(self, bic: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await self.network.call(bic, method, params)
        except RpcError as exc:
            raise _refusal(exc) from None
        return result


def _refusal(exc: RpcError) -> Exception:
    """An ISO reason from a node is the bank's refusal; a node that did not answer is a connection failure."""
    if exc.code == "unreachable":
        return ConnectionError(exc.message)
    return PaymentRefused(exc.code, exc.message)
