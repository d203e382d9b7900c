"""A writer killed with SIGKILL at random moments loses no acknowledged batch and never keeps half of one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from corridor.ledger import Ledger
from tests.ledger.crash_child import BATCH, CLIENTS, batch_ids

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 6


def run_child_and_kill(
    url: str, schema: str, round_: int, rng: random.Random, mode: tuple[str, ...] = ()
) -> set[tuple[int, int, int]]:
    """Start the child for one round, let it commit for a random while, SIGKILL it; return the acked batches."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.crash_child", url, schema, str(round_), *mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    acked: set[tuple[int, int, int]] = set()
    assert child.stdout is not None
    try:
        line = child.stdout.readline()
        assert line.strip() == "ready", f"child failed to start: {line!r} {child.stderr.read() if child.stderr else ''}"
        deadline = time.monotonic() + 20
        target = rng.randint(4, 40)
        while len(acked) < target and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            _, r, c, k = line.split()
            acked.add((int(r), int(c), int(k)))
        time.sleep(rng.random() * 0.05)  # land the kill anywhere inside the next commits
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    # Lines printed before the kill but not yet read are acknowledged too.
    assert child.stdout is not None
    for line in child.stdout.read().splitlines():
        if line.startswith("acked"):
            _, r, c, k = line.split()
            acked.add((int(r), int(c), int(k)))
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    return acked


def assert_consistent(url: str, schema: str | None, acked: set[tuple[int, int, int]], rounds: int) -> None:
    with Ledger.open(url, schema=schema, readonly=True) as ledger:
        for r in range(rounds):
            for c in range(CLIENTS):
                for k in range(200):
                    ids = list(batch_ids(r, c, k))
                    present = len(ledger.lookup_transfers(ids))
                    assert present in (0, BATCH), f"batch {(r, c, k)} is half there: {present} of {BATCH}"
                    if (r, c, k) in acked:
                        assert present == BATCH, f"acknowledged batch {(r, c, k)} was lost"
                    if present == 0 and k > 2 and not any((r, c, j) in acked for j in range(k, 200)):
                        break
        assert ledger.check().ok
        report = ledger.verify()
        assert report.ok, report.problems


def crash_rounds(url: str, schema: str, mode: tuple[str, ...] = ()) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    acked: set[tuple[int, int, int]] = set()
    for round_ in range(ROUNDS):
        acked |= run_child_and_kill(url, schema, round_, rng, mode)
        assert_consistent(url, None if schema == "-" else schema, acked, round_ + 1)
    assert acked, "the child never committed anything"


def test_sqlite_writer_killed_at_random_keeps_every_batch_whole(tmp_path):
    crash_rounds(str(tmp_path / "crash.db"), "-")


def test_sqlite_writer_with_inline_callers_killed_at_random_keeps_every_flushed_batch_whole(tmp_path):
    crash_rounds(str(tmp_path / "crash.db"), "-", ("inline",))


def test_postgres_writer_killed_at_random_keeps_every_batch_whole():
    import uuid

    from tests.conftest import POSTGRES_URL, drop_schema, require_postgres

    require_postgres()
    schema = f"crash_{uuid.uuid4().hex[:12]}"
    try:
        crash_rounds(POSTGRES_URL, schema)
    finally:
        drop_schema(schema)


def test_postgres_writer_with_inline_callers_killed_at_random_keeps_every_flushed_batch_whole():
    import uuid

    from tests.conftest import POSTGRES_URL, drop_schema, require_postgres

    require_postgres()
    schema = f"crash_{uuid.uuid4().hex[:12]}"
    try:
        crash_rounds(POSTGRES_URL, schema, ("inline",))
    finally:
        drop_schema(schema)
