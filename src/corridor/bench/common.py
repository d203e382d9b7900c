"""What every benchmark shares: how its long phases report progress (the CLI draws a bar, tests and --json pass
nothing) and the error that says the run could not be measured."""

from __future__ import annotations

from typing import Protocol


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
