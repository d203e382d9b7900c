"""Structured logs: JSON lines with the logger's name and level, and nothing shaped like a secret left in them."""

from __future__ import annotations

import json
import logging

import pytest

from corridor import logs


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> pytest.CaptureFixture[str]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure(json=True)
    yield capsys
    root.handlers[:], _ = saved
    root.setLevel(saved[1])


def test_a_log_record_is_one_json_object_with_its_logger_and_fields(json_logs: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("corridor.test").info("payment settled", extra={"uetr": "abc"})
    record = json.loads(json_logs.readouterr().err.strip().splitlines()[-1])
    assert record["event"] == "payment settled" and record["level"] == "info"
    assert record["logger"] == "corridor.test" and record["uetr"] == "abc" and "timestamp" in record


def test_a_card_number_that_slips_into_a_log_is_masked(json_logs: pytest.CaptureFixture[str]) -> None:
    pan = "2200123456789012"
    logging.getLogger("corridor.test").warning(f"declined {pan} at terminal", extra={"pan": pan})
    line = json_logs.readouterr().err
    assert "2200123456789012" not in line and "220012******9012" in line


def test_an_api_key_or_a_private_key_is_removed(json_logs: pytest.CaptureFixture[str]) -> None:
    logging.getLogger("corridor.test").error(
        "key cor_volgrumm_0123456789abcdef0123 and -----BEGIN PRIVATE KEY-----\nMC4CAQ\n-----END PRIVATE KEY-----"
    )
    line = json_logs.readouterr().err
    assert "0123456789abcdef" not in line and "MC4CAQ" not in line and "cor_volgrumm_" in line


def test_scrub_leaves_amounts_and_ids_readable() -> None:
    text = "paid 1 250 000.00 RUB, uetr 8ad8b23e-6aba-479e"
    assert logs.scrub(text) == text
