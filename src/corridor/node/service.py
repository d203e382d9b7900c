"""One participant's node as its own process: its ledger and records on disk, messages over NATS JetStream, and a
control interface (rpc.py) for whoever runs it. `corridor node --config node.toml` calls `serve`.

A node process owns nothing but its own files and key; everything it knows of the others comes from the signed
directory and from verified messages. It can be killed at any instant: on restart it reopens its ledger and store,
JetStream redelivers what it had not acknowledged, and its relay publishes whatever its outbox still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Callable
from typing import Any

import nats.errors
from nats.aio.client import Client

from corridor.fx.quotes import Quote
from corridor.money import Money
from corridor.network.directory import Directory, DirectoryError
from corridor.network.identity import SigningKey
from corridor.network.transport.base import TransportError
from corridor.network.transport.nats import NatsTransport, connect_bounded
from corridor.node import actions
from corridor.node.config import ConfigError, NodeConfig
from corridor.node.network import wall_clock
from corridor.node.roles import make_role
from corridor.node.rpc import Method, RpcClient, RpcError, RpcServer
from corridor.node.runtime import Node
from corridor.rtgs.central_bank import CentralBankRole
from corridor.scenario.model import Scenario, ScenarioError, load_scenario

STATE_WAIT_MAX_S = 60.0


def _money(params: dict[str, Any], key: str) -> Money:
    value = params.get(key)
    if not isinstance(value, str):
        raise RpcError("bad_request", f'{key} must be an amount with its currency, such as "1 250.00 RUB"')
    try:
        return Money.parse(value)
    except ValueError as exc:
        raise RpcError("AM12", f"{key}: {exc}") from None


def _text(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise RpcError("bad_request", f"{key} must be a non-empty string")
    return value


def methods_for(node: Node, scenario: Scenario, role: str) -> dict[str, Method]:
    """The control methods a node serves: every node reports; banks pay; the FX provider quotes."""

    async def ping(params: dict[str, Any]) -> dict[str, Any]:
        return {
            "bic": node.bic,
            "role": role,
            "processed": node.processed,
            "duplicates": node.duplicates,
            "refused": node.refused,
            "batches": node.batcher.batches,
            "documents_sent": node.batcher.documents,
            "transactions_sent": node.batcher.transactions,
        }

    async def state(params: dict[str, Any]) -> dict[str, Any]:
        found = node.store.payment(_text(params, "uetr"))
        if found is None:
            return {"state": None, "reason": None}
        return {"state": found[0], "reason": found[1].get("reason")}

    async def wait(params: dict[str, Any]) -> dict[str, Any]:
        states = params.get("states")
        if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
            raise RpcError("bad_request", "states must be a list of payment states")
        timeout_s = min(float(params.get("timeout_s", 30)), STATE_WAIT_MAX_S)
        try:
            return {"state": await node.wait_for(_text(params, "uetr"), tuple(states), timeout_s)}
        except TimeoutError as exc:
            raise RpcError("timeout", str(exc)) from None

    async def pay(params: dict[str, Any]) -> dict[str, Any]:
        remittance = params.get("remittance")
        uetr = await actions.pay(
            node,
            scenario,
            debtor_account=_text(params, "debtor_account"),
            creditor_account=_text(params, "creditor_account"),
            amount=_money(params, "amount"),
            idempotency_key=_text(params, "idempotency_key"),
            remittance=remittance if isinstance(remittance, str) else None,
        )
        return {"uetr": uetr}

    async def quote(params: dict[str, Any]) -> dict[str, Any]:
        fixed = {side: _money(params, side) for side in ("sell", "buy") if side in params}
        if len(fixed) != 1:
            raise RpcError("bad_request", "give exactly one of sell or buy")
        made = await actions.quote(
            node, _text(params, "uetr"), _text(params, "sell_currency"), _text(params, "buy_currency"), **fixed
        )
        return {"token": made.token()}

    async def liquidity(params: dict[str, Any], *, withdraw: bool) -> dict[str, Any]:
        central_bank = node.role
        assert isinstance(central_bank, CentralBankRole)
        bic, amount, key = _text(params, "bic"), _money(params, "amount"), _text(params, "key")
        move = central_bank.withdraw if withdraw else central_bank.inject
        uetr = await node.run(lambda ctx: move(ctx, bic, amount, key), lock=f"liquidity:{bic}")
        return {"uetr": uetr}

    async def inject(params: dict[str, Any]) -> dict[str, Any]:
        return await liquidity(params, withdraw=False)

    async def withdraw(params: dict[str, Any]) -> dict[str, Any]:
        return await liquidity(params, withdraw=True)

    served: dict[str, Method] = {"ping": ping, "state": state, "wait": wait}
    if role == "central_bank":
        served |= {"inject": inject, "withdraw": withdraw}
    if role == "bank":
        served["pay"] = pay
    if role == "fx_provider":
        served["quote"] = quote
    return served


def remote_quotes(rpc: RpcClient, provider: str) -> Callable[..., Any]:
    """A bank's quote service in a distributed network: ask the FX provider's node over the control interface."""

    async def quote_service(uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote:
        params = {"uetr": uetr, "sell_currency": sell_currency, "buy_currency": buy_currency}
        params |= {side: str(amount) for side, amount in fixed.items()}
        result = await rpc.call(provider, "quote", params)
        return Quote.from_token(str(result["token"]))

    return quote_service


def load_parts(config: NodeConfig) -> tuple[Scenario, SigningKey, Directory]:
    """The scenario, key and verified directory a node needs, or ConfigError saying which one is wrong."""
    try:
        scenario = load_scenario(config.scenario)
    except (OSError, ScenarioError) as exc:
        raise ConfigError(f"scenario: {exc}") from None
    try:
        key = SigningKey.load(config.key)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"key {config.key}: cannot load ({type(exc).__name__})") from None
    try:
        directory = Directory.load(config.directory, config.operator_key)
    except (OSError, ValueError, DirectoryError) as exc:
        raise ConfigError(f"directory {config.directory}: {exc}") from None
    me = directory.get(config.bic)
    if me is None:
        raise ConfigError(f"{config.bic} is not in the directory {config.directory}")
    if me.public_key != key.public_key:
        raise ConfigError(f"key {config.key} is not the key the directory lists for {config.bic}")
    return scenario, key, directory


async def serve(config: NodeConfig, *, stop: asyncio.Event | None = None, announce: bool = True) -> None:
    """Run the node until `stop` is set (or SIGTERM/SIGINT arrives); print one JSON line once it serves."""
    scenario, key, directory = load_parts(config)
    role = directory[config.bic].role
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    transport = NatsTransport(config.nats_url, stream=config.stream, subject_prefix=config.subject_prefix)
    control = Client()
    try:
        await connect_bounded(control, config.nats_url, reconnect=True, closing=lambda: stop.is_set())
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        await control.close()
        raise TransportError(f"cannot reach NATS at {config.nats_url}: {exc!r}") from None
    rpc = RpcClient(control, config.rpc_prefix)
    node = Node(
        bic=config.bic,
        key=key,
        directory=directory,
        data_dir=config.data_dir,
        transport=transport,
        role_factory=lambda services: make_role(role, services, scenario, remote_quotes(rpc, scenario.fx.provider)),
        clock=wall_clock,
    )
    server = RpcServer(control, config.rpc_prefix, config.bic, methods_for(node, scenario, role))
    try:
        await transport.start()
        await node.start()
        await server.start()
        await control.flush()
        if announce:
            print(json.dumps({"ready": config.bic, "role": role}), flush=True)
        await stop.wait()
    finally:
        await server.stop()
        await node.stop()
        await transport.close()
        await control.close()
    if announce:
        print(json.dumps({"stopped": config.bic}), file=sys.stderr, flush=True)
