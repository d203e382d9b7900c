"""The local actions a node's owner asks of it (pay, quote, a reviewer's decision), the same for the embedded network
and a node process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from corridor.compliance import Case, CaseError
from corridor.fx.provider import FxProviderRole, QuoteRequest
from corridor.fx.quotes import Quote
from corridor.money import Money
from corridor.network.context import Context, uetr_for
from corridor.node.runtime import Node
from corridor.scenario.model import Scenario
from corridor.transfers.bank import CREDIT_TRANSFER, BankRole


async def pay(
    node: Node,
    scenario: Scenario,
    *,
    debtor_account: str,
    creditor_account: str,
    amount: Money,
    idempotency_key: str,
    remittance: str | None = None,
) -> str:
    """Send a credit transfer between two scenario accounts; the same key always names the same payment (its UETR).

    Raises PaymentRefused (with its ISO reason) when the bank will not send it, and KeyError for an account the
    scenario does not know.
    """
    debtor = scenario.account(debtor_account)
    creditor = scenario.account(creditor_account)
    if debtor.bank != node.bic:
        raise ValueError(f"account {debtor_account} is held at {debtor.bank}, not at {node.bic}")
    bank = node.role
    assert isinstance(bank, BankRole), f"{node.bic} is not a bank"
    uetr = uetr_for(idempotency_key)

    async def start(ctx: Context) -> Any:
        return await bank.pay(
            ctx,
            uetr=uetr,
            debtor_account=debtor_account,
            creditor_agent=creditor.bank,
            creditor_account=creditor_account,
            creditor_name=creditor.name,
            amount=amount,
            remittance=remittance,
        )

    await node.run(start, lock=uetr)
    return uetr


async def quotes(node: Node, requests: Sequence[QuoteRequest]) -> list[Quote | Exception]:
    """Quotes for several payments in one local action (one commit and one signature for all), each as `quote`
    gives it, or the exception that refused it (a QuoteError with its ISO reason)."""
    provider = node.role
    assert isinstance(provider, FxProviderRole), f"{node.bic} is not an FX provider"
    result: list[Quote | Exception] = await node.run(
        lambda ctx: provider.quotes(ctx, requests), locks=[request.uetr for request in requests]
    )
    return result


async def quote(node: Node, uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote:
    """A quote from the FX provider's node, locked to the UETR (asking again returns the same while it is valid)."""
    [made] = await quotes(node, [QuoteRequest(uetr, sell_currency, buy_currency, fixed)])
    if isinstance(made, Exception):
        raise made
    return made


async def decide_case(node: Node, case_id: str, decision: str, reviewer: str, note: str | None = None) -> Case:
    """A reviewer's decision on one of the bank's compliance cases (audited), and the held payment acting on it at
    once: sent when released, its funds released and the payment rejected (RR04) when rejected. CaseError when the
    case is unknown or was decided otherwise, or the decision is not one."""
    bank = node.role
    assert isinstance(bank, BankRole), f"{node.bic} is not a bank"
    if bank.compliance is None:
        raise CaseError("not_found", f"{node.bic} screens nothing: its scenario has no [compliance]")
    case = await bank.compliance.decide(case_id, decision, reviewer, note)
    if case.rail == CREDIT_TRANSFER:
        await node.run(lambda ctx: bank.follow_case(ctx, case.subject), lock=case.subject)
    return case


def cases(node: Node, status: str | None = None, limit: int = 100) -> list[Case]:
    """The bank's compliance cases, newest first (empty for a bank that screens nothing)."""
    bank = node.role
    assert isinstance(bank, BankRole), f"{node.bic} is not a bank"
    return [] if bank.compliance is None else bank.compliance.cases(status, limit)
