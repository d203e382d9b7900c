"""The platform's decisions: what commits, and what is refused with which reason, changing nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from corridor.digital import blocks
from corridor.digital.platform import Reason
from corridor.digital.tx import SIGNING_DOMAIN, SignedTx
from corridor.digital.wallet import Wallet
from tests.digital.helpers import OPERATOR, PLATFORM, World, key, make_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path)
    yield w
    w.platform.close()


def refused(world: World, t: SignedTx, reason: Reason) -> None:
    """Submit `t`, expect `reason`, and check that nothing changed."""
    before = world.state()
    receipt = world.one(t)
    assert receipt.reason is reason, receipt
    assert world.state() == before


def test_a_transfer_moves_the_amount_and_is_sealed_in_a_block(world: World) -> None:
    alice = world.open_user("alice", rubd=50_000_00)
    bob = world.open_user("bob")
    receipt = world.one(alice.transfer("RUBD", bob.public_key, 12_345))
    assert receipt.committed and receipt.height == world.platform.height and receipt.index == 0
    assert world.platform.balance(alice.public_key, "RUBD") == 50_000_00 - 12_345
    assert world.platform.balance(bob.public_key, "RUBD") == 12_345
    assert world.platform.nonce(alice.public_key) == 1


def test_a_committed_transfer_has_an_inclusion_proof_that_verifies_offline(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    receipt = world.one(alice.transfer("RUBD", bob.public_key, 100))
    proof = world.platform.proof(receipt.tx_id)
    assert proof is not None
    report = blocks.verify_proof(proof, {OPERATOR.public_key})
    assert report.tx_id == receipt.tx_id.hex() and report.height == receipt.height and report.kind == "transfer"


def test_blocks_chain_each_to_the_previous_header(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    world.one(alice.transfer("RUBD", bob.public_key, 1))
    previous = None
    for height in range(1, world.platform.height + 1):
        found = world.platform.store.block(height)
        assert found is not None
        header = blocks.decode_header(found[0])
        assert header.prev_hash == (previous.hash if previous else blocks.GENESIS_PREV)
        assert blocks.header_signature_valid(header, found[1], OPERATOR.public_key)
        previous = header


def test_a_bad_signature_is_refused(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    t = alice.transfer("RUBD", bob.public_key, 100)
    forged = SignedTx(
        t.platform, t.signer, t.nonce, t.body, t.canonical, (key("mallory").sign(SIGNING_DOMAIN + t.canonical),)
    )
    refused(world, forged, Reason.BAD_SIGNATURE)


def test_a_replayed_transfer_is_refused_and_names_its_block(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    t = alice.transfer("RUBD", bob.public_key, 100)
    first = world.one(t)
    before = world.state()
    again = world.one(t)
    assert again.reason is Reason.REPLAYED and f"block {first.height}" in again.detail
    assert world.state() == before


def test_the_same_transfer_twice_in_one_batch_commits_once(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    t = alice.transfer("RUBD", bob.public_key, 100)
    first, second = world.submit(t, t)
    assert first.committed and second.reason is Reason.REPLAYED
    assert world.platform.balance(bob.public_key, "RUBD") == 100


def test_a_second_transaction_on_a_spent_nonce_is_a_double_spend(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    carol = world.open_user("carol")
    assert world.one(alice.transfer("RUBD", bob.public_key, 1_000_00)).committed
    alice.rewind()
    refused(world, alice.transfer("RUBD", carol.public_key, 1_000_00), Reason.DOUBLE_SPEND)


def test_a_nonce_that_skips_ahead_is_refused(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    alice.last_nonce += 1
    refused(world, alice.transfer("RUBD", bob.public_key, 1), Reason.WRONG_NONCE)


def test_spending_more_than_the_balance_is_refused_and_keeps_the_nonce(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    refused(world, alice.transfer("RUBD", bob.public_key, 1_000_01), Reason.INSUFFICIENT_FUNDS)
    alice.rewind()
    assert world.one(alice.transfer("RUBD", bob.public_key, 1_000_00)).committed


def test_two_transfers_in_one_batch_cannot_spend_the_same_money(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    first, second = world.submit(
        alice.transfer("RUBD", bob.public_key, 600_00), alice.transfer("RUBD", bob.public_key, 600_00)
    )
    assert first.committed and second.reason is Reason.INSUFFICIENT_FUNDS
    assert world.platform.balance(alice.public_key, "RUBD") == 400_00


def test_a_payment_over_the_tiers_transaction_limit_is_refused(world: World) -> None:
    alice = world.open_user("alice", rubd=50_000_00)
    bob = world.open_user("bob")
    refused(world, alice.transfer("RUBD", bob.public_key, 30_000_01), Reason.OVER_TRANSACTION_LIMIT)


def test_a_payment_that_would_lift_the_recipient_over_its_holding_limit_is_refused(world: World) -> None:
    alice = world.open_user("alice", tier=2, rubd=200_000_00)
    bob = world.open_user("bob", rubd=90_000_00)
    refused(world, alice.transfer("RUBD", bob.public_key, 10_000_01), Reason.OVER_HOLDING_LIMIT)
    alice.rewind()
    assert world.one(alice.transfer("RUBD", bob.public_key, 10_000_00)).committed


def test_a_transaction_for_another_platform_is_refused(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    elsewhere = Wallet(alice.key, "CBXVVECA", alice.last_nonce)
    refused(world, elsewhere.transfer("RUBD", bob.public_key, 1), Reason.WRONG_PLATFORM)


def test_an_unknown_signer_is_refused(world: World) -> None:
    bob = world.open_user("bob")
    refused(world, Wallet(key("stranger"), PLATFORM).transfer("RUBD", bob.public_key, 1), Reason.UNKNOWN_WALLET)


def test_paying_a_key_without_a_wallet_is_refused(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    refused(world, alice.transfer("RUBD", key("nobody").public_key, 1), Reason.UNKNOWN_RECIPIENT)


def test_only_a_bank_opens_wallets(world: World) -> None:
    alice = world.open_user("alice")
    refused(world, alice.open_wallet(key("friend").public_key, 1, bytes(32)), Reason.NOT_A_BANK)


def test_a_wallet_is_opened_once(world: World) -> None:
    alice = world.open_user("alice")
    refused(world, world.bank.open_wallet(alice.public_key, 1, bytes(32)), Reason.WALLET_EXISTS)


def test_a_purpose_bound_wallet_pays_only_its_listed_recipients(world: World) -> None:
    supplier = world.open_user("supplier")
    other = world.open_user("other")
    grant = world.open_user("grant", allowed=(supplier.public_key,), rubd=1_000_00)
    refused(world, grant.transfer("RUBD", other.public_key, 1), Reason.RECIPIENT_NOT_ALLOWED)
    grant.rewind()
    assert world.one(grant.transfer("RUBD", supplier.public_key, 1)).committed


def test_only_the_issuer_mints(world: World) -> None:
    alice = world.open_user("alice")
    refused(world, world.bank.mint("RUBD", alice.public_key, 1), Reason.NOT_ISSUER)


def test_the_commodity_token_is_minted_only_up_to_the_attested_reserve(world: World) -> None:
    exporter = world.open_user("exporter", tier=2)
    refused(world, world.issuer.mint("VOIL", exporter.public_key, 1), Reason.BEYOND_RESERVE)
    world.issuer.rewind()
    world.platform.set_attested_reserve("VOIL", 1, 1_000_0000, "{}")
    assert world.one(world.issuer.mint("VOIL", exporter.public_key, 1_000_0000)).committed
    refused(world, world.issuer.mint("VOIL", exporter.public_key, 1), Reason.BEYOND_RESERVE)
    assert world.platform.supply("VOIL") == 1_000_0000


def test_burning_returns_tokens_to_the_issuer_and_lowers_the_supply(world: World) -> None:
    assert world.one(world.issuer.mint("RUBD", world.bank.public_key, 500_00)).committed
    assert world.one(world.bank.burn("RUBD", 200_00)).committed
    assert world.platform.supply("RUBD") == 300_00
    assert world.platform.balance(world.bank.public_key, "RUBD") == 300_00


def test_a_user_cannot_burn(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    refused(world, alice.burn("RUBD", 1), Reason.NOT_AN_INSTITUTION)


def test_an_escrow_pays_the_exporter_when_the_matching_document_is_presented(world: World) -> None:
    importer = world.open_user("importer", tier=2, rubd=500_000_00)
    exporter = world.open_user("exporter", tier=2)
    bill = b"BILL OF LADING No. 42: 120 truck tyres"
    lock = world.one(importer.escrow("RUBD", exporter.public_key, 300_000_00, bill, world.clock.s + 3600))
    assert lock.committed
    assert world.platform.balance(importer.public_key, "RUBD") == 200_000_00
    refused(world, exporter.claim(lock.tx_id, b"a forged bill"), Reason.WRONG_PREIMAGE)
    exporter.rewind()
    assert world.one(exporter.claim(lock.tx_id, bill)).committed
    assert world.platform.balance(exporter.public_key, "RUBD") == 300_000_00
    row = world.platform.lock(lock.tx_id)
    assert row is not None and row.status == "claimed" and row.preimage == bill


def test_an_escrow_is_refunded_only_after_it_expires(world: World) -> None:
    importer = world.open_user("importer", tier=2, rubd=500_000_00)
    exporter = world.open_user("exporter", tier=2)
    lock = world.one(importer.escrow("RUBD", exporter.public_key, 300_000_00, b"bill", world.clock.s + 3600))
    refused(world, importer.refund(lock.tx_id), Reason.LOCK_NOT_EXPIRED)
    importer.rewind()
    world.clock.s += 3600
    refused(world, exporter.claim(lock.tx_id, b"bill"), Reason.LOCK_EXPIRED)
    assert world.one(importer.refund(lock.tx_id)).committed
    assert world.platform.balance(importer.public_key, "RUBD") == 500_000_00
    exporter.rewind()
    refused(world, exporter.claim(lock.tx_id, b"bill"), Reason.LOCK_CLOSED)


def test_only_the_payee_claims_a_lock(world: World) -> None:
    importer = world.open_user("importer", tier=2, rubd=1_000_00)
    exporter = world.open_user("exporter", tier=2)
    lock = world.one(importer.escrow("RUBD", exporter.public_key, 100, b"bill", world.clock.s + 60))
    refused(world, importer.claim(lock.tx_id, b"bill"), Reason.NOT_LOCK_PAYEE)


def test_a_lock_must_expire_within_the_platforms_maximum(world: World) -> None:
    importer = world.open_user("importer", tier=2, rubd=1_000_00)
    exporter = world.open_user("exporter", tier=2)
    refused(
        world,
        importer.escrow("RUBD", exporter.public_key, 100, b"b", world.clock.s + 86_401),
        Reason.EXPIRY_OUT_OF_RANGE,
    )


def test_a_swap_moves_both_legs(world: World) -> None:
    world.platform.set_attested_reserve("VOIL", 1, 100_0000, "{}")
    buyer = world.open_user("buyer", tier=2, rubd=1_000_000_00)
    seller = world.open_user("seller", tier=2)
    assert world.one(world.issuer.mint("VOIL", seller.public_key, 10_0000)).committed
    proposal = buyer.propose_swap("RUBD", 700_000_00, seller.public_key, "VOIL", 10_0000, seller.next_nonce())
    assert world.one(seller.countersign(proposal)).committed
    assert world.platform.balance(seller.public_key, "RUBD") == 700_000_00
    assert world.platform.balance(buyer.public_key, "VOIL") == 10_0000
    assert world.platform.nonce(seller.public_key) == 1


def test_a_swap_whose_second_leg_cannot_be_paid_moves_nothing(world: World) -> None:
    buyer = world.open_user("buyer", tier=2, rubd=1_000_000_00)
    seller = world.open_user("seller", tier=2)
    proposal = buyer.propose_swap("RUBD", 700_000_00, seller.public_key, "VOIL", 10_0000, seller.next_nonce())
    refused(world, seller.countersign(proposal), Reason.INSUFFICIENT_FUNDS)


def test_a_swap_without_the_counterpartys_signature_is_refused(world: World) -> None:
    buyer = world.open_user("buyer", tier=2, rubd=1_000_00)
    seller = world.open_user("seller", tier=2)
    proposal = buyer.propose_swap("RUBD", 100, seller.public_key, "VOIL", 1, 1)
    half = SignedTx(
        proposal.platform,
        proposal.signer,
        proposal.nonce,
        proposal.body,
        proposal.canonical,
        (proposal.signatures[0], bytes(64)),
    )
    refused(world, half, Reason.BAD_SIGNATURE)


def test_malformed_bytes_are_refused_with_the_field_named(world: World) -> None:
    before = world.state()
    receipt = world.platform.submit([b"CDTX\x01\x09"])[0]
    assert receipt.reason is Reason.MALFORMED and "kind" in receipt.detail
    assert world.state() == before


def test_a_refused_transaction_is_in_no_block(world: World) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    receipt = world.one(alice.transfer("RUBD", bob.public_key, 10**9))
    assert not receipt.committed and world.platform.proof(receipt.tx_id) is None


def test_the_ledger_verifies_and_supply_equals_the_sum_of_holdings(world: World) -> None:
    alice = world.open_user("alice", rubd=10_000_00)
    bob = world.open_user("bob")
    for _ in range(5):
        world.one(alice.transfer("RUBD", bob.public_key, 1_000_00))
    world.platform.ledger.flush()
    assert world.platform.ledger.verify().ok
    holders = [w.key for w in world.platform.store.wallets()]
    assert sum(world.platform.balance(k, "RUBD") for k in holders) == world.platform.supply("RUBD")


def test_the_preimage_of_a_claim_is_not_in_the_block(world: World) -> None:
    importer = world.open_user("importer", tier=2, rubd=1_000_00)
    exporter = world.open_user("exporter", tier=2)
    bill = b"CONFIDENTIAL BILL OF LADING " + hashlib.sha256(b"x").digest()
    lock = world.one(importer.escrow("RUBD", exporter.public_key, 100, bill, world.clock.s + 60))
    claim = world.one(exporter.claim(lock.tx_id, bill))
    found = world.platform.store.block(claim.height or 0)
    assert found is not None and all(bill not in leaf for leaf in found[2])


def test_the_platform_refunds_expired_locks_by_itself(world: World) -> None:
    importer = world.open_user("importer", tier=2, rubd=1_000_00)
    exporter = world.open_user("exporter", tier=2)
    lock = world.one(importer.escrow("RUBD", exporter.public_key, 400_00, b"bill", world.clock.s + 60))
    assert world.platform.expire_locks() == []
    world.clock.s += 60
    (refund,) = world.platform.expire_locks()
    assert refund.committed
    assert world.platform.balance(importer.public_key, "RUBD") == 1_000_00
    row = world.platform.lock(lock.tx_id)
    assert row is not None and row.status == "refunded" and row.closed_by == refund.tx_id
    assert world.platform.expire_locks() == []


def test_a_forged_copy_ahead_of_the_signed_transaction_is_refused_and_only_the_signed_bytes_are_sealed(
    world: World,
) -> None:
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    t = alice.transfer("RUBD", bob.public_key, 100)
    forged = SignedTx(t.platform, t.signer, t.nonce, t.body, t.canonical, (bytes(64),))
    bad, good = world.submit(forged, t)
    assert bad.reason is Reason.BAD_SIGNATURE and good.committed
    proof = world.platform.proof(t.id)
    assert proof is not None and blocks.verify_proof(proof, {OPERATOR.public_key}).tx_id == t.id.hex()


def test_a_platform_opened_under_a_relative_directory_keeps_its_files_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative directory must not become an absolute path on the way to the ledger (sqlite:///data/... is /data)."""
    monkeypatch.chdir(tmp_path)
    world = make_world(Path("relative") / "platform")
    try:
        assert (tmp_path / "relative" / "platform" / "ledger.db").exists()
        assert world.platform.ledger.url.endswith(str(tmp_path / "relative" / "platform" / "ledger.db"))
    finally:
        world.platform.close()
