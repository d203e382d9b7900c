"""Specification of corridor.money: integer minor units, ISO 4217 and tokens, exact parsing, rounding."""

from __future__ import annotations

import dataclasses
import operator
import re
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.money import (
    ROUNDING_MODES,
    Currency,
    CurrencyMismatch,
    FloatMoneyError,
    InvalidAmount,
    InvalidCurrency,
    Money,
    MoneyError,
    UnknownCurrency,
    convert,
    currency,
    register_token,
    round_fraction,
)

Rate = str | Decimal | Fraction | int

RUB = currency("RUB")
VES = currency("VES")
JPY = currency("JPY")
BHD = currency("BHD")


# --- the registry: ISO 4217 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "numeric", "exponent"),
    [("RUB", 643, 2), ("VES", 928, 2), ("JPY", 392, 0), ("BHD", 48, 3)],
)
def test_an_iso_currency_is_found_by_alphabetic_code_with_its_number_and_minor_unit(
    code: str, numeric: int, exponent: int
) -> None:
    found = currency(code)
    assert (found.code, found.numeric, found.exponent, found.is_token) == (code, numeric, exponent, False)


@pytest.mark.parametrize(("numeric", "code"), [(643, "RUB"), (928, "VES"), (392, "JPY"), (48, "BHD")])
def test_an_iso_currency_is_found_by_numeric_code(numeric: int, code: str) -> None:
    assert currency(numeric).code == code


def test_a_numeric_code_may_be_given_as_text() -> None:
    assert currency("643") == RUB


def test_alphabetic_lookup_ignores_case_and_surrounding_space() -> None:
    assert currency(" rub ") == RUB


def test_lookups_are_cached_so_one_currency_is_one_record() -> None:
    assert currency("RUB") is currency("rub") is currency(643) is RUB


def test_a_currency_prints_as_its_code() -> None:
    assert str(VES) == "VES"


def test_a_currency_record_carries_its_iso_name() -> None:
    assert RUB.name == "Russian Ruble"


def test_an_unknown_code_is_refused_naming_the_code() -> None:
    expected = "unknown currency 'XYZ': not in ISO 4217 and not a registered token"
    with pytest.raises(UnknownCurrency, match=f"^{re.escape(expected)}$"):
        currency("XYZ")


def test_an_unknown_numeric_code_is_refused() -> None:
    with pytest.raises(UnknownCurrency, match="unknown currency 555"):
        currency(555)


@pytest.mark.parametrize("code", ["XAU", "XDR", 959])
def test_a_currency_without_a_minor_unit_cannot_be_money(code: str | int) -> None:
    with pytest.raises(UnknownCurrency, match="has no minor unit in ISO 4217, so it cannot be used as money"):
        currency(code)


@pytest.mark.parametrize("code", [None, 6.43, True])
def test_a_currency_code_that_is_neither_text_nor_int_is_refused(code: object) -> None:
    with pytest.raises(UnknownCurrency, match="a currency code is text such as 'RUB' or a number such as 6"):
        currency(code)  # type: ignore[arg-type]


def test_a_currency_exponent_must_be_a_whole_number_of_digits() -> None:
    with pytest.raises(InvalidCurrency, match="exponent must be an integer from 0 to 18"):
        Currency("ABC", -1, None, "negative exponent")


# --- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [UnknownCurrency, CurrencyMismatch, InvalidAmount, InvalidCurrency])
def test_every_money_error_is_a_value_error_under_one_base(error: type[Exception]) -> None:
    assert issubclass(error, MoneyError)
    assert issubclass(error, ValueError)


def test_a_float_error_is_a_type_error() -> None:
    assert issubclass(FloatMoneyError, TypeError)


# --- the registry: tokens --------------------------------------------------------------------------------


def test_a_registered_token_parses_with_its_own_precision() -> None:
    oil = register_token("OILB", 8, "Oil-backed token (1 barrel)")
    assert Money.parse("1.00000001 OILB") == Money(100_000_001, oil)


def test_a_registered_token_is_found_by_currency_lookup() -> None:
    token = register_token("DRUB", 2, "Digital rouble")
    assert currency("DRUB") is token
    assert currency("drub") is token
    assert (token.numeric, token.is_token) == (None, True)


def test_registering_the_same_token_again_returns_the_existing_one() -> None:
    first = register_token("STBL", 6, "Stablecoin")
    assert register_token("STBL", 6, "Stablecoin") is first


def test_registering_a_token_again_with_a_different_definition_is_refused() -> None:
    register_token("CBDCX", 2, "A central bank digital currency")
    with pytest.raises(InvalidCurrency, match=r"token CBDCX is already registered as .* with exponent 2"):
        register_token("CBDCX", 4, "A central bank digital currency")


@pytest.mark.parametrize("code", ["RUB", "VES", "XAU"])
def test_a_token_cannot_take_an_iso_4217_code(code: str) -> None:
    with pytest.raises(InvalidCurrency, match=f"{code} is an ISO 4217 code and cannot be registered"):
        register_token(code, 2, "impostor")


@pytest.mark.parametrize("code", ["AB", "ABCDEFGHIJKLM", "oilb", "OIL-B", "1OIL", ""])
def test_a_token_code_must_be_3_to_12_uppercase_letters_or_digits_starting_with_a_letter(code: str) -> None:
    with pytest.raises(InvalidCurrency, match="must be 3 to 12 uppercase letters or digits"):
        register_token(code, 2, "bad code")


@pytest.mark.parametrize("exponent", [-1, 19, True])
def test_a_token_exponent_must_be_an_integer_from_0_to_18(exponent: int) -> None:
    with pytest.raises(InvalidCurrency, match="exponent must be an integer from 0 to 18"):
        register_token("BADEXP", exponent, "bad exponent")


def test_a_token_may_use_every_exponent_from_0_to_18() -> None:
    assert register_token("WHOLE", 0, "indivisible token").exponent == 0
    assert str(Money(1, register_token("WEI18", 18, "fine token"))) == "0.000000000000000001 WEI18"


def test_a_token_needs_a_name() -> None:
    with pytest.raises(InvalidCurrency, match="needs a name"):
        register_token("NONAME", 2, " ")


# --- constructing money ----------------------------------------------------------------------------------


def test_money_is_an_integer_count_of_minor_units_with_its_currency() -> None:
    assert Money.of("1234.56", "RUB") == Money(123456, RUB)


def test_a_float_minor_amount_is_refused_with_a_clear_error() -> None:
    expected = "money must not be a float (got 12.5): pass a decimal string such as '12.50'"
    expected += " or an integer count of minor units"
    with pytest.raises(FloatMoneyError, match=f"^{re.escape(expected)}$"):
        Money(12.5, RUB)  # type: ignore[arg-type]


@pytest.mark.parametrize("minor", [True, "100", Decimal(100)])
def test_a_minor_amount_that_is_not_an_int_is_refused(minor: object) -> None:
    with pytest.raises(InvalidAmount, match="money is an integer count of minor units"):
        Money(minor, RUB)  # type: ignore[arg-type]


def test_money_needs_a_currency_record_not_a_code() -> None:
    with pytest.raises(UnknownCurrency, match=r"money needs a Currency, got 'RUB': use currency\('RUB'\)"):
        Money(100, "RUB")  # type: ignore[arg-type]


def test_money_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Money(1, RUB).minor = 2  # type: ignore[misc]


def test_money_of_takes_the_currency_by_code_number_or_record() -> None:
    assert Money.of("1", "RUB") == Money.of("1", 643) == Money.of("1", RUB) == Money(100, RUB)


def test_an_int_amount_is_in_major_units() -> None:
    assert Money.of(12, "RUB") == Money(1200, RUB)


def test_a_decimal_amount_is_exact() -> None:
    assert Money.of(Decimal("12.30"), "BHD") == Money(12300, BHD)


def test_a_decimal_amount_in_exponent_notation_is_exact() -> None:
    assert Money.of(Decimal("1E+3"), "RUB") == Money(100_000, RUB)


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("1234.56", 123456),
        ("1 234.56", 123456),
        ("1_234.56", 123456),
        ("1\u00a0234.56", 123456),
        ("1 234 567.89", 123456789),
        ("-5", -500),
        ("+5", 500),
        ("0.5", 50),
        ("  7.25  ", 725),
    ],
)
def test_a_decimal_string_amount_is_read_exactly(text: str, minor: int) -> None:
    assert Money.of(text, "RUB").minor == minor


def test_more_decimal_places_than_the_currency_allows_are_refused_not_rounded() -> None:
    with pytest.raises(InvalidAmount, match=r"^1\.234 has 3 decimal places; RUB allows at most 2$"):
        Money.of("1.234", "RUB")


def test_a_decimal_with_too_many_places_is_refused_too() -> None:
    with pytest.raises(InvalidAmount, match=r"0\.001 has 3 decimal places; RUB allows at most 2"):
        Money.of(Decimal("0.001"), "RUB")


def test_a_currency_without_decimals_refuses_any_fraction() -> None:
    with pytest.raises(InvalidAmount, match=r"1\.5 has 1 decimal place; JPY allows at most 0"):
        Money.of("1.5", "JPY")


def test_trailing_zeros_beyond_the_exponent_are_exact_and_accepted() -> None:
    assert Money.of("1.2300", "RUB") == Money(123, RUB)


def test_negative_zero_is_plain_zero() -> None:
    assert Money.of("-0.00", "RUB") == Money.zero("RUB")
    assert str(Money.of("-0.00", "RUB")) == "0.00 RUB"


def test_amounts_beyond_decimal_precision_are_still_exact() -> None:
    text = "12345678901234567890123456789.12"  # 31 digits: Decimal's default context keeps only 28
    assert Money.of(text, "RUB").minor == 1234567890123456789012345678912
    assert Money.of(Decimal(text), "RUB").minor == 1234567890123456789012345678912


GARBAGE_AMOUNTS = ["", "   ", "abc", "1,5", "1.2.3", "NaN", "Infinity", "1e3", ".5", "5.", "--5", "1 2 3"]


@pytest.mark.parametrize("bad", [*GARBAGE_AMOUNTS, "1 234_567", "١٢"])
def test_a_garbage_amount_is_refused_naming_the_input(bad: str) -> None:
    with pytest.raises(InvalidAmount, match=f"^{re.escape(repr(bad))} is not a decimal amount"):
        Money.of(bad, "RUB")


@pytest.mark.parametrize("bad", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), Decimal("sNaN")])
def test_a_nan_or_infinite_decimal_amount_is_refused(bad: Decimal) -> None:
    with pytest.raises(InvalidAmount, match="is not a finite amount"):
        Money.of(bad, "RUB")


@pytest.mark.parametrize("bad", [True, None, [1]])
def test_an_amount_of_another_type_is_refused(bad: object) -> None:
    with pytest.raises(InvalidAmount, match="an amount must be a decimal string, an int or a Decimal"):
        Money.of(bad, "RUB")  # type: ignore[arg-type]


def test_a_float_amount_is_refused_with_a_clear_error() -> None:
    with pytest.raises(FloatMoneyError, match=r"an amount must not be a float \(got 12\.5\)"):
        Money.of(12.5, "RUB")  # type: ignore[arg-type]


def test_an_exponent_bomb_is_refused_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(InvalidAmount, match="too large"):
        Money.of(Decimal("1E+999999999"), "RUB")
    assert time.monotonic() - started < 1


def test_an_endless_digit_string_is_refused_with_a_short_message() -> None:
    with pytest.raises(InvalidAmount, match="too large") as caught:
        Money.of("9" * 5000, "RUB")
    assert len(str(caught.value)) < 200


def test_zero_is_zero_minor_units_of_the_currency() -> None:
    assert Money.zero("JPY") == Money(0, JPY)


# --- parsing and formatting ------------------------------------------------------------------------------


def test_parse_reads_the_amount_then_the_code() -> None:
    assert Money.parse("1 234.56 RUB") == Money(123456, RUB)


def test_parse_reads_the_code_then_the_amount() -> None:
    assert Money.parse("RUB 1234.56") == Money(123456, RUB)


def test_parse_reads_negative_amounts() -> None:
    assert Money.parse("-1 234.56 VES") == Money(-123456, VES)


def test_parse_reads_lowercase_codes() -> None:
    assert Money.parse("5 jpy") == Money(5, JPY)


@pytest.mark.parametrize("text", ["1234.56", "RUB", "", "1234.56RUB"])
def test_parse_refuses_text_without_both_an_amount_and_a_code(text: str) -> None:
    with pytest.raises(InvalidAmount, match="is not money: expected an amount and a code"):
        Money.parse(text)


def test_parse_refuses_an_unknown_code() -> None:
    with pytest.raises(UnknownCurrency, match="unknown currency 'ABC'"):
        Money.parse("5 ABC")


def test_parse_refuses_more_decimals_than_the_currency_allows() -> None:
    with pytest.raises(InvalidAmount, match="has 3 decimal places; RUB allows at most 2"):
        Money.parse("1.234 RUB")


def test_parse_refuses_a_float() -> None:
    with pytest.raises(FloatMoneyError, match="money must not be a float"):
        Money.parse(12.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("minor", "code", "text"),
    [
        (123456, "RUB", "1 234.56 RUB"),
        (-123456, "RUB", "-1 234.56 RUB"),
        (5, "RUB", "0.05 RUB"),
        (-5, "RUB", "-0.05 RUB"),
        (0, "RUB", "0.00 RUB"),
        (123456789, "VES", "1 234 567.89 VES"),
        (1234, "JPY", "1 234 JPY"),
        (-1234567, "JPY", "-1 234 567 JPY"),
        (1, "BHD", "0.001 BHD"),
        (1234567, "BHD", "1 234.567 BHD"),
    ],
)
def test_money_prints_grouped_with_every_decimal_and_the_code(minor: int, code: str, text: str) -> None:
    assert str(Money(minor, currency(code))) == text


def test_format_amount_leaves_out_the_code() -> None:
    assert Money(-123456, RUB).format_amount() == "-1 234.56"


@pytest.mark.parametrize(
    ("minor", "code", "major"),
    [(123456, "RUB", "1234.56"), (-5, "RUB", "-0.05"), (1234, "JPY", "1234"), (1, "BHD", "0.001")],
)
def test_to_decimal_gives_exact_major_units(minor: int, code: str, major: str) -> None:
    value = Money(minor, currency(code)).to_decimal()
    assert value == Decimal(major)
    assert str(value) == major


def test_to_decimal_is_exact_beyond_decimal_precision() -> None:
    minor = 1234567890123456789012345678912
    assert str(Money(minor, RUB).to_decimal()) == "12345678901234567890123456789.12"


# --- arithmetic ------------------------------------------------------------------------------------------


def test_money_of_one_currency_adds() -> None:
    assert Money.of("1.50", "RUB") + Money.of("2.75", "RUB") == Money.of("4.25", "RUB")


def test_money_of_one_currency_subtracts() -> None:
    assert Money.of("1.50", "RUB") - Money.of("2.75", "RUB") == Money.of("-1.25", "RUB")


def test_adding_different_currencies_is_refused_naming_both() -> None:
    with pytest.raises(CurrencyMismatch, match="cannot add RUB and VES"):
        Money.of("1", "RUB") + Money.of("1", "VES")


def test_subtracting_different_currencies_is_refused_naming_both() -> None:
    with pytest.raises(CurrencyMismatch, match="cannot subtract VES and RUB"):
        Money.of("1", "VES") - Money.of("1", "RUB")


def test_adding_a_plain_number_to_money_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot add Money and int"):
        Money.of("1", "RUB") + 1


def test_adding_a_float_to_money_is_refused_as_a_float() -> None:
    with pytest.raises(FloatMoneyError):
        Money.of("1", "RUB") + 0.5


def test_negation_flips_the_sign() -> None:
    assert -Money(150, RUB) == Money(-150, RUB)


def test_abs_drops_the_sign() -> None:
    assert abs(Money(-150, RUB)) == Money(150, RUB)


def test_money_multiplies_by_an_int_on_either_side() -> None:
    assert Money(150, RUB) * 3 == 3 * Money(150, RUB) == Money(450, RUB)


def test_multiplying_money_by_a_float_is_refused_on_either_side() -> None:
    with pytest.raises(FloatMoneyError, match="a multiplier of money must not be a float"):
        Money(150, RUB) * 1.5
    with pytest.raises(FloatMoneyError, match="a multiplier of money must not be a float"):
        1.5 * Money(150, RUB)


@pytest.mark.parametrize("factor", [Decimal("1.5"), Fraction(3, 2), True])
def test_multiplying_money_by_anything_but_an_int_is_refused(factor: object) -> None:
    with pytest.raises(TypeError, match="money can be multiplied by an int only"):
        Money(150, RUB) * factor


def test_money_of_one_currency_compares_by_amount() -> None:
    small, large = Money(1, RUB), Money(2, RUB)
    assert small < large
    assert small <= large
    assert large > small
    assert large >= small
    assert small <= Money(1, RUB) <= small


@pytest.mark.parametrize("compare", [operator.lt, operator.le, operator.gt, operator.ge])
def test_comparing_different_currencies_is_refused(compare: Callable[[Money, Money], bool]) -> None:
    with pytest.raises(CurrencyMismatch, match="cannot compare RUB and VES"):
        compare(Money(1, RUB), Money(1, VES))


def test_equality_is_structural() -> None:
    assert Money(100, RUB) == Money.of("1", "RUB")
    assert hash(Money(100, RUB)) == hash(Money.of("1", "RUB"))
    assert Money(100, RUB) != Money(100, VES)
    plain_number: object = 100
    assert Money(100, RUB) != plain_number


# --- allocation ------------------------------------------------------------------------------------------


def test_allocation_gives_leftover_minor_units_to_the_first_parts_on_a_tie() -> None:
    parts = Money.of("100.00", "RUB").allocate([1, 1, 1])
    assert [p.minor for p in parts] == [3334, 3333, 3333]


def test_allocation_gives_leftover_minor_units_to_the_largest_remainders() -> None:
    # exact shares 33.33... and 66.66...: the second is nearer to rounding up, so it gets the kopeck
    assert [p.minor for p in Money(100, RUB).allocate([1, 2])] == [33, 67]


def test_allocation_never_gives_anything_to_a_zero_ratio() -> None:
    assert [p.minor for p in Money(1, RUB).allocate([0, 1, 1])] == [0, 1, 0]


def test_allocating_negative_money_mirrors_positive_money() -> None:
    assert [p.minor for p in Money(-100, RUB).allocate([1, 1, 1])] == [-34, -33, -33]


def test_allocation_keeps_the_currency() -> None:
    assert {p.currency for p in Money(100, VES).allocate([1, 2])} == {VES}


@pytest.mark.parametrize("ratios", [[], [0, 0], [-1, 2], [True, 1], ["1"]])
def test_allocation_refuses_ratios_that_do_not_split(ratios: list[int]) -> None:
    with pytest.raises(InvalidAmount, match="ratios must be non-negative integers with a positive sum"):
        Money(100, RUB).allocate(ratios)


def test_allocation_refuses_float_ratios() -> None:
    with pytest.raises(FloatMoneyError, match="a ratio must not be a float"):
        Money(100, RUB).allocate([0.5, 0.5])  # type: ignore[list-item]


# --- rounding --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(5, 2), 2),
        (Fraction(7, 2), 4),
        (Fraction(-5, 2), -2),
        (Fraction(-7, 2), -4),
        (Fraction(1, 2), 0),
        (Fraction(3, 2), 2),
    ],
)
def test_half_even_sends_ties_to_the_even_neighbour(value: Fraction, rounded: int) -> None:
    assert round_fraction(value) == rounded


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (Fraction(13, 5), 3),
        (Fraction(12, 5), 2),
        (Fraction(-13, 5), -3),
    ],
)
def test_half_even_sends_non_ties_to_the_nearest_integer(value: Fraction, rounded: int) -> None:
    assert round_fraction(value) == rounded


@pytest.mark.parametrize(
    ("value", "half_even", "half_up", "down", "up", "floor", "ceiling"),
    [
        (Fraction(5, 2), 2, 3, 2, 3, 2, 3),
        (Fraction(7, 2), 4, 4, 3, 4, 3, 4),
        (Fraction(-5, 2), -2, -3, -2, -3, -3, -2),
        (Fraction(26, 10), 3, 3, 2, 3, 2, 3),
        (Fraction(-26, 10), -3, -3, -2, -3, -3, -2),
        (Fraction(24, 10), 2, 2, 2, 3, 2, 3),
        (Fraction(-24, 10), -2, -2, -2, -3, -3, -2),
        (Fraction(3), 3, 3, 3, 3, 3, 3),
        (Fraction(-3), -3, -3, -3, -3, -3, -3),
    ],
)
def test_each_rounding_mode_follows_its_rule(
    value: Fraction, half_even: int, half_up: int, down: int, up: int, floor: int, ceiling: int
) -> None:
    got = [round_fraction(value, mode) for mode in ROUNDING_MODES]
    assert got == [half_even, half_up, down, up, floor, ceiling]


@pytest.mark.parametrize("value", [Fraction(1, 3), Fraction(3)])
def test_an_unknown_rounding_mode_is_refused_even_when_nothing_needs_rounding(value: Fraction) -> None:
    with pytest.raises(ValueError, match="unknown rounding mode 'banker': use one of half_even, half_up"):
        round_fraction(value, "banker")


def test_rounding_a_float_is_refused() -> None:
    with pytest.raises(FloatMoneyError, match="a value to round must not be a float"):
        round_fraction(2.5)  # type: ignore[arg-type]


# --- conversion ------------------------------------------------------------------------------------------


def test_rub_converts_to_ves_at_a_decimal_string_rate() -> None:
    assert convert(Money.of("10 000.00", "RUB"), "2.4875", "VES") == Money.of("24 875.00", "VES")


def test_conversion_rounds_the_exact_product_once() -> None:
    # 1 234.56 RUB * 2.4875 = 3 070.968 VES exactly -> 3 070.97
    assert convert(Money.of("1 234.56", "RUB"), "2.4875", "VES") == Money.of("3 070.97", "VES")


def test_conversion_rounds_half_even_by_default() -> None:
    # 100.00 RUB * 0.45125 = 45.125 VES: a tie, and half-even keeps the even 2
    assert convert(Money.of("100.00", "RUB"), "0.45125", "VES") == Money.of("45.12", "VES")


@pytest.mark.parametrize(
    ("rounding", "positive", "negative"),
    [
        ("half_even", 2, -2),
        ("half_up", 2, -2),
        ("down", 1, -1),
        ("up", 2, -2),
        ("floor", 1, -2),
        ("ceiling", 2, -1),
    ],
)
def test_conversion_rounds_with_the_mode_asked_for(rounding: str, positive: int, negative: int) -> None:
    # 1.00 RUB at 1.5 JPY per rouble is 1.5 yen, which JPY cannot hold
    assert convert(Money.of("1", "RUB"), "1.5", "JPY", rounding).minor == positive
    assert convert(Money.of("-1", "RUB"), "1.5", "JPY", rounding).minor == negative


def test_conversion_into_a_currency_with_more_decimals_is_exact() -> None:
    assert convert(Money.of("1 000", "JPY"), "0.0025", "BHD") == Money.of("2.500", "BHD")


@pytest.mark.parametrize("rate", [Decimal("0.5"), Fraction(1, 2), "0.5", 2])
def test_conversion_accepts_decimal_fraction_string_and_int_rates(rate: Rate) -> None:
    expected = Money(50, VES) if rate != 2 else Money(200, VES)
    assert convert(Money(100, RUB), rate, "VES") == expected


def test_a_fraction_rate_is_exact() -> None:
    assert convert(Money.of("3.00", "RUB"), Fraction(1, 3), "VES") == Money.of("1.00", "VES")


def test_conversion_takes_the_target_by_code_number_or_record() -> None:
    one = Money.of("1", "RUB")
    assert convert(one, "2", "VES") == convert(one, "2", 928) == convert(one, "2", VES) == Money(200, VES)


def test_a_float_rate_is_refused() -> None:
    with pytest.raises(FloatMoneyError, match=r"a rate must not be a float \(got 0\.5\)"):
        convert(Money(100, RUB), 0.5, "VES")  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", ["0", "-1", 0, -2, Decimal("-0.5"), Fraction(0)])
def test_a_rate_that_is_not_positive_is_refused(rate: Rate) -> None:
    with pytest.raises(InvalidAmount, match="a rate must be positive"):
        convert(Money(100, RUB), rate, "VES")


BAD_RATES: list[object] = ["", "abc", "NaN", "Infinity", "1e5", "1/3", "0,5", True]


@pytest.mark.parametrize("rate", [*BAD_RATES, Decimal("NaN"), Decimal("Infinity"), Decimal("1E-999999")])
def test_a_rate_that_is_not_a_finite_decimal_is_refused(rate: Rate) -> None:
    with pytest.raises(InvalidAmount, match="rate"):
        convert(Money(100, RUB), rate, "VES")


def test_conversion_to_an_unknown_currency_is_refused() -> None:
    with pytest.raises(UnknownCurrency, match="unknown currency 'XYZ'"):
        convert(Money(100, RUB), "1", "XYZ")


def test_conversion_with_an_unknown_rounding_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown rounding mode 'nearest'"):
        convert(Money(100, RUB), "1", "VES", rounding="nearest")


# --- properties ------------------------------------------------------------------------------------------

CODES = st.sampled_from(["RUB", "VES", "JPY", "BHD"])
MINOR = st.integers(min_value=-(10**30), max_value=10**30)  # past Decimal's 28 digits on purpose
RATIOS = st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=8).filter(any)


@given(MINOR, CODES)
def test_parsing_what_money_prints_gives_the_same_money(minor: int, code: str) -> None:
    money = Money(minor, currency(code))
    assert Money.parse(str(money)) == money


@given(MINOR, CODES)
def test_money_of_its_own_decimal_gives_the_same_money(minor: int, code: str) -> None:
    money = Money(minor, currency(code))
    assert Money.of(money.to_decimal(), code) == money


@given(MINOR, RATIOS)
def test_allocation_always_sums_to_the_original(minor: int, ratios: list[int]) -> None:
    assert sum(part.minor for part in Money(minor, RUB).allocate(ratios)) == minor


@given(MINOR, RATIOS)
def test_every_allocated_part_is_within_one_minor_unit_of_its_share(minor: int, ratios: list[int]) -> None:
    parts = Money(minor, RUB).allocate(ratios)
    for part, ratio in zip(parts, ratios, strict=True):
        assert abs(part.minor - Fraction(minor * ratio, sum(ratios))) < 1


@given(MINOR, st.sampled_from([("RUB", "VES"), ("VES", "RUB"), ("RUB", "RUB"), ("JPY", "JPY")]))
def test_rate_one_between_equal_exponents_changes_nothing(minor: int, pair: tuple[str, str]) -> None:
    source, target = pair
    assert convert(Money(minor, currency(source)), "1", target) == Money(minor, currency(target))


@given(st.fractions())
def test_half_even_is_within_half_a_unit_of_the_exact_value(value: Fraction) -> None:
    assert abs(round_fraction(value) - value) <= Fraction(1, 2)


@given(st.fractions(), st.sampled_from(ROUNDING_MODES))
def test_every_mode_lands_on_an_integer_next_to_the_exact_value(value: Fraction, mode: str) -> None:
    rounded = round_fraction(value, mode)
    assert abs(rounded - value) < 1


@given(st.fractions())
def test_directed_modes_round_the_way_they_are_named(value: Fraction) -> None:
    assert round_fraction(value, "floor") <= value <= round_fraction(value, "ceiling")
    assert abs(round_fraction(value, "down")) <= abs(value) <= abs(round_fraction(value, "up"))
