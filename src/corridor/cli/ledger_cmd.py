"""`corridor ledger ...`: create accounts, post transfers, read balances and history, verify the journal.

Each command is one call of the ledger's Python API (docs/ledger.md) with the input checked first, so that a typo
(an amount with a decimal too many, an id that is not a number) is refused before anything is written. Amounts go in
and come out as money of the ledger's currency; `--amount-minor` and `--json` speak minor units for scripts.
"""

from __future__ import annotations

import dataclasses
import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from corridor.cli.common import (
    DEFAULT_DB,
    EXIT_FAILED,
    DbOption,
    SchemaOption,
    amount_to_minor,
    build,
    console,
    currency_code,
    fail,
    money_of,
    opened,
    parse_id,
    parse_int,
    parse_ledger,
    parse_u128,
    show_id,
    show_time,
)
from corridor.ledger import AMOUNT_MAX, Account, AccountFlags, Transfer, TransferFlags

app = typer.Typer(no_args_is_help=True, help="Work with one ledger: accounts, transfers, balances, verification.")

U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1


class AccountFlag(StrEnum):
    debits_must_not_exceed_credits = "debits-must-not-exceed-credits"
    credits_must_not_exceed_debits = "credits-must-not-exceed-debits"
    history = "history"


_ACCOUNT_FLAGS = {
    AccountFlag.debits_must_not_exceed_credits: AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
    AccountFlag.credits_must_not_exceed_debits: AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
    AccountFlag.history: AccountFlags.HISTORY,
}

IdOption = Annotated[str, typer.Option("--id", help="Id: decimal or 0x-hex, 1 .. 2**128-2.")]
UserData128 = Annotated[
    str | None, typer.Option("--user-data-128", help="Your reference, 128 bits (e.g. a UETR as 0x-hex).")
]
UserData64 = Annotated[str | None, typer.Option("--user-data-64", help="Your reference, 64 bits.")]
UserData32 = Annotated[str | None, typer.Option("--user-data-32", help="Your reference, 32 bits.")]


def _user_data(u128: str | None, u64: str | None, u32: str | None) -> dict[str, int]:
    return {
        "user_data_128": parse_u128(u128, "--user-data-128") if u128 else 0,
        "user_data_64": parse_int(u64, "--user-data-64", 0, U64_MAX) if u64 else 0,
        "user_data_32": parse_int(u32, "--user-data-32", 0, U32_MAX) if u32 else 0,
    }


def _flag_names(flags: int, kind: type[AccountFlags] | type[TransferFlags]) -> str:
    return "|".join(f.name.lower() for f in kind if f & flags and f.name) if flags else ""


@app.command("create-account")
def create_account(
    id: IdOption,
    ledger: Annotated[str, typer.Option("--ledger", help="Currency: ISO 4217 code (RUB) or number (643).")],
    code: Annotated[int, typer.Option("--code", min=1, max=65535, help="The account's kind, chosen by you.")],
    flag: Annotated[list[AccountFlag] | None, typer.Option("--flag", help="An account flag (repeatable).")] = None,
    user_data_128: UserData128 = None,
    user_data_64: UserData64 = None,
    user_data_32: UserData32 = None,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Create an account and print the result code (exists: an identical account was created before)."""
    flags = 0
    for f in flag or []:
        flags |= _ACCOUNT_FLAGS[f]
    account_id, ledger_no = parse_id(id), parse_ledger(ledger)
    extra = _user_data(user_data_128, user_data_64, user_data_32)
    account = build(lambda: Account(id=account_id, ledger=ledger_no, code=code, flags=flags, **extra))
    with opened(db, schema) as led:
        (result,) = led.create_accounts([account])
    console.print(result.name)
    if not result.succeeded:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def transfer(
    id: Annotated[str, typer.Option("--id", help="Transfer id, the idempotency key: decimal or 0x-hex.")],
    debit: Annotated[str | None, typer.Option("--debit", help="Debit account id (money leaves it).")] = None,
    credit: Annotated[str | None, typer.Option("--credit", help="Credit account id (money arrives).")] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Amount in the ledger's currency, e.g. '1 234.56' (exact).")
    ] = None,
    amount_minor: Annotated[
        int | None, typer.Option("--amount-minor", min=0, max=AMOUNT_MAX, help="Amount in minor units instead.")
    ] = None,
    ledger: Annotated[str | None, typer.Option("--ledger", help="Currency: ISO 4217 code or number.")] = None,
    code: Annotated[int, typer.Option("--code", min=0, max=65535, help="The transfer's kind, chosen by you.")] = 1,
    pending: Annotated[bool, typer.Option("--pending", help="Reserve only (phase one of two).")] = False,
    timeout: Annotated[
        int, typer.Option("--timeout", min=0, max=U32_MAX, help="Seconds before a pending transfer expires (0: never).")
    ] = 0,
    post: Annotated[str | None, typer.Option("--post", help="Post this pending transfer (all, or --amount).")] = None,
    void: Annotated[str | None, typer.Option("--void", help="Void this pending transfer.")] = None,
    user_data_128: UserData128 = None,
    user_data_64: UserData64 = None,
    user_data_32: UserData32 = None,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Post a transfer, or reserve, post or void a two-phase one; print the result code.

    A post or void may leave out --debit, --credit and --ledger: they are taken from the pending transfer (and a
    post without an amount posts all of it).
    """
    if post and void:
        fail("give --post or --void, not both")
    if pending and (post or void):
        fail("--pending starts a two-phase transfer; --post and --void resolve one: give only one of them")
    if amount is not None and amount_minor is not None:
        fail("give --amount or --amount-minor, not both")
    resolves = post or void
    if not resolves:
        missing = [
            name for name, value in (("--debit", debit), ("--credit", credit), ("--ledger", ledger)) if not value
        ]
        if amount is None and amount_minor is None:
            missing.append("--amount (or --amount-minor)")
        if missing:
            fail(f"a transfer needs {', '.join(missing)}")
    transfer_id = parse_id(id)
    debit_id = parse_id(debit, "--debit") if debit else 0
    credit_id = parse_id(credit, "--credit") if credit else 0
    pending_id = parse_id(resolves, "--post" if post else "--void") if resolves else 0
    ledger_no = parse_ledger(ledger) if ledger else 0
    if pending:
        flags = TransferFlags.PENDING
    elif resolves:
        flags = TransferFlags.POST_PENDING_TRANSFER if post else TransferFlags.VOID_PENDING_TRANSFER
    else:
        flags = TransferFlags(0)
    extra = _user_data(user_data_128, user_data_64, user_data_32)
    minor = amount_minor or 0
    if amount is not None and ledger_no:
        minor = amount_to_minor(amount, ledger_no)  # refused before the ledger is even opened
    with opened(db, schema) as led:
        if amount is not None and not ledger_no:
            # A post of part of a hold in major units: the currency is the pending transfer's.
            held = led.get_transfer(pending_id)
            if held is None:
                fail(f"pending transfer {show_id(pending_id)} not found, so its currency is unknown: give --ledger")
            minor = amount_to_minor(amount, held.ledger)
        event = build(
            lambda: Transfer(
                id=transfer_id,
                debit_account_id=debit_id,
                credit_account_id=credit_id,
                amount=minor,
                ledger=ledger_no,
                code=code,
                flags=flags,
                pending_id=pending_id,
                timeout=timeout,
                **extra,
            )
        )
        (result,) = led.create_transfers([event])
    console.print(result.name)
    if not result.succeeded:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def balance(
    id: IdOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: minor units and formatted money.")] = False,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Show an account's four balances and its balance (credits posted - debits posted) in its currency."""
    account_id = parse_id(id)
    with opened(db, schema, readonly=True) as led:
        account = led.get_account(account_id)
    if account is None:
        fail(f"account {show_id(account_id)} not found", EXIT_FAILED)
    figures = {
        "debits_pending": account.debits_pending,
        "debits_posted": account.debits_posted,
        "credits_pending": account.credits_pending,
        "credits_posted": account.credits_posted,
        "balance": account.balance,
    }
    if as_json:
        data: dict[str, Any] = {
            "id": show_id(account.id),
            "ledger": account.ledger,
            "currency": currency_code(account.ledger),
            "code": account.code,
            "flags": _flag_names(account.flags, AccountFlags),
            **figures,
            "formatted": {name: money_of(value, account.ledger) for name, value in figures.items()},
        }
        typer.echo(json.dumps(data, indent=2))
        return
    cur = currency_code(account.ledger)
    flags = _flag_names(account.flags, AccountFlags)
    table = Table(
        title=f"account {show_id(account.id)}: ledger {account.ledger}{f' ({cur})' if cur else ''}, "
        f"code {account.code}{f', {flags}' if flags else ''}"
    )
    table.add_column("")
    table.add_column("pending", justify="right")
    table.add_column("posted", justify="right")
    table.add_row(
        "debits", money_of(account.debits_pending, account.ledger), money_of(account.debits_posted, account.ledger)
    )
    table.add_row(
        "credits", money_of(account.credits_pending, account.ledger), money_of(account.credits_posted, account.ledger)
    )
    console.print(table)
    console.print(f"balance (credits posted - debits posted): [bold]{money_of(account.balance, account.ledger)}[/]")


@app.command()
def history(
    id: IdOption,
    limit: Annotated[int, typer.Option("--limit", min=1, max=8189, help="Transfers per page.")] = 20,
    before: Annotated[
        int | None, typer.Option("--before", min=1, help="Cursor: the timestamp printed under the previous page.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (amounts in minor units).")] = False,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """An account's transfers, newest first, a page at a time."""
    account_id = parse_id(id)
    with opened(db, schema, readonly=True) as led:
        if led.get_account(account_id) is None:
            fail(f"account {show_id(account_id)} not found", EXIT_FAILED)
        page = led.account_transfers(account_id, limit=limit, before=before)
    next_before = page[-1].timestamp if len(page) == limit else None
    if as_json:
        rows = [
            {
                "timestamp": t.timestamp,
                "id": show_id(t.id),
                "debit_account_id": show_id(t.debit_account_id),
                "credit_account_id": show_id(t.credit_account_id),
                "amount": t.amount,
                "formatted": money_of(t.amount, t.ledger),
                "ledger": t.ledger,
                "code": t.code,
                "flags": _flag_names(t.flags, TransferFlags),
                "pending_id": show_id(t.pending_id) if t.pending_id else None,
            }
            for t in page
        ]
        typer.echo(
            json.dumps({"account": show_id(account_id), "transfers": rows, "next_before": next_before}, indent=2)
        )
        return
    table = Table(title=f"transfers of account {show_id(account_id)}, newest first")
    table.add_column("timestamp (cursor)", justify="right", no_wrap=True)
    table.add_column("time (UTC)", overflow="fold")
    table.add_column("id", justify="right", overflow="fold")
    table.add_column("counterparty", overflow="fold")
    table.add_column("amount", justify="right", no_wrap=True)
    table.add_column("flags", overflow="fold")
    for t in page:
        outgoing = t.debit_account_id == account_id
        counterparty = t.credit_account_id if outgoing else t.debit_account_id
        table.add_row(
            str(t.timestamp),
            show_time(t.timestamp),
            show_id(t.id),
            f"{'to' if outgoing else 'from'} {show_id(counterparty)}",
            ("-" if outgoing else "+") + money_of(t.amount, t.ledger),
            _flag_names(t.flags, TransferFlags),
        )
    console.print(table)
    if next_before is not None:
        console.print(f"next page: --before {next_before}")
    else:
        console.print("end of history")


@app.command()
def pending(
    limit: Annotated[int, typer.Option("--limit", min=1, max=8189, help="Pending transfers per page.")] = 50,
    after: Annotated[
        int | None, typer.Option("--after", min=1, help="Cursor: the timestamp printed under the previous page.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (amounts in minor units).")] = False,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Open pending transfers (reservations not yet posted, voided or expired), oldest first."""
    with opened(db, schema, readonly=True) as led:
        page = led.pending_transfers(limit=limit, after=after)
    next_after = page[-1].transfer.timestamp if len(page) == limit else None
    if as_json:
        rows = [
            {
                "timestamp": p.transfer.timestamp,
                "id": show_id(p.transfer.id),
                "debit_account_id": show_id(p.transfer.debit_account_id),
                "credit_account_id": show_id(p.transfer.credit_account_id),
                "amount": p.transfer.amount,
                "formatted": money_of(p.transfer.amount, p.transfer.ledger),
                "ledger": p.transfer.ledger,
                "expires_at": p.expires_at,
            }
            for p in page
        ]
        typer.echo(json.dumps({"pending": rows, "next_after": next_after}, indent=2))
        return
    table = Table(title="open pending transfers, oldest first")
    for column in ("id", "debit", "credit", "amount", "reserved at (UTC)", "expires at (UTC)"):
        table.add_column(column, justify="right" if column == "amount" else "left", overflow="fold")
    for p in page:
        t = p.transfer
        table.add_row(
            show_id(t.id),
            show_id(t.debit_account_id),
            show_id(t.credit_account_id),
            money_of(t.amount, t.ledger),
            show_time(t.timestamp),
            show_time(p.expires_at) if p.expires_at else "never",
        )
    console.print(table)
    if next_after is not None:
        console.print(f"next page: --after {next_after}")


@app.command()
def verify(
    expect_head: Annotated[
        str | None, typer.Option("--expect-head", help="A head hash published earlier (hex): must still be the head.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Check double entry, then verify the hash chain and every balance; exit 1 on any problem.

    Opens the ledger read-only, so it runs beside a writer and takes no lock.
    """
    if expect_head is not None and not _is_hash(expect_head):
        fail(f"--expect-head {expect_head!r} is not a SHA-256 hash (64 hexadecimal digits)")
    with opened(db, schema, readonly=True) as led:
        check = led.check()
        report = led.verify(expected_head=expect_head)
    problems = check.problems + report.problems
    if as_json:
        data = {
            "ok": not problems,
            "groups": report.groups,
            "accounts": report.accounts,
            "transfers": report.transfers,
            "expiries": report.expiries,
            "head": report.head,
            "ledgers": [dataclasses.asdict(t) for t in check.ledgers],
            "problems": problems,
        }
        typer.echo(json.dumps(data, indent=2))
    else:
        console.print(
            f"groups {report.groups}, accounts {report.accounts}, transfers {report.transfers}, "
            f"expiries {report.expiries}"
        )
        for t in check.ledgers:
            console.print(
                f"ledger {t.ledger}: {t.accounts} accounts, debits posted {money_of(t.debits_posted, t.ledger)}, "
                f"credits posted {money_of(t.credits_posted, t.ledger)}"
            )
        console.print(f"head {report.head}", soft_wrap=True)
        for problem in problems:
            console.print(f"[bold red]problem:[/] {escape(problem)}", soft_wrap=True)
        console.print("[bold green]OK[/]" if not problems else f"[bold red]{len(problems)} problem(s)[/]")
    if problems:
        raise typer.Exit(EXIT_FAILED)


def _is_hash(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)
