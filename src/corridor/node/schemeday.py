"""The card scheme's end of day, once, over a port to its members: the same sequence in one process or many.

The scheme owns clearing and disputes; everything else the day needs is its members' to do on their own books: an
acquirer presents what its terminals were approved for, an issuer posts its cleared holds, a central bank settles the
cycle in its currency, an acquiring bank pays its merchants. `close_day` asks for each through `SchemeMembers`: the
embedded network's objects in the same process (node/cardnet.py), or the members' node processes over their control
interface (node/schemeremote.py). Each step is exactly once under its own key wherever it runs, so running the day
again after a crash, of the scheme or of any member, finishes what the first run left.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from corridor.cards.authlog import Approval, AuthorizationLog
from corridor.cards.clearing import BatchResult, Clearing
from corridor.cards.disputes import Disputes
from corridor.cards.presentment import PresentmentBatch, batch_of
from corridor.cards.settlement import SettlementPlan, plan, report
from corridor.scenario.model import Scenario

MerchantLines = dict[str, list[tuple[str, int, int]]]
"""Merchant account -> its lines of the cycle, (request key, gross, fee) in minor units of the bank's currency."""


@dataclass(frozen=True, slots=True)
class DayClosed:
    cycle: str
    batches: dict[str, BatchResult]
    """Acquiring bank BIC -> what clearing made of its batch."""
    completions: dict[str, str]
    """Request key -> the issuer's answer to posting its hold."""
    plan: SettlementPlan
    settlements: dict[str, str]
    """Currency -> the UETR of its central bank's settlement of the cycle."""
    report: str
    receivables: dict[str, list[str]]
    """Acquiring bank BIC -> the merchants whose accounts could not give back what they owed (booked as owed)."""


class SchemeMembers(Protocol):
    """What the scheme's day asks of its members; each call is exactly once under its arguments, so it may be
    repeated (after a crash, a lost reply) and changes nothing the second time."""

    async def to_present(self, bank: str, batch_id: str) -> tuple[PresentmentBatch, list[str]]:
        """Acquiring bank `bank`'s batch `batch_id` of what it has not presented, and the approvals it includes."""
        ...

    async def presented(self, bank: str, batch_id: str, keys: list[str]) -> None:
        """Mark the approvals `keys` as presented in `batch_id` in the acquirer's log."""
        ...

    async def complete(self, bank: str, items: list[tuple[str, int]]) -> dict[str, str]:
        """Issuing bank `bank` posts each cleared hold `(request key, billed)`; request key -> its answer."""
        ...

    async def settle(
        self, central_bank: str, cycle: str, members: dict[str, int], conversion: tuple[str, int] | None
    ) -> str:
        """The central bank posts the cycle's net positions in its currency (CentralBankRole.settle_card_cycle)."""
        ...

    async def pay_merchants(self, bank: str, cycle: str, lines: MerchantLines) -> list[str]:
        """The acquiring bank books its merchants' lines (BankRole.pay_merchants); the merchants left owing."""
        ...

    async def quiesce(self) -> None:
        """Wait until the messages the last steps sent are handled, where the port can tell (the embedded network);
        a port whose members run elsewhere returns at once: they book the central banks' advices on their own."""
        ...


def presentment(
    log: AuthorizationLog, batch_id: str, institution_id: str, currency_code: str
) -> tuple[PresentmentBatch, list[str]]:
    """An acquirer's batch of what its log has not presented (or presented in this same batch, for a repeat), and
    the request keys it includes: its lines and their increments (an increment whose authorization went in an earlier
    batch is not, and waits)."""
    approvals = log.to_present(batch_id)
    batch = batch_of(batch_id, institution_id, currency_code, approvals)
    return batch, _included(batch, approvals)


def _included(batch: PresentmentBatch, approvals: list[Approval]) -> list[str]:
    lines = {batch.key_of(p) for p in batch.presentments}
    return [a.request_key for a in approvals if a.request_key in lines or a.original in lines]


async def close_day(
    cycle: str,
    at: str,
    *,
    scenario: Scenario,
    clearing: Clearing,
    disputes: Disputes,
    members: SchemeMembers,
) -> DayClosed:
    """Present, clear, complete, settle and pay out the day `cycle` (exactly once; again to finish a crashed run).

    Disputes past their deadline are closed; each acquirer presents its approvals (one batch per acquirer and
    cycle); clearing matches and prices them; each issuer posts the holds its cleared authorizations name; the
    settlement plan goes to each currency's central bank, with the conversion between currencies over the central
    banks' correspondent accounts; each acquiring bank pays its merchants (or takes back what a chargeback returned).
    """
    scheme = scenario.cards
    if scheme is None:
        raise ValueError(f"scenario {scenario.name!r} has no card scheme ([cards])")
    await disputes.expire()
    batches: dict[str, BatchResult] = {}
    for spec in scheme.acquirers:
        batch_id = f"{spec.institution_id}-{cycle}"
        batch, included = await members.to_present(spec.bank, batch_id)
        batches[spec.bank] = await clearing.submit(batch, cycle, at)
        await members.presented(spec.bank, batch_id, included)
    completions: dict[str, str] = {}
    for issuer in scheme.issuers:
        items = [(item.request_key, item.billed) for item in clearing.to_complete(cycle, issuer.bank)]
        if not items:
            continue
        answers = await members.complete(issuer.bank, items)
        for key, _ in items:
            answer = answers.get(key)
            if answer is None:
                raise RuntimeError(f"issuer {issuer.bank} gave no answer for {key} of cycle {cycle}")
            await clearing.completed(key, answer)
            completions[key] = answer
    cleared = clearing.cleared(cycle)
    currencies = [country.currency for country in scenario.countries]
    settlement = plan(cycle, cleared, scheme, scenario.fx.rates, currencies)
    central_banks = {c.currency: scenario.central_bank(c.code).bic for c in scenario.countries}
    settled: dict[str, str] = {}
    for code, legs in settlement.currencies.items():
        if not legs.members and not legs.conversion:
            continue
        settled[code] = await members.settle(
            central_banks[code], cycle, legs.members, _conversion(settlement, code, central_banks)
        )
    await members.quiesce()
    receivables: dict[str, list[str]] = {}
    for bank, merchants in settlement.lines.items():
        lines = {account: [(x.request_key, x.gross, x.fee) for x in items] for account, items in merchants.items()}
        short = await members.pay_merchants(bank, cycle, lines)
        if short:
            receivables[bank] = short
    await members.quiesce()
    names = {p.bic: p.name for p in scenario.participants}
    text = report(settlement, cleared, names)
    return DayClosed(cycle, batches, completions, settlement, settled, text, receivables)


def _conversion(settlement: SettlementPlan, code: str, central_banks: Mapping[str, str]) -> tuple[str, int] | None:
    """What the central bank of `code` brings in over its peer's loro (positive) or sends out to it (negative)."""
    conversion = None
    for c in settlement.conversions:
        if c.to_currency == code:
            conversion = (central_banks[c.from_currency], c.to_amount)
        elif c.from_currency == code:
            conversion = (central_banks[c.to_currency], -c.from_amount)
    return conversion
