"""The FX provider on the network: it quotes, and its settlement accounts at each central bank earn the spread.

A quote is locked to its UETR: asking again for the same payment returns the same quote while it is valid, so a
retried request cannot shop for a better rate; the quote is kept in the provider's own records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from corridor.fx.quotes import Quote, QuoteError, price_quote, sign_quotes
from corridor.iso20022.models import InstitutionCreditTransfer
from corridor.iso20022.models.common import Message
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import XmlRejected
from corridor.money import Money
from corridor.network.context import Context, NodeServices
from corridor.scenario.model import Scenario
from corridor.transfers.records import uetr_of
from corridor.transfers.replies import confirm_institution_transfer, refuse_with_status


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    """What a bank asks the FX provider for one payment: a currency pair and the side the payer fixed (`fixed` has
    exactly one of "buy" and "sell")."""

    uetr: str
    sell_currency: str
    buy_currency: str
    fixed: dict[str, Money]


def _same_terms(quote: Quote, request: QuoteRequest) -> bool:
    buy, sell = request.fixed.get("buy"), request.fixed.get("sell")
    return (quote.buy == buy if buy is not None else quote.sell == sell) and (
        (quote.sell.currency.code, quote.buy.currency.code) == (request.sell_currency, request.buy_currency)
    )


class FxProviderRole:
    def __init__(self, services: NodeServices, scenario: Scenario) -> None:
        self.s = services
        self.spec = scenario.fx

    def key_of(self, message: Message) -> str:
        return uetr_of(message)

    async def setup(self, ctx: Context) -> None:
        return None

    async def quotes(self, ctx: Context, requests: Sequence[QuoteRequest]) -> list[Quote | Exception]:
        """A quote for each request, or the error that refused it (a QuoteError with its ISO reason); the new ones
        signed together, under one root (fx/quotes.py)."""
        made: list[Quote | Exception] = []
        fresh: list[tuple[list[int], Quote]] = []
        """The quotes made new in this batch, unsigned, each with its places in `made`."""
        latest: dict[str, int] = {}
        """UETR -> its newest entry in `fresh`."""
        for request in requests:
            newest = fresh[latest[request.uetr]] if request.uetr in latest else None
            if newest is not None and _same_terms(newest[1], request):
                newest[0].append(len(made))  # asked twice in one batch: one quote, as if it had been kept
                made.append(newest[1])
                continue
            kept = self._kept(ctx, request)
            if kept is not None:
                made.append(kept)
                continue
            try:
                quote = price_quote(
                    self.spec,
                    quote_id=f"Q{ctx.new_message_id()[4:20]}",
                    uetr=request.uetr,
                    sell_currency=request.sell_currency,
                    buy_currency=request.buy_currency,
                    now_ns=ctx.now_ns,
                    buy=request.fixed.get("buy"),
                    sell=request.fixed.get("sell"),
                )
            except ValueError as exc:  # a QuoteError (with its ISO reason) or a bad amount
                made.append(exc)
                continue
            latest[request.uetr] = len(fresh)
            fresh.append(([len(made)], quote))
            made.append(quote)
        if not fresh:
            return made
        signed = sign_quotes([quote for _, quote in fresh], self.s.key)
        ttl = self.spec.quote_ttl_s
        for (places, _), quote in zip(fresh, signed, strict=True):
            for place in places:
                made[place] = quote
            ctx.unit.kv[f"quote:{quote.uetr}"] = quote.token()
            ctx.event(
                quote.uetr,
                "QUOTED",
                f"{quote.sell} -> {quote.buy} (mid {quote.mid}, spread {quote.spread_bp} bp), valid {ttl} s",
            )
        return made

    def _kept(self, ctx: Context, request: QuoteRequest) -> Quote | None:
        """The quote kept for this payment, if it is for the same fixed amount and still valid (one kept in a form
        this version cannot read, such as an earlier version's token, is replaced like an expired one)."""
        kept = self.s.store.get(f"quote:{request.uetr}")
        if kept is None:
            return None
        try:
            quote = Quote.from_token(kept)
        except QuoteError:
            return None
        return quote if _same_terms(quote, request) and quote.expires_ns > ctx.now_ns else None

    async def handle(self, ctx: Context, header: AppHeader, message: Message) -> None:
        if isinstance(message, InstitutionCreditTransfer):
            way = "credited" if message.creditor == self.s.bic else "debited"
            ctx.event(message.uetr, "SETTLED", f"account at {header.sender_bic} {way} {message.settlement_amount}")
            confirm_institution_transfer(ctx, header, message)

    async def on_refused(self, ctx: Context, header: AppHeader, error: XmlRejected) -> None:
        refuse_with_status(ctx, header, error)

    async def on_deadline(self, ctx: Context, uetr: str) -> None:
        return None
