"""`corridor up` killed (SIGKILL) while a bank sends payments through its API, then started again on the same files:
every payment, retried under its Idempotency-Key, exists once with the same UETR, completes, and every ledger
balances with nothing left reserved."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from corridor.ledger import Ledger

from ..network.conftest import nothing_pending

pytestmark = pytest.mark.slow

KAMA, ORINOCO = "RU0440701810000000012", "VE0102010000000000032"
PAYMENTS = 40


@contextlib.contextmanager
def corridor_up(data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """A `corridor up` process on a free port: (process, base url, the bank's key)."""
    url_file = data_dir / "api" / "url"
    url_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "corridor", "up", "--data-dir", str(data_dir), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not url_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, "corridor up did not start"
            time.sleep(0.05)
        key = json.loads((data_dir / "keys" / "api-keys.json").read_text())["VOLGRUMM"]
        yield process, url_file.read_text().strip(), key
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def pay(client: httpx.Client, i: int) -> httpx.Response:
    body = {"debtor_account": KAMA, "creditor_account": ORINOCO, "amount_minor": 100_00 + i, "currency": "VES"}
    return client.post("/v1/payments", json=body, headers={"Idempotency-Key": f"kill-{i}"})


def test_payments_through_an_api_killed_at_random_happen_once_when_retried(tmp_path: Path) -> None:
    data_dir = tmp_path / "up"
    first: dict[int, str] = {}
    with corridor_up(data_dir) as (process, url, key):

        def send() -> None:
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as client:
                for i in range(PAYMENTS):
                    try:
                        answer = pay(client, i)
                    except httpx.HTTPError:
                        return  # the process was killed
                    if answer.status_code == 202:
                        first[i] = answer.json()["uetr"]

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(random.uniform(0.05, 0.4))
        process.kill()
        process.wait(10)
        sender.join(30)
    assert len(first) < PAYMENTS, "every payment was answered before the kill: nothing was tested"
    with (
        corridor_up(data_dir) as (_process, url, key),
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client,
    ):
        again = {i: pay(client, i) for i in range(PAYMENTS)}
        assert all(a.status_code == 202 for a in again.values()), [a.text for a in again.values()]
        uetrs = {i: a.json()["uetr"] for i, a in again.items()}
        assert all(uetrs[i] == uetr for i, uetr in first.items()), "a retried key named another payment"
        assert len(set(uetrs.values())) == PAYMENTS
        deadline = time.monotonic() + 60
        states: dict[str, Any] = {}
        while time.monotonic() < deadline:
            states = {u: client.get(f"/v1/payments/{u}").json().get("state") for u in uetrs.values()}
            if all(s == "completed" for s in states.values()):
                break
            time.sleep(0.2)
        assert all(s == "completed" for s in states.values()), states
        listed = [p for p in client.get("/v1/payments", params={"limit": 1000}).json() if p["uetr"] in states]
        assert len(listed) == PAYMENTS, "each payment exists once at the bank"
    for ledger_file in sorted((data_dir / "nodes").glob("*/ledger.db")):
        with contextlib.closing(Ledger.open(str(ledger_file), readonly=True)) as ledger:
            assert ledger.check().ok and ledger.verify().ok, ledger_file.parent.name
            assert nothing_pending(ledger), ledger_file.parent.name
