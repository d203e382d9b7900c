"""The acquirer gateway: takes its merchants' terminals' requests and sends them on to the scheme's switch.

A terminal knows its own id, the card and the amount; the acquirer adds what the network needs and the terminal
cannot be trusted with: its institution id (field 32), the merchant's id, category and currency (42, 18, 49), the
transmission time (7), and its own STAN and RRN (11, 37), so that a request is unique across all its terminals.
The terminal gets back its own STAN with the RRN, the authorization code and, for a foreign card, what the
cardholder was billed (6, 10, 51).

A request the switch does not answer in time may still have been approved somewhere on the way, holding the
cardholder's money: the acquirer answers the terminal 91 and reverses the request in the background (0400, then 0420
repeats with a growing pause) until the issuer takes it (an answer of 91 or 96 means it did not get there), so that
no hold is left behind (the issuer keeps a refusal for an original its reversal overtook).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from corridor.cards.authlog import AUTHORIZATION_KIND, Approval, AuthorizationLog, log_answer
from corridor.cards.iso8583 import AUTHORIZATION, FINANCIAL, REVERSAL, REVERSAL_ADVICE, Fields, original_data
from corridor.cards.link import Client, LinkClosed, ResponseTimeout
from corridor.cards.responses import Response
from corridor.money import currency
from corridor.network.context import iso_time
from corridor.scenario.cards import MerchantSpec

log = logging.getLogger(__name__)

SWITCH_TIMEOUT_S: Final = 10.0
"""How long a terminal's request waits for the switch's answer before the acquirer gives up and reverses it."""
REVERSAL_TIMEOUT_S: Final = 10.0
CONNECT_TIMEOUT_S: Final = 5.0
REVERSAL_ATTEMPTS: Final = 6
REVERSAL_FIRST_PAUSE_S: Final = 0.5
UNDELIVERED: Final = (Response.ISSUER_UNAVAILABLE, Response.SYSTEM_ERROR)
"""Answers to a reversal that mean it did not reach the issuer (the switch could not get through): sent again."""
TERMINAL_FIELDS: Final = ("2", "3", "4", "14", "22", "48", "52", "55", "62")
"""What a terminal's request contributes; everything else the acquirer sets."""
ECOMMERCE_ENTRY_MODE: Final = "810"
"""Field 22: PAN entered for an e-commerce transaction, no PIN."""
STAN_BLOCK: Final = 1000
"""STANs reserved in the authorization log at a time: one durable write per thousand requests, and at most a
thousand numbers skipped by a restart."""


class Acquirer:
    def __init__(
        self,
        *,
        institution_id: str,
        currency_code: str,
        merchants: Sequence[MerchantSpec],
        switch: tuple[str, int],
        switch_timeout_s: float = SWITCH_TIMEOUT_S,
        reversal_timeout_s: float = REVERSAL_TIMEOUT_S,
        reversal_first_pause_s: float = REVERSAL_FIRST_PAUSE_S,
        authorization_log: AuthorizationLog | None = None,
        clock: Callable[[], float] = time.time,
        acceptor_names: Mapping[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`authorization_log`: where the acquirer keeps what its terminals were approved for (what it presents to
        clearing, and what a terminal's void names by RRN). `acceptor_names`: terminal -> its merchant's field 43
        (name and location, which the issuer screens against watch-lists); none is sent for a terminal not in it.
        `tls`: a client context (corridor/tls.py) to reach the switch over TLS."""
        numeric = currency(currency_code).numeric
        if numeric is None:
            raise ValueError(f"{currency_code} has no ISO 4217 number: merchants are paid in a national currency")
        self._currency = f"{numeric:03d}"
        self._institution = institution_id
        self._terminals = {merchant.terminal: merchant for merchant in merchants}
        self._acceptor_names = dict(acceptor_names or {})
        self._switch = switch
        self._tls = tls
        self._timeout_s = switch_timeout_s
        self._reversal_timeout_s = reversal_timeout_s
        self._pause_s = reversal_first_pause_s
        self._clock = clock
        self._log = authorization_log
        self._stan_next = self._stan_end = 0
        self._link: Client | None = None
        self._connecting = asyncio.Lock()
        self._reversals: set[asyncio.Task[None]] = set()

    async def handle(self, request: Fields) -> Fields:
        """The terminal-facing link's handler."""
        kind = request["t"]
        if kind not in (AUTHORIZATION, FINANCIAL, REVERSAL):
            return {"39": Response.INVALID_TRANSACTION}
        merchant = self._terminals.get(str(request.get("41", "")))
        if merchant is None:
            return {"39": Response.TERMINAL_NOT_PERMITTED}
        if kind == REVERSAL:
            return await self.void(merchant, request)
        prepared = self.prepare(request, merchant)
        if "39" in prepared:
            return prepared
        return await self.send(prepared)

    def prepare(self, request: Fields, merchant: MerchantSpec) -> Fields:
        """The network request for a terminal's authorization or purchase, or the refusal (field 39) of one the
        acquirer does not send on. A caller that must survive its own crash (the e-commerce gateway) keeps what
        this returns before `send`, so that it can reverse it if it never learns the answer."""
        if any(key not in request for key in ("2", "4", "14")):
            return {"39": Response.FORMAT_ERROR}
        if request.get("49", self._currency) != self._currency:
            return {"39": Response.INVALID_AMOUNT}  # the merchant is paid, and so charges, in its own currency
        return self.request_for(request, merchant)

    async def send(self, forward: Fields) -> Fields:
        """Send a prepared request to the switch; the answer for the terminal (91 and an automatic reversal if
        none comes in time)."""
        try:
            answer = await (await self._connected()).request(forward, timeout_s=self._timeout_s)
        except (ResponseTimeout, LinkClosed, OSError, TimeoutError) as exc:
            log.warning("no answer from the switch to STAN %s: %s; reversing it", forward["11"], exc)
            await self._drop()
            self.reverse_later(forward)
            return {"39": Response.ISSUER_UNAVAILABLE, "37": forward["37"]}
        if self._log is not None:
            await log_answer(self._log, forward, answer, "", self._at())
        response: Fields = {"37": forward["37"]}
        for key in ("38", "39", "6", "10", "51"):
            if key in answer:
                response[key] = answer[key]
        return response

    def merchant(self, terminal: str) -> MerchantSpec | None:
        return self._terminals.get(terminal)

    def approval(self, rrn: str) -> Approval | None:
        """What the acquirer logged of the request it answered with this RRN (None without a log)."""
        return self._log.by_rrn(rrn) if self._log is not None else None

    async def void(self, merchant: MerchantSpec, request: Fields) -> Fields:
        """A terminal's reversal (0400) of one of its own approvals, named by the RRN it was answered with and
        carrying the card (field 2, which the switch routes by: the acquirer keeps no PAN): the acquirer reverses
        it at the issuer at once and answers with the issuer's answer (25: no such approval)."""
        rrn = str(request.get("37", ""))
        if "2" not in request:
            return {"39": Response.FORMAT_ERROR, "37": rrn}
        approval = self._log.by_rrn(rrn) if self._log is not None else None
        if approval is None or approval.terminal != merchant.terminal:
            return {"39": Response.ORIGINAL_NOT_FOUND, "37": rrn}
        if approval.reversed:
            return {"39": Response.APPROVED, "37": rrn}
        original: Fields = {
            "t": AUTHORIZATION if approval.kind == AUTHORIZATION_KIND else FINANCIAL,
            "2": request["2"],
            "11": approval.stan,
            "7": approval.transmitted,
            "32": approval.acquirer,
            "37": approval.rrn,
            "41": approval.terminal,
            "42": merchant.merchant_id,
            "4": f"{approval.amount:012d}",
            "49": self._currency,
        }
        answer = await self._send_reversal(original, first=True)
        if answer is None or answer.get("39") in UNDELIVERED:
            self.reverse_later(original)  # kept trying in the background, as for a request left unanswered
            return {"39": Response.ISSUER_UNAVAILABLE, "37": rrn}
        return {"39": answer["39"], "37": rrn}

    def _at(self) -> str:
        return iso_time(int(self._clock() * 1e9))

    def request_for(self, terminal: Fields, merchant: MerchantSpec) -> Fields:
        """The network request for a terminal's: the terminal's card data with the acquirer's own fields."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        stan = self._next_stan()
        forward: Fields = {key: terminal[key] for key in TERMINAL_FIELDS if key in terminal}
        forward.setdefault("3", "000000")
        forward.update(
            {
                "t": terminal["t"],
                "7": now.strftime("%m%d%H%M%S"),
                "11": stan,
                "12": now.strftime("%H%M%S"),
                "13": now.strftime("%m%d"),
                "18": merchant.mcc,
                "32": self._institution,
                "37": f"{now.strftime('%y')[-1]}{now.strftime('%j%H')}{stan}",
                "41": merchant.terminal,
                "42": merchant.merchant_id,
                "49": self._currency,
            }
        )
        if merchant.terminal in self._acceptor_names:
            forward["43"] = self._acceptor_names[merchant.terminal]
        return forward

    def _next_stan(self) -> str:
        """The acquirer's next STAN: 000001 to 999999, then round again. With an authorization log, numbers come in
        blocks of STAN_BLOCK reserved there first (`AuthorizationLog.reserve_stans`), so that a restart never hands
        out a STAN (and an RRN) again within the hour; without one, from 000001 in each process."""
        if self._stan_next == self._stan_end:
            start = self._log.reserve_stans(STAN_BLOCK) if self._log is not None else self._stan_end
            self._stan_next, self._stan_end = start, start + (STAN_BLOCK if self._log is not None else 1_000_000)
        number = self._stan_next
        self._stan_next += 1
        return f"{number % 999_999 + 1:06d}"

    def reverse_later(self, original: Fields) -> None:
        """Reverse `original` in the background until the issuer takes it (0400, then 0420 repeats)."""
        task = asyncio.get_running_loop().create_task(self._reverse(original))
        self._reversals.add(task)
        task.add_done_callback(self._reversals.discard)

    async def _reverse(self, original: Fields) -> None:
        pause = self._pause_s
        for attempt in range(REVERSAL_ATTEMPTS):
            answer = await self._send_reversal(original, first=attempt == 0)
            if answer is not None and answer.get("39") not in UNDELIVERED:
                return  # the issuer took it (00), or has nothing to reverse (25, 12)
            await asyncio.sleep(pause)
            pause *= 2
        log.error("reversal of STAN %s not taken after %d attempts; its hold expires", original["11"], attempt + 1)

    async def _send_reversal(self, original: Fields, *, first: bool) -> Fields | None:
        """One reversal of `original` (0400 the first time, 0420 repeats); the answer, or None if none came."""
        reversal: Fields = {
            key: original[key] for key in ("2", "3", "4", "14", "32", "37", "41", "42", "49") if key in original
        }
        now = datetime.fromtimestamp(self._clock(), UTC)
        reversal.update(
            {
                "t": REVERSAL if first else REVERSAL_ADVICE,
                "7": now.strftime("%m%d%H%M%S"),
                "11": self._next_stan(),
                "90": original_data(original),
            }
        )
        try:
            answer = await (await self._connected()).request(reversal, timeout_s=self._reversal_timeout_s)
        except (ResponseTimeout, LinkClosed, OSError, TimeoutError):
            await self._drop()
            return None
        if self._log is not None:
            await log_answer(self._log, reversal, answer, "", self._at())
        return answer

    async def drain(self) -> None:
        """Wait for the reversals in progress (a clean shutdown, and tests)."""
        while self._reversals:
            await asyncio.gather(*self._reversals, return_exceptions=True)

    async def _connected(self) -> Client:
        async with self._connecting:
            if self._link is None or self._link.closed:
                self._link = await Client.connect(*self._switch, timeout_s=CONNECT_TIMEOUT_S, ssl=self._tls)
            return self._link

    async def _drop(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            with contextlib.suppress(Exception):
                await link.close()

    async def close(self) -> None:
        await self._drop()


def ecommerce_request(
    merchant: MerchantSpec,
    *,
    pan: str,
    expiry: str,
    amount_minor: int,
    currency_numeric: int,
    cvv2: str | None = None,
    device: str | None = None,
    refund: bool = False,
    manual: bool = False,
) -> Fields:
    """A web shop's request as its virtual terminal sends it: a purchase (0200), an authorization completed at
    clearing (`manual`, 0100) or a refund (processing code 20), the card keyed in (entry mode 810), the CVV2 in
    field 48 and a wallet's device in field 62."""
    request: Fields = {
        "t": AUTHORIZATION if manual else FINANCIAL,
        "2": pan,
        "3": "200000" if refund else "000000",
        "4": f"{amount_minor:012d}",
        "14": expiry,
        "22": ECOMMERCE_ENTRY_MODE,
        "41": merchant.terminal,
        "49": f"{currency_numeric:03d}",
    }
    if cvv2:
        request["48"] = f"92{len(cvv2):02d}{cvv2}"
    if device:
        request["62"] = device
    return request
