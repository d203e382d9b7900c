"""A signed commodity price feed, to say what a commodity-backed token is worth in RUB, VES or any ISO currency.

One oil-backed token unit is one barrel of reference crude; what a holding is worth in local money therefore moves
with the price of a barrel. That price comes from outside the platform (an exchange, a price reporting agency, the
central bank's own desk), so the platform believes it only when a key it trusts signed it, recently, once:

- `PriceQuote` is one signed observation: "at `observed_at_ns`, one unit of `commodity` cost `price_minor` /
  10**`scale` minor units of `currency`, and may be used for `valid_for_s` seconds". The signature covers fixed
  binary canonical bytes (`canonical_bytes`, laid out in docs/price-feed.md), so an independent implementation
  can check it without reproducing anyone's JSON serializer.
- `PriceFeed` accepts quotes from trusted signers only and refuses, each with its `Reason`, a bad signature, an
  unknown signer, a stale quote, a quote from the future and a replayed sequence number. `latest` answers the
  median of the signers' fresh quotes once at least `quorum` distinct signers have one (k of n; k = 1 by default).
- `value_of` turns a token amount into money at a quote, exactly (integers and Fraction) and rounded once with a
  named mode, half-even by default.

The price is an integer count of the currency's minor units per one whole commodity unit, scaled by 10**`scale`
for prices finer than a minor unit (a barrel at 7 123.4567 RUB is 712 345.67 kopecks: price_minor=71234567 with
scale=2). An integer and a power of ten hold any decimal price exactly; no float touches a price or an amount
anywhere here.
"""

from __future__ import annotations

import decimal
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any

from corridor.money import ROUNDING_MODES, Money, MoneyError, currency, round_fraction
from corridor.network.identity import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, SigningKey, verify_signature

__all__ = [
    "DEFAULT_MAX_SKEW_S",
    "DOMAIN_TAG",
    "JSON_FORMAT",
    "MAX_COMMODITY_LENGTH",
    "MAX_JSON_LENGTH",
    "MAX_OBSERVED_AT_NS",
    "MAX_PAIRS_PER_SIGNER",
    "MAX_PRICE_MINOR",
    "MAX_SCALE",
    "MAX_SEQUENCE",
    "MAX_SKEW_LIMIT_S",
    "MAX_TRUSTED_SIGNERS",
    "MAX_VALID_FOR_S",
    "NS_PER_S",
    "PriceFeed",
    "PriceFeedError",
    "PriceQuote",
    "Reason",
    "sign_quote",
    "value_of",
]

DOMAIN_TAG = b"corridor/price-quote/v1\x00"
"""First bytes of what a signer signs: a signature over a price quote can never pass for one over anything else."""
JSON_FORMAT = "corridor/price-quote/v1"
"""The `format` member every JSON quote carries, so a document meant as something else is refused at once."""
NS_PER_S = 1_000_000_000

MAX_COMMODITY_LENGTH = 16
"""A commodity is named by 1 to 16 characters: enough for 'BRENT', 'WTI', 'URALS', 'XAU_LBMA_PM'."""
MAX_PRICE_MINOR = 2**128 - 1
"""The price field is 16 bytes wide: room for hyperinflated currencies at 18 places of sub-minor precision."""
MAX_SCALE = 18
"""Sub-minor precision beyond 18 decimal places means nothing for a valuation and only invites mistakes."""
MAX_OBSERVED_AT_NS = 2**64 - 1
"""observed_at_ns is an unsigned 64-bit count of nanoseconds since 1970 (it lasts until the year 2554)."""
MAX_VALID_FOR_S = 7 * 86_400
"""A quote may be used for a week at most: a daily settlement price over a long holiday, never a stale forever."""
MAX_SEQUENCE = 2**64 - 1
"""Sequence numbers are unsigned 64-bit: a signer publishing a million quotes a second lasts half a million years."""
DEFAULT_MAX_SKEW_S = 5
"""How far ahead of the receiver's clock a quote's observation time may be before it is refused as from the future."""
MAX_SKEW_LIMIT_S = 300
"""A configured skew beyond five minutes would let a signer's misdated quotes outlive their validity unnoticed."""
MAX_TRUSTED_SIGNERS = 64
"""A feed trusts a handful of signers; the bound keeps a misconfiguration from becoming unbounded state."""
MAX_PAIRS_PER_SIGNER = 256
"""(commodity, currency) pairs remembered per signer: a trusted but compromised key cannot grow memory forever."""
MAX_JSON_LENGTH = 4096
"""Characters (bytes, for bytes input) of one JSON quote; a real one is under 500, so anything near this is junk."""

_COMMODITY = re.compile(rf"[A-Z][A-Z0-9_]{{0,{MAX_COMMODITY_LENGTH - 1}}}")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_DECIMAL_DIGITS = re.compile(r"0|[1-9][0-9]{0,38}")  # up to 39 digits: 2**128 - 1 has 39
_HEX = re.compile(r"[0-9a-fA-F]*")

# decimal's constants are accepted too, for the six modes money.round_fraction knows; ROUND_HALF_DOWN and ROUND_05UP
# have no counterpart there and are refused rather than approximated.
_DECIMAL_ROUNDING = {
    decimal.ROUND_HALF_EVEN: "half_even",
    decimal.ROUND_HALF_UP: "half_up",
    decimal.ROUND_DOWN: "down",
    decimal.ROUND_UP: "up",
    decimal.ROUND_FLOOR: "floor",
    decimal.ROUND_CEILING: "ceiling",
}


class Reason(StrEnum):
    """Why a quote, a document or a question was refused: stable codes for logs, metrics and API problems."""

    MALFORMED = "malformed"
    """A field or a whole document cannot be read as a price quote (`PriceFeedError.field` names the field)."""
    UNKNOWN_SIGNER = "unknown_signer"
    """The quote is signed by a key this feed does not trust."""
    BAD_SIGNATURE = "bad_signature"
    """The signature is not the named signer's over the quote's canonical bytes: some field was changed."""
    STALE = "stale"
    """observed_at_ns + valid_for_s is before now: the price is too old to value anything with."""
    FROM_FUTURE = "from_future"
    """observed_at_ns is later than now plus the allowed clock skew: the signer's clock or the quote is wrong."""
    REPLAY = "replay"
    """The sequence number is not above the signer's last accepted one: an old quote sent again, or reordered."""
    TOO_MANY_PAIRS = "too_many_pairs"
    """The signer already has MAX_PAIRS_PER_SIGNER (commodity, currency) pairs in this feed."""
    NO_QUORUM = "no_quorum"
    """Fewer distinct trusted signers than the quorum have a fresh quote for the pair asked about."""
    COMMODITY_MISMATCH = "commodity_mismatch"
    """The amount is not a token backed by the quote's commodity."""


class PriceFeedError(ValueError):
    """A price quote or a question to the feed was refused; `reason` says why, `field` which field (if one)."""

    def __init__(self, message: str, reason: Reason, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


def _short(value: object) -> str:
    """A value as an error shows it: cut short, so a megabyte of junk never becomes the message.

    Containers are described, never printed (repr of a list nested 990 deep raises RecursionError), and so are
    huge integers (repr of one over 4,300 digits raises ValueError): an error message must not fail itself.
    """
    if isinstance(value, list | tuple | dict | set | frozenset):
        return f"a {type(value).__name__} of {len(value)} item{'' if len(value) == 1 else 's'}"
    if isinstance(value, int) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]} ({len(text)} characters)"


def _malformed(name: str, message: str) -> PriceFeedError:
    return PriceFeedError(f"price quote field {_short(name)}: {message}", Reason.MALFORMED, name)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if type(value) is not int:  # bool is an int subclass and float is inexact: both refused by name
        raise _malformed(name, f"must be an integer, got {type(value).__name__} {_short(value)}")
    if not low <= value <= high:
        raise _malformed(name, f"must be from {low} to {high}, got {_short(value)}")


def _check_bytes(name: str, value: object, size: int) -> None:
    if not isinstance(value, bytes) or len(value) != size:
        raise _malformed(name, f"must be {size} bytes, got {type(value).__name__} {_short(value)}")


def _check_currency(value: object) -> None:
    if not isinstance(value, str) or not _CURRENCY_CODE.fullmatch(value):
        raise _malformed("currency", f"must be an ISO 4217 alphabetic code such as 'RUB', got {_short(value)}")
    try:
        found = currency(value)
    except MoneyError as exc:
        raise _malformed("currency", str(exc)) from None
    if found.is_token or found.code != value:
        raise _malformed("currency", f"{value} is not an ISO 4217 currency (quotes are in money, not in tokens)")


@dataclass(frozen=True, slots=True)
class PriceQuote:
    """One signed observation of a commodity's price in one currency; it checks its own fields when built.

    The price of one whole commodity unit is price_minor / 10**scale minor units of `currency`: an integer and a
    power of ten, so any decimal price is held exactly. Build one with `sign_quote` or `from_json`; the signature
    is checked by `verify` (and by `PriceFeed.accept`), not here, so a quote with a wrong signature can still be
    read and refused with a precise reason.
    """

    commodity: str
    """What one unit is: 'BRENT' (one barrel). ASCII: an upper-case letter, then upper-case letters, digits, '_'."""
    currency: str
    """ISO 4217 alphabetic code of the currency the price is in, e.g. 'RUB'; never a token."""
    price_minor: int
    """Price of one whole commodity unit in minor units of `currency`, times 10**scale; 1 to MAX_PRICE_MINOR."""
    scale: int
    """Decimal places below the minor unit carried by price_minor (0 to MAX_SCALE)."""
    observed_at_ns: int
    """When the price was observed: UTC nanoseconds since 1970."""
    valid_for_s: int
    """Seconds after observed_at_ns the quote may still be used (1 to MAX_VALID_FOR_S)."""
    sequence: int
    """The signer's sequence number, above every earlier quote of the same signer (any commodity or currency)."""
    signer: bytes
    """The signer's Ed25519 public key, 32 raw bytes."""
    signature: bytes = field(repr=False)
    """Ed25519 signature by `signer` over `canonical_bytes()`, 64 bytes."""

    def __post_init__(self) -> None:
        if not isinstance(self.commodity, str) or not _COMMODITY.fullmatch(self.commodity):
            raise _malformed(
                "commodity",
                f"must be 1 to {MAX_COMMODITY_LENGTH} ASCII characters, an upper-case letter then upper-case "
                f"letters, digits or '_', got {_short(self.commodity)}",
            )
        _check_currency(self.currency)
        _check_int("price_minor", self.price_minor, 1, MAX_PRICE_MINOR)
        _check_int("scale", self.scale, 0, MAX_SCALE)
        _check_int("observed_at_ns", self.observed_at_ns, 0, MAX_OBSERVED_AT_NS)
        _check_int("valid_for_s", self.valid_for_s, 1, MAX_VALID_FOR_S)
        _check_int("sequence", self.sequence, 0, MAX_SEQUENCE)
        _check_bytes("signer", self.signer, PUBLIC_KEY_BYTES)
        _check_bytes("signature", self.signature, SIGNATURE_BYTES)

    @property
    def expires_at_ns(self) -> int:
        """The last instant (inclusive) the quote may be used: observed_at_ns + valid_for_s seconds."""
        return self.observed_at_ns + self.valid_for_s * NS_PER_S

    @property
    def price(self) -> Decimal:
        """Exact price of one commodity unit in major units of the currency (for display and reports).

        Built from digits, because Decimal arithmetic would round past its context's 28 digits.
        """
        places = self.scale + currency(self.currency).exponent
        return Decimal((0, tuple(map(int, str(self.price_minor))), -places))

    def exact_price_minor(self) -> Fraction:
        """Exact price of one commodity unit in minor units of the currency: what valuation and medians compare."""
        return Fraction(self.price_minor, 10**self.scale)

    def canonical_bytes(self) -> bytes:
        """What the signer signs: the domain tag, then every field but the signature in a fixed binary layout.

        Layout (docs/price-feed.md): strings as a 1-byte length and ASCII, integers big-endian and fixed-width
        (price_minor 16 bytes, scale 1, observed_at_ns 8, valid_for_s 4, sequence 8), then the signer's 32 bytes.
        Fixed widths and length prefixes make the encoding injective: no two quotes share canonical bytes.
        """
        commodity = self.commodity.encode("ascii")
        code = self.currency.encode("ascii")
        return b"".join(
            (
                DOMAIN_TAG,
                len(commodity).to_bytes(1, "big"),
                commodity,
                len(code).to_bytes(1, "big"),
                code,
                self.price_minor.to_bytes(16, "big"),
                self.scale.to_bytes(1, "big"),
                self.observed_at_ns.to_bytes(8, "big"),
                self.valid_for_s.to_bytes(4, "big"),
                self.sequence.to_bytes(8, "big"),
                self.signer,
            )
        )

    def verify(self) -> bool:
        """True when `signature` is `signer`'s over this quote's canonical bytes. Says nothing of trust or age."""
        return verify_signature(self.signer, self.signature, self.canonical_bytes())

    def to_dict(self) -> dict[str, Any]:
        """The JSON object form: bytes as hex, integers that may exceed 2**53 as decimal strings.

        price_minor, observed_at_ns and sequence are strings (as proto3's JSON mapping writes 64-bit integers),
        because a JavaScript reader of a dashboard or API would otherwise round them silently.
        """
        return {
            "format": JSON_FORMAT,
            "commodity": self.commodity,
            "currency": self.currency,
            "price_minor": str(self.price_minor),
            "scale": self.scale,
            "observed_at_ns": str(self.observed_at_ns),
            "valid_for_s": self.valid_for_s,
            "sequence": str(self.sequence),
            "signer": self.signer.hex(),
            "signature": self.signature.hex(),
        }

    def to_json(self) -> str:
        """Compact JSON of `to_dict`; the signature covers the canonical bytes, so the JSON form may vary freely."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, document: object) -> PriceQuote:
        """A quote from its JSON object form (outside input). Raises PriceFeedError (MALFORMED, naming the field)
        for anything else, and never another exception. Does not check the signature: see `verify`."""
        if not isinstance(document, dict):
            raise PriceFeedError(
                f"a price quote is a JSON object, got {type(document).__name__}", Reason.MALFORMED, None
            )
        for name in document:
            if name not in _JSON_FIELDS:
                raise _malformed(str(name), f"is not a price quote field (fields: {', '.join(_JSON_FIELDS)})")
        for name in _JSON_FIELDS:
            if name not in document:
                raise _malformed(name, "is missing")
        if document["format"] != JSON_FORMAT:
            raise _malformed("format", f"must be {JSON_FORMAT!r}, got {_short(document['format'])}")
        return cls(
            commodity=document["commodity"],
            currency=document["currency"],
            price_minor=_json_uint(document, "price_minor"),
            scale=document["scale"],
            observed_at_ns=_json_uint(document, "observed_at_ns"),
            valid_for_s=document["valid_for_s"],
            sequence=_json_uint(document, "sequence"),
            signer=_json_hex(document, "signer"),
            signature=_json_hex(document, "signature"),
        )

    @classmethod
    def from_json(cls, document: str | bytes) -> PriceQuote:
        """A quote from JSON text or UTF-8 bytes (outside input): strict JSON, no duplicate keys, at most
        MAX_JSON_LENGTH long. Raises PriceFeedError for every malformed document, never another exception."""
        if isinstance(document, bytes):
            if len(document) > MAX_JSON_LENGTH:
                raise _too_long(len(document))
            try:
                text = document.decode("utf-8")
            except UnicodeDecodeError:
                raise PriceFeedError("a price quote document is not UTF-8", Reason.MALFORMED, None) from None
        elif isinstance(document, str):
            text = document
        else:
            raise PriceFeedError(
                f"a price quote document is JSON text or bytes, got {type(document).__name__}", Reason.MALFORMED
            )
        if len(text) > MAX_JSON_LENGTH:
            raise _too_long(len(text))
        try:
            parsed = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        except _DuplicateKey as exc:
            raise _malformed(exc.name, "appears more than once") from None
        except (ValueError, RecursionError) as exc:
            raise PriceFeedError(f"a price quote document is not JSON: {exc}", Reason.MALFORMED) from None
        return cls.from_dict(parsed)


_JSON_FIELDS = (
    "format",
    "commodity",
    "currency",
    "price_minor",
    "scale",
    "observed_at_ns",
    "valid_for_s",
    "sequence",
    "signer",
    "signature",
)


class _DuplicateKey(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Two readers of a signed document must see the same values: json would keep the last of duplicate keys,
    another parser the first, so a document with a duplicate key is refused outright."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_long(length: int) -> PriceFeedError:
    return PriceFeedError(
        f"a price quote document is at most {MAX_JSON_LENGTH} long, this one is {length}", Reason.MALFORMED
    )


def _json_uint(document: dict[str, Any], name: str) -> int:
    value = document[name]
    if not isinstance(value, str) or not _DECIMAL_DIGITS.fullmatch(value):
        raise _malformed(name, f"must be a string of decimal digits without leading zeros, got {_short(value)}")
    return int(value)


def _json_hex(document: dict[str, Any], name: str) -> bytes:
    value = document[name]
    if not isinstance(value, str) or len(value) % 2 or not _HEX.fullmatch(value):
        raise _malformed(name, f"must be hexadecimal text, got {_short(value)}")
    return bytes.fromhex(value)


def sign_quote(
    key: SigningKey,
    *,
    commodity: str,
    currency: str,
    price_minor: int,
    scale: int = 0,
    observed_at_ns: int,
    valid_for_s: int,
    sequence: int,
) -> PriceQuote:
    """A quote with every field checked, signed by `key` over its canonical bytes (the signer field is key's)."""
    unsigned = PriceQuote(
        commodity=commodity,
        currency=currency,
        price_minor=price_minor,
        scale=scale,
        observed_at_ns=observed_at_ns,
        valid_for_s=valid_for_s,
        sequence=sequence,
        signer=key.public_key,
        signature=bytes(SIGNATURE_BYTES),
    )
    return replace(unsigned, signature=key.sign(unsigned.canonical_bytes()))


def _check_now(now_ns: object) -> int:
    if type(now_ns) is not int or now_ns < 0:
        raise TypeError(f"now_ns is a non-negative integer count of nanoseconds since 1970, got {_short(now_ns)}")
    return now_ns


class PriceFeed:
    """The quotes a platform believes: trusted signers only, fresh, in order; answered as a median of k of n.

    Acceptance checks run in this order, and the first failing one is the error's reason: UNKNOWN_SIGNER,
    BAD_SIGNATURE, FROM_FUTURE, STALE, REPLAY, TOO_MANY_PAIRS. The signature is checked before anything about time
    or order, so only a genuine quote can be called stale or replayed. A refused quote changes nothing.

    Each signer's sequence numbers rise across all its quotes; the feed keeps, per signer, the last accepted number
    and its latest quote per (commodity, currency). The state is in memory: a node that restarts should pass the
    `last_sequences()` it saved back to the constructor, or a still-fresh older quote could be replayed once.

    Safe to share between threads (one lock around each call).
    """

    def __init__(
        self,
        trusted: Iterable[bytes],
        *,
        quorum: int = 1,
        max_skew_s: int = DEFAULT_MAX_SKEW_S,
        last_sequences: Mapping[bytes, int] | None = None,
    ) -> None:
        signers = frozenset(trusted)
        for key in signers:
            if not isinstance(key, bytes) or len(key) != PUBLIC_KEY_BYTES:
                raise ValueError(f"a trusted signer is a {PUBLIC_KEY_BYTES}-byte Ed25519 public key, got {_short(key)}")
        if not 1 <= len(signers) <= MAX_TRUSTED_SIGNERS:
            raise ValueError(f"a price feed trusts 1 to {MAX_TRUSTED_SIGNERS} signers, got {len(signers)}")
        if type(quorum) is not int or not 1 <= quorum <= len(signers):
            raise ValueError(
                f"quorum must be an integer from 1 to the {len(signers)} trusted signers, got {_short(quorum)}"
            )
        if type(max_skew_s) is not int or not 0 <= max_skew_s <= MAX_SKEW_LIMIT_S:
            raise ValueError(f"max_skew_s must be an integer from 0 to {MAX_SKEW_LIMIT_S}, got {_short(max_skew_s)}")
        self._trusted = signers
        self._quorum = quorum
        self._max_skew_ns = max_skew_s * NS_PER_S
        self._sequences: dict[bytes, int] = {}
        for key, sequence in (last_sequences or {}).items():
            if key not in signers:
                raise ValueError(f"last_sequences names a signer that is not trusted: {_short(key)}")
            if type(sequence) is not int or not 0 <= sequence <= MAX_SEQUENCE:
                raise ValueError(f"a last sequence is an integer from 0 to {MAX_SEQUENCE}, got {_short(sequence)}")
            self._sequences[key] = sequence
        self._quotes: dict[bytes, dict[tuple[str, str], PriceQuote]] = {key: {} for key in signers}
        self._lock = threading.Lock()

    @property
    def trusted(self) -> frozenset[bytes]:
        return self._trusted

    @property
    def quorum(self) -> int:
        return self._quorum

    def last_sequences(self) -> dict[bytes, int]:
        """Each signer's last accepted sequence number: what to save, to refuse replays across a restart."""
        with self._lock:
            return dict(self._sequences)

    def accept(self, quote: PriceQuote, now_ns: int) -> None:
        """Believe `quote` from now on, or raise PriceFeedError with the reason it is refused."""
        if not isinstance(quote, PriceQuote):
            raise TypeError(f"a price feed accepts PriceQuote records, got {type(quote).__name__}")
        now = _check_now(now_ns)
        who = f"quote #{quote.sequence} for {quote.commodity}/{quote.currency}"
        if quote.signer not in self._trusted:
            raise PriceFeedError(
                f"{who} is signed by {quote.signer.hex()[:16]}..., which this feed does not trust",
                Reason.UNKNOWN_SIGNER,
                "signer",
            )
        if not quote.verify():
            raise PriceFeedError(
                f"{who}: the signature is not the signer's over the quote's fields", Reason.BAD_SIGNATURE, "signature"
            )
        if quote.observed_at_ns > now + self._max_skew_ns:
            ahead_ms = (quote.observed_at_ns - now) // 1_000_000
            raise PriceFeedError(
                f"{who} was observed {ahead_ms} ms in the future, beyond the "
                f"{self._max_skew_ns // NS_PER_S} s allowed for clock skew",
                Reason.FROM_FUTURE,
                "observed_at_ns",
            )
        if quote.expires_at_ns < now:
            raise PriceFeedError(
                f"{who} expired {(now - quote.expires_at_ns) // NS_PER_S} s ago "
                f"(observed at {quote.observed_at_ns} ns, valid for {quote.valid_for_s} s)",
                Reason.STALE,
                "observed_at_ns",
            )
        pair = (quote.commodity, quote.currency)
        with self._lock:
            last = self._sequences.get(quote.signer)
            if last is not None and quote.sequence <= last:
                raise PriceFeedError(
                    f"{who}: sequence {quote.sequence} is not above the signer's last accepted {last}",
                    Reason.REPLAY,
                    "sequence",
                )
            pairs = self._quotes[quote.signer]
            if pair not in pairs and len(pairs) >= MAX_PAIRS_PER_SIGNER:
                raise PriceFeedError(
                    f"{who}: the signer already has quotes for {MAX_PAIRS_PER_SIGNER} pairs, the most a feed keeps",
                    Reason.TOO_MANY_PAIRS,
                    "commodity",
                )
            self._sequences[quote.signer] = quote.sequence
            pairs[pair] = quote

    def fresh(self, commodity: str, currency: str, now_ns: int) -> list[PriceQuote]:
        """Each trusted signer's latest accepted quote for the pair that is still valid at now_ns, cheapest first
        (ties by observation time, then signer key, so the order is the same on every node)."""
        now = _check_now(now_ns)
        with self._lock:
            found = [pairs[(commodity, currency)] for pairs in self._quotes.values() if (commodity, currency) in pairs]
        alive = [quote for quote in found if quote.expires_at_ns >= now]
        return sorted(alive, key=lambda q: (q.exact_price_minor(), q.observed_at_ns, q.signer))

    def latest(self, commodity: str, currency: str, now_ns: int) -> PriceQuote:
        """The quote to value `commodity` in `currency` with at now_ns: the median of the signers' fresh quotes.

        Needs fresh quotes from at least `quorum` distinct trusted signers (NO_QUORUM otherwise). With an even
        number the lower median is taken, so the answer is always one signer's actual signed quote (which anyone
        can check again) and never a price nobody signed; with a single signer it is simply that signer's latest.
        """
        alive = self.fresh(commodity, currency, now_ns)
        if len(alive) < self._quorum:
            raise PriceFeedError(
                f"{commodity}/{currency}: {len(alive)} trusted signer(s) have a fresh quote, {self._quorum} needed",
                Reason.NO_QUORUM,
            )
        return alive[(len(alive) - 1) // 2]


def _rounding_mode(rounding: object) -> str:
    if isinstance(rounding, str):
        if rounding in ROUNDING_MODES:
            return rounding
        if rounding in _DECIMAL_ROUNDING:
            return _DECIMAL_ROUNDING[rounding]
    raise PriceFeedError(
        f"unknown rounding mode {_short(rounding)}: use one of {', '.join(ROUNDING_MODES)} "
        f"(or decimal's {', '.join(_DECIMAL_ROUNDING)})",
        Reason.MALFORMED,
        "rounding",
    )


def value_of(amount: Money, quote: PriceQuote, *, backing: Mapping[str, str], rounding: str = "half_even") -> Money:
    """What `amount` of a commodity-backed token is worth in the quote's currency, rounded once to a minor unit.

    `backing` maps a token code to the commodity one whole token stands for ({"VOIL": "BRENT"}): the platform's
    own table, so an oil quote can never value a gold token. The exact value in minor units of the currency is

        amount.minor * price_minor / 10**(token exponent + scale)

    computed as a Fraction and rounded with `rounding` (money.ROUNDING_MODES, or decimal's ROUND_* constant of the
    same mode); half-even by default, so ties do not drift one way over many valuations. Freshness and trust are
    the feed's business (`PriceFeed.latest`), not this function's.
    """
    mode = _rounding_mode(rounding)
    if not isinstance(amount, Money):
        raise TypeError(f"value_of values Money (a token amount), got {type(amount).__name__}")
    if not isinstance(quote, PriceQuote):
        raise TypeError(f"value_of needs a PriceQuote, got {type(quote).__name__}")
    token = amount.currency
    if not token.is_token:
        raise PriceFeedError(
            f"{token.code} is a currency, not a commodity-backed token", Reason.COMMODITY_MISMATCH, "amount"
        )
    commodity = backing.get(token.code)
    if commodity is None:
        raise PriceFeedError(
            f"token {token.code} is not backed by any commodity in the backing table",
            Reason.COMMODITY_MISMATCH,
            "amount",
        )
    if commodity != quote.commodity:
        raise PriceFeedError(
            f"token {token.code} is backed by {commodity}, the quote prices {quote.commodity}",
            Reason.COMMODITY_MISMATCH,
            "commodity",
        )
    exact = Fraction(amount.minor * quote.price_minor, 10 ** (token.exponent + quote.scale))
    return Money(round_fraction(exact, mode), currency(quote.currency))
