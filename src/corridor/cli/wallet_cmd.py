"""`corridor wallet`: a wallet owner's key and the transactions it signs, on the owner's machine.

The platform (and later the API) only ever receives the signed bytes this prints; the private key stays in the
owner's key file (PKCS#8 PEM, 0600). Amounts are read in the token's own notation ("1 000.00 RUBD"), so the
scenario that names the tokens is loaded first (the default one unless --scenario says otherwise).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from corridor.cli.common import EXIT_FAILED, fail
from corridor.digital import tx as txmod
from corridor.digital.wallet import Wallet
from corridor.money import Money, MoneyError
from corridor.network.identity import SigningKey
from corridor.scenario import ScenarioError, load_scenario

app = typer.Typer(no_args_is_help=True, help="A wallet owner's key and the transactions it signs (offline).")

KeyFile = Annotated[Path, typer.Argument(help="The wallet's private key file (PKCS#8 PEM).")]
Platform = Annotated[str, typer.Option("--platform", help="The platform id the transaction is for (e.g. CBXRRUMM).")]
Nonce = Annotated[int, typer.Option("--nonce", help="The wallet's next nonce: one more than its last committed.")]
Scenario = Annotated[Path | None, typer.Option("--scenario", help="The scenario naming the tokens (default RU-VE).")]


@app.command()
def new(key_file: KeyFile) -> None:
    """Make a new wallet key (refusing to overwrite one) and print its public key."""
    if key_file.exists():
        fail(f"{key_file} already exists: a wallet key is never overwritten", EXIT_FAILED)
    key = SigningKey.generate()
    key.save(key_file)
    typer.echo(json.dumps({"public_key": key.public_key.hex(), "key_file": str(key_file)}))


@app.command()
def show(key_file: KeyFile) -> None:
    """Print the wallet's public key (what a bank opens the wallet for, and what payers send to)."""
    typer.echo(json.dumps({"public_key": _key(key_file).public_key.hex()}))


@app.command()
def transfer(
    key_file: KeyFile,
    platform: Platform,
    nonce: Nonce,
    to: Annotated[str, typer.Option("--to", help="The payee wallet's public key, 64 hex digits.")],
    amount: Annotated[str, typer.Option("--amount", help='The amount with its token, e.g. "1 000.00 RUBD".')],
    scenario: Scenario = None,
) -> None:
    """Sign a transfer and print its id and wire bytes (hex) as JSON."""
    money = _amount(amount, scenario)
    payee = _hex(to, "--to", 32)
    _print(_wallet(key_file, platform, nonce), lambda w: w.transfer(money.currency.code, payee, money.minor))


@app.command()
def escrow(
    key_file: KeyFile,
    platform: Platform,
    nonce: Nonce,
    to: Annotated[str, typer.Option("--to", help="The payee wallet's public key, 64 hex digits.")],
    amount: Annotated[str, typer.Option("--amount", help='The amount with its token, e.g. "350.0000 VOIL".')],
    document: Annotated[Path, typer.Option("--document", help="The document that releases it (bill of lading).")],
    expires_at: Annotated[int, typer.Option("--expires-at", help="Unix seconds: refunded to you from then on.")],
    scenario: Scenario = None,
) -> None:
    """Sign an escrow paid to `--to` when it presents the document's exact bytes before `--expires-at`."""
    money = _amount(amount, scenario)
    payee = _hex(to, "--to", 32)
    text = _read(document)
    _print(
        _wallet(key_file, platform, nonce),
        lambda w: w.escrow(money.currency.code, payee, money.minor, text, expires_at),
        document_sha256=hashlib.sha256(text).hexdigest(),
    )


@app.command()
def claim(
    key_file: KeyFile,
    platform: Platform,
    nonce: Nonce,
    lock: Annotated[str, typer.Option("--lock", help="The lock (escrow) transaction's id, 64 hex digits.")],
    document: Annotated[Path, typer.Option("--document", help="The document (or HTLC secret) that releases it.")],
) -> None:
    """Sign the claim of an escrow with the document it was locked against."""
    lock_id = _hex(lock, "--lock", 32)
    text = _read(document)
    _print(_wallet(key_file, platform, nonce), lambda w: w.claim(lock_id, text))


def _key(path: Path) -> SigningKey:
    try:
        return SigningKey.load(path)
    except (OSError, ValueError) as exc:
        fail(f"cannot read the wallet key {path}: {type(exc).__name__}", EXIT_FAILED)


def _wallet(path: Path, platform: str, nonce: int) -> Wallet:
    if nonce < 1:
        fail(f"--nonce: a wallet's first nonce is 1, got {nonce}")
    return Wallet(_key(path), platform, last_nonce=nonce - 1)


def _amount(text: str, scenario: Path | None) -> Money:
    try:
        load_scenario(scenario)  # registers the scenario's tokens, so "RUBD" has its precision
    except ScenarioError as exc:
        fail(f"scenario: {exc}", EXIT_FAILED)
    try:
        money = Money.parse(text)
    except MoneyError as exc:
        fail(f"--amount: {exc}")
    if not money.currency.is_token or money.minor <= 0:
        fail(f"--amount: {text!r} is not a positive amount of a token")
    return money


def _hex(text: str, option: str, size: int) -> bytes:
    try:
        value = bytes.fromhex(text)
    except ValueError:
        fail(f"{option}: not hexadecimal")
    if len(value) != size:
        fail(f"{option}: {size} bytes ({2 * size} hex digits) expected, got {len(value)}")
    return value


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}", EXIT_FAILED)


def _print(wallet: Wallet, build: Callable[[Wallet], txmod.SignedTx], **more: str) -> None:
    try:
        signed = build(wallet)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(
        json.dumps(
            {
                "tx_id": signed.id.hex(),
                "signer": signed.signer.hex(),
                "nonce": signed.nonce,
                "wire": signed.wire.hex(),
                **more,
            }
        )
    )
