"""How a payment's state at one node is kept: a JSON document per UETR in the node's records.

Money is stored as [minor units, currency code], never as a float or a formatted string.
"""

from __future__ import annotations

from typing import Any

from corridor.iso20022.models import (
    CancellationRequest,
    CancellationResolution,
    CreditTransfer,
    PaymentReturn,
    PaymentStatus,
)
from corridor.iso20022.models.common import Message
from corridor.iso20022.models.payments import InstitutionCreditTransfer
from corridor.money import Currency, Money, currency
from corridor.network.store import NodeStore

CBDC_PREFIX = "CBDC"
"""End-to-end id prefix of a central bank's pacs.009 exchanging a member's reserves for CBDC or back: the central
bank writes it, the member books it against its CBDC holdings rather than equity."""


def dump_money(money: Money) -> list[Any]:
    return [money.minor, money.currency.code]


def load_money(value: list[Any]) -> Money:
    return Money(int(value[0]), currency(str(value[1])))


def uetr_of(message: Message) -> str:
    """The payment a message belongs to, for locking and for finding its record."""
    if isinstance(message, CreditTransfer | InstitutionCreditTransfer):
        return message.uetr
    if isinstance(message, PaymentStatus):
        return message.original_uetr or message.original_message_id
    if isinstance(message, PaymentReturn | CancellationRequest | CancellationResolution):
        return message.original_uetr
    return getattr(message, "message_id", "")


def status_uetr(status: PaymentStatus, store: NodeStore) -> str:
    """The payment a pacs.002 answers: its own UETR, or, for the refusal of a message that could not be read (it
    carries only the original message id), the payment this node sent that message for; "" when neither."""
    return status.original_uetr or store.uetr_sent(status.original_message_id) or ""


def payment_key(message: Message, store: NodeStore) -> str:
    """The lock key of a message at a node: its payment's UETR, found through the node's outbox for a pacs.002 that
    names only the message it answers (else that message's id)."""
    if isinstance(message, PaymentStatus):
        return status_uetr(message, store) or message.original_message_id
    return uetr_of(message)


def ledger_of(cur: Currency) -> int:
    """A currency's ledger number: its ISO 4217 numeric code (tokens get theirs when they register)."""
    if cur.numeric is None:
        raise ValueError(f"{cur.code} has no numeric code to number its ledger")
    return int(cur.numeric)
