"""Inline callers: batches applied on the caller's thread, answered at once, durable only after a flush (both
backends)."""

from __future__ import annotations

import asyncio
import threading

from corridor.ledger import CreateTransferResult as TR
from corridor.ledger import Ledger, TransferFlags
from tests.ledger.helpers import account, post, transfer

PENDING = TransferFlags.PENDING


def test_an_inline_batch_is_answered_at_once_and_stored_only_after_the_flush(ledger: Ledger) -> None:
    ledger.create_accounts([account(1), account(2)])
    assert ledger.apply_transfers([transfer(10, 1, 2, 500)]) == [TR.ok]
    assert ledger.view_transfer(10) is not None
    ledger.flush()
    stored = ledger.get_transfer(10)
    assert stored is not None and stored.amount == 500 and stored.timestamp > 0


def test_a_transfer_read_back_before_the_flush_is_what_storage_then_holds(ledger: Ledger) -> None:
    ledger.create_accounts([account(1), account(2)])
    ledger.apply_transfers([transfer(10, 1, 2, 500, flags=PENDING)])
    seen = ledger.view_transfer(10)
    ledger.flush()
    assert seen == ledger.get_transfer(10)


def test_the_viewed_account_counts_what_is_applied_and_not_yet_flushed(ledger: Ledger) -> None:
    ledger.create_accounts([account(1), account(2)])
    ledger.apply_transfers([transfer(10, 1, 2, 500, flags=PENDING)])
    viewed = ledger.view_account(2)
    assert viewed is not None and viewed.credits_pending == 500
    ledger.flush()
    assert ledger.get_account(2) == viewed


def test_resubmitting_an_inline_transfer_before_its_flush_says_exists(ledger: Ledger) -> None:
    ledger.create_accounts([account(1), account(2)])
    assert ledger.apply_transfers([transfer(10, 1, 2, 500)]) == [TR.ok]
    assert ledger.apply_transfers([transfer(10, 1, 2, 500)]) == [TR.exists]
    assert ledger.create_transfers([transfer(10, 1, 2, 600)]) == [TR.exists_with_different_amount]


def test_a_pending_transfer_applied_inline_resolves_inline_before_any_flush(ledger: Ledger) -> None:
    ledger.create_accounts([account(1), account(2)])
    ledger.apply_transfers([transfer(10, 1, 2, 500, flags=PENDING)])
    assert ledger.apply_transfers([post(11, 10)]) == [TR.ok]
    ledger.flush()
    (credited,) = ledger.lookup_accounts([2])
    assert credited.credits_posted == 500 and credited.credits_pending == 0


def test_inline_and_queued_callers_share_one_commit_order_and_the_journal_verifies(ledger: Ledger) -> None:
    ledger.create_accounts([account(i) for i in range(1, 11)])

    def queued(offset: int) -> None:
        for n in range(50):
            assert ledger.create_transfers([transfer(offset + n, 1 + n % 5, 6 + n % 5, 1)]) == [TR.ok]

    thread = threading.Thread(target=queued, args=(10_000,))
    thread.start()
    for n in range(50):
        assert ledger.apply_transfers([transfer(20_000 + n, 6 + n % 5, 1 + n % 5, 2)]) == [TR.ok]
        if n % 7 == 0:
            ledger.flush()
    thread.join()
    ledger.flush()
    assert len(ledger.lookup_transfers([*range(10_000, 10_050), *range(20_000, 20_050)])) == 100
    assert ledger.check().ok
    assert ledger.verify().ok


def test_closing_the_ledger_makes_what_was_applied_inline_durable(open_ledger) -> None:
    ledger = open_ledger()
    ledger.create_accounts([account(1), account(2)])
    ledger.apply_transfers([transfer(10, 1, 2, 500)])
    ledger.close()
    reopened = open_ledger()
    assert reopened.get_transfer(10) is not None
    assert reopened.verify().ok


def test_an_asyncio_caller_flushes_without_blocking_its_loop(ledger: Ledger) -> None:
    ledger.create_accounts([account(1), account(2)])

    async def scenario() -> None:
        ledger.apply_transfers([transfer(10, 1, 2, 500)])
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        await ledger.aflush()
        ticker.cancel()
        assert ticks >= 1  # the loop ran something else while the commit was made
        assert ledger.get_transfer(10) is not None

    asyncio.run(scenario())


def test_a_flush_with_nothing_applied_returns_at_once(ledger: Ledger) -> None:
    ledger.flush()
    asyncio.run(ledger.aflush())
