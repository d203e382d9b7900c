"""A bank's card endpoints in its own node process (distributed mode), and the control methods the scheme's end of
day calls on its members.

What node/cardnet.py runs for every member in one process, each member runs here in its own: an issuing bank (its
node.toml's `[cards] issuer` set) its issuer processor on its own ledger, with its card records in `cards.db` beside
its node files and its card keys from `[cards] keys`, serving the switch over ISO 8583; an acquiring bank (`[cards]
acquirer`) its terminal gateway, with the log of what its terminals were approved for in `acquired.db`, sending to
the switch at `[cards] switch`, and, with `[cards] gateway` set, its merchants' e-commerce gateway over HTTP
(api/gateway_server.py: `ecommerce_app` over the same acquirer, its merchants' keys from `[cards] merchant_keys`,
its idempotency keys in `acquiring.db`), which `corridor up --config` serves at `/acquiring/<BIC>/` (api/proxy.py).
The gateway is the API layer's, above this one: the process's entry point (`corridor node`) hands in the factory
that makes it (`GatewayFactory`), so nothing here imports the web stack. The scheme's
process (node/schemehost.py) reaches them over the node's control interface for its end of day
(node/schemeday.py): `card_to_present` and `card_presented` (an acquirer's batch), `card_complete` (an issuer's
cleared holds), `card_pay_merchants` (an acquiring bank's payout) and `card_settle` (a central bank's settlement of
the cycle). Each is exactly once under its arguments, as in one process; none carries card data (PAN, CVV2, PIN):
only request keys, amounts and accounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from corridor.cards.acquirer import Acquirer
from corridor.cards.authlog import AuthorizationLog
from corridor.cards.cardstore import CARD_STATUSES, CardStore
from corridor.cards.issuer import Issuer
from corridor.cards.link import serve
from corridor.node.cardnet import bank_currency, issue_cards, load_issuer_keys, make_acquirer, make_issuer
from corridor.node.config import ConfigError, Endpoint, NodeConfig
from corridor.node.rpc import Method, RpcClient, RpcError
from corridor.node.runtime import Node
from corridor.node.schemeday import MerchantLines, presentment
from corridor.rtgs.central_bank import CentralBankRole
from corridor.scenario.cards import CardSchemeSpec
from corridor.scenario.model import Scenario
from corridor.tls import TlsFiles
from corridor.transfers.bank import BankRole


class Gateway(Protocol):
    """An acquiring bank's e-commerce gateway over its acquirer (api/gateway_server.py's GatewayServer)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


GatewayFactory = Callable[[Acquirer, Scenario, str, Endpoint, Path, Path, TlsFiles | None], Gateway]
"""(acquirer, scenario, bank, where it listens, the merchants' keys file, the node's folder, TLS) -> its gateway."""

TO_PRESENT, PRESENTED, COMPLETE = "card_to_present", "card_presented", "card_complete"
PAY_MERCHANTS, SETTLE = "card_pay_merchants", "card_settle"
APPROVAL = "card_approval"
CARDS, CARD_STATUS, CARD_KEYS_RELOAD = "card_list", "card_status", "card_keys_reload"
RRN_LENGTH = 12
MAX_ITEMS = 500
"""Most request keys, holds or merchant lines in one request (each well under 100 bytes: inside rpc.py's limit)."""
CLOSE_TIMEOUT_S = 5.0
"""How long a stopping endpoint waits for its open connections (terminals, the switch) to go."""
_BATCH_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_CYCLE = re.compile(r"[A-Za-z0-9._-]{1,40}")


def card_services(
    config: NodeConfig, node: Node, scenario: Scenario, rpc: RpcClient, gateway: GatewayFactory | None = None
) -> list[Any]:
    """The card services this participant's process runs: its issuer processor and acquirer gateway when its config
    gives their endpoints, and the end-of-day methods of its role (a central bank settles, an acquirer pays out).
    `gateway`: what makes an e-commerce gateway, for a config that sets `[cards] gateway`."""
    scheme = scenario.cards
    if scheme is None:
        if config.card_issuer or config.card_acquirer or config.card_gateway:
            raise ConfigError(f"{config.bic}: [cards] endpoints are set but scenario {scenario.name!r} has no [cards]")
        return []
    services: list[Any] = []
    if config.card_issuer is not None:
        services.append(IssuerHost(config, node, scenario, scheme, config.card_issuer))
    if config.card_acquirer is not None:
        services.append(AcquirerHost(config, node, scenario, scheme, config.card_acquirer, gateway))
    elif config.card_gateway is not None:
        raise ConfigError(f"{config.bic}: [cards] gateway is set but [cards] acquirer (the bank's acquirer) is not")
    if isinstance(node.role, CentralBankRole):
        services.append(SettlementHost(central_bank=node.role, node=node))
    elif isinstance(node.role, BankRole) and any(a.bank == config.bic for a in scheme.acquirers):
        services.append(SettlementHost(bank=node.role, node=node))
    return services


class IssuerHost:
    """An issuing bank's issuer processor, serving the switch at its endpoint; `card_complete` for clearing."""

    def __init__(self, config: NodeConfig, node: Node, scenario: Scenario, scheme: CardSchemeSpec, at: Endpoint):
        if not any(spec.bank == config.bic for spec in scheme.issuers):
            raise ConfigError(f"{config.bic}: [cards] issuer is set but {config.bic} issues no cards of the scheme")
        if config.card_keys is None:
            raise ConfigError(f"{config.bic}: [cards] issuer is set but [cards] keys (the card keys file) is not")
        self._keys: Path = config.card_keys
        self._tls = config.tls
        self._node, self._scenario, self._scheme, self._at = node, scenario, scheme, at
        self._store: CardStore | None = None
        self._server: asyncio.Server | None = None
        self.issuer: Issuer | None = None
        self.methods: dict[str, Method] = {
            COMPLETE: self._complete,
            CARDS: self._cards,
            CARD_STATUS: self._card_status,
            CARD_KEYS_RELOAD: self._reload_keys,
        }

    async def start(self) -> None:
        """Open the card settlement account, issue the scenario's cards of this bank (kept if issued before), then
        listen: the switch is answered only by an issuer that knows its cards."""
        self._store = CardStore(self._node.data_dir / "cards.db")
        issuer = make_issuer(
            self._scenario,
            self._node.bic,
            ledger=self._node.ledger,
            store=self._store,
            keys=self._keys,
            clock=time.time,
            compliance=self._node.role.compliance if isinstance(self._node.role, BankRole) else None,
            audit=self._node.services.record_action,
        )
        await issuer.setup()
        await issue_cards(issuer, self._scheme)  # the cards themselves go to the cardholders, not to this process
        self.issuer = issuer
        self._server = await serve(
            issuer.handle, *self._at, ssl=None if self._tls is None else self._tls.server_context()
        )

    async def stop(self) -> None:
        await _close(self._server)
        if self._store is not None:
            self._store.close()

    def _issuer(self) -> Issuer:
        if self.issuer is None:
            raise RpcError("unavailable", f"{self._node.bic}'s issuer is not started")
        return self.issuer

    async def _cards(self, params: dict[str, Any]) -> dict[str, Any]:
        """{"account"} -> its cards (issuer.card_view: masked, never the number or the PVV)."""
        account = params.get("account")
        if not isinstance(account, str) or not 0 < len(account) <= 34:
            raise RpcError("bad_request", "account must be an account number")
        return {"cards": self._issuer().cards_of(account)}

    async def _reload_keys(self, params: dict[str, Any]) -> dict[str, Any]:
        """Read the card keys file again (after `corridor network rotate-card-keys`) and use it from the next
        request on, without a restart; recorded in the node's audit trail."""
        issuer = self._issuer()
        try:
            keys, vault = await asyncio.to_thread(load_issuer_keys, self._keys)
        except (OSError, ValueError) as exc:
            raise RpcError("bad_request", f"card keys {self._keys}: {type(exc).__name__}") from None
        issuer.adopt_keys(keys, vault)
        generations = [g.key_id for g in keys.generations]
        await self._node.services.record_action("operator", "card.keys", self._node.bic, {"generations": generations})
        return {"current": keys.key_id, "generations": generations}

    async def _card_status(self, params: dict[str, Any]) -> dict[str, Any]:
        """{"card_id", "status"} -> the card as it now is (null: no such card)."""
        card_id, status = params.get("card_id"), params.get("status")
        if not isinstance(card_id, str) or not re.fullmatch(r"[0-9a-f]{64}", card_id):
            raise RpcError("bad_request", "card_id must be a card's id (64 hex digits)")
        if status not in CARD_STATUSES:
            raise RpcError("bad_request", f"status must be one of {', '.join(CARD_STATUSES)}")
        return {"card": await self._issuer().set_card_status(card_id, status)}

    async def _complete(self, params: dict[str, Any]) -> dict[str, Any]:
        """Post cleared holds: {"items": [{"request_key", "amount"}]} -> {"answers": {request key: field 39}}."""
        if self.issuer is None:
            raise RpcError("unavailable", f"{self._node.bic}'s issuer is not started")
        items = _items(params, "items")
        answers: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict):
                raise RpcError("bad_request", "each item is an object with request_key and amount")
            key, amount = _text(item, "request_key"), _amount(item, "amount")
            answers[key] = (await self.issuer.complete(key, amount)).value
        return {"answers": answers}


class AcquirerHost:
    """An acquiring bank's terminal gateway, serving its terminals at its endpoint, and its merchants' e-commerce
    gateway (HTTP) at `[cards] gateway` when set; its batches for clearing."""

    def __init__(
        self,
        config: NodeConfig,
        node: Node,
        scenario: Scenario,
        scheme: CardSchemeSpec,
        at: Endpoint,
        gateway: GatewayFactory | None = None,
    ):
        spec = next((a for a in scheme.acquirers if a.bank == config.bic), None)
        if spec is None:
            raise ConfigError(f"{config.bic}: [cards] acquirer is set but {config.bic} acquires for no merchant")
        if config.card_switch is None:
            raise ConfigError(f"{config.bic}: [cards] acquirer is set but [cards] switch (where to send) is not")
        if config.card_gateway is not None and config.merchant_keys is None:
            raise ConfigError(f"{config.bic}: [cards] gateway is set but [cards] merchant_keys (their API keys) is not")
        if config.card_gateway is not None and gateway is None:
            raise ConfigError(f"{config.bic}: [cards] gateway is set but this process was given no HTTP gateway")
        self._make_gateway = gateway
        self._switch: Endpoint = config.card_switch
        self._gateway_at, self._merchant_keys = config.card_gateway, config.merchant_keys
        self._tls = config.tls
        self._institution = spec.institution_id
        self._currency = bank_currency(scenario, config.bic)
        self._node, self._scenario, self._at = node, scenario, at
        self._log: AuthorizationLog | None = None
        self._server: asyncio.Server | None = None
        self.gateway: Gateway | None = None
        self.acquirer: Acquirer | None = None
        self.methods: dict[str, Method] = {
            TO_PRESENT: self._to_present,
            PRESENTED: self._presented,
            APPROVAL: self._approval,
        }

    async def start(self) -> None:
        self._log = AuthorizationLog(self._node.data_dir / "acquired.db")
        tls = self._tls
        self.acquirer = make_acquirer(
            self._scenario,
            self._node.bic,
            switch=self._switch,
            log=self._log,
            clock=time.time,
            tls=None if tls is None else tls.client_context(),
        )
        self._server = await serve(self.acquirer.handle, *self._at, ssl=None if tls is None else tls.server_context())
        if self._gateway_at is not None:
            assert self._merchant_keys is not None and self._make_gateway is not None
            gateway = self._make_gateway(
                self.acquirer, self._scenario, self._node.bic, self._gateway_at, self._merchant_keys,
                self._node.data_dir, tls,
            )  # fmt: skip
            await gateway.start()
            self.gateway = gateway

    async def stop(self) -> None:
        if self.gateway is not None:  # first: a web shop's request in flight still reaches the switch
            await self.gateway.stop()
        await _close(self._server)
        if self.acquirer is not None:
            await self.acquirer.drain()
            await self.acquirer.close()
        if self._log is not None:
            self._log.close()

    def _started(self) -> AuthorizationLog:
        if self._log is None:
            raise RpcError("unavailable", f"{self._node.bic}'s acquirer is not started")
        return self._log

    async def _to_present(self, params: dict[str, Any]) -> dict[str, Any]:
        """{"batch_id"} -> {"batch": the presentment batch (presentment.py's JSON), "included": [request keys]}."""
        batch, included = presentment(self._started(), _batch_id(params), self._institution, self._currency)
        return {"batch": json.loads(batch.to_json()), "included": included}

    async def _approval(self, params: dict[str, Any]) -> dict[str, Any]:
        """{"rrn"} -> what the acquirer logged of the request it answered with that RRN (null: nothing): how an
        invoice paid by card is followed. Amounts, codes and ids only; the acquirer keeps no card data."""
        rrn = params.get("rrn")
        if not isinstance(rrn, str) or not rrn.isalnum() or len(rrn) != RRN_LENGTH:
            raise RpcError("bad_request", f"rrn must be {RRN_LENGTH} letters or digits (ISO 8583 field 37)")
        found = self._started().by_rrn(rrn)
        return {"approval": None if found is None else dataclasses.asdict(found)}

    async def _presented(self, params: dict[str, Any]) -> dict[str, Any]:
        """{"batch_id", "keys": [request keys]}: mark them presented in that batch (again: no change)."""
        keys = _items(params, "keys")
        if not all(isinstance(key, str) and key for key in keys):
            raise RpcError("bad_request", "keys must be request keys (strings)")
        await self._started().presented(keys, _batch_id(params))
        return {"presented": len(keys)}


class SettlementHost:
    """A member's part of the scheme's settlement, run as its node's own action: a central bank settles the cycle
    in its currency, an acquiring bank pays its merchants. Methods only: nothing to start."""

    def __init__(
        self, *, node: Node, central_bank: CentralBankRole | None = None, bank: BankRole | None = None
    ) -> None:
        self._node = node
        self._central_bank, self._bank = central_bank, bank
        self.methods: dict[str, Method] = {SETTLE: self._settle} if central_bank else {PAY_MERCHANTS: self._pay}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def _settle(self, params: dict[str, Any]) -> dict[str, Any]:
        """{"cycle", "members": {BIC: minor units}, "conversion": [peer central bank, minor units] | null}."""
        role = self._central_bank
        assert role is not None
        cycle = _cycle(params)
        members = params.get("members")
        if not isinstance(members, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in members.values()
        ):
            raise RpcError("bad_request", "members must map each member's BIC to its net position in minor units")
        conversion = params.get("conversion")
        converted: tuple[str, int] | None = None
        if conversion is not None:
            if (
                not isinstance(conversion, list)
                or len(conversion) != 2
                or not isinstance(conversion[0], str)
                or not isinstance(conversion[1], int)
                or isinstance(conversion[1], bool)
            ):
                raise RpcError("bad_request", "conversion must be [peer central bank BIC, minor units] or null")
            converted = (conversion[0], conversion[1])

        async def settle(ctx: Any) -> str:
            return await role.settle_card_cycle(ctx, cycle, members, converted)

        uetr = await self._node.run(settle, lock=f"card-settle:{cycle}")
        return {"uetr": uetr}

    async def _pay(self, params: dict[str, Any]) -> dict[str, Any]:
        """{"cycle", "lines": {merchant account: [[request key, gross, fee], ...]}} -> {"short": [accounts]}."""
        role = self._bank
        assert role is not None
        cycle, lines = _cycle(params), _lines(params)

        async def pay(ctx: Any) -> list[str]:
            return await role.pay_merchants(ctx, cycle, lines)

        short = await self._node.run(pay, lock=f"card-pay:{cycle}")
        return {"short": short}


async def _close(server: asyncio.Server | None) -> None:
    if server is None:
        return
    server.close()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT_S)


def _text(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise RpcError("bad_request", f"{key} must be a non-empty string")
    return value


def _amount(params: dict[str, Any], key: str) -> int:
    value = params.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise RpcError("bad_request", f"{key} must be an integer amount in minor units")
    return value


def _items(params: dict[str, Any], key: str) -> list[Any]:
    value = params.get(key)
    if not isinstance(value, list) or len(value) > MAX_ITEMS:
        raise RpcError("bad_request", f"{key} must be a list of at most {MAX_ITEMS}")
    return value


def _batch_id(params: dict[str, Any]) -> str:
    batch_id = _text(params, "batch_id")
    if not _BATCH_ID.fullmatch(batch_id):
        raise RpcError("bad_request", "batch_id must be 1 to 64 of A-Z a-z 0-9 . _ : -")
    return batch_id


def _cycle(params: dict[str, Any]) -> str:
    cycle = _text(params, "cycle")
    if not _CYCLE.fullmatch(cycle):
        raise RpcError("bad_request", "cycle must be 1 to 40 of A-Z a-z 0-9 . _ -")
    return cycle


def _lines(params: dict[str, Any]) -> MerchantLines:
    lines = params.get("lines")
    if not isinstance(lines, dict):
        raise RpcError("bad_request", "lines must map each merchant account to its [request key, gross, fee] lines")
    checked: MerchantLines = {}
    count = 0
    for account, items in lines.items():
        if not isinstance(items, list):
            raise RpcError("bad_request", f"lines of {account}: a list of [request key, gross, fee]")
        checked[account] = []
        for item in items:
            if (
                not isinstance(item, list)
                or len(item) != 3
                or not isinstance(item[0], str)
                or not all(isinstance(n, int) and not isinstance(n, bool) for n in item[1:])
            ):
                raise RpcError("bad_request", f"lines of {account}: each is [request key, gross, fee] in minor units")
            checked[account].append((item[0], item[1], item[2]))
        count += len(items)
    if count > MAX_ITEMS:
        raise RpcError("bad_request", f"at most {MAX_ITEMS} lines in one request")
    return checked
