"""FX quotes (fx/quotes.py): a quote is believed only for the payment, the amounts and the time it was made for, and
only with the provider's signature; its token carries it unchanged from the provider to the converting central bank."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from decimal import Decimal

import pytest

from corridor.fx.quotes import Quote, QuoteError, make_quote
from corridor.money import Money
from corridor.network.identity import SigningKey
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


def test_the_token_is_the_signed_json_and_the_signature_in_base64url() -> None:
    made = quote()
    body, signature = made.token().split(".")
    assert json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["uetr"] == UETR
    assert len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) == 64
    assert made.canonical() == b"corridor-fx-quote-1\n" + base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


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
    forged = Quote.from_token(forged_body.rstrip(b"=").decode() + "." + made.token().split(".")[1])
    assert refusal(forged, buy=forged.buy) == "FF01"


def test_a_quote_changed_after_signing_is_checked_on_its_fields_not_on_the_bytes_it_came_with() -> None:
    made = quote()
    assert refusal(replace(made, expires_ns=made.expires_ns + 10**12)) == "FF01"


def test_a_quote_signed_by_another_key_is_refused_ff01() -> None:
    made = quote()
    assert refusal(replace(made, signature=SigningKey.generate().sign(made.canonical()))) == "FF01"


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "!!!.AAAA", "eyJ9.AAAA", "e30.AAAA", "e30=.AAAA", " e30.AAAA", "e30.A"],
)
def test_a_malformed_token_is_refused_ff01_naming_it(token: str) -> None:
    with pytest.raises(QuoteError, match="FX quote is malformed") as refused:
        Quote.from_token(token)
    assert refused.value.code == "FF01"


def test_the_all_in_rate_is_buy_over_sell_to_ten_decimals() -> None:
    made = quote(sell=Money.parse("1000.00 VES"))
    expected = (Decimal(made.buy.minor) / Decimal(made.sell.minor)).quantize(Decimal("0.0000000001"))
    assert made.rate == expected
