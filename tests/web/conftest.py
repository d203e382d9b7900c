"""A corridor served as `corridor up` serves it, with the dashboard mounted, and a headless Chromium to look at it.

The corridor is served as `corridor up` serves it, dashboard included (tests/serving.py): one per module, since
starting it costs about a second and each test only adds payments and token transactions of its own. The browser is
Debian's Chromium (Playwright's own download is not reachable here): without it the browser tests skip, unless
CORRIDOR_REQUIRE_SERVICES=1 says this run must exercise them, when they fail instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from ..serving import Served, corridor_served

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_SERVICES = os.environ.get("CORRIDOR_REQUIRE_SERVICES") == "1"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
T = TypeVar("T")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with corridor_served(tmp_path_factory.mktemp("corridor-web"), "corridor-web") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium); Playwright's own browser is not reachable"
        if REQUIRE_SERVICES:
            pytest.fail(f"CORRIDOR_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    """Where screenshots go: $CORRIDOR_ARTIFACTS (kept by CI), else the test's own temporary directory."""
    where = Path(os.environ["CORRIDOR_ARTIFACTS"]) if os.environ.get("CORRIDOR_ARTIFACTS") else tmp_path
    where.mkdir(parents=True, exist_ok=True)
    return where


@dataclass
class Tab:
    """A fresh browser tab at 1280x800, with the script errors it met."""

    page: Page
    errors: list[str]


@pytest.fixture
def tab(browser: Browser, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Tab]:
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    try:
        yield Tab(page, errors)
    finally:
        with contextlib.suppress(PlaywrightError):  # an artifact, best effort: never hide the test's own failure
            page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar is drawn where the test had scrolled
            page.screenshot(path=str(artifacts / f"{request.node.name}.png"), full_page=True)
        context.close()
