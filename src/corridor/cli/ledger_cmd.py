"""`corridor ledger ...`: create accounts, post transfers, read balances and history, verify the journal."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from corridor.cli.common import (
    DEFAULT_DB,
    DbOption,
    SchemaOption,
    amount_to_minor,
    console,
    fail,
    money_of,
    opened,
    parse_id,
    parse_ledger,
    show_id,
)
from corridor.ledger import Account, AccountFlags, Transfer, TransferFlags

app = typer.Typer(no_args_is_help=True, help="Work with one ledger: accounts, transfers, balances, verification.")


class AccountFlag(StrEnum):
    debits_must_not_exceed_credits = "debits-must-not-exceed-credits"
    credits_must_not_exceed_debits = "credits-must-not-exceed-debits"
    history = "history"


_ACCOUNT_FLAGS = {
    AccountFlag.debits_must_not_exceed_credits: AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
    AccountFlag.credits_must_not_exceed_debits: AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
    AccountFlag.history: AccountFlags.HISTORY,
}


@app.command("create-account")
def create_account(
    id: Annotated[str, typer.Option("--id", help="Account id (decimal or 0x-hex).")],
    ledger: Annotated[str, typer.Option("--ledger", help="Currency: ISO code (RUB) or number (643).")],
    code: Annotated[int, typer.Option("--code", min=1, max=65535, help="Account kind.")],
    flag: Annotated[list[AccountFlag] | None, typer.Option("--flag", help="Account flag (repeatable).")] = None,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Create an account; prints the result code (exists when an identical account was created before)."""
    flags = 0
    for f in flag or []:
        flags |= _ACCOUNT_FLAGS[f]
    account = Account(id=parse_id(id), ledger=parse_ledger(ledger), code=code, flags=flags)
    with opened(db, schema) as led:
        (result,) = led.create_accounts([account])
    console.print(result.name)
    if not result.succeeded:
        raise typer.Exit(1)


@app.command()
def transfer(
    id: Annotated[str, typer.Option("--id", help="Transfer id: the idempotency key.")],
    debit: Annotated[str | None, typer.Option("--debit", help="Debit account id.")] = None,
    credit: Annotated[str | None, typer.Option("--credit", help="Credit account id.")] = None,
    amount: Annotated[str | None, typer.Option("--amount", help="Amount in major units, e.g. '1 234.56'.")] = None,
    amount_minor: Annotated[int | None, typer.Option("--amount-minor", min=0, help="Amount in minor units.")] = None,
    ledger: Annotated[str | None, typer.Option("--ledger", help="Currency: ISO code or number.")] = None,
    code: Annotated[int, typer.Option("--code", min=0, max=65535, help="Transfer kind.")] = 1,
    pending: Annotated[bool, typer.Option("--pending", help="Reserve only (two-phase).")] = False,
    timeout: Annotated[int, typer.Option("--timeout", min=0, help="Seconds before a pending transfer expires.")] = 0,
    post: Annotated[str | None, typer.Option("--post", help="Post this pending transfer.")] = None,
    void: Annotated[str | None, typer.Option("--void", help="Void this pending transfer.")] = None,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Post a transfer (or reserve, post or void a two-phase one); prints the result code."""
    if post and void:
        fail("give --post or --void, not both")
    if amount is not None and amount_minor is not None:
        fail("give --amount or --amount-minor, not both")
    ledger_no = parse_ledger(ledger) if ledger else 0
    minor = amount_minor or 0
    if amount is not None:
        if not ledger_no:
            fail("--amount needs --ledger to know the currency's decimals")
        minor = amount_to_minor(amount, ledger_no)
    flags = TransferFlags.PENDING if pending else 0
    pending_id = 0
    if post or void:
        flags = TransferFlags.POST_PENDING_TRANSFER if post else TransferFlags.VOID_PENDING_TRANSFER
        pending_id = parse_id(post or void or "", "pending transfer id")
    elif not (debit and credit and ledger_no):
        fail("a transfer needs --debit, --credit, --ledger and an amount")
    event = Transfer(
        id=parse_id(id),
        debit_account_id=parse_id(debit, "debit account") if debit else 0,
        credit_account_id=parse_id(credit, "credit account") if credit else 0,
        amount=minor,
        ledger=ledger_no,
        code=code,
        flags=flags,
        pending_id=pending_id,
        timeout=timeout,
    )
    with opened(db, schema) as led:
        (result,) = led.create_transfers([event])
    console.print(result.name)
    if not result.succeeded:
        raise typer.Exit(1)


@app.command()
def balance(
    id: Annotated[str, typer.Option("--id", help="Account id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (minor units).")] = False,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Show an account's balances in its currency."""
    with opened(db, schema, readonly=True) as led:
        account = led.get_account(parse_id(id))
    if account is None:
        fail(f"account {id} not found", 1)
    if as_json:
        fields = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")
        data = {f: getattr(account, f) for f in fields}
        console.print_json(
            json.dumps({"id": str(account.id), "ledger": account.ledger, **data, "balance": account.balance})
        )
        return
    table = Table(title=f"account {show_id(account.id)} (ledger {account.ledger}, code {account.code})")
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
    console.print(f"balance (credits - debits, posted): [bold]{money_of(account.balance, account.ledger)}[/]")


@app.command()
def history(
    id: Annotated[str, typer.Option("--id", help="Account id.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 20,
    before: Annotated[int | None, typer.Option("--before", help="Cursor printed by the previous page.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """An account's transfers, newest first, a page at a time."""
    account_id = parse_id(id)
    with opened(db, schema, readonly=True) as led:
        page = led.account_transfers(account_id, limit=limit, before=before)
    if as_json:
        rows = [
            {
                "id": str(t.id),
                "debit": str(t.debit_account_id),
                "credit": str(t.credit_account_id),
                "amount": t.amount,
                "ledger": t.ledger,
                "code": t.code,
                "flags": t.flags,
                "timestamp": t.timestamp,
            }
            for t in page
        ]
        console.print_json(json.dumps({"transfers": rows, "next_before": page[-1].timestamp if page else None}))
        return
    table = Table(title=f"history of account {show_id(account_id)}")
    for column in ("timestamp", "id", "direction", "amount", "flags"):
        table.add_column(column)
    for t in page:
        direction = (
            f"to {show_id(t.credit_account_id)}"
            if t.debit_account_id == account_id
            else (f"from {show_id(t.debit_account_id)}")
        )
        table.add_row(
            str(t.timestamp),
            show_id(t.id),
            direction,
            money_of(t.amount, t.ledger),
            str(TransferFlags(t.flags).name or ""),
        )
    console.print(table)
    if len(page) == limit:
        console.print(f"next page: --before {page[-1].timestamp}")


@app.command()
def pending(
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = 50,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Open pending transfers (reservations not yet posted, voided or expired)."""
    with opened(db, schema, readonly=True) as led:
        page = led.pending_transfers(limit=limit)
    table = Table(title="open pending transfers")
    for column in ("id", "debit", "credit", "amount", "expires at (ns)"):
        table.add_column(column)
    for p in page:
        t = p.transfer
        table.add_row(
            show_id(t.id),
            show_id(t.debit_account_id),
            show_id(t.credit_account_id),
            money_of(t.amount, t.ledger),
            str(p.expires_at or "never"),
        )
    console.print(table)


@app.command()
def verify(
    expect_head: Annotated[str | None, typer.Option("--expect-head", help="Head hash published earlier.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    db: DbOption = DEFAULT_DB,
    schema: SchemaOption = None,
) -> None:
    """Check double entry and verify the hash chain and every balance; exit 1 on any problem."""
    with opened(db, schema, readonly=True) as led:
        check = led.check()
        report = led.verify(expected_head=expect_head)
    problems = check.problems + report.problems
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "ok": not problems,
                    "groups": report.groups,
                    "accounts": report.accounts,
                    "transfers": report.transfers,
                    "expiries": report.expiries,
                    "head": report.head,
                    "problems": problems,
                }
            )
        )
    else:
        console.print(
            f"groups {report.groups}, accounts {report.accounts}, transfers {report.transfers}, "
            f"expiries {report.expiries}"
        )
        console.print(f"head {report.head}")
        for problem in problems:
            console.print(f"[red]problem:[/] {problem}", highlight=False)
        console.print("[bold green]OK[/]" if not problems else f"[bold red]{len(problems)} problem(s)[/]")
    if problems:
        raise typer.Exit(1)
