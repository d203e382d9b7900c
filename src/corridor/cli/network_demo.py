"""`corridor demo`: the corridor's interbank network on the embedded default, end to end, in seconds.

Every participant of the scenario runs as a node with its own key, ledger file and records, on the in-process
transport: the central banks inject liquidity (pacs.009); a Venezuelan importer pays a Russian exporter for truck
parts in roubles and a Russian importer pays a Venezuelan exporter in bolivars (pacs.008 through both central banks,
FX quote, two-phase commit, pacs.002); a payment to a closed account is rejected (AC04) with every reservation
released; a payment is recalled (camt.056, camt.029) and returned (pacs.004). Then a day of the card scheme
(cards_demo) and the digital currencies in trade (digital_demo: issuance, an escrow released by the bill of lading,
a PvP swap across the two platforms, an inclusion proof and a proof of reserves). Then every ledger is checked and
verified, and every message exchanged is written to <data dir>/messages/ as one XML file (envelope, header,
document and signature).
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from corridor.cli.cards_demo import card_day
from corridor.cli.common import EXIT_FAILED, console, fail
from corridor.cli.digital_demo import digital_story
from corridor.money import Money
from corridor.network.context import Context, ledger_id
from corridor.network.transport.memory import MemoryTransport
from corridor.node.network import EmbeddedNetwork
from corridor.scenario import ScenarioError, load_scenario
from corridor.transfers.bank import BankRole


@dataclass(frozen=True, slots=True)
class DemoPayment:
    key: str
    title: str
    debtor: str
    creditor: str
    amount: str
    remittance: str
    then_recall: bool = False


PAYMENTS = [
    DemoPayment(
        "demo-1",
        "VE->RU in RUB",
        "VE0102010000000000031",
        "RU0440701810000000011",
        "1 250 000.00 RUB",
        "INV-2026-0042 truck parts: tyres, batteries, spare parts (FCA Novorossiysk)",
    ),
    DemoPayment(
        "demo-2",
        "RU->VE in VES",
        "RU0440701810000000012",
        "VE0102010000000000032",
        "800 000.00 VES",
        "INV-VE-311 green coffee, 40 t (FOB La Guaira)",
    ),
    DemoPayment(
        "demo-3",
        "VE->RU, fixed VES",
        "VE0134020000000000041",
        "RU0440702810000000021",
        "200 000.00 VES",
        "INV-77 fertilizer",
    ),
    DemoPayment(
        "demo-4",
        "to a closed account",
        "VE0102010000000000031",
        "RU0440702810000000022",
        "10 000.00 RUB",
        "INV-13 machine parts",
    ),
    DemoPayment(
        "demo-5",
        "duplicate, recalled",
        "RU0440701810000000012",
        "VE0134020000000000042",
        "100 000.00 VES",
        "INV-VE-311 (duplicate)",
        then_recall=True,
    ),
    DemoPayment(
        "demo-6",
        "domestic RU (RTGS)",
        "RU0440701810000000012",
        "RU0440702810000000021",
        "50 000.00 RUB",
        "INV-RU-5 domestic supplies",
    ),
]


def _balance(net: EmbeddedNetwork, bank: str, number: str) -> int:
    account = net.nodes[bank].ledger.get_account(ledger_id(bank, "account", number))
    return 0 if account is None else account.credits_posted - account.debits_posted


def _write_messages(net: EmbeddedNetwork, target: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    rows = [(at, bic, row) for bic, node in net.nodes.items() for at, row in node.store.sent_messages()]
    rows.sort(key=lambda item: (item[0], item[1], item[2].seq))
    for index, (_, sender, row) in enumerate(rows, start=1):
        name = f"{index:04d}_{row.message_type}_{sender}_to_{row.recipient}_{row.message_id}.xml"
        (target / name).write_bytes(row.data)
    return len(rows)


async def _statement(bank: BankRole, number: str, end_ns: int, ctx: Context) -> None:
    await bank.statement(ctx, number, 0, end_ns)


def _write_reports(net: EmbeddedNetwork, target: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for bic, node in net.nodes.items():
        for kind, account, _, data in node.store.reports():
            count += 1
            (target / f"{count:04d}_{kind}_{bic}_{account}.xml").write_bytes(data)
    return count


async def _run(data_dir: Path, scenario_path: Path | None) -> None:
    scenario = load_scenario(scenario_path)
    known = {account.number for account in scenario.accounts}
    missing = sorted({n for p in PAYMENTS for n in (p.debtor, p.creditor)} - known)
    if missing:
        raise ScenarioError(
            f"the demo's story pays between the default scenario's accounts; this scenario lacks {', '.join(missing)} "
            "(run its network with `corridor network init --scenario ...` and pay with `corridor network pay`)"
        )
    net = EmbeddedNetwork(scenario, data_dir, MemoryTransport())
    started = time.perf_counter()
    await net.start()
    await net.quiesce()
    console.print(
        f"[bold]{len(net.nodes)} nodes[/] started ({scenario.name}); "
        "liquidity injected by both central banks (pacs.009)"
    )
    results = Table(title="cross-border and domestic credit transfers", title_justify="left")
    for column in ("payment", "from", "to", "instructed", "payer debited", "payee credited", "outcome"):
        results.add_column(column)
    uetrs: list[tuple[DemoPayment, str]] = []
    for payment in PAYMENTS:
        debtor, creditor = scenario.account(payment.debtor), scenario.account(payment.creditor)
        before = _balance(net, debtor.bank, debtor.number), _balance(net, creditor.bank, creditor.number)
        amount = Money.parse(payment.amount)
        uetr = await net.pay(
            debtor_account=payment.debtor,
            creditor_account=payment.creditor,
            amount=amount,
            idempotency_key=payment.key,
            remittance=payment.remittance,
        )
        outcome = await net.settle(uetr, debtor.bank)
        if payment.then_recall and outcome == "completed":
            await net.settle(uetr, creditor.bank, states=("completed",))
            await net.act(
                debtor.bank, functools.partial(net.bank(debtor.bank).recall, uetr=uetr, reason="DUPL"), lock=uetr
            )
            outcome = await net.settle(uetr, debtor.bank, states=("returned", "recall_answered"))
        await net.quiesce()
        after = _balance(net, debtor.bank, debtor.number), _balance(net, creditor.bank, creditor.number)
        paid = Money(before[0] - after[0], net.bank(debtor.bank).currency)
        got = Money(after[1] - before[1], net.bank(creditor.bank).currency)
        reason = next((e.reason for e in net.nodes[debtor.bank].store.events(uetr) if e.reason), None)
        results.add_row(
            payment.title,
            debtor.name,
            creditor.name,
            str(amount),
            str(paid),
            str(got),
            outcome + (f" ({reason})" if reason and outcome != "completed" else ""),
        )
        uetrs.append((payment, uetr))
    console.print(results)
    if scenario.cards is not None:
        await card_day(net, data_dir, datetime.now(UTC).strftime("%Y%m%d"))
    digital = await digital_story(net, data_dir) if scenario.digital is not None else None
    positions = Table(title="central banks' bilateral net position (loro balance beyond the swap line)")
    for column in ("central bank", "counterpart", "net position", "swap line"):
        positions.add_column(column)
    for bic in (p.bic for p in scenario.participants if p.role == "central_bank"):
        role = net.central_bank(bic)
        for peer in role.peers:
            positions.add_row(bic, peer.bic, str(role.net_position(peer.bic)), str(role.swap_limit()))
    console.print(positions)
    cycle = Table(title="end-of-day settlement cycle: each central bank settles its side with the FX provider")
    for column in ("central bank", "counterpart", "position settled", "net position after"):
        cycle.add_column(column)
    for bic in (p.bic for p in scenario.participants if p.role == "central_bank"):
        role = net.central_bank(bic)
        settled = await net.act(bic, functools.partial(role.settle_cycle, cycle="EOD1"))
        for peer, position in settled:
            cycle.add_row(bic, peer, str(position), str(role.net_position(peer)))
    await net.quiesce()
    console.print(cycle)
    statements = 0
    end_ns = net.clock() + 1
    for spec in scenario.accounts:
        if spec.status == "closed":
            continue
        bank = net.bank(spec.bank)
        await net.act(spec.bank, functools.partial(_statement, bank, spec.number, end_ns))
        statements += 1
    problems = []
    for bic, node in net.nodes.items():
        if not node.ledger.check().ok or not node.ledger.verify().ok:
            problems.append(bic)
        if node.ledger.pending_transfers():
            problems.append(f"{bic} (open reservations)")
    written = _write_messages(net, data_dir / "messages")
    reports = _write_reports(net, data_dir / "statements")
    elapsed = time.perf_counter() - started
    await net.stop()
    if problems:
        fail(f"ledger checks failed at {', '.join(problems)}", EXIT_FAILED)
    console.print(
        f"every node's ledger: double entry holds, journal verified, no reservation left open "
        f"({len(net.nodes)} ledgers, {elapsed:.1f} s)"
    )
    console.print(f"{written} ISO 20022 messages written to {escape(str(data_dir / 'messages'))}/")
    console.print(
        f"{reports} customer documents (camt.054 notifications, {statements} camt.053 statements that reconcile with "
        f"the ledgers) written to {escape(str(data_dir / 'statements'))}/"
    )
    first = uetrs[0][1]
    verify = (
        ""
        if digital is None
        else f"corridor verify-proof {escape(str(digital.proof_file))} --key {digital.platform_key}\n"
    )
    console.print(
        Panel.fit(
            f"corridor track {first} --data-dir {escape(str(data_dir))}\n"
            f"ls {escape(str(data_dir / 'messages'))}\n"
            f"{verify}"
            "corridor network init && corridor network run   # one process per participant on NATS\n"
            f"cat {escape(str(data_dir / 'cards'))}/settlement-*.txt   # the card scheme's settlement report\n"
            "corridor ledger demo          # the ledger on its own\n"
            "corridor bench transfers --json\n"
            "corridor bench cards --json\n"
            "corridor bench tokens --json",
            title="next",
        )
    )


def demo(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Where the nodes' files and the messages go (recreated each run).")
    ] = Path("data/demo"),
    scenario: Annotated[
        Path | None, typer.Option("--scenario", help="A scenario TOML file (default: Russia - Venezuela).")
    ] = None,
) -> None:
    """Run the corridor on the embedded default: payments both ways, a rejection, a recall and return."""
    try:
        stale_parts = ("nodes", "messages", "statements", "keys", "cards", "digital", "wallets", "proofs")
        for stale in (*stale_parts, "directory.json"):
            path = data_dir / stale
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot prepare the demo's data directory {data_dir}: {exc}", EXIT_FAILED)
    console.print(
        Panel.fit(
            "[bold]Corridor[/]: Russia (RUB) and Venezuela (VES) paying each other in their own currencies\n"
            "[dim]Every institution, BIC and account number is illustrative.[/]"
        )
    )
    try:
        asyncio.run(_run(data_dir, scenario))
    except ScenarioError as exc:
        fail(f"scenario: {exc}", EXIT_FAILED)
