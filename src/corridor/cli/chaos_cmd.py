"""`corridor chaos`: the distributed network under random SIGKILLs, and an exact account of every payment.

It starts a three-server NATS JetStream cluster of its own on loopback and every participant's process over
PostgreSQL, runs mixed traffic (credit transfers, card payments, token payments, PvP swaps) while node processes and
one NATS server at a time are killed and restarted at seeded random moments, waits for the network to go quiet,
closes the card scheme's day, and reads every ledger and record back (corridor/chaos/). It stops by itself within
`--time-limit` and removes what it made (processes, stream, ledger schemas, files).

With --json stdout carries exactly one JSON object: {"payments", "completed", "aborted", "lost", "duplicated",
"conserved", "journals_verified", ...}. The exit status is 0 when nothing was lost or duplicated and the books are
conserved and verified, 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from corridor import logs
from corridor.chaos.cluster import ClusterError, nats_server_binary
from corridor.chaos.network import DEFAULT_POSTGRES, postgres_problem
from corridor.chaos.run import ChaosConfig, run_chaos
from corridor.chaos.traffic import RAILS
from corridor.cli.common import EXIT_FAILED, console, fail, redact, refuse_password_argument


def chaos(
    payments: Annotated[int, typer.Option("--payments", min=1, max=1_000_000, help="How many payments.")] = 10_000,
    seed: Annotated[
        int | None, typer.Option("--seed", help="The seed of the traffic and the faults (default: drawn, printed).")
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=30.0, help="Seconds the whole run may take, setup to clean-up.")
    ] = 1800.0,
    postgres: Annotated[
        str, typer.Option("--postgres", help="The PostgreSQL server the ledgers go in (a schema each, dropped after).")
    ] = DEFAULT_POSTGRES,
    rails: Annotated[
        str, typer.Option("--rails", help=f"Comma-separated rails to run, of {', '.join(RAILS)}.")
    ] = ",".join(RAILS),
    no_node_kills: Annotated[bool, typer.Option("--no-node-kills", help="Kill no node process.")] = False,
    no_nats_kills: Annotated[bool, typer.Option("--no-nats-kills", help="Kill no NATS server.")] = False,
    hasty_nats_kills: Annotated[
        bool,
        typer.Option(
            "--hasty-nats-kills",
            help="Kill a NATS server as soon as all answer their health check, before every replica caught up.",
        ),
    ] = False,
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Keep the run's files (logs, stores) in this folder.")
    ] = None,
    nats_server: Annotated[
        Path | None,
        typer.Option("--nats-server", help="The nats-server binary to run (default: the one beside Python, or PATH)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Run the network under random SIGKILLs of its processes and of one NATS server, then account for every
    payment: completed once, or aborted with everything released."""
    logs.configure(json=False, level=logging.WARNING)
    chosen = tuple(r.strip() for r in rails.split(",") if r.strip())
    unknown = sorted(set(chosen) - set(RAILS))
    if unknown or not chosen:
        fail(f"--rails: {', '.join(unknown) or 'none given'}; choose from {', '.join(RAILS)}")
    if not postgres.startswith(("postgresql://", "postgres://")):
        fail("--postgres: a postgresql://host:port/database URL")
    refuse_password_argument(postgres, "--postgres")
    problem = postgres_problem(postgres)
    if problem is not None:
        fail(redact(problem), EXIT_FAILED)
    if nats_server is not None and not (nats_server.is_file() and os.access(nats_server, os.X_OK)):
        fail(f"--nats-server: {nats_server} is not an executable file")
    if nats_server is None and nats_server_binary() is None:
        fail("nats-server is not installed: the chaos run starts a cluster of its own", EXIT_FAILED)
    config = ChaosConfig(
        payments=payments,
        seed=seed,
        time_limit_s=time_limit,
        postgres=postgres,
        rails=chosen,
        node_kills=not no_node_kills,
        nats_kills=not no_nats_kills,
        nats_gated=not hasty_nats_kills,
        keep=keep.resolve() if keep is not None else None,
        nats_server=str(nats_server) if nats_server is not None else None,
    )
    try:
        result = asyncio.run(run_chaos(config))
    except ClusterError as exc:
        fail(str(exc), EXIT_FAILED)
    ok = (
        "error" not in result
        and result["lost"] == 0
        and result["duplicated"] == 0
        and result["conserved"]
        and result["journals_verified"]
        and result["completed"] + result["aborted"] == result["payments"]
    )
    if as_json:
        print(json.dumps(result))
    else:
        for key in ("payments", "completed", "aborted", "lost", "duplicated", "conserved", "journals_verified"):
            console.print(f"{key:18} {result[key]}")
        console.print(f"{'seed':18} {result['seed']}")
        console.print(f"{'kills':18} {result['kills']}")
        console.print(f"{'wall seconds':18} {result['wall_seconds']}")
        if "error" in result:
            console.print(f"{'stopped by':18} {result['error']}", markup=False)
        for text in result["problems"][:20]:
            console.print(f"  {text}", markup=False)
    if not ok:
        raise typer.Exit(EXIT_FAILED)
