"""Run the fuzz tests longer than CI does and print what each one ran: examples, seconds, examples per second, and
failures (docs/fuzzing.md records a run's figures).

    .venv/bin/python -m tests.fuzz.long_run --examples 20000                      # every fuzz test
    .venv/bin/python -m tests.fuzz.long_run --examples 500 tests/fuzz/test_fuzz_api.py
    .venv/bin/python -m tests.fuzz.long_run --examples 5000 --json figures.json --pytest "-k iso8583"

It runs pytest over tests/fuzz (or the paths given) with CORRIDOR_FUZZ_EXAMPLES set and Hypothesis's statistics on,
and reads the figures from those statistics. Its exit status is pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.fuzz import EXAMPLES_VARIABLE

_TEST = re.compile(r"^(?P<test>\S+::\S+):$")
_PHASE = re.compile(r"^\s*- during (?P<phase>\w+) phase \((?P<seconds>[0-9.]+) seconds\):")
_COUNTS = re.compile(r"^\s*- (?P<passing>\d+) passing, (?P<failing>\d+) failing, and (?P<invalid>\d+) invalid")
_STOPPED = re.compile(r"^\s*- Stopped because (?P<why>.+)$")


@dataclass
class Figures:
    test: str
    examples: int = 0
    """Test cases run to completion (passing and failing; invalid ones, refused by a filter, are not counted)."""
    failing: int = 0
    invalid: int = 0
    seconds: float = 0.0
    stopped: str = ""

    @property
    def per_second(self) -> float:
        return self.examples / self.seconds if self.seconds else 0.0


def read_statistics(output: str) -> list[Figures]:
    """Per test, the figures of every phase summed (reuse, generate, shrink, explain) from pytest's
    --hypothesis-show-statistics section."""
    found: dict[str, Figures] = {}
    current: Figures | None = None
    for line in output.splitlines():
        if match := _TEST.match(line):
            current = found.setdefault(match["test"], Figures(match["test"]))
        elif current is None:
            continue
        elif match := _PHASE.match(line):
            current.seconds += float(match["seconds"])
        elif match := _COUNTS.match(line):
            current.examples += int(match["passing"]) + int(match["failing"])
            current.failing += int(match["failing"])
            current.invalid += int(match["invalid"])
        elif match := _STOPPED.match(line):
            current.stopped = match["why"]
    return list(found.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, required=True, help="examples per fuzz test")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--pytest", default="", help='more pytest options, as one string (e.g. "-k iso8583")')
    parser.add_argument("paths", nargs="*", default=["tests/fuzz"], help="test paths (default: tests/fuzz)")
    arguments = parser.parse_args(argv)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics"]
    command += ["-o", "timeout=0", *arguments.paths, *shlex.split(arguments.pytest)]
    started = time.monotonic()
    run = subprocess.run(
        command,
        env=os.environ | {EXAMPLES_VARIABLE: str(arguments.examples)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    figures = read_statistics(run.stdout)
    width = max((len(f.test) for f in figures), default=10)
    print(f"{'test':<{width}}  {'examples':>9}  {'failing':>7}  {'seconds':>8}  {'per s':>8}")
    for f in figures:
        print(f"{f.test:<{width}}  {f.examples:>9}  {f.failing:>7}  {f.seconds:>8.1f}  {f.per_second:>8.0f}")
    total = sum(f.examples for f in figures)
    failing = sum(f.failing for f in figures)
    print(
        f"{'total':<{width}}  {total:>9}  {failing:>7}  {wall:>8.1f}  (wall clock; pytest exit status {run.returncode})"
    )
    summary = [line for line in run.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    print("\n".join(summary or [run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "no output"]))
    if arguments.json is not None:
        document = {
            "examples_per_test": arguments.examples,
            "wall_seconds": round(wall, 1),
            "exit_status": run.returncode,
            "tests": [asdict(f) | {"per_second": round(f.per_second, 1)} for f in figures],
            "failures": summary,
        }
        arguments.json.write_text(json.dumps(document, indent=2) + "\n")
    if run.returncode != 0:
        sys.stderr.write(run.stdout[-20_000:])
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
