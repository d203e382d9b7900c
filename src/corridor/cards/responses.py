"""ISO 8583:1987 response codes (field 39) the scheme answers with, and what each tells the merchant.

An issuer or the switch picks the most specific code the standard has, so an acquirer can tell "ask the cardholder
for another card" (14, 54, 41) from "try again later" (91, 96) from "the cardholder cannot pay this" (51, 61)."""

from __future__ import annotations

from enum import StrEnum


class Response(StrEnum):
    APPROVED = "00"
    REFER_TO_ISSUER = "01"
    """Not decided here: the issuer must look first (a party on a watch-list). The merchant may try again once the
    issuer has decided, or ask the cardholder for another way to pay."""
    DO_NOT_HONOUR = "05"
    """Refused for a reason not told to the merchant: a blocked card, a wrong CVV2."""
    PARTIAL_APPROVAL = "10"
    """Approved for less than asked (field 4 says how much): a terminal that can take it asked for it."""
    INVALID_TRANSACTION = "12"
    INVALID_AMOUNT = "13"
    INVALID_CARD = "14"
    """No such card at this issuer (or a PAN that fails its check digit)."""
    NO_SUCH_ISSUER = "15"
    ORIGINAL_NOT_FOUND = "25"
    """A reversal whose original authorization the issuer has no record of."""
    FORMAT_ERROR = "30"
    LOST_CARD = "41"
    INSUFFICIENT_FUNDS = "51"
    EXPIRED_CARD = "54"
    """Past its expiry date, or an expiry date that is not the card's."""
    INCORRECT_PIN = "55"
    NOT_PERMITTED = "57"
    """Not permitted to this cardholder: the account is closed or blocked, or the card's product does not allow it."""
    TERMINAL_NOT_PERMITTED = "58"
    """A terminal the acquirer does not know as one of its merchants'."""
    EXCEEDS_LIMIT = "61"
    """Over the card's limit per transaction or per day."""
    RESTRICTED_CARD = "62"
    """A device token that is suspended or deleted; or a party the issuer's compliance review found on a
    watch-list."""
    ISSUER_UNAVAILABLE = "91"
    SYSTEM_ERROR = "96"

    @property
    def approved(self) -> bool:
        return self in (Response.APPROVED, Response.PARTIAL_APPROVAL)


def describe(code: str) -> str:
    """A response code with its meaning, as a report shows it (`51 insufficient funds`)."""
    try:
        return f"{code} {Response(code).name.lower().replace('_', ' ')}"
    except ValueError:
        return code
