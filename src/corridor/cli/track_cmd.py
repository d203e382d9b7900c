"""`corridor track <UETR>`: every hop of one payment, with its time and status, like a gpi tracker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from corridor.cli.common import EXIT_FAILED, console, fail
from corridor.network.store import Event, read_events

UETR = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def collect_events(data_dir: Path, uetr: str) -> list[Event]:
    """Events about `uetr` from every node under `data_dir/nodes`, in time order."""
    events: list[Event] = []
    for database in sorted((data_dir / "nodes").glob("*/node.db")):
        events.extend(read_events(database, uetr))
    return sorted(events, key=lambda e: e.at)


def track(
    uetr: Annotated[str, typer.Argument(help="The payment's UETR (a UUID v4).")],
    data_dir: Annotated[Path, typer.Option("--data-dir", help="The network's data directory.")] = Path("data/demo"),
) -> None:
    """Show each hop of a payment with its time and status."""
    uetr = uetr.strip().lower()
    if not UETR.fullmatch(uetr):
        fail(f"{escape(uetr)!r} is not a UETR (a UUID v4 such as 3f2b9c1e-8a4d-4e6f-9b2a-1c3d5e7f9a0b)", EXIT_FAILED)
    if not (data_dir / "nodes").is_dir():
        fail(f"no network in {data_dir}: run `corridor demo` first, or pass --data-dir", EXIT_FAILED)
    events = collect_events(data_dir, uetr)
    if not events:
        fail(f"no node under {data_dir} knows payment {uetr}", EXIT_FAILED)
    table = Table(title=f"payment {uetr}", title_justify="left")
    for column in ("time (UTC)", "hop", "status", "reason", "what happened"):
        table.add_column(column)
    for event in events:
        table.add_row(event.at, event.node, event.status, event.reason or "", escape(event.detail))
    console.print(table)
