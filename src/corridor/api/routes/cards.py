"""An issuing bank's cards: its cardholders' cards, shown masked, and their status changed (blocked, reported lost,
made active again). A card is named by its id, the issuer's keyed lookup hash of its number, which tells nothing of
the number; no route takes or shows a card number, a CVV2 or a PIN. Payments by card are the acquirers' (their
e-commerce gateways at /acquiring/<BIC>/, docs/cards.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from corridor.api.common import Api, IdempotencyKey, problems, scoped
from corridor.api.keys import Caller, Scope
from corridor.api.ports import CardsPort
from corridor.api.problems import Problem

AccountNumber = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,34}$")]
CardId = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The card's id, as listed with its account")]


class Card(BaseModel):
    card_id: str
    card: str
    """The number masked: BIN and last four."""
    account: str
    product: str
    expires: str
    """YYMM."""
    status: str
    per_transaction_minor: int | None
    """The card's own limit per transaction, in its currency's minor units (null: its product's)."""
    per_day_minor: int | None


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "blocked", "lost"]
    """A blocked or lost card is declined (05, 41) from its next authorization on; active lets it pay again."""


def router(api: Api, port: CardsPort) -> APIRouter:
    """The routes over `port`: the embedded card scheme's issuers, or each issuing bank's node process."""
    r = APIRouter(tags=["cards"])
    read = scoped(api, Scope.CARDS_READ)
    write = scoped(api, Scope.CARDS_WRITE)

    def own_account(caller: Caller, number: str) -> None:
        try:
            held = port.scenario.account(number)
        except KeyError:
            held = None
        if held is None or held.bank != caller.participant:
            raise Problem(404, "not-found", "No such account", f"the caller's bank holds no account {number}")

    @r.get("/v1/accounts/{number}/cards", response_model=list[Card], responses=problems(404))
    async def cards(number: AccountNumber, caller: Caller = read) -> list[Card]:
        own_account(caller, number)
        return [Card(**card) for card in await port.cards_of(caller.participant, number)]

    @r.post("/v1/cards/{card_id}/status", response_model=Card, responses=problems(400, 404, 422))
    async def status(
        card_id: CardId, body: StatusChange, idempotency_key: IdempotencyKey = None, caller: Caller = write
    ) -> Any:
        async def work() -> tuple[int, dict[str, Any]]:
            found = await port.set_card_status(caller.participant, card_id, body.status)
            if found is None:
                raise Problem(404, "not-found", "No such card", "this bank issued no card with this id")
            return 200, Card(**found).model_dump()

        return await api.once(caller, idempotency_key, ("card-status", card_id, body.status), work)

    return r
