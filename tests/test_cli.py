"""The `corridor` command as a person uses it: clear output, clear errors, nothing written on bad input."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from corridor import __version__
from corridor.cli.main import app
from corridor.ledger import Ledger

runner = CliRunner()


def corridor(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ledger_cmd(command: str, db: str, *args: str) -> Result:
    return corridor("ledger", command, "--db", db, *args)


def transfer(db: str, *args: str) -> Result:
    return ledger_cmd("transfer", db, *args)


def transfer_count(db: str) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT count(*) FROM transfers").fetchone()
    return int(count)


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A ledger with account 1 (may go negative) and account 2 (must not), both in RUB."""
    path = str(tmp_path / "bank.db")
    first = ledger_cmd("create-account", path, "--id", "1", "--ledger", "RUB", "--code", "1")
    assert first.exit_code == 0, first.output
    second = ledger_cmd(
        "create-account",
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
    assert second.exit_code == 0, second.output
    return path


@pytest.fixture
def funded(db: str) -> str:
    """The same ledger after account 1 paid account 2 1 234.56 RUB."""
    result = transfer(db, "--id", "10", "--debit", "1", "--credit", "2", "--amount", "1 234.56", "--ledger", "RUB")
    assert result.exit_code == 0, result.output
    return db


def test_help_lists_the_command_groups() -> None:
    result = corridor("--help")
    assert result.exit_code == 0
    assert "ledger" in result.output and "bench" in result.output and "demo" in result.output


def test_version_prints_the_package_version() -> None:
    result = corridor("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"corridor {__version__}"


def test_create_account_prints_ok_then_exists_for_the_same_account(tmp_path: Path) -> None:
    path = str(tmp_path / "bank.db")
    args = ("--id", "7", "--ledger", "RUB", "--code", "1")
    assert ledger_cmd("create-account", path, *args).output.strip() == "ok"
    again = ledger_cmd("create-account", path, *args)
    assert again.exit_code == 0 and again.output.strip() == "exists"


def test_create_account_with_different_fields_prints_the_result_and_exits_1(db: str) -> None:
    result = ledger_cmd("create-account", db, "--id", "1", "--ledger", "VES", "--code", "1")
    assert result.exit_code == 1
    assert result.output.strip() == "exists_with_different_ledger"


def test_a_transfer_in_major_units_shows_up_as_money_in_the_balance(funded: str) -> None:
    balance = ledger_cmd("balance", funded, "--id", "2")
    assert balance.exit_code == 0
    assert "1 234.56 RUB" in balance.output
    assert "balance (credits posted - debits posted): 1 234.56 RUB" in balance.output


def test_balance_json_gives_minor_units_and_formatted_money(funded: str) -> None:
    data = json.loads(ledger_cmd("balance", funded, "--id", "1", "--json").stdout)
    assert data["debits_posted"] == 123456 and data["balance"] == -123456
    assert data["formatted"]["balance"] == "-1 234.56 RUB"


def test_an_amount_with_too_many_decimals_is_refused_with_a_clear_error(db: str) -> None:
    result = transfer(db, "--id", "10", "--debit", "1", "--credit", "2", "--amount", "1.005", "--ledger", "RUB")
    assert result.exit_code == 2
    assert "1.005 has 3 decimal places; RUB allows at most 2" in result.stderr
    assert "Traceback" not in result.output


def test_an_amount_with_too_many_decimals_writes_nothing(db: str) -> None:
    transfer(db, "--id", "10", "--debit", "1", "--credit", "2", "--amount", "1.005", "--ledger", "RUB")
    assert transfer_count(db) == 0


def test_amount_minor_is_taken_as_minor_units(db: str) -> None:
    transfer(db, "--id", "10", "--debit", "1", "--credit", "2", "--amount-minor", "5", "--ledger", "RUB")
    assert json.loads(ledger_cmd("balance", db, "--id", "2", "--json").stdout)["credits_posted"] == 5


def test_a_refused_transfer_prints_its_result_code_and_exits_1(db: str) -> None:
    result = transfer(db, "--id", "10", "--debit", "2", "--credit", "1", "--amount", "5", "--ledger", "RUB")
    assert result.exit_code == 1
    assert result.output.strip() == "exceeds_credits"


def test_a_malformed_id_is_named(db: str) -> None:
    result = ledger_cmd("balance", db, "--id", "twelve")
    assert result.exit_code == 2
    assert "id 'twelve' is not an integer" in result.stderr


def test_hex_ids_are_accepted_and_shown_in_decimal(db: str) -> None:
    transfer(db, "--id", "0x10", "--debit", "0x1", "--credit", "0x2", "--amount", "1", "--ledger", "RUB")
    page = json.loads(ledger_cmd("history", db, "--id", "2", "--json").stdout)
    assert [t["id"] for t in page["transfers"]] == ["16"]


def test_a_pending_transfer_posted_in_part_in_major_units(funded: str) -> None:
    hold = transfer(
        funded, "--id", "20", "--debit", "2", "--credit", "1", "--amount", "100", "--ledger", "RUB", "--pending"
    )
    assert hold.exit_code == 0, hold.output
    assert "100.00 RUB" in ledger_cmd("pending", funded).output
    post = transfer(funded, "--id", "21", "--post", "20", "--amount", "40.50")
    assert post.exit_code == 0, post.output
    data = json.loads(ledger_cmd("balance", funded, "--id", "2", "--json").stdout)
    assert (data["debits_pending"], data["debits_posted"]) == (0, 4050)


def test_history_lists_transfers_newest_first(db: str) -> None:
    for n in (10, 11):
        transfer(db, "--id", str(n), "--debit", "1", "--credit", "2", "--amount-minor", "5", "--ledger", "RUB")
    page = json.loads(ledger_cmd("history", db, "--id", "2", "--json").stdout)
    assert [t["id"] for t in page["transfers"]] == ["11", "10"]


def test_history_cursor_fetches_the_next_page(db: str) -> None:
    for n in (10, 11, 12):
        transfer(db, "--id", str(n), "--debit", "1", "--credit", "2", "--amount-minor", "5", "--ledger", "RUB")
    first = json.loads(ledger_cmd("history", db, "--id", "2", "--limit", "2", "--json").stdout)
    assert f"--before {first['next_before']}" in ledger_cmd("history", db, "--id", "2", "--limit", "2").output
    second = json.loads(
        ledger_cmd("history", db, "--id", "2", "--limit", "2", "--before", str(first["next_before"]), "--json").stdout
    )
    assert [t["id"] for t in second["transfers"]] == ["10"] and second["next_before"] is None


def test_verify_exits_0_on_a_good_ledger(funded: str) -> None:
    result = ledger_cmd("verify", funded)
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "head " in result.output


def test_verify_exits_1_after_a_row_is_tampered_with(funded: str) -> None:
    with sqlite3.connect(funded) as conn:
        conn.execute("UPDATE transfers SET amount = amount + 1")
    conn.close()
    result = ledger_cmd("verify", funded)
    assert result.exit_code == 1
    assert "problem:" in result.output


def test_verify_fails_when_the_head_is_not_the_expected_one(funded: str) -> None:
    head = json.loads(ledger_cmd("verify", funded, "--json").stdout)["head"]
    transfer(funded, "--id", "11", "--debit", "1", "--credit", "2", "--amount", "1", "--ledger", "RUB")
    result = ledger_cmd("verify", funded, "--expect-head", head)
    assert result.exit_code == 1
    assert f"expected {head}" in result.output


def test_verify_runs_while_a_writer_holds_the_ledger(funded: str) -> None:
    with Ledger.open(funded):
        result = ledger_cmd("verify", funded)
    assert result.exit_code == 0, result.output


def test_verify_of_a_missing_ledger_says_so(tmp_path: Path) -> None:
    result = ledger_cmd("verify", str(tmp_path / "nope.db"))
    assert result.exit_code == 1
    assert "no ledger at" in result.stderr


def test_a_password_in_the_url_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRIDOR_LEDGER_DB", "postgresql://corridor:s3cret@127.0.0.1:1/nowhere")
    result = corridor("ledger", "verify")  # a password only from the environment, never the command line
    assert result.exit_code == 1
    assert "s3cret" not in result.output and "***" in result.output


def test_the_ledger_benchmark_prints_only_one_json_object_with_the_required_keys() -> None:
    result = corridor("bench", "ledger", "--transfers", "20000", "--accounts", "1000", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)  # the whole of stdout: nothing but the object
    required = {
        "transfers_per_s",
        "p99_batch_ms",
        "p50_batch_ms",
        "baseline_per_s",
        "ratio",
        "backend",
        "transfers",
        "accounts",
        "hot_accounts",
        "batch",
        "clients",
        "baseline",
        "verify_ok",
        "machine",
    }
    assert required <= figures.keys()
    assert figures["verify_ok"] is True and figures["transfers"] == 20000
    assert {"cpus", "python", "platform"} <= figures["machine"].keys()


def test_the_transfers_benchmark_prints_only_one_json_object_with_the_required_keys() -> None:
    result = corridor("bench", "transfers", "--transport", "memory", "--payments", "40", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    required = {
        "payments_per_s",
        "p50_ms",
        "p99_ms",
        "per_window",
        "messages_per_payment",
        "bulk",
        "validate_per_s",
        "verify_per_s",
        "open_per_s",
        "ledgers_verified",
        "machine",
    }
    assert required <= figures.keys()
    assert figures["completed"] == 40 and figures["ledgers_verified"] is True
    assert figures["per_window"] == []  # a run shorter than one window has no whole window to report


def test_the_cards_benchmark_runs_the_three_processes_and_prints_one_json_object() -> None:
    result = corridor("bench", "cards", "--auths", "200", "--concurrency", "16", "--cards", "20", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert {"auth_per_s", "p50_ms", "p99_ms", "codec_per_s", "holds_match", "machine"} <= figures.keys()
    assert figures["approved"] == 200 and figures["holds_match"] is True


def test_the_tokens_benchmark_prints_one_json_object_with_its_ceiling() -> None:
    result = corridor("bench", "tokens", "--transfers", "600", "--wallets", "20", "--batch", "256", "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert {"transfers_per_s", "p99_ms", "verify_per_s", "ratio_to_ceiling", "machine"} <= figures.keys()
    assert figures["committed"] == 600 and figures["ledger_verified"] is True and figures["conserved"] is True


def test_the_ledger_demo_runs_to_the_end(tmp_path: Path) -> None:
    result = corridor("ledger", "demo", "--data-dir", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert "double entry and journal: OK" in result.output
    assert "illustrative" in result.output
    assert "corridor bench ledger --json" in result.output


def test_the_network_demo_pays_both_ways_rejects_returns_and_writes_every_message(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    result = corridor("demo", "--data-dir", str(data))
    assert result.exit_code == 0, result.output
    assert "double entry holds, journal verified" in result.output
    assert "AC04" in result.output and "returned" in result.output
    messages = sorted((data / "messages").glob("*.xml"))
    kinds = {path.name.split("_")[1] for path in messages}
    assert {"pacs.008.001.08", "pacs.002.001.10", "pacs.009.001.08", "pacs.004.001.09"} <= kinds
    assert {"camt.056.001.08", "camt.029.001.09"} <= kinds


def test_the_demo_holds_a_payment_to_a_listed_company_has_it_rejected_and_verifies_every_audit_trail(
    tmp_path: Path,
) -> None:
    result = corridor("demo", "--data-dir", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.output
    assert "PDNG RR04" in result.output and "corridor-demo/CD-0003" in result.output
    assert "by demo.reviewer" in result.output and "RJCT RR04" in result.output
    assert "7 audit trails verified" in result.output


def test_the_demo_pays_for_trade_in_digital_currency_and_leaves_proofs_anyone_can_check(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    result = corridor("demo", "--data-dir", str(data))
    assert result.exit_code == 0, result.output
    assert "platforms reconcile" in result.output
    assert "wrong_preimage" in result.output and "recipient_not_allowed" in result.output
    assert "completed (both legs claimed)" in " ".join(result.output.split())
    (proof,) = (data / "proofs").glob("claim-*.json")
    key = json.loads(proof.read_text())["platform_key"]
    checked = corridor("verify-proof", str(proof), "--key", key, "--json")
    assert checked.exit_code == 0 and json.loads(checked.output)["valid"], checked.output
    holder = corridor(
        "verify-proof",
        str(data / "proofs" / "voil-holder-volga-truck-parts.json"),
        "--snapshot",
        str(data / "proofs" / "voil-liabilities.json"),
        "--json",
    )
    assert holder.exit_code == 0 and json.loads(holder.output)["balance"] == 350_0000, holder.output


def test_the_demo_pays_two_invoices_and_writes_a_settlement_report_that_says_they_reconcile(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    result = corridor("demo", "--data-dir", str(data))
    assert result.exit_code == 0, result.output
    report = (data / "report.txt").read_text()
    assert "INV-2026-0042: paid, paid 1 480 000.00 RUB of 1 480 000.00 RUB; reconciled with the ledgers: yes" in report
    assert "INV-2026-0043: paid, paid 350.0000 VOIL of 350.0000 VOIL; reconciled with the ledgers: yes" in report
    assert "Central banks' settlement cycle" in report and "Card scheme, day" in report
    assert "corridor up --data-dir" in result.output


def test_track_shows_every_hop_of_a_demo_payment(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    demo_run = corridor("demo", "--data-dir", str(data))
    uetr = demo_run.output.split("corridor track ", 1)[1].split()[0]
    result = corridor("track", uetr, "--data-dir", str(data))
    assert result.exit_code == 0, result.output
    for hop in ("ORINVECA", "CBXVVECA", "CBXRRUMM", "VOLGRUMM"):
        assert hop in result.output


def test_track_refuses_what_is_not_a_uetr(tmp_path: Path) -> None:
    result = corridor("track", "not-a-uetr", "--data-dir", str(tmp_path))
    assert result.exit_code != 0
    assert "is not a UETR" in result.output


def test_the_demo_on_a_scenario_without_its_accounts_says_which_are_missing(tmp_path):
    from corridor.scenario.model import default_scenario_path

    text = default_scenario_path().read_text().replace("VE0102010000000000031", "VE0102010000000000099")
    path = tmp_path / "other.toml"
    path.write_text(text)
    result = runner.invoke(app, ["demo", "--data-dir", str(tmp_path / "d"), "--scenario", str(path)])
    assert result.exit_code == 1
    assert "lacks VE0102010000000000031" in result.output


def test_a_wallet_key_made_by_the_cli_signs_a_transfer_the_platform_can_verify(tmp_path: Path) -> None:
    from corridor.digital import tx

    key_file = tmp_path / "wallet.pem"
    made = corridor("wallet", "new", str(key_file))
    assert made.exit_code == 0, made.output
    public = json.loads(made.output)["public_key"]
    payee = "ab" * 32
    signed = corridor(
        "wallet", "transfer", str(key_file), "--platform", "CBXRRUMM", "--nonce", "3", "--to", payee,
        "--amount", "1 000.00 RUBD",
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    out = json.loads(signed.output)
    decoded = tx.decode(bytes.fromhex(out["wire"]))
    assert decoded.signatures_valid() and decoded.signer.hex() == public and decoded.nonce == 3
    assert decoded.body == tx.Transfer("RUBD", bytes.fromhex(payee), 100_000)
    assert out["tx_id"] == decoded.id.hex()
    assert "PRIVATE" not in signed.output


def test_the_wallet_cli_never_overwrites_a_key(tmp_path: Path) -> None:
    key_file = tmp_path / "wallet.pem"
    assert corridor("wallet", "new", str(key_file)).exit_code == 0
    before = key_file.read_bytes()
    again = corridor("wallet", "new", str(key_file))
    assert again.exit_code != 0 and "never overwritten" in again.output
    assert key_file.read_bytes() == before


def test_an_escrow_signed_by_the_cli_is_locked_to_the_documents_hash(tmp_path: Path) -> None:
    import hashlib

    from corridor.digital import tx

    key_file, document = tmp_path / "wallet.pem", tmp_path / "bill-of-lading.txt"
    corridor("wallet", "new", str(key_file))
    document.write_bytes(b"BILL OF LADING NVS-2026-0042")
    signed = corridor(
        "wallet", "escrow", str(key_file), "--platform", "CBXVVECA", "--nonce", "1", "--to", "cd" * 32,
        "--amount", "350.0000 VOIL", "--document", str(document), "--expires-at", "1900000000",
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    body = tx.decode(bytes.fromhex(json.loads(signed.output)["wire"])).body
    assert isinstance(body, tx.Lock) and body.amount == 350_0000
    assert body.hashlock == hashlib.sha256(document.read_bytes()).digest()


def test_the_wallet_cli_names_the_option_that_is_wrong(tmp_path: Path) -> None:
    key_file = tmp_path / "wallet.pem"
    corridor("wallet", "new", str(key_file))
    bad = corridor(
        "wallet", "transfer", str(key_file), "--platform", "CBXRRUMM", "--nonce", "1", "--to", "xyz",
        "--amount", "1.00 RUBD",
    )  # fmt: skip
    assert bad.exit_code != 0 and "--to: not hexadecimal" in bad.output


def test_corridor_up_serves_and_writes_no_api_key_into_redirected_output(tmp_path: Path) -> None:
    """Run as a service is run, its output going to a file: it serves, and no API key lands in that file."""
    import signal
    import subprocess
    import sys
    import time

    import httpx

    out = tmp_path / "up.log"
    with out.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "corridor", "up", "--data-dir", str(tmp_path / "up"), "--port", "0", "--log-json"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            url_file = tmp_path / "up" / "api" / "url"
            deadline = time.monotonic() + 60
            while not url_file.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            assert url_file.exists(), out.read_text()
            assert httpx.get(url_file.read_text().strip() + "/healthz", timeout=10).text == "ok\n"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    written = out.read_text()
    keys = json.loads((tmp_path / "up" / "keys" / "api-keys.json").read_text())
    assert "corridor up" in written
    assert not any(key in written for key in keys.values())
    assert process.returncode == 0, written


def test_the_demo_runs_twice_in_a_relative_data_directory_keeping_every_file_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo` runs `corridor demo` with the relative data/demo: every file must stay under it, and a second run
    must start again from the scenario (a file that escaped it would survive the cleanup and break the next run)."""
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        result = corridor("demo", "--data-dir", "data/demo")
        assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "demo" / "digital" / "CBXRRUMM" / "ledger.db").exists()


def test_a_ledger_url_with_a_password_on_the_command_line_is_refused_without_echoing_it() -> None:
    result = ledger_cmd("verify", "postgresql://corridor:s3cret-pw@127.0.0.1:5432/test")
    assert result.exit_code == 2
    assert "PGPASSWORD" in result.output and "s3cret-pw" not in result.output


def test_a_chaos_postgres_url_with_a_password_on_the_command_line_is_refused_without_echoing_it() -> None:
    result = corridor("chaos", "--payments", "1", "--postgres", "postgresql://corridor:s3cret-pw@127.0.0.1:5432/test")
    assert result.exit_code == 2
    assert "PGPASSWORD" in result.output and "s3cret-pw" not in result.output
