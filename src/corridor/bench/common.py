"""What every benchmark shares: how its long phases report progress (the CLI draws a bar, tests and --json pass
nothing) and the error that says the run could not be measured."""

from __future__ import annotations

import os
import platform
from typing import Any, Protocol


class Progress(Protocol):
    def phase(self, description: str, total: float | None = None) -> None: ...
    def advance(self, amount: float = 1) -> None: ...


class NoProgress:
    def phase(self, description: str, total: float | None = None) -> None:
        pass

    def advance(self, amount: float = 1) -> None:
        pass


class BenchError(RuntimeError):
    """The benchmark could not run or its run was wrong (a refused transfer, an unreachable server, a payment that
    did not complete)."""


def percentile(values: list[float], p: float) -> float:
    """The value below which a fraction `p` of `values` lie (nearest rank); 0 for none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def machine() -> dict[str, Any]:
    """What a figure was measured on, printed beside it."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
