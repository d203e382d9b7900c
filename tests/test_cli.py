"""The `corridor` command as a person uses it: clear output, clear errors, nothing written on bad input."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from corridor.cli.main import app

runner = CliRunner()


def corridor(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "bank.db")
    assert (
        corridor("ledger", "create-account", "--db", path, "--id", "1", "--ledger", "RUB", "--code", "1").exit_code == 0
    )
    result = corridor(
        "ledger",
        "create-account",
        "--db",
        path,
        "--id",
        "2",
        "--ledger",
        "643",
        "--code",
        "1",
        "--flag",
        "debits-must-not-exceed-credits",
    )
    assert result.exit_code == 0, result.output
    return path


def test_help_lists_the_commands():
    result = corridor("--help")
    assert result.exit_code == 0
    assert "ledger" in result.output and "bench" in result.output and "demo" in result.output


def test_a_transfer_in_major_units_shows_up_as_money_in_the_balance(db):
    result = corridor(
        "ledger",
        "transfer",
        "--db",
        db,
        "--id",
        "10",
        "--debit",
        "1",
        "--credit",
        "2",
        "--amount",
        "1 234.56",
        "--ledger",
        "RUB",
    )
    assert result.exit_code == 0 and "ok" in result.output
    balance = corridor("ledger", "balance", "--db", db, "--id", "2")
    assert "1 234.56 RUB" in balance.output


def test_an_amount_with_too_many_decimals_is_refused_and_writes_nothing(db):
    result = corridor(
        "ledger",
        "transfer",
        "--db",
        db,
        "--id",
        "10",
        "--debit",
        "1",
        "--credit",
        "2",
        "--amount",
        "1.005",
        "--ledger",
        "RUB",
    )
    assert result.exit_code == 2
    assert "1.005 has 3 decimal places; RUB allows at most 2" in result.output
    assert json.loads(corridor("ledger", "verify", "--db", db, "--json").output)["transfers"] == 0


def test_a_refused_transfer_prints_its_result_code_and_fails(db):
    result = corridor(
        "ledger",
        "transfer",
        "--db",
        db,
        "--id",
        "10",
        "--debit",
        "2",
        "--credit",
        "1",
        "--amount",
        "5",
        "--ledger",
        "RUB",
    )
    assert result.exit_code == 1
    assert "exceeds_credits" in result.output


def test_a_malformed_id_is_named(db):
    result = corridor("ledger", "balance", "--db", db, "--id", "twelve")
    assert result.exit_code == 2
    assert "id 'twelve' is not an integer" in result.output


def test_history_lists_transfers_newest_first(db):
    for n in (10, 11):
        corridor(
            "ledger",
            "transfer",
            "--db",
            db,
            "--id",
            str(n),
            "--debit",
            "1",
            "--credit",
            "2",
            "--amount-minor",
            "5",
            "--ledger",
            "RUB",
        )
    page = json.loads(corridor("ledger", "history", "--db", db, "--id", "2", "--json").output)
    assert [t["id"] for t in page["transfers"]] == ["11", "10"]


def test_verify_passes_on_a_good_ledger_and_fails_after_tampering(db):
    corridor(
        "ledger",
        "transfer",
        "--db",
        db,
        "--id",
        "10",
        "--debit",
        "1",
        "--credit",
        "2",
        "--amount",
        "7",
        "--ledger",
        "RUB",
    )
    assert corridor("ledger", "verify", "--db", db).exit_code == 0
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE transfers SET amount = amount + 1")
    conn.close()
    result = corridor("ledger", "verify", "--db", db)
    assert result.exit_code == 1
    assert "problem" in result.output


def test_verify_of_a_missing_ledger_says_so(tmp_path):
    result = corridor("ledger", "verify", "--db", str(tmp_path / "nope.db"))
    assert result.exit_code == 2
    assert "no ledger at" in result.output


def test_the_ledger_benchmark_prints_one_json_object_with_its_baseline():
    result = runner.invoke(app, ["bench", "ledger", "--transfers", "20000", "--accounts", "500", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("transfers_per_s", "p99_batch_ms", "baseline_per_s", "ratio", "backend", "verify_ok"):
        assert key in figures
    assert figures["verify_ok"] is True


def test_the_demo_runs_to_the_end(tmp_path):
    result = corridor("demo", "--data-dir", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert "double entry and journal: OK" in result.output
