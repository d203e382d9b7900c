"""What a handler's Context promises about ledger transfers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from corridor.ledger import Account, AccountFlags, CreateTransferResult, Ledger, Transfer, TransferFlags
from corridor.network.context import Context, NodeServices, TransferFailed
from corridor.network.directory import Directory
from corridor.network.identity import SigningKey
from corridor.network.store import DuplicateMessage, NodeStore, Unit


def test_a_refused_linked_chain_is_reported_by_its_cause_not_by_the_linked_echo(tmp_path: Path) -> None:
    async def scenario() -> CreateTransferResult:
        key = SigningKey.generate()
        ledger = Ledger.open(str(tmp_path / "ledger.db"))
        store = NodeStore(tmp_path / "node.db")
        directory = Directory.issue([], key, version=1, issued_at=datetime(2026, 1, 1, tzinfo=UTC))
        services = NodeServices("TESTRUMM", key, directory, ledger, store, lambda: 0)
        try:
            ledger.create_accounts(
                [
                    Account(id=1, ledger=643, code=1),
                    Account(id=2, ledger=643, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
                    Account(id=3, ledger=643, code=1),
                ]
            )
            ledger.create_transfers(
                [Transfer(id=10, debit_account_id=1, credit_account_id=2, amount=100, ledger=643, code=1)]
            )
            ctx = Context(services, Unit(), 0)
            with pytest.raises(TransferFailed) as failed:
                await ctx.transfer(
                    Transfer(
                        id=20,
                        debit_account_id=2,
                        credit_account_id=3,
                        amount=90,
                        ledger=643,
                        code=1,
                        flags=TransferFlags.LINKED,
                    ),
                    Transfer(id=21, debit_account_id=2, credit_account_id=3, amount=20, ledger=643, code=1),
                )
            return failed.value.result
        finally:
            store.close()
            ledger.close()

    assert asyncio.run(scenario()) is CreateTransferResult.exceeds_credits


def test_a_store_caller_that_stops_waiting_does_not_stop_the_stores_writer(tmp_path: Path) -> None:
    store = NodeStore(tmp_path / "node.db")
    try:
        abandoned = Unit()
        abandoned.kv["a"] = "1"
        store.submit(abandoned).cancel()
        later = Unit()
        later.kv["b"] = "2"
        store.submit(later).result(timeout=10)
        assert store.get("b") == "2"
    finally:
        store.close()


def test_a_payment_reads_as_last_committed_and_each_read_is_a_fresh_copy(tmp_path: Path) -> None:
    store = NodeStore(tmp_path / "node.db")
    try:
        for state in ("reserved", "completed"):
            unit = Unit()
            unit.put_payment("u-1", state, None, {"uetr": "u-1", "legs": [1, 2]}, "2026-11-23T00:00:00Z")
            store.commit_sync(unit)
        state, record = store.payment("u-1") or ("", {})
        record["legs"].append(3)
        assert state == "completed"
        assert store.payment("u-1") == ("completed", {"uetr": "u-1", "legs": [1, 2]})
    finally:
        store.close()
    reopened = NodeStore(tmp_path / "node.db")  # nothing in memory: read from the file
    try:
        assert reopened.payment("u-1") == ("completed", {"uetr": "u-1", "legs": [1, 2]})
    finally:
        reopened.close()


def test_a_unit_refused_as_a_duplicate_leaves_the_payment_as_it_was(tmp_path: Path) -> None:
    store = NodeStore(tmp_path / "node.db")
    try:
        first = Unit()
        first.record_inbox("SNDRRUMM", "m1", b"d", "pacs.008.001.08", "t", "processed")
        first.put_payment("u-1", "reserved", None, {"uetr": "u-1"}, "t")
        store.commit_sync(first)
        again = Unit()
        again.record_inbox("SNDRRUMM", "m1", b"d", "pacs.008.001.08", "t", "processed")
        again.put_payment("u-1", "completed", None, {"uetr": "u-1"}, "t")
        with pytest.raises(DuplicateMessage):
            store.commit_sync(again)
        assert store.payment("u-1") == ("reserved", {"uetr": "u-1"})
    finally:
        store.close()
