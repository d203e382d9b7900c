"""Specification of corridor.digital.pricefeed: signed commodity quotes, the feed that believes them only from trusted
signers, fresh and in order, and the exact valuation of a commodity-backed token in local money."""

from __future__ import annotations

import decimal
import json
from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.digital.pricefeed import (
    DOMAIN_TAG,
    MAX_PAIRS_PER_SIGNER,
    MAX_PRICE_MINOR,
    MAX_SCALE,
    NS_PER_S,
    PriceFeed,
    PriceFeedError,
    PriceQuote,
    Reason,
    sign_quote,
    value_of,
)
from corridor.money import Money, currency, register_token
from corridor.network.identity import SigningKey

VOIL = register_token("VOIL", 4, "Oil-backed token (illustrative)")
BACKING = {"VOIL": "BRENT"}
NOW = 1_767_225_600 * NS_PER_S  # 2026-01-01T00:00:00Z
KEY = SigningKey.from_seed(bytes(range(32)))
OTHER_KEYS = [SigningKey.from_seed(bytes([n]) * 32) for n in range(1, 5)]


def quote(key: SigningKey = KEY, **fields: Any) -> PriceQuote:
    terms: dict[str, Any] = {
        "commodity": "BRENT",
        "currency": "RUB",
        "price_minor": 712_345,
        "scale": 0,
        "observed_at_ns": NOW,
        "valid_for_s": 300,
        "sequence": 42,
    } | fields
    return sign_quote(key, **terms)


def refusal(feed: PriceFeed, made: PriceQuote, now_ns: int = NOW) -> Reason:
    with pytest.raises(PriceFeedError) as refused:
        feed.accept(made, now_ns)
    return refused.value.reason


# --- the signed record ------------------------------------------------------------------------------------------


def test_a_signed_quote_verifies_and_a_feed_trusting_its_signer_accepts_it() -> None:
    made = quote()
    assert made.verify()
    feed = PriceFeed([KEY.public_key])
    feed.accept(made, NOW)
    assert feed.latest("BRENT", "RUB", NOW) == made


def test_the_canonical_bytes_and_signature_are_the_documented_test_vector() -> None:
    made = quote()
    assert (
        made.canonical_bytes()
        == bytes.fromhex(
            "636f727269646f722f70726963652d71756f74652f763100"  # b"corridor/price-quote/v1\0"
            "05" + b"BRENT".hex() + "03" + b"RUB".hex() + "00000000000000000000000000"
            "0ade99"  # price_minor 712345, 16 bytes
            "00"  # scale
            "18867251edfa0000"  # observed_at_ns 1767225600000000000
            "0000012c"  # valid_for_s 300
            "000000000000002a"  # sequence 42
            "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"  # signer
        )
    )
    assert made.canonical_bytes().startswith(DOMAIN_TAG)
    assert made.signature.hex() == (
        "f837a847c1904008642c6f9c9494471c7225d4ce8af45b43bc0ddcc74b66d9d3"
        "79a688f502b016752797d132f98eb44c08d23451926244cba95a21bf24995a04"
    )


CHANGES: dict[str, Any] = {
    "commodity": "URALS",
    "currency": "VES",
    "price_minor": 712_346,
    "scale": 1,
    "observed_at_ns": NOW + 1,
    "valid_for_s": 301,
    "sequence": 43,
    "signer": OTHER_KEYS[0].public_key,
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_changing_any_signed_field_breaks_the_signature(name: str) -> None:
    made = quote()
    changed = replace(made, **{name: CHANGES[name]})
    assert changed.canonical_bytes() != made.canonical_bytes()
    assert not changed.verify()


def test_a_changed_signature_does_not_verify() -> None:
    made = quote()
    flipped = bytes([made.signature[0] ^ 1]) + made.signature[1:]
    assert not replace(made, signature=flipped).verify()


def test_commodity_names_differing_only_in_where_the_length_ends_have_different_canonical_bytes() -> None:
    # length prefixes keep ("AB", "CRUB"-like) splits apart: the encoding is injective
    assert quote(commodity="BRENTR").canonical_bytes() != quote(commodity="BRENT").canonical_bytes()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("commodity", "brent"),
        ("commodity", ""),
        ("commodity", "A" * 17),
        ("commodity", "BRÉNT"),
        ("currency", "rub"),
        ("currency", "643"),
        ("currency", "VOIL"),
        ("currency", "XAU"),
        ("currency", "ZZZ"),
        ("price_minor", 0),
        ("price_minor", 7123.45),
        ("price_minor", decimal.Decimal("712345")),
        ("price_minor", True),
        ("price_minor", MAX_PRICE_MINOR + 1),
        ("scale", MAX_SCALE + 1),
        ("scale", -1),
        ("observed_at_ns", -1),
        ("valid_for_s", 0),
        ("valid_for_s", 7 * 86_400 + 1),
        ("sequence", 2**64),
    ],
)
def test_a_quote_with_an_impossible_field_is_refused_naming_the_field(name: str, value: Any) -> None:
    with pytest.raises(PriceFeedError) as refused:
        quote(**{name: value})
    assert refused.value.reason is Reason.MALFORMED
    assert refused.value.field == name
    assert name in str(refused.value)


def test_the_price_reads_as_exact_major_units_including_sub_minor_places() -> None:
    assert str(quote(price_minor=7_123_456_789, scale=4).price) == "7123.456789"
    assert str(quote(currency="JPY", price_minor=12_345, scale=0).price) == "12345"


# --- the feed: who, when, in what order -------------------------------------------------------------------------


def test_a_quote_from_an_unknown_signer_is_refused() -> None:
    feed = PriceFeed([KEY.public_key])
    assert refusal(feed, quote(OTHER_KEYS[0])) is Reason.UNKNOWN_SIGNER


def test_a_quote_with_a_bad_signature_is_refused() -> None:
    feed = PriceFeed([KEY.public_key])
    assert refusal(feed, replace(quote(), price_minor=1)) is Reason.BAD_SIGNATURE


def test_a_quote_is_usable_up_to_and_including_the_last_second_of_its_validity_and_stale_after() -> None:
    made = quote(valid_for_s=300)
    PriceFeed([KEY.public_key]).accept(made, NOW + 300 * NS_PER_S)
    assert refusal(PriceFeed([KEY.public_key]), made, NOW + 300 * NS_PER_S + 1) is Reason.STALE


def test_a_quote_from_the_future_is_refused_beyond_the_allowed_skew_only() -> None:
    feed = PriceFeed([KEY.public_key], max_skew_s=5)
    assert refusal(feed, quote(sequence=1, observed_at_ns=NOW + 5 * NS_PER_S + 1)) is Reason.FROM_FUTURE
    feed.accept(quote(sequence=2, observed_at_ns=NOW + 5 * NS_PER_S), NOW)


def test_a_replayed_quote_is_refused_and_so_is_a_lower_sequence_number() -> None:
    feed = PriceFeed([KEY.public_key])
    feed.accept(quote(sequence=42), NOW)
    assert refusal(feed, quote(sequence=42)) is Reason.REPLAY
    assert refusal(feed, quote(sequence=41, price_minor=1)) is Reason.REPLAY
    assert feed.latest("BRENT", "RUB", NOW).price_minor == 712_345


def test_sequence_numbers_rise_per_signer_across_all_its_pairs() -> None:
    feed = PriceFeed([KEY.public_key, OTHER_KEYS[0].public_key])
    feed.accept(quote(sequence=10, currency="RUB"), NOW)
    assert refusal(feed, quote(sequence=9, currency="VES")) is Reason.REPLAY
    feed.accept(quote(OTHER_KEYS[0], sequence=1), NOW)  # another signer counts on its own
    assert feed.last_sequences() == {KEY.public_key: 10, OTHER_KEYS[0].public_key: 1}


def test_a_refused_quote_changes_nothing() -> None:
    feed = PriceFeed([KEY.public_key])
    assert refusal(feed, quote(sequence=100, valid_for_s=1), NOW + 2 * NS_PER_S) is Reason.STALE
    feed.accept(quote(sequence=50), NOW)  # 100 was never recorded as accepted
    assert feed.last_sequences() == {KEY.public_key: 50}


def test_saved_sequences_given_back_to_a_new_feed_still_refuse_the_replay() -> None:
    first = PriceFeed([KEY.public_key])
    first.accept(quote(sequence=42), NOW)
    restarted = PriceFeed([KEY.public_key], last_sequences=first.last_sequences())
    assert refusal(restarted, quote(sequence=42)) is Reason.REPLAY


def test_the_checks_run_signer_then_signature_then_time_then_order() -> None:
    feed = PriceFeed([KEY.public_key])
    feed.accept(quote(sequence=42), NOW)
    old_and_stale = quote(sequence=1, observed_at_ns=NOW - 10**6 * NS_PER_S)
    assert refusal(feed, old_and_stale) is Reason.STALE
    assert refusal(feed, replace(old_and_stale, valid_for_s=999)) is Reason.BAD_SIGNATURE
    assert refusal(feed, quote(OTHER_KEYS[0], sequence=1, observed_at_ns=0)) is Reason.UNKNOWN_SIGNER


def test_a_signer_is_limited_in_how_many_pairs_the_feed_keeps_for_it() -> None:
    feed = PriceFeed([KEY.public_key])
    names = [f"C{n}" for n in range(MAX_PAIRS_PER_SIGNER + 1)]
    for sequence, name in enumerate(names[:-1]):
        feed.accept(quote(sequence=sequence, commodity=name), NOW)
    assert refusal(feed, quote(sequence=len(names), commodity=names[-1])) is Reason.TOO_MANY_PAIRS
    feed.accept(quote(sequence=len(names) + 1, commodity=names[0]), NOW)  # a known pair is still updated


def test_latest_is_refused_when_no_signer_has_a_fresh_quote() -> None:
    feed = PriceFeed([KEY.public_key])
    feed.accept(quote(valid_for_s=60), NOW)
    with pytest.raises(PriceFeedError) as refused:
        feed.latest("BRENT", "RUB", NOW + 61 * NS_PER_S)
    assert refused.value.reason is Reason.NO_QUORUM
    with pytest.raises(PriceFeedError):
        feed.latest("BRENT", "VES", NOW)


def test_latest_is_the_median_of_the_signers_fresh_quotes() -> None:
    keys = [KEY, *OTHER_KEYS[:2]]
    feed = PriceFeed([key.public_key for key in keys], quorum=2)
    for key, price in zip(keys, [700_000, 730_000, 712_345], strict=True):
        feed.accept(quote(key, price_minor=price), NOW)
    median = feed.latest("BRENT", "RUB", NOW)
    assert (median.price_minor, median.signer) == (712_345, OTHER_KEYS[1].public_key)
    assert median.verify()


def test_the_quorum_counts_distinct_signers_with_fresh_quotes() -> None:
    feed = PriceFeed([KEY.public_key, OTHER_KEYS[0].public_key], quorum=2)
    feed.accept(quote(sequence=1, price_minor=1), NOW)
    feed.accept(quote(sequence=2, price_minor=2), NOW)  # the same signer twice is still one signer
    with pytest.raises(PriceFeedError) as refused:
        feed.latest("BRENT", "RUB", NOW)
    assert refused.value.reason is Reason.NO_QUORUM
    feed.accept(quote(OTHER_KEYS[0], sequence=1, price_minor=3, valid_for_s=10), NOW)
    assert feed.latest("BRENT", "RUB", NOW).price_minor == 2  # lower median of {2, 3}: its signer's latest
    with pytest.raises(PriceFeedError):
        feed.latest("BRENT", "RUB", NOW + 11 * NS_PER_S)  # one of the two went stale


def test_the_median_compares_exact_prices_across_scales() -> None:
    keys = [KEY, *OTHER_KEYS[:2]]
    feed = PriceFeed([key.public_key for key in keys])
    # 7 123.45 RUB, 7 123.451 RUB and 7 123.4 RUB per barrel, written at three scales
    for key, (price, scale) in zip(keys, [(712_345, 0), (7_123_451, 1), (71_234_000, 2)], strict=True):
        feed.accept(quote(key, price_minor=price, scale=scale), NOW)
    assert feed.latest("BRENT", "RUB", NOW).exact_price_minor() == Fraction(712_345)


@pytest.mark.parametrize(
    ("trusted", "options"),
    [
        ([], {}),
        ([b"\x00" * 31], {}),
        ([KEY.public_key], {"quorum": 2}),
        ([KEY.public_key], {"quorum": 0}),
        ([KEY.public_key], {"max_skew_s": 301}),
        ([KEY.public_key], {"last_sequences": {OTHER_KEYS[0].public_key: 1}}),
    ],
)
def test_a_feed_is_refused_an_impossible_configuration(trusted: list[bytes], options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PriceFeed(trusted, **options)


# --- valuation ----------------------------------------------------------------------------------------------------


def test_a_token_amount_is_valued_at_the_quote_in_the_currency_minor_units() -> None:
    # 2.5 barrels at 7 123.45 RUB = 17 808.625 RUB -> 17 808.62 (half-even: 2 is even)
    assert value_of(Money.of("2.5", VOIL), quote(), backing=BACKING) == Money.of("17808.62", "RUB")


def test_a_value_ending_in_exactly_half_a_minor_unit_rounds_to_the_even_neighbour() -> None:
    tenth = Money.of("0.1", VOIL)
    assert value_of(tenth, quote(price_minor=712_345), backing=BACKING).minor == 71_234  # 71 234.5 -> even below
    assert value_of(tenth, quote(price_minor=712_355), backing=BACKING).minor == 71_236  # 71 235.5 -> even above
    assert value_of(-tenth, quote(price_minor=712_345), backing=BACKING).minor == -71_234


def test_another_rounding_mode_is_named_by_money_name_or_by_decimal_constant() -> None:
    tenth = Money.of("0.1", VOIL)
    made = quote(price_minor=712_345)
    assert value_of(tenth, made, backing=BACKING, rounding="half_up").minor == 71_235
    assert value_of(tenth, made, backing=BACKING, rounding=decimal.ROUND_HALF_UP).minor == 71_235
    assert value_of(tenth, made, backing=BACKING, rounding=decimal.ROUND_HALF_EVEN).minor == 71_234
    with pytest.raises(PriceFeedError) as refused:
        value_of(tenth, made, backing=BACKING, rounding=decimal.ROUND_HALF_DOWN)
    assert refused.value.field == "rounding"


@pytest.mark.parametrize(
    ("code", "price_minor", "scale", "expected"),
    [
        ("JPY", 12_345, 0, "37035"),  # 3 barrels at 12 345 JPY (no minor unit)
        ("BHD", 30_125, 0, "90.375"),  # 3 barrels at 30.125 BHD (three places)
        ("USD", 823_719, 2, "247.12"),  # 3 barrels at 82.3719 USD (8 237.19 cents): 24 711.57 cents -> 24 712
    ],
)
def test_the_token_and_currency_exponents_are_both_respected(
    code: str, price_minor: int, scale: int, expected: str
) -> None:
    made = quote(currency=code, price_minor=price_minor, scale=scale)
    assert value_of(Money.of(3, VOIL), made, backing=BACKING) == Money.of(expected, code)


@settings(max_examples=300, deadline=None)
@given(
    minor=st.integers(min_value=-(10**40), max_value=10**40),
    price_minor=st.integers(min_value=1, max_value=MAX_PRICE_MINOR),
    scale=st.integers(min_value=0, max_value=MAX_SCALE),
)
def test_value_of_is_the_exact_fraction_rounded_half_even_at_any_size(minor: int, price_minor: int, scale: int) -> None:
    made = replace(quote(), price_minor=price_minor, scale=scale)  # valuation does not look at the signature
    exact = Fraction(minor, 10**VOIL.exponent) * Fraction(price_minor, 10**scale)  # RUB minor units
    assert value_of(Money(minor, VOIL), made, backing=BACKING).minor == round(exact)  # round(Fraction): half-even


def test_a_token_backed_by_another_commodity_is_refused() -> None:
    with pytest.raises(PriceFeedError) as refused:
        value_of(Money.of(1, VOIL), quote(commodity="XAU"), backing=BACKING)
    assert refused.value.reason is Reason.COMMODITY_MISMATCH
    assert "BRENT" in str(refused.value) and "XAU" in str(refused.value)


def test_a_token_missing_from_the_backing_table_or_money_that_is_no_token_is_refused() -> None:
    for amount, backing in [(Money.of(1, VOIL), {}), (Money.of(1, "RUB"), {"RUB": "BRENT"})]:
        with pytest.raises(PriceFeedError) as refused:
            value_of(amount, quote(), backing=backing)
        assert refused.value.reason is Reason.COMMODITY_MISMATCH


def test_the_value_is_money_in_the_quote_currency() -> None:
    valued = value_of(Money.of(1, VOIL), quote(currency="VES", price_minor=2_950_000), backing=BACKING)
    assert valued.currency == currency("VES") and str(valued) == "29 500.00 VES"


# --- JSON ---------------------------------------------------------------------------------------------------------


def test_a_quote_read_back_from_its_json_is_the_same_quote() -> None:
    made = quote(price_minor=MAX_PRICE_MINOR, scale=MAX_SCALE, sequence=2**64 - 1)
    assert PriceQuote.from_json(made.to_json()) == made
    assert PriceQuote.from_json(made.to_json().encode()) == made


def test_the_json_form_writes_wide_integers_as_strings_and_bytes_as_hex() -> None:
    assert json.loads(quote().to_json()) == {
        "format": "corridor/price-quote/v1",
        "commodity": "BRENT",
        "currency": "RUB",
        "price_minor": "712345",
        "scale": 0,
        "observed_at_ns": "1767225600000000000",
        "valid_for_s": 300,
        "sequence": "42",
        "signer": "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
        "signature": quote().signature.hex(),
    }


def document(**changes: Any) -> str:
    fields = json.loads(quote().to_json()) | changes
    return json.dumps({name: value for name, value in fields.items() if value is not DELETE})


DELETE = object()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("format", "corridor/price-quote/v2"),
        ("commodity", 5),
        ("currency", None),
        ("price_minor", 712345),
        ("price_minor", "0712345"),
        ("price_minor", "-1"),
        ("price_minor", "٧١٢"),  # Arabic-Indic digits are digits to str.isdigit, not here
        ("price_minor", "712345.0"),
        ("scale", "0"),
        ("scale", 0.0),
        ("observed_at_ns", 1.767e18),
        ("valid_for_s", True),
        ("sequence", DELETE),
        ("signer", "03 a1"),
        ("signer", "03a1"),
        ("signature", "zz" * 64),
        ("extra", 1),
    ],
)
def test_a_malformed_json_field_is_refused_naming_the_field(name: str, value: object) -> None:
    with pytest.raises(PriceFeedError) as refused:
        PriceQuote.from_json(document(**{name: value}))
    assert (refused.value.reason, refused.value.field) == (Reason.MALFORMED, name)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "null",
        '{"a":NaN}',
        "[" * 5000 + "]" * 5000,
        "[" * 2000,
        document()[:-1] + ',"scale":1}',  # a duplicate key
        " " * 4097,
    ],
)
def test_a_document_that_is_not_one_json_quote_is_refused(text: str) -> None:
    with pytest.raises(PriceFeedError) as refused:
        PriceQuote.from_json(text)
    assert refused.value.reason is Reason.MALFORMED


def test_a_duplicate_key_is_refused_naming_it() -> None:
    with pytest.raises(PriceFeedError) as refused:
        PriceQuote.from_json(document()[:-1] + ',"scale":1}')
    assert refused.value.field == "scale"


@pytest.mark.parametrize("name", ["commodity", "currency", "scale", "price_minor", "signer"])
def test_a_field_nested_as_deep_as_json_allows_is_refused_naming_the_field(name: str) -> None:
    # found by probing: printing such a value in the error raised RecursionError near json's own depth limit
    for depth in range(985, 1000):
        text = document(**{name: "@@"}).replace('"@@"', "[" * depth + "]" * depth)
        with pytest.raises(PriceFeedError) as refused:
            PriceQuote.from_json(text)
        assert refused.value.field in {name, None}


def test_a_huge_integer_given_in_code_is_refused_naming_the_field() -> None:
    with pytest.raises(PriceFeedError) as refused:
        replace(quote(), scale=10**5000)  # repr of an int this long raises ValueError
    assert refused.value.field == "scale"


def test_bytes_that_are_not_utf8_are_refused() -> None:
    with pytest.raises(PriceFeedError):
        PriceQuote.from_json(b"\xff" + document().encode())


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**130), max_value=2**130)
    | st.floats(allow_nan=False, allow_infinity=False)  # JSON has no NaN or Infinity (refused: see above)
    | st.text(max_size=20)
    | st.sampled_from(["", "0", "42", "BRENT", "RUB", "VES", "corridor/price-quote/v1", "00" * 32, "ab" * 64]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def parsed_or_refused(text: str | bytes) -> PriceQuote | None:
    try:
        return PriceQuote.from_json(text)
    except PriceFeedError as refused:
        assert refused.reason is Reason.MALFORMED and str(refused)
        return None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_from_json_of_arbitrary_input_returns_a_quote_or_raises_price_feed_error(data: str | bytes) -> None:
    parsed_or_refused(data)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_from_json_of_arbitrary_json_returns_a_quote_or_raises_price_feed_error(value: Any) -> None:
    parsed_or_refused(json.dumps(value))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([*json.loads(document()), "extra", ""]),
            st.one_of(st.just(DELETE), json_values),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_from_json_of_a_mutated_quote_returns_a_quote_or_raises_naming_a_mutated_field(
    mutations: list[tuple[str, Any]],
) -> None:
    fields = json.loads(document())
    for name, value in mutations:
        if value is DELETE:
            fields.pop(name, None)
        else:
            fields[name] = value
    parsed = parsed_or_refused(json.dumps(fields))
    if parsed is None:
        with pytest.raises(PriceFeedError) as refused:
            PriceQuote.from_json(json.dumps(fields))
        assert refused.value.field in {name for name, _ in mutations}


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_from_json_of_a_quote_with_one_character_changed_returns_a_quote_or_raises_price_feed_error(
    data: st.DataObject,
) -> None:
    text = document()
    at = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    replacement = data.draw(st.characters(codec="utf-8") | st.sampled_from(['"', "{", "}", ",", ":", "\\", "0"]))
    parsed_or_refused(text[:at] + replacement + text[at + 1 :])
