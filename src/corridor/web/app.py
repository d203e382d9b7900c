"""Serve the dashboard: GET / answers the page, /static/ its scripts, styles and icon.

Both stay out of the OpenAPI document (docs/openapi.json describes the API, which the page only calls), and neither
needs a key: the page holds no data until the browser calls the API with the observer key it was opened with.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
"""The page and its assets, shipped inside the package so that an installed corridor serves them too."""

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page runs only its own scripts and calls only its own origin: a name in the data that smuggled markup in
could run nothing, and no other site can frame the page to trick a click."""

PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


class _Revalidated(StaticFiles):
    """Static files the browser asks about again on every load (a cheap 304): after an upgrade the page and its
    modules are never a mix of two versions, which a heuristic cache of an ES module graph could otherwise give."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount(app: FastAPI) -> None:
    """Serve the dashboard on `app`: the page at GET /, its assets under /static/, none of it in the schema."""

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=PAGE_HEADERS)

    app.mount("/static", _Revalidated(directory=STATIC_DIR), name="static")
