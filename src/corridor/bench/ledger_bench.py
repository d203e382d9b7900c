"""`corridor bench ledger`: the engine's sustained transfer rate beside a baseline measured in the same run.

The engine run is what a rail sees: several client threads submit batches of pre-built transfers through
`Ledger.submit_transfers`, keeping two batches in flight each, and every result must be ok. The baseline is what the
engine competes with on the same storage: for SQLite, plain `executemany` of the same rows plus the two balance
updates per transfer, in the same batch size, with the same durability settings and no checks at all; for
PostgreSQL, pgbench's TPC-B-like workload on the same server. A ratio survives a noisy machine; a time alone does not.
"""

from __future__ import annotations

import gc
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
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.ledger import Account, CreateTransferResult, Ledger, Transfer
from corridor.ledger.codec import id_bytes

RUB = 643
DEFAULT_POSTGRES = "postgresql://127.0.0.1:5432/test"
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class LedgerBenchConfig:
    backend: str = "sqlite"
    transfers: int = 1_000_000
    accounts: int = 10_000
    hot_accounts: int = 0
    batch: int = 8189
    clients: int = 4
    db: str | None = None
    baseline_seconds: int = 15
    verify: bool = True
    seed: int = 42


def build_transfers(cfg: LedgerBenchConfig) -> list[Transfer]:
    """Transfers between random distinct accounts; with hot accounts, half of them touch one of the first K."""
    rng = random.Random(cfg.seed)
    n, hot = cfg.accounts, cfg.hot_accounts
    out = []
    base = 1 << 64
    for i in range(cfg.transfers):
        debit = rng.randint(1, hot) if hot and i % 2 == 0 else rng.randint(1, n)
        credit = rng.randint(1, n)
        if credit == debit:
            credit = debit % n + 1
        if i % 4 == 0 and hot:
            debit, credit = credit, debit  # hot accounts both pay and get paid
        out.append(
            Transfer(
                id=base + i, debit_account_id=debit, credit_account_id=credit, amount=1 + i % 1000, ledger=RUB, code=1
            )
        )
    return out


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] if ordered else 0.0


def run_engine(ledger: Ledger, cfg: LedgerBenchConfig, transfers: list[Transfer]) -> dict[str, float]:
    batches = [transfers[k : k + cfg.batch] for k in range(0, len(transfers), cfg.batch)]
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(mine: list[list[Transfer]]) -> None:
        inflight: list[tuple[float, Future[list[CreateTransferResult]]]] = []
        local: list[float] = []

        def settle() -> None:
            started, future = inflight.pop(0)
            results = future.result()
            local.append(time.perf_counter() - started)
            if any(r is not CreateTransferResult.ok for r in results):
                failures.append(f"unexpected results {set(results)}")

        for batch in mine:
            inflight.append((time.perf_counter(), ledger.submit_transfers(batch)))
            if len(inflight) >= 2:
                settle()
        while inflight:
            settle()
        with lock:
            latencies.extend(local)

    threads = [threading.Thread(target=client, args=(batches[c :: cfg.clients],)) for c in range(cfg.clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(failures[0])
    return {
        "transfers_per_s": round(len(transfers) / elapsed),
        "elapsed_s": round(elapsed, 3),
        "p50_batch_ms": round(_percentile(latencies, 0.50) * 1000, 2),
        "p99_batch_ms": round(_percentile(latencies, 0.99) * 1000, 2),
    }


def sqlite_baseline(path: Path, cfg: LedgerBenchConfig, transfers: list[Transfer]) -> float:
    """Raw executemany of the same rows plus two balance updates per transfer: no checks, same durability."""
    from corridor.ledger.storage.sqlite import SqliteStorage

    SqliteStorage(path).close()  # the same schema, by the same migration
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA cache_size=-262144"):
        conn.execute(pragma)
    zero = id_bytes(0)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO accounts VALUES (?, ?, 1, 0, 0, ?, 0, 0, 0, 0, 0, 0, ?, 0)",
        [(id_bytes(i), RUB, zero, i) for i in range(1, cfg.accounts + 1)],
    )
    conn.execute("COMMIT")
    ts0 = cfg.accounts + 1
    rows = [
        (
            ts0 + i,
            id_bytes(t.id),
            id_bytes(t.debit_account_id),
            id_bytes(t.credit_account_id),
            t.amount,
            None,
            None,
            0,
            0,
            0,
            t.ledger,
            t.code,
            0,
            0,
            0,
        )
        for i, t in enumerate(transfers)
    ]
    started = time.perf_counter()
    for k in range(0, len(rows), cfg.batch):
        chunk = rows[k : k + cfg.batch]
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO transfers VALUES ({', '.join('?' * 15)})", chunk)
        conn.executemany(
            "UPDATE accounts SET debits_posted = debits_posted + ? WHERE id = ?", [(r[4], r[2]) for r in chunk]
        )
        conn.executemany(
            "UPDATE accounts SET credits_posted = credits_posted + ? WHERE id = ?", [(r[4], r[3]) for r in chunk]
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


def pgbench_baseline(url: str, seconds: int) -> float:
    """TPC-B-like tps of pgbench on the same server: pgbench -i -s 4, then -c 4 -j 2 -T seconds."""
    import psycopg

    pgbench = shutil.which("pgbench") or "/usr/bin/pgbench"
    database = f"corridor_pgbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    info = psycopg.conninfo.conninfo_to_dict(url)
    target = psycopg.conninfo.make_conninfo(url, dbname=database)
    env = {**os.environ}
    args = ["-h", str(info.get("host", "127.0.0.1")), "-p", str(info.get("port", 5432))]
    if info.get("user"):
        args += ["-U", str(info["user"])]
    try:
        subprocess.run([pgbench, "-i", "-q", "-s", "4", *args, database], check=True, capture_output=True, env=env)
        out = subprocess.run(
            [pgbench, "-c", "4", "-j", "2", "-T", str(seconds), *args, database],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
    del target
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out) or re.search(r"tps = ([0-9.]+)", out)
    if match is None:
        raise RuntimeError(f"could not read pgbench's tps from: {out[-500:]}")
    return float(match.group(1))


def run(cfg: LedgerBenchConfig, progress: Progress = lambda _: None) -> dict[str, Any]:
    progress(f"building {cfg.transfers:,} transfers")
    transfers = build_transfers(cfg)
    workdir = Path(tempfile.mkdtemp(prefix="corridor-bench-"))
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    url = cfg.db or (str(workdir / "engine.db") if cfg.backend == "sqlite" else DEFAULT_POSTGRES)
    try:
        if cfg.backend == "sqlite":
            progress("baseline: raw executemany on SQLite")
            baseline = sqlite_baseline(workdir / "baseline.db", cfg, transfers)
            baseline_text = (
                f"sqlite executemany of the same rows + 2 balance updates per transfer, batch "
                f"{cfg.batch}, WAL + synchronous=FULL, no checks"
            )
        else:
            progress(f"baseline: pgbench -c 4 -T {cfg.baseline_seconds}")
            baseline = pgbench_baseline(url, cfg.baseline_seconds)
            baseline_text = f"pgbench TPC-B-like (-s 4 -c 4 -j 2 -T {cfg.baseline_seconds}) tps on the same server"
        ledger = Ledger.open(url, schema=schema if cfg.backend == "postgres" else None)
        try:
            accounts = [Account(id=i, ledger=RUB, code=1) for i in range(1, cfg.accounts + 1)]
            for k in range(0, len(accounts), 8189):
                ledger.create_accounts(accounts[k : k + 8189])
            progress(f"engine: {cfg.clients} clients x batches of {cfg.batch}")
            # The pre-built workload is the clients' data, not the ledger's: keep the collector from rescanning it.
            gc.collect()
            gc.freeze()
            try:
                figures = run_engine(ledger, cfg, transfers)
            finally:
                gc.unfreeze()
            verify_ok = None
            if cfg.verify:
                progress("verifying the journal and every balance")
                verify_ok = ledger.check().ok and ledger.verify().ok
        finally:
            ledger.close()
        if cfg.backend == "postgres" and cfg.db is None:
            import psycopg

            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return {
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
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
    }
