"""`python -m corridor` is the `corridor` command (the launcher of node processes uses it)."""

from corridor.cli.main import app

app()
