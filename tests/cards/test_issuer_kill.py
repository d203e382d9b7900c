"""The issuer processor killed (SIGKILL) and restarted while authorizations are in flight: every request, sent again
until it is answered, is held exactly once; the ledger holds exactly what was approved and verifies."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from corridor.bench.cards_bench import BANK, endpoint, key_material, prepare_issuer
from corridor.cards.iso8583 import Fields
from corridor.cards.link import Client, LinkClosed, ResponseTimeout
from corridor.ledger import Ledger
from corridor.network.context import ledger_id

REQUESTS = 600
KILLS = 4
AMOUNT = 100  # 1.00 RUB


class Issuer:
    """The issuer as a process of its own, which the test kills and starts again on the same files."""

    def __init__(self, folder: Path) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._folder = folder
        self._ports: Any = self._context.Queue()
        self._stop = self._context.Event()
        self._process: Any = None
        self.port = 0

    def start(self) -> None:
        self._process = self._context.Process(
            target=endpoint, args=("issuer", str(self._folder), 0, self._ports, self._stop)
        )
        self._process.start()
        _, self.port = self._ports.get(timeout=30)

    def kill(self) -> None:
        self._process.kill()
        self._process.join()

    def stop(self) -> None:
        self._stop.set()
        self._process.join(timeout=15)
        if self._process.is_alive():
            self._process.kill()


def request(pan: str, index: int) -> Fields:
    return {
        "t": "0100",
        "2": pan,
        "4": f"{AMOUNT:012d}",
        "7": "1126120000",
        "11": f"{index:06d}",
        "14": "2911",
        "32": "643002",
        "37": f"633612{index:06d}",
        "49": "643",
    }


async def send_until_answered(issuer: Issuer, message: Fields, links: dict[int, Client]) -> str:
    """Send `message` (the same one each time) until the issuer answers it, reconnecting as the issuer comes back."""
    while True:
        try:
            link = links.get(issuer.port)
            if link is None or link.closed:
                link = links[issuer.port] = await Client.connect("127.0.0.1", issuer.port, timeout_s=2)
            return str((await link.request(message, timeout_s=2))["39"])
        except (ResponseTimeout, LinkClosed, OSError, TimeoutError):
            await asyncio.sleep(0.05)


@pytest.mark.timeout(240)
@pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")
def test_every_authorization_is_held_exactly_once_when_the_issuer_is_killed_at_random_moments(tmp_path: Path) -> None:
    (tmp_path / "keys.bin").write_bytes(key_material())
    pans = asyncio.run(prepare_issuer(tmp_path, 20))
    issuer = Issuer(tmp_path)
    issuer.start()
    rng = random.Random(20261126)
    kills: list[int] = []

    async def traffic() -> list[str]:
        links: dict[int, Client] = {}
        slots = asyncio.Semaphore(16)

        answered = 0

        async def one(index: int) -> str:
            nonlocal answered
            async with slots:
                answer = await send_until_answered(issuer, request(pans[index % len(pans)], index + 1), links)
                answered += 1
                return answer

        async def killer() -> None:
            # at random points of the traffic, so that requests are in flight (some held, not yet recorded or
            # answered) at each kill
            for point in sorted(rng.sample(range(20, REQUESTS - 20), KILLS)):
                while answered < point:
                    await asyncio.sleep(0.001)
                await asyncio.to_thread(issuer.kill)
                kills.append(answered)
                await asyncio.to_thread(issuer.start)

        answers, _ = await asyncio.gather(asyncio.gather(*(one(i) for i in range(REQUESTS))), killer())
        for link in links.values():
            await link.close()
        return list(answers)

    try:
        answers = asyncio.run(traffic())
    finally:
        issuer.stop()
    assert len(kills) == KILLS and all(k < REQUESTS for k in kills)  # each kill came while traffic was in flight
    assert answers == ["00"] * REQUESTS
    with Ledger.open(str(tmp_path / "ledger.db"), readonly=True) as ledger:
        (settlement,) = ledger.lookup_accounts([ledger_id(BANK, "cards", "settlement")])
        assert settlement.credits_pending == REQUESTS * AMOUNT  # each held once, none twice
        assert ledger.verify().ok
    with sqlite3.connect(tmp_path / "cards.db") as conn:
        held = conn.execute("SELECT count(*), count(DISTINCT hold_id) FROM authorizations WHERE state = 'held'")
        assert held.fetchone() == (REQUESTS, REQUESTS)
