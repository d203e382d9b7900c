"""The network as a central bank analyst or the dashboard sees it: who takes part, how they are linked, the FX
rates, the central banks' net positions and swap-line use, and the ledger explorer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from corridor.api.common import Amount, Api, amount, problems, scoped
from corridor.api.keys import Caller, Scope
from corridor.api.ports import NetworkPort
from corridor.api.problems import Problem
from corridor.money import Money
from corridor.node.network import FINAL_STATES

PAYMENTS_PAGE_MAX = 1_000


class Node(BaseModel):
    bic: str
    name: str
    country: str
    currency: str
    role: str


class Link(BaseModel):
    source: str
    target: str
    kind: str
    """'member' (a bank or FX provider at its central bank), 'correspondent' (two central banks), 'platform'."""


class NetworkMap(BaseModel):
    scenario: str
    nodes: list[Node]
    links: list[Link]
    rails: list[str]


class Position(BaseModel):
    central_bank: str
    counterpart: str
    net_position: Amount
    swap_line: Amount
    swap_line_used: Amount


class Rate(BaseModel):
    base: str
    quote: str
    mid: str
    spread_bp: int


class LedgerAccount(BaseModel):
    name: str
    id: str
    code: int
    ledger: int
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int


class LedgerTransfer(BaseModel):
    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    ledger: int
    code: int
    flags: int
    timestamp: int


class PaymentSummary(BaseModel):
    uetr: str
    node: str
    state: str
    final: bool
    role: str | None = None


def router(api: Api, port: NetworkPort) -> APIRouter:
    r = APIRouter(tags=["network"])
    scenario = port.scenario
    read = scoped(api, Scope.NETWORK_READ)
    read_settlement = scoped(api, Scope.SETTLEMENT_READ)
    read_payments = scoped(api, Scope.PAYMENTS_READ)

    @r.get("/v1/network", response_model=NetworkMap, responses=problems())
    async def network_map(caller: Caller = read) -> NetworkMap:
        nodes = [
            Node(bic=p.bic, name=p.name, country=p.country, currency=scenario.country(p.country).currency, role=p.role)
            for p in scenario.participants
        ]
        links = []
        for p in scenario.participants:
            if p.role != "central_bank":
                links.append(Link(source=p.bic, target=scenario.central_bank(p.country).bic, kind="member"))
        banks = [p.bic for p in scenario.participants if p.role == "central_bank"]
        links += [Link(source=a, target=b, kind="correspondent") for i, a in enumerate(banks) for b in banks[i + 1 :]]
        rails = ["credit_transfer"] + (["card"] if scenario.cards else []) + (["token"] if scenario.digital else [])
        return NetworkMap(scenario=scenario.name, nodes=nodes, links=links, rails=rails)

    @r.get("/v1/fx/rates", response_model=list[Rate], responses=problems())
    async def rates(caller: Caller = read) -> list[Rate]:
        fx = scenario.fx
        return [Rate(base=r.base, quote=r.quote, mid=str(r.mid), spread_bp=fx.spread_bp) for r in fx.rates]

    @r.get("/v1/settlement/positions", response_model=list[Position], responses=problems())
    async def positions(caller: Caller = read_settlement) -> list[Position]:
        found = []
        for p in scenario.participants:
            if p.role != "central_bank":
                continue
            for position in await port.positions(p.bic):
                found.append(
                    Position(
                        central_bank=p.bic,
                        counterpart=position["counterpart"],
                        net_position=amount(Money.parse(position["net_position"])),
                        swap_line=amount(Money.parse(position["swap_line"])),
                        swap_line_used=amount(Money.parse(position["swap_line_used"])),
                    )
                )
        return found

    @r.get("/v1/payments", response_model=list[PaymentSummary], responses=problems())
    async def recent_payments(
        limit: Annotated[int, Query(ge=1, le=PAYMENTS_PAGE_MAX)] = 100, caller: Caller = read_payments
    ) -> list[PaymentSummary]:
        """The last `limit` credit transfers each node holds a record of (a bank sees only its own)."""
        found = []
        for bic in port.participants():
            if caller.role == "bank" and bic != caller.participant:
                continue
            for uetr, state, data in await port.recent_payments(bic, limit):
                role = data.get("role") if isinstance(data, dict) else None
                found.append(PaymentSummary(uetr=uetr, node=bic, state=state, final=state in FINAL_STATES, role=role))
        return found

    @r.get("/v1/ledgers/{bic}/accounts", response_model=list[LedgerAccount], responses=problems(404))
    async def ledger_accounts(bic: str, caller: Caller = read) -> list[LedgerAccount]:
        visible(caller, bic)
        return [LedgerAccount(**found) for found in await port.ledger_accounts(bic)]

    @r.get(
        "/v1/ledgers/{bic}/accounts/{account_id}/transfers",
        response_model=list[LedgerTransfer],
        responses=problems(404),
    )
    async def ledger_transfers(bic: str, account_id: int, caller: Caller = read) -> list[LedgerTransfer]:
        visible(caller, bic)
        found = await port.ledger_transfers(bic, account_id)
        if found is None:
            raise Problem(404, "not-found", "No such account", f"{bic}'s ledger has no account {account_id}")
        return [LedgerTransfer(**transfer) for transfer in found]

    def visible(caller: Caller, bic: str) -> None:
        if bic not in port.participants() or (caller.role == "bank" and bic != caller.participant):
            raise Problem(404, "not-found", "No such ledger", f"no ledger of {bic!r} is visible to this key")

    return r
