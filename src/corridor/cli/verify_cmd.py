"""`corridor verify-proof FILE`: check a platform's proof offline, with nothing but the file and a trusted key.

Two kinds of proof, told apart by their members: a transaction's inclusion in a signed block (docs/digital.md),
checked against the platform keys given with `--key`; and a holder's leaf in a proof of reserves
(docs/proof-of-reserves.md), checked against the published snapshot given with `--snapshot`. Nothing is fetched
from the network: a proof that needs the platform to vouch for it proves nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from corridor.cli.common import EXIT_FAILED, console, fail
from corridor.digital import blocks, reserves

MAX_FILE = 1024 * 1024


def verify_proof(
    proof_file: Annotated[Path, typer.Argument(help="The proof (JSON), as the platform gave it.")],
    key: Annotated[
        list[str] | None, typer.Option("--key", help="A platform key you trust (64 hex digits); repeatable.")
    ] = None,
    snapshot: Annotated[
        Path | None, typer.Option("--snapshot", help="For a proof of reserves: the published snapshot (JSON).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as one JSON object.")] = False,
) -> None:
    """Verify an inclusion proof (with --key) or a holder's proof of reserves (with --snapshot), offline."""
    text = _read(proof_file)
    document = _json(text, proof_file)
    if isinstance(document, dict) and "holder_id" in document:
        result = _verify_holder(text, snapshot)
    else:
        result = _verify_inclusion(text, key or [])
    if as_json:
        typer.echo(json.dumps({"valid": True, **result}))
        return
    console.print("[bold green]proof valid[/]")
    for name, value in result.items():
        console.print(f"  {name}: {escape(str(value))}")


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_FILE:
            fail(f"{path} is larger than a proof can be ({MAX_FILE} bytes)", EXIT_FAILED)
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}", EXIT_FAILED)


def _json(text: str, path: Path) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested too deep to read
        fail(f"{path} is not JSON", EXIT_FAILED)


def _verify_inclusion(text: str, keys: list[str]) -> dict[str, object]:
    if not keys:
        fail("an inclusion proof is checked against a platform key you trust: pass --key <64 hex digits>", EXIT_FAILED)
    trusted = set()
    for k in keys:
        try:
            raw = bytes.fromhex(k)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            fail(f"--key {k!r} is not 32 bytes of hex", EXIT_FAILED)
        trusted.add(raw)
    try:
        report = blocks.verify_proof(text, trusted)
    except blocks.ProofError as exc:
        fail(f"proof invalid ({exc.reason}): {exc}", EXIT_FAILED)
    return {
        "kind": "inclusion",
        "platform": report.platform,
        "block": report.height,
        "block_hash": report.block_hash,
        "tx_id": report.tx_id,
        "transaction": report.kind,
        "index": report.index,
    }


def _verify_holder(text: str, snapshot_file: Path | None) -> dict[str, object]:
    if snapshot_file is None:
        fail("a proof of reserves is checked against the published snapshot: pass --snapshot <file>", EXIT_FAILED)
    try:
        proof = reserves.HolderProof.from_json(text)
        published = reserves.PublishedSnapshot.from_dict(_json(_read(snapshot_file), snapshot_file))
        published.verify_proof(proof)
    except reserves.ReserveProofError as exc:
        fail(f"proof invalid ({exc.reason}): {exc}", EXIT_FAILED)
    return {
        "kind": "reserves",
        "token": proof.token,
        "holder_id": proof.holder_id,
        "balance": proof.balance,
        "liabilities_total": published.total,
        "root_hash": published.root_hash.hex(),
    }
