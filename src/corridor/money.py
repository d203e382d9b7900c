"""Money: an integer count of minor units with its currency, and nothing else.

Why integers: a ledger must add up to the last kopeck, and only integers add up exactly at any size.

Why no floats: a float cannot hold 0.10, so every constructor, operator and rate refuses one with an error
that says what to pass instead. Amounts arrive as decimal strings, Decimals or ints and are checked to need
no more decimal places than the currency has: an amount that would need rounding is refused, never silently
rounded.

Why explicit rounding: the one place a value must be rounded is a conversion at a rate, so there the mode is
an argument (half-even by default, the mode that does not drift one way over many conversions) and the exact
value is computed with Fraction first, so rounding happens once.

Currencies come from ISO 4217 (the `iso4217` package: alphabetic code, numeric code, minor-unit exponent).
Digital tokens (a CBDC, a commodity-backed token, a stablecoin) register their own code and precision and are
then used through the same types.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

import iso4217

__all__ = [
    "ROUNDING_MODES",
    "Currency",
    "CurrencyMismatch",
    "FloatMoneyError",
    "InvalidAmount",
    "InvalidCurrency",
    "Money",
    "MoneyError",
    "UnknownCurrency",
    "convert",
    "currency",
    "register_token",
    "round_fraction",
]

ROUNDING_MODES = ("half_even", "half_up", "down", "up", "floor", "ceiling")

# Tokens may be finer than any ISO currency (18 places covers wei-style units); more only invites mistakes.
_MAX_EXPONENT = 18
# Parsed text and Decimals never need more digits than this; the bound keeps '1E+999999999' from hanging us.
_MAX_DIGITS = 100

_AMOUNT_HINT = "pass a decimal string such as '12.50' or an integer count of minor units"
_RATE_HINT = "pass the rate as a decimal string such as '0.0123', a Decimal or a Fraction"


class MoneyError(ValueError):
    """Base of the errors about money: all are bad input, so all are ValueErrors callers can catch at once."""


class UnknownCurrency(MoneyError):
    """The code names no ISO 4217 currency with a minor unit and no registered token."""


class InvalidCurrency(MoneyError):
    """A currency or token definition is malformed or clashes with one already known."""


class CurrencyMismatch(MoneyError):
    """Two amounts of different currencies met where only one currency makes sense."""


class InvalidAmount(MoneyError):
    """An amount, rate or ratio that cannot be read exactly as money."""


class FloatMoneyError(TypeError):
    """A float was given where money or a rate was expected: its value is already inexact."""


def _refuse_float(value: object, what: str, hint: str = _AMOUNT_HINT) -> None:
    if isinstance(value, float):
        raise FloatMoneyError(f"{what} must not be a float (got {value!r}): {hint}")


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency or token; the exponent is what turns minor units into the amount people read."""

    code: str
    exponent: int
    numeric: int | None
    name: str
    is_token: bool = False

    def __post_init__(self) -> None:
        if type(self.exponent) is not int or not 0 <= self.exponent <= _MAX_EXPONENT:
            raise InvalidCurrency(
                f"{self.code}: exponent must be an integer from 0 to {_MAX_EXPONENT}, got {self.exponent!r}"
            )

    def __str__(self) -> str:
        return self.code


_ISO_CODE_BY_NUMBER: dict[int, str] = {entry.number: entry.code for entry in iso4217.Currency}
_TOKEN_CODE = re.compile(r"[A-Z][A-Z0-9]{2,11}")
_tokens: dict[str, Currency] = {}
_tokens_lock = threading.Lock()


def _is_iso_code(code: str) -> bool:
    try:
        iso4217.Currency(code)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=256)
def _iso_currency(code: str) -> Currency | None:
    """Cached by alphabetic code, so every lookup of one currency returns the same record."""
    try:
        entry = iso4217.Currency(code)
    except ValueError:
        return None
    if entry.exponent is None:
        raise UnknownCurrency(
            f"currency {entry.code} ({entry.currency_name}) has no minor unit in ISO 4217, "
            "so it cannot be used as money"
        )
    return Currency(entry.code, entry.exponent, entry.number, entry.currency_name)


def currency(code: str | int | Currency) -> Currency:
    """Look up an ISO 4217 currency by alphabetic code (any case) or numeric code, or a registered token."""
    if isinstance(code, Currency):
        return code
    if isinstance(code, bool) or not isinstance(code, str | int):
        raise UnknownCurrency(f"a currency code is text such as 'RUB' or a number such as 643, got {code!r}")
    key = code.strip().upper() if isinstance(code, str) else code
    if isinstance(key, str) and key.isdecimal() and key.isascii() and len(key) <= 4:  # int() refuses 4,300 digits
        key = int(key)
    alpha = _ISO_CODE_BY_NUMBER.get(key) if isinstance(key, int) else key
    found = _iso_currency(alpha) if alpha is not None else None
    if found is None and isinstance(key, str):
        found = _tokens.get(key)
    if found is None:
        raise UnknownCurrency(f"unknown currency {code!r}: not in ISO 4217 and not a registered token")
    return found


def register_token(code: str, exponent: int, name: str) -> Currency:
    """Register a digital token with its own precision, so it is parsed and checked like a currency.

    Codes start with a letter so they can never be mistaken for an ISO numeric code; ISO codes are refused
    so a token can never change what 'RUB' means.
    """
    if not isinstance(code, str) or not _TOKEN_CODE.fullmatch(code):
        raise InvalidCurrency(
            f"token code {code!r} must be 3 to 12 uppercase letters or digits, starting with a letter"
        )
    if not isinstance(name, str) or not name.strip():
        raise InvalidCurrency(f"token {code} needs a name, got {name!r}")
    if _is_iso_code(code):
        raise InvalidCurrency(f"{code} is an ISO 4217 code and cannot be registered as a token")
    token = Currency(code, exponent, None, name, is_token=True)
    with _tokens_lock:
        existing = _tokens.setdefault(code, token)
    if existing != token:
        raise InvalidCurrency(
            f"token {code} is already registered as {existing.name!r} with exponent {existing.exponent}"
        )
    return existing


# Groups of three separated by one consistent separator (space, underscore, no-break spaces), or no grouping.
_AMOUNT = re.compile(
    r"(?P<sign>[+-]?)"
    r"(?P<whole>[0-9]{1,3}(?P<sep>[ _\u00a0\u202f])[0-9]{3}(?:(?P=sep)[0-9]{3})*|[0-9]+)"
    r"(?:\.(?P<fraction>[0-9]+))?"
)
_RATE = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


def _short(text: str) -> str:
    """Input as an error shows it: cut short, so a megabyte of garbage does not become the message."""
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]} ({len(text)} characters)"


def _places(count: int) -> str:
    return f"{count} decimal place{'' if count == 1 else 's'}"


def _to_minor(negative: bool, digits: str, places: int, cur: Currency, shown: str) -> int:
    """Exact minor units of sign * digits * 10**-places, refusing any digit the currency cannot hold."""
    significant = digits.lstrip("0")
    kept = significant.rstrip("0")
    if not kept:
        return 0
    places -= len(significant) - len(kept)  # trailing zeros are exact: "1.2300" is 1.23
    if places > cur.exponent:
        raise InvalidAmount(f"{shown} has {_places(places)}; {cur.code} allows at most {cur.exponent}")
    if len(kept) + cur.exponent - places > _MAX_DIGITS:
        raise InvalidAmount(f"{shown} is too large: over {_MAX_DIGITS} digits of {cur.code} minor units")
    scale: int = 10 ** (cur.exponent - places)
    minor = int(kept) * scale
    return -minor if negative else minor


def _minor_of(amount: object, cur: Currency) -> int:
    """Typed `object` because callers without type checks reach here too, and deserve a clear error."""
    _refuse_float(amount, "an amount")
    if isinstance(amount, bool):
        raise InvalidAmount(f"an amount must be a decimal string, an int or a Decimal, got {amount!r}")
    if isinstance(amount, int):
        scale: int = 10**cur.exponent
        return amount * scale
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise InvalidAmount(f"{amount} is not a finite amount")
        sign, digits, exponent = amount.as_tuple()
        assert isinstance(exponent, int)  # finite Decimals have an int exponent
        return _to_minor(bool(sign), "".join(map(str, digits)), -exponent, cur, _short(str(amount)))
    if not isinstance(amount, str):
        kind = type(amount).__name__
        raise InvalidAmount(f"an amount must be a decimal string, an int or a Decimal, got {kind}")
    text = amount.strip()
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise InvalidAmount(
            f"{_short(repr(amount))} is not a decimal amount: expected digits with an optional '.' and "
            "decimals, thousands optionally grouped by spaces or underscores, such as '1 234.56' or '-5'"
        )
    whole = re.sub("[^0-9]", "", match["whole"])
    fraction = match["fraction"] or ""
    return _to_minor(match["sign"] == "-", whole + fraction, len(fraction), cur, _short(text))


def _exact_rate(rate: str | Decimal | Fraction | int) -> Fraction:
    _refuse_float(rate, "a rate", _RATE_HINT)
    if isinstance(rate, bool):
        raise InvalidAmount(f"a rate must be a decimal string, Decimal, Fraction or int, got {rate!r}")
    if isinstance(rate, int | Fraction):
        exact = Fraction(rate)
    elif isinstance(rate, Decimal):
        _, digits, exponent = rate.as_tuple()
        if not isinstance(exponent, int) or max(abs(exponent), len(digits)) > _MAX_DIGITS:
            raise InvalidAmount(f"{rate} is not a usable rate: it must be finite, up to {_MAX_DIGITS} digits")
        exact = Fraction(rate)
    elif isinstance(rate, str) and len(rate) <= _MAX_DIGITS and _RATE.fullmatch(rate.strip()):
        exact = Fraction(rate.strip())
    else:
        raise InvalidAmount(f"{_short(repr(rate))} is not a rate: {_RATE_HINT}")
    if exact <= 0:
        raise InvalidAmount(f"a rate must be positive, got {rate}")
    return exact


_CODE = re.compile(r"[A-Za-z][A-Za-z0-9]{2,11}")


def _text(value: object, what: str) -> str:
    _refuse_float(value, what)
    if not isinstance(value, str):
        raise InvalidAmount(f"{what} must be text such as '1 234.56 RUB', got {value!r}")
    return value


_lookup_currency = currency  # Money.of's parameter is called `currency`, which hides the function


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency as an integer count of its minor units, so sums are exact at any size."""

    minor: int
    currency: Currency

    def __post_init__(self) -> None:
        _refuse_float(self.minor, "money")
        if type(self.minor) is not int:
            raise InvalidAmount(
                f"money is an integer count of minor units, got {type(self.minor).__name__} ({self.minor!r})"
            )
        if not isinstance(self.currency, Currency):
            raise UnknownCurrency(f"money needs a Currency, got {self.currency!r}: use currency('RUB')")

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str | int | Currency) -> Money:
        """Money from major units, as people write it: Money.of("1 234.56", "RUB") is 123456 kopecks."""
        cur = _lookup_currency(currency)
        return cls(_minor_of(amount, cur), cur)

    @classmethod
    def parse(cls, text: str) -> Money:
        """Read what str() writes, "1 234.56 RUB", and the code-first form "RUB 1234.56"."""
        written = _text(text, "money").strip()
        # Split at whitespace, not with a pattern: `(.+?)\s+(code)` backtracked over a run of spaces, seconds for a
        # few thousand of them (found by tests/fuzz). The code last, as str() writes it, else first.
        parts = written.rsplit(None, 1)
        if len(parts) == 2 and _CODE.fullmatch(parts[1]):
            amount, code = parts
        else:
            parts = written.split(None, 1)
            if len(parts) != 2 or not _CODE.fullmatch(parts[0]):
                raise InvalidAmount(
                    f"{_short(repr(text))} is not money: expected an amount and a code, such as '1 234.56 RUB'"
                )
            code, amount = parts
        return cls.of(amount, code)

    @classmethod
    def zero(cls, currency: str | int | Currency) -> Money:
        return cls(0, _lookup_currency(currency))

    def to_decimal(self) -> Decimal:
        """Exact major units; built from digits, because Decimal arithmetic would round past 28 digits."""
        return Decimal((int(self.minor < 0), tuple(map(int, str(abs(self.minor)))), -self.currency.exponent))

    def format_amount(self) -> str:
        """Major units with space-grouped thousands and every decimal shown, so 5 kopecks read '0.05'."""
        exponent = self.currency.exponent
        sign = "-" if self.minor < 0 else ""
        whole, fraction = divmod(abs(self.minor), 10**exponent)
        grouped = f"{whole:,}".replace(",", " ")
        return f"{sign}{grouped}.{fraction:0{exponent}d}" if exponent else f"{sign}{grouped}"

    def __str__(self) -> str:
        return f"{self.format_amount()} {self.currency.code}"

    def _same(self, other: object, op: str) -> Money:
        if not isinstance(other, Money):
            _refuse_float(other, "money")
            raise TypeError(f"cannot {op} Money and {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot {op} {self.currency.code} and {other.currency.code}")
        return other

    def __add__(self, other: object) -> Money:
        return Money(self.minor + self._same(other, "add").minor, self.currency)

    def __sub__(self, other: object) -> Money:
        return Money(self.minor - self._same(other, "subtract").minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, factor: object) -> Money:
        _refuse_float(factor, "a multiplier of money", "multiply by an int, or use convert() for a rate")
        if type(factor) is not int:
            raise TypeError(f"money can be multiplied by an int only, got {type(factor).__name__}")
        return Money(self.minor * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: object) -> bool:
        return self.minor < self._same(other, "compare").minor

    def __le__(self, other: object) -> bool:
        return self.minor <= self._same(other, "compare").minor

    def __gt__(self, other: object) -> bool:
        return self.minor > self._same(other, "compare").minor

    def __ge__(self, other: object) -> bool:
        return self.minor >= self._same(other, "compare").minor

    def allocate(self, ratios: Sequence[int]) -> list[Money]:
        """Split by integer ratios so the parts sum to the whole, each within a minor unit of its share.

        Largest remainder: every part gets the floor of its exact share, then the minor units left over go to
        the parts with the largest remainders, the first parts winning ties. A zero ratio never gets anything.
        """
        for ratio in ratios:
            _refuse_float(ratio, "a ratio", "pass integer ratios such as [1, 2]")
        if not ratios or any(type(r) is not int or r < 0 for r in ratios) or sum(ratios) == 0:
            raise InvalidAmount(f"ratios must be non-negative integers with a positive sum, got {ratios!r}")
        total = sum(ratios)
        whole = abs(self.minor)
        shares = [divmod(whole * ratio, total) for ratio in ratios]
        parts = [floor for floor, _ in shares]
        by_remainder = sorted(range(len(shares)), key=lambda i: -shares[i][1])  # stable: ties keep order
        for i in by_remainder[: whole - sum(parts)]:
            parts[i] += 1
        sign = -1 if self.minor < 0 else 1
        return [Money(sign * part, self.currency) for part in parts]


def _check_rounding(rounding: str) -> None:
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {rounding!r}: use one of {', '.join(ROUNDING_MODES)}")


def round_fraction(value: Fraction, rounding: str = "half_even") -> int:
    """Round an exact value to an integer with a named mode, so every rounding in the system is visible.

    half_even sends ties to the even neighbour (2.5 -> 2, 3.5 -> 4, -2.5 -> -2) so ties do not drift one way;
    half_up sends ties away from zero; down and up go toward and away from zero; floor and ceiling go toward
    minus and plus infinity.
    """
    _check_rounding(rounding)
    _refuse_float(value, "a value to round", "pass a Fraction")
    exact = Fraction(value)
    floor, remainder = divmod(exact.numerator, exact.denominator)
    if remainder == 0 or rounding == "floor":
        return floor
    away_from_zero = floor + 1 if floor >= 0 else floor  # a non-integer is negative exactly when floor < 0
    if rounding == "ceiling":
        return floor + 1
    if rounding == "down":
        return floor + 1 if floor < 0 else floor
    if rounding == "up":
        return away_from_zero
    twice = 2 * remainder
    if twice != exact.denominator:
        return floor + 1 if twice > exact.denominator else floor
    return floor + floor % 2 if rounding == "half_even" else away_from_zero


def convert(
    money: Money, rate: str | Decimal | Fraction | int, to: Currency | str | int, rounding: str = "half_even"
) -> Money:
    """Convert at `rate` units of `to` per one major unit of money's currency.

    The product is computed exactly with Fraction and rounded once, with the named mode, to minor units of
    `to`: rounding an intermediate result would let errors pile up.
    """
    _check_rounding(rounding)
    exact_rate = _exact_rate(rate)
    target = currency(to)
    exact = money.minor * exact_rate * Fraction(10) ** (target.exponent - money.currency.exponent)
    return Money(round_fraction(exact, rounding), target)
