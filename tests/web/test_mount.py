"""`corridor.web.mount` on an app of its own: what it serves, the headers the page gets, and what it must not change
(the API's OpenAPI document) or need (anything from another origin: the machine may be offline)."""

from __future__ import annotations

import asyncio
import re

import httpx
from fastapi import FastAPI

from corridor.web import STATIC_DIR, mount


class Mounted:
    """An app with nothing but the dashboard, called in process (no server, no corridor)."""

    def __init__(self) -> None:
        self.app = FastAPI()
        mount(self.app)

    def get(self, path: str) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://dashboard") as client:
                return await client.get(path)

        return asyncio.run(call())


def mounted() -> Mounted:
    return Mounted()


def test_the_dashboard_page_is_served_at_the_root_without_a_key() -> None:
    answer = mounted().get("/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/dashboard.js">' in answer.text


def test_the_page_runs_only_its_own_scripts_and_calls_only_its_own_origin() -> None:
    policy = mounted().get("/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "default-src 'none'" in policy


def test_every_module_the_page_imports_is_served_as_javascript() -> None:
    client = mounted()
    modules = {"dashboard.js"}
    for source in STATIC_DIR.glob("*.js"):
        modules |= {m.removeprefix("./") for m in re.findall(r'from "(\./[^"]+)"', source.read_text())}
    for name in sorted(modules):
        answer = client.get(f"/static/{name}")
        assert answer.status_code == 200, name
        assert "javascript" in answer.headers["content-type"], name


def test_the_stylesheet_and_icon_are_served() -> None:
    client = mounted()
    assert client.get("/static/dashboard.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/favicon.svg").headers["content-type"].startswith("image/svg+xml")


def test_mounting_the_dashboard_leaves_the_openapi_document_unchanged() -> None:
    bare = FastAPI(title="t", version="1")
    with_dashboard = FastAPI(title="t", version="1")
    mount(with_dashboard)
    assert with_dashboard.openapi() == bare.openapi()


def test_the_dashboard_loads_nothing_from_another_origin() -> None:
    allowed = {"http://www.w3.org/2000/svg"}
    for source in STATIC_DIR.iterdir():
        found = set(re.findall(r"https?://[^\s\"'<>)`]+", source.read_text()))
        assert found <= allowed | {u for u in found if u.startswith("http://127.0.0.1")}, source.name
