"""A bank node's compliance desk over its control interface, for the API over node processes and for operators:
its cases, a reviewer's decision (the held payment acts on it at once), and the reports it filed.

| method | params | answer |
| --- | --- | --- |
| `compliance_cases` | `status` (open, released, rejected; optional), `limit` | the cases, newest first |
| `compliance_case` | `id` | one case, or null |
| `compliance_decide` | `id`, `decision` (release, reject), `reviewer`, `note` | the case as decided |
| `compliance_reports` | `kind` (large_value, structuring; optional), `limit` | the reports filed, newest first |
| `compliance_check` | a payment check (compliance/check.py) | the desk's verdict on a payment it did not make itself |
| `compliance_watchlists` | | the lists screened against: name, entries, file, digest |
| `compliance_reload` | `actor` | the lists read again from their files (audited), or `bad_list` naming what is wrong |
"""

from __future__ import annotations

from typing import Any

from corridor.compliance.check import CheckError, PaymentCheck
from corridor.compliance.desk import OPEN, PASSED, REJECTED, RELEASED, Report
from corridor.compliance.watchlist import WatchListError
from corridor.node import actions
from corridor.node.rpc import Method, RpcError
from corridor.node.runtime import Node
from corridor.transfers.bank import BankRole

LIST_MAX = 1000
STATUSES = (OPEN, RELEASED, REJECTED)


def report_json(report: Report) -> dict[str, Any]:
    return {
        "seq": report.seq,
        "kind": report.kind,
        "subject": report.subject,
        "account": report.account,
        "at": report.at,
        "details": report.details,
    }


def compliance_methods(node: Node) -> dict[str, Method]:
    def desk_of() -> Any:
        role = node.role
        assert isinstance(role, BankRole)
        return role.compliance

    async def cases(params: dict[str, Any]) -> dict[str, Any]:
        status = params.get("status")
        if status is not None and status not in STATUSES:
            raise RpcError("bad_request", f"status must be one of {', '.join(STATUSES)}")
        return {"cases": [case.to_json() for case in actions.cases(node, status, _limit(params))]}

    async def case(params: dict[str, Any]) -> dict[str, Any]:
        desk = desk_of()
        found = None if desk is None else desk.case(_text(params, "id"))
        return {"case": None if found is None else found.to_json()}

    async def decide(params: dict[str, Any]) -> dict[str, Any]:
        note = params.get("note")
        if note is not None and not isinstance(note, str):
            raise RpcError("bad_request", "note must be a string")
        decided = await actions.decide_case(
            node, _text(params, "id"), _text(params, "decision"), _text(params, "reviewer"), note
        )
        return {"case": decided.to_json()}

    async def reports(params: dict[str, Any]) -> dict[str, Any]:
        kind = params.get("kind")
        if kind is not None and not isinstance(kind, str):
            raise RpcError("bad_request", "kind must be a string")
        desk = desk_of()
        found = [] if desk is None else desk.reports(kind, _limit(params))
        return {"reports": [report_json(report) for report in found]}

    async def check(params: dict[str, Any]) -> dict[str, Any]:
        desk = desk_of()
        try:
            asked = PaymentCheck.from_json(params)
        except CheckError as exc:
            raise RpcError("bad_request", str(exc)) from None
        verdict = PASSED if desk is None else await asked.run(desk)
        return {"verdict": verdict.to_json()}

    async def watchlists(params: dict[str, Any]) -> dict[str, Any]:
        desk = desk_of()
        return {"watchlists": [] if desk is None else desk.watchlists()}

    async def reload(params: dict[str, Any]) -> dict[str, Any]:
        desk = desk_of()
        if desk is None:
            return {"watchlists": []}
        try:
            return {"watchlists": await desk.reload_watchlists(_text(params, "actor"))}
        except WatchListError as exc:
            raise RpcError("bad_list", str(exc)) from None

    return {
        "compliance_check": check,
        "compliance_watchlists": watchlists,
        "compliance_reload": reload,
        "compliance_cases": cases,
        "compliance_case": case,
        "compliance_decide": decide,
        "compliance_reports": reports,
    }


def _text(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise RpcError("bad_request", f"{name} must be a non-empty string")
    return value


def _limit(params: dict[str, Any]) -> int:
    limit = params.get("limit", 100)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= LIST_MAX:
        raise RpcError("bad_request", f"limit must be an integer from 1 to {LIST_MAX}")
    return limit
