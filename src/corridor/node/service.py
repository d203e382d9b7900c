"""One participant's node as its own process: its ledger and records on disk, messages over NATS JetStream, and a
control interface (rpc.py) for whoever runs it. `corridor node --config node.toml` calls `serve`.

A node process owns nothing but its own files and key; everything it knows of the others comes from the signed
directory and from verified messages. It can be killed at any instant: on restart it reopens its ledger and store,
JetStream redelivers what it had not acknowledged, and its relay publishes whatever its outbox still holds.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

from corridor.fx.provider import QuoteRequest
from corridor.fx.quotes import Quote
from corridor.money import Money, currency
from corridor.network.directory import Directory, DirectoryError
from corridor.network.identity import KeyRing, SigningKey
from corridor.network.transport.nats import NatsTransport
from corridor.node import actions, explorer
from corridor.node.auditfacts import record_start
from corridor.node.cardhost import GatewayFactory
from corridor.node.compliancehost import compliance_methods
from corridor.node.config import ConfigError, NodeConfig
from corridor.node.hosted import Hosted, hosted_services
from corridor.node.keyrotation import DirectoryWatcher, signing_key
from corridor.node.network import wall_clock
from corridor.node.roles import make_role
from corridor.node.rpc import (
    Method,
    RpcClient,
    RpcError,
    RpcServer,
    connect_control,
    load_control_secret,
    watch_lifeline,
)
from corridor.node.runtime import Node
from corridor.rtgs.central_bank import CentralBankRole
from corridor.scenario.model import Scenario, ScenarioError, load_scenario
from corridor.transfers.bank import BankRole

STATE_WAIT_MAX_S = 60.0
RECENT_MAX = 1_000
"""The most payment records one `recent_payments` answer carries."""
QUOTES_PER_REQUEST_MAX = 256
QUOTE_REQUESTS_IN_FLIGHT = 2
"""A bank's quote requests on their way to the FX provider at once; more payments wait and share the next one."""


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

    async def events(params: dict[str, Any]) -> dict[str, Any]:
        """What this node recorded of a payment (its tracking events), for whoever follows it across hops."""
        found = node.store.events(_text(params, "uetr"))
        return {
            "events": [
                {"at": e.at, "node": e.node, "status": e.status, "reason": e.reason, "detail": e.detail} for e in found
            ]
        }

    def bank() -> BankRole:
        assert isinstance(node.role, BankRole)
        return node.role

    async def account(params: dict[str, Any]) -> dict[str, Any]:
        posted, held = bank().balance(_text(params, "number"))
        return {"posted": posted, "held": held, "currency": bank().currency.code}

    async def statement(params: dict[str, Any]) -> dict[str, Any]:
        """A camt.053 of a customer account for [from_ns, to_ns), kept in the bank's records."""
        number, start, end = _text(params, "number"), params.get("from_ns"), params.get("to_ns")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
            raise RpcError("bad_request", "from_ns and to_ns must be integers, 0 <= from_ns < to_ns")
        made = await node.run(lambda ctx: bank().statement(ctx, number, start, end))
        return {"message_id": made.message_id, "camt053": made.to_xml().decode()}

    async def payment(params: dict[str, Any]) -> dict[str, Any]:
        """A payment's state and this node's whole record of it (what the trade desk follows an invoice by)."""
        found = node.store.payment(_text(params, "uetr"))
        return {"state": None, "record": None} if found is None else {"state": found[0], "record": found[1]}

    async def transfer(params: dict[str, Any]) -> dict[str, Any]:
        """What one transfer of this node's ledger moved, in its currency (what a reconciliation reads back)."""
        transfer_id = params.get("id")
        if not isinstance(transfer_id, int) or not 0 < transfer_id < 2**128:
            raise RpcError("bad_request", "id must be a transfer id: an integer from 1 to 2**128 - 1")
        found = node.ledger.view_transfer(transfer_id)
        own = currency(node.services.directory[node.bic].currency)
        return {"moved": None if found is None else str(Money(found.amount, own))}

    async def figures(params: dict[str, Any]) -> dict[str, Any]:
        """What the metrics show of this node (explorer.node_figures)."""
        return explorer.node_figures(node.store, len(node.store.unsent(limit=10_000)))

    async def recent_payments(params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= RECENT_MAX:
            raise RpcError("bad_request", f"limit must be an integer from 1 to {RECENT_MAX}")
        found = node.store.recent_payments(limit)
        return {"payments": [{"uetr": uetr, "state": state, "data": data} for uetr, state, data in found]}

    async def ledger_accounts(params: dict[str, Any]) -> dict[str, Any]:
        return {"accounts": explorer.ledger_accounts(node.role, node.ledger, scenario, node.bic)}

    async def ledger_transfers(params: dict[str, Any]) -> dict[str, Any]:
        account_id = params.get("account_id")
        if not isinstance(account_id, int):
            raise RpcError("bad_request", "account_id must be an integer")
        found = explorer.ledger_transfers(node.ledger, account_id)
        if found is None:
            raise RpcError("not_found", f"{node.bic}'s ledger has no account {account_id}")
        return {"transfers": found}

    def central_bank() -> CentralBankRole:
        assert isinstance(node.role, CentralBankRole)
        return node.role

    async def positions(params: dict[str, Any]) -> dict[str, Any]:
        return {"positions": explorer.positions(central_bank())}

    async def settlement_legs(params: dict[str, Any]) -> dict[str, Any]:
        return {"legs": [{"state": state, "data": data} for state, data in explorer.settlement_legs(node.store)]}

    async def settle_cycle(params: dict[str, Any]) -> dict[str, Any]:
        """Settle the cycle `cycle` (once per name): each peer's net position brought back through the FX provider."""
        cycle = _text(params, "cycle")
        settled = await node.run(lambda ctx: central_bank().settle_cycle(ctx, cycle), lock=f"cycle:{cycle}")
        return {"settled": [{"counterpart": peer, "position": str(position)} for peer, position in settled]}

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
        """Start a payment; with `wait` ({"states": [...], "timeout_s": N}), answer only once it is in one of those
        states, so one request does what `pay` then `wait` did."""
        remittance = params.get("remittance")
        wait_for = params.get("wait")
        if wait_for is not None and not isinstance(wait_for, dict):
            raise RpcError("bad_request", "wait must be an object with states and timeout_s")
        uetr = await actions.pay(
            node,
            scenario,
            debtor_account=_text(params, "debtor_account"),
            creditor_account=_text(params, "creditor_account"),
            amount=_money(params, "amount"),
            idempotency_key=_text(params, "idempotency_key"),
            remittance=remittance if isinstance(remittance, str) else None,
        )
        if wait_for is None:
            return {"uetr": uetr}
        return {"uetr": uetr} | await wait(wait_for | {"uetr": uetr})

    async def quote(params: dict[str, Any]) -> dict[str, Any]:
        request = _quote_request(params)
        made = await actions.quote(node, request.uetr, request.sell_currency, request.buy_currency, **request.fixed)
        return {"token": made.token()}

    async def quote_many(params: dict[str, Any]) -> dict[str, Any]:
        """Quotes for several payments in one request and one commit: what a bank's quote service sends when its
        payments come faster than one request's round trip (remote_quotes). Each answer is a token or an error."""
        requests = params.get("requests")
        if not isinstance(requests, list) or not 1 <= len(requests) <= QUOTES_PER_REQUEST_MAX:
            raise RpcError("bad_request", f"requests must be a list of 1 to {QUOTES_PER_REQUEST_MAX} quote requests")
        asked = [_quote_request(request) for request in requests]
        made = await actions.quotes(node, asked)
        return {"answers": [_quote_answer(answer) for answer in made]}

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

    served: dict[str, Method] = {
        "ping": ping,
        "state": state,
        "wait": wait,
        "events": events,
        "recent_payments": recent_payments,
        "figures": figures,
        "payment": payment,
        "transfer": transfer,
        "ledger_accounts": ledger_accounts,
        "ledger_transfers": ledger_transfers,
    }
    if role == "central_bank":
        served |= {
            "inject": inject,
            "withdraw": withdraw,
            "positions": positions,
            "settlement_legs": settlement_legs,
            "settle_cycle": settle_cycle,
        }
    if role == "bank":
        served |= {"pay": pay, "account": account, "statement": statement} | compliance_methods(node)
    if role == "fx_provider":
        served |= {"quote": quote, "quote_many": quote_many}
    return served


def _quote_fixed(params: dict[str, Any]) -> dict[str, Money]:
    fixed: dict[str, Money] = {side: _money(params, side) for side in ("sell", "buy") if side in params}
    if len(fixed) != 1:
        raise RpcError("bad_request", "give exactly one of sell or buy")
    return fixed


def _quote_request(params: object) -> QuoteRequest:
    if not isinstance(params, dict):
        raise RpcError("bad_request", "a quote request is an object")
    return QuoteRequest(
        _text(params, "uetr"), _text(params, "sell_currency"), _text(params, "buy_currency"), _quote_fixed(params)
    )


def _quote_answer(answer: Quote | Exception) -> dict[str, Any]:
    if isinstance(answer, Quote):
        return {"token": answer.token()}
    code = getattr(answer, "code", None)
    return {"error": {"code": code if isinstance(code, str) else "bad_request", "message": str(answer)}}


class RemoteQuotes:
    """A bank's quote service in a distributed network: the FX provider's node asked over the control interface.

    The quotes asked in one turn of the event loop go in one request (`quote_many`), sent at the end of that turn
    while fewer than QUOTE_REQUESTS_IN_FLIGHT are on their way; beyond that they wait and go together in the next
    request. Nagle's trade: an idle bank waits for nothing, a busy one pays one round trip, one commit and one reply
    for many payments instead of one each."""

    def __init__(self, rpc: RpcClient, provider: str) -> None:
        self._rpc = rpc
        self._provider = provider
        self._waiting: list[tuple[dict[str, str], asyncio.Future[Quote]]] = []
        self._in_flight = 0
        self._flush_soon = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote:
        request = {"uetr": uetr, "sell_currency": sell_currency, "buy_currency": buy_currency}
        request |= {side: str(amount) for side, amount in fixed.items()}
        future: asyncio.Future[Quote] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        self._send()
        return await future

    def _send(self) -> None:
        if not self._flush_soon:
            # Requests made in the same turn of the event loop (a fetch's deliveries, payments started together) go
            # in one request: the flush runs once they are all queued.
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = False
        while self._waiting and self._in_flight < QUOTE_REQUESTS_IN_FLIGHT:
            batch = self._waiting[:QUOTES_PER_REQUEST_MAX]
            del self._waiting[:QUOTES_PER_REQUEST_MAX]
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._ask(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _ask(self, batch: list[tuple[dict[str, str], asyncio.Future[Quote]]]) -> None:
        try:
            result = await self._rpc.call(self._provider, "quote_many", {"requests": [r for r, _ in batch]})
            answers = result["answers"]
            if not isinstance(answers, list) or len(answers) != len(batch):
                raise RpcError("internal", f"{self._provider} answered {len(batch)} quote requests wrongly")
            for (_, future), answer in zip(batch, answers, strict=True):
                if future.done():
                    continue
                if "error" in answer:
                    future.set_exception(RpcError(str(answer["error"]["code"]), str(answer["error"]["message"])))
                else:
                    future.set_result(Quote.from_token(str(answer["token"])))
        except Exception as exc:  # the whole request failed (unreachable, timeout): every payment in it hears so
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        finally:
            self._in_flight -= 1
            self._flush()


def remote_quotes(rpc: RpcClient, provider: str) -> Callable[..., Any]:
    """A bank's quote service in a distributed network (RemoteQuotes)."""
    return RemoteQuotes(rpc, provider)


def load_parts(config: NodeConfig) -> tuple[Scenario, SigningKey, Directory]:
    """The scenario, key and verified directory a node needs, or ConfigError saying which one is wrong."""
    try:
        scenario = load_scenario(config.scenario)
    except (OSError, ScenarioError) as exc:
        raise ConfigError(f"scenario: {exc}") from None
    try:
        ring = KeyRing.load(config.key)  # its key file, and the keys a rotation keeps beside it (keyrotation.py)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"key {config.key}: cannot load ({type(exc).__name__})") from None
    try:
        directory = Directory.load(config.directory, config.operator_key)
    except (OSError, ValueError, DirectoryError) as exc:
        raise ConfigError(f"directory {config.directory}: {exc}") from None
    me = directory.get(config.bic)
    if me is None:
        raise ConfigError(f"{config.bic} is not in the directory {config.directory}")
    try:
        key = signing_key(ring, directory, config.bic, wall_clock())
    except KeyError:
        raise ConfigError(f"key {config.key} is not the key the directory lists for {config.bic}") from None
    return scenario, key, directory


async def serve(
    config: NodeConfig,
    *,
    stop: asyncio.Event | None = None,
    announce: bool = True,
    lifeline: bool = False,
    gateway: GatewayFactory | None = None,
) -> None:
    """Run the node until `stop` is set (or SIGTERM/SIGINT arrives, or with `lifeline` its standard input closes:
    rpc.watch_lifeline); print one JSON line once it serves. `gateway`: what makes its e-commerce gateway, if its
    config sets one."""
    scenario, key, directory = load_parts(config)
    secret = load_control_secret(config.control_secret)
    role = directory[config.bic].role
    stop = stop or asyncio.Event()
    if lifeline:
        watch_lifeline(stop)
    transport = NatsTransport(
        config.nats_url, stream=config.stream, subject_prefix=config.subject_prefix, replicas=config.nats_replicas
    )
    control = await connect_control(config.nats_url, stop)
    rpc = RpcClient(control, config.rpc_prefix, secret=secret)
    node = Node(
        bic=config.bic,
        key=key,
        directory=directory,
        data_dir=config.data_dir,
        transport=transport,
        role_factory=lambda services: make_role(role, services, scenario, remote_quotes(rpc, scenario.fx.provider)),
        clock=wall_clock,
        ledger_url=config.ledger_url,
        ledger_schema=config.ledger_schema,
    )
    hosted = hosted_services(config, node, scenario, rpc, gateway)
    extras: list[Hosted] = [*hosted, DirectoryWatcher(node.services, config)]
    methods = methods_for(node, scenario, role)
    for extra in extras:
        methods |= extra.methods
    server = RpcServer(control, config.rpc_prefix, config.bic, methods, secret=secret)
    started: list[Hosted] = []
    try:
        await transport.start()
        await node.start()
        await record_start(node, scenario, config)
        for extra in extras:
            await extra.start()
            started.append(extra)
        await server.start()
        await control.flush()
        if announce:
            print(json.dumps({"ready": config.bic, "role": role}), flush=True)
        await stop.wait()
    finally:
        await server.stop()
        for extra in reversed(started):
            await extra.stop()
        await node.stop()
        await transport.close()
        await control.close()
    if announce:
        print(json.dumps({"stopped": config.bic}), file=sys.stderr, flush=True)
