"""Money: integers of minor units, ISO 4217 currencies, exact parsing, explicit rounding, floats refused."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.money import (
    CurrencyMismatch,
    FloatMoneyError,
    InvalidAmount,
    Money,
    UnknownCurrency,
    convert,
    currency,
    register_token,
    round_fraction,
)


def test_currencies_are_found_by_alphabetic_and_numeric_code():
    assert (currency("RUB").numeric, currency("RUB").exponent) == (643, 2)
    assert currency(928).code == "VES"
    assert currency("jpy").exponent == 0
    assert currency("BHD").exponent == 3


def test_an_unknown_currency_is_named_in_the_error():
    with pytest.raises(UnknownCurrency, match="unknown currency 'XYZ'"):
        currency("XYZ")


def test_a_currency_without_minor_unit_cannot_be_money():
    with pytest.raises(UnknownCurrency, match=r"XAU .* has no minor unit"):
        currency("XAU")


def test_a_token_has_its_own_precision():
    oil = register_token("OILB", 8, "Oil-backed token (1 barrel)")
    assert Money.parse("1.00000001 OILB") == Money(100_000_001, oil)
    assert register_token("OILB", 8, "Oil-backed token (1 barrel)") is not None


def test_a_token_cannot_take_an_iso_code():
    with pytest.raises(UnknownCurrency, match="is an ISO 4217 code"):
        register_token("RUB", 2, "fake rouble")


def test_money_is_parsed_and_formatted_with_grouped_thousands():
    assert str(Money.parse("1 234.56 RUB")) == "1 234.56 RUB"
    assert Money.parse("RUB 1234.5") == Money(123450, currency("RUB"))
    assert str(Money(-123456789, currency("VES"))) == "-1 234 567.89 VES"
    assert str(Money.of("1234", "JPY")) == "1 234 JPY"


def test_more_decimals_than_the_currency_allows_are_refused_not_rounded():
    with pytest.raises(InvalidAmount, match=r"1\.234 has 3 decimal places; RUB allows at most 2"):
        Money.of("1.234", "RUB")


def test_trailing_zeros_beyond_the_exponent_are_exact_and_accepted():
    assert Money.of("1.2300", "RUB").minor == 123


@pytest.mark.parametrize("bad", ["", "abc", "1,5", "1.2.3", "NaN", "Infinity"])
def test_garbage_amounts_are_refused_with_the_input_named(bad):
    with pytest.raises(InvalidAmount):
        Money.of(bad, "RUB")


def test_a_float_is_refused_everywhere():
    rub = currency("RUB")
    with pytest.raises(FloatMoneyError, match="must not be a float"):
        Money(12.5, rub)  # type: ignore[arg-type]
    with pytest.raises(FloatMoneyError):
        Money.of(12.5, "RUB")  # type: ignore[arg-type]
    with pytest.raises(FloatMoneyError):
        Money(1, rub) * 1.5
    with pytest.raises(FloatMoneyError):
        convert(Money(1, rub), 0.5, "VES")  # type: ignore[arg-type]


def test_currencies_do_not_mix():
    with pytest.raises(CurrencyMismatch, match="cannot add RUB and VES"):
        Money.of("1", "RUB") + Money.of("1", "VES")
    with pytest.raises(CurrencyMismatch):
        assert Money.of("1", "RUB") < Money.of("1", "VES")


def test_allocation_keeps_every_minor_unit():
    parts = Money.of("100.00", "RUB").allocate([1, 1, 1])
    assert [p.minor for p in parts] == [3334, 3333, 3333]


@pytest.mark.parametrize(
    ("value", "half_even", "half_up", "down", "up", "floor", "ceiling"),
    [
        (Fraction(5, 2), 2, 3, 2, 3, 2, 3),
        (Fraction(7, 2), 4, 4, 3, 4, 3, 4),
        (Fraction(-5, 2), -2, -3, -2, -3, -3, -2),
        (Fraction(26, 10), 3, 3, 2, 3, 2, 3),
        (Fraction(3), 3, 3, 3, 3, 3, 3),
    ],
)
def test_rounding_modes(value, half_even, half_up, down, up, floor, ceiling):
    got = [round_fraction(value, m) for m in ("half_even", "half_up", "down", "up", "floor", "ceiling")]
    assert got == [half_even, half_up, down, up, floor, ceiling]


def test_an_unknown_rounding_mode_is_refused():
    with pytest.raises(ValueError, match="unknown rounding mode"):
        round_fraction(Fraction(1, 3), "banker")


def test_conversion_rounds_once_half_even():
    # 100.00 RUB at 0.45125 VES per RUB = 45.125 VES -> 45.12 (half-even keeps the even 2)
    assert convert(Money.of("100.00", "RUB"), "0.45125", "VES") == Money.of("45.12", "VES")
    assert convert(Money.of("100.00", "RUB"), "0.45125", "VES", rounding="half_up") == Money.of("45.13", "VES")
    assert convert(Money.of("1", "RUB"), Decimal("0.5"), "JPY") == Money.of("0", "JPY")


CODES = st.sampled_from(["RUB", "VES", "JPY", "BHD"])


@given(st.integers(min_value=-(10**15), max_value=10**15), CODES)
def test_formatting_round_trips(minor, code):
    m = Money(minor, currency(code))
    assert Money.parse(str(m)) == m


@given(st.integers(min_value=-(10**12), max_value=10**12), st.lists(st.integers(0, 50), min_size=1, max_size=6))
def test_allocation_sums_to_the_original(minor, ratios):
    if sum(ratios) == 0:
        ratios = [*ratios[:-1], 1]
    m = Money(minor, currency("RUB"))
    assert sum(p.minor for p in m.allocate(ratios)) == minor


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_conversion_at_rate_one_between_equal_exponents_is_identity(minor):
    assert convert(Money(minor, currency("RUB")), "1", "VES").minor == minor


@given(st.fractions(max_denominator=10**6))
def test_half_even_is_within_half_a_unit(value):
    assert abs(round_fraction(value) - value) <= Fraction(1, 2)
