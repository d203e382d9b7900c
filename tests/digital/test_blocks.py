"""Inclusion proofs: valid ones verify offline; any changed byte, or an untrusted key, fails with its reason."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from corridor.digital import blocks, tx
from tests.digital.helpers import OPERATOR, PLATFORM, key

TRUSTED = {OPERATOR.public_key}
LEAVES = [tx.sign(key(f"w{i}"), PLATFORM, 1, tx.Burn("RUBD", i + 1, bytes(32))).signed_bytes for i in range(7)]
BLOCK = blocks.seal(OPERATOR, PLATFORM, 3, bytes(range(32)), 123, LEAVES)
PROOFS = [blocks.make_proof(BLOCK, OPERATOR.public_key, i) for i in range(len(LEAVES))]


def test_every_leaf_of_a_block_has_a_proof_that_verifies() -> None:
    for i, proof in enumerate(PROOFS):
        report = blocks.verify_proof(json.dumps(proof), TRUSTED)
        assert report.index == i and report.height == 3 and report.block_hash == BLOCK.header.hash.hex()


def test_a_proof_signed_by_an_untrusted_key_fails() -> None:
    with pytest.raises(blocks.ProofError) as caught:
        blocks.verify_proof(PROOFS[0], {key("someone").public_key})
    assert caught.value.reason == "untrusted_key"


def _flip_hex(value: str, position: int) -> str:
    raw = bytearray(bytes.fromhex(value))
    raw[position % len(raw)] ^= 1
    return raw.hex()


@settings(max_examples=300)
@given(
    st.integers(0, len(LEAVES) - 1),
    st.sampled_from(["tx", "path", "tx_root", "prev_hash", "block_signature"]),
    st.integers(0, 10_000),
)
def test_a_changed_byte_in_the_leaf_the_path_or_the_root_fails(index: int, part: str, position: int) -> None:
    proof: dict[str, Any] = copy.deepcopy(PROOFS[index])
    if part == "tx":
        proof["tx"] = _flip_hex(proof["tx"], position)
    elif part == "path":
        step = position % len(proof["path"])
        proof["path"][step] = _flip_hex(proof["path"][step], position // 7)
    elif part in ("tx_root", "prev_hash"):
        proof["block"][part] = _flip_hex(proof["block"][part], position)
    else:
        proof[part] = _flip_hex(proof[part], position)
    with pytest.raises(blocks.ProofError):
        blocks.verify_proof(proof, TRUSTED)


@pytest.mark.parametrize("field", ["height", "time_ns", "tx_count"])
def test_a_changed_header_number_fails(field: str) -> None:
    proof = copy.deepcopy(PROOFS[2])
    proof["block"][field] += 1
    with pytest.raises(blocks.ProofError) as caught:
        blocks.verify_proof(proof, TRUSTED)
    assert caught.value.reason in ("bad_block_signature", "malformed")


def test_a_proof_moved_to_another_index_fails() -> None:
    proof = copy.deepcopy(PROOFS[2])
    proof["index"] = 3
    with pytest.raises(blocks.ProofError) as caught:
        blocks.verify_proof(proof, TRUSTED)
    assert caught.value.reason == "root_mismatch"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values)
def test_any_json_that_is_not_a_proof_fails_with_a_proof_error(value: object) -> None:
    with pytest.raises(blocks.ProofError):
        blocks.verify_proof(json.dumps(value), TRUSTED)


@settings(max_examples=300)
@given(
    st.integers(0, len(LEAVES) - 1),
    st.sampled_from(["version", "block", "platform_key", "tx", "index", "path"]),
    json_values,
)
def test_a_proof_with_any_field_replaced_fails_with_a_proof_error(index: int, field: str, value: object) -> None:
    proof: dict[str, Any] = copy.deepcopy(PROOFS[index])
    if proof[field] == value:
        return
    proof[field] = value
    with pytest.raises(blocks.ProofError):
        blocks.verify_proof(proof, TRUSTED)


def test_the_worked_example_of_the_documentation_verifies() -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "digital-proof.json"
    operator = bytes.fromhex("2543b92ff1095511476adc8369db6ddc933665a11978dda1404ee1066ca9559d")
    report = blocks.verify_proof(example.read_text(), {operator})
    assert report.tx_id == "327da59db61338b5dacacec421c1f7aa5d30769cf01707faf329239e42f77261"
    assert report.block_hash == "bf7d2757d35f240015bcfe0aaf10a36aff707bbfcb8798f1478e9222c3b77257"
