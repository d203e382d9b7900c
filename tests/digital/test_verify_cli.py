"""`corridor verify-proof`: a proof checked offline from its file and a trusted key, its failures named."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.digital import reserves
from tests.digital.helpers import OPERATOR, make_world

runner = CliRunner()


def inclusion_proof(tmp_path: Path) -> tuple[Path, str]:
    world = make_world(tmp_path / "platform")
    try:
        alice = world.open_user("alice", rubd=1_000_00)
        bob = world.open_user("bob")
        receipt = world.one(alice.transfer("RUBD", bob.public_key, 100))
        proof = world.platform.proof(receipt.tx_id)
    finally:
        world.platform.close()
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    return path, receipt.tx_id.hex()


def test_an_inclusion_proof_verifies_against_the_platforms_key(tmp_path: Path) -> None:
    path, tx_id = inclusion_proof(tmp_path)
    result = runner.invoke(app, ["verify-proof", str(path), "--key", OPERATOR.public_key.hex(), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] and report["tx_id"] == tx_id and report["transaction"] == "transfer"


def test_a_tampered_inclusion_proof_fails_with_its_reason(tmp_path: Path) -> None:
    path, _ = inclusion_proof(tmp_path)
    proof = json.loads(path.read_text())
    proof["block"]["tx_root"] = "00" * 32
    path.write_text(json.dumps(proof))
    result = runner.invoke(app, ["verify-proof", str(path), "--key", OPERATOR.public_key.hex()])
    assert result.exit_code == 1 and "bad_block_signature" in result.output


def test_an_inclusion_proof_needs_a_trusted_key(tmp_path: Path) -> None:
    path, _ = inclusion_proof(tmp_path)
    result = runner.invoke(app, ["verify-proof", str(path)])
    assert result.exit_code == 1 and "--key" in result.output


def test_a_holders_proof_of_reserves_verifies_against_the_published_snapshot(tmp_path: Path) -> None:
    tree = reserves.build_tree("VOIL", 1, [("alice", 5), ("bob", 7), ("carol", 0)], bytes(range(32)))
    (tmp_path / "proof.json").write_text(tree.proof("bob").to_json())
    (tmp_path / "snapshot.json").write_text(tree.published().to_json())
    result = runner.invoke(
        app, ["verify-proof", str(tmp_path / "proof.json"), "--snapshot", str(tmp_path / "snapshot.json"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["balance"] == 7


def test_a_holders_proof_with_a_changed_balance_fails(tmp_path: Path) -> None:
    tree = reserves.build_tree("VOIL", 1, [("alice", 5), ("bob", 7)], bytes(range(32)))
    proof = json.loads(tree.proof("bob").to_json())
    proof["balance"] = "8"
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    (tmp_path / "snapshot.json").write_text(tree.published().to_json())
    result = runner.invoke(
        app, ["verify-proof", str(tmp_path / "proof.json"), "--snapshot", str(tmp_path / "snapshot.json")]
    )
    assert result.exit_code == 1 and "proof invalid" in result.output


def test_a_file_that_is_not_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "proof.json").write_text("not json")
    result = runner.invoke(app, ["verify-proof", str(tmp_path / "proof.json"), "--key", "00" * 32])
    assert result.exit_code == 1 and "not JSON" in result.output
