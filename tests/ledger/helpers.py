"""Small builders shared by the ledger tests."""

from __future__ import annotations

from corridor.ledger import Account, AccountFlags, Transfer, TransferFlags

RUB = 643
VES = 928


def account(id: int, ledger: int = RUB, flags: int = AccountFlags.NONE, code: int = 1) -> Account:
    return Account(id=id, ledger=ledger, code=code, flags=flags)


def transfer(
    id: int,
    debit: int,
    credit: int,
    amount: int,
    ledger: int = RUB,
    flags: int = TransferFlags.NONE,
    timeout: int = 0,
) -> Transfer:
    return Transfer(
        id=id,
        debit_account_id=debit,
        credit_account_id=credit,
        amount=amount,
        ledger=ledger,
        code=1,
        flags=flags,
        timeout=timeout,
    )


def post(id: int, pending_id: int, amount: int = 0) -> Transfer:
    return Transfer(id=id, pending_id=pending_id, amount=amount, flags=TransferFlags.POST_PENDING_TRANSFER)


def void(id: int, pending_id: int) -> Transfer:
    return Transfer(id=id, pending_id=pending_id, flags=TransferFlags.VOID_PENDING_TRANSFER)
