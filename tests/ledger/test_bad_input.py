"""Bad input gets a clear, specific error or result, and nothing is written."""

from __future__ import annotations

import pytest

from corridor.ledger import (
    BATCH_MAX,
    Account,
    InvalidBatch,
    InvalidEvent,
    Transfer,
    TransferFlags,
)
from corridor.ledger import (
    CreateTransferResult as TR,
)
from tests.ledger.helpers import account, transfer


def nothing_written(ledger) -> bool:
    report = ledger.verify()
    return report.ok and report.transfers == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", -5, "Transfer.amount: must be an integer from 0 to 2**63-1, got -5"),
        ("amount", 2**63, "Transfer.amount: must be an integer from 0 to 2**63-1, got 9223372036854775808"),
        ("amount", 12.5, "Transfer.amount: must be an integer from 0 to 2**63-1, got a float (12.5)"),
        ("amount", True, "Transfer.amount: must be an integer from 0 to 2**63-1, got a bool (True)"),
        ("id", 2**128, "Transfer.id: must be an integer from 0 to 2**128-1"),
        ("id", "7", "Transfer.id: must be an integer from 0 to 2**128-1, got a str ('7')"),
        ("debit_account_id", -1, "Transfer.debit_account_id: must be an integer from 0 to 2**128-1, got -1"),
        ("ledger", 2**32, "Transfer.ledger: must be an integer from 0 to 2**32-1"),
    ],
)
def test_a_transfer_with_a_field_outside_its_type_cannot_be_built(field, value, message):
    fields = {"id": 1, "debit_account_id": 1, "credit_account_id": 2, "amount": 1, "ledger": 643, "code": 1}
    fields[field] = value
    with pytest.raises(InvalidEvent) as caught:
        Transfer(**fields)
    assert message in str(caught.value)
    assert caught.value.field == field


def test_an_account_with_a_float_balance_cannot_be_built():
    with pytest.raises(InvalidEvent, match=r"Account.credits_posted: .* got a float"):
        Account(id=1, ledger=643, code=1, credits_posted=1.0)  # type: ignore[arg-type]


def test_a_zero_amount_is_refused_and_changes_nothing(ledger):
    ledger.create_accounts([account(1), account(2)])
    assert ledger.create_transfers([transfer(1, 1, 2, 0)]) == [TR.amount_must_not_be_zero]
    assert nothing_written(ledger)


def test_a_batch_holding_something_else_is_refused_whole(ledger):
    ledger.create_accounts([account(1), account(2)])
    with pytest.raises(InvalidBatch, match=r"transfers\[1\] must be a Transfer, got dict") as caught:
        ledger.create_transfers([transfer(1, 1, 2, 5), {"id": 2}])
    assert caught.value.index == 1
    assert nothing_written(ledger)


def test_a_batch_over_the_limit_is_refused_whole(ledger):
    ledger.create_accounts([account(1), account(2)])
    batch = [transfer(i, 1, 2, 1) for i in range(1, BATCH_MAX + 2)]
    with pytest.raises(InvalidBatch, match="at most 8189 events, got 8190"):
        ledger.create_transfers(batch)
    assert nothing_written(ledger)


def test_a_batch_that_is_not_a_list_is_refused(ledger):
    with pytest.raises(InvalidBatch, match="must be a list of Transfer events, got str"):
        ledger.create_transfers("transfer")  # type: ignore[arg-type]


def test_semantic_errors_in_one_event_leave_the_others_applied(ledger):
    ledger.create_accounts([account(1), account(2)])
    results = ledger.create_transfers([transfer(1, 1, 2, 5), transfer(2, 1, 1, 5), transfer(3, 1, 9, 5)])
    assert results == [TR.ok, TR.accounts_must_be_different, TR.credit_account_not_found]
    assert [t.id for t in ledger.lookup_transfers([1, 2, 3])] == [1]


def test_reserved_flags_and_nonzero_timestamps_are_refused(ledger):
    ledger.create_accounts([account(1), account(2)])
    flagged = Transfer(id=1, debit_account_id=1, credit_account_id=2, amount=1, ledger=643, code=1, flags=1 << 12)
    stamped = Transfer(id=2, debit_account_id=1, credit_account_id=2, amount=1, ledger=643, code=1, timestamp=5)
    assert ledger.create_transfers([flagged, stamped]) == [TR.reserved_flag, TR.timestamp_must_be_zero]
    assert nothing_written(ledger)


def test_conflicting_flags_are_refused(ledger):
    ledger.create_accounts([account(1), account(2)])
    both = TransferFlags.PENDING | TransferFlags.VOID_PENDING_TRANSFER
    assert ledger.create_transfers([transfer(1, 1, 2, 1, flags=both)]) == [TR.flags_are_mutually_exclusive]
