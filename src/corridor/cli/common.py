"""What every command shares: opening a ledger from --db/--schema, parsing ids and amounts, clean errors."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from corridor.ledger import Ledger, LedgerError
from corridor.money import Money, MoneyError, UnknownCurrency, currency

console = Console()
err_console = Console(stderr=True)

DEFAULT_DB = "data/ledger.db"

DbOption = Annotated[
    str,
    typer.Option("--db", envvar="CORRIDOR_LEDGER_DB", help="SQLite path, sqlite:///path or postgresql://... url."),
]
SchemaOption = Annotated[str | None, typer.Option("--schema", help="PostgreSQL schema of the ledger.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """A user error: one clear line on stderr, no traceback."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def opened(db: str, schema: str | None, *, readonly: bool = False) -> Iterator[Ledger]:
    try:
        ledger = Ledger.open(db, schema=schema, readonly=readonly)
    except FileNotFoundError:
        fail(f"no ledger at {db}")
    except (LedgerError, ValueError, OSError) as exc:
        fail(f"cannot open the ledger at {db}: {exc}")
    try:
        yield ledger
    except (LedgerError, ValueError) as exc:
        fail(str(exc))
    finally:
        ledger.close()


def parse_id(text: str, what: str = "id") -> int:
    """Ids are decimal or 0x-hexadecimal 128-bit integers."""
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        fail(f"{what} {text!r} is not an integer (decimal, or hexadecimal with 0x)")
    if not 0 < value < 2**128 - 1:
        fail(f"{what} {text} is outside 1 .. 2**128-2")
    return value


def show_id(value: int) -> str:
    return str(value) if value < 2**64 else f"{value:#x}"


def parse_ledger(text: str) -> int:
    """A ledger is a currency: accept its ISO 4217 code ('RUB') or number (643), or any other u32."""
    if text.isdigit():
        return int(text)
    try:
        numeric = currency(text).numeric
    except UnknownCurrency as exc:
        fail(str(exc))
    if numeric is None:
        fail(f"{text} has no ISO 4217 number; pass the token's ledger number instead")
    return numeric


def money_of(minor: int, ledger: int) -> str:
    """Format minor units in the ledger's currency when the ledger number is an ISO 4217 code."""
    try:
        return str(Money(minor, currency(ledger)))
    except MoneyError:
        return f"{minor} (minor units, ledger {ledger})"


def amount_to_minor(amount: str, ledger: int) -> int:
    try:
        cur = currency(ledger)
    except MoneyError:
        fail(f"ledger {ledger} is not an ISO 4217 currency: give --amount-minor instead")
    try:
        return Money.of(amount, cur).minor
    except MoneyError as exc:
        fail(str(exc))


def env_default_db() -> str:
    return os.environ.get("CORRIDOR_LEDGER_DB", DEFAULT_DB)
