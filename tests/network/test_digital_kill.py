"""The digital network killed (SIGKILL) at random moments while it issues, sells and mints tokens, then run again:
every operation happens once, and the platforms' supplies, the central banks' CBDC accounts, the banks' books and
the customers' deposits all agree to the minor unit."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from pathlib import Path

import pytest

from corridor.money import Money
from corridor.network.context import ledger_id
from corridor.network.transport import MemoryTransport
from corridor.node.digitalnet import DigitalNetwork
from corridor.node.network import EmbeddedNetwork
from corridor.scenario import load_scenario

from .conftest import balance, nothing_pending

pytestmark = pytest.mark.slow

RU, VE = "CBXRRUMM", "CBXVVECA"
KAMA, VOLGA, IRINA = "RU0440701810000000012", "RU0440701810000000011", "RU0440701810000000013"
ROUNDS = 80
KILLS = 4


async def operations(digital: DigitalNetwork) -> None:
    """The same operations every run, each under its own key: a rerun finds the done ones done."""
    for i in range(ROUNDS):
        await digital.issue_cbdc(RU, "VOLGRUMM", Money.parse("1 000.00 RUBD"), key=f"issue-{i}")
        await digital.fund(RU, IRINA, Money.parse("100.00 RUBD"), key=f"irina-{i}", paid_from=IRINA)
        await digital.fund(RU, KAMA, Money.parse("50.00 RUBS"), key=f"kama-{i}", paid_from=KAMA)
        await digital.fund(VE, VOLGA, Money.parse("1.0000 VOIL"), key=f"oil-{i}")
        digital.transfer(RU, KAMA, VOLGA, Money.parse("2.00 RUBD"), key=f"pay-{i}")


def work(folder: str) -> None:
    async def main() -> None:
        net = EmbeddedNetwork(load_scenario(), Path(folder), MemoryTransport())
        await net.start()
        digital = DigitalNetwork(net)
        try:
            await digital.start()
            await operations(digital)
            await net.quiesce()
            (Path(folder) / "done").touch()
        finally:
            await digital.stop()
            await net.stop()

    asyncio.run(main())


def run_once(folder: Path, *, kill_after_s: float | None = None) -> bool:
    process = multiprocessing.get_context("spawn").Process(target=work, args=(str(folder),))
    process.start()
    process.join(timeout=kill_after_s if kill_after_s is not None else 120)
    if process.is_alive():
        process.kill()
        process.join()
        return False
    assert process.exitcode == 0, "the run failed"
    return True


def test_token_operations_killed_at_random_moments_happen_once_when_run_again(tmp_path: Path) -> None:
    started = time.monotonic()
    assert run_once(tmp_path / "measure")
    span = time.monotonic() - started
    kills = 0
    while kills < KILLS and run_once(tmp_path / "run", kill_after_s=random.uniform(0.2, 0.7) * span) is False:
        kills += 1
    assert kills, "every run finished before it was killed, so nothing was tested"
    assert run_once(tmp_path / "run")

    async def check() -> None:
        net = EmbeddedNetwork(load_scenario(), tmp_path / "run", MemoryTransport())
        await net.start()
        digital = DigitalNetwork(net)
        await digital.start()
        try:
            await net.quiesce()
            rubd = 7_020_000_00 + ROUNDS * 1_000_00
            assert digital.supply("RUBD").minor == rubd == net.central_bank(RU).cbdc_outstanding()
            assert digital.supply("RUBS").minor == 500_000_00 + ROUNDS * 50_00
            assert net.bank("VOLGRUMM").stablecoin_reserve("RUBS") == digital.supply("RUBS").minor
            assert digital.supply("VOIL").minor == 2_000_0000 + ROUNDS * 1_0000
            assert digital.balance(RU, IRINA, "RUBD").minor == 20_000_00 + ROUNDS * 100_00
            assert digital.balance(RU, VOLGA, "RUBD").minor == ROUNDS * 2_00
            bank_wallet = digital.platforms[RU].balance(digital.institutions[(RU, "VOLGRUMM")].public_key, "RUBD")
            books = net.nodes["VOLGRUMM"].ledger
            assert -balance(books, ledger_id("VOLGRUMM", "digital", "holdings")) == bank_wallet
            assert balance(books, ledger_id("VOLGRUMM", "account", IRINA)) == 150_000_00 - ROUNDS * 100_00
            assert balance(books, ledger_id("VOLGRUMM", "account", KAMA)) == 5_000_000_00 - ROUNDS * 50_00
            for node in net.nodes.values():
                assert nothing_pending(node.ledger) and node.ledger.verify().ok
            for platform in digital.platforms.values():
                assert platform.ledger.verify().ok and platform.ledger.check().ok
        finally:
            await digital.stop()
            await net.stop()

    asyncio.run(check())
