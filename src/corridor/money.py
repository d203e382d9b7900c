"""Money: an integer count of minor units with its currency, and nothing else.

Floats cannot hold 0.10 exactly, so a float never becomes money here: every constructor refuses one with an error
that says what to pass instead. Amounts come in as decimal strings (or Decimals, or ints of minor units), are checked
to have no more decimal places than the currency allows (never silently rounded), and leave as integers. The only
place rounding happens is a conversion, and there the mode is an explicit argument (half-even by default).

Currencies come from ISO 4217 (the `iso4217` package: alphabetic code, numeric code, minor-unit exponent); digital
tokens register their own code and precision and are then used through the same types.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

import iso4217


class MoneyError(ValueError):
    """Base of the errors about money: all are bad input, so all are ValueErrors."""


class UnknownCurrency(MoneyError):
    pass


class CurrencyMismatch(MoneyError):
    pass


class InvalidAmount(MoneyError):
    pass


class FloatMoneyError(TypeError):
    """A float was given where money or a rate was expected."""


def _refuse_float(value: object, what: str) -> None:
    if isinstance(value, float):
        raise FloatMoneyError(
            f"{what} must not be a float (got {value!r}): pass a decimal string such as '12.50' "
            "or an integer count of minor units"
        )


@dataclass(frozen=True, slots=True)
class Currency:
    """A currency or token: its code, how many minor-unit digits it has, and its ISO number if it has one."""

    code: str
    exponent: int
    numeric: int | None
    name: str
    is_token: bool = False

    def __str__(self) -> str:
        return self.code


_TOKEN_CODE = re.compile(r"^[A-Z0-9]{3,12}$")
_tokens: dict[str, Currency] = {}
_tokens_lock = threading.Lock()


@lru_cache(maxsize=512)
def _iso(code: str | int) -> Currency | None:
    try:
        entry = iso4217.Currency(code) if isinstance(code, str) else _by_number(code)
    except ValueError:
        return None
    if entry is None:
        return None
    if entry.exponent is None:
        raise UnknownCurrency(
            f"currency {entry.code} ({entry.currency_name}) has no minor unit in ISO 4217 and cannot be used as money"
        )
    return Currency(entry.code, entry.exponent, entry.number, entry.currency_name)


def _by_number(number: int) -> iso4217.Currency | None:
    for entry in iso4217.Currency:
        if entry.number == number:
            return entry
    return None


def currency(code: str | int | Currency) -> Currency:
    """Look up an ISO 4217 currency by alphabetic or numeric code, or a registered token by its code."""
    if isinstance(code, Currency):
        return code
    if isinstance(code, bool) or not isinstance(code, (str, int)):
        raise UnknownCurrency(f"a currency code is a string such as 'RUB' or a number such as 643, got {code!r}")
    key: str | int = code.strip().upper() if isinstance(code, str) else code
    if isinstance(key, str) and key.isdigit():
        key = int(key)
    found = _iso(key)
    if found is not None:
        return found
    if isinstance(key, str) and key in _tokens:
        return _tokens[key]
    raise UnknownCurrency(f"unknown currency {code!r}: not in ISO 4217 and not a registered token")


def register_token(code: str, exponent: int, name: str) -> Currency:
    """Register a digital token (CBDC, commodity-backed token, stablecoin) with its own unit and precision."""
    if not _TOKEN_CODE.match(code):
        raise UnknownCurrency(f"token code {code!r} must be 3 to 12 uppercase letters or digits")
    if type(exponent) is not int or not 0 <= exponent <= 18:
        raise InvalidAmount(f"token {code}: exponent must be an integer from 0 to 18, got {exponent!r}")
    try:
        iso_entry = _iso(code)
    except UnknownCurrency:
        iso_entry = Currency(code, 0, None, "")
    if iso_entry is not None:
        raise UnknownCurrency(f"{code} is an ISO 4217 code and cannot be registered as a token")
    token = Currency(code, exponent, None, name, is_token=True)
    with _tokens_lock:
        existing = _tokens.get(code)
        if existing is not None and existing != token:
            raise UnknownCurrency(f"token {code} is already registered with another definition ({existing})")
        _tokens[code] = token
    return token


_GROUPING = re.compile(r"[\s_\u00a0\u202f]")


def _parse_decimal(amount: str | int | Decimal, cur: Currency) -> int:
    """Major units as given -> exact minor units, refusing any digit the currency cannot hold."""
    _refuse_float(amount, "an amount")
    if isinstance(amount, bool):
        raise InvalidAmount(f"an amount must be a decimal string, an int or a Decimal, got {amount!r}")
    if isinstance(amount, int):
        scale: int = 10**cur.exponent
        return amount * scale
    if isinstance(amount, str):
        text = _GROUPING.sub("", amount)
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            raise InvalidAmount(f"{amount!r} is not a decimal amount (expected digits such as '1 234.56')")
        value = Decimal(text)
    elif isinstance(amount, Decimal):
        if not amount.is_finite():
            raise InvalidAmount(f"{amount!r} is not a finite amount")
        value = amount
    else:
        raise InvalidAmount(f"an amount must be a decimal string, an int or a Decimal, got {type(amount).__name__}")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > cur.exponent and value != value.quantize(Decimal(1).scaleb(-cur.exponent)):
        places = -exponent
        raise InvalidAmount(f"{amount} has {places} decimal places; {cur.code} allows at most {cur.exponent}")
    try:
        return int(value.scaleb(cur.exponent))
    except InvalidOperation as exc:  # pragma: no cover - guarded above
        raise InvalidAmount(f"{amount!r} cannot be represented in {cur.code}") from exc


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency as an integer count of its minor units."""

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
    def of(cls, amount: str | int | Decimal, code: str | int | Currency) -> Money:
        """Money from major units: Money.of("1 234.56", "RUB") is 123456 kopecks."""
        cur = currency(code)
        return cls(_parse_decimal(amount, cur), cur)

    @classmethod
    def parse(cls, text: object) -> Money:
        """Parse "1 234.56 RUB" or "RUB 1234.56"."""
        if not isinstance(text, str):
            _refuse_float(text, "money")
            raise InvalidAmount(f"expected text such as '1 234.56 RUB', got {text!r}")
        match = re.fullmatch(r"\s*([A-Za-z][A-Za-z0-9]{2,11})\s+(.+?)\s*", text) or re.fullmatch(
            r"\s*(.+?)\s+([A-Za-z][A-Za-z0-9]{2,11})\s*", text
        )
        if match is None:
            raise InvalidAmount(f"{text!r} is not money: expected an amount and a currency code, e.g. '1 234.56 RUB'")
        first, second = match.groups()
        code, amount = (first, second) if first[0].isalpha() and not second[0].isalpha() else (second, first)
        return cls.of(amount, code)

    @classmethod
    def zero(cls, code: str | int | Currency) -> Money:
        return cls(0, currency(code))

    def to_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-self.currency.exponent)

    def format_amount(self) -> str:
        """The amount in major units with space-grouped thousands and exactly `exponent` decimals."""
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
        _refuse_float(factor, "a multiplier of money")
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
        """Split by integer ratios without losing a minor unit: the remainder goes to the first parts."""
        if not ratios or any(type(r) is not int or r < 0 for r in ratios) or sum(ratios) == 0:
            raise InvalidAmount(f"ratios must be non-negative integers with a positive sum, got {list(ratios)!r}")
        total = sum(ratios)
        sign = -1 if self.minor < 0 else 1
        parts = [abs(self.minor) * r // total for r in ratios]
        for i in range(abs(self.minor) - sum(parts)):
            parts[i % len(parts)] += 1
        return [Money(sign * p, self.currency) for p in parts]


ROUNDING_MODES = ("half_even", "half_up", "down", "up", "floor", "ceiling")


def round_fraction(value: Fraction, rounding: str = "half_even") -> int:
    """Round an exact value to an integer with the named mode (half_up rounds half away from zero)."""
    floor = value.numerator // value.denominator
    remainder = value - floor
    if remainder == 0:
        return floor
    if rounding == "floor":
        return floor
    if rounding == "ceiling":
        return floor + 1
    if rounding == "down":
        return floor if value > 0 else floor + 1
    if rounding == "up":
        return floor + 1 if value > 0 else floor
    half = Fraction(1, 2)
    if rounding == "half_even":
        if remainder != half:
            return floor + (remainder > half)
        return floor if floor % 2 == 0 else floor + 1
    if rounding == "half_up":
        if remainder != half:
            return floor + (remainder > half)
        return floor + 1 if value > 0 else floor
    raise ValueError(f"unknown rounding mode {rounding!r}: use one of {', '.join(ROUNDING_MODES)}")


def convert(
    money: Money, rate: str | Decimal | Fraction | int, to: Currency | str | int, rounding: str = "half_even"
) -> Money:
    """Convert at `rate` units of `to` per one major unit of money's currency, rounding once, explicitly."""
    _refuse_float(rate, "a rate")
    if isinstance(rate, bool):
        raise InvalidAmount(f"a rate must be a decimal string, Decimal, Fraction or int, got {rate!r}")
    try:
        exact_rate = Fraction(rate) if not isinstance(rate, str) else Fraction(Decimal(rate.strip()))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidAmount(f"{rate!r} is not a rate (expected a decimal such as '0.0123')") from exc
    if exact_rate <= 0:
        raise InvalidAmount(f"a rate must be positive, got {rate}")
    target = currency(to)
    exact = money.minor * exact_rate * Fraction(10) ** (target.exponent - money.currency.exponent)
    return Money(round_fraction(exact, rounding), target)
