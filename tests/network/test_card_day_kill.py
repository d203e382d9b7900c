"""The card scheme's end of day killed (SIGKILL) at random moments and run again: presentments, clearing,
completions, both central banks' settlements and the merchants' payouts each happen once, and every ledger
reconciles with the settlement plan to the minor unit."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
from pathlib import Path

import pytest

from corridor.network.context import ledger_id
from corridor.network.transport import MemoryTransport
from corridor.node.cardnet import CardScheme
from corridor.node.network import EmbeddedNetwork
from corridor.scenario import load_scenario

from .conftest import balance, nothing_pending
from .test_card_settlement import CB, CYCLE, IRINA, MARACAIBO, MOSCOW, payments

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning"),
]

KILLS = 4
BANKS = ("VOLGRUMM", "KAMARUMM", "ORINVECA", "ANDSVECA")


def day(folder: str, phase: str) -> None:
    """A process's part of the day on the network kept in `folder`: the payments, or closing the day."""

    async def main() -> None:
        net = EmbeddedNetwork(load_scenario(), Path(folder), MemoryTransport())
        await net.start()
        cards = CardScheme(net)
        await cards.start()
        try:
            if phase == "pay":
                await payments(cards)
            else:
                await cards.end_of_day(CYCLE)
                (Path(folder) / "closed").touch()
            await net.quiesce()
        finally:
            await cards.stop()
            await net.stop()

    asyncio.run(main())


def run_phase(folder: Path, phase: str, *, kill_after_s: float | None = None) -> bool:
    """Run a phase in its own process; with `kill_after_s`, SIGKILL it then if still running. True if it ended."""
    process = multiprocessing.get_context("spawn").Process(target=day, args=(str(folder), phase))
    process.start()
    process.join(timeout=kill_after_s if kill_after_s is not None else 120)
    if process.is_alive():
        process.kill()
        process.join()
        return False
    assert process.exitcode == 0, f"phase {phase} failed"
    return True


def test_an_end_of_day_killed_at_random_moments_settles_once_when_run_again(tmp_path: Path) -> None:
    started = time.monotonic()
    assert run_phase(tmp_path, "pay")
    span = time.monotonic() - started  # a process's life here: starting Python and the network, then its work
    delays: list[tuple[float, bool]] = []
    while sum(killed for _, killed in delays) < KILLS and len(delays) < 3 * KILLS:
        delay = random.uniform(0.3, 1.0) * span
        delays.append((delay, not run_phase(tmp_path, "close", kill_after_s=delay)))
    assert any(killed for _, killed in delays), f"no run was killed, so nothing was tested: {delays}"
    assert run_phase(tmp_path, "close")
    assert (tmp_path / "closed").exists()

    async def check() -> None:
        net = EmbeddedNetwork(load_scenario(), tmp_path, MemoryTransport())
        await net.start()
        cards = CardScheme(net)
        await cards.start()
        try:
            closed = await cards.end_of_day(CYCLE)  # once more: it finds everything done
            await net.quiesce()
            assert closed.batches["ANDSVECA"].cleared == 1 and closed.batches["KAMARUMM"].cleared == 2
            for code, legs in closed.plan.currencies.items():
                cb = CB[code]
                assert balance(net.nodes[cb].ledger, ledger_id(cb, "card-scheme")) == legs.scheme
            opening = {p.bic: sum(m.minor for m in p.liquidity) for p in net.scenario.participants}
            for bank in BANKS:
                cb = CB[net.bank(bank).currency.code]
                at_cb = balance(net.nodes[cb].ledger, ledger_id(cb, "settlement", bank))
                position = next(
                    (legs.members.get(bank, 0) for legs in closed.plan.currencies.values() if bank in legs.members), 0
                )
                assert at_cb == opening[bank] + position, bank
                assert -balance(net.nodes[bank].ledger, ledger_id(bank, "nostro")) == at_cb, bank
            irina = balance(net.nodes["VOLGRUMM"].ledger, ledger_id("VOLGRUMM", "account", IRINA))
            assert irina == 150_000_00 - 1_037_546  # billed once; the voided purchase left nothing
            merchants = closed.plan.merchants
            assert (
                balance(net.nodes["ANDSVECA"].ledger, ledger_id("ANDSVECA", "account", MARACAIBO))
                == (merchants["ANDSVECA"][MARACAIBO])
            )
            assert (
                balance(net.nodes["KAMARUMM"].ledger, ledger_id("KAMARUMM", "account", MOSCOW))
                == (merchants["KAMARUMM"][MOSCOW])
            )
            for node in net.nodes.values():
                assert nothing_pending(node.ledger) and node.ledger.verify().ok
        finally:
            await cards.stop()
            await net.stop()

    asyncio.run(check())
