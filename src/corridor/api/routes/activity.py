"""Live activity across the rails, newest last: credit transfers (each debtor bank's record), card authorizations
(the switch's log) and token transactions (each platform's latest blocks). What the dashboard's feed shows."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from corridor.api.common import Amount, Api, amount, problems, scoped
from corridor.api.keys import Caller, Scope
from corridor.api.ports import NetworkPort
from corridor.digital import tx as txmod
from corridor.money import Money, currency
from corridor.transfers.records import load_money

MAX_ITEMS = 500


class Activity(BaseModel):
    rail: Literal["credit_transfer", "card", "token"]
    id: str
    where: str
    """The node, scheme or platform that recorded it."""
    kind: str
    state: str
    amount: Amount | None
    source: str
    target: str


def router(api: Api, port: NetworkPort) -> APIRouter:
    r = APIRouter(tags=["network"])
    read = scoped(api, Scope.NETWORK_READ)

    @r.get("/v1/activity", response_model=list[Activity], responses=problems())
    async def activity(limit: Annotated[int, Query(ge=1, le=MAX_ITEMS)] = 100, caller: Caller = read) -> list[Activity]:
        found: list[Activity] = []
        for bic in port.participants():
            for uetr, state, data in await port.recent_payments(bic, limit):
                if data.get("role") != "debtor_agent":
                    continue
                instructed = data.get("instructed")
                found.append(
                    Activity(
                        rail="credit_transfer",
                        id=uetr,
                        where=bic,
                        kind="pacs.008",
                        state=state,
                        amount=None if not instructed else amount(load_money(instructed)),
                        source=str(data.get("debtor_account", "")),
                        target=str(data.get("creditor_account", "")),
                    )
                )
        found = found[-limit:]
        for approval in await port.card_approvals(limit):
            found.append(
                Activity(
                    rail="card",
                    id=approval.rrn,
                    where="switch",
                    kind=approval.kind,
                    state="reversed" if approval.reversed else "approved",
                    amount=amount(Money(approval.amount, currency(approval.currency))),
                    source=approval.issuer,
                    target=approval.terminal,
                )
            )
        if port.scenario.digital is not None:
            for spec in port.scenario.digital.platforms:
                for height, signed in await port.token_transactions(spec.operator, limit):
                    found.append(_token_activity(spec.id, height, signed))
        return found

    return r


def _token_activity(platform: str, height: int, signed: txmod.SignedTx) -> Activity:
    body = signed.body
    token = getattr(body, "token", None)
    minor = getattr(body, "amount", None)
    to = getattr(body, "to", None) or getattr(body, "wallet", None) or getattr(body, "counterparty", None)
    shown = None if token is None or minor is None else amount(Money(minor, currency(token)))
    return Activity(
        rail="token",
        id=signed.id.hex(),
        where=platform,
        kind=signed.kind.name.lower(),
        state=f"block {height}",
        amount=shown,
        source=signed.signer.hex()[:16],
        target="" if to is None else to.hex()[:16],
    )
