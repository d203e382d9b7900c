"""`python -m corridor` is the `corridor` command (the launcher of node processes uses it).

`node` and `scheme`, what the launcher runs once per process and again at every restart, load only what one process
needs (cli/process_cmd.py), not every command's modules: a network of eight processes starts seconds sooner.
"""

import sys

if len(sys.argv) > 1 and sys.argv[1] in ("node", "scheme"):
    from corridor.cli.process_cmd import app
else:
    from corridor.cli.main import app

app()
