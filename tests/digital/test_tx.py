"""The transaction format: one encoding per meaning, and any other bytes refused with the field named."""

from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given, settings

from corridor.digital import tx
from tests.digital.helpers import PLATFORM, key

ALICE = key("alice")
BOB = key("bob")
keys32 = st.binary(min_size=32, max_size=32)
amounts = st.integers(min_value=1, max_value=tx.MAX_AMOUNT)
tokens = st.sampled_from(["RUBD", "VOIL", "VESD2026"])
bodies = st.one_of(
    st.builds(tx.Transfer, tokens, keys32, amounts, keys32),
    st.builds(tx.Lock, tokens, keys32, amounts, keys32, st.integers(1, tx.MAX_AMOUNT), keys32),
    st.builds(tx.Claim, keys32),
    st.builds(tx.Refund, keys32),
    st.builds(tx.Open, keys32, st.integers(0, tx.MAX_TIER), keys32, st.lists(keys32, max_size=3).map(tuple)),
    st.builds(tx.Mint, tokens, keys32, amounts, keys32),
    st.builds(tx.Burn, tokens, amounts, keys32),
)


@given(bodies, st.integers(1, tx.MAX_NONCE))
def test_every_transaction_decodes_to_what_was_signed(body: tx.Body, nonce: int) -> None:
    signed = tx.sign(ALICE, PLATFORM, nonce, body)
    decoded = tx.decode(signed.wire)
    assert decoded == signed and decoded.signatures_valid()


@given(amounts, amounts, st.integers(1, tx.MAX_NONCE))
def test_a_swap_carries_both_signatures(amount: int, counter_amount: int, counter_nonce: int) -> None:
    proposal = tx.sign(
        ALICE, PLATFORM, 1, tx.Swap("RUBD", amount, BOB.public_key, "VOIL", counter_amount, counter_nonce)
    )
    both = tx.countersign(BOB, proposal)
    assert tx.decode(both.wire) == both and both.signatures_valid()
    assert not proposal.signatures_valid()


def test_a_claim_travels_with_its_preimage_outside_the_signed_bytes() -> None:
    claim = tx.sign(BOB, PLATFORM, 1, tx.Claim(bytes(32)), preimage=b"secret")
    assert b"secret" in claim.wire and b"secret" not in claim.signed_bytes
    assert tx.decode(claim.wire).preimage == b"secret"


@settings(max_examples=500)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_are_refused_as_a_format_error_or_decode_exactly(data: bytes) -> None:
    try:
        decoded = tx.decode(data)
    except tx.TxFormatError:
        return
    assert decoded.wire == data


@settings(max_examples=500)
@given(bodies, st.data())
def test_a_changed_byte_is_refused_or_breaks_the_signature(body: tx.Body, data: st.DataObject) -> None:
    wire = bytearray(tx.sign(ALICE, PLATFORM, 7, body).wire)
    position = data.draw(st.integers(0, len(wire) - 1))
    wire[position] ^= data.draw(st.integers(1, 255))
    try:
        decoded = tx.decode(bytes(wire))
    except tx.TxFormatError:
        return
    assert not decoded.signatures_valid()


@pytest.mark.parametrize(
    ("wire", "field"),
    [
        (b"XXXX", "magic"),
        (b"CDTX\x02", "version"),
        (b"CDTX\x01\x00", "kind"),
        (b"CDTX\x01\x01\x03ab", "platform"),
        (b"CDTX\x01\x01\x02ab", "platform"),
    ],
)
def test_a_format_error_names_the_field(wire: bytes, field: str) -> None:
    with pytest.raises(tx.TxFormatError) as caught:
        tx.decode(wire)
    assert caught.value.field == field


def test_trailing_bytes_are_refused() -> None:
    signed = tx.sign(ALICE, PLATFORM, 1, tx.Burn("RUBD", 1, bytes(32)))
    with pytest.raises(tx.TxFormatError, match="after the end"):
        tx.decode(signed.wire + b"\x00")


def test_an_amount_of_zero_is_refused() -> None:
    signed = tx.sign(ALICE, PLATFORM, 1, tx.Burn("RUBD", 1, bytes(32)))
    zeroed = signed.canonical[:-40] + bytes(8) + signed.canonical[-32:] + signed.signatures[0]
    with pytest.raises(tx.TxFormatError) as caught:
        tx.decode(zeroed)
    assert caught.value.field == "amount"
