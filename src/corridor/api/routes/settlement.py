"""A central bank's settlement cycle: each peer's net position brought back to the swap line through the FX
provider (pacs.009 for each leg), once per cycle name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.common import Amount, Api, IdempotencyKey, amount, problems, scoped
from corridor.api.keys import Caller, Scope
from corridor.api.ports import NetworkPort
from corridor.api.problems import Problem
from corridor.transfers.records import load_money


class CycleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cycle: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$", description="The cycle's name; settling it again does nothing")


class Settled(BaseModel):
    counterpart: str
    position: Amount


class CycleResult(BaseModel):
    central_bank: str
    cycle: str
    settled: list[Settled]


class CycleLeg(BaseModel):
    central_bank: str
    cycle: str
    kind: str
    """'interbank' (a net position settled with the FX provider) or 'cards' (the card scheme's day)."""
    counterpart: str
    position: Amount | None
    state: str


def router(api: Api, port: NetworkPort) -> APIRouter:
    r = APIRouter(tags=["settlement"])
    write = scoped(api, Scope.SETTLEMENT_WRITE)
    read = scoped(api, Scope.SETTLEMENT_READ)

    @r.get("/v1/settlement/cycles", response_model=list[CycleLeg], responses=problems())
    async def cycles(caller: Caller = read) -> list[CycleLeg]:
        """Every settlement leg each central bank booked: interbank cycles and the card scheme's days."""
        legs = []
        for p in port.scenario.participants:
            if p.role != "central_bank":
                continue
            for state, data in await port.settlement_legs(p.bic):
                if data.get("role") == "cycle":
                    position = amount(load_money(data["position"]))
                    legs.append(CycleLeg(central_bank=p.bic, cycle=str(data["cycle"]), kind="interbank",
                                         counterpart=str(data["peer"]), position=position, state=state))  # fmt: skip
                elif data.get("role") == "card-settlement":
                    legs.append(CycleLeg(central_bank=p.bic, cycle=str(data["cycle"]), kind="cards",
                                         counterpart="card scheme members", position=None, state=state))  # fmt: skip
        return legs

    @r.post("/v1/settlement/cycles", status_code=201, response_model=CycleResult, responses=problems(400, 422))
    async def settle(body: CycleRequest, idempotency_key: IdempotencyKey = None, caller: Caller = write) -> Any:
        async def work() -> tuple[int, dict[str, Any]]:
            if caller.role != "central_bank":
                raise Problem(403, "forbidden", "Not allowed", "only a central bank settles its cycle")
            settled = await port.settle_cycle(caller.participant, body.cycle)
            result = CycleResult(
                central_bank=caller.participant,
                cycle=body.cycle,
                settled=[Settled(counterpart=peer, position=amount(position)) for peer, position in settled],
            )
            return 201, result.model_dump()

        return await api.once(caller, idempotency_key, ("cycle", body.model_dump()), work)

    return r
