"""The local actions a node's owner asks of it (pay, quote), the same for the embedded network and a node process."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from corridor.fx.provider import FxProviderRole, QuoteRequest
from corridor.fx.quotes import Quote
from corridor.money import Money
from corridor.network.context import Context, uetr_for
from corridor.node.runtime import Node
from corridor.scenario.model import Scenario
from corridor.transfers.bank import BankRole


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
