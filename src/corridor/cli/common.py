"""What every command shares: opening a ledger from --db/--schema, parsing ids and amounts, clean errors.

A person at a terminal should see one line saying what was wrong, never a traceback, and never a password: every
url that reaches a message goes through `redact`, and every storage error through `scrub`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import typer
from rich.console import Console
from rich.markup import escape

from corridor.ledger import AMOUNT_MAX, ID_MAX, InvalidEvent, Ledger, LedgerError
from corridor.money import Money, MoneyError, currency
from corridor.node.config import url_holds_password

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

DEFAULT_DB = "data/ledger.db"
U32_MAX = 2**32 - 1

# Exit codes: 2 for input the command cannot act on (as click does for usage errors), 1 for a command that ran and
# failed (a refused event, a ledger that cannot be opened, a verification problem).
EXIT_FAILED = 1
EXIT_USAGE = 2

DB_ENV = "CORRIDOR_LEDGER_DB"
DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar=DB_ENV,
        help="Ledger: a SQLite path, sqlite:///path or a postgresql://... url.",
        show_envvar=True,
    ),
]
SchemaOption = Annotated[
    str | None, typer.Option("--schema", help="PostgreSQL schema of the ledger (PostgreSQL only; default corridor).")
]

T = TypeVar("T")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """A user error: one clear line on stderr, no traceback."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def refuse_password_argument(url: str, option: str, *, env: str | None = None) -> None:
    """A URL with a password given on the command line (where every local user sees it in the process list) is
    refused: the password comes from PGPASSWORD or PGPASSFILE, or the whole URL from the environment (`env`)."""
    if url_holds_password(url) and (env is None or os.environ.get(env) != url):
        where = f", or the whole URL in {env}" if env else ""
        fail(f"{option}: no password on the command line: use PGPASSWORD or PGPASSFILE{where}")


def redact(url: str) -> str:
    """The url with any password replaced by ***, so a message can name the ledger without leaking a secret."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    netloc = parts.netloc
    if password is not None:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    query = re.sub(r"(password=)[^&]*", r"\1***", parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def scrub(message: str, url: str) -> str:
    """A driver's error message with the url's password removed, in case the driver echoed it."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return message.replace(password, "***") if password else message


def storage_errors() -> tuple[type[BaseException], ...]:
    """Errors a backend raises for a bad location or a broken server: reported as one line, not a traceback.

    psycopg is only imported when a PostgreSQL ledger is opened, so its errors are only listed once it is loaded.
    """
    errors: list[type[BaseException]] = [LedgerError, ValueError, OSError, sqlite3.Error]
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        errors.append(psycopg.Error)
    return tuple(errors)


@contextmanager
def opened(db: str, schema: str | None, *, readonly: bool = False) -> Iterator[Ledger]:
    """The ledger at `db`, closed afterwards; a failure to open or query it ends the command with its reason."""
    refuse_password_argument(db, "--db", env=DB_ENV)
    where = redact(db)
    try:
        ledger = Ledger.open(db, schema=schema, readonly=readonly)
    except FileNotFoundError:
        fail(f"no ledger at {where}", EXIT_FAILED)
    except storage_errors() as exc:
        fail(f"cannot open the ledger at {where}: {scrub(str(exc), db)}", EXIT_FAILED)
    try:
        yield ledger
    except storage_errors() as exc:
        fail(f"ledger {where}: {scrub(str(exc), db)}", EXIT_FAILED)
    finally:
        ledger.close()


def build(make: Callable[[], T]) -> T:
    """Build an Account or Transfer; a field outside its type's range is named instead of raising."""
    try:
        return make()
    except InvalidEvent as exc:
        fail(str(exc))


def parse_int(text: str, what: str, lo: int, hi: int) -> int:
    """A decimal or 0x-hexadecimal integer within lo..hi, or a message naming the option."""
    cleaned = text.strip().replace("_", "")
    try:
        value = int(cleaned, 16) if cleaned.lower().startswith("0x") else int(cleaned, 10)
    except ValueError:
        fail(f"{what} {text!r} is not an integer (decimal, or hexadecimal with 0x)")
    if not lo <= value <= hi:
        fail(f"{what} {text} is outside {lo} .. {show_id(hi)}")
    return value


def parse_id(text: str, what: str = "id") -> int:
    """Ids are 128-bit integers, decimal or 0x-hex; 0 and 2**128-1 are reserved."""
    return parse_int(text, what, 1, ID_MAX - 1)


def parse_u128(text: str, what: str) -> int:
    """user_data_128 is any 128-bit value (a UETR fits), decimal or 0x-hex."""
    return parse_int(text, what, 0, ID_MAX)


def show_id(value: int) -> str:
    """Ids in decimal, except ones beyond 64 bits (UUID-like), which read better in hex."""
    return f"{value:#x}" if value > 2**64 else str(value)


def parse_ledger(text: str) -> int:
    """A ledger is a currency: accept its ISO 4217 code ('RUB') or number (643), or any other u32 number."""
    text = text.strip()
    if text.isdigit():
        number = int(text)
        if not 1 <= number <= U32_MAX:
            fail(f"ledger {text} is outside 1 .. {U32_MAX}")
        return number
    try:
        numeric = currency(text).numeric
    except MoneyError as exc:
        fail(f"--ledger {text!r}: {exc}")
    if numeric is None:
        fail(f"{text} has no ISO 4217 number: pass the token's ledger number instead")
    return numeric


def currency_code(ledger: int) -> str | None:
    """The ISO 4217 code of a ledger number, or None when the ledger is not a currency with minor units."""
    try:
        return currency(ledger).code
    except MoneyError:
        return None


def money_of(minor: int, ledger: int) -> str:
    """Minor units formatted in the ledger's currency; raw minor units when the ledger is not an ISO 4217 code."""
    try:
        return str(Money(minor, currency(ledger)))
    except MoneyError:
        return f"{minor:,}".replace(",", " ") + " (minor units)"


def amount_to_minor(amount: str, ledger: int) -> int:
    """A decimal amount in major units -> exact minor units of the ledger's currency (never rounded)."""
    try:
        cur = currency(ledger)
    except MoneyError:
        fail(f"ledger {ledger} is not an ISO 4217 currency, so --amount has no decimals to read: use --amount-minor")
    try:
        minor = Money.of(amount, cur).minor
    except MoneyError as exc:
        fail(f"--amount: {exc}")
    if minor < 0:
        fail(f"--amount {amount}: an amount cannot be negative (a transfer moves money from --debit to --credit)")
    if minor > AMOUNT_MAX:
        fail(f"--amount {amount}: more than the largest amount, {Money(AMOUNT_MAX, cur)}")
    return minor


def show_time(ns: int) -> str:
    """A ledger timestamp (ns since the epoch) as UTC, to the microsecond, computed in integers."""
    seconds, rest = divmod(ns, 10**9)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S") + f".{rest // 1000:06d}Z"
