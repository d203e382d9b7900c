"""FX quotes (fx/quotes.py): a quote is believed only for the payment, the amounts and the time it was made for, and
only with the provider's signature; its token carries it unchanged from the provider to the converting central bank."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.fx.quotes import (
    BATCH_MAX,
    Quote,
    QuoteError,
    batch_message,
    make_quote,
    price_quote,
    sign_quotes,
)
from corridor.merkle import leaf_hash
from corridor.money import Money, currency
from corridor.network.identity import SigningKey, verify_signature
from corridor.scenario.model import load_scenario

UETR = "f632d22f-c5b0-4b9b-85eb-905c79666707"
OTHER_UETR = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
NOW = 1_800_000_000 * 10**9
KEY = SigningKey.generate()


def quote(**fixed: Money) -> Quote:
    return make_quote(
        load_scenario().fx,
        KEY,
        quote_id="Q0000000000000001",
        uetr=UETR,
        sell_currency="VES",
        buy_currency="RUB",
        now_ns=NOW,
        **(fixed or {"buy": Money.parse("1250.00 RUB")}),
    )


def check(made: Quote, **changes: object) -> None:
    asked = {"uetr": UETR, "sell": made.sell, "buy": made.buy, "now_ns": NOW + 1} | changes
    made.check(KEY.public_key, **asked)  # type: ignore[arg-type]


def refusal(made: Quote, **changes: object) -> str:
    with pytest.raises(QuoteError) as refused:
        check(made, **changes)
    return refused.value.code


def test_a_quote_read_back_from_its_token_is_the_quote_and_passes_its_check() -> None:
    made = quote()
    read = Quote.from_token(made.token())
    assert read == made
    check(read)
    assert read.token() == made.token()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_token_is_the_signed_json_the_batch_signature_and_the_proof_in_base64url() -> None:
    made = quote()
    body, signature, proof = made.token().split(".")
    assert json.loads(unb64(body))["uetr"] == UETR
    assert made.canonical() == b"corridor-fx-quote-1\n" + unb64(body)
    assert len(unb64(signature)) == 64
    assert unb64(proof) == (0).to_bytes(4, "big") + (1).to_bytes(4, "big")  # alone in its batch: no path


def test_a_quote_alone_is_signed_over_its_leaf_as_the_root_of_a_batch_of_one() -> None:
    made = quote()
    root = leaf_hash(made.canonical())
    assert verify_signature(KEY.public_key, made.signature, batch_message(1, root))


def batch(count: int) -> list[Quote]:
    spec = load_scenario().fx
    return sign_quotes(
        [
            price_quote(
                spec,
                quote_id=f"Q{index:016d}",
                uetr=str(uuid.UUID(int=index + 1)),
                sell_currency="VES",
                buy_currency="RUB",
                now_ns=NOW,
                buy=Money(100_00 + index, currency("RUB")),
            )
            for index in range(count)
        ],
        KEY,
    )


@pytest.mark.parametrize("count", [2, 3, 7, 64])
def test_quotes_signed_together_share_one_signature_and_each_passes_its_check_alone(count: int) -> None:
    made = batch(count)
    assert len({quote.signature for quote in made}) == 1
    for quote_made in made:
        read = Quote.from_token(quote_made.token())
        read.check(KEY.public_key, uetr=read.uetr, sell=read.sell, buy=read.buy, now_ns=NOW + 1)


def test_a_quote_with_another_quotes_proof_of_the_same_batch_is_refused_ff01() -> None:
    first, second, *_ = batch(3)
    swapped = replace(first, proof=second.proof)
    assert refusal(swapped, uetr=first.uetr, sell=first.sell, buy=first.buy) == "FF01"


def test_a_quote_whose_proof_was_cut_lengthened_or_altered_is_refused_ff01() -> None:
    made = batch(5)[2]
    for proof in (made.proof[:-32], made.proof + bytes(32), made.proof[:-1] + bytes([made.proof[-1] ^ 1])):
        assert refusal(replace(made, proof=proof), uetr=made.uetr, sell=made.sell, buy=made.buy) == "FF01"


def test_a_quote_whose_proof_claims_another_batch_size_is_refused_ff01() -> None:
    made = batch(3)[0]
    grown = made.proof[:4] + (4).to_bytes(4, "big") + made.proof[8:]  # the same path fits a tree of 4 (merkle.py)
    assert refusal(replace(made, proof=grown), uetr=made.uetr, sell=made.sell, buy=made.buy) == "FF01"


@pytest.mark.parametrize("count", [0, BATCH_MAX + 1])
def test_a_batch_signs_at_least_one_and_at_most_batch_max_quotes(count: int) -> None:
    with pytest.raises(ValueError, match="a batch signs"):
        sign_quotes([quote()] * count, KEY)


def test_a_quote_for_another_payment_is_refused_ff01() -> None:
    assert refusal(quote(), uetr=OTHER_UETR) == "FF01"


def test_a_quote_for_other_amounts_is_refused_am09() -> None:
    made = quote()
    assert refusal(made, buy=Money.parse("1250.01 RUB")) == "AM09"


def test_an_expired_quote_is_refused_tm01() -> None:
    made = quote()
    assert refusal(made, now_ns=made.expires_ns + 1) == "TM01"


def test_a_quote_whose_signed_fields_were_changed_is_refused_ff01() -> None:
    made = quote()
    fields = json.loads(made.canonical().split(b"\n", 1)[1])
    fields["buy"][0] += 1
    forged_body = base64.urlsafe_b64encode(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode())
    _, signature, proof = made.token().split(".")
    forged = Quote.from_token(forged_body.rstrip(b"=").decode() + "." + signature + "." + proof)
    assert refusal(forged, buy=forged.buy) == "FF01"


def test_a_quote_changed_after_signing_is_checked_on_its_fields_not_on_the_bytes_it_came_with() -> None:
    made = quote()
    assert refusal(replace(made, expires_ns=made.expires_ns + 10**12)) == "FF01"


def test_a_quote_signed_by_another_key_is_refused_ff01() -> None:
    made = quote()
    other = SigningKey.generate().sign(batch_message(1, leaf_hash(made.canonical())))
    assert refusal(replace(made, signature=other)) == "FF01"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b.c",
        "!!!.AAAA.AAAAAAAAAAE",
        "eyJ9.AAAA.AAAAAAAAAAE",
        "e30.AAAA.AAAAAAAAAAE",
        "e30=.AAAA.AAAAAAAAAAE",
        " e30.AAAA.AAAAAAAAAAE",
        "e30.A.AAAAAAAAAAE",
        "e30.AAAA",
        "e30.AAAA.AAAAAAAAAAA",  # index 0 of a batch of 0
        "e30.AAAA.AAAA",  # a proof too short for its index and size
    ],
)
def test_a_malformed_token_is_refused_ff01_naming_it(token: str) -> None:
    with pytest.raises(QuoteError, match="FX quote is malformed") as refused:
        Quote.from_token(token)
    assert refused.value.code == "FF01"


def test_the_all_in_rate_is_buy_over_sell_to_ten_decimals() -> None:
    made = quote(sell=Money.parse("1000.00 VES"))
    expected = (Decimal(made.buy.minor) / Decimal(made.sell.minor)).quantize(Decimal("0.0000000001"))
    assert made.rate == expected


_TOKEN_PARTS = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=. !", max_size=120)


@given(st.one_of(_TOKEN_PARTS, st.builds(lambda a, b, c: f"{a}.{b}.{c}", _TOKEN_PARTS, _TOKEN_PARTS, _TOKEN_PARTS)))
def test_any_text_read_as_a_token_is_a_quote_or_a_quote_error(token: str) -> None:
    try:
        Quote.from_token(token)
    except QuoteError as refused:
        assert refused.code == "FF01"


@given(st.data())
def test_a_real_token_with_a_character_changed_is_refused_or_reads_as_the_same_quote(data: st.DataObject) -> None:
    made = batch(5)[data.draw(st.integers(0, 4))]
    token = made.token()
    at = data.draw(st.integers(0, len(token) - 1))
    edited = token[:at] + data.draw(st.sampled_from("AQgw_-.")) + token[at + 1 :]
    try:
        read = Quote.from_token(edited)
        read.check(KEY.public_key, uetr=made.uetr, sell=made.sell, buy=made.buy, now_ns=NOW + 1)
    except QuoteError:
        return
    assert read == made  # an edit that survives changed nothing signed (a base64 character's unused low bits)
