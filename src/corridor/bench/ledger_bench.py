"""`corridor bench ledger`: the engine's sustained transfer rate beside a baseline measured in the same run.

The engine run is what a rail sees: several client threads submit batches of pre-built transfers through
`Ledger.submit_transfers`, keeping two batches in flight each, and every result must be ok. The baseline is what the
engine competes with on the same storage: for SQLite, plain `executemany` of the same rows plus the two balance
updates per transfer, in the same batch size, with the same durability settings and no checks at all; for
PostgreSQL, pgbench's TPC-B-like workload on the same server. A ratio survives a noisy machine; a time alone does not.

Nothing here prints: progress goes through a `Progress` the caller supplies, and the result is one dict.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.bench.common import BenchError, NoProgress, Progress
from corridor.ledger import BATCH_MAX, Account, CreateAccountResult, CreateTransferResult, Ledger, Transfer
from corridor.ledger.codec import id_bytes
from corridor.ledger.storage.sql import TRANSFER_COLUMNS

RUB = 643
DEFAULT_POSTGRES = "postgresql://127.0.0.1:5432/test"
PGBENCH = "/usr/bin/pgbench"
# Transfer ids start above 2**64 and increase, like time-ordered ids: the engine's fast path for new ids applies.
FIRST_TRANSFER_ID = 1 << 64


@dataclass(frozen=True, slots=True)
class LedgerBenchConfig:
    backend: str = "sqlite"
    transfers: int = 1_000_000
    accounts: int = 10_000
    hot_accounts: int = 0
    batch: int = BATCH_MAX
    clients: int = 4
    db: str | None = None
    baseline_seconds: int = 15
    verify: bool = True
    seed: int = 42

    def check(self) -> None:
        """Refuse a configuration that cannot produce a meaningful run, before anything is built."""
        if self.backend not in ("sqlite", "postgres"):
            raise BenchError(f"unknown backend {self.backend!r}: use sqlite or postgres")
        if self.accounts < 2:
            raise BenchError("--accounts must be at least 2: a transfer needs two distinct accounts")
        if not 0 <= self.hot_accounts <= self.accounts:
            raise BenchError(f"--hot-accounts must be between 0 and --accounts ({self.accounts})")
        if not 1 <= self.batch <= BATCH_MAX:
            raise BenchError(f"--batch must be between 1 and {BATCH_MAX}")
        if self.transfers < 1 or self.clients < 1:
            raise BenchError("--transfers and --clients must be at least 1")


def build_transfers(cfg: LedgerBenchConfig, progress: Progress) -> list[Transfer]:
    """Transfers between random distinct accounts, amounts 1..1000 minor units, ids increasing.

    With K hot accounts, every other transfer has its debit (or, one time in two, its credit) drawn from the first K
    accounts, so half of all transfers touch a hot account.
    """
    rng = random.Random(cfg.seed)
    n, hot = cfg.accounts, cfg.hot_accounts
    progress.phase(f"building {cfg.transfers:,} transfers", cfg.transfers)
    out: list[Transfer] = []
    step = 50_000
    for start in range(0, cfg.transfers, step):
        for i in range(start, min(start + step, cfg.transfers)):
            if hot and i % 2 == 0:
                debit, credit = rng.randint(1, hot), rng.randint(1, n)
                if credit == debit:
                    credit = debit % n + 1
                if i % 4 == 0:
                    debit, credit = credit, debit  # hot accounts both pay and get paid
            else:
                debit, credit = rng.randint(1, n), rng.randint(1, n - 1)
                if credit >= debit:
                    credit += 1  # uniform over the other n - 1 accounts
            out.append(
                Transfer(
                    id=FIRST_TRANSFER_ID + i,
                    debit_account_id=debit,
                    credit_account_id=credit,
                    amount=rng.randint(1, 1000),
                    ledger=RUB,
                    code=1,
                )
            )
        progress.advance(min(step, cfg.transfers - start))
    return out


def _percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p of all values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p * len(ordered))) - 1]


@contextmanager
def _quiet_collector() -> Iterator[None]:
    """Keep the garbage collector from rescanning the pre-built workload while a timed run allocates."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def create_accounts(ledger: Ledger, cfg: LedgerBenchConfig, progress: Progress) -> None:
    progress.phase(f"creating {cfg.accounts:,} accounts", cfg.accounts)
    accounts = [Account(id=i, ledger=RUB, code=1) for i in range(1, cfg.accounts + 1)]
    for k in range(0, len(accounts), BATCH_MAX):
        chunk = accounts[k : k + BATCH_MAX]
        bad = {r.name for r in ledger.create_accounts(chunk) if r is not CreateAccountResult.ok}
        if bad:
            raise BenchError(f"creating the accounts failed ({', '.join(sorted(bad))}): is the ledger fresh?")
        progress.advance(len(chunk))


def run_engine(
    ledger: Ledger, cfg: LedgerBenchConfig, transfers: list[Transfer], progress: Progress
) -> dict[str, float]:
    """Time `clients` threads submitting their share of the batches, two in flight each; every result must be ok."""
    batches = [transfers[k : k + cfg.batch] for k in range(0, len(transfers), cfg.batch)]
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def recorder(started: float) -> Callable[[Future[list[CreateTransferResult]]], None]:
        """A done-callback: it runs when the writer hands the results over, so the latency is submit -> results."""

        def record(_: Future[list[CreateTransferResult]]) -> None:
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)

        return record

    def client(mine: list[list[Transfer]]) -> None:
        inflight: list[tuple[list[Transfer], Future[list[CreateTransferResult]]]] = []

        def settle() -> None:
            batch, future = inflight.pop(0)
            results = future.result()
            if any(r is not CreateTransferResult.ok for r in results):
                index = next(i for i, r in enumerate(results) if r is not CreateTransferResult.ok)
                raise BenchError(f"transfer {batch[index].id} was refused: {results[index].name}")
            progress.advance(len(batch))

        try:
            for batch in mine:
                started = time.perf_counter()
                future = ledger.submit_transfers(batch)
                future.add_done_callback(recorder(started))
                inflight.append((batch, future))
                if len(inflight) >= 2:
                    settle()
            while inflight:
                settle()
        except Exception as exc:  # reported by the main thread: a benchmark that lost a batch is no benchmark
            with lock:
                failures.append(str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}")

    progress.phase(f"engine: {cfg.clients} clients, batches of {cfg.batch:,}", len(transfers))
    threads = [
        threading.Thread(target=client, args=(batches[c :: cfg.clients],), name=f"bench-client-{c}")
        for c in range(cfg.clients)
    ]
    with _quiet_collector():
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    if failures:
        raise BenchError(f"the engine run failed: {failures[0]}")
    return {
        "transfers_per_s": round(len(transfers) / elapsed),
        "elapsed_s": round(elapsed, 3),
        "p50_batch_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_batch_ms": round(_percentile(latencies, 0.99) * 1000, 2),
    }


def baseline_rows(cfg: LedgerBenchConfig, transfers: list[Transfer]) -> list[tuple[Any, ...]]:
    """The 15-column rows the engine stores for these transfers (CommitGroup.new_transfers), history links included.

    Timestamps follow the accounts' (1..N), as in a ledger whose accounts were created first.
    """
    last: dict[int, int] = {}
    rows = []
    ts = cfg.accounts
    for t in transfers:
        ts += 1
        d, c = t.debit_account_id, t.credit_account_id
        rows.append(
            (
                ts,
                id_bytes(t.id),
                id_bytes(d),
                id_bytes(c),
                t.amount,
                None,  # pending_id 0 and user_data_128 0 are stored as NULL, as the engine does
                None,
                0,
                0,
                0,
                t.ledger,
                t.code,
                0,
                last.get(d, 0),
                last.get(c, 0),
            )
        )
        last[d] = last[c] = ts
    return rows


def sqlite_baseline(path: Path, cfg: LedgerBenchConfig, transfers: list[Transfer], progress: Progress) -> float:
    """Plain executemany of the same rows plus two balance updates per transfer: no checks, same durability."""
    from corridor.ledger.storage.sqlite import SqliteStorage

    SqliteStorage(path).close()  # the same schema, created by the same migration
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA cache_size=-262144"):
            conn.execute(pragma)
        zero = id_bytes(0)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO accounts VALUES (?, ?, 1, 0, 0, ?, 0, 0, 0, 0, 0, 0, ?, 0)",
            [(id_bytes(i), RUB, zero, i) for i in range(1, cfg.accounts + 1)],
        )
        conn.execute("COMMIT")
        rows = baseline_rows(cfg, transfers)
        insert = f"INSERT INTO transfers ({TRANSFER_COLUMNS}) VALUES ({', '.join('?' * 15)})"
        progress.phase(f"baseline: SQLite executemany, batches of {cfg.batch:,}", len(rows))
        with _quiet_collector():
            started = time.perf_counter()
            for k in range(0, len(rows), cfg.batch):
                chunk = rows[k : k + cfg.batch]
                conn.execute("BEGIN")
                conn.executemany(insert, chunk)
                conn.executemany(
                    "UPDATE accounts SET debits_posted = debits_posted + ? WHERE id = ?", [(r[4], r[2]) for r in chunk]
                )
                conn.executemany(
                    "UPDATE accounts SET credits_posted = credits_posted + ? WHERE id = ?",
                    [(r[4], r[3]) for r in chunk],
                )
                conn.execute("COMMIT")
                progress.advance(len(chunk))
            elapsed = time.perf_counter() - started
    finally:
        conn.close()
    return len(transfers) / elapsed


def _pg_connect(url: str) -> Any:
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise BenchError(f"PostgreSQL is not reachable: {exc}") from None


def pgbench_baseline(url: str, seconds: int, progress: Progress) -> float:
    """TPC-B-like tps of pgbench on the same server: `pgbench -i -s 4`, then `-c 4 -j 2 -T seconds`."""
    import psycopg.conninfo

    pgbench = PGBENCH if os.path.exists(PGBENCH) else shutil.which("pgbench")
    if pgbench is None:
        raise BenchError(f"pgbench not found (looked for {PGBENCH} and on PATH): install postgresql-client")
    info = psycopg.conninfo.conninfo_to_dict(url)
    database = f"corridor_pgbench_{uuid.uuid4().hex[:8]}"
    args = ["-h", str(info.get("host") or "127.0.0.1"), "-p", str(info.get("port") or 5432)]
    if info.get("user"):
        args += ["-U", str(info["user"])]
    env = dict(os.environ)
    if info.get("password"):
        env["PGPASSWORD"] = str(info["password"])  # handed to pgbench only, never on its command line
    with _pg_connect(url) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        progress.phase("baseline: pgbench -i -s 4", None)
        init = subprocess.run(
            [pgbench, "-i", "-q", "-s", "4", *args, database], capture_output=True, text=True, env=env
        )
        if init.returncode != 0:
            raise BenchError(f"pgbench -i failed: {init.stderr.strip()[-500:]}")
        progress.phase(f"baseline: pgbench -c 4 -j 2 -T {seconds}", seconds)
        command = [pgbench, "-c", "4", "-j", "2", "-T", str(seconds), *args, database]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
            started, shown = time.monotonic(), 0.0
            while proc.poll() is None:
                time.sleep(0.25)
                now = min(float(seconds), time.monotonic() - started)
                progress.advance(now - shown)
                shown = now
            out, err = proc.communicate()
        if proc.returncode != 0:
            raise BenchError(f"pgbench failed: {err.strip()[-500:]}")
    finally:
        with _pg_connect(url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if match is None:
        raise BenchError(f"could not read pgbench's tps from its output: {out.strip()[-500:]}")
    return float(match.group(1))


def _machine(postgres_url: str | None) -> dict[str, Any]:
    machine: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
    }
    if postgres_url is not None:
        with _pg_connect(postgres_url) as conn:
            machine["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
    return machine


def _sqlite_places(cfg: LedgerBenchConfig) -> tuple[Path, Path, Path | None]:
    """(workdir to remove afterwards, engine ledger path, path kept for the user or None).

    --db for SQLite is either a directory (the temporary files go under it, e.g. to measure another disk) or the
    path of a new ledger file, which is kept afterwards so it can be inspected (`corridor ledger verify --db ...`).
    """
    if cfg.db is None:
        workdir = Path(tempfile.mkdtemp(prefix="corridor-bench-"))
        return workdir, workdir / "engine.db", None
    text = cfg.db.removeprefix("sqlite://")  # read as corridor.ledger's open_storage reads it
    target = Path(text[1:] if text.startswith("//") else text)
    if target.is_dir():
        workdir = Path(tempfile.mkdtemp(prefix="corridor-bench-", dir=target))
        return workdir, workdir / "engine.db", None
    if target.exists():
        raise BenchError(
            f"{target} already exists: the benchmark needs a fresh ledger (give a new file or a directory)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="corridor-bench-", dir=target.parent))
    return workdir, target, target


def run(cfg: LedgerBenchConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Build the workload, measure the baseline and the engine on the same storage, verify; return the figures."""
    cfg.check()
    progress = progress or NoProgress()
    postgres = cfg.backend == "postgres"
    url = cfg.db or DEFAULT_POSTGRES
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    workdir: Path | None = None
    engine_path: Path | None = None
    kept: Path | None = None
    # Fail now on a server that is down or a --db that is taken, not after building a million transfers.
    if postgres:
        _pg_connect(url).close()
    else:
        workdir, engine_path, kept = _sqlite_places(cfg)
    verify_ok: bool | None = None
    problems: list[str] = []
    try:
        transfers = build_transfers(cfg, progress)
        if postgres:
            baseline = pgbench_baseline(url, cfg.baseline_seconds, progress)
            baseline_text = (
                f"pgbench TPC-B-like tps on the same PostgreSQL server (pgbench -i -s 4; "
                f"pgbench -c 4 -j 2 -T {cfg.baseline_seconds}; tps without initial connection time)"
            )
            engine_url, engine_schema = url, schema
        else:
            assert workdir is not None and engine_path is not None
            baseline = sqlite_baseline(workdir / "baseline.db", cfg, transfers, progress)
            baseline_text = (
                f"SQLite executemany of the same {cfg.transfers:,} transfer rows + 2 balance updates per transfer, "
                f"batches of {cfg.batch:,}, one transaction per batch, WAL + synchronous=FULL, no checks"
            )
            engine_url, engine_schema = str(engine_path), None
        ledger = Ledger.open(engine_url, schema=engine_schema)
        try:
            create_accounts(ledger, cfg, progress)
            figures = run_engine(ledger, cfg, transfers, progress)
            if cfg.verify:
                progress.phase("verifying double entry, the journal and every balance", None)
                check, report = ledger.check(), ledger.verify()
                problems = (check.problems + report.problems)[:10]
                verify_ok = check.ok and report.ok
        finally:
            ledger.close()
    finally:
        if postgres:
            with _pg_connect(url) as conn:  # the schema is this run's own: never the user's
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    result: dict[str, Any] = {
        "benchmark": "ledger",
        "backend": cfg.backend,
        "transfers": cfg.transfers,
        "accounts": cfg.accounts,
        "hot_accounts": cfg.hot_accounts,
        "batch": cfg.batch,
        "clients": cfg.clients,
        **figures,
        "baseline_per_s": round(baseline),
        "baseline": baseline_text,
        "ratio": round(figures["transfers_per_s"] / baseline, 3),
        "verify_ok": verify_ok,
        "machine": _machine(url if postgres else None),
    }
    if problems:
        result["verify_problems"] = problems
    if kept is not None:
        result["ledger_db"] = str(kept)
    return result
