"""Proofs and signed documents anyone may hand a verifier (digital/blocks.py `verify_proof` and `decode_header`,
digital/reserves.py's proof, snapshot and attestation, digital/pricefeed.py's quote, and `corridor verify-proof`):
whatever the bytes, a verifier gets a report of what holds or the module's own error with its reason code; the
command answers "proof valid" or one line naming why not, with exit status 1, never a traceback.
tests/digital/ replaces the documents' JSON values; this changes their bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.digital import blocks, tx
from corridor.digital.pricefeed import PriceFeedError, PriceQuote, sign_quote
from corridor.digital.reserves import (
    HolderProof,
    PublishedSnapshot,
    ReserveAttestation,
    ReserveProofError,
    build_tree,
    sign_attestation,
)
from corridor.network.identity import SigningKey
from tests.digital.helpers import OPERATOR, PLATFORM, key
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import mutated

TRUSTED = {OPERATOR.public_key}
LEAVES = [tx.sign(key(f"w{i}"), PLATFORM, 1, tx.Burn("RUBD", i + 1, bytes(32))).signed_bytes for i in range(5)]
BLOCK = blocks.seal(OPERATOR, PLATFORM, 3, bytes(range(32)), 123, LEAVES)
PROOFS = [json.dumps(blocks.make_proof(BLOCK, OPERATOR.public_key, i)).encode() for i in range(len(LEAVES))]
HEADER = BLOCK.header.encode()

CUSTODIAN = SigningKey.from_seed(b"\x01" * 32)
TREE = build_tree("VOIL", 1_700_000_000_000_000_000, [("alice", 150_000), ("bob", 75_500), ("carol", 0)], bytes(32))
HOLDER_PROOFS = [TREE.proof(holder).to_json().encode() for holder in ("alice", "bob", "carol")]
SNAPSHOT = TREE.published().to_json().encode()
ATTESTATION = sign_attestation(CUSTODIAN, token="VOIL", quantity=10**9, as_of_ns=1, serial=42).to_json().encode()
QUOTE = (
    sign_quote(
        CUSTODIAN,
        commodity="BRENT",
        currency="RUB",
        price_minor=712_345,
        observed_at_ns=1_767_225_600 * 10**9,
        valid_for_s=300,
        sequence=42,
    )
    .to_json()
    .encode()
)
DEEP = b'{"version":1,"block":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
"""Nested deeper than any JSON reader recurses: a RecursionError unless the reader catches it."""


@fuzz_settings(300)
@given(st.binary(max_size=120) | mutated(HEADER))
@example(HEADER.replace(PLATFORM.encode(), b"\xff" * len(PLATFORM)))
def test_a_block_header_of_any_bytes_decodes_or_is_refused_as_malformed(data: bytes) -> None:
    """The example is a crash this found: a platform id that is not ASCII raised UnicodeDecodeError."""
    try:
        header = blocks.decode_header(data)
    except blocks.ProofError as refused:
        assert refused.reason == "malformed"
        return
    assert header.encode() == data


@fuzz_settings(300)
@given(mutated(st.sampled_from(PROOFS)))
@example(DEEP)
def test_an_inclusion_proof_changed_in_any_byte_verifies_or_fails_with_its_reason(data: bytes) -> None:
    try:
        report = blocks.verify_proof(data, TRUSTED)
    except blocks.ProofError as refused:
        assert refused.reason in {
            "malformed",
            "untrusted_key",
            "bad_block_signature",
            "bad_tx",
            "bad_tx_signature",
            "wrong_platform",
            "index_out_of_range",
            "root_mismatch",
        }
        return
    assert report.platform == PLATFORM and report.block_hash == BLOCK.header.hash.hex()


@pytest.mark.parametrize(
    "read",
    [HolderProof.from_json, PublishedSnapshot.from_json, ReserveAttestation.from_json],
    ids=["holder-proof", "snapshot", "attestation"],
)
@fuzz_settings(150)
@given(data=mutated(st.sampled_from([*HOLDER_PROOFS, SNAPSHOT, ATTESTATION])) | st.just(DEEP))
def test_a_reserve_document_changed_in_any_byte_is_read_or_refused_with_its_reason(read: object, data: bytes) -> None:
    try:
        read(data)  # type: ignore[operator]
    except ReserveProofError as refused:
        assert refused.reason


@fuzz_settings(150)
@given(mutated(st.sampled_from(HOLDER_PROOFS)))
def test_a_holders_proof_changed_in_any_byte_verifies_against_the_snapshot_or_fails_with_its_reason(
    data: bytes,
) -> None:
    published = PublishedSnapshot.from_json(SNAPSHOT)
    try:
        published.verify_proof(HolderProof.from_json(data))
    except ReserveProofError as refused:
        assert refused.reason


@fuzz_settings(200)
@given(mutated(QUOTE) | st.just(DEEP))
def test_a_price_quote_changed_in_any_byte_is_read_or_refused_with_its_reason(data: bytes) -> None:
    try:
        quote = PriceQuote.from_json(data)
    except PriceFeedError as refused:
        assert refused.reason
        return
    assert PriceQuote.from_json(quote.to_json()) == quote


runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("proof-fuzz")
    (folder / "snapshot.json").write_bytes(SNAPSHOT)
    return folder


def verify_proof_command(folder: Path, data: bytes) -> None:
    """`corridor verify-proof` on a file holding `data`: valid (0) or refused in one line (1), no traceback."""
    path = folder / "proof.json"
    path.write_bytes(data)
    trusted = OPERATOR.public_key.hex()
    result = runner.invoke(
        app, ["verify-proof", str(path), "--key", trusted, "--snapshot", str(folder / "snapshot.json")]
    )
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


@fuzz_settings(25)  # a run of the command costs ~50 ms; the readers it calls are fuzzed above
@given(mutated(st.sampled_from([*PROOFS, *HOLDER_PROOFS])))
def test_verify_proof_answers_any_file_valid_or_invalid_in_one_line(folder: Path, data: bytes) -> None:
    verify_proof_command(folder, data)


@pytest.mark.parametrize("data", [DEEP, b"[" * 50_000], ids=["deep-object", "deep-array"])
def test_verify_proof_answers_a_file_nested_past_the_json_readers_depth_in_one_line(folder: Path, data: bytes) -> None:
    verify_proof_command(folder, data)
