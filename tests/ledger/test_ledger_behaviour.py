"""The ledger's behaviour, example by example, on both backends (the conformance suite)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from corridor.ledger import (
    AMOUNT_MAX,
    Account,
    AccountFlags,
    PendingStatus,
    TransferFlags,
)
from corridor.ledger import (
    CreateAccountResult as AR,
)
from corridor.ledger import (
    CreateTransferResult as TR,
)
from tests.ledger.helpers import RUB, VES, account, post, transfer, void

LIMITED = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def funded(ledger, amount: int = 1_000) -> None:
    """Accounts 1 (a source without limits), 2 and 3 (customers that must not go overdrawn), 2 holding `amount`."""
    assert ledger.create_accounts([account(1), account(2, flags=LIMITED), account(3, flags=LIMITED)]) == [AR.ok] * 3
    assert ledger.create_transfers([transfer(100, 1, 2, amount)]) == [TR.ok]


def balances(ledger, account_id: int) -> tuple[int, int, int, int]:
    (a,) = ledger.lookup_accounts([account_id])
    return a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted


def test_a_transfer_moves_the_amount_from_debit_to_credit(ledger):
    funded(ledger)
    assert ledger.create_transfers([transfer(1, 2, 3, 250)]) == [TR.ok]
    assert balances(ledger, 2) == (0, 250, 0, 1_000)
    assert balances(ledger, 3) == (0, 0, 0, 250)


def test_a_customer_account_cannot_go_overdrawn(ledger):
    funded(ledger, 100)
    assert ledger.create_transfers([transfer(1, 2, 3, 101)]) == [TR.exceeds_credits]
    assert balances(ledger, 2) == (0, 0, 0, 100)


def test_resubmitting_a_transfer_returns_exists_and_applies_nothing(ledger):
    funded(ledger)
    assert ledger.create_transfers([transfer(1, 2, 3, 10)]) == [TR.ok]
    assert ledger.create_transfers([transfer(1, 2, 3, 10), transfer(1, 2, 3, 10)]) == [TR.exists, TR.exists]
    assert balances(ledger, 3) == (0, 0, 0, 10)


def test_reusing_an_id_with_other_fields_names_the_first_difference(ledger):
    funded(ledger)
    ledger.create_transfers([transfer(1, 2, 3, 10)])
    assert ledger.create_transfers([transfer(1, 2, 3, 11)]) == [TR.exists_with_different_amount]
    assert ledger.create_transfers([transfer(1, 3, 2, 10)]) == [TR.exists_with_different_debit_account_id]


def test_idempotency_survives_a_restart(open_ledger):
    first = open_ledger()
    funded(first)
    first.create_transfers([transfer(1, 2, 3, 10)])
    first.close()
    again = open_ledger()
    assert again.create_transfers([transfer(1, 2, 3, 10)]) == [TR.exists]
    assert balances(again, 3) == (0, 0, 0, 10)


def test_a_pending_transfer_reserves_and_a_partial_post_releases_the_rest(ledger):
    funded(ledger)
    assert ledger.create_transfers([transfer(1, 2, 3, 300, flags=TransferFlags.PENDING)]) == [TR.ok]
    assert balances(ledger, 2) == (300, 0, 0, 1_000)
    assert ledger.create_transfers([post(2, 1, 120)]) == [TR.ok]
    assert balances(ledger, 2) == (0, 120, 0, 1_000)
    assert balances(ledger, 3) == (0, 0, 0, 120)
    (stored,) = ledger.lookup_transfers([2])
    assert (stored.debit_account_id, stored.credit_account_id, stored.amount) == (2, 3, 120)


def test_a_pending_transfer_resolves_at_most_once(ledger):
    funded(ledger)
    ledger.create_transfers([transfer(1, 2, 3, 300, flags=TransferFlags.PENDING)])
    assert ledger.create_transfers([void(2, 1)]) == [TR.ok]
    assert ledger.create_transfers([post(3, 1)]) == [TR.pending_transfer_already_voided]
    assert ledger.create_transfers([void(4, 1)]) == [TR.pending_transfer_already_voided]
    assert balances(ledger, 2) == (0, 0, 0, 1_000)


def test_posting_more_than_the_pending_amount_is_refused(ledger):
    funded(ledger)
    ledger.create_transfers([transfer(1, 2, 3, 300, flags=TransferFlags.PENDING)])
    assert ledger.create_transfers([post(2, 1, 301)]) == [TR.exceeds_pending_transfer_amount]


def test_an_expired_pending_transfer_is_released_and_cannot_be_posted(ledger, fake_clock):
    funded(ledger)
    ledger.create_transfers([transfer(1, 2, 3, 300, flags=TransferFlags.PENDING, timeout=30)])
    fake_clock.advance(31)
    assert ledger.create_transfers([post(2, 1)]) == [TR.pending_transfer_expired]
    assert balances(ledger, 2) == (0, 0, 0, 1_000)
    assert ledger.pending_transfers() == []
    assert ledger.verify().expiries == 1


def test_open_pending_transfers_are_listed_with_their_expiry(ledger):
    funded(ledger)
    ledger.create_transfers([transfer(1, 2, 3, 5, flags=TransferFlags.PENDING, timeout=60)])
    (open_one,) = ledger.pending_transfers()
    assert open_one.transfer.id == 1 and open_one.status is PendingStatus.PENDING
    assert open_one.expires_at == open_one.transfer.timestamp + 60 * 10**9


def test_a_linked_chain_is_all_or_nothing(ledger):
    funded(ledger, 100)
    chain = [
        transfer(1, 2, 3, 60, flags=TransferFlags.LINKED),
        transfer(2, 2, 3, 60),  # together they overdraw account 2
    ]
    assert ledger.create_transfers(chain) == [TR.linked_event_failed, TR.exceeds_credits]
    assert balances(ledger, 2) == (0, 0, 0, 100)
    assert ledger.lookup_transfers([1, 2]) == []


def test_a_chain_left_open_at_the_end_of_the_batch_fails(ledger):
    funded(ledger)
    batch = [transfer(1, 2, 3, 1), transfer(2, 2, 3, 1, flags=TransferFlags.LINKED)]
    assert ledger.create_transfers(batch) == [TR.ok, TR.linked_event_chain_open]


def test_a_resubmitted_chain_is_answered_exists_throughout(ledger):
    funded(ledger)
    chain = [transfer(1, 2, 3, 1, flags=TransferFlags.LINKED), transfer(2, 3, 2, 1)]
    assert ledger.create_transfers(chain) == [TR.ok, TR.ok]
    assert ledger.create_transfers(chain) == [TR.exists, TR.exists]


def test_accounts_must_share_the_transfers_ledger(ledger):
    ledger.create_accounts([account(1), account(2, ledger=VES), account(3)])
    assert ledger.create_transfers([transfer(1, 1, 2, 5)]) == [TR.accounts_must_have_the_same_ledger]
    assert ledger.create_transfers([transfer(2, 1, 3, 5, ledger=VES)]) == [
        TR.transfer_must_have_the_same_ledger_as_accounts
    ]


def test_unknown_accounts_are_named_in_the_result(ledger):
    ledger.create_accounts([account(1)])
    assert ledger.create_transfers([transfer(1, 9, 1, 5)]) == [TR.debit_account_not_found]
    assert ledger.create_transfers([transfer(2, 1, 9, 5)]) == [TR.credit_account_not_found]


def test_balances_that_would_pass_the_amount_limit_overflow(ledger):
    ledger.create_accounts([account(1), account(2)])
    assert ledger.create_transfers([transfer(1, 1, 2, AMOUNT_MAX)]) == [TR.ok]
    assert ledger.create_transfers([transfer(2, 1, 2, 1)]) == [TR.overflows_debits_posted]


def test_a_balancing_debit_moves_only_what_the_account_holds(ledger):
    funded(ledger, 70)
    assert ledger.create_transfers([transfer(1, 2, 3, AMOUNT_MAX, flags=TransferFlags.BALANCING_DEBIT)]) == [TR.ok]
    (stored,) = ledger.lookup_transfers([1])
    assert stored.amount == 70
    assert balances(ledger, 2) == (0, 70, 0, 70)


def test_a_closing_transfer_closes_the_account_until_voided(ledger):
    funded(ledger)
    closing = transfer(1, 2, 3, 1, flags=TransferFlags.PENDING | TransferFlags.CLOSING_DEBIT)
    assert ledger.create_transfers([closing]) == [TR.ok]
    assert ledger.create_transfers([transfer(2, 2, 3, 1)]) == [TR.debit_account_already_closed]
    assert ledger.lookup_accounts([2])[0].flags & AccountFlags.CLOSED
    assert ledger.create_transfers([void(3, 1), transfer(4, 2, 3, 1)]) == [TR.ok, TR.ok]


def test_account_creation_is_idempotent_and_validated(ledger):
    assert ledger.create_accounts([account(1), account(1)]) == [AR.ok, AR.exists]
    assert ledger.create_accounts([account(1, code=2)]) == [AR.exists_with_different_code]
    assert ledger.create_accounts([Account(id=2, ledger=0, code=1)]) == [AR.ledger_must_not_be_zero]
    assert ledger.create_accounts([Account(id=3, ledger=RUB, code=1, credits_posted=5)]) == [
        AR.credits_posted_must_be_zero
    ]
    assert ledger.create_accounts([Account(id=0, ledger=RUB, code=1)]) == [AR.id_must_not_be_zero]


def test_history_pages_walk_back_through_an_accounts_transfers(ledger):
    funded(ledger)
    ledger.create_transfers([transfer(i, 2, 3, 1) for i in range(1, 8)])
    first = ledger.account_transfers(3, limit=3)
    assert [t.id for t in first] == [7, 6, 5]
    second = ledger.account_transfers(3, limit=3, before=first[-1].timestamp)
    assert [t.id for t in second] == [4, 3, 2]
    assert [t.id for t in ledger.account_transfers(2, limit=100)] == [7, 6, 5, 4, 3, 2, 1, 100]


def test_history_accounts_keep_a_balance_after_every_transfer(ledger):
    ledger.create_accounts([account(1), account(2, flags=AccountFlags.HISTORY)])
    ledger.create_transfers([transfer(1, 1, 2, 5), transfer(2, 1, 2, 7)])
    assert [b.credits_posted for b in ledger.account_balances(2)] == [12, 5]


def test_concurrent_callers_each_get_their_own_results(ledger):
    ledger.create_accounts([account(i) for i in range(1, 11)])
    results: dict[int, list[TR]] = {}

    def client(n: int) -> None:
        batch = [transfer(n * 1_000 + i + 1, 1 + n, 1 + (n + 1) % 10, 1) for i in range(200)]
        results[n] = ledger.create_transfers(batch)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == [TR.ok] * 200 for r in results.values())
    assert ledger.check().ok


def test_asyncio_tasks_can_submit_together(ledger):
    ledger.create_accounts([account(1), account(2)])

    async def main() -> list[list[TR]]:
        return await asyncio.gather(*(ledger.acreate_transfers([transfer(n, 1, 2, 1)]) for n in range(1, 51)))

    assert asyncio.run(main()) == [[TR.ok]] * 50
    assert balances(ledger, 2) == (0, 0, 0, 50)


def test_check_and_verify_pass_after_mixed_work(ledger):
    funded(ledger)
    ledger.create_transfers([transfer(1, 2, 3, 5, flags=TransferFlags.PENDING), post(2, 1), transfer(3, 3, 2, 1)])
    assert ledger.check().ok
    report = ledger.verify()
    assert report.ok, report.problems
    assert (report.accounts, report.transfers) == (3, 4)


def test_a_second_writer_is_refused(open_ledger):
    from corridor.ledger import LedgerLocked

    open_ledger()
    with pytest.raises(LedgerLocked):
        open_ledger()


def test_a_caller_that_stops_waiting_does_not_stop_the_writer(ledger):
    """An asyncio caller whose task is cancelled cancels its future; the writer must still answer everyone else."""
    ledger.create_accounts([account(1), account(2)])
    abandoned = ledger.submit_transfers([transfer(10, 1, 2, 5)])
    abandoned.cancel()
    later = ledger.submit_transfers([transfer(11, 1, 2, 7)])
    assert later.result(timeout=10) == [TR.ok]
