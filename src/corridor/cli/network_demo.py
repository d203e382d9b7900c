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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from corridor.cli import compliance_demo
from corridor.cli.cards_demo import card_payments, close_card_day
from corridor.cli.common import EXIT_FAILED, console, fail
from corridor.cli.digital_demo import digital_story
from corridor.cli.trade_demo import OIL_PARTS, TRUCK_PARTS, open_trade, pay_by_transfer, print_invoices
from corridor.money import Money
from corridor.network.context import Context, ledger_id
from corridor.node.cardnet import DayClosed
from corridor.node.embedded import EmbeddedCorridor
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
        "PO-2026-17 advance for truck parts (FCA Novorossiysk)",
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


STALE = (
    *("nodes", "messages", "statements", "keys", "cards", "digital", "wallets", "proofs", "trade", "api"),
    *("directory.json", "report.txt"),
)
"""What a run leaves in its data directory: removed before the next, so each demo starts from the scenario."""
PHASES = (
    "starting the corridor",
    "credit transfers",
    "card payments",
    "trade invoices",
    "digital currencies",
    "end of day",
    "artifacts and checks",
)


async def _run(data_dir: Path, scenario_path: Path | None) -> None:
    scenario = load_scenario(scenario_path)
    known = {account.number for account in scenario.accounts}
    missing = sorted({n for p in PAYMENTS for n in (p.debtor, p.creditor)} - known)
    if missing:
        raise ScenarioError(
            f"the demo's story pays between the default scenario's accounts; this scenario lacks {', '.join(missing)} "
            "(run its network with `corridor network init --scenario ...` and pay with `corridor network pay`)"
        )
    corridor = EmbeddedCorridor(scenario, data_dir)
    started = time.perf_counter()
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as progress:  # fmt: skip
        bar = progress.add_task(PHASES[0], total=len(PHASES))

        def phase(done: str, name: str) -> None:
            console.print(f"[green]done[/] {done}")
            progress.update(bar, advance=1, description=name)

        await corridor.start()
        try:
            net = corridor.network
            phase(
                f"{len(net.nodes)} nodes started ({escape(scenario.name)}): liquidity injected (pacs.009)"
                + (", card scheme on loopback" if corridor.cards else "")
                + (", token platforms open" if corridor.digital else ""),
                PHASES[1],
            )
            uetrs = await _credit_transfers(net)
            if compliance_demo.can_run(net):
                await compliance_demo.held_payment(net)
            phase("credit transfers, one held by compliance review", PHASES[2])
            if corridor.cards is not None:
                await card_payments(corridor.cards)
            phase("card payments both ways", PHASES[3])
            desk = corridor.trade
            assert desk is not None
            open_trade(desk)
            await pay_by_transfer(desk)
            phase("trade: the truck parts invoice paid by credit transfer", PHASES[4])
            digital = None
            if corridor.digital is not None:
                digital = await digital_story(corridor.digital, desk, data_dir)
            await print_invoices(desk)
            phase("digital currencies", PHASES[5])
            cycle = datetime.now(UTC).strftime("%Y%m%d")
            closed = await close_card_day(corridor.cards, data_dir, cycle) if corridor.cards is not None else None
            settled = await _settlement_cycle(net)
            phase("end of day: card clearing and settlement, central banks' netting", PHASES[6])
            problems = _check_ledgers(corridor)
            trails = compliance_demo.audit_trails(net)
            written = _write_messages(net, data_dir / "messages")
            reports = await _statements(net, data_dir / "statements")
            report = await settlement_report(corridor, closed, settled)
            (data_dir / "report.txt").write_text(report + "\n", encoding="utf-8")
            progress.update(bar, advance=1)
        finally:
            await corridor.stop()
    elapsed = time.perf_counter() - started
    console.print(Panel.fit(escape(report), title="settlement report"))
    if problems:
        fail(f"ledger checks failed at {', '.join(problems)}", EXIT_FAILED)
    console.print(
        f"every ledger (nodes and token platforms): double entry holds, journal verified, no reservation left open "
        f"({elapsed:.1f} s)"
    )
    console.print(trails)
    if "BROKEN" in trails:
        fail(trails, EXIT_FAILED)
    console.print(f"{written} ISO 20022 messages written to {escape(str(data_dir / 'messages'))}/")
    console.print(
        f"{reports} customer documents (camt.054 notifications and camt.053 statements that reconcile with the ledgers)"
        f" written to {escape(str(data_dir / 'statements'))}/; the report to {escape(str(data_dir / 'report.txt'))}"
    )
    verify = "" if digital is None else f"corridor verify-proof {digital.proof_file} --key {digital.platform_key}\n"
    console.print(
        Panel.fit(
            f"corridor up --data-dir {escape(str(data_dir))}   # then open the dashboard URL it prints\n"
            f"corridor track {uetrs[0]} --data-dir {escape(str(data_dir))}\n"
            f"{escape(verify)}"
            "corridor network init && corridor network run   # one process per participant on NATS\n"
            "corridor bench transfers --json; corridor bench cards --json; corridor bench tokens --json",
            title="next: the dashboard",
        )
    )


async def _credit_transfers(net: EmbeddedNetwork) -> list[str]:
    scenario = net.scenario
    results = Table(title="cross-border and domestic credit transfers", title_justify="left")
    for column in ("payment", "from", "to", "instructed", "payer debited", "payee credited", "outcome"):
        results.add_column(column)
    uetrs: list[str] = []
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
        uetrs.append(uetr)
    console.print(results)
    return uetrs


async def _settlement_cycle(net: EmbeddedNetwork) -> list[tuple[str, str, Money]]:
    """Each central bank settles its side of the day's net position with the FX provider."""
    settled: list[tuple[str, str, Money]] = []
    for bic in (p.bic for p in net.scenario.participants if p.role == "central_bank"):
        role = net.central_bank(bic)
        for peer, position in await net.act(bic, functools.partial(role.settle_cycle, cycle="EOD1")):
            settled.append((bic, peer, position))
    await net.quiesce()
    return settled


def _check_ledgers(corridor: EmbeddedCorridor) -> list[str]:
    problems = []
    for bic, node in corridor.network.nodes.items():
        if not node.ledger.check().ok or not node.ledger.verify().ok:
            problems.append(bic)
        if node.ledger.pending_transfers():
            problems.append(f"{bic} (open reservations)")
    if corridor.digital is not None:
        problems += corridor.digital.reconcile()
    return problems


async def _statements(net: EmbeddedNetwork, target: Path) -> int:
    end_ns = net.clock() + 1
    for spec in net.scenario.accounts:
        if spec.status == "closed":
            continue
        bank = net.bank(spec.bank)
        await net.act(spec.bank, functools.partial(_statement, bank, spec.number, end_ns))
    return _write_reports(net, target)


async def settlement_report(
    corridor: EmbeddedCorridor, closed: DayClosed | None, settled: list[tuple[str, str, Money]]
) -> str:
    """The day in one text: the central banks' netting, the card scheme's settlement, tokens against their backing
    and the invoices; printed and written to <data dir>/report.txt."""
    lines = [f"Corridor day report: {corridor.scenario.name} ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", ""]
    lines.append("Central banks' settlement cycle EOD1 (net positions settled with the FX provider):")
    for bic, peer, position in settled:
        role = corridor.network.central_bank(bic)
        lines.append(f"  {bic} against {peer}: {position} settled; net position now {role.net_position(peer)}")
    if not settled:
        lines.append("  nothing to settle")
    if closed is not None:
        lines += ["", f"Card scheme, day {closed.cycle}:"]
        lines += ["  " + line for line in closed.report.splitlines()]
    if corridor.digital is not None:
        lines += ["", "Digital currencies (supply against what backs it):"]
        for token in corridor.digital.spec.tokens:
            lines.append(f"  {token.code:5} {token.kind:10} {corridor.digital.supply(token.code)}")
    if corridor.trade is not None:
        lines += ["", "Invoices:"]
        for number in (TRUCK_PARTS, OIL_PARTS):
            standing = await corridor.trade.standing(number)
            ok = (await corridor.trade.reconcile(number)).ok
            lines.append(
                f"  {number}: {standing.status}, paid {standing.totals.paid} of {standing.totals.total}"
                f"; reconciled with the ledgers: {'yes' if ok else 'NO'}"
            )
    return "\n".join(lines)


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
        stale_parts = (
            "nodes",
            "messages",
            "statements",
            "keys",
            "cards",
            "digital",
            "wallets",
            "proofs",
            "trade",
            "api",
        )
        for stale in (*stale_parts, "directory.json", "report.txt"):
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
