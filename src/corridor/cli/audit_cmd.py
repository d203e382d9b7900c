"""`corridor audit verify PATH...`: check every audit trail under the paths, offline and read-only.

A path may be a node's compliance database (`compliance.db`), a node's folder, or a whole network's folder (every
`compliance.db` under it is checked). Each trail is walked from its first entry; the first entry that does not
follow is named with why (changed, missing, out of order). The head hash printed is what a supervisor keeps to know
later that nothing was cut off the end. Exit status 1 when any trail is broken or no trail is found.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from corridor.cli.common import EXIT_FAILED, console, fail
from corridor.compliance.audit import ChainCheck, verify_file

app = typer.Typer(no_args_is_help=True, help="The audit trails of privileged actions (hash-chained).")
TRAIL_FILE = "compliance.db"


@app.command("verify")
def verify(
    paths: Annotated[list[Path], typer.Argument(help="compliance.db files, node folders or a network folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object per trail, one per line.")] = False,
) -> None:
    """Verify the hash chain of every audit trail found under PATHS."""
    files = _trails(paths)
    if not files:
        fail(f"no audit trail ({TRAIL_FILE}) under {', '.join(map(str, paths))}")
    broken = False
    for path in files:
        try:
            check = verify_file(path)
        except (OSError, ValueError) as exc:
            fail(str(exc))
        broken |= not check.ok
        _show(path, check, as_json)
    if broken:
        raise typer.Exit(EXIT_FAILED)


def _trails(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob(TRAIL_FILE)))
        elif path.exists():
            found.append(path)
        else:
            fail(f"{path}: no such file or folder")
    return found


def _show(path: Path, check: ChainCheck, as_json: bool) -> None:
    if as_json:
        result = {"trail": str(path), "ok": check.ok, "entries": check.entries, "head": check.head}
        if not check.ok:
            result |= {"broken_at": check.broken_at, "problem": check.problem}
        typer.echo(json.dumps(result))
        return
    where = escape(str(path))
    if check.ok:
        console.print(f"[green]ok[/]     {where}: {check.entries} entries, head {check.head}")
    else:
        console.print(f"[red]BROKEN[/] {where}: {escape(check.problem or '')} (entries 1-{check.entries} hold)")
