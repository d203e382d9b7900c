"""Fuzzing of every parser of outside input (docs/fuzzing.md): each is fed random bytes and mutations of valid
inputs (bit flips, cuts, insertions, deletions, repeated and swapped spans, swapped fields), and must either return a
valid value or raise its own documented error: never IndexError, KeyError, TypeError, UnicodeDecodeError,
RecursionError or OverflowError, never a hang; an HTTP API never answers 5xx, and every 4xx it answers is
problem+json.

The whole folder runs in CI in under 40 seconds: every test has a small example budget (`fuzz_settings`) and a
deadline per example, so that a parser gone quadratic fails rather than slows the suite down. To fuzz longer, give
every test a budget of its own:

    CORRIDOR_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/fuzz            # 20,000 examples per fuzz test
    .venv/bin/python -m tests.fuzz.long_run --examples 20000             # the same, with a table of the figures

`CORRIDOR_FUZZ_EXAMPLES` is a count of examples per test (each parametrized case counts as a test); it replaces the
CI budget, never lowers it below a test's own. Failures found are kept in Hypothesis's example database
(`.hypothesis/`), so the next run tries them first; a fixed one becomes an `@example` in its test.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, settings

EXAMPLES_VARIABLE = "CORRIDOR_FUZZ_EXAMPLES"


def long_run_examples() -> int | None:
    """The example count `CORRIDOR_FUZZ_EXAMPLES` asks for, or None for the CI budgets."""
    raw = os.environ.get(EXAMPLES_VARIABLE, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{EXAMPLES_VARIABLE} must be a positive whole number of examples, not {raw!r}")
    return int(raw)


def fuzz_settings(examples: int, *, deadline_ms: int = 2_000, **more: Any) -> settings:
    """A fuzz test's settings: `examples` in CI (or CORRIDOR_FUZZ_EXAMPLES), and a deadline per example, generous
    for a shared machine yet far below what a hang or a quadratic blow-up on a large input costs."""
    asked = long_run_examples()
    more.setdefault(
        "suppress_health_check", [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
    )
    return settings(
        max_examples=examples if asked is None else max(asked, examples),
        deadline=timedelta(milliseconds=deadline_ms),
        **more,
    )
