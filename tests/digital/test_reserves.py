"""Proof of reserves (digital/reserves.py): holders check their own leaf of the liabilities' Merkle-sum tree offline,
any changed byte is caught, an auditor given every leaf finds a missing, negative or doubled one, the report sets the
total against signed reserves, and every parser of outside JSON raises nothing but ReserveProofError."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.digital.reserves import (
    ATTESTATION_DOMAIN,
    EMPTY_ROOT,
    MAX_AMOUNT,
    MAX_PATH,
    HolderProof,
    LiabilityTree,
    MalformedError,
    PathStep,
    PublishedSnapshot,
    Reason,
    ReserveAttestation,
    ReserveProofError,
    SumRoot,
    audit_snapshot,
    build_tree,
    holder_salt,
    leaf_hash,
    node_hash,
    reserve_report,
    sign_attestation,
    snapshot_report,
    verify_holder_proof,
)
from corridor.merkle import inclusion_paths
from corridor.network.identity import SigningKey

SEED = bytes(range(32))
AS_OF = 1_700_000_000_000_000_000
CUSTODIAN = SigningKey.from_seed(b"\x01" * 32)
STRANGER = SigningKey.from_seed(b"\x02" * 32)
TRUSTED = frozenset({CUSTODIAN.public_key})
EXAMPLE = [("alice", 150_000), ("bob", 75_500), ("carol", 0)]
"""The worked example of docs/proof-of-reserves.md: three holders of VOIL, seed 0x00..0x1f."""


def _holders(count: int) -> list[tuple[str, int]]:
    return [(f"holder-{n}", n * 1_000 + 7) for n in range(count)]


@functools.cache
def _tree(count: int) -> LiabilityTree:
    return build_tree("VOIL", AS_OF, _holders(count), SEED)


def _attest(quantity: int, token: str = "VOIL", key: SigningKey = CUSTODIAN) -> ReserveAttestation:
    return sign_attestation(key, token=token, quantity=quantity, as_of_ns=AS_OF - 10**9, serial=42)


def _raises(reason: Reason, call: Callable[[], object]) -> ReserveProofError:
    with pytest.raises(ReserveProofError) as caught:
        call()
    assert caught.value.reason == reason, str(caught.value)
    return caught.value


# --- holders verify their own leaf ------------------------------------------------------------------------------


@given(st.integers(1, 40))
def test_every_holder_verifies_their_own_leaf_against_the_published_root(count: int) -> None:
    tree = _tree(count)
    snapshot = tree.published()
    for holder_id, _ in _holders(count):
        snapshot.verify_proof(tree.proof(holder_id))


def test_a_holder_verifies_a_proof_received_as_json() -> None:
    tree = build_tree("VOIL", AS_OF, EXAMPLE, SEED)
    received = HolderProof.from_json(tree.proof("bob").to_json())
    snapshot = PublishedSnapshot.from_json(tree.published().to_json())
    snapshot.verify_proof(received)
    assert (received.holder_id, received.balance) == ("bob", 75_500)


def test_a_holder_with_a_zero_balance_has_a_leaf_too() -> None:
    tree = build_tree("VOIL", AS_OF, EXAMPLE, SEED)
    tree.published().verify_proof(tree.proof("carol"))


def test_a_holder_not_in_the_tree_gets_no_proof() -> None:
    _raises(Reason.UNKNOWN_HOLDER, lambda: _tree(3).proof("mallory"))


def test_the_worked_example_of_the_documentation_has_its_published_root() -> None:
    root = build_tree("VOIL", AS_OF, EXAMPLE, SEED).root
    assert root.total == 225_500
    assert root.hash.hex() == "31084b5109b15163b521d6dc88d6afed686433667c684a0cb2a9cb7b78addbe1"


# --- a changed byte anywhere fails verification -----------------------------------------------------------------

REGIONS = ("holder_id", "salt", "balance", "path_hash", "path_sum", "root_hash", "root_total")


def _flip(data: bytes, at: int, delta: int) -> bytes:
    return data[:at] + bytes([data[at] ^ delta]) + data[at + 1 :]


def _region_bytes(region: str, proof: HolderProof, root: SumRoot, step: int) -> bytes:
    return {
        "holder_id": proof.holder_id.encode("ascii"),
        "salt": proof.salt,
        "balance": proof.balance.to_bytes(8, "big"),
        "path_hash": proof.path[step].hash,
        "path_sum": proof.path[step].total.to_bytes(8, "big"),
        "root_hash": root.hash,
        "root_total": root.total.to_bytes(8, "big"),
    }[region]


def _verify_changed(region: str, proof: HolderProof, root: SumRoot, step: int, changed: bytes) -> None:
    """Build the proof and root with `changed` in place of `region`'s bytes, then verify: both may refuse."""
    path = list(proof.path)
    if region == "path_hash":
        path[step] = PathStep(changed, path[step].total)
    if region == "path_sum":
        path[step] = PathStep(path[step].hash, int.from_bytes(changed, "big"))
    fields: dict[str, Any] = {
        "holder_id": changed.decode("latin-1") if region == "holder_id" else proof.holder_id,
        "salt": changed if region == "salt" else proof.salt,
        "balance": int.from_bytes(changed, "big") if region == "balance" else proof.balance,
        "path": tuple(path),
    }
    root_hash = changed if region == "root_hash" else root.hash
    root_total = int.from_bytes(changed, "big") if region == "root_total" else root.total
    verify_holder_proof(replace(proof, **fields), root_hash, root_total)


@pytest.mark.parametrize("region", REGIONS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_changed_byte_fails_verification(region: str, data: st.DataObject) -> None:
    tree = _tree(data.draw(st.integers(2, 20), label="holders"))
    proof = tree.proof(data.draw(st.sampled_from([holder for holder, _ in _holders(tree.size)])))
    step = data.draw(st.integers(0, len(proof.path) - 1), label="step")
    original = _region_bytes(region, proof, tree.root, step)
    at = data.draw(st.integers(0, len(original) - 1), label="byte")
    changed = _flip(original, at, data.draw(st.integers(1, 255), label="xor"))
    _verify_changed(region, proof, tree.root, step, original)  # the harness itself changes nothing
    with pytest.raises(ReserveProofError):
        _verify_changed(region, proof, tree.root, step, changed)


def test_a_path_with_a_step_missing_is_refused_for_its_length() -> None:
    proof = _tree(5).proof("holder-0")
    shorter = replace(proof, path=proof.path[:-1])
    _raises(Reason.PATH_LENGTH, lambda: verify_holder_proof(shorter, _tree(5).root.hash, _tree(5).root.total))


def test_a_path_with_a_step_too_many_is_refused_for_its_length() -> None:
    proof = _tree(5).proof("holder-0")
    longer = replace(proof, path=(*proof.path, proof.path[0]))
    _raises(Reason.PATH_LENGTH, lambda: verify_holder_proof(longer, _tree(5).root.hash, _tree(5).root.total))


def test_a_path_longer_than_the_limit_cannot_be_built() -> None:
    proof = _tree(2).proof("holder-0")
    error = _raises(Reason.TOO_LARGE, lambda: replace(proof, path=proof.path * (MAX_PATH + 1)))
    assert error.field == "path"


def test_a_proof_whose_index_is_outside_its_size_is_refused() -> None:
    proof = _tree(4).proof("holder-0")
    error = _raises(Reason.INDEX_OUTSIDE, lambda: replace(proof, index=4))
    assert error.field == "index"


def test_a_negative_sum_on_the_path_is_refused_naming_the_step() -> None:
    proof = _tree(4).proof("holder-0")
    negative = (PathStep(proof.path[0].hash, -1), *proof.path[1:])
    error = _raises(Reason.NEGATIVE, lambda: replace(proof, path=negative))
    assert error.field == "path[0].sum"


def test_a_negative_sum_in_a_json_proof_is_refused() -> None:
    document = _tree(4).proof("holder-0").to_dict()
    document["path"][1]["sum"] = "-5"
    error = _raises(Reason.NEGATIVE, lambda: HolderProof.from_json(json.dumps(document)))
    assert error.field == "path[1].sum"


def test_sums_reaching_2_63_on_the_way_up_are_refused() -> None:
    salt = holder_salt(SEED, "alice")
    proof = HolderProof("VOIL", AS_OF, "alice", salt, 1, 0, 2, (PathStep(bytes(32), MAX_AMOUNT),))
    _raises(Reason.SUM_OVERFLOW, lambda: verify_holder_proof(proof, bytes(32), MAX_AMOUNT))


def test_a_proof_is_refused_by_the_snapshot_of_another_time() -> None:
    tree = _tree(3)
    other_time = replace(tree.published(), as_of_ns=AS_OF + 1)
    _raises(Reason.SNAPSHOT_MISMATCH, lambda: other_time.verify_proof(tree.proof("holder-1")))


def test_a_proof_claiming_another_tree_size_is_refused_by_the_snapshot() -> None:
    tree = _tree(5)
    proof = replace(tree.proof("holder-0"), size=6)  # same path length and sides: only the size check sees it
    verify_holder_proof(proof, tree.root.hash, tree.root.total)
    _raises(Reason.SIZE_MISMATCH, lambda: tree.published().verify_proof(proof))


# --- building the tree ------------------------------------------------------------------------------------------


def test_a_negative_balance_is_refused_when_building_the_tree() -> None:
    error = _raises(Reason.NEGATIVE, lambda: build_tree("VOIL", AS_OF, [("alice", 5), ("bob", -1)], SEED))
    assert error.field == "liabilities[1].balance"


def test_a_duplicated_holder_is_refused_when_building_the_tree() -> None:
    _raises(Reason.DUPLICATE_HOLDER, lambda: build_tree("VOIL", AS_OF, [("alice", 5), ("alice", 6)], SEED))


def test_a_float_balance_is_refused_when_building_the_tree() -> None:
    error = _raises(Reason.MALFORMED, lambda: build_tree("VOIL", AS_OF, [("alice", 5.0)], SEED))  # type: ignore[list-item]
    assert error.field == "liabilities[0].balance"


def test_liabilities_totalling_2_63_are_refused() -> None:
    _raises(Reason.SUM_OVERFLOW, lambda: build_tree("VOIL", AS_OF, [("a", MAX_AMOUNT), ("b", 1)], SEED))


def test_liabilities_totalling_just_under_2_63_are_proved() -> None:
    tree = build_tree("VOIL", AS_OF, [("a", MAX_AMOUNT - 1), ("b", 1)], SEED)
    assert tree.root.total == MAX_AMOUNT
    tree.published().verify_proof(tree.proof("b"))


def test_a_seed_shorter_than_32_bytes_is_refused() -> None:
    error = _raises(Reason.MALFORMED, lambda: build_tree("VOIL", AS_OF, EXAMPLE, bytes(31)))
    assert error.field == "seed"


@pytest.mark.parametrize("holder_id", ["", "with space", "caf\u00e9", "x" * 65, "tab\there"])
def test_a_holder_id_is_1_to_64_visible_ascii_characters(holder_id: str) -> None:
    error = _raises(Reason.MALFORMED, lambda: build_tree("VOIL", AS_OF, [(holder_id, 1)], SEED))
    assert error.field == "liabilities[0].holder_id"


def test_the_empty_snapshot_has_the_hash_of_nothing_and_a_total_of_zero() -> None:
    tree = build_tree("VOIL", AS_OF, [], SEED)
    assert tree.root == EMPTY_ROOT == SumRoot(hashlib.sha256(b"").digest(), 0)
    assert (tree.published().size, tree.published().total) == (0, 0)


def test_the_root_of_one_holder_is_their_leaf() -> None:
    tree = build_tree("VOIL", AS_OF, [("alice", 9)], SEED)
    assert tree.root == SumRoot(leaf_hash(holder_salt(SEED, "alice"), "alice", 9), 9)


def test_a_leaf_is_the_documented_hash_of_salt_holder_and_balance() -> None:
    salt = hmac.new(SEED, b"alice", hashlib.sha256).digest()
    expected = hashlib.sha256(b"\x00" + salt + b"\x05alice" + (150_000).to_bytes(8, "big")).digest()
    assert holder_salt(SEED, "alice") == salt
    assert leaf_hash(salt, "alice", 150_000) == expected


def test_a_node_hashes_both_childrens_sums() -> None:
    left, right = SumRoot(b"\x11" * 32, 3), SumRoot(b"\x22" * 32, 4)
    expected = hashlib.sha256(b"\x01" + left.hash + (3).to_bytes(8, "big") + right.hash + (4).to_bytes(8, "big"))
    assert node_hash(left, right) == SumRoot(expected.digest(), 7)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**56), max_size=64))
def test_the_root_total_is_the_sum_of_the_balances(balances: list[int]) -> None:
    tree = build_tree("VOIL", AS_OF, [(f"h{n}", balance) for n, balance in enumerate(balances)], SEED)
    assert tree.root.total == sum(balances)


def test_the_tree_does_not_depend_on_the_order_holders_are_listed_in() -> None:
    listed = _holders(9)
    assert build_tree("VOIL", AS_OF, listed[::-1], SEED).root == _tree(9).root


def test_a_new_seed_gives_every_leaf_a_new_salt_and_the_tree_a_new_root() -> None:
    other = build_tree("VOIL", AS_OF, _holders(4), bytes(32))
    assert other.root.total == _tree(4).root.total
    assert other.root.hash != _tree(4).root.hash


def _split(size: int) -> int:
    """RFC 9162: the largest power of two smaller than size."""
    return 1 << ((size - 1).bit_length() - 1)


def _reference_root(leaves: list[SumRoot]) -> SumRoot:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def _reference_path(m: int, leaves: list[SumRoot]) -> list[PathStep]:
    """RFC 9162's PATH(m, D[n]), with the sums carried."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*_reference_path(m, leaves[:k]), PathStep(*_reference_root(leaves[k:]))]
    return [*_reference_path(m - k, leaves[k:]), PathStep(*_reference_root(leaves[:k]))]


@pytest.mark.parametrize("size", range(1, 34))
def test_the_tree_has_the_rfc_9162_shape(size: int) -> None:
    tree = _tree(size)
    leaves = [SumRoot(leaf_hash(salt, holder, balance), balance) for holder, salt, balance in tree.disclosure()]
    proofs = [tree.proof(holder) for holder, _, _ in tree.disclosure()]
    _, merkle_paths = inclusion_paths([bytes(32)] * size)
    assert tree.root == _reference_root(leaves)
    assert [list(proof.path) for proof in proofs] == [_reference_path(m, leaves) for m in range(size)]
    assert [len(proof.path) for proof in proofs] == [len(path) for path in merkle_paths]
    assert [proof.index for proof in proofs] == list(range(size))


# --- the auditor's check ----------------------------------------------------------------------------------------


def _reasons(findings: tuple[Any, ...]) -> set[Reason]:
    return {finding.reason for finding in findings}


def test_an_audit_of_every_leaf_passes() -> None:
    tree = _tree(7)
    report = audit_snapshot(tree.published(), tree.disclosure(), seed=SEED)
    assert report.passed
    assert report.recomputed == tree.root


def test_an_audit_passes_whatever_order_the_leaves_come_in() -> None:
    tree = _tree(7)
    assert audit_snapshot(tree.published(), tree.disclosure()[::-1]).passed


def test_an_audit_detects_a_missing_leaf() -> None:
    tree = _tree(7)
    report = audit_snapshot(tree.published(), tree.disclosure()[1:])
    assert _reasons(report.findings) == {Reason.SIZE_MISMATCH, Reason.TOTAL_MISMATCH, Reason.ROOT_HASH_MISMATCH}


def test_an_audit_detects_a_negative_leaf() -> None:
    tree = _tree(3)
    mallory = ("mallory", holder_salt(SEED, "mallory"), -500)
    report = audit_snapshot(tree.published(), [*tree.disclosure(), mallory])
    negative = [finding for finding in report.findings if finding.reason == Reason.NEGATIVE]
    assert [finding.holder_id for finding in negative] == ["mallory"]


def test_an_audit_detects_a_duplicated_holder() -> None:
    tree = _tree(3)
    holder, salt, balance = tree.disclosure()[0]
    report = audit_snapshot(tree.published(), [*tree.disclosure(), (holder, salt, balance)])
    duplicated = [finding for finding in report.findings if finding.reason == Reason.DUPLICATE_HOLDER]
    assert [finding.holder_id for finding in duplicated] == [holder]


def test_an_audit_detects_an_understated_balance() -> None:
    tree = _tree(3)
    leaves = tree.disclosure()
    holder, salt, balance = leaves[0]
    report = audit_snapshot(tree.published(), [(holder, salt, balance - 1), *leaves[1:]])
    assert _reasons(report.findings) == {Reason.TOTAL_MISMATCH, Reason.ROOT_HASH_MISMATCH}


def test_an_audit_given_the_seed_detects_a_salt_not_derived_from_it() -> None:
    tree = _tree(3)
    leaves = tree.disclosure()
    holder, _, balance = leaves[0]
    report = audit_snapshot(tree.published(), [(holder, bytes(32), balance), *leaves[1:]], seed=SEED)
    assert Reason.SALT_MISMATCH in _reasons(report.findings)


# --- the report: reserves against liabilities -------------------------------------------------------------------

COVERAGE = [
    pytest.param(1_025_000, 1_000_000, Fraction(41, 40), "1.0250", True, id="over-collateralised"),
    pytest.param(1_000_000, 1_000_000, Fraction(1), "1.0000", True, id="exactly-collateralised"),
    pytest.param(999_000, 1_000_000, Fraction(999, 1000), "0.9990", False, id="under-collateralised"),
    pytest.param(20_001, 20_000, Fraction(20_001, 20_000), "1.0000", True, id="tie-rounds-to-even-down"),
    pytest.param(20_003, 20_000, Fraction(20_003, 20_000), "1.0002", True, id="tie-rounds-to-even-up"),
    pytest.param(0, 1_000, Fraction(0), "0.0000", False, id="no-reserves"),
]


@pytest.mark.parametrize(("reserves", "liabilities", "coverage", "text", "covered"), COVERAGE)
def test_the_report_gives_coverage_and_whether_reserves_cover_liabilities(
    reserves: int, liabilities: int, coverage: Fraction, text: str, covered: bool
) -> None:
    report = snapshot_report(
        "VOIL", [("alice", liabilities)], SEED, _attest(reserves), as_of_ns=AS_OF, trusted_keys=TRUSTED
    )
    assert (report.liabilities, report.reserves) == (liabilities, reserves)
    assert (report.coverage, report.coverage_text, report.covered) == (coverage, text, covered)


@pytest.mark.parametrize(("reserves", "text"), [(10, "inf"), (0, "n/a")])
def test_the_report_of_no_liabilities_has_no_ratio(reserves: int, text: str) -> None:
    report = snapshot_report("VOIL", [], SEED, _attest(reserves), as_of_ns=AS_OF, trusted_keys=TRUSTED)
    assert (report.coverage, report.coverage_text, report.covered) == (None, text, True)


def test_the_report_names_the_snapshot_and_the_attestation() -> None:
    tree = build_tree("VOIL", AS_OF, EXAMPLE, SEED)
    report = reserve_report(tree, _attest(300_000), trusted_keys=TRUSTED)
    assert (report.token, report.as_of_ns, report.holders) == ("VOIL", AS_OF, 3)
    assert (report.root_hash, report.snapshot) == (tree.root.hash.hex(), tree.published())
    assert (report.attestation_serial, report.attestation_as_of_ns) == (42, AS_OF - 10**9)


def test_the_report_refuses_reserves_of_another_token() -> None:
    _raises(Reason.TOKEN_MISMATCH, lambda: reserve_report(_tree(2), _attest(10, "VGLD"), trusted_keys=TRUSTED))


def test_the_report_refuses_an_attestation_by_an_untrusted_key() -> None:
    attestation = _attest(10, key=STRANGER)
    _raises(Reason.UNTRUSTED_SIGNER, lambda: reserve_report(_tree(2), attestation, trusted_keys=TRUSTED))


# --- reserve attestations ---------------------------------------------------------------------------------------


def test_a_signed_attestation_verifies_with_its_signer_trusted() -> None:
    _attest(10).verify(TRUSTED)


@pytest.mark.parametrize(
    "changes",
    [{"token": "VGLD"}, {"quantity": 11}, {"as_of_ns": AS_OF}, {"serial": 43}, {"signer": STRANGER.public_key}],
    ids=lambda changes: next(iter(changes)),
)
def test_the_attestation_signature_fails_when_a_field_changes(changes: dict[str, Any]) -> None:
    changed = replace(_attest(10), **changes)
    _raises(Reason.BAD_SIGNATURE, lambda: changed.verify(TRUSTED | {STRANGER.public_key}))


def test_an_attestation_by_a_key_not_trusted_is_refused() -> None:
    _raises(Reason.UNTRUSTED_SIGNER, lambda: _attest(10, key=STRANGER).verify(TRUSTED))


def test_the_attestation_canonical_bytes_are_the_documented_layout() -> None:
    attestation = _attest(1_025_000)
    expected = (
        b"corridor/reserve-attestation/v1\x00"
        + b"\x04VOIL"
        + (1_025_000).to_bytes(8, "big")
        + (AS_OF - 10**9).to_bytes(8, "big")
        + (42).to_bytes(8, "big")
        + CUSTODIAN.public_key
    )
    assert ATTESTATION_DOMAIN == b"corridor/reserve-attestation/v1\x00"
    assert attestation.canonical_bytes() == expected


def test_an_attestation_survives_its_json_round_trip() -> None:
    attestation = _attest(10)
    assert ReserveAttestation.from_json(attestation.to_json()) == attestation
    assert ReserveAttestation.from_json(attestation.to_json().encode()) == attestation


def test_a_negative_reserve_quantity_is_refused() -> None:
    error = _raises(Reason.NEGATIVE, lambda: _attest(-1))
    assert error.field == "quantity"


# --- JSON parsers of outside input ------------------------------------------------------------------------------

_PROOF = _tree(5).proof("holder-2")
VALID: dict[str, tuple[Callable[[str], object], dict[str, Any]]] = {
    "attestation": (ReserveAttestation.from_json, _attest(1_025_000).to_dict()),
    "proof": (HolderProof.from_json, _PROOF.to_dict()),
    "snapshot": (PublishedSnapshot.from_json, _tree(5).published().to_dict()),
}
PARSERS = sorted(VALID)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
near_misses = st.sampled_from(
    ["", "-1", "-0", "01", "9223372036854775807", "9223372036854775808", "1e3", "0x10", "\uff11", "AB", "a", "00" * 31]
)


def _only_reserve_proof_errors(parse: Callable[[str], object], document: str) -> None:
    """Parse outside input: it may be accepted (a mutation can leave a valid document) or refused, with
    ReserveProofError only; any other exception fails the test."""
    with contextlib.suppress(ReserveProofError):
        parse(document)


@pytest.mark.parametrize("kind", PARSERS)
@settings(max_examples=150, deadline=None)
@given(value=json_values)
def test_a_parser_raises_only_reserve_proof_errors_on_any_json_value(kind: str, value: object) -> None:
    parse, _ = VALID[kind]
    with pytest.raises(ReserveProofError):
        parse(json.dumps(value))


@pytest.mark.parametrize("kind", PARSERS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_parser_raises_only_reserve_proof_errors_on_a_mutated_document(kind: str, data: st.DataObject) -> None:
    parse, document = VALID[kind]
    text = json.dumps(document)
    at = data.draw(st.integers(0, len(text) - 1), label="at")
    inserted = data.draw(st.text(min_size=0, max_size=3), label="inserted")
    removed = data.draw(st.integers(0, 3), label="removed")
    _only_reserve_proof_errors(parse, text[:at] + inserted + text[at + removed :])


def _members(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every member's location in a JSON document, nested ones (the path's steps) included."""
    found: list[tuple[Any, ...]] = []
    items = document.items() if isinstance(document, dict) else enumerate(document)
    for key, value in items:
        found.append((*prefix, key))
        if isinstance(value, dict | list):
            found.extend(_members(value, (*prefix, key)))
    return found


@pytest.mark.parametrize("kind", PARSERS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_a_parser_raises_only_reserve_proof_errors_when_a_member_is_replaced(kind: str, data: st.DataObject) -> None:
    parse, original = VALID[kind]
    document = json.loads(json.dumps(original))
    *parents, key = data.draw(st.sampled_from(_members(document)), label="member")
    container = functools.reduce(lambda node, step: node[step], parents, document)
    container[key] = data.draw(json_values | near_misses, label="value")
    _only_reserve_proof_errors(parse, json.dumps(document))


@pytest.mark.parametrize("kind", PARSERS)
@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200) | st.binary(max_size=200).map(lambda data: data.decode("latin-1")))
def test_a_parser_raises_only_reserve_proof_errors_on_any_text(kind: str, text: str) -> None:
    parse, _ = VALID[kind]
    _only_reserve_proof_errors(parse, text)


@pytest.mark.parametrize("kind", PARSERS)
def test_a_parser_accepts_its_own_documents(kind: str) -> None:
    parse, document = VALID[kind]
    assert parse(json.dumps(document)) is not None


@pytest.mark.parametrize("kind", PARSERS)
def test_a_document_with_a_member_twice_is_refused(kind: str) -> None:
    parse, document = VALID[kind]
    text = json.dumps(document)
    error = _raises(Reason.MALFORMED, lambda: parse(text[:-1] + ', "token": "VOIL"}'))
    assert error.field == "token"


@pytest.mark.parametrize("kind", PARSERS)
def test_a_document_nested_too_deep_is_refused(kind: str) -> None:
    parse, _ = VALID[kind]
    _raises(Reason.MALFORMED, lambda: parse("[" * 30_000 + "]" * 30_000))


def test_a_64_bit_integer_written_as_a_json_number_is_refused_naming_it() -> None:
    document = _attest(10).to_dict()
    document["quantity"] = 10
    error = _raises(Reason.MALFORMED, lambda: ReserveAttestation.from_json(json.dumps(document)))
    assert error.field == "quantity"


def test_upper_case_hex_is_refused_naming_the_field() -> None:
    document = _PROOF.to_dict()
    document["path"][0]["hash"] = document["path"][0]["hash"].upper()
    error = _raises(Reason.MALFORMED, lambda: HolderProof.from_json(json.dumps(document)))
    assert error.field == "path[0].hash"


def test_a_malformed_error_is_a_value_error() -> None:
    assert issubclass(MalformedError, ReserveProofError)
    assert issubclass(ReserveProofError, ValueError)
