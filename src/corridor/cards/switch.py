"""The scheme's switch: routes each card request to the card's issuer by BIN, and prices a cross-border purchase.

Acquirers connect to the switch; the switch keeps one persistent connection to each issuer and forwards every
request on it, marking itself as the forwarding institution (field 33). A purchase in a currency other than the
card's gets the cardholder billing fields the issuer holds by (ISO 8583 fields 6, 10 and 51): the amount in the
card's currency at the scheme's rate, which is the scenario's mid rate plus the scheme's markup, written in field
10 as the issuer and the cardholder's statement will see it, and applied exactly as written (the billing amount is
the transaction amount times field 10's rate, rounded half-even to the card currency's minor unit), so anyone can
check it.

When an issuer cannot be reached in time, the switch stands in for it: it approves an authorization or purchase up to
the scheme's stand-in limit for the card's currency, unless the request carries a PIN block or a CVV2 (the keys to
check them stay with the issuer), and keeps an advice (0120) of its decision, encrypted, until the issuer has
acknowledged it. It takes a reversal the same way (answered 00, kept as a reversal advice, 0420), so that the hold is
released when the issuer is back. Anything else is answered 91 (issuer unavailable). `deliver_advices` sends the
owed advices, in order, once the issuer answers again (`keep_delivering` tries every second while the switch
serves); the issuer applies each once (issuer.py `apply_advice`, `reverse`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Final

from corridor.cards.advices import AdviceQueue
from corridor.cards.authlog import AuthorizationLog, log_answer
from corridor.cards.billing import conversion_rate, convert, mid_rate
from corridor.cards.iso8583 import ADVICE, AUTHORIZATION, FINANCIAL, REVERSAL, REVERSAL_ADVICE, Fields, original_data
from corridor.cards.link import Client, LinkClosed, ResponseTimeout
from corridor.cards.responses import Response
from corridor.money import Currency, currency
from corridor.network.context import iso_time
from corridor.scenario.cards import CardSchemeSpec
from corridor.scenario.model import FxRate

__all__ = ["Switch", "conversion_rate"]

log = logging.getLogger(__name__)

ISSUER_TIMEOUT_S: Final = 5.0
"""How long the switch waits for an issuer's answer before answering 91 itself."""
ADVICE_INTERVAL_S: Final = 1.0
"""How often a serving switch tries to deliver the advices it owes to issuers."""
BILLED: Final = (AUTHORIZATION, FINANCIAL, REVERSAL, REVERSAL_ADVICE)


class Switch:
    def __init__(
        self,
        scheme: CardSchemeSpec,
        rates: Sequence[FxRate],
        issuer_currencies: Mapping[str, str],
        issuer_endpoints: Mapping[str, tuple[str, int]],
        *,
        forwarding_id: str,
        issuer_timeout_s: float = ISSUER_TIMEOUT_S,
        advices: AdviceQueue | None = None,
        authorization_log: AuthorizationLog | None = None,
        clock: Callable[[], float] = time.time,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`issuer_currencies` and `issuer_endpoints`: each issuing bank's currency and ISO 8583 host and port;
        `authorization_log`: where the approvals the switch answers are kept for clearing to match; `tls`: a client
        context (corridor/tls.py) to reach the issuers over TLS."""
        self.scheme = scheme
        self._rates = rates
        self._currencies = {bank: currency(code) for bank, code in issuer_currencies.items()}
        self._endpoints = dict(issuer_endpoints)
        self._forwarding_id = forwarding_id
        self._timeout_s = issuer_timeout_s
        self._advices = advices
        self._log = authorization_log
        self._clock = clock
        self._tls = tls
        self._links: dict[str, Client] = {}
        self._connecting: dict[str, asyncio.Lock] = {}

    def _at(self) -> str:
        """Now, as the records' timestamps write it."""
        return iso_time(int(self._clock() * 1e9))

    async def handle(self, request: Fields) -> Fields:
        """The acquirer-facing link's handler: the issuer's answer, with the billing fields it was asked with."""
        pan = request.get("2")
        if not isinstance(pan, str):
            return {"39": Response.FORMAT_ERROR}
        issuer = self.scheme.issuer_of_bin(pan[:6])
        if issuer is None or issuer.bank not in self._endpoints:
            return {"39": Response.NO_SUCH_ISSUER}
        forward = {key: value for key, value in request.items() if key not in ("p", "1")}
        forward["33"] = self._forwarding_id
        if request["t"] in BILLED:
            try:
                forward.update(self.billing(request, self._currencies[issuer.bank]))
            except ValueError:
                return {"39": Response.INVALID_AMOUNT}
        try:
            link = await self._link(issuer.bank)
            answer = await link.request(forward, timeout_s=self._timeout_s)
        except (ResponseTimeout, LinkClosed, OSError, TimeoutError) as exc:
            log.warning("issuer %s unavailable: %s", issuer.bank, exc)
            await self._drop(issuer.bank)
            response = await self._stand_in(issuer.bank, request, forward)
            if request["t"] in (AUTHORIZATION, FINANCIAL) and response.get("39") != Response.APPROVED:
                await self._owe_reversal(issuer.bank, forward)
        else:
            response = {key: value for key, value in answer.items() if key not in ("p", "1", "t")}
            for key in ("6", "10", "51"):
                if key in forward:
                    response.setdefault(key, forward[key])
        if self._log is not None:
            await log_answer(self._log, forward, response, issuer.bank, self._at())
        return response

    async def _owe_reversal(self, bank: str, forward: Fields) -> None:
        """A request forwarded and not answered may have reached the issuer and held the cardholder's money (an
        issuer killed between its hold and its answer): the acquirer was told it was declined (91) and will not
        reverse it, so the switch owes the issuer a reversal advice, delivered once it is back; an issuer that never
        saw the request keeps only a refusal under its key (found by `corridor chaos`)."""
        if self._advices is None:
            return
        reversal = forward | {"t": REVERSAL_ADVICE, "90": original_data(forward)}
        await asyncio.to_thread(self._advices.add, bank, reversal, self._at())

    async def _stand_in(self, bank: str, request: Fields, forward: Fields) -> Fields:
        """Approve within the scheme's stand-in limit and owe the issuer an advice, or answer 91."""
        unavailable: Fields = {"39": Response.ISSUER_UNAVAILABLE}
        if self._advices is not None and request["t"] in (REVERSAL, REVERSAL_ADVICE):
            # Taken on the issuer's behalf and kept until it acknowledges it: the acquirer can stop repeating, and
            # the hold is released when the issuer is back rather than when it expires.
            await asyncio.to_thread(self._advices.add, bank, forward | {"t": REVERSAL_ADVICE}, self._at())
            return {"39": Response.APPROVED}
        if self._advices is None or request["t"] not in (AUTHORIZATION, FINANCIAL):
            return unavailable
        if "52" in request or "48" in request:  # a PIN block or CVV2 only the issuer's keys can check
            return unavailable
        card_currency = self._currencies[bank]
        limit = self.scheme.stand_in.get(card_currency.code)
        amount = str(forward.get("6", request.get("4", "")))
        if limit is None or not amount.isdigit() or not 0 < int(amount) <= limit.minor:
            return unavailable
        code = f"S{str(request['11'])[-5:]}"
        advice = forward | {"t": ADVICE, "38": code, "39": Response.APPROVED.value}
        await asyncio.to_thread(self._advices.add, bank, advice, self._at())
        answer: Fields = {"39": Response.APPROVED, "38": code}
        for key in ("6", "10", "51"):
            if key in forward:
                answer[key] = forward[key]
        return answer

    async def deliver_advices(self) -> int:
        """Send every issuer the advices it is owed, oldest first, until one fails; how many were acknowledged."""
        if self._advices is None:
            return 0
        delivered = 0
        for bank in self._endpoints:
            owed = await asyncio.to_thread(self._advices.owed, bank)
            for advice in owed:
                try:
                    link = await self._link(bank)
                    await link.request(advice.message, timeout_s=self._timeout_s)
                except (ResponseTimeout, LinkClosed, OSError, TimeoutError):
                    await self._drop(bank)
                    break
                await asyncio.to_thread(self._advices.acknowledged, advice.seq, self._at())
                delivered += 1
        return delivered

    async def keep_delivering(self, interval_s: float = ADVICE_INTERVAL_S) -> None:
        """Deliver owed advices every `interval_s` until cancelled: the switch's background task while it serves."""
        while True:
            try:
                await self.deliver_advices()
            except Exception:  # one bad pass must not end delivery for good
                log.exception("advice delivery failed; trying again")
            await asyncio.sleep(interval_s)

    def billing(self, request: Fields, card_currency: Currency) -> Fields:
        """Fields 6, 10 and 51 for a purchase in another currency than the card's; none for one in the card's."""
        amount, numeric = request.get("4"), request.get("49")
        if not isinstance(amount, str) or not isinstance(numeric, str) or not amount.isdigit():
            raise ValueError("a purchase needs its amount (field 4) and currency (field 49)")
        merchant_currency = currency(int(numeric))
        if merchant_currency == card_currency:
            return {}
        mid = mid_rate(self._rates, merchant_currency.code, card_currency.code)
        rate_text, rate = conversion_rate(mid * Fraction(10_000 + self.scheme.fx_markup_bp, 10_000))
        billed = convert(int(amount), rate, merchant_currency, card_currency)
        return {"6": f"{billed:012d}", "10": rate_text, "51": f"{card_currency.numeric:03d}"}

    async def _link(self, bank: str) -> Client:
        lock = self._connecting.setdefault(bank, asyncio.Lock())
        async with lock:
            link = self._links.get(bank)
            if link is None or link.closed:
                host, port = self._endpoints[bank]
                link = await Client.connect(host, port, timeout_s=self._timeout_s, ssl=self._tls)
                self._links[bank] = link
            return link

    async def _drop(self, bank: str) -> None:
        link = self._links.pop(bank, None)
        if link is not None:
            with contextlib.suppress(Exception):
                await link.close()

    async def close(self) -> None:
        for bank in list(self._links):
            await self._drop(bank)
