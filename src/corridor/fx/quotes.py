"""FX quotes: a rate with its spread and expiry, signed by the FX provider and locked to one payment's UETR.

The debtor's bank asks for a quote before it sends the payment and carries the signed quote inside the pacs.008
(SplmtryData). The debtor's central bank, which performs the conversion, believes the quote only if the FX
provider's directory key signed it, it names this UETR, this currency pair and these amounts, and it has not
expired. No round trip to the FX provider is needed while the payment is in flight, and no one can reuse a good
quote for another payment or amount.

The provider signs quotes in batches: one Ed25519 signature over the RFC 9162 Merkle root of the quotes it makes
together (a bank's `quote_many`), each quote carrying its inclusion path. Signing and checking were an Ed25519
operation per payment at each end; now the provider signs once per batch and a central bank verifies each batch's
root once (the answer is remembered), while a quote still travels alone and is checked alone.

All arithmetic is exact (integers and Fraction) and every rounding is named: the payer's side is rounded up (the
provider never sells below its quote), the payee's side down.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from corridor.merkle import HASH_SIZE, inclusion_paths, leaf_hash, root_from_path
from corridor.money import Money, currency, round_fraction
from corridor.network.identity import SigningKey, verify_signature
from corridor.scenario.model import FxSpec

BASIS_POINTS = 10_000
_DOMAIN = b"corridor-fx-quote-1\n"
_BATCH_DOMAIN = b"corridor-fx-quote-batch-1\n"
BATCH_MAX = 4096
"""Quotes signed under one root at most: a quote's proof then holds at most 12 hashes (its token stays well under
the 2,048 characters a pacs.008 carries it in)."""
ROOTS_REMEMBERED = 4096
"""Batch signatures a checker remembers the verdict of; a quote of a batch seen before costs hashes, not Ed25519."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Unpadded base64url back to bytes; refuses anything else (ValueError), padding and whitespace included."""
    if not text or len(text) % 4 == 1 or not set(text) <= _B64URL:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class QuoteError(ValueError):
    """A quote cannot be given or cannot be believed; `code` is the ISO status reason to reject a payment with."""

    def __init__(self, message: str, code: str = "FF01") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Quote:
    quote_id: str
    uetr: str
    provider: str
    sell: Money
    """What the payer's bank pays, in its currency, spread included."""
    sell_at_mid: Money
    """The part of `sell` worth `buy` at the mid rate; the rest is the provider's spread."""
    buy: Money
    """What the payee's bank receives, in its currency."""
    mid: str
    """Mid rate, units of the buy currency per one unit of the sell currency, as exact decimal text."""
    spread_bp: int
    issued_ns: int
    expires_ns: int
    signature: bytes = field(default=b"", repr=False)
    """The provider's signature over its batch's root (see `batch_message`)."""
    proof: bytes = field(default=b"", repr=False)
    """Where the quote sits in its batch: index and batch size (4 bytes each, big-endian), then its RFC 9162
    inclusion path (32 bytes a hash)."""
    body: bytes = field(default=b"", repr=False, compare=False)
    """The signed JSON as it came (from signing, or in the token): passing the quote on writes it as it is. Checking
    never trusts it: `check` hashes the fields written again (`canonical`), as it always did."""

    @property
    def spread(self) -> Money:
        return self.sell - self.sell_at_mid

    @property
    def rate(self) -> Decimal:
        """The all-in rate the payer gets (buy per sell), for pacs.008 XchgRate; display only, never for money."""
        bought = self.buy.minor * 10**self.sell.currency.exponent
        sold = self.sell.minor * 10**self.buy.currency.exponent
        return (Decimal(bought) / Decimal(sold)).quantize(Decimal("0.0000000001"))

    def _body(self) -> dict[str, Any]:
        return {
            "quote_id": self.quote_id,
            "uetr": self.uetr,
            "provider": self.provider,
            "sell": [self.sell.minor, self.sell.currency.code],
            "sell_at_mid": [self.sell_at_mid.minor, self.sell_at_mid.currency.code],
            "buy": [self.buy.minor, self.buy.currency.code],
            "mid": self.mid,
            "spread_bp": self.spread_bp,
            "issued_ns": self.issued_ns,
            "expires_ns": self.expires_ns,
        }

    def _written(self) -> bytes:
        return json.dumps(self._body(), sort_keys=True, separators=(",", ":")).encode()

    def canonical(self) -> bytes:
        """The quote's leaf in its batch's tree: a domain line, then the compact JSON of the fields, keys sorted."""
        return _DOMAIN + self._written()

    def token(self) -> str:
        """The quote as one string for a pacs.008's supplementary data: the signed JSON, the batch signature and
        the proof, each in unpadded base64url, joined by dots."""
        return f"{_b64(self.body or self._written())}.{_b64(self.signature)}.{_b64(self.proof)}"

    @classmethod
    def from_token(cls, token: str) -> Quote:
        try:
            body_text, signature_text, proof_text = token.split(".")
            body = _unb64(body_text)
            proof = _unb64(proof_text)
            _read_proof(proof)
            fields = json.loads(body)
            return cls(
                quote_id=str(fields["quote_id"]),
                uetr=str(fields["uetr"]),
                provider=str(fields["provider"]),
                sell=Money(int(fields["sell"][0]), currency(str(fields["sell"][1]))),
                sell_at_mid=Money(int(fields["sell_at_mid"][0]), currency(str(fields["sell_at_mid"][1]))),
                buy=Money(int(fields["buy"][0]), currency(str(fields["buy"][1]))),
                mid=str(fields["mid"]),
                spread_bp=int(fields["spread_bp"]),
                issued_ns=int(fields["issued_ns"]),
                expires_ns=int(fields["expires_ns"]),
                signature=_unb64(signature_text),
                proof=proof,
                body=body,
            )
        except (ValueError, KeyError, TypeError, IndexError, OverflowError, RecursionError) as exc:
            # OverflowError: a float such as 1e999 where an integer belongs; RecursionError: arrays nested deep
            raise QuoteError(f"FX quote is malformed: {type(exc).__name__}") from None

    def check(
        self, provider_key: bytes | tuple[bytes, ...], *, uetr: str, sell: Money, buy: Money, now_ns: int
    ) -> None:
        """Raise QuoteError unless this is the provider's quote for exactly this payment, still valid.

        `provider_key` may be several keys: those the directory believes for the provider during a rotation of its
        key (network/directory.py `verifying_keys`), any of which may have signed a quote still valid."""
        try:
            index, size, path = _read_proof(self.proof)
            root = root_from_path(leaf_hash(self.canonical()), index, size, path)
        except ValueError:
            root, size = b"", 0
        keys = (provider_key,) if isinstance(provider_key, bytes) else provider_key
        message = batch_message(size, root) if root else b""
        if not root or not any(_verify_batch(key, self.signature, message) for key in keys):
            raise QuoteError(f"FX quote {self.quote_id} is not signed by {self.provider}", "FF01")
        if self.uetr != uetr:
            raise QuoteError(f"FX quote {self.quote_id} is locked to another payment (UETR {self.uetr})", "FF01")
        if self.sell != sell or self.buy != buy:
            raise QuoteError(
                f"FX quote {self.quote_id} is for {self.sell} -> {self.buy}, the payment is {sell} -> {buy}", "AM09"
            )
        if now_ns > self.expires_ns:
            raise QuoteError(f"FX quote {self.quote_id} expired before the payment reached the converting bank", "TM01")


def batch_message(size: int, root: bytes) -> bytes:
    """What the provider signs for a batch: a domain line, the number of quotes (4 bytes, big-endian) and the root."""
    return _BATCH_DOMAIN + size.to_bytes(4, "big") + root


_verify_batch = functools.lru_cache(maxsize=ROOTS_REMEMBERED)(verify_signature)
"""verify_signature remembered: a verdict depends on nothing but its three arguments, so asking again is free."""


def _read_proof(proof: bytes) -> tuple[int, int, list[bytes]]:
    if len(proof) < 8 or (len(proof) - 8) % HASH_SIZE:
        raise ValueError("a quote's proof is an index, a size and whole hashes")
    index, size = int.from_bytes(proof[:4], "big"), int.from_bytes(proof[4:8], "big")
    if not 0 <= index < size <= BATCH_MAX:
        raise ValueError(f"a quote's proof places it at {index} of {size}")
    return index, size, [proof[at : at + HASH_SIZE] for at in range(8, len(proof), HASH_SIZE)]


def sign_quotes(quotes: Sequence[Quote], key: SigningKey) -> list[Quote]:
    """The quotes signed together: one signature over the Merkle root of their canonical bytes, each quote given
    the signature and its own proof."""
    if not 1 <= len(quotes) <= BATCH_MAX:
        raise ValueError(f"a batch signs 1 to {BATCH_MAX} quotes, not {len(quotes)}")
    bodies = [quote._written() for quote in quotes]
    root, paths = inclusion_paths([leaf_hash(_DOMAIN + body) for body in bodies])
    size = len(quotes)
    signature = key.sign(batch_message(size, root))
    head = size.to_bytes(4, "big")
    return [
        replace(quote, signature=signature, proof=index.to_bytes(4, "big") + head + b"".join(path), body=body)
        for index, (quote, body, path) in enumerate(zip(quotes, bodies, paths, strict=True))
    ]


def mid_rate(spec: FxSpec, sell: str, buy: str) -> Fraction:
    """Units of `buy` per unit of `sell` from the scenario's mid rates, either way round."""
    return _mid(spec, sell, buy)[0]


@functools.lru_cache(maxsize=256)
def _mid(spec: FxSpec, sell: str, buy: str) -> tuple[Fraction, str]:
    """The mid rate and its decimal text, worked out once per pair (parsing the scenario's text into a Fraction cost
    more than the rest of a quote's arithmetic). The scenario's rates never change while it is loaded."""
    for rate in spec.rates:
        if (rate.base, rate.quote) in ((sell, buy), (buy, sell)):
            mid = Fraction(rate.mid) if (rate.base, rate.quote) == (sell, buy) else 1 / Fraction(rate.mid)
            return mid, str(Decimal(mid.numerator) / Decimal(mid.denominator))
    raise QuoteError(f"no FX rate for {sell}/{buy}", "AM03")


def _minor(value: Fraction, from_exp: int, to_exp: int) -> Fraction:
    return value * Fraction(10) ** (to_exp - from_exp)


def price(
    spec: FxSpec, sell_currency: str, buy_currency: str, *, buy: Money | None = None, sell: Money | None = None
) -> tuple[Money, Money, Money, Fraction]:
    """(sell, sell_at_mid, buy, mid) for a fixed amount on one side; exactly one of buy and sell is given."""
    if (buy is None) == (sell is None):
        raise QuoteError("a quote fixes exactly one side: the amount bought or the amount sold")
    mid = mid_rate(spec, sell_currency, buy_currency)
    sell_cur, buy_cur = currency(sell_currency), currency(buy_currency)
    if buy is not None:
        if buy.currency != buy_cur or buy.minor <= 0:
            raise QuoteError(f"amount to deliver {buy} must be positive {buy_currency}", "AM12")
        at_mid = round_fraction(_minor(buy.minor / mid, buy_cur.exponent, sell_cur.exponent), "ceiling")
        spread = round_fraction(Fraction(at_mid * spec.spread_bp, BASIS_POINTS), "ceiling")
        return Money(at_mid + spread, sell_cur), Money(at_mid, sell_cur), buy, mid
    assert sell is not None
    if sell.currency != sell_cur or sell.minor <= 0:
        raise QuoteError(f"amount to pay {sell} must be positive {sell_currency}", "AM12")
    at_mid = round_fraction(Fraction(sell.minor * BASIS_POINTS, BASIS_POINTS + spec.spread_bp), "floor")
    bought = round_fraction(_minor(at_mid * mid, sell_cur.exponent, buy_cur.exponent), "floor")
    if bought <= 0:
        raise QuoteError(f"{sell} buys nothing at the quoted rate", "AM12")
    return sell, Money(at_mid, sell_cur), Money(bought, buy_cur), mid


def make_quote(spec: FxSpec, key: SigningKey, **terms: Any) -> Quote:
    """One quote priced and signed on its own (a batch of one): `terms` as `price_quote` takes them."""
    return sign_quotes([price_quote(spec, **terms)], key)[0]


def price_quote(
    spec: FxSpec,
    *,
    quote_id: str,
    uetr: str,
    sell_currency: str,
    buy_currency: str,
    now_ns: int,
    buy: Money | None = None,
    sell: Money | None = None,
) -> Quote:
    """A quote priced by the scenario's rate and the provider's spread, not yet signed (`sign_quotes`)."""
    sold, at_mid, bought, _ = price(spec, sell_currency, buy_currency, buy=buy, sell=sell)
    mid_text = _mid(spec, sell_currency, buy_currency)[1]
    return Quote(
        quote_id=quote_id,
        uetr=uetr,
        provider=spec.provider,
        sell=sold,
        sell_at_mid=at_mid,
        buy=bought,
        mid=mid_text,
        spread_bp=spec.spread_bp,
        issued_ns=now_ns,
        expires_ns=now_ns + spec.quote_ttl_s * 1_000_000_000,
    )
