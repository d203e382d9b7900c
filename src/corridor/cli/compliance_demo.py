"""The demo's compliance story: a payment to a company on the scenario's (fictitious) watch-list is held at the
payer's bank (PDNG, RR04) with the payer's funds reserved; the bank's reviewer sees the hit and rejects it, so the
funds are released and the payment rejected (RR04); then every node's audit trail is checked."""

from __future__ import annotations

from rich.table import Table

from corridor.cli.common import console
from corridor.money import Money
from corridor.node import actions
from corridor.node.network import EmbeddedNetwork

PAYER = "VE0102010000000000031"  # Caracas Transportes at Banco Orinoco
LISTED = "VE0134020000000000044"  # Inversiones Guacharo Oscuro C.A. at Banco de los Andes, on the demo list
AMOUNT = "25 000.00 VES"
KEY = "demo-compliance-1"


def can_run(net: EmbeddedNetwork) -> bool:
    numbers = {account.number for account in net.scenario.accounts}
    return net.scenario.compliance is not None and {PAYER, LISTED} <= numbers


async def held_payment(net: EmbeddedNetwork) -> None:
    """Pay the listed company, show the hold and the case, reject it as the reviewer would."""
    bank = net.scenario.account(PAYER).bank
    node = net.nodes[bank]
    uetr = await net.pay(
        debtor_account=PAYER, creditor_account=LISTED, amount=Money.parse(AMOUNT), idempotency_key=KEY,
        remittance="INV-GO-1 logistics consulting",
    )  # fmt: skip
    table = Table(title="compliance: a payment to a listed company", title_justify="left")
    for column in ("step", "state", "what the bank recorded"):
        table.add_column(column)
    held = net.state(bank, uetr)
    pending = next((e for e in node.store.events(uetr) if e.status == "PDNG"), None)
    table.add_row("paid", held or "", f"{pending.status} {pending.reason}: {pending.detail}" if pending else "")
    case = next((c for c in actions.cases(node) if c.subject == uetr), None)
    if case is not None:
        hit = case.details["hits"][0] if case.details.get("hits") else None
        if hit is not None:
            table.add_row("case", case.id, hit["describe"])
        if case.status == "open":
            case = await actions.decide_case(node, case.id, "reject", "demo.reviewer", "same registry number")
        table.add_row("reviewed", case.status, f"by {case.decided_by}: {case.note}")
    await net.settle(uetr, bank)
    last = node.store.events(uetr)[-1]
    table.add_row("outcome", net.state(bank, uetr) or "", f"{last.status} {last.reason or ''}: {last.detail}")
    console.print(table)


def audit_trails(net: EmbeddedNetwork) -> str:
    """Every node's audit trail checked: how many, and how many entries in all (or which are broken)."""
    broken, entries = [], 0
    for bic, node in net.nodes.items():
        audit = node.services.audit
        if audit is None:
            continue
        check = audit.check()
        entries += check.entries
        if not check.ok:
            broken.append(f"{bic} at entry {check.broken_at}")
    if broken:
        return f"audit trails BROKEN: {', '.join(broken)}"
    return f"{len(net.nodes)} audit trails verified ({entries} entries of privileged actions)"
