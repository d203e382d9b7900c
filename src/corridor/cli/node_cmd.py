"""`corridor node` runs one participant as its own process on NATS; `corridor network init|run|pay` set up, run
and use a whole scenario's network of such processes (the distributed mode), with the card scheme's own process
(`corridor scheme`, cli/scheme_cmd.py) when the scenario has one."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from corridor import logs
from corridor.cards.acquirer import Acquirer
from corridor.cards.cardkeys import CardKeysError, card_key_ids, retire_card_keys, rotate_card_keys
from corridor.cli.common import EXIT_FAILED, console, fail
from corridor.network.directory import DirectoryError
from corridor.network.transport.base import TransportError
from corridor.node.cardhost import Gateway
from corridor.node.config import (
    DEFAULT_NATS_URL,
    DEFAULT_STREAM,
    ConfigError,
    Endpoint,
    load_node_config,
    url_holds_password,
)
from corridor.node.keyrotation import DEFAULT_ACTIVATE_AFTER, DEFAULT_OVERLAP, rotate_node_key
from corridor.node.launcher import init_network, open_distributed, scheme_config_path
from corridor.node.network import FINAL_STATES
from corridor.node.rpc import RpcError
from corridor.node.service import serve
from corridor.scenario.model import Scenario, ScenarioError
from corridor.tls import TlsFiles
from corridor.transfers.codes import describe

app = typer.Typer(no_args_is_help=True, help="A network of node processes on NATS JetStream (distributed mode).")

DataDirOption = Annotated[Path, typer.Option("--data-dir", help="The network's data directory.")]


def make_gateway(
    acquirer: Acquirer,
    scenario: Scenario,
    bic: str,
    at: Endpoint,
    merchant_keys: Path,
    data_dir: Path,
    tls: TlsFiles | None,
) -> Gateway:
    """An acquiring bank's e-commerce gateway for its node process (node/cardhost.py asks for it by this factory:
    the node layer does not import the API's). The web stack is imported only by a process that serves one."""
    from corridor.api.gateway_server import GatewayServer

    return GatewayServer(acquirer, scenario, bic, at, merchant_keys=merchant_keys, data_dir=data_dir, tls=tls)


def node(
    config: Annotated[Path, typer.Option("--config", help="The node's TOML configuration (see `network init`).")],
    log_json: Annotated[bool, typer.Option("--log-json", help="Logs as JSON lines on stderr.")] = False,
    lifeline: Annotated[
        bool, typer.Option("--lifeline", help="Stop when standard input closes (the launcher holds it open).")
    ] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error (secrets are never logged at any).")
    ] = "warning",
) -> None:
    """Run one participant's node until SIGTERM or Ctrl-C."""
    level = logging.getLevelNamesMapping().get(log_level.upper())
    if level is None or log_level.lower() not in ("debug", "info", "warning", "error"):
        fail("--log-level: one of debug, info, warning, error")
    logs.configure(json=log_json, level=level)
    try:
        asyncio.run(serve(load_node_config(config), lifeline=lifeline, gateway=make_gateway))
    except ConfigError as exc:
        fail(str(exc), EXIT_FAILED)
    except (TransportError, OSError) as exc:
        fail(f"cannot run the node: {exc}", EXIT_FAILED)


@app.command()
def init(
    data_dir: DataDirOption = Path("data/network"),
    scenario: Annotated[Path | None, typer.Option("--scenario", help="A scenario TOML file (default RU/VE).")] = None,
    nats_url: Annotated[str, typer.Option("--nats-url", help="The NATS server every node uses.")] = DEFAULT_NATS_URL,
    stream: Annotated[str, typer.Option("--stream", help="The JetStream stream of the network.")] = DEFAULT_STREAM,
    postgres: Annotated[
        str | None,
        typer.Option("--postgres", help="Keep each node's ledger in this PostgreSQL server, a schema per node."),
    ] = None,
    tls: Annotated[
        Path | None,
        typer.Option(
            "--tls",
            help="A folder with ca.crt and <BIC>.crt/.key for each card participant and scheme.crt/.key: "
            "mutual TLS on the card links and gateways.",
        ),
    ] = None,
) -> None:
    """Write keys, the signed directory and one node.toml per participant (existing keys are kept)."""
    if postgres is not None and not postgres.startswith(("postgresql://", "postgres://")):
        fail("--postgres: a postgresql://host:port/database URL")
    if postgres is not None and url_holds_password(postgres):
        fail(
            "--postgres: no password in the URL (it would be written to every node.toml and seen in the process "
            "list); give it in PGPASSFILE or PGPASSWORD"
        )
    try:
        configs = init_network(
            data_dir, scenario_path=scenario, nats_url=nats_url, stream=stream, postgres=postgres, tls_dir=tls
        )
    except (ScenarioError, OSError, ValueError) as exc:
        fail(str(exc), EXIT_FAILED)
    for bic, path in configs.items():
        console.print(f"{bic}: corridor node --config {escape(str(path))}")
    scheme = scheme_config_path(data_dir.resolve())
    if scheme.exists():
        console.print(f"card scheme: corridor scheme --config {escape(str(scheme))}")


@app.command()
def run(data_dir: DataDirOption = Path("data/network")) -> None:
    """Start every node of an initialised network as its own process; Ctrl-C stops them all."""
    try:
        network = open_distributed(data_dir)
    except (FileNotFoundError, ConfigError, ScenarioError) as exc:
        fail(str(exc), EXIT_FAILED)

    async def main() -> None:
        try:
            await network.start()
            scheme = "" if network.scheme is None else f" and the card scheme ({network.scheme.log_path})"
            console.print(
                f"{len(network.nodes)} nodes running{scheme}; logs in {data_dir}/nodes/*/node.log. Ctrl-C stops."
            )
            while all(process.running for process in network.processes.values()):
                await asyncio.sleep(0.5)
            dead = [name for name, process in network.processes.items() if not process.running]
            console.print(f"[red]process(es) exited: {', '.join(dead)}[/]; stopping the others")
        finally:
            await network.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    except (RuntimeError, TimeoutError) as exc:
        fail(str(exc), EXIT_FAILED)


@app.command()
def pay(
    debtor: Annotated[str, typer.Option("--from", help="The payer's account number.")],
    creditor: Annotated[str, typer.Option("--to", help="The payee's account number.")],
    amount: Annotated[str, typer.Option("--amount", help='Amount and currency, e.g. "1250.00 RUB".')],
    key: Annotated[str | None, typer.Option("--idempotency-key", help="Same key, same payment.")] = None,
    data_dir: DataDirOption = Path("data/network"),
) -> None:
    """Pay between two accounts on a running distributed network and wait for the outcome."""
    try:
        network = open_distributed(data_dir)
        bank = network.scenario.account(debtor).bank
    except (FileNotFoundError, ConfigError, ScenarioError, KeyError) as exc:
        fail(str(exc), EXIT_FAILED)

    async def main() -> dict[str, str | None]:
        await network.connect()
        try:
            uetr = await network.pay(debtor, creditor, amount, key or str(uuid.uuid4()))
            await network.wait(bank, uetr, FINAL_STATES)
            found = await network.call(bank, "state", {"uetr": uetr})
            return {"uetr": uetr, "state": found["state"], "reason": describe(found["reason"]) or None}
        finally:
            await network.disconnect()

    try:
        console.print_json(json.dumps(asyncio.run(main())))
    except RpcError as exc:
        fail(f"payment refused: {exc}", EXIT_FAILED)
    except TransportError as exc:
        fail(str(exc), EXIT_FAILED)


@app.command("rotate-key")
def rotate_key(
    bic: Annotated[str, typer.Option("--bic", help="The participant whose signing key is replaced.")],
    data_dir: DataDirOption = Path("data/network"),
    activate_in: Annotated[
        float,
        typer.Option(
            "--activate-in",
            min=0,
            help="Seconds until the participant signs with its new key: time for every node to hold the new "
            "directory (running nodes on this machine re-read it within a second).",
        ),
    ] = DEFAULT_ACTIVATE_AFTER.total_seconds(),
    overlap: Annotated[
        float,
        typer.Option(
            "--overlap", min=0, help="Seconds the old key is still believed after that, for messages on their way."
        ),
    ] = DEFAULT_OVERLAP.total_seconds(),
    operator_key: Annotated[
        Path | None,
        typer.Option("--operator-key", help="The operator's key file (default: <data dir>/keys/operator.pem)."),
    ] = None,
) -> None:
    """Give a participant a new signing key without stopping anything: the new key is written (0600), the old one
    kept beside it, the directory re-signed by the operator; running nodes pick it up by themselves."""
    path = data_dir / "nodes" / bic / "node.toml"
    try:
        config = load_node_config(path)
        done = rotate_node_key(
            config,
            operator_key or data_dir / "keys" / "operator.pem",
            activate_after=timedelta(seconds=activate_in),
            overlap=timedelta(seconds=overlap),
        )
    except (ConfigError, DirectoryError, KeyError) as exc:
        fail(str(exc), EXIT_FAILED)
    except (OSError, ValueError) as exc:
        fail(f"cannot rotate {bic}'s key: {type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}", EXIT_FAILED)
    console.print_json(json.dumps(done.to_json()))


@app.command("rotate-card-keys")
def rotate_card_keys_command(
    bic: Annotated[
        str | None, typer.Option("--bic", help="The issuing bank (its node.toml's [cards] keys is the file).")
    ] = None,
    data_dir: DataDirOption = Path("data/network"),
    keys: Annotated[
        Path | None,
        typer.Option("--keys", help="The card key file itself (e.g. <corridor up's data dir>/keys/cards-<BIC>.json)."),
    ] = None,
    retire: Annotated[
        str | None,
        typer.Option("--retire", help="Instead: drop this earlier generation, once every card under it is re-issued."),
    ] = None,
) -> None:
    """Give an issuer a new generation of card keys (CVK, PVK, ZPK, PAN vault key) and make it current; cards issued
    under earlier generations keep working. The issuer uses it for new cards from its next start."""
    if keys is None:
        if bic is None:
            fail("give --bic (an issuer of the network in --data-dir) or --keys (the card key file)")
        try:
            keys = load_node_config(data_dir / "nodes" / bic / "node.toml").card_keys
        except ConfigError as exc:
            fail(str(exc), EXIT_FAILED)
        if keys is None:
            fail(f"{bic} has no card keys ([cards] keys): it issues no cards", EXIT_FAILED)
    try:
        if retire is not None:
            retire_card_keys(keys, retire)
            key_id = None
        else:
            key_id = rotate_card_keys(keys)
        current, kept = card_key_ids(keys)
    except CardKeysError as exc:
        fail(str(exc), EXIT_FAILED)
    except OSError as exc:
        fail(f"{keys}: {exc.strerror}", EXIT_FAILED)
    console.print_json(json.dumps({"keys": str(keys), "new": key_id, "current": current, "kept": kept}))
