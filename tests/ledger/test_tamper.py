"""verify() reports any altered, inserted or deleted row (SQLite, where the test can edit the file directly)."""

from __future__ import annotations

import sqlite3

import pytest

from corridor.ledger import Ledger, TransferFlags
from tests.ledger.helpers import account, post, transfer


@pytest.fixture
def ledger_file(tmp_path):
    path = tmp_path / "ledger.db"
    with Ledger.open(str(path)) as ledger:
        ledger.create_accounts([account(1), account(2), account(3)])
        ledger.create_transfers([transfer(10, 1, 2, 500), transfer(11, 2, 3, 100)])
        ledger.create_transfers([transfer(12, 2, 3, 50, flags=TransferFlags.PENDING), post(13, 12)])
        head = ledger.verify().head
    return path, head


def tamper(path, sql: str, *params) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def verify(path, head=None):
    with Ledger.open(str(path), readonly=True) as ledger:
        return ledger.verify(expected_head=head)


def test_an_untouched_ledger_verifies(ledger_file):
    path, head = ledger_file
    report = verify(path, head)
    assert report.ok, report.problems
    assert (report.groups, report.accounts, report.transfers) == (3, 3, 4)


def test_an_altered_amount_is_detected(ledger_file):
    path, _ = ledger_file
    tamper(path, "UPDATE transfers SET amount = amount + 1 WHERE id = ?", (11).to_bytes(16, "big"))
    report = verify(path)
    assert not report.ok
    assert any("digest" in p for p in report.problems)
    assert any("balances differ" in p for p in report.problems)


def test_an_altered_balance_is_detected(ledger_file):
    path, _ = ledger_file
    tamper(
        path,
        "UPDATE accounts SET credits_posted = credits_posted + 1000 WHERE id = ?",
        (3).to_bytes(16, "big"),
    )
    assert any("account 0x3" in p for p in verify(path).problems)


def test_a_deleted_transfer_is_detected(ledger_file):
    path, _ = ledger_file
    tamper(path, "DELETE FROM transfers WHERE id = ?", (10).to_bytes(16, "big"))
    assert not verify(path).ok


def test_an_inserted_transfer_is_detected(ledger_file):
    path, _ = ledger_file
    tamper(
        path,
        "INSERT INTO transfers SELECT timestamp + 1000000000000, ?, debit_account_id, credit_account_id, amount, "
        "pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags, prev_debit_ts, "
        "prev_credit_ts FROM transfers WHERE id = ?",
        (99).to_bytes(16, "big"),
        (10).to_bytes(16, "big"),
    )
    assert any("not covered by the journal" in p for p in verify(path).problems)


def test_a_deleted_journal_group_is_detected(ledger_file):
    path, _ = ledger_file
    tamper(path, "DELETE FROM journal WHERE seq = 2")
    assert not verify(path).ok


def test_deleting_the_newest_group_whole_is_caught_by_the_published_head(ledger_file):
    path, head = ledger_file
    tamper(path, "DELETE FROM journal WHERE seq = 3")
    tamper(path, "DELETE FROM transfers WHERE id IN (?, ?)", (12).to_bytes(16, "big"), (13).to_bytes(16, "big"))
    report = verify(path, head)
    assert any("expected" in p for p in report.problems)
