"""`corridor scheme` runs the card scheme (its switch, clearing and end of day) as its own process in a distributed
network; `corridor network init` writes its configuration beside the nodes' (node/schemehost.py)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer

from corridor import logs
from corridor.cli.common import EXIT_FAILED, fail
from corridor.network.transport.base import TransportError
from corridor.node.config import ConfigError
from corridor.node.schemeconfig import load_scheme_config
from corridor.node.schemehost import serve_scheme


def scheme(
    config: Annotated[Path, typer.Option("--config", help="The scheme's TOML configuration (see `network init`).")],
    lifeline: Annotated[
        bool, typer.Option("--lifeline", help="Stop when standard input closes (the launcher holds it open).")
    ] = False,
    log_json: Annotated[bool, typer.Option("--log-json", help="Logs as JSON lines on stderr.")] = False,
) -> None:
    """Run the card scheme's switch and end of day until SIGTERM or Ctrl-C."""
    logs.configure(json=log_json, level=logging.WARNING)
    try:
        asyncio.run(serve_scheme(load_scheme_config(config), lifeline=lifeline))
    except ConfigError as exc:
        fail(str(exc), EXIT_FAILED)
    except (TransportError, OSError) as exc:
        fail(f"cannot run the card scheme: {exc}", EXIT_FAILED)
