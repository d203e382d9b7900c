"""The issuer processor: answers authorization requests for its cards by holding the cardholder's money.

An approved authorization is a pending transfer in the issuing bank's ledger, from the cardholder's account to the
bank's card settlement account, with a timeout: the hold the merchant's completion later posts, a reversal voids,
and the ledger itself expires when neither comes. The checks run in the order an issuer's do, and each refusal has
the standard's own response code (responses.py): the card (14 unknown, 41 lost, 05 blocked, 54 expired), what the
cardholder proves (05 wrong CVV2, 55 wrong PIN), the amount (13, 61 over the product's limits), the bank's
compliance desk (01 refer: held for review; 61, 62: refused; cards/screening.py), and the money (51).

Exactly once: the hold's id is derived from the request's key (acquiring institution, STAN, transmission time), so
a request sent again, even after a crash between the hold and its record, finds its hold (`exists`) rather than
making a second; the record then answers every repeat with the same response.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from corridor.cards.cardstore import (
    COMPLETED,
    DECLINED,
    HELD,
    POSTED,
    REFUNDED,
    REVERSED,
    UNFUNDED,
    Authorization,
    CardRecord,
    CardStore,
    TokenRecord,
)
from corridor.cards.iso8583 import (
    ADVICE,
    AUTHORIZATION,
    FINANCIAL,
    REVERSAL,
    REVERSAL_ADVICE,
    Fields,
    original_request_key,
    request_key,
)
from corridor.cards.pan import PanError, PanVault, issue_pan
from corridor.cards.responses import Response
from corridor.cards.security import IssuerKeys, cvv2, pvv, verify_cvv2, verify_pin_block
from corridor.keylocks import KeyLocks
from corridor.ledger import Account, AccountFlags, Ledger, Transfer, TransferFlags
from corridor.ledger.results import CreateTransferResult as R
from corridor.money import Currency, currency
from corridor.network.context import iso_time, ledger_id
from corridor.scenario.cards import CardSchemeSpec, CardSpec

CARD_SETTLEMENT, CARD_HOLD = 20, 20
HOLD_TIMEOUT_S = 7 * 24 * 3600
"""How long an authorization's hold lasts uncompleted before the ledger releases it (schemes allow about a week)."""
SERVICE_CODE = "221"
"""International card, normal authorization, no restrictions (ISO/IEC 7813)."""
CVV2_TAG = "92"
"""Field 48 subelement carrying the CVV2 (tag, 2-digit length, value)."""
PARTIAL_TAG = "61"
"""Field 48 subelement by which a terminal says it can take a partial approval (value "1")."""
REQUIRED = ("2", "4", "7", "11", "14", "32", "37", "49")
REFUND = "20"
TOKEN_RANGE = 900_000_000
"""Device tokens are numbered from here within a 6-digit BIN's 9 account digits; cards below it."""
"""Processing code (field 3) of a refund: money back to the card."""


class Audit(Protocol):
    async def __call__(self, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> None: ...


class Screen(Protocol):
    async def __call__(self, request_key: str, account: str, amount: int, field43: object) -> Response | None:
        """None to go on with the authorization, or the response to refuse or refer it with."""
        ...


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """What the cardholder receives once, at issuance: the issuer keeps none of it in clear."""

    pan: str
    cvv2: str
    expires: str

    def __repr__(self) -> str:
        return f"IssuedCard(pan={self.pan[:6]}******{self.pan[-4:]}, expires={self.expires})"


class Issuer:
    def __init__(
        self,
        *,
        bic: str,
        currency_code: str,
        scheme: CardSchemeSpec,
        vault: PanVault,
        keys: IssuerKeys,
        ledger: Ledger,
        store: CardStore,
        account_id: Callable[[str], int],
        clock: Callable[[], float] = time.time,
        hold_timeout_s: int = HOLD_TIMEOUT_S,
        screen: Screen | None = None,
        audit: Audit | None = None,
    ) -> None:
        """`hold_timeout_s`: how long an authorization's hold lasts uncompleted before the ledger releases it.
        `screen`: the bank's compliance check of a purchase that passed every other check (cards/screening.py).
        `audit`: where a change to a card's status or limits is recorded (the node's audit trail)."""
        self.bic = bic
        self._hold_timeout_s = hold_timeout_s
        self.currency: Currency = currency(currency_code)
        if self.currency.numeric is None:
            raise ValueError(f"{currency_code} has no ISO 4217 number: cards are issued in a national currency")
        self.ledger_no: int = self.currency.numeric
        self.scheme = scheme
        self._vault = vault
        self._keys = keys
        self._ledger = ledger
        self._store = store
        self._account_id = account_id
        self._clock = clock
        self.settlement_account = ledger_id(bic, "cards", "settlement")
        self._flush: asyncio.Future[None] | None = None
        self._card_locks = KeyLocks()
        self._request_locks = KeyLocks()
        self._screen = screen
        self._audit = audit

    async def setup(self) -> None:
        """Open the card settlement account that holds are made to (again on every start: `exists`)."""
        account = Account(
            id=self.settlement_account, ledger=self.ledger_no, code=CARD_SETTLEMENT, flags=AccountFlags.HISTORY
        )
        await self._ledger.acreate_accounts([account])

    async def issue(self, spec: CardSpec, sequence: int, pin: str) -> IssuedCard:
        """Issue a card of the scenario on its product's first BIN: the PAN is sealed, only the PIN's PVV is kept."""
        issuer = next(i for i in self.scheme.issuers if i.bank == self.bic)
        pan = issue_pan(issuer.bins[0], sequence)
        record = CardRecord(
            self._vault.seal(pan),
            spec.account,
            spec.product,
            spec.expires,
            SERVICE_CODE,
            "active",
            pvv(self._keys, pan, pin),
            spec.per_transaction.minor if spec.per_transaction else None,
            spec.per_day.minor if spec.per_day else None,
        )
        if self._store.card(record.sealed.lookup) is None:
            await asyncio.to_thread(self._store.add_card, record, self._at())
        return IssuedCard(pan, cvv2(self._keys, pan, spec.expires), spec.expires)

    async def complete(self, key: str, amount: int) -> Response:
        """Post an authorization's hold, and its increments' in order, for `amount` in the card's currency (what
        clearing presented: at most what was held; the rest goes back to the cardholder), once: a repeat changes
        nothing. An increment nothing is left for is voided."""
        async with self._request_locks.hold(key):
            auth = self._store.authorization(key)
            if auth is None:
                return Response.ORIGINAL_NOT_FOUND
            if auth.state == COMPLETED:
                return Response.APPROVED
            if auth.state != HELD or auth.hold_id is None:
                return Response.INVALID_TRANSACTION
            holds = [auth, *(i for i in self._store.increments(key) if i.state == HELD and i.hold_id is not None)]
            if not 0 < amount <= sum(hold.amount for hold in holds):
                return Response.INVALID_AMOUNT
            left = amount
            outcomes: list[tuple[str, str]] = []
            for hold in holds:
                part = min(left, hold.amount)
                left -= part
                assert hold.hold_id is not None
                if part:
                    step = Transfer(
                        id=ledger_id(self.bic, "card-complete", hold.request_key),
                        pending_id=hold.hold_id,
                        amount=part,
                        flags=TransferFlags.POST_PENDING_TRANSFER,
                    )
                    done: tuple[R, ...] = (R.ok, R.exists, R.pending_transfer_already_posted)
                else:
                    step = Transfer(
                        id=ledger_id(self.bic, "card-void", hold.request_key),
                        pending_id=hold.hold_id,
                        flags=TransferFlags.VOID_PENDING_TRANSFER,
                    )
                    done = (R.ok, R.exists, R.pending_transfer_already_voided, R.pending_transfer_expired)
                result = await self._apply(step)
                if result is R.pending_transfer_expired and part:
                    return Response.INVALID_TRANSACTION  # an expired hold cannot be completed
                if result not in done:
                    return Response.SYSTEM_ERROR
                outcomes.append((hold.request_key, COMPLETED if part else REVERSED))
            # recorded once every hold is resolved: a repeat after a crash half-way resolves the same holds the
            # same way (the same ids and amounts) and finds them done
            for request, state in reversed(outcomes):
                await self._store.set_state(request, state)
            return Response.APPROVED

    async def _apply(self, transfer: Transfer) -> R:
        """Apply one transfer on the loop (the ledger's inline path) and wait until it is durable. The transfers
        applied in one turn of the loop share one flush (one group, one commit), and none crosses a thread to be
        applied: a flush per authorization cost the issuer more than deciding it."""
        (result,) = self._ledger.apply_transfers([transfer])
        await asyncio.shield(self._durable())
        return result

    def _durable(self) -> asyncio.Future[None]:
        """A future answered once everything applied so far is durable, shared by this turn of the loop."""
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.create_future()
            loop.call_soon(self._start_flush)
        return self._flush

    def _start_flush(self) -> None:
        done, self._flush = self._flush, None
        assert done is not None
        task = asyncio.get_running_loop().create_task(self._ledger.aflush())

        def settle(finished: asyncio.Task[None]) -> None:
            if done.done():
                return
            if finished.cancelled():
                done.cancel()
            elif (error := finished.exception()) is not None:
                done.set_exception(error)
            else:
                done.set_result(None)

        task.add_done_callback(settle)

    def adopt_keys(self, keys: IssuerKeys, vault: PanVault) -> None:
        """Use a rotated key file from the next request on (cards/cardkeys.py): new cards are issued and sealed
        under its current generation; cards issued under a generation it still holds keep working."""
        self._keys, self._vault = keys, vault

    def _cvv2_matches(self, card: CardRecord, pan: str, cvv: str) -> bool:
        """The CVV2 checked against the key generation its card was issued under only (the sealed PAN's key id names
        it: cards/cardkeys.py): each extra generation tried would be one more chance for a guessed CVV2 to match. A
        card sealed under a vault key that names no card key generation (keys made apart, as a test's) is checked
        against every generation held."""
        held = {generation.key_id for generation in self._keys.generations}
        keys = self._keys.generation(card.sealed.key_id) if card.sealed.key_id in held else self._keys
        return verify_cvv2(keys, pan, card.expires, cvv)

    async def set_limits(self, pan: str, per_transaction: int | None, per_day: int | None) -> None:
        """Set a card's own limits (minor units of its currency; None: its product's), within its product's: a
        cardholder lowering what the card may spend, or the bank for a card it watches."""
        lookup = self._vault.lookup(pan)
        card = self._store.card(lookup)
        if card is None:
            raise ValueError(f"not a card of {self.bic}")
        product = self.scheme.product(card.product)
        for name, value, ceiling in (
            ("per_transaction", per_transaction, product.per_transaction.minor),
            ("per_day", per_day, product.per_day.minor),
        ):
            if value is not None and not 0 < value <= ceiling:
                raise ValueError(f"{name}: {value} is not between 1 and the product's {ceiling}")
        await asyncio.to_thread(self._store.set_limits, lookup, per_transaction, per_day)
        if self._audit is not None:
            limits = {"per_transaction": per_transaction, "per_day": per_day}
            await self._audit("operator", "card.limits", lookup, limits)

    def cards_of(self, account: str) -> list[dict[str, Any]]:
        """A cardholder account's cards as its bank's staff and API see them: each named by its lookup hash (keyed:
        it tells nothing of the number), shown masked, with its product, expiry, status and own limits."""
        return [card_view(card) for card in self._store.cards_of(account)]

    async def set_card_status(self, card_id: str, status: str) -> dict[str, Any] | None:
        """Block a card, report it lost, or make it active again, by its id (`cards_of`); None if no such card.
        Its next authorization is decided on this."""
        if self._store.card(card_id) is None:
            return None
        await asyncio.to_thread(self._store.set_status, card_id, status)
        if self._audit is not None:
            await self._audit("operator", "card.status", card_id, {"status": status})
        found = self._store.card(card_id)
        return None if found is None else card_view(found)

    async def set_status(self, pan: str, status: str) -> None:
        """Block a card, report it lost, or make it active again: its next authorization is decided on this."""
        await asyncio.to_thread(self._store.set_status, self._vault.lookup(pan), status)

    async def provision_token(self, pan: str, device: str) -> str:
        """A device token for an active card, for the wallet on `device` (field 62 names the device in each payment
        made with it): a number in the issuer's BIN that only this issuer can map to the card. Returned once; kept
        by its keyed hash only."""
        if not (1 <= len(device) <= 64 and device.isascii() and device.isprintable()):
            raise ValueError("a device id is 1 to 64 printable ASCII characters (ISO 8583 field 62)")
        card_lookup = self._vault.lookup(pan)
        card = self._store.card(card_lookup)
        if card is None or card.status != "active":
            raise ValueError(f"{card.sealed.masked if card else 'that card'} is not an active card of {self.bic}")
        issuer = next(i for i in self.scheme.issuers if i.bank == self.bic)
        while True:
            token = issue_pan(issuer.bins[0], TOKEN_RANGE + secrets.randbelow(10**9 - TOKEN_RANGE))
            lookup = self._vault.lookup(token)
            if self._store.card(lookup) is None and self._store.token(lookup) is None:
                break
        record = TokenRecord(lookup, card_lookup, device, "active")
        await asyncio.to_thread(self._store.add_token, record, self._at())
        return token

    async def set_token_status(self, token: str, status: str) -> None:
        """Suspend a device token (a phone lost), make it active again, or delete it; the card is not touched."""
        await asyncio.to_thread(self._store.set_token_status, self._vault.lookup(token), status)

    def _card_lookup(self, request: Fields) -> tuple[str, Response | None, bool]:
        """The lookup hash of the card field 2 names, directly or through a device token; a refusal for a token
        that is not active (62) or is used from another device than field 62 names (05); and whether it was a
        token."""
        number = str(request["2"])
        lookup = self._vault.lookup(number)
        if not _in_token_range(number):  # a card's number: no token to look for (one read per authorization)
            return lookup, None, False
        token = self._store.token(lookup)
        if token is None:
            return lookup, None, False
        if token.status != "active":
            return token.card, Response.RESTRICTED_CARD, True
        if request.get("62") != token.device:
            return token.card, Response.DO_NOT_HONOUR, True
        return token.card, None, True

    def _at(self) -> str:
        """Now, as the records' timestamps write it."""
        return iso_time(int(self._clock() * 1e9))

    async def handle(self, request: Fields) -> Fields:
        """The link's handler: authorizations, purchases and refunds, advices and reversals; any other request is not
        one an issuer takes (12)."""
        kind = request["t"]
        if kind in (AUTHORIZATION, FINANCIAL):
            return await self.authorize(request)
        if kind in (REVERSAL, REVERSAL_ADVICE):
            return await self.reverse(request)
        if kind == ADVICE:
            return await self.apply_advice(request)
        return {"39": Response.INVALID_TRANSACTION}

    async def authorize(self, request: Fields) -> Fields:
        if any(key not in request for key in REQUIRED):
            return {"39": Response.FORMAT_ERROR}
        key = request_key(str(request["32"]), str(request["11"]), str(request["7"]))
        try:
            lookup, refused, tokenised = self._card_lookup(request)
        except PanError:
            return {"39": Response.INVALID_CARD}
        # One request (against its reversal or a repeat) and one card's daily total are decided one at a time.
        async with self._request_locks.hold(key), self._card_locks.hold(lookup):
            card, today, seen = self._store.card_for(lookup, key, _day(self._clock()))
            if seen:
                prior = self._store.authorization(key)
                assert prior is not None
                return _answer(prior)
            if card is None:
                return {"39": Response.INVALID_CARD}
            if refused is not None:
                return {"39": refused}
            if request["t"] == FINANCIAL and str(request.get("3", "")).startswith(REFUND):
                return await self._refund(request, key, lookup, card)
            original_key = None
            if request["t"] == AUTHORIZATION and "90" in request:  # an incremental authorization
                original_key = original_request_key(str(request["90"]))
                original = self._store.authorization(original_key) if original_key else None
                if original_key is None:
                    return {"39": Response.FORMAT_ERROR}
                if original is None:
                    return {"39": Response.ORIGINAL_NOT_FOUND}
                if original.lookup != lookup or original.state != HELD:
                    return {"39": Response.INVALID_TRANSACTION}  # another card's, or no longer held
            single = request["t"] == FINANCIAL  # a purchase: debited at once rather than held
            pan = self._vault.open(card.sealed) if tokenised else str(request["2"])
            amount, code = self._decide(request, card, today, pan)
            if code is Response.APPROVED and self._screen is not None:
                code = await self._screen(key, card.account, amount, request.get("43")) or code
            hold_id = None
            if code is Response.APPROVED:
                hold_id = ledger_id(self.bic, "card-hold", key)
                code = await self._hold(hold_id, card, amount, posted=single)
                if code is Response.INSUFFICIENT_FUNDS and _partial_allowed(request):
                    amount, code = await self._hold_what_is_there(hold_id, card, posted=single)
            auth = Authorization(
                request_key=key,
                lookup=lookup,
                hold_id=hold_id if code.approved else None,
                amount=amount,
                currency=self.currency.code,
                day=_day(self._clock()),
                response=code.value,
                auth_code=f"{hold_id % 1_000_000:06d}" if hold_id and code.approved else None,
                state=(POSTED if single else HELD) if code.approved else DECLINED,
                original=original_key,
            )
            await self._store.record(auth, self._at())
            return _answer(auth)

    async def _refund(self, request: Fields, key: str, lookup: str, card: CardRecord) -> Fields:
        """Money back to the card (processing code 20): credited at once, whatever the card's status or limits."""
        amount = _billing_amount(request, self.currency)
        if amount is None or amount <= 0:
            return {"39": Response.INVALID_AMOUNT}
        refund_id = ledger_id(self.bic, "card-refund", key)
        refund = Transfer(
            id=refund_id,
            debit_account_id=self.settlement_account,
            credit_account_id=self._account_id(card.account),
            amount=amount,
            ledger=self.ledger_no,
            code=CARD_HOLD,
        )
        result = await self._apply(refund)
        code = Response.APPROVED if result in (R.ok, R.exists) else Response.NOT_PERMITTED
        auth = Authorization(
            key,
            lookup,
            refund_id if code.approved else None,
            amount,
            self.currency.code,
            _day(self._clock()),
            code.value,
            f"{refund_id % 1_000_000:06d}" if code.approved else None,
            REFUNDED if code.approved else DECLINED,
        )
        await self._store.record(auth, self._at())
        return _answer(auth)

    async def apply_advice(self, request: Fields) -> Fields:
        """Take a stand-in approval the switch gave while this issuer was unreachable: hold its amount, without the
        checks the switch could not make, and acknowledge it (an advice is not refused; once is enough: a repeat, or
        an advice of a request this issuer did decide after all, changes nothing)."""
        if any(key not in request for key in REQUIRED):
            return {"39": Response.FORMAT_ERROR}
        key = request_key(str(request["32"]), str(request["11"]), str(request["7"]))
        try:
            lookup, _, _ = self._card_lookup(request)  # the switch approved it: a token's status is not asked again
        except PanError:
            return {"39": Response.INVALID_CARD}
        async with self._request_locks.hold(key), self._card_locks.hold(lookup):
            if self._store.authorization(key) is not None:
                return {"39": Response.APPROVED}
            card = self._store.card(lookup)
            amount = _billing_amount(request, self.currency)
            if card is None or amount is None or amount <= 0:
                return {"39": Response.INVALID_CARD if card is None else Response.INVALID_AMOUNT}
            hold_id = ledger_id(self.bic, "card-hold", key)
            held = await self._hold(hold_id, card, amount) is Response.APPROVED
            auth = Authorization(
                key,
                lookup,
                hold_id if held else None,
                amount,
                self.currency.code,
                _day(self._clock()),
                Response.APPROVED.value,
                str(request.get("38", "")) or None,
                HELD if held else UNFUNDED,
            )
            await self._store.record(auth, self._at())
        return {"39": Response.APPROVED}

    def _decide(self, request: Fields, card: CardRecord, today: int, pan: str) -> tuple[int, Response]:
        """The amount to hold, in the card's currency, and the first check it fails (APPROVED if none). `today`:
        what the card has had authorized today; `pan`: the card's, which CVV2 and PIN are checked against (field 2
        may be a device token)."""
        amount = _billing_amount(request, self.currency)
        status = {"lost": Response.LOST_CARD, "blocked": Response.DO_NOT_HONOUR, "expired": Response.EXPIRED_CARD}
        if card.status in status:
            return amount or 0, status[card.status]
        if request["14"] != card.expires or _expired(card.expires, self._clock()):
            return amount or 0, Response.EXPIRED_CARD
        cvv = subelement(str(request.get("48", "")), CVV2_TAG)
        if cvv is not None and not self._cvv2_matches(card, pan, cvv):
            return amount or 0, Response.DO_NOT_HONOUR
        block = request.get("52")
        if isinstance(block, bytes) and not verify_pin_block(self._keys, pan, block, card.pvv):
            return amount or 0, Response.INCORRECT_PIN
        if amount is None or amount <= 0:
            return 0, Response.INVALID_AMOUNT
        product = self.scheme.product(card.product)
        per_transaction = product.per_transaction.minor if card.per_transaction is None else card.per_transaction
        per_day = product.per_day.minor if card.per_day is None else card.per_day
        if amount > per_transaction or today + amount > per_day:
            return amount, Response.EXCEEDS_LIMIT
        return amount, Response.APPROVED

    async def _hold_what_is_there(self, hold_id: int, card: CardRecord, *, posted: bool) -> tuple[int, Response]:
        """A partial approval: hold what the cardholder's account has available, if anything."""
        account = self._ledger.view_account(self._account_id(card.account))  # holds applied but not yet durable too
        if account is None:
            return 0, Response.NOT_PERMITTED
        available = account.credits_posted - account.debits_posted - account.debits_pending
        if available <= 0:
            return 0, Response.INSUFFICIENT_FUNDS
        code = await self._hold(hold_id, card, available, posted=posted)
        return available, Response.PARTIAL_APPROVAL if code is Response.APPROVED else code

    async def _hold(self, hold_id: int, card: CardRecord, amount: int, *, posted: bool = False) -> Response:
        """Hold `amount` on the cardholder's account (a pending transfer), or with `posted` debit it at once."""
        hold = Transfer(
            id=hold_id,
            debit_account_id=self._account_id(card.account),
            credit_account_id=self.settlement_account,
            amount=amount,
            ledger=self.ledger_no,
            code=CARD_HOLD,
            flags=TransferFlags.NONE if posted else TransferFlags.PENDING,
            timeout=0 if posted else self._hold_timeout_s,
        )
        result = await self._apply(hold)
        if result in (R.ok, R.exists):
            return Response.APPROVED
        if result is R.exceeds_credits:
            return Response.INSUFFICIENT_FUNDS
        if result in (R.debit_account_not_found, R.debit_account_already_closed):
            return Response.NOT_PERMITTED
        return Response.SYSTEM_ERROR

    async def reverse(self, request: Fields) -> Fields:
        """Undo what field 90's original did: void its hold, or post the opposite of a purchase or refund; a second
        reversal of it is answered the same and changes nothing."""
        key = original_request_key(str(request.get("90", "")))
        if key is None:
            return {"39": Response.FORMAT_ERROR}
        async with self._request_locks.hold(key):
            return await self._reverse(key)

    async def _reverse(self, key: str) -> Fields:
        auth = self._store.authorization(key)
        if auth is None:
            # The reversal overtook its original (the acquirer gave up waiting while the original was still on its
            # way), or the original's run was killed between its hold and its record: release what such a run left
            # in the ledger (its id is derived from the request's key), then keep a refusal under the original's
            # key, so that if it comes after all it holds nothing.
            released = await self._release_unrecorded(key)
            tombstone = Authorization(
                key, "", None, 0, self.currency.code, _day(self._clock()), Response.DO_NOT_HONOUR.value, None, REVERSED
            )
            await self._store.record(tombstone, self._at())
            return {"39": released or Response.ORIGINAL_NOT_FOUND}
        async with self._card_locks.hold(auth.lookup):  # no increment is added to it meanwhile
            for increment in self._store.increments(key):  # reversing an authorization releases what was added
                released = await self._release(increment.request_key, increment)
                if released is not Response.APPROVED:
                    return {"39": released}
            return {"39": await self._release(key, auth)}

    async def _release_unrecorded(self, key: str) -> Response | None:
        """Void the hold, or undo the purchase, a killed run of request `key` made without recording it; None when
        the ledger holds nothing of it. Found by the id every run of the request derives (found by chaos runs: the
        cardholder's money otherwise stayed held until the hold's timeout)."""
        hold_id = ledger_id(self.bic, "card-hold", key)
        left = self._ledger.view_transfer(hold_id)
        if left is None:
            return None
        if left.flags & TransferFlags.PENDING:
            void = Transfer(
                id=ledger_id(self.bic, "card-void", key), pending_id=hold_id, flags=TransferFlags.VOID_PENDING_TRANSFER
            )
            result = await self._apply(void)
            done = (R.ok, R.exists, R.pending_transfer_already_voided, R.pending_transfer_expired)
            return Response.APPROVED if result in done else Response.SYSTEM_ERROR
        undo = Transfer(
            id=ledger_id(self.bic, "card-undo", key),
            debit_account_id=left.credit_account_id,
            credit_account_id=left.debit_account_id,
            amount=left.amount,
            ledger=left.ledger,
            code=CARD_HOLD,
        )
        result = await self._apply(undo)
        return Response.APPROVED if result in (R.ok, R.exists) else Response.SYSTEM_ERROR

    async def _release(self, key: str, auth: Authorization) -> Response:
        """Undo one authorization: void its hold, or post the opposite of a purchase or refund (once). One already
        completed by clearing is not reversed (12): a refund gives the money back."""
        if auth.state == COMPLETED:
            return Response.INVALID_TRANSACTION
        if auth.state == HELD and auth.hold_id is not None:
            void = Transfer(
                id=ledger_id(self.bic, "card-void", key),
                pending_id=auth.hold_id,
                flags=TransferFlags.VOID_PENDING_TRANSFER,
            )
            result = await self._apply(void)
            if result not in (R.ok, R.exists, R.pending_transfer_already_voided, R.pending_transfer_expired):
                return Response.SYSTEM_ERROR
            await self._store.set_state(key, REVERSED)
        elif auth.state in (POSTED, REFUNDED) and auth.hold_id is not None:
            undo = await self._undo(key, auth)
            if undo is not Response.APPROVED:
                return undo
            await self._store.set_state(key, REVERSED)
        return Response.APPROVED

    async def _undo(self, key: str, auth: Authorization) -> Response:
        """Reverse a purchase or a refund already posted: the same amount the other way, once."""
        card = self._store.card(auth.lookup)
        if card is None:
            return Response.SYSTEM_ERROR
        holder, settlement = self._account_id(card.account), self.settlement_account
        debit, credit = (settlement, holder) if auth.state == POSTED else (holder, settlement)
        undo = Transfer(
            id=ledger_id(self.bic, "card-undo", key),
            debit_account_id=debit,
            credit_account_id=credit,
            amount=auth.amount,
            ledger=self.ledger_no,
            code=CARD_HOLD,
        )
        result = await self._apply(undo)
        if result in (R.ok, R.exists):
            return Response.APPROVED
        return Response.INSUFFICIENT_FUNDS if result is R.exceeds_credits else Response.SYSTEM_ERROR


def _in_token_range(number: str) -> bool:
    """Whether a number is in the range device tokens are issued from (after a 6-digit BIN)."""
    account = number[6:-1]
    return account.isascii() and account.isdigit() and len(account) == 9 and int(account) >= TOKEN_RANGE


def _answer(auth: Authorization) -> Fields:
    answer: Fields = {"39": auth.response}
    if auth.auth_code:
        answer["38"] = auth.auth_code
    if auth.response == Response.PARTIAL_APPROVAL:
        answer["4"] = f"{auth.amount:012d}"  # the amount approved, in the card's (here also the merchant's) currency
    return answer


def _billing_amount(request: Fields, card_currency: Currency) -> int | None:
    """The amount in the card's currency: the billing amount (field 6, currency in 51) the switch put in for a
    foreign purchase, else the transaction amount if it is already in the card's currency."""
    if "51" in request:
        ccy, text = request["51"], request.get("6", "")
    else:
        ccy, text = request["49"], request["4"]
    if ccy != f"{card_currency.numeric:03d}" or not isinstance(text, str) or not text.isdigit():
        return None
    return int(text)


def _partial_allowed(request: Fields) -> bool:
    """The terminal takes partial approvals, and the purchase is in the card's currency (a partial amount abroad
    would need converting back, which the scheme does not do)."""
    return "51" not in request and subelement(str(request.get("48", "")), PARTIAL_TAG) == "1"


def subelement(field48: str, tag: str) -> str | None:
    """A subelement's value in field 48 (tag: 2 digits, length: 2 digits, value), or None if absent or malformed."""
    at = 0
    while at + 4 <= len(field48):
        name, size = field48[at : at + 2], field48[at + 2 : at + 4]
        if not (size.isascii() and size.isdigit()):
            return None
        value = field48[at + 4 : at + 4 + int(size)]
        if name == tag:
            return value
        at += 4 + int(size)
    return None


def _expired(expires: str, now: float) -> bool:
    """A card is valid through the last day of its expiry month."""
    today = datetime.fromtimestamp(now, UTC)
    return (2000 + int(expires[:2]), int(expires[2:])) < (today.year, today.month)


def _day(now: float) -> str:
    return _day_of(int(now // 86_400))


@functools.lru_cache(maxsize=4)
def _day_of(days: int) -> str:
    """The UTC date of a day number since the epoch (asked for several times per authorization)."""
    return datetime.fromtimestamp(days * 86_400, UTC).strftime("%Y-%m-%d")


def card_view(card: CardRecord) -> dict[str, Any]:
    """A card as it may be shown: never its number in clear, never its PVV."""
    return {
        "card_id": card.sealed.lookup,
        "card": card.sealed.masked,
        "account": card.account,
        "product": card.product,
        "expires": card.expires,
        "status": card.status,
        "per_transaction_minor": card.per_transaction,
        "per_day_minor": card.per_day,
    }
