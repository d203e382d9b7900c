"""`corridor demo`: a walkthrough of the ledger on the embedded default (one SQLite file), in a few seconds.

It books what a RU/VE corridor's central banks and banks would: settlement accounts, a liquidity injection, customer
payments, a two-phase payment posted in part, a voided hold, a linked chain that fails whole, an idempotent retry;
then it checks double entry and verifies the journal. Later issues grow this into the full corridor demo.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.panel import Panel
from rich.progress import track
from rich.table import Table

from corridor.cli.common import console
from corridor.ledger import Account, AccountFlags, Ledger, Transfer, TransferFlags
from corridor.money import Money, currency

RUB, VES = currency("RUB"), currency("VES")
LIMITED = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS

# Illustrative names only: no real institution's identifiers or balances.
ACCOUNTS: list[tuple[int, str, int, int]] = [
    (1, "CB-RU issuance (RUB)", 643, 0),
    (2, "CB-RU: settlement of RU Bank One", 643, LIMITED),
    (3, "CB-RU: settlement of RU Bank Two", 643, LIMITED),
    (11, "RU Bank One: exporter 'Volga Truck Parts'", 643, LIMITED),
    (12, "RU Bank Two: importer 'Ural Machinery'", 643, LIMITED),
    (21, "CB-VE issuance (VES)", 928, 0),
    (22, "CB-VE: settlement of VE Bank One", 928, LIMITED),
    (31, "VE Bank One: importer 'Caracas Transportes'", 928, LIMITED),
    (32, "VE Bank One: exporter 'Orinoco Cafe'", 928, LIMITED),
]


def _rub(text: str) -> int:
    return Money.of(text, RUB).minor


def _ves(text: str) -> int:
    return Money.of(text, VES).minor


def _t(id: int, debit: int, credit: int, amount: int, ledger: int, flags: int = 0, timeout: int = 0) -> Transfer:
    return Transfer(
        id=id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=amount,
        ledger=ledger,
        code=1,
        flags=flags,
        timeout=timeout,
    )


def demo(
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the demo's ledger file goes (recreated).")] = Path(
        "data/demo"
    ),
) -> None:
    """Run the ledger walkthrough on a fresh SQLite ledger."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    path = data_dir / "ledger.db"
    console.print(
        Panel.fit(
            "Corridor ledger walkthrough: RU/RUB and VE/VES\n[dim]names and identifiers are illustrative[/]",
            style="bold",
        )
    )
    with Ledger.open(str(path)) as ledger:
        accounts = [Account(id=i, ledger=lg, code=1, flags=f) for i, _, lg, f in ACCOUNTS]
        console.print(f"create {len(accounts)} accounts:", [r.name for r in ledger.create_accounts(accounts)])

        steps: list[tuple[str, list[Transfer]]] = [
            (
                "liquidity injection: CB-RU credits RU Bank One 5 000 000.00 RUB and RU Bank Two 2 000 000.00 RUB",
                [_t(101, 1, 2, _rub("5 000 000"), 643), _t(102, 1, 3, _rub("2 000 000"), 643)],
            ),
            (
                "customers funded at their banks",
                [
                    _t(103, 2, 11, _rub("250 000"), 643),
                    _t(104, 3, 12, _rub("1 500 000"), 643),
                    _t(105, 21, 22, _ves("900 000"), 928),
                    _t(106, 22, 31, _ves("400 000"), 928),
                ],
            ),
            (
                "importer pays exporter 1 234 567.89 RUB for truck parts (two linked legs through the central bank)",
                [
                    _t(107, 12, 3, _rub("1 234 567.89"), 643, TransferFlags.LINKED),
                    _t(108, 3, 2, _rub("1 234 567.89"), 643, TransferFlags.LINKED),
                    _t(109, 2, 11, _rub("1 234 567.89"), 643),
                ],
            ),
            (
                "two-phase: a 50 000.00 VES hold on the importer, then 42 500.50 VES posted (the rest released)",
                [_t(110, 31, 32, _ves("50 000"), 928, TransferFlags.PENDING, timeout=3600)],
            ),
            (
                "",
                [Transfer(id=111, pending_id=110, amount=_ves("42 500.50"), flags=TransferFlags.POST_PENDING_TRANSFER)],
            ),
            (
                "a 10 000.00 VES hold, then voided",
                [
                    _t(112, 31, 32, _ves("10 000"), 928, TransferFlags.PENDING),
                    Transfer(id=113, pending_id=112, flags=TransferFlags.VOID_PENDING_TRANSFER),
                ],
            ),
            (
                "a linked chain that would overdraw the importer: fails whole, changes nothing",
                [_t(114, 12, 3, _rub("200 000"), 643, TransferFlags.LINKED), _t(115, 12, 3, _rub("100 000"), 643)],
            ),
            (
                "the truck-parts payment resubmitted after a timeout: answered exists, applied once",
                [
                    _t(107, 12, 3, _rub("1 234 567.89"), 643, TransferFlags.LINKED),
                    _t(108, 3, 2, _rub("1 234 567.89"), 643, TransferFlags.LINKED),
                    _t(109, 2, 11, _rub("1 234 567.89"), 643),
                ],
            ),
        ]
        for title, batch in track(steps, description="posting", console=console):
            results = ledger.create_transfers(batch)
            if title:
                console.print(f"[bold]{title}[/]")
            console.print("   ", ", ".join(r.name for r in results))

        table = Table(title="balances (credits - debits, posted)")
        table.add_column("account")
        table.add_column("balance", justify="right")
        table.add_column("reserved", justify="right")
        found = {a.id: a for a in ledger.lookup_accounts([i for i, *_ in ACCOUNTS])}
        for i, name, lg, _ in ACCOUNTS:
            a = found[i]
            cur = currency(lg)
            table.add_row(name, str(Money(a.balance, cur)), str(Money(a.debits_pending, cur)))
        console.print(table)
        check = ledger.check()
        report = ledger.verify()
        for totals in check.ledgers:
            console.print(
                f"ledger {totals.ledger} ({currency(totals.ledger).code}): debits "
                f"{Money(totals.debits_posted, currency(totals.ledger))} = credits "
                f"{Money(totals.credits_posted, currency(totals.ledger))}"
            )
        status = "[bold green]OK[/]" if check.ok and report.ok else "[bold red]FAILED[/]"
        console.print(f"double entry and journal: {status} ({report.groups} groups, {report.transfers} transfers)")
        console.print(f"journal head: {report.head}")
    console.print(
        f"\nnext: corridor ledger verify --db {path}   |   corridor ledger history --db {path} --id 11"
        "   |   corridor bench ledger --json"
    )
    if not (check.ok and report.ok):
        raise typer.Exit(1)
