"""What can go wrong with trade records, as errors a caller can tell apart.

Every one is a ValueError (bad input, as corridor.money's errors are), so an orchestrator can catch them all at once
and still tell a malformed record from a conflict, a missing counterpart, a refused payment or a status that cannot
move. Each message names the field by its path (`invoice.lines[2].unit_price: ...`), because the person reading it is
usually fixing one field of one document, and says nothing it does not need to about people's KYC data.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "InvalidRecord",
    "InvalidTransition",
    "PaymentRefused",
    "TradeError",
    "UnknownRecord",
]


class TradeError(ValueError):
    """Base of the trade errors; raising one means nothing was changed."""


class InvalidRecord(TradeError):
    """A record's field is malformed or out of its limits; the message starts with the field's path."""


class Conflict(TradeError):
    """A record with this key is already stored with other content; the message names each field that differs."""


class UnknownRecord(TradeError):
    """A record refers to a party, contract, invoice or payment that is not stored (or is of the wrong kind)."""


class PaymentRefused(TradeError):
    """A payment the invoice cannot take: in another currency, or more than what is left to pay."""


class InvalidTransition(TradeError):
    """A payment status that cannot follow the stored one (statuses only move forward)."""
