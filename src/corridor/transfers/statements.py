"""Statements (camt.053) and notifications (camt.054) built from the ledger, so they reconcile by construction.

A statement's entries are the account's booked movements in the period, read from the ledger's own history of the
account (single-phase transfers and posts of pending ones; a reservation is not a booking, nor is its void). The
closing balance is the ledger balance at the period's end and the opening balance is the closing balance less
the entries, so `opening + credits - debits == closing` holds to the minor unit and the closing balance matches the
ledger. Each entry carries the payment's UETR, which the bank stores in the transfer's user_data_128.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from corridor.iso20022.models import Entry, Notification, Statement
from corridor.ledger import Ledger, Transfer, TransferFlags
from corridor.money import Currency, Money

_NOT_BOOKED = int(TransferFlags.PENDING | TransferFlags.VOID_PENDING_TRANSFER)
PAGE = 500


def booked(transfer: Transfer) -> bool:
    return not transfer.flags & _NOT_BOOKED


def _time(ns: int) -> datetime:
    return datetime.fromtimestamp(ns // 1000 / 1e6, UTC)


def entry_of(transfer: Transfer, account_id: int, cur: Currency) -> Entry:
    uetr = str(uuid.UUID(int=transfer.user_data_128)) if transfer.user_data_128 else None
    return Entry(
        amount=Money(transfer.amount, cur),
        credit=transfer.credit_account_id == account_id,
        booked=_time(transfer.timestamp).date(),
        reference=f"{transfer.id:032x}"[:35],
        end_to_end_id=uetr.replace("-", "") if uetr else None,
        uetr=uetr,
    )


def statement(
    ledger: Ledger,
    account_id: int,
    *,
    number: str,
    owner: str,
    cur: Currency,
    start_ns: int,
    end_ns: int,
    message_id: str,
    created: datetime,
    sequence: int,
) -> Statement:
    """The camt.053 of one account for [start_ns, end_ns)."""
    account = ledger.get_account(account_id)
    if account is None:
        raise LookupError(f"account {number} has no ledger account")
    balance = account.credits_posted - account.debits_posted
    inside: list[Transfer] = []
    before: int | None = None
    done = False
    while not done:
        page = ledger.account_transfers(account_id, limit=PAGE, before=before)
        for transfer in page:
            if transfer.timestamp < start_ns:
                done = True
                break
            if not booked(transfer):
                continue
            signed = transfer.amount if transfer.credit_account_id == account_id else -transfer.amount
            if transfer.timestamp >= end_ns:
                balance -= signed
            else:
                inside.append(transfer)
        if len(page) < PAGE:
            break
        before = page[-1].timestamp
    inside.reverse()
    moved = sum(t.amount if t.credit_account_id == account_id else -t.amount for t in inside)
    return Statement(
        message_id=message_id,
        created=created,
        statement_id=f"STMT{message_id[4:]}"[:35],
        account=number,
        account_currency=cur,
        account_owner=owner,
        opening_balance=Money(balance - moved, cur),
        closing_balance=Money(balance, cur),
        entries=tuple(entry_of(t, account_id, cur) for t in inside),
        electronic_sequence=sequence,
        from_time=_time(start_ns),
        to_time=_time(end_ns),
    )


def notification(
    transfer: Transfer, account_id: int, *, number: str, cur: Currency, message_id: str, created: datetime
) -> Notification:
    """The camt.054 telling a customer of one booked movement on their account."""
    return Notification(
        message_id=message_id,
        created=created,
        notification_id=f"NTF{message_id[4:]}"[:35],
        account=number,
        account_currency=cur,
        entries=(entry_of(transfer, account_id, cur),),
    )
