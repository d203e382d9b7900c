"""Shared fixtures: real backends for every ledger test, skipped (or failed under CI) when a service is missing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

POSTGRES_URL = os.environ.get("CORRIDOR_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
REQUIRE_SERVICES = os.environ.get("CORRIDOR_REQUIRE_SERVICES") == "1"


def postgres_available() -> str | None:
    """Return None when the test PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to reach the server means: not available
        return f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}"
    return None


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL is down, or fail it when CI requires services."""
    reason = postgres_available()
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"CORRIDOR_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class FakeClock:
    """A clock the test moves by hand, in nanoseconds, so timeouts are deterministic."""

    def __init__(self, start_ns: int = 1_700_000_000 * 10**9) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float | int) -> None:
        self.now += int(seconds * 10**9)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


LedgerSpec = tuple[str, dict[str, str]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerSpec]:
    """A fresh, empty ledger location on each backend: (url, extra open() keyword arguments)."""
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("ledger") / "ledger.db"), {}
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    try:
        yield POSTGRES_URL, {"schema": schema}
    finally:
        drop_schema(schema)


@pytest.fixture
def open_ledger(backend: LedgerSpec, fake_clock: FakeClock) -> Iterator[Callable[..., object]]:
    """Open (and reopen) the test's ledger on its backend with the fake clock; every ledger is closed at the end."""
    from corridor.ledger import Ledger

    url, kwargs = backend
    opened: list[Ledger] = []

    def _open(**extra: object) -> Ledger:
        ledger = Ledger.open(url, clock=fake_clock, **{**kwargs, **extra})
        opened.append(ledger)
        return ledger

    yield _open
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger: Callable[..., object]) -> object:
    return open_ledger()
