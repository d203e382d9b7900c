"""Errors as RFC 9457 problem details (application/problem+json), saying what is wrong without echoing secrets.

FastAPI's own validation errors quote the input they refused; for a card payment that is a PAN or a CVV2, so the
handler here names the field and the rule and nothing of the value.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:corridor:problem:"


class Problem(Exception):
    """An error a handler raises to answer with a problem document."""

    def __init__(self, status: int, kind: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
        self.extra = extra

    def document(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": TYPE_BASE + self.kind, "title": self.title, "status": self.status}
        body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        return body | self.extra


def problem_response(
    problem: Problem, instance: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(problem.document(instance), status_code=problem.status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    """Answer every error of `app` as problem+json."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(part) for part in error["loc"][1:]) or "body", "reason": error["msg"]}
            for error in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        problem = Problem(422, "invalid-request", "The request is not valid", detail, errors=errors)
        return problem_response(problem, request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        problem = Problem(exc.status_code, f"http-{exc.status_code}", str(exc.detail), str(exc.detail))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed(request))
        return problem_response(problem, request.url.path, headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not the caller's fault: say so in the same format, and nothing of the exception (it may quote data).
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        problem = Problem(500, "internal", "Internal error", "the server failed on this request; it was logged")
        return problem_response(problem, request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)


def _allowed(request: Request) -> list[str]:
    """Every method some route serves at the request's path: Starlette's own 405 names only the first route's,
    where two routes (a GET and a POST) share the path."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods and route.path_regex.match(request.url.path):
            methods |= route.methods
    return sorted(methods)
