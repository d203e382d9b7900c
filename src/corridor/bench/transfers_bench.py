"""`corridor bench transfers`: sustained cross-border credit transfers end to end, through both central banks.

Every payment is a real one: the payer's bank asks the FX provider for a quote, reserves on the payer's account and
sends a signed pacs.008 to its central bank, which reserves on the bank's settlement account and the other central
bank's loro, forwards it, the payee's bank accepts (pacs.002 ACSP), the payer's central bank commits every hop and
the payer's bank records the payment completed. A payment's latency runs from the moment it was due (with --rate,
its place in an open-loop schedule; otherwise when its turn came) to that moment at the payer's bank.

Transports: `memory` runs the whole network in this process (the embedded default); `nats` runs every participant
as its own process (`corridor node`) over the real NATS JetStream server, driven through their control interface,
on a stream made for the run and deleted after it.

The same-run ceilings say what one core can do of the per-message work every hop repeats: XSD validation of a
pacs.008 (`validate_per_s`), Ed25519 verification of an envelope's signature (`verify_per_s`) and the whole receive
check of an envelope (`open_per_s`). Eight signed messages cross the network per payment settled within the
scenario's `actc_after_ms` (three pacs.008, two ACSP and three ACSC), nine for a slower one (its ACTC);
`messages_per_payment` is the run's average.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from corridor.bench.common import BenchError, NoProgress, Progress, machine, percentile
from corridor.compliance.screening import Party, Screener
from corridor.iso20022.schemas import validate
from corridor.iso20022.xml import parse_xml
from corridor.ledger import Ledger
from corridor.money import Money
from corridor.network.directory import Directory
from corridor.network.envelope import open_envelope
from corridor.network.identity import SigningKey, verify_signature
from corridor.network.transport.memory import MemoryTransport
from corridor.network.transport.nats import delete_stream
from corridor.node.launcher import DistributedNetwork, init_network, open_distributed
from corridor.node.network import EmbeddedNetwork
from corridor.scenario.model import Scenario, load_scenario

CEILING_SECONDS = 1.0
WINDOW_S = 5.0
SCHEDULE_TICK_S = 0.01
"""The open-loop client's clock: it wakes every 10 ms and starts every payment that came due meanwhile."""
PAYMENT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class TransfersBenchConfig:
    transport: str = "memory"
    payments: int = 2000
    rate: float = 0.0
    """Offered payments/s on an open-loop schedule; 0 means as fast as `concurrency` payments in flight allow."""
    concurrency: int = 400
    nats_url: str = "nats://127.0.0.1:4222"
    data_dir: Path | None = None

    def check(self) -> None:
        if self.transport not in ("memory", "nats"):
            raise BenchError(f"transport must be memory or nats, not {self.transport!r}")
        if self.payments < 1 or self.concurrency < 1 or self.rate < 0:
            raise BenchError("payments and concurrency must be positive and rate not negative")


@dataclass(frozen=True)
class Route:
    debtor: str
    creditor: str
    amount: str
    payer_bank: str


def _listed(scenario: Scenario) -> set[str]:
    """The account holders' names the scenario's watch-lists hit."""
    if scenario.compliance is None:
        return set()
    screener = Screener(scenario.compliance.watchlists, scenario.compliance.screening)
    return {a.name for a in scenario.accounts if screener.screen(Party("customer", a.name))}


def routes(scenario: Scenario) -> list[Route]:
    """Small payments both ways between every open trade account (importer or exporter) of one country and every
    one of the other.

    Alternating the directions keeps the central banks' net position near zero, so a long run stays inside the swap
    line; many accounts spread the ledger's hot spots as real traffic would. An account with nothing to pay from, or
    whose holder is on the scenario's watch-list (its payments would wait for a reviewer), takes no part.
    """
    first, second = scenario.countries[0], scenario.countries[1]
    listed = _listed(scenario)
    open_accounts = [
        a
        for a in scenario.accounts
        if a.status == "active" and a.kind in ("importer", "exporter") and a.opening.minor > 0 and a.name not in listed
    ]
    ones = [a for a in open_accounts if scenario.participant(a.bank).country == first.code]
    others = [a for a in open_accounts if scenario.participant(a.bank).country == second.code]
    forward = [Route(a.number, b.number, f"1.00 {second.currency}", a.bank) for a in ones for b in others]
    backward = [Route(b.number, a.number, f"1.00 {first.currency}", b.bank) for a in ones for b in others]
    mixed: list[Route] = []
    for pair in zip(forward, backward, strict=False):
        mixed.extend(pair)
    return mixed


class Driver(Protocol):
    async def pay(self, route: Route, key: str) -> str: ...
    async def settle(self, route: Route, uetr: str) -> str: ...


class EmbeddedDriver:
    def __init__(self, network: EmbeddedNetwork) -> None:
        self.network = network

    async def pay(self, route: Route, key: str) -> str:
        return await self.network.pay(
            debtor_account=route.debtor,
            creditor_account=route.creditor,
            amount=Money.parse(route.amount),
            idempotency_key=key,
        )

    async def settle(self, route: Route, uetr: str) -> str:
        return await self.network.settle(uetr, route.payer_bank, timeout_s=PAYMENT_TIMEOUT_S)


class DistributedDriver:
    """Each payment is one control request to its payer's bank that answers once the payment is final."""

    def __init__(self, network: DistributedNetwork) -> None:
        self.network = network
        self.final: dict[str, str] = {}

    async def pay(self, route: Route, key: str) -> str:
        uetr, state = await self.network.pay_and_wait(
            route.debtor, route.creditor, route.amount, key, timeout_s=PAYMENT_TIMEOUT_S
        )
        self.final[uetr] = state
        return uetr

    async def settle(self, route: Route, uetr: str) -> str:
        return self.final.pop(uetr)


async def drive(
    cfg: TransfersBenchConfig, driver: Driver, routes: list[Route], run: str, progress: Progress
) -> dict[str, Any]:
    """Send cfg.payments payments and wait for each; return throughput, latencies and outcomes."""
    latencies: list[float] = []
    finished: list[float] = []
    outcomes: dict[str, int] = {}
    slots = asyncio.Semaphore(cfg.concurrency)
    started = time.perf_counter()

    async def one(i: int, due: float | None) -> None:
        route = routes[i % len(routes)]
        async with slots:
            begin = due if due is not None else time.perf_counter()
            uetr = await driver.pay(route, f"{run}-{i}")
            state = await driver.settle(route, uetr)
            done = time.perf_counter()
            latencies.append(done - begin)
            finished.append(done - started)
            outcomes[state] = outcomes.get(state, 0) + 1
            progress.advance()

    progress.phase(f"{cfg.payments:,} payments ({cfg.transport})", cfg.payments)
    if not cfg.rate:
        await asyncio.gather(*(one(i, None) for i in range(cfg.payments)))
    else:
        # Open loop, released every SCHEDULE_TICK_S: what came due since the last tick starts now, and its latency
        # still counts from when it was due, so the tick is charged to the network rather than hidden.
        running: list[asyncio.Task[None]] = []
        sent = 0
        while sent < cfg.payments:
            now = time.perf_counter()
            while sent < cfg.payments and started + sent / cfg.rate <= now:
                running.append(asyncio.create_task(one(sent, started + sent / cfg.rate)))
                sent += 1
            await asyncio.sleep(SCHEDULE_TICK_S)
        await asyncio.gather(*running)
    elapsed = time.perf_counter() - started
    return {
        "payments_per_s": round(cfg.payments / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "elapsed_s": round(elapsed, 2),
        "per_window": _per_window(finished, elapsed),
        "outcomes": outcomes,
    }


def _per_window(finished: list[float], elapsed: float) -> list[float]:
    """Payments completed per second in each whole WINDOW_S of the run (none if it was shorter): a sustained rate
    is flat, one that degrades as the files and queues grow falls."""
    windows = [0] * int(elapsed // WINDOW_S)
    for at in finished:
        if (index := int(at // WINDOW_S)) < len(windows):
            windows[index] += 1
    return [round(count / WINDOW_S, 1) for count in windows]


def _rate(action: Callable[[], object], seconds: float = CEILING_SECONDS) -> float:
    """Calls per second of `action` on one core, over about `seconds`."""
    count = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            action()
        count += 50
    return round(count / elapsed, 1)


def ceilings(sample: bytes, directory: Directory, recipient: str) -> dict[str, float]:
    """Per-message ceilings on one core, measured on a real pacs.008 envelope from this run."""
    root = parse_xml(sample)
    document = next(child for child in root if isinstance(child.tag, str) and child.tag.endswith("Document"))
    key = SigningKey.generate()
    signature = key.sign(sample)
    transactions = sum(1 for child in document.iter() if str(child.tag).endswith("}CdtTrfTxInf"))
    return {
        "sample_transactions": transactions,
        "validate_per_s": _rate(lambda: validate(document)),
        "verify_per_s": _rate(lambda: verify_signature(key.public_key, signature, sample)),
        "open_per_s": _rate(lambda: open_envelope(sample, directory, recipient)),
    }


def first_pacs008(data_dir: Path) -> tuple[bytes, str]:
    """A pacs.008 envelope some node sent in this run, with its recipient: one of a single payment (its outbox row
    names the UETR) where there is one, so that the ceilings are per message of one payment in every run."""
    candidates: list[tuple[bytes, str, int]] = []
    for store_path in sorted((data_dir / "nodes").glob("*/node.db")):
        with contextlib.closing(sqlite3.connect(store_path)) as conn:
            row = conn.execute(
                "SELECT data, recipient, uetr IS NOT NULL FROM outbox WHERE message_type = 'pacs.008.001.08'"
                " ORDER BY uetr IS NULL, seq LIMIT 1"
            ).fetchone()
        if row is not None:
            candidates.append((bytes(row[0]), str(row[1]), int(row[2])))
    if not candidates:
        raise BenchError(f"no node under {data_dir} sent a pacs.008")
    data, recipient, _ = max(candidates, key=lambda candidate: candidate[2])  # the first of one payment
    return data, recipient


def verify_ledgers(data_dir: Path) -> list[str]:
    """Every node's ledger balanced and its journal intact; the names of those that are not."""
    problems = []
    for path in sorted((data_dir / "nodes").glob("*/ledger.db")):
        with contextlib.closing(Ledger.open(str(path))) as ledger:
            if not ledger.check().ok or not ledger.verify().ok:
                problems.append(path.parent.name)
    return problems


def _bulk_figures(counts: list[tuple[int, int]]) -> dict[str, Any]:
    """How much the nodes' batches merged: bulk pacs.008/pacs.002 documents sent, the transactions they carried."""
    documents = sum(d for d, _ in counts)
    transactions = sum(t for _, t in counts)
    per_document = round(transactions / documents, 1) if documents else 0.0
    return {"documents": documents, "transactions": transactions, "transactions_per_document": per_document}


async def _run_memory(cfg: TransfersBenchConfig, data_dir: Path, run: str, progress: Progress) -> dict[str, Any]:
    scenario = load_scenario()
    network = EmbeddedNetwork(scenario, data_dir, MemoryTransport())
    progress.phase("starting the embedded network")
    await network.start()
    try:
        await network.quiesce()
        result = await drive(cfg, EmbeddedDriver(network), routes(scenario), run, progress)
        counts = [(n.batcher.documents, n.batcher.transactions) for n in network.nodes.values()]
        return result | {"bulk": _bulk_figures(counts)}
    finally:
        with contextlib.suppress(TimeoutError):
            await network.quiesce(timeout_s=10)
        await network.stop()


async def _run_nats(cfg: TransfersBenchConfig, data_dir: Path, run: str, progress: Progress) -> dict[str, Any]:
    tag = run.replace("-", "")[:12]
    stream = f"CORRIDOR_BENCH_{tag}"
    init_network(
        data_dir,
        nats_url=cfg.nats_url,
        stream=stream,
        subject_prefix=f"corridor.bench.{tag}.inbox",
        rpc_prefix=f"corridor.bench.{tag}.rpc",
    )
    network = open_distributed(data_dir)
    progress.phase(f"starting {len(network.nodes)} node processes on NATS")
    try:
        await network.start()
        await asyncio.sleep(1.0)  # opening liquidity (pacs.009) reaches every bank
        result = await drive(cfg, DistributedDriver(network), routes(network.scenario), run, progress)
        pings = [await network.rpc.call(bic, "ping", timeout_s=5.0) for bic in network.nodes]
        counts = [(int(ping["documents_sent"]), int(ping["transactions_sent"])) for ping in pings]
        return result | {"bulk": _bulk_figures(counts)}
    finally:
        await network.stop()
        with contextlib.suppress(Exception):
            await delete_stream(cfg.nats_url, stream)


def run(cfg: TransfersBenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Run the payments, then the ceilings on one of this run's own messages, then verify every ledger."""
    cfg.check()
    progress = progress or NoProgress()
    run_id = str(uuid.uuid4())
    with contextlib.ExitStack() as stack:
        data_dir = cfg.data_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="corridor-bench-")))
        runner = _run_memory if cfg.transport == "memory" else _run_nats
        result: dict[str, Any] = asyncio.run(runner(cfg, data_dir, run_id, progress))
        progress.phase("same-run ceilings and ledger verification")
        sample, recipient = first_pacs008(data_dir)
        directory = Directory.from_json(json.loads((data_dir / "directory.json").read_text()))
        figures = ceilings(sample, directory, recipient)
        problems = verify_ledgers(data_dir)
    completed = result["outcomes"].get("completed", 0)
    return {
        "benchmark": "transfers",
        "transport": cfg.transport,
        "payments": cfg.payments,
        "completed": completed,
        "payments_per_s": result["payments_per_s"],
        "p50_ms": result["p50_ms"],
        "p99_ms": result["p99_ms"],
        "rate": cfg.rate or None,
        "concurrency": cfg.concurrency,
        "elapsed_s": result["elapsed_s"],
        "per_window": result["per_window"],
        "outcomes": result["outcomes"],
        "messages_per_payment": round(result["bulk"]["transactions"] / cfg.payments, 2),
        "bulk": result["bulk"],
        **figures,
        "ledgers_verified": not problems,
        "ledger_problems": problems,
        "machine": machine(),
    }
