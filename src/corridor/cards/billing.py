"""The scheme's currency arithmetic: its rates, field 10 as ISO 8583 writes a rate, and converting an amount.

Authorization (the switch billing a foreign card) and clearing (pricing a presentment, converting the scheme's net
position between currencies) must compute the same numbers from the same inputs, so both use these: exact
fractions throughout, one rounding (half-even to the target currency's minor unit) at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Final

from corridor.money import Currency, round_fraction
from corridor.scenario.model import FxRate

RATE_DIGITS: Final = 7


def mid_rate(rates: Sequence[FxRate], from_code: str, to_code: str) -> Fraction:
    """Units of `to_code` per unit of `from_code` at the scenario's mid rate (either way round in the file)."""
    for fx in rates:
        if (fx.base, fx.quote) == (from_code, to_code):
            return Fraction(fx.mid)
        if (fx.base, fx.quote) == (to_code, from_code):
            return 1 / Fraction(fx.mid)
    raise ValueError(f"the scheme has no rate from {from_code} to {to_code}")


def convert(amount: int, rate: Fraction, from_currency: Currency, to_currency: Currency) -> int:
    """`amount` minor units of `from_currency` in minor units of `to_currency` at `rate` (major units per major
    unit), rounded half-even."""
    scale = Fraction(10) ** (to_currency.exponent - from_currency.exponent)
    return round_fraction(amount * rate * scale, "half_even")


def rate_of(field10: str) -> Fraction:
    """The rate field 10 says (n8: the count of decimal places, then 7 digits)."""
    if len(field10) != 8 or not (field10.isascii() and field10.isdigit()):
        raise ValueError(f"field 10 must be 8 digits, not {field10!r}")
    return Fraction(int(field10[1:]), 10 ** int(field10[0]))


def conversion_rate(rate: Fraction) -> tuple[str, Fraction]:
    """ISO 8583 field 10 for `rate` (n8: the count of decimal places, then 7 digits), and the rate it says exactly.

    As many decimal places as the rate's whole part leaves room for, the last digit rounded half-even."""
    if rate <= 0:
        raise ValueError("a conversion rate must be positive")
    whole_digits = len(str(int(rate))) if rate >= 1 else 0
    places = RATE_DIGITS - whole_digits
    if places < 0:
        raise ValueError(f"a rate of about {int(rate)} does not fit ISO 8583 field 10")
    places = min(places, 9)
    digits = round_fraction(rate * 10**places, "half_even")
    while digits >= 10**RATE_DIGITS:  # rounding carried into an eighth digit: one place fewer
        places -= 1
        digits = round_fraction(rate * 10**places, "half_even")
    return f"{places}{digits:07d}", Fraction(digits, 10**places)
