"""What a node shows of itself to an analyst: its named ledger accounts and their transfers, a central bank's
positions toward its peers and the settlement legs it booked. Plain functions over one node's role and records, used
alike by the embedded corridor's API and by a node process answering over its control interface (service.py).

Every view is a JSON-ready dict of plain values (ids as decimal strings: a u128 does not fit a JSON number), so the
two paths give the API the very same answer.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from corridor.ledger import Account, Ledger, Transfer
from corridor.money import Money
from corridor.network.store import NodeStore
from corridor.node.network import FINAL_STATES
from corridor.node.runtime import Role
from corridor.rtgs.central_bank import CentralBankRole
from corridor.scenario.model import Scenario
from corridor.transfers.bank import BankRole

LEDGER_PAGE_MAX = 200
SETTLEMENT_ROLES = ("cycle", "card-settlement")


def named_accounts(role: Role, scenario: Scenario, bic: str) -> list[tuple[str, int]]:
    """The accounts a node's role opens, by what they are: what the ledger explorer lists."""
    named: list[tuple[str, int]] = []
    if isinstance(role, BankRole):
        named += [("nostro", role.nostro), ("equity", role.equity), ("cards settlement", role.cards)]
        named += [("card receivables", role.card_receivable), ("CBDC holdings", role.digital_holdings)]
        named += [(f"{code} reserve deposits", account) for code, account in role.stablecoin_reserves.items()]
        named += [(f"{c.spec.name} ({number})", c.account_id) for number, c in role.customers.items()]
    elif isinstance(role, CentralBankRole):
        named += [("issuance", role.issuance), ("card scheme", role.card_scheme), ("CBDC in circulation", role.cbdc)]
        for p in scenario.participants:
            if p.bic != bic and role.is_member(p.bic):
                named.append((f"settlement: {p.bic}", role.settlement(p.bic)))
        for peer in role.peers:
            named.append((f"loro: {peer.bic}", role.loro(peer.bic)))
    return named


def account_view(name: str, a: Account) -> dict[str, Any]:
    return {
        "name": name,
        "id": str(a.id),
        "code": a.code,
        "ledger": a.ledger,
        "debits_posted": a.debits_posted,
        "credits_posted": a.credits_posted,
        "debits_pending": a.debits_pending,
        "credits_pending": a.credits_pending,
    }


def transfer_view(t: Transfer) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "debit_account_id": str(t.debit_account_id),
        "credit_account_id": str(t.credit_account_id),
        "amount": t.amount,
        "ledger": t.ledger,
        "code": t.code,
        "flags": int(t.flags),
        "timestamp": t.timestamp,
    }


def ledger_accounts(role: Role, ledger: Ledger, scenario: Scenario, bic: str) -> list[dict[str, Any]]:
    """The node's named accounts as they stand (at most LEDGER_PAGE_MAX)."""
    named = named_accounts(role, scenario, bic)[:LEDGER_PAGE_MAX]
    found = {a.id: a for a in ledger.lookup_accounts([account_id for _, account_id in named])}
    return [account_view(name, a) for name, account_id in named if (a := found.get(account_id)) is not None]


def ledger_transfers(ledger: Ledger, account_id: int) -> list[dict[str, Any]] | None:
    """The account's latest transfers (at most LEDGER_PAGE_MAX); None when the ledger has no such account."""
    if not 0 < account_id < 2**128 or ledger.view_account(account_id) is None:
        return None
    return [transfer_view(t) for t in ledger.account_transfers(account_id, limit=LEDGER_PAGE_MAX)]


def positions(role: CentralBankRole) -> list[dict[str, str]]:
    """The central bank's net position toward each peer, its swap line and how much of it is used."""
    found = []
    for peer in role.peers:
        net = role.net_position(peer.bic)
        found.append(
            {
                "counterpart": peer.bic,
                "net_position": str(net),
                "swap_line": str(role.swap_limit()),
                "swap_line_used": str(Money(max(0, -net.minor), net.currency)),
            }
        )
    return found


def settlement_legs(store: NodeStore) -> list[tuple[str, dict[str, Any]]]:
    """The settlement legs a central bank booked (interbank cycles, card scheme days): each one's state and record."""
    return [(state, data) for _uetr, state, data in store.payments() if data.get("role") in SETTLEMENT_ROLES]


LATENCY_WINDOW = 200


def node_figures(store: NodeStore, unsent: int) -> dict[str, Any]:
    """What a node's metrics show of it: its payment records by state, the messages it has not handed to the
    transport yet (`unsent`), and, for a payer's bank, the end-to-end seconds of its last LATENCY_WINDOW finished
    credit transfers (its own record's first and last event), sorted."""

    def instant(at: str) -> datetime:
        return datetime.fromisoformat(at.replace("Z", "+00:00"))

    spent = []
    for uetr, state, data in store.recent_payments(LATENCY_WINDOW):
        if data.get("role") != "debtor_agent" or state not in FINAL_STATES:
            continue
        events = store.events(uetr)
        if len(events) >= 2:
            spent.append((instant(events[-1].at) - instant(events[0].at)).total_seconds())
    states = Counter(state for _, state, _ in store.payments())
    return {"payments": dict(sorted(states.items())), "unsent": unsent, "latencies": sorted(spent)}
