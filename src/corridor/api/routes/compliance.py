"""A bank's compliance desk: the cases its screening and AML rules opened (a payment held, a card purchase
referred), a reviewer's decision on one, and the reports it filed (large values, structuring).

Only the bank's own key reads or decides its cases (scopes compliance:read, compliance:review): what a case holds
(which list entry a party resembles, and how closely) is for the bank's compliance staff, never for the payer. A
decision names its reviewer, who is recorded in the bank's audit trail with the key's bank
(`<BIC>/<reviewer>`); releasing says the case's hits are false positives, rejecting that one is a true match
(docs/compliance.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.common import Api, IdempotencyKey, problems, scoped
from corridor.api.keys import Caller, Scope
from corridor.api.ports import CompliancePort, TokensPort
from corridor.api.problems import Problem
from corridor.api.tokenscreen import TOKEN
from corridor.compliance import CaseError
from corridor.compliance.watchlist import WatchListError

CaseId = Annotated[str, Path(pattern=r"^CASE-[0-9A-F]{16}$", description="The case's id, as listed")]
Status = Literal["open", "released", "rejected"]


class Case(BaseModel):
    id: str
    rail: str
    """credit_transfer (subject: the UETR), card (the authorization's request key) or token (the transaction's
    id)."""
    subject: str
    account: str
    status: Status
    opened_at: str
    details: dict[str, Any]
    """The hits (party, entry, score, why) and the AML findings the case was opened for."""
    decided_at: str | None
    decided_by: str | None
    note: str | None


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["release", "reject"]
    """release: the hits are false positives, the payment goes ahead; reject: a true match, the payment is
    refused (RR04) and its funds released, and the party is refused from then on."""
    reviewer: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    """Who decides (recorded in the audit trail)."""
    note: str | None = Field(default=None, max_length=500)


class WatchList(BaseModel):
    name: str
    entries: int
    file: str
    """The file's name (its folder is the node's business)."""
    digest: str
    """SHA-256 of the file's bytes: which version of the list screens payments now."""


class Reload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operator: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._@-]+$")
    """Who asks for the lists to be read again (recorded in the audit trail)."""


class Reloaded(BaseModel):
    watchlists: list[WatchList]
    """The lists now screened against."""


class Report(BaseModel):
    seq: int
    kind: str
    """large_value or structuring."""
    subject: str
    account: str
    at: str
    details: dict[str, Any]


def router(api: Api, port: CompliancePort, tokens: TokensPort | None = None) -> APIRouter:
    """The routes over `port`; `tokens`: where a released token payment is submitted (api/tokenscreen.py)."""
    r = APIRouter(tags=["compliance"])
    read = scoped(api, Scope.COMPLIANCE_READ)
    review = scoped(api, Scope.COMPLIANCE_REVIEW)

    @r.get("/v1/compliance/cases", response_model=list[Case], responses=problems())
    async def cases(
        status: Annotated[Status | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        caller: Caller = read,
    ) -> list[Case]:
        return [Case(**case) for case in await port.cases(caller.participant, status, limit)]

    @r.get("/v1/compliance/cases/{case_id}", response_model=Case, responses=problems(404))
    async def case(case_id: CaseId, caller: Caller = read) -> Case:
        found = await port.case(caller.participant, case_id)
        if found is None:
            raise Problem(404, "not-found", "No such case", f"this bank has no case {case_id}")
        return Case(**found)

    @r.post("/v1/compliance/cases/{case_id}/decision", response_model=Case, responses=problems(400, 404, 409))
    async def decide(
        case_id: CaseId, body: Decision, idempotency_key: IdempotencyKey = None, caller: Caller = review
    ) -> Any:
        async def work() -> tuple[int, dict[str, Any]]:
            reviewer = f"{caller.participant}/{body.reviewer}"
            try:
                decided = await port.decide(caller.participant, case_id, body.decision, reviewer, body.note)
            except CaseError as exc:
                if exc.code == "not_found":
                    raise Problem(404, "not-found", "No such case", f"this bank has no case {case_id}") from None
                if exc.code == "decided":
                    raise Problem(409, "case-decided", "Case already decided", str(exc)) from None
                raise Problem(422, "invalid-decision", "Invalid decision", str(exc)) from None
            payment = decided["details"].get("payment") or {}
            if decided["rail"] == TOKEN and decided["status"] == "released" and tokens is not None and payment:
                # submitted once released (again on a retried request: the platform answers a replay as such)
                await tokens.submit(str(payment["operator"]), bytes.fromhex(str(payment["wire"])))
            return 200, Case(**decided).model_dump()

        request = ("compliance-decision", case_id, body.decision, body.reviewer, body.note)
        return await api.once(caller, idempotency_key, request, work)

    @r.get("/v1/compliance/watchlists", response_model=list[WatchList], responses=problems())
    async def watchlists(caller: Caller = read) -> list[WatchList]:
        return [WatchList(**found) for found in await port.watchlists(caller.participant)]

    @r.post("/v1/compliance/watchlists/reload", response_model=Reloaded, responses=problems(400, 422))
    async def reload(body: Reload, idempotency_key: IdempotencyKey = None, caller: Caller = review) -> Any:
        """Read every watch-list again from its file, without a restart: all of them, or (422) none."""

        async def work() -> tuple[int, dict[str, Any]]:
            actor = f"{caller.participant}/{body.operator}"
            try:
                lists = await port.reload_watchlists(caller.participant, actor)
            except WatchListError as exc:
                raise Problem(422, "bad-watchlist", "A watch-list cannot be read", str(exc)) from None
            return 200, Reloaded(watchlists=[WatchList(**found) for found in lists]).model_dump()

        return await api.once(caller, idempotency_key, ("compliance-reload", body.operator), work)

    @r.get("/v1/compliance/reports", response_model=list[Report], responses=problems())
    async def reports(
        kind: Annotated[Literal["large_value", "structuring"] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        caller: Caller = read,
    ) -> list[Report]:
        return [Report(**report) for report in await port.reports(caller.participant, kind, limit)]

    return r
