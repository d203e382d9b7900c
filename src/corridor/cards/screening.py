"""An issuer's compliance check of a purchase: its cardholder and its merchant screened, the cardholder's KYC tier
and the AML rules applied, by the issuing bank's compliance desk (compliance/desk.py), under the request's key.

A card payment cannot wait for a reviewer the way a credit transfer does: the terminal needs its answer now. So a
hold is answered 01 (refer to card issuer) with a case opened; once the reviewer releases it, the same cardholder
paying the same merchant is no longer held, and the merchant's next attempt is approved. A refusal is 61 (over the
tier's limit: exceeds amount limit) or 62 (restricted: a party the review found on a watch-list).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from corridor.cards.acceptor import acceptor
from corridor.cards.responses import Response
from corridor.compliance import ComplianceDesk, Party
from corridor.compliance.rules import HOLD, REFUSE

CARD = "card"
"""The rail a bank's compliance cases for card payments name (their subject is the authorization's request key)."""


@dataclass(frozen=True, slots=True)
class Holder:
    name: str
    country: str
    tier: int | None = None
    dob: str | None = None


class DeskScreen:
    """The issuer's hook (Issuer(screen=...)): None to go on, or the response code to answer with."""

    def __init__(self, desk: ComplianceDesk, holders: Mapping[str, Holder], currency: str) -> None:
        """`holders`: the issuer's accounts (number -> who holds it); `currency`: the cards' billing currency."""
        self._desk = desk
        self._holders = dict(holders)
        self._currency = currency

    async def __call__(self, request_key: str, account: str, amount: int, field43: object) -> Response | None:
        holder = self._holders.get(account)
        if holder is None:
            return None  # an account the scenario does not name: nothing to screen it with
        merchant, country = acceptor(field43)
        parties = [Party("cardholder", holder.name, holder.country, holder.dob)]
        if merchant:
            parties.append(Party("merchant", merchant, country))
        verdict = await self._desk.check(
            rail=CARD,
            subject=request_key,
            account=account,
            tier=holder.tier,
            amount=amount,
            currency=self._currency,
            parties=parties,
        )
        if verdict.outcome == HOLD:
            return Response.REFER_TO_ISSUER
        if verdict.outcome == REFUSE:
            return Response.EXCEEDS_LIMIT if verdict.reason in ("AM02", "AM14") else Response.RESTRICTED_CARD
        return None
