"""The commands one process of a distributed network runs (`corridor node`, `corridor scheme`), on their own: what
`python -m corridor node|scheme` loads instead of the whole CLI (__main__.py)."""

from __future__ import annotations

import typer

from corridor.cli import node_cmd, scheme_cmd

app = typer.Typer(name="corridor", no_args_is_help=True, pretty_exceptions_show_locals=False)
app.command("node")(node_cmd.node)
app.command("scheme")(scheme_cmd.scheme)
