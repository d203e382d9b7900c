"""The FX provider on the network: it quotes, and its settlement accounts at each central bank earn the spread.

A quote is locked to its UETR: asking again for the same payment returns the same quote while it is valid, so a
retried request cannot shop for a better rate; the quote is kept in the provider's own records.
"""

from __future__ import annotations

from corridor.fx.quotes import Quote, make_quote
from corridor.iso20022.models import InstitutionCreditTransfer
from corridor.iso20022.models.common import Message
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import XmlRejected
from corridor.money import Money
from corridor.network.context import Context, NodeServices
from corridor.scenario.model import Scenario
from corridor.transfers.records import uetr_of
from corridor.transfers.replies import refuse_with_status


class FxProviderRole:
    def __init__(self, services: NodeServices, scenario: Scenario) -> None:
        self.s = services
        self.spec = scenario.fx

    def key_of(self, message: Message) -> str:
        return uetr_of(message)

    async def setup(self, ctx: Context) -> None:
        return None

    async def quote(
        self,
        ctx: Context,
        uetr: str,
        sell_currency: str,
        buy_currency: str,
        *,
        buy: Money | None = None,
        sell: Money | None = None,
    ) -> Quote:
        kept = self.s.store.get(f"quote:{uetr}")
        if kept is not None:
            quote = Quote.from_token(kept)
            same = quote.buy == buy if buy is not None else quote.sell == sell
            if same and quote.expires_ns > ctx.now_ns:
                return quote
        quote = make_quote(
            self.spec,
            self.s.key,
            quote_id=f"Q{ctx.new_message_id()[4:20]}",
            uetr=uetr,
            sell_currency=sell_currency,
            buy_currency=buy_currency,
            now_ns=ctx.now_ns,
            buy=buy,
            sell=sell,
        )
        ctx.unit.kv[f"quote:{uetr}"] = quote.token()
        ttl = self.spec.quote_ttl_s
        ctx.event(
            uetr,
            "QUOTED",
            f"{quote.sell} -> {quote.buy} (mid {quote.mid}, spread {quote.spread_bp} bp), valid {ttl} s",
        )
        return quote

    async def handle(self, ctx: Context, header: AppHeader, message: Message) -> None:
        if isinstance(message, InstitutionCreditTransfer):
            way = "credited" if message.creditor == self.s.bic else "debited"
            ctx.event(message.uetr, "SETTLED", f"account at {header.sender_bic} {way} {message.settlement_amount}")

    async def on_refused(self, ctx: Context, header: AppHeader, error: XmlRejected) -> None:
        refuse_with_status(ctx, header, error)

    async def on_deadline(self, ctx: Context, uetr: str) -> None:
        return None
