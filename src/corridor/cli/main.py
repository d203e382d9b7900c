"""The `corridor` command: one entry point, one sub-app per part of the system."""

from __future__ import annotations

from typing import Annotated

import typer

from corridor import __version__
from corridor.cli import audit_cmd, bench_cmd, chaos_cmd, ledger_cmd, node_cmd, scheme_cmd, wallet_cmd
from corridor.cli.demo import demo as ledger_demo
from corridor.cli.network_demo import demo
from corridor.cli.track_cmd import track
from corridor.cli.up_cmd import up
from corridor.cli.verify_cmd import verify_proof

app = typer.Typer(
    name="corridor",
    no_args_is_help=True,
    help="Corridor: a payment network for two countries trading in their own currencies.",
    pretty_exceptions_show_locals=False,
)
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(bench_cmd.app, name="bench")
app.add_typer(node_cmd.app, name="network")
app.add_typer(wallet_cmd.app, name="wallet")
app.add_typer(audit_cmd.app, name="audit")
app.command("node")(node_cmd.node)
app.command("scheme")(scheme_cmd.scheme)
app.command("chaos")(chaos_cmd.chaos)
app.command()(demo)
app.command()(track)
app.command()(up)
app.command("verify-proof")(verify_proof)
ledger_cmd.app.command("demo")(ledger_demo)


def _version(value: bool) -> None:
    if value:
        print(f"corridor {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Corridor: a payment network for two countries trading in their own currencies."""
