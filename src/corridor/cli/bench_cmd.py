"""`corridor bench ...`: benchmarks that print JSON with a same-run baseline beside the figure."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from corridor.bench.ledger_bench import LedgerBenchConfig, run
from corridor.cli.common import console, err_console, fail

app = typer.Typer(no_args_is_help=True, help="Benchmarks: each prints its figure beside a same-run baseline.")


class Backend(StrEnum):
    sqlite = "sqlite"
    postgres = "postgres"


@app.command()
def ledger(
    backend: Annotated[Backend, typer.Option("--backend")] = Backend.sqlite,
    transfers: Annotated[int, typer.Option("--transfers", min=1)] = 1_000_000,
    accounts: Annotated[int, typer.Option("--accounts", min=2)] = 10_000,
    hot_accounts: Annotated[int, typer.Option("--hot-accounts", min=0, help="Half of all transfers touch these.")] = 0,
    batch: Annotated[int, typer.Option("--batch", min=1, max=8189)] = 8189,
    clients: Annotated[int, typer.Option("--clients", min=1, max=64)] = 4,
    db: Annotated[str | None, typer.Option("--db", help="Ledger url (default: a temp file / fresh schema).")] = None,
    baseline_seconds: Annotated[int, typer.Option("--baseline-seconds", min=1, help="pgbench duration.")] = 15,
    no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip verify() after the run.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object only.")] = False,
) -> None:
    """Sustained transfers/s through the ledger's public API, beside the raw storage baseline."""
    if hot_accounts > accounts:
        fail("--hot-accounts cannot exceed --accounts")
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

    def progress(step: str) -> None:
        err_console.print(f"[dim]... {step}[/]")

    result = run(cfg, progress)
    if as_json:
        print(json.dumps(result))
        return
    table = Table(title=f"ledger benchmark ({backend.value})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("transfers_per_s", "baseline_per_s", "ratio", "p50_batch_ms", "p99_batch_ms", "verify_ok"):
        table.add_row(key, str(result[key]))
    console.print(table)
    console.print(f"baseline: {result['baseline']}")
