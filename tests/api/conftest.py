"""The API tests talk to one corridor served as `corridor up` serves it (tests/serving.py), started once per test
session: starting it costs seconds, and the tests use their own keys and accounts so that they do not depend on one
another's order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..serving import Served, corridor_served

__all__ = ["Served"]


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with corridor_served(tmp_path_factory.mktemp("corridor-up")) as running:
        yield running
