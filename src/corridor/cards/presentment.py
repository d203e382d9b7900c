"""Presentment batches: what an acquirer sends clearing at the end of its day, and how clearing reads them.

A batch is the acquirer's claim to be paid for what its merchants sold on the scheme's cards (and to give back what
they refunded): one presentment per approval, naming it by the request key the network knows it by (acquiring
institution, STAN, transmission time) with its RRN and authorization code, and the amount to clear, which for an
authorization may be less than was approved (a partial shipment, a smaller final bill). The batch carries control
totals, as clearing files do, so a file cut short or added to on the way is refused whole.

Batches come from outside the scheme, so `parse_batch` checks everything and names what is wrong
(`presentments[3].amount: must be a positive integer (minor units)`); it is fuzzed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from corridor.cards.authlog import Approval
from corridor.cards.iso8583 import request_key
from corridor.money import MoneyError, currency

MAX_BATCH_BYTES: Final = 8 * 1024 * 1024
MAX_PRESENTMENTS: Final = 50_000
_DIGITS: Final = {"stan": 6, "transmitted": 10}
_BATCH_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class BatchError(ValueError):
    """A batch clearing refuses whole; `where` names the part that is wrong."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Presentment:
    stan: str
    transmitted: str
    """Field 7 of the approved request: with the acquirer and the STAN, the approval's request key."""
    rrn: str
    auth_code: str
    amount: int
    """To clear, in minor units of the batch's currency (the merchant's)."""


@dataclass(frozen=True, slots=True)
class PresentmentBatch:
    batch_id: str
    """Unique per acquirer: the same batch sent twice is cleared once."""
    acquirer: str
    """The acquiring institution id (field 32)."""
    currency: str
    presentments: tuple[Presentment, ...]

    def key_of(self, presentment: Presentment) -> str:
        return request_key(self.acquirer, presentment.stan, presentment.transmitted)

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "batch_id": self.batch_id,
                "acquirer": self.acquirer,
                "currency": self.currency,
                "count": len(self.presentments),
                "total": sum(p.amount for p in self.presentments),
                "presentments": [
                    {
                        "stan": p.stan,
                        "transmitted": p.transmitted,
                        "rrn": p.rrn,
                        "auth_code": p.auth_code,
                        "amount": p.amount,
                    }
                    for p in self.presentments
                ],
            },
            separators=(",", ":"),
        ).encode()


def batch_of(batch_id: str, acquirer: str, currency_code: str, approvals: Iterable[Approval]) -> PresentmentBatch:
    """An acquirer's batch presenting each of `approvals` for what was approved (original and increments)."""
    standing = list(approvals)
    increments: dict[str, int] = {}
    for approval in standing:
        if approval.original is not None:
            increments[approval.original] = increments.get(approval.original, 0) + approval.amount
    return PresentmentBatch(
        batch_id,
        acquirer,
        currency_code,
        tuple(
            Presentment(a.stan, a.transmitted, a.rrn, a.auth_code, a.amount + increments.get(a.request_key, 0))
            for a in standing
            if a.original is None
        ),
    )


def parse_batch(data: bytes) -> PresentmentBatch:
    """A batch from its JSON form, checked whole: any fault refuses it with a BatchError naming the field."""
    if len(data) > MAX_BATCH_BYTES:
        raise BatchError("batch", f"{len(data)} bytes is over the limit of {MAX_BATCH_BYTES}")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise BatchError("batch", f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BatchError("batch", "must be a JSON object")
    batch_id = _text(document, "batch_id", "batch_id")
    if not _BATCH_ID.fullmatch(batch_id):
        raise BatchError("batch_id", "1-64 letters, digits or ._:-")
    acquirer = _text(document, "acquirer", "acquirer")
    if not (acquirer.isascii() and acquirer.isdigit()) or len(acquirer) > 11:
        raise BatchError("acquirer", "an acquiring institution id: 1-11 digits")
    code = _text(document, "currency", "currency")
    if not (len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
        raise BatchError("currency", "an ISO 4217 alphabetic code, such as RUB")
    try:
        currency(code)
    except MoneyError:
        raise BatchError("currency", f"{code!r} is not an ISO 4217 currency") from None
    items = document.get("presentments")
    if not isinstance(items, list):
        raise BatchError("presentments", "must be a list")
    if len(items) > MAX_PRESENTMENTS:
        raise BatchError("presentments", f"{len(items)} is over the limit of {MAX_PRESENTMENTS} per batch")
    presentments = tuple(_presentment(item, f"presentments[{index}]") for index, item in enumerate(items))
    count, total = _count(document, "count"), _count(document, "total")
    if count != len(presentments):
        raise BatchError("count", f"says {count}, the batch holds {len(presentments)}")
    if total != sum(p.amount for p in presentments):
        raise BatchError("total", f"says {total}, the presentments add up to {sum(p.amount for p in presentments)}")
    return PresentmentBatch(batch_id, acquirer, code, presentments)


def _presentment(item: Any, where: str) -> Presentment:
    if not isinstance(item, dict):
        raise BatchError(where, "must be a JSON object")
    fields = {}
    for name, size in _DIGITS.items():
        value = _text(item, name, f"{where}.{name}")
        if len(value) != size or not (value.isascii() and value.isdigit()):
            raise BatchError(f"{where}.{name}", f"must be {size} digits")
        fields[name] = value
    rrn = _text(item, "rrn", f"{where}.rrn")
    if len(rrn) != 12 or not rrn.isascii() or not rrn.isalnum():
        raise BatchError(f"{where}.rrn", "must be 12 letters or digits")
    auth_code = _text(item, "auth_code", f"{where}.auth_code")
    if len(auth_code) != 6 or not auth_code.isascii() or not auth_code.isalnum():
        raise BatchError(f"{where}.auth_code", "must be 6 letters or digits")
    amount = item.get("amount")
    if type(amount) is not int or amount <= 0 or amount >= 10**12:
        raise BatchError(f"{where}.amount", "must be a positive integer (minor units) of at most 12 digits")
    return Presentment(fields["stan"], fields["transmitted"], rrn, auth_code, amount)


def _text(table: dict[str, Any], name: str, where: str) -> str:
    value = table.get(name)
    if not isinstance(value, str):
        raise BatchError(where, "missing, or not a string")
    return value


def _count(table: dict[str, Any], name: str) -> int:
    value = table.get(name)
    if type(value) is not int or value < 0:
        raise BatchError(name, "must be a non-negative integer")
    return value
