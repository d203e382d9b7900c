"""Digital transactions as a platform receives them from wallets (digital/tx.py `decode`, digital/platform.py
`submit`): whatever bytes arrive, decoding gives the one transaction those bytes encode or a TxFormatError naming the
field; a platform answers every transaction of a batch with a receipt (committed, or refused with its reason) and
never loses or makes money doing so. tests/digital/test_tx.py flips bytes of six kinds; this cuts, inserts, repeats
and swaps bytes of every kind (a swap with both signatures, a claim with its preimage included), and submits what
it makes, and transactions validly signed by known wallets with fields of any value."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from corridor.digital import tx
from corridor.digital.platform import Reason
from tests.digital.helpers import BANK, ISSUER, PLATFORM, World, key, make_world
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import mutated

ALICE, BOB = key("alice"), key("bob")
REF = hashlib.sha256(b"invoice 7").digest()
SECRET = b"bill of lading BL-2026-0042"
LOCK = tx.Lock("VOIL", BOB.public_key, 5, hashlib.sha256(SECRET).digest(), 1_900_000_001)
SEEDS = (
    tx.sign(ALICE, PLATFORM, 1, tx.Transfer("RUBD", BOB.public_key, 12_345, REF)).wire,
    tx.sign(
        ALICE, PLATFORM, 2, tx.Lock("VOIL", BOB.public_key, 5, hashlib.sha256(SECRET).digest(), 1_900_000_000)
    ).wire,
    tx.sign(BOB, PLATFORM, 3, tx.Claim(REF), preimage=SECRET).wire,
    tx.sign(ALICE, PLATFORM, 4, tx.Refund(REF)).wire,
    tx.countersign(BOB, tx.sign(ALICE, PLATFORM, 5, tx.Swap("RUBD", 100, BOB.public_key, "VOIL", 1, 9))).wire,
    tx.sign(BANK, PLATFORM, 6, tx.Open(ALICE.public_key, 2, REF, (BOB.public_key, ISSUER.public_key))).wire,
    tx.sign(ISSUER, PLATFORM, 7, tx.Mint("RUBD", ALICE.public_key, 10**6, REF)).wire,
    tx.sign(ISSUER, PLATFORM, 8, tx.Burn("RUBD", 1, REF)).wire,
)
FIELDS = {
    "transaction",
    "magic",
    "version",
    "kind",
    "platform",
    "signer",
    "nonce",
    "token",
    "to",
    "amount",
    "reference",
    "hashlock",
    "expires_at",
    "lock",
    "counterparty",
    "counter_token",
    "counter_amount",
    "counter_nonce",
    "wallet",
    "tier",
    "holder_ref",
    "allowed",
    "signature",
    "counter_signature",
    "preimage",
}
"""Every field a TxFormatError may name (docs/digital.md)."""


@fuzz_settings(400)
@given(mutated(st.sampled_from(SEEDS)) | st.binary(max_size=300))
def test_a_transaction_of_any_bytes_decodes_to_exactly_those_bytes_or_is_refused_naming_a_field(data: bytes) -> None:
    try:
        decoded = tx.decode(data)
    except tx.TxFormatError as refused:
        assert refused.field in FIELDS, refused.field
        return
    assert decoded.wire == data
    assert tx.encode(decoded.platform, decoded.signer, decoded.nonce, decoded.body) == decoded.canonical


def fresh_world(folder: Path) -> World:
    """A platform with Alice funded and Bob opened: transactions reach its decisions, not only its parser."""
    made = make_world(folder)
    made.open_user("alice", tier=2, rubd=1_000_000_00)
    made.open_user("bob")
    return made


SIGNERS = {"alice": ALICE, "bob": BOB, "issuer": ISSUER, "bank": BANK, "stranger": key("stranger")}
keys = st.sampled_from([k.public_key for k in SIGNERS.values()]) | st.binary(min_size=32, max_size=32)
hashes = st.sampled_from([REF, hashlib.sha256(SECRET).digest(), bytes(32)])
tokens = st.sampled_from(["RUBD", "VOIL", "XAUD"])
amounts = st.integers(1, tx.MAX_AMOUNT) | st.integers(1, 10**6)
bodies = st.one_of(
    st.builds(tx.Transfer, tokens, keys, amounts, hashes),
    st.builds(tx.Lock, tokens, keys, amounts, hashes, st.integers(1, tx.MAX_AMOUNT), hashes),
    st.builds(tx.Claim, hashes),
    st.builds(tx.Refund, hashes),
    st.builds(tx.Open, keys, st.integers(0, tx.MAX_TIER), hashes, st.lists(keys, max_size=3).map(tuple)),
    st.builds(tx.Mint, tokens, keys, amounts, hashes),
    st.builds(tx.Burn, tokens, amounts, hashes),
)
Signed = tuple[str, tx.Body, int, bytes | None]
"""A transaction to sign once the platform is open: signer, body, nonce after the signer's next, preimage."""
plans = st.one_of(
    mutated(st.sampled_from(SEEDS)),
    st.tuples(
        st.sampled_from(sorted(SIGNERS)),
        bodies,
        st.sampled_from([0, 0, 0, -1, 1]),
        st.none() | st.sampled_from([SECRET, b""]),
    ),
)


def made(world: World, plan: bytes | Signed, used: dict[str, int]) -> bytes:
    """The wire of a plan: mutated bytes as they are, or a transaction validly signed by a known key."""
    if isinstance(plan, bytes):
        return plan
    name, body, skew, preimage = plan
    signer = SIGNERS[name]
    used[name] = used.get(name, 0) + 1
    nonce = max(1, world.platform.nonce(signer.public_key) + used[name] + skew)
    return tx.sign(signer, PLATFORM, nonce, body, preimage=preimage if isinstance(body, tx.Claim) else None).wire


def supply_is_held(world: World) -> bool:
    return all(
        sum(held for _, held in world.platform.holdings(token)) == world.platform.supply(token)
        for token in ("RUBD", "VOIL")
    )


@fuzz_settings(25, deadline_ms=5_000)
@given(st.lists(plans, min_size=1, max_size=5))
def test_a_platform_answers_every_transaction_of_a_batch_and_keeps_its_supply_held(plan: list[bytes | Signed]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        world = fresh_world(Path(folder))
        try:
            used: dict[str, int] = {}
            batch = [made(world, step, used) for step in plan]
            receipts = world.platform.submit(batch)
            assert len(receipts) == len(batch)
            assert all(receipt.committed or receipt.reason in set(Reason) for receipt in receipts)
            assert supply_is_held(world)
        finally:
            world.platform.close()
