"""`corridor bench ...`: benchmarks that print their figure beside a baseline measured in the same run.

With --json, stdout carries exactly one JSON object (so `corridor bench ledger --json | jq` works); a progress bar
goes to stderr only when stderr is a terminal. Without --json, the bar is always drawn on stderr and a short table
follows on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from enum import StrEnum
from types import TracebackType
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from corridor.bench.cards_bench import CardsBenchConfig
from corridor.bench.cards_bench import run as run_cards
from corridor.bench.common import BenchError, NoProgress
from corridor.bench.ledger_bench import DEFAULT_POSTGRES, LedgerBenchConfig, run
from corridor.bench.screening_bench import ScreeningBenchConfig, run_screening
from corridor.bench.tokens_bench import TokensBenchConfig
from corridor.bench.tokens_bench import run as run_tokens
from corridor.bench.transfers_bench import TransfersBenchConfig
from corridor.bench.transfers_bench import run as run_transfers
from corridor.cli.common import (
    EXIT_FAILED,
    console,
    err_console,
    fail,
    redact,
    refuse_password_argument,
    scrub,
    storage_errors,
)
from corridor.ledger import BATCH_MAX
from corridor.network.transport.base import TransportError
from corridor.node.rpc import RpcError

app = typer.Typer(no_args_is_help=True, help="Benchmarks: each prints its figure beside a same-run baseline.")


class Backend(StrEnum):
    sqlite = "sqlite"
    postgres = "postgres"


class RichProgress:
    """The benchmark's phases as one rich progress bar each, on stderr."""

    def __init__(self) -> None:
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=err_console,
            refresh_per_second=4,  # the bar's refresh thread should cost the timed run next to nothing
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish()
        self._bar.stop()

    def _finish(self) -> None:
        if self._task is not None:
            task = self._bar.tasks[-1]
            if task.total is not None:
                self._bar.update(self._task, completed=task.total)
            else:
                self._bar.update(self._task, total=1, completed=1)

    def phase(self, description: str, total: float | None = None) -> None:
        self._finish()
        self._task = self._bar.add_task(description, total=total)

    def advance(self, amount: float = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, amount)


def _run_errors() -> tuple[type[BaseException], ...]:
    """What a run can fail with for reasons outside the engine: storage, the server, pgbench; told in one line."""
    return (*storage_errors(), subprocess.SubprocessError)


@app.command()
def ledger(
    backend: Annotated[Backend, typer.Option("--backend", help="Storage under the ledger.")] = Backend.sqlite,
    transfers: Annotated[int, typer.Option("--transfers", min=1, help="Transfers in the timed run.")] = 1_000_000,
    accounts: Annotated[
        int, typer.Option("--accounts", min=2, help="Accounts the transfers are spread over.")
    ] = 10_000,
    hot_accounts: Annotated[
        int, typer.Option("--hot-accounts", min=0, help="K: half of all transfers touch one of the first K accounts.")
    ] = 0,
    batch: Annotated[int, typer.Option("--batch", min=1, max=BATCH_MAX, help="Transfers per batch.")] = BATCH_MAX,
    clients: Annotated[int, typer.Option("--clients", min=1, max=64, help="Client threads submitting.")] = 4,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help=f"PostgreSQL: the server url (default {DEFAULT_POSTGRES}; a fresh schema is made and dropped). "
            "SQLite: a directory for the temporary files, or a new ledger file to keep.",
        ),
    ] = None,
    baseline_seconds: Annotated[
        int, typer.Option("--baseline-seconds", min=1, help="How long pgbench runs (PostgreSQL baseline).")
    ] = 15,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip check() and verify() after the run.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")] = False,
) -> None:
    """Sustained transfers/s through the ledger's public API, beside the raw storage baseline of the same run."""
    if hot_accounts > accounts:
        fail(f"--hot-accounts ({hot_accounts}) cannot exceed --accounts ({accounts})")
    if db is not None:
        refuse_password_argument(db, "--db")
    cfg = LedgerBenchConfig(
        backend=backend.value,
        transfers=transfers,
        accounts=accounts,
        hot_accounts=hot_accounts,
        batch=batch,
        clients=clients,
        db=db,
        baseline_seconds=baseline_seconds,
        verify=not no_verify,
    )
    where = db or (DEFAULT_POSTGRES if backend is Backend.postgres else "")
    try:
        if as_json and not sys.stderr.isatty():
            result = run(cfg, NoProgress())
        else:
            with RichProgress() as progress:
                result = run(cfg, progress)
    except BenchError as exc:
        fail(scrub(str(exc), where), EXIT_FAILED)
    except _run_errors() as exc:
        fail(f"benchmark on {redact(where) or 'a temporary SQLite file'}: {scrub(str(exc), where)}", EXIT_FAILED)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        _show(result)
    if result["verify_ok"] is False:
        err_console.print("[bold red]verification failed after the run:[/]")
        for problem in result.get("verify_problems", []):
            err_console.print(f"  {escape(problem)}")
        raise typer.Exit(EXIT_FAILED)


def _show(result: dict[str, object]) -> None:
    table = Table(title=f"ledger benchmark ({result['backend']})", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in (
        "transfers_per_s",
        "baseline_per_s",
        "ratio",
        "p50_batch_ms",
        "p99_batch_ms",
        "elapsed_s",
        "transfers",
        "accounts",
        "hot_accounts",
        "batch",
        "clients",
        "verify_ok",
    ):
        value = result[key]
        table.add_row(key, f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value))
    console.print(table)
    console.print(f"baseline: {result['baseline']}")
    console.print(f"machine: {result['machine']}")


class TransportChoice(StrEnum):
    memory = "memory"
    nats = "nats"


@app.command()
def transfers(
    transport: Annotated[
        TransportChoice, typer.Option("--transport", help="memory: one process; nats: a process per node.")
    ] = TransportChoice.memory,
    payments: Annotated[int, typer.Option("--payments", min=1, help="Cross-border payments in the run.")] = 2000,
    rate: Annotated[
        float, typer.Option("--rate", min=0, help="Offered payments/s (open loop); 0 = as fast as they complete.")
    ] = 0.0,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Payments in flight at most.")] = 400,
    nats_url: Annotated[str, typer.Option("--nats-url", help="NATS server (nats transport).")] = (
        "nats://127.0.0.1:4222"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")] = False,
) -> None:
    """Sustained cross-border payments/s end to end through both central banks, beside per-message ceilings."""
    cfg = TransfersBenchConfig(
        transport=transport.value, payments=payments, rate=rate, concurrency=concurrency, nats_url=nats_url
    )
    try:
        if as_json and not sys.stderr.isatty():
            result = run_transfers(cfg, NoProgress())
        else:
            with RichProgress() as progress:
                result = run_transfers(cfg, progress)
    except (BenchError, TransportError, RpcError, TimeoutError, OSError) as exc:
        fail(f"transfers benchmark: {exc}", EXIT_FAILED)
    _report(result, f"transfers benchmark ({result['transport']})", as_json=as_json)
    if not result["ledgers_verified"] or result["completed"] != result["payments"]:
        err_console.print("[bold red]not every payment completed, or a ledger did not verify[/]")
        raise typer.Exit(EXIT_FAILED)


@app.command()
def cards(
    auths: Annotated[int, typer.Option("--auths", min=1, help="Authorizations in the run.")] = 20_000,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Authorizations in flight at most.")] = 48,
    card_count: Annotated[int, typer.Option("--cards", min=1, help="Cards the authorizations are spread over.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")] = False,
) -> None:
    """Card authorizations/s end to end, terminal -> acquirer -> switch -> issuer (each its own process, over TCP)."""
    cfg = CardsBenchConfig(auths=auths, concurrency=concurrency, cards=card_count)
    try:
        if as_json and not sys.stderr.isatty():
            result = run_cards(cfg, NoProgress())
        else:
            with RichProgress() as progress:
                result = run_cards(cfg, progress)
    except (BenchError, TimeoutError, OSError) as exc:
        fail(f"cards benchmark: {exc}", EXIT_FAILED)
    _report(result, "cards benchmark", as_json=as_json)
    if result["approved"] != result["auths"] or not result["holds_match"] or not result["logs_match"]:
        err_console.print("[bold red]not every authorization was approved, or the holds do not match[/]")
        raise typer.Exit(EXIT_FAILED)


@app.command()
def tokens(
    transfers: Annotated[int, typer.Option("--transfers", min=1, help="Signed transfers in the run.")] = 50_000,
    wallets: Annotated[int, typer.Option("--wallets", min=2, help="Wallets the transfers are spread over.")] = 1_000,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=8_192, help="Transfers per submission (one block each).")
    ] = 2_048,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")] = False,
) -> None:
    """Digital-currency transfers/s: signed, verified, applied to the ledger and sealed into durable blocks."""
    cfg = TokensBenchConfig(transfers=transfers, wallets=wallets, batch=batch)
    try:
        if as_json and not sys.stderr.isatty():
            result = run_tokens(cfg, NoProgress())
        else:
            with RichProgress() as progress:
                result = run_tokens(cfg, progress)
    except (BenchError, OSError) as exc:
        fail(f"tokens benchmark: {exc}", EXIT_FAILED)
    _report(result, "tokens benchmark", as_json=as_json)
    if result["committed"] != result["transfers"] or not result["ledger_verified"] or not result["conserved"]:
        err_console.print("[bold red]not every transfer committed, or the ledger did not verify or conserve[/]")
        raise typer.Exit(EXIT_FAILED)


@app.command()
def screening(
    entries: Annotated[int, typer.Option("--entries", min=10, help="Entries on the synthetic watch-list.")] = 10_000,
    queries: Annotated[int, typer.Option("--queries", min=10, help="Names screened.")] = 2_000,
    checks: Annotated[int, typer.Option("--checks", min=1, help="Whole desk checks (durable) in the run.")] = 5_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")] = False,
) -> None:
    """Watch-list screening: names/s and recall of names written another way, beside rapidfuzz's WRatio over the raw
    names (the same-run baseline); and whole compliance checks per second."""
    cfg = ScreeningBenchConfig(entries=entries, queries=queries, checks=checks)
    if as_json and not sys.stderr.isatty():
        result = run_screening(cfg, NoProgress())
    else:
        with RichProgress() as progress:
            result = run_screening(cfg, progress)
    _report(result, "screening benchmark", as_json=as_json)


def _report(result: dict[str, Any], title: str, *, as_json: bool) -> None:
    """The one JSON object on stdout, or a table of the figures (all but the machine)."""
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key != "machine":
            table.add_row(key, str(value))
    console.print(table)
