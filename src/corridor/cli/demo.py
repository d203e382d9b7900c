"""`corridor demo`: a walkthrough of the ledger on the embedded default (one SQLite file), in a few seconds.

It books what a RU/VE corridor's central banks and commercial banks would: settlement accounts at each central bank,
importer and exporter deposits at each bank, a liquidity injection, a customer payment through the central bank, a
two-phase payment posted in part, a voided hold, a linked chain that fails whole, an idempotent retry; then it checks
double entry and verifies the journal, so that a newcomer sees every guarantee of docs/ledger.md once, on real
output. Both currencies sit in one ledger file as two ledgers (643 RUB, 928 VES): a transfer never crosses them.
Later issues grow this into the full corridor demo (interbank messages, FX, cards).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.progress import track
from rich.table import Table

from corridor.cli.common import EXIT_FAILED, console, fail, opened
from corridor.ledger import Account, AccountFlags, CreateTransferResult, Ledger, Transfer, TransferFlags
from corridor.money import Currency, Money, currency

RUB, VES = currency("RUB"), currency("VES")
LIMITED = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
LINKED, PENDING = TransferFlags.LINKED, TransferFlags.PENDING

# Account codes (the application's choice, see docs/ledger.md): what kind of account each one is.
CENTRAL_BANK, SETTLEMENT, CUSTOMER = 1, 2, 3
# Transfer codes: what kind of movement.
ISSUANCE, DEPOSIT, PAYMENT = 10, 20, 30


@dataclass(frozen=True, slots=True)
class DemoAccount:
    id: int
    name: str
    role: str
    where: str
    cur: Currency
    code: int
    flags: int


# Every name and BIC below is illustrative: DEM* BICs are made up, and no real institution's data is used.
ACCOUNTS = [
    DemoAccount(1, "CB-RU", "issuance", "CB-RU", RUB, CENTRAL_BANK, 0),
    DemoAccount(2, "RU Bank A", "settlement", "CB-RU / DEMARUMM", RUB, SETTLEMENT, LIMITED),
    DemoAccount(3, "RU Bank B", "settlement", "CB-RU / DEMBRUMM", RUB, SETTLEMENT, LIMITED),
    DemoAccount(11, "Volga Truck Parts", "exporter", "RU Bank A / DEMARUMM", RUB, CUSTOMER, LIMITED),
    DemoAccount(12, "Kama Coffee Imports", "importer", "RU Bank A / DEMARUMM", RUB, CUSTOMER, LIMITED),
    DemoAccount(13, "Ural Fertilizers", "exporter", "RU Bank B / DEMBRUMM", RUB, CUSTOMER, LIMITED),
    DemoAccount(14, "Neva Machinery", "importer", "RU Bank B / DEMBRUMM", RUB, CUSTOMER, LIMITED),
    DemoAccount(21, "CB-VE", "issuance", "CB-VE", VES, CENTRAL_BANK, 0),
    DemoAccount(22, "VE Bank A", "settlement", "CB-VE / DEMAVECA", VES, SETTLEMENT, LIMITED),
    DemoAccount(23, "VE Bank B", "settlement", "CB-VE / DEMBVECA", VES, SETTLEMENT, LIMITED),
    DemoAccount(31, "Orinoco Cafe", "exporter", "VE Bank A / DEMAVECA", VES, CUSTOMER, LIMITED),
    DemoAccount(32, "Caracas Transportes", "importer", "VE Bank A / DEMAVECA", VES, CUSTOMER, LIMITED),
    DemoAccount(33, "Andes Cacao", "exporter", "VE Bank B / DEMBVECA", VES, CUSTOMER, LIMITED),
    DemoAccount(34, "Maracaibo Agro", "importer", "VE Bank B / DEMBVECA", VES, CUSTOMER, LIMITED),
]
BY_ID = {a.id: a for a in ACCOUNTS}


def _t(id: int, debit: int, credit: int, amount: str, code: int, flags: int = 0, timeout: int = 0) -> Transfer:
    """A transfer between two demo accounts, the amount in major units of their currency (exact, never a float)."""
    cur = BY_ID[debit].cur
    return Transfer(
        id=id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=Money.of(amount, cur).minor,
        ledger=cur.numeric or 0,
        code=code,
        flags=flags,
        timeout=timeout,
    )


# The truck-parts payment: Neva Machinery (RU Bank B) pays Volga Truck Parts (RU Bank A). Three legs, linked, so
# that the customers' and the banks' books move together or not at all.
TRUCK_PARTS = [
    _t(107, 14, 3, "1 234 567.89", PAYMENT, LINKED),
    _t(108, 3, 2, "1 234 567.89", PAYMENT, LINKED),
    _t(109, 2, 11, "1 234 567.89", PAYMENT),
]

STEPS: list[tuple[str, list[Transfer]]] = [
    (
        "liquidity injection: each central bank credits its banks' settlement accounts",
        [
            _t(101, 1, 2, "5 000 000", ISSUANCE),
            _t(102, 1, 3, "3 000 000", ISSUANCE),
            _t(103, 21, 22, "2 000 000", ISSUANCE),
            _t(104, 21, 23, "1 500 000", ISSUANCE),
        ],
    ),
    (
        "importers' deposits funded at their banks",
        [
            _t(105, 2, 12, "1 500 000", DEPOSIT),
            _t(106, 3, 14, "2 000 000", DEPOSIT),
            _t(110, 22, 32, "400 000", DEPOSIT),
            _t(111, 23, 34, "300 000", DEPOSIT),
        ],
    ),
    ("payment: Neva Machinery pays Volga Truck Parts 1 234 567.89 RUB (3 linked legs)", TRUCK_PARTS),
    (
        "two-phase: 50 000.00 VES held on Caracas Transportes for Orinoco Cafe (1 h timeout)",
        [_t(120, 32, 31, "50 000", PAYMENT, PENDING, timeout=3600)],
    ),
    (
        "... then 42 500.50 VES posted, the other 7 499.50 VES released",
        [
            Transfer(
                id=121,
                pending_id=120,
                amount=Money.of("42 500.50", VES).minor,
                flags=TransferFlags.POST_PENDING_TRANSFER,
            )
        ],
    ),
    (
        "a 10 000.00 VES hold on Maracaibo Agro for Andes Cacao, then voided",
        [
            _t(122, 34, 33, "10 000", PAYMENT, PENDING),
            Transfer(id=123, pending_id=122, flags=TransferFlags.VOID_PENDING_TRANSFER),
        ],
    ),
    (
        "linked chain: Kama Coffee Imports pays 1 000 000 + 600 000 of its 1 500 000 RUB: fails whole",
        [_t(130, 12, 13, "1 000 000", PAYMENT, LINKED), _t(131, 12, 13, "600 000", PAYMENT)],
    ),
    ("the truck-parts payment resubmitted after a timeout: exists, applied once", TRUCK_PARTS),
]


def _balances(ledger: Ledger) -> dict[int, tuple[int, int]]:
    """(balance, reserved) per demo account, in minor units."""
    return {a.id: (a.balance, a.debits_pending) for a in ledger.lookup_accounts(list(BY_ID))}


def _changes(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> list[str]:
    """What a step did to each account it touched, as money, so the reader can follow every movement."""
    lines = []
    for a in ACCOUNTS:
        (bal0, held0), (bal1, held1) = before[a.id], after[a.id]
        parts = []
        if bal0 != bal1:
            parts.append(f"balance {Money(bal0, a.cur).format_amount()} -> {Money(bal1, a.cur)}")
        if held0 != held1:
            parts.append(f"held {Money(held0, a.cur).format_amount()} -> {Money(held1, a.cur)}")
        if parts:
            lines.append(f"{a.name} ({a.role}): {', '.join(parts)}")
    return lines


def _remove_previous_run(path: Path) -> None:
    """Delete only the demo's own files, never the directory: --data-dir may be a directory the user cares about."""
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the demo's ledger file goes (ledger.db, recreated each run).")
    ] = Path("data/demo"),
) -> None:
    """Run the ledger walkthrough on a fresh SQLite ledger: accounts, payments, holds, failures, verification."""
    path = data_dir / "ledger.db"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        _remove_previous_run(path)
    except OSError as exc:
        fail(f"cannot prepare the demo's data directory {data_dir}: {exc}", EXIT_FAILED)
    console.print(
        Panel.fit(
            "[bold]Corridor ledger walkthrough[/]: Russia (RUB, ledger 643) and Venezuela (VES, ledger 928)\n"
            f"ledger file: {path}\n"
            "CB-RU: a Bank of Russia-like central bank; CB-VE: a BCV-like one\n"
            "[dim]All names and BICs are illustrative; no real institution's identifiers or balances are used.[/]",
        )
    )
    with opened(str(path), None) as ledger:
        accounts = [Account(id=a.id, ledger=a.cur.numeric or 0, code=a.code, flags=a.flags) for a in ACCOUNTS]
        results = ledger.create_accounts(accounts)
        table = Table(
            title=f"{len(accounts)} accounts created ({', '.join(sorted({r.name for r in results}))}); "
            "all but the issuance accounts refuse overdrafts",
            title_justify="left",
        )
        for column in ("id", "account", "role", "held at / BIC", "ledger"):
            table.add_column(column)
        for a in ACCOUNTS:
            table.add_row(str(a.id), a.name, a.role, a.where, f"{a.cur.numeric} {a.cur.code}")
        console.print(table)
        if not all(r.succeeded for r in results):
            fail("the demo's accounts could not be created", EXIT_FAILED)

        surprises: list[str] = []
        for title, batch in track(STEPS, description="posting transfers", console=console, transient=True):
            before = _balances(ledger)
            outcome = ledger.create_transfers(batch)
            after = _balances(ledger)
            console.print(f"[bold]{title}[/]")
            console.print("   results:", ", ".join(f"{t.id} {r.name}" for t, r in zip(batch, outcome, strict=True)))
            for line in _changes(before, after):
                console.print(f"   {line}")
            failed_whole = all(not r.succeeded for r in outcome)
            replayed = all(r is CreateTransferResult.exists for r in outcome)
            if failed_whole or replayed:
                unchanged = before == after
                console.print(f"   balances unchanged: {'yes' if unchanged else '[bold red]NO[/]'}")
                if not unchanged:
                    surprises.append(title)
            elif not all(r.succeeded for r in outcome):
                surprises.append(title)

        table = Table(
            title="balances (credits posted - debits posted; held: reserved by open holds)", title_justify="left"
        )
        table.add_column("id")
        table.add_column("account")
        table.add_column("balance", justify="right", no_wrap=True)
        table.add_column("held", justify="right", no_wrap=True)
        found = _balances(ledger)
        for a in ACCOUNTS:
            balance, reserved = found[a.id]
            table.add_row(str(a.id), f"{a.name} ({a.role})", str(Money(balance, a.cur)), str(Money(reserved, a.cur)))
        console.print(table)

        check = ledger.check()
        report = ledger.verify()
        for totals in check.ledgers:
            cur = currency(totals.ledger)
            console.print(
                f"ledger {totals.ledger} ({cur.code}): debits posted {Money(totals.debits_posted, cur)} = "
                f"credits posted {Money(totals.credits_posted, cur)}"
            )
        ok = check.ok and report.ok and not surprises
        status = "[bold green]OK[/]" if ok else "[bold red]FAILED[/]"
        console.print(
            f"double entry and journal: {status} ({report.groups} groups, {report.accounts} accounts, "
            f"{report.transfers} transfers verified)"
        )
        for problem in [*check.problems, *report.problems, *(f"unexpected outcome: {s}" for s in surprises)]:
            console.print(f"   [red]problem:[/] {escape(problem)}")
        console.print(
            f"journal head: {report.head}  (publish it; `verify --expect-head` detects any rollback)", soft_wrap=True
        )
    console.print(
        Panel.fit(
            f"corridor ledger verify --db {path}\n"
            f"corridor ledger history --db {path} --id 11\n"
            f"corridor ledger balance --db {path} --id 32\n"
            "corridor bench ledger --json",
            title="next",
            title_align="left",
        )
    )
    if not ok:
        raise typer.Exit(EXIT_FAILED)
