"""`corridor bench cards`: card authorizations end to end, terminal -> acquirer -> switch -> issuer, each its own
process, over TCP on loopback, every hold written durably in the issuer's ledger before its answer.

The benchmark process plays the merchants' terminals: one persistent connection to the acquirer with `concurrency`
requests in flight, each a domestic authorization on one of `cards` cards (so that no card's daily limit is reached).
Same-run ceiling: the ISO 8583 codec's own encode+decode rate for the same request (`codec_per_s`). After the run
the issuer's ledger is checked and verified, and must hold exactly what was approved.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from corridor.bench.common import BenchError, NoProgress, Progress, machine, percentile
from corridor.cards.acquirer import Acquirer
from corridor.cards.authlog import AuthorizationLog
from corridor.cards.cardstore import CardStore
from corridor.cards.iso8583 import Fields, decode, encode
from corridor.cards.issuer import Issuer
from corridor.cards.link import Client, serve
from corridor.cards.pan import PanVault
from corridor.cards.security import IssuerKeys
from corridor.cards.switch import Switch
from corridor.ledger import Account, AccountFlags, Ledger, Transfer
from corridor.network.context import ledger_id
from corridor.scenario.cards import CardSpec
from corridor.scenario.model import Scenario, load_scenario

BANK, ACQUIRER_BANK = "VOLGRUMM", "KAMARUMM"
AMOUNT = "000000000100"  # 1.00 RUB
START_TIMEOUT_S = 30.0
CODEC_SECONDS = 1.0


@dataclass
class CardsBenchConfig:
    auths: int = 20_000
    concurrency: int = 48
    cards: int = 200

    def check(self) -> None:
        if self.auths < 1 or self.concurrency < 1 or self.cards < 1:
            raise BenchError("auths, concurrency and cards must be positive")


def _keys(folder: Path) -> tuple[IssuerKeys, PanVault]:
    raw = (folder / "keys.bin").read_bytes()
    keys = IssuerKeys(cvk=raw[0:16], pvk=raw[16:32], pvki="1", zpk=raw[32:48])
    return keys, PanVault(raw[48:80], {"k1": raw[80:112]}, "k1")


def _account(index: int) -> str:
    return f"RU04407018199{index:08d}"


def _cards(scenario: Scenario, count: int) -> list[CardSpec]:
    assert scenario.cards is not None
    product = next(p for p in scenario.cards.products if p.issuer == BANK)
    return [CardSpec(_account(i), product.name, "2911") for i in range(count)]


async def prepare_issuer(folder: Path, count: int) -> list[str]:
    """The issuer's ledger with `count` funded cardholder accounts and a card on each; the PANs (the terminals')."""
    scenario = load_scenario()
    assert scenario.cards is not None
    keys, vault = _keys(folder)
    ledger = Ledger.open(str(folder / "ledger.db"))
    store = CardStore(folder / "cards.db")
    try:
        issuer = _issuer(scenario, keys, vault, ledger, store)
        await issuer.setup()
        equity = ledger_id(BANK, "equity")
        accounts = [Account(id=equity, ledger=643, code=90)]
        accounts += [
            Account(
                id=ledger_id(BANK, "account", _account(i)),
                ledger=643,
                code=1,
                flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            )
            for i in range(count)
        ]
        await ledger.acreate_accounts(accounts)
        funding = [
            Transfer(
                id=ledger_id(BANK, "fund", str(i)),
                debit_account_id=equity,
                credit_account_id=ledger_id(BANK, "account", _account(i)),
                amount=10**9,
                ledger=643,
                code=1,
            )
            for i in range(count)
        ]
        await ledger.acreate_transfers(funding)
        return [(await issuer.issue(card, i + 1, "4321")).pan for i, card in enumerate(_cards(scenario, count))]
    finally:
        store.close()
        ledger.close()


def _issuer(scenario: Scenario, keys: IssuerKeys, vault: PanVault, ledger: Ledger, store: CardStore) -> Issuer:
    assert scenario.cards is not None
    return Issuer(
        bic=BANK,
        currency_code="RUB",
        scheme=scenario.cards,
        vault=vault,
        keys=keys,
        ledger=ledger,
        store=store,
        account_id=lambda number: ledger_id(BANK, "account", number),
    )


def endpoint(role: str, folder: str, upstream: int, ports: Any, stop: EventType) -> None:
    """One process of the path: serve `role` on a free loopback port, tell it through `ports`, run until `stop`."""
    asyncio.run(_serve(role, Path(folder), upstream, ports, stop))


async def _serve(role: str, folder: Path, upstream: int, ports: Any, stop: EventType) -> None:
    scenario = load_scenario()
    assert scenario.cards is not None
    closers: list[Any] = []
    if role == "issuer":
        keys, vault = _keys(folder)
        ledger = Ledger.open(str(folder / "ledger.db"))
        store = CardStore(folder / "cards.db")
        closers += [store.close, ledger.close]
        handler = _issuer(scenario, keys, vault, ledger, store).handle
    elif role == "switch":
        switch_log = AuthorizationLog(folder / "switch-authorizations.db")
        closers.append(switch_log.close)
        switch = Switch(
            scenario.cards,
            scenario.fx.rates,
            {BANK: "RUB"},
            {BANK: ("127.0.0.1", upstream)},
            forwarding_id="2200",
            authorization_log=switch_log,
        )
        handler = switch.handle
        delivery = asyncio.get_running_loop().create_task(switch.keep_delivering())
        closers.append(delivery.cancel)
    else:
        merchant = next(m for m in scenario.cards.merchants if scenario.account(m.account).bank == ACQUIRER_BANK)
        acquirer_log = AuthorizationLog(folder / "acquired.db")
        closers.append(acquirer_log.close)
        acquirer = Acquirer(
            institution_id="643002",
            currency_code="RUB",
            merchants=[merchant],
            switch=("127.0.0.1", upstream),
            authorization_log=acquirer_log,
        )
        handler = acquirer.handle
    server = await serve(handler, "127.0.0.1", 0)
    ports.put((role, server.sockets[0].getsockname()[1]))
    cpu_at_start = time.process_time()
    while not stop.is_set():
        await asyncio.sleep(0.05)
    server.close()
    await server.wait_closed()
    for close in closers:
        close()
    ports.put((f"cpu:{role}", time.process_time() - cpu_at_start))  # every thread's CPU while it served


async def _drive(cfg: CardsBenchConfig, port: int, pans: list[str], progress: Progress) -> dict[str, Any]:
    terminal = await Client.connect("127.0.0.1", port)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    slots = asyncio.Semaphore(cfg.concurrency)
    progress.phase(f"{cfg.auths:,} authorizations", cfg.auths)

    async def one(i: int) -> None:
        async with slots:
            request: Fields = {
                "t": "0100",
                "2": pans[i % len(pans)],
                "4": AMOUNT,
                "11": f"{i % 999_999 + 1:06d}",
                "14": "2911",
                "41": "KAMA0001",
            }
            began = time.perf_counter()
            answer = await terminal.request(request, timeout_s=30)
            latencies.append(time.perf_counter() - began)
            code = str(answer["39"])
            outcomes[code] = outcomes.get(code, 0) + 1
            progress.advance()

    started = time.perf_counter()
    try:
        await asyncio.gather(*(one(i) for i in range(cfg.auths)))
    finally:
        await terminal.close()
    elapsed = time.perf_counter() - started
    return {
        "auth_per_s": round(cfg.auths / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "elapsed_s": round(elapsed, 2),
        "outcomes": outcomes,
    }


def codec_rate(pan: str) -> float:
    """Encode+decode of one authorization request per second, on one core."""
    request: Fields = {
        "t": "0100",
        "2": pan,
        "3": "000000",
        "4": AMOUNT,
        "7": "1126120000",
        "11": "000001",
        "14": "2911",
        "18": "5533",
        "32": "643002",
        "37": "633612000001",
        "41": "KAMA0001",
        "42": "MOSCOWAUTOPARTS",
        "49": "643",
    }
    count, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < CODEC_SECONDS:
        for _ in range(100):
            decode(encode(request))
        count += 100
    return round(count / elapsed, 1)


def run(cfg: CardsBenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    cfg.check()
    progress = progress or NoProgress()
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="corridor-cards-bench-") as tmp:
        folder = Path(tmp)
        (folder / "keys.bin").write_bytes(key_material())
        os.chmod(folder / "keys.bin", 0o600)
        progress.phase(f"issuing {cfg.cards} cards")
        pans = asyncio.run(prepare_issuer(folder, cfg.cards))
        ports = context.Queue()
        stop = context.Event()
        processes = []
        try:
            upstream = 0
            for role in ("issuer", "switch", "acquirer"):
                progress.phase(f"starting the {role}")
                process = context.Process(target=endpoint, args=(role, str(folder), upstream, ports, stop))
                process.start()
                processes.append(process)
                started_role, upstream = ports.get(timeout=START_TIMEOUT_S)
                assert started_role == role
            terminal_cpu = time.process_time()
            result = asyncio.run(_drive(cfg, upstream, pans, progress))
            terminal_cpu = time.process_time() - terminal_cpu
        finally:
            stop.set()
            cpu: dict[str, float] = {}
            for _ in processes:
                with contextlib.suppress(queue.Empty):
                    name, seconds = ports.get(timeout=15)
                    cpu[name.removeprefix("cpu:")] = seconds
            for process in processes:
                process.join(timeout=15)
                if process.is_alive():
                    process.kill()
        progress.phase("ceiling and ledger verification")
        held = _held(folder)
        logged = _logged(folder / "switch-authorizations.db"), _logged(folder / "acquired.db")
        approved = result["outcomes"].get("00", 0)
        codec = codec_rate(pans[0])
    return {
        "benchmark": "cards",
        "auths": cfg.auths,
        "approved": approved,
        "auth_per_s": result["auth_per_s"],
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "concurrency": cfg.concurrency,
        "cards": cfg.cards,
        "elapsed_s": result["elapsed_s"],
        "outcomes": result["outcomes"],
        "codec_per_s": codec,
        "cpu_us_per_auth": {
            role: round(seconds / cfg.auths * 1e6)
            for role, seconds in sorted((*cpu.items(), ("terminal", terminal_cpu)))
        },
        "holds_match": held == approved * int(AMOUNT),
        "logs_match": logged == (approved, approved),
        "machine": machine(),
    }


def _logged(path: Path) -> int:
    """How many approvals an authorization log kept (what clearing will match and the acquirer present)."""
    log = AuthorizationLog(path)
    try:
        return len(log.to_present("bench"))
    finally:
        log.close()


def _held(folder: Path) -> int:
    """The issuer's ledger, checked and verified: what its cardholders have on hold in all."""
    with Ledger.open(str(folder / "ledger.db"), readonly=True) as ledger:
        if not ledger.verify().ok:
            raise BenchError("the issuer's ledger did not verify")
        (settlement,) = ledger.lookup_accounts([ledger_id(BANK, "cards", "settlement")])
        return int(settlement.credits_pending)


def key_material() -> bytes:
    """Three distinct double-length TDES keys, then the vault's lookup and data keys (random per run)."""
    material = b""
    for _ in range(3):
        while True:
            key = os.urandom(16)
            if key[:8] != key[8:]:
                break
        material += key
    return material + os.urandom(64)
