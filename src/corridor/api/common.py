"""What every route of the corridor API shares: who is calling (API key and scope), the once-per-key POST, and money
as JSON.

Every POST carries an `Idempotency-Key`. The work behind it is itself idempotent under the caller's key (a payment's
UETR, a platform transaction's bytes, a cycle's name derive from it), so a request that died half-way is simply
done again; the first answer, a refusal included, is kept and given back to every retry with
`Idempotent-Replayed: true`. The same key with a different request is refused, as RFC 9110's idempotency draft
recommends, rather than silently answering the other request's result.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from corridor.api.idempotency import MAX_KEY_LENGTH, IdempotencyStore
from corridor.api.keys import Caller, KeyRing, Scope
from corridor.api.problems import MEDIA_TYPE, Problem
from corridor.keylocks import KeyLocks
from corridor.money import Money
from corridor.network.context import iso_time

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=MAX_KEY_LENGTH)]
REPLAYED = "Idempotent-Replayed"


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}
"""RFC 9457's members; a problem may add its own (errors, reason, tx_id)."""


class Amount(BaseModel):
    minor: int
    """Integer count of the currency's minor units (no float ever carries money)."""
    currency: str
    text: str
    """The amount as people read it, e.g. '1 250 000.00 RUB'."""


def amount(money: Money) -> Amount:
    return Amount(minor=money.minor, currency=money.currency.code, text=str(money))


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem+json answers a route gives."""
    texts = {
        400: "a header is missing or malformed (Idempotency-Key)",
        401: "no API key, or one the server does not know",
        403: "the key's participant or scopes do not allow this",
        404: "no such resource for this caller",
        409: "the request conflicts with the resource's state",
        422: "an invalid request (each field named), a refusal on its merits, or an Idempotency-Key reused",
        503: "a part of the corridor is not running",
    }
    return {
        code: {"description": texts[code], "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}
        for code in sorted({401, 403, 422, *codes})
    }


class Api:
    """The state routes share: the key ring, the idempotency store, per-key locks."""

    def __init__(self, keys: KeyRing, store: IdempotencyStore) -> None:
        self.keys = keys
        self.store = store
        self.locks = KeyLocks()

    def caller(self, request: Request, scope: Scope) -> Caller:
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "unauthorized", "Not authenticated", "send your API key as 'Authorization: Bearer ...'")
        found = self.keys.caller(token.strip())
        if found is None:
            raise Problem(401, "unauthorized", "Not authenticated", "the API key is not known")
        if not found.may(scope):
            raise Problem(403, "forbidden", "Not allowed", f"this key has no '{scope.value}' scope")
        return found

    async def once(
        self,
        caller: Caller,
        key: str | None,
        request: tuple[object, ...],
        work: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
    ) -> JSONResponse:
        """Answer a POST once per (caller, key): the first answer, refusals included, stands for every retry."""
        if key is None or not key.strip():
            raise Problem(400, "idempotency-key-required", "Idempotency-Key required", "send an Idempotency-Key header")
        fingerprint = self.store.fingerprint(*request)
        async with self.locks.hold(f"{caller.participant}\x00{key}"):
            entry = self.store.get(caller.participant, key)
            if entry is not None and entry.fingerprint != fingerprint:
                raise Problem(
                    422,
                    "idempotency-key-reused",
                    "Idempotency-Key reused",
                    "this Idempotency-Key was used for a different request",
                )
            if entry is not None and entry.state == "done":
                assert entry.status is not None
                return _answer(entry.status, entry.body, replayed=True)
            self.store.start(caller.participant, key, fingerprint, {}, _now())
            try:
                status, body = await work()
            except Problem as problem:
                status, body = problem.status, problem.document()
            self.store.finish(caller.participant, key, fingerprint, status, body, _now())
            return _answer(status, body, replayed=False)


def _answer(status: int, body: Any, *, replayed: bool) -> JSONResponse:
    media = MEDIA_TYPE if status >= 400 else "application/json"
    headers = {REPLAYED: "true"} if replayed else {}
    return JSONResponse(body, status_code=status, media_type=media, headers=headers)


def _now() -> str:
    return iso_time(time.time_ns())


def scoped(api: Api, scope: Scope) -> Any:
    """A dependency giving the checked caller of a route that needs `scope`."""

    def dependency(request: Request) -> Caller:
        return api.caller(request, scope)

    return Depends(dependency)


def namespaced(caller: Caller, key: str) -> str:
    """The key the work itself is done under: a caller's keys never collide with another's."""
    return f"api:{caller.participant}:{key}"
