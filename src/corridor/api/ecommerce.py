"""The acquirer's REST gateway for e-commerce: a merchant's web shop pays, voids and refunds by card over HTTPS.

A request becomes the same ISO 8583 message a terminal would send (entry mode 810, e-commerce; the CVV2 in field
48, a wallet's device in field 62) through the acquirer's gateway (cards/acquirer.py) to the switch and the issuer,
with the merchant's virtual terminal. Each merchant authenticates with its API key (`Authorization: Bearer ...`).
Every POST needs an `Idempotency-Key`: sent again, it gets the first answer, and its effect happens once, even if
the gateway died while the first was on its way (the authorization it had started is reversed, since nobody heard
its answer, before the request is made again). Errors are RFC 9457 problem details that name the field and never
echo a card number or a CVV2.

| method and path | what |
| --- | --- |
| POST /v1/payments | authorize (`capture: manual`, 0100, completed at clearing) or purchase (`automatic`, 0200) |
| GET /v1/payments/{payment_id} | what the acquirer logged for it: approved or reversed |
| POST /v1/payments/{payment_id}/void | reverse it (0400), with the card it was paid with |
| POST /v1/refunds | money back to a card (0200, processing code 20) |
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.idempotency import MAX_KEY_LENGTH, IdempotencyStore
from corridor.api.problems import MEDIA_TYPE, Problem, install
from corridor.cards.acquirer import Acquirer, ecommerce_request
from corridor.cards.iso8583 import Fields
from corridor.cards.pan import mask
from corridor.cards.responses import Response, describe
from corridor.keylocks import KeyLocks
from corridor.money import MoneyError, currency
from corridor.network.context import iso_time
from corridor.scenario.cards import MerchantSpec

NOTED = ("t", "3", "4", "7", "11", "32", "37", "41", "49")
"""What the gateway keeps of a request before sending it: enough to reverse it, and no card data."""


class CardPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_number: str = Field(pattern=r"^[0-9]{13,19}$", description="The PAN, or a wallet's device token")
    expiry: str = Field(pattern=r"^[0-9]{4}$", description="YYMM, as on the card")
    cvv2: str | None = Field(default=None, pattern=r"^[0-9]{3}$")
    device: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")
    amount_minor: int = Field(gt=0, lt=10**12, description="In minor units of `currency`")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="The merchant's currency (ISO 4217)")
    capture: Literal["automatic", "manual"] = "automatic"


class Refund(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_number: str = Field(pattern=r"^[0-9]{13,19}$")
    expiry: str = Field(pattern=r"^[0-9]{4}$")
    amount_minor: int = Field(gt=0, lt=10**12)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class Void(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_number: str = Field(pattern=r"^[0-9]{13,19}$", description="The card the payment was made with")


class Outcome(BaseModel):
    payment_id: str
    """The retrieval reference number (ISO 8583 field 37) the network knows the payment by."""
    status: Literal["approved", "partially approved", "voided"]
    response_code: str
    authorization_code: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    billed_minor: int | None = None
    billed_currency: str | None = None
    card: str | None = None


class Logged(BaseModel):
    payment_id: str
    status: Literal["approved", "reversed"]
    kind: str
    authorization_code: str
    amount_minor: int
    currency: str
    billed_minor: int
    billed_currency: str


Work = Callable[[Callable[[dict[str, str]], None]], Awaitable["Problem | dict[str, Any]"]]
"""A request's work: given a way to note, before it sends anything, what undoing it would need; its outcome."""
PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {MEDIA_TYPE: {}}}
    for code, text in (
        (400, "no Idempotency-Key"),
        (401, "no or an unknown API key"),
        (402, "the card was declined (response_code says why)"),
        (404, "no such payment of this merchant"),
        (422, "an invalid request, a key reused for another request, or one the acquirer does not accept"),
        (503, "the card's issuer could not be reached; nothing was charged"),
    )
}
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Authorization = Annotated[str | None, Header()]


def ecommerce_app(
    acquirer: Acquirer,
    api_keys: Mapping[str, str],
    store: IdempotencyStore,
    *,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The gateway's app: `api_keys` maps each merchant's API key to its terminal id (its virtual terminal)."""
    app = FastAPI(title="Corridor acquirer: e-commerce gateway", version="1")
    install(app)
    keys = {hashlib.sha256(key.encode()).digest(): terminal for key, terminal in api_keys.items()}
    locks = KeyLocks()

    def merchant_of(authorization: str | None) -> MerchantSpec:
        offered = (authorization or "").removeprefix("Bearer ").strip().encode()
        digest = hashlib.sha256(offered).digest()
        for known, terminal in keys.items():
            if hmac.compare_digest(known, digest):
                merchant = acquirer.merchant(terminal)
                if merchant is not None:
                    return merchant
        raise Problem(401, "unauthorized", "Not authenticated", "send the merchant's API key as a Bearer token")

    async def once(
        merchant: MerchantSpec, key: str | None, what: str, body: BaseModel, work: Work, *, success: int = 201
    ) -> JSONResponse:
        """Run `work` once per idempotency key; the same key again gets the recorded answer (`success`, or a
        problem's status)."""
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise Problem(
                400,
                "idempotency-key-required",
                "Idempotency-Key needed",
                f"every POST carries an Idempotency-Key header of 1 to {MAX_KEY_LENGTH} printable characters",
            )
        fingerprint = store.fingerprint(what, body.model_dump())
        async with locks.hold(f"{merchant.terminal}|{key}"):
            entry = store.get(merchant.terminal, key)
            if entry is not None and entry.fingerprint != fingerprint:
                raise Problem(
                    422, "idempotency-key-reused", "Idempotency-Key reused", "this key was used for another request"
                )
            if entry is not None and entry.state == "done":
                assert entry.status is not None
                return _json(entry.status, entry.body, replayed=True)
            if entry is not None and entry.note and isinstance(body, CardPayment | Refund):
                # Started before and never answered: the first attempt's outcome is unknown; undo it first.
                acquirer.reverse_later({**entry.note, "2": body.card_number})

            def note(fields: dict[str, str]) -> None:
                store.start(merchant.terminal, key, fingerprint, fields, _now(clock))

            outcome = await work(note)
            if isinstance(outcome, Problem):
                status, document = outcome.status, outcome.document()
            else:
                status, document = success, outcome
            store.finish(merchant.terminal, key, fingerprint, status, document, _now(clock))
            return _json(status, document)

    def authorize(merchant: MerchantSpec, request: Fields) -> Work:
        async def work(note: Callable[[dict[str, str]], None]) -> Problem | dict[str, Any]:
            prepared = acquirer.prepare(request, merchant)
            if "39" in prepared:
                return _refusal(str(prepared["39"]))
            note({field: str(prepared[field]) for field in NOTED if field in prepared})
            answer = await acquirer.send(prepared)
            code = str(answer.get("39"))
            if code not in (Response.APPROVED, Response.PARTIAL_APPROVAL):
                return _refusal(code, str(answer.get("37", "")) or None)
            return _approved(answer, request)

        return work

    @app.post("/v1/payments", status_code=201, response_model=Outcome, responses=PROBLEMS)
    async def pay(
        payment: CardPayment, authorization: Authorization = None, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        merchant = merchant_of(authorization)
        work = authorize(merchant, _terminal_request(merchant, payment))
        return await once(merchant, idempotency_key, "payments", payment, work)

    @app.post("/v1/refunds", status_code=201, response_model=Outcome, responses=PROBLEMS)
    async def refund(
        refund: Refund, authorization: Authorization = None, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        merchant = merchant_of(authorization)
        work = authorize(merchant, _terminal_request(merchant, refund))
        return await once(merchant, idempotency_key, "refunds", refund, work)

    @app.post("/v1/payments/{payment_id}/void", response_model=Outcome, responses=PROBLEMS)
    async def void(
        payment_id: str, void: Void, authorization: Authorization = None, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        merchant = merchant_of(authorization)

        async def work(note: Callable[[dict[str, str]], None]) -> Problem | dict[str, Any]:
            answer = await acquirer.void(merchant, {"37": payment_id, "2": void.card_number})
            code = str(answer.get("39"))
            if code == Response.APPROVED:
                return Outcome(payment_id=payment_id, status="voided", response_code=code).model_dump(exclude_none=True)
            if code == Response.ORIGINAL_NOT_FOUND:
                return _not_found(payment_id)
            return _refusal(code, payment_id)

        return await once(merchant, idempotency_key, f"void:{payment_id}", void, work, success=200)

    @app.get("/v1/payments/{payment_id}", response_model=Logged, responses={404: {}})
    async def payment(payment_id: str, authorization: Authorization = None) -> Logged:
        merchant = merchant_of(authorization)
        approval = acquirer.approval(payment_id)
        if approval is None or approval.terminal != merchant.terminal:
            raise _not_found(payment_id)
        return Logged(
            payment_id=payment_id,
            status="reversed" if approval.reversed else "approved",
            kind=approval.kind,
            authorization_code=approval.auth_code,
            amount_minor=approval.amount,
            currency=approval.currency,
            billed_minor=approval.billed,
            billed_currency=approval.card_currency,
        )

    return app


def _json(status: int, document: Any, *, replayed: bool = False) -> JSONResponse:
    """The answer; a recorded one given again says so (`Idempotent-Replayed: true`, as the corridor's API does)."""
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    media_type = MEDIA_TYPE if status >= 400 else "application/json"
    return JSONResponse(document, status_code=status, media_type=media_type, headers=headers)


def _not_found(payment_id: str) -> Problem:
    return Problem(404, "payment-not-found", "No such payment", f"{payment_id} is not a payment of this merchant")


def _terminal_request(merchant: MerchantSpec, body: CardPayment | Refund) -> Fields:
    try:
        numeric = currency(body.currency).numeric
    except MoneyError:
        numeric = None
    if numeric is None:
        reason = "not an ISO 4217 currency with a number"
        errors = [{"field": "currency", "reason": reason}]
        raise Problem(422, "invalid-request", "The request is not valid", f"currency: {reason}", errors=errors)
    card = body if isinstance(body, CardPayment) else None
    return ecommerce_request(
        merchant,
        pan=body.card_number,
        expiry=body.expiry,
        amount_minor=body.amount_minor,
        currency_numeric=numeric,
        cvv2=card.cvv2 if card else None,
        device=card.device if card else None,
        refund=isinstance(body, Refund),
        manual=card is not None and card.capture == "manual",
    )


def _approved(answer: Fields, request: Fields) -> dict[str, Any]:
    code = str(answer["39"])
    billed = answer.get("6")
    return Outcome(
        payment_id=str(answer["37"]),
        status="approved" if code == Response.APPROVED else "partially approved",
        response_code=code,
        authorization_code=str(answer.get("38", "")) or None,
        amount_minor=int(str(request["4"])),
        currency=currency(int(str(request["49"]))).code,
        billed_minor=int(str(billed)) if billed else None,
        billed_currency=currency(int(str(answer["51"]))).code if "51" in answer else None,
        card=mask(str(request["2"])),
    ).model_dump(exclude_none=True)


def _refusal(code: str, payment_id: str | None = None) -> Problem:
    """The problem a refused card request answers with: 402 for the card's refusal, 503 when the network could
    not decide, 422 for a request the acquirer would not send."""
    extra: dict[str, Any] = {"response_code": code}
    if payment_id:
        extra["payment_id"] = payment_id
    if code in (Response.ISSUER_UNAVAILABLE, Response.SYSTEM_ERROR):
        detail = f"{describe(code)}: nothing was charged; any hold is being reversed"
        return Problem(503, "issuer-unavailable", "The card's issuer could not be reached", detail, **extra)
    if code in (Response.INVALID_AMOUNT, Response.FORMAT_ERROR, Response.TERMINAL_NOT_PERMITTED):
        return Problem(422, "not-accepted", "The acquirer does not accept this request", describe(code), **extra)
    return Problem(402, "card-declined", "The card was declined", describe(code), **extra)


def _now(clock: Callable[[], float]) -> str:
    return iso_time(int(clock() * 1e9))
