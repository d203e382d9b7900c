"""Primary account numbers: issued with a valid Luhn digit, and kept at rest only sealed.

PCI DSS lets a system store a PAN only if it is unreadable (requirement 3.5) and show it only masked (3.4). So a PAN
lives in the database as a `SealedPan`: an HMAC lookup hash to find the card without decrypting anything, AES-GCM
ciphertext bound to that row, and the masked form for receipts and support screens. Errors and reprs never carry the
full number, because they end up in logs, tracebacks and bug reports.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "PanError",
    "PanVault",
    "SealedPan",
    "check_pan",
    "is_luhn_valid",
    "issue_pan",
    "luhn_check_digit",
    "mask",
]

PAN_LENGTHS = range(16, 20)
BIN_LENGTHS = (6, 8)
SHOWN_HEAD = 6
SHOWN_TAIL = 4
MIN_MASKABLE = 13  # below this, head + tail would show (nearly) everything, so nothing is shown
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16


class PanError(ValueError):
    """A PAN was refused; the message says why and shows the number only masked."""


def _is_digits(text: str) -> bool:
    """`str.isdigit` alone accepts '²' and Arabic-Indic digits, which are not PAN digits."""
    return text.isascii() and text.isdigit()


def _luhn_sum(digits: str, double_rightmost: bool) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if (position % 2 == 0) == double_rightmost:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total


def luhn_check_digit(partial: str) -> str:
    """The digit ISO/IEC 7812 appends so that a single mistyped digit or most swaps are caught before any lookup."""
    if not _is_digits(partial):
        raise ValueError(f"Luhn input must be ASCII digits only (got {len(partial)} characters)")
    return str(-_luhn_sum(partial, double_rightmost=True) % 10)


def is_luhn_valid(pan: str) -> bool:
    """A cheap first filter for typed or transmitted numbers; False (not an error) for anything that is not digits."""
    return len(pan) >= 2 and _is_digits(pan) and _luhn_sum(pan, double_rightmost=False) % 10 == 0


def mask(pan: str) -> str:
    """The PCI DSS display form: BIN and last four, so support can tell cards apart without seeing the number."""
    if len(pan) < MIN_MASKABLE:
        return "*" * len(pan)
    return pan[:SHOWN_HEAD] + "*" * (len(pan) - SHOWN_HEAD - SHOWN_TAIL) + pan[-SHOWN_TAIL:]


def _refuse(pan: str, reason: str) -> PanError:
    return PanError(f"{reason}: {mask(pan)}")


def check_pan(pan: str) -> str:
    """Return the PAN unchanged, or refuse it before it reaches storage, a key or a network message."""
    if not _is_digits(pan):
        raise _refuse(pan, "PAN must contain only the digits 0-9")
    if len(pan) not in PAN_LENGTHS:
        raise _refuse(pan, f"PAN must be {PAN_LENGTHS[0]} to {PAN_LENGTHS[-1]} digits long, not {len(pan)}")
    if not is_luhn_valid(pan):
        raise _refuse(pan, "PAN has a wrong Luhn check digit")
    return pan


def issue_pan(bin_: str, account_number: int, length: int = 16) -> str:
    """Build a new card's PAN; refuses rather than truncates, since a truncated account number would collide."""
    if not _is_digits(bin_) or len(bin_) not in BIN_LENGTHS:
        raise PanError(f"BIN must be 6 or 8 ASCII digits (got {len(bin_)} characters)")
    if length not in PAN_LENGTHS:
        raise PanError(f"PAN length must be {PAN_LENGTHS[0]} to {PAN_LENGTHS[-1]}, not {length}")
    width = length - len(bin_) - 1
    if isinstance(account_number, bool) or account_number < 0:
        raise PanError("account number must be a non-negative integer")
    if account_number >= 10**width:
        raise PanError(
            f"account number does not fit the {width} digits a {length}-digit PAN leaves after a {len(bin_)}-digit BIN"
        )
    partial = f"{bin_}{account_number:0{width}d}"
    return partial + luhn_check_digit(partial)


@dataclass(frozen=True, slots=True)
class SealedPan:
    """A PAN as stored: findable by `lookup`, readable only through a `PanVault` holding `key_id`."""

    lookup: str
    key_id: str
    ciphertext: bytes = field(repr=False)
    masked: str


def _associated_data(lookup: str, key_id: str) -> bytes:
    """Binds a ciphertext to its card and key, so it cannot be pasted into another card's row or relabelled.

    The lookup is fixed-length hex, so the concatenation cannot be read two ways.
    """
    return f"{lookup}:{key_id}".encode()


class PanVault:
    """Seals and opens PANs; holds several keys so old ciphertexts stay readable while they are resealed (rotation)."""

    def __init__(self, lookup_key: bytes, keys: Mapping[str, bytes], current: str) -> None:
        if len(lookup_key) != KEY_BYTES:
            raise ValueError(f"lookup key must be {KEY_BYTES} bytes, got {len(lookup_key)}")
        if not keys:
            raise ValueError("a PAN vault needs at least one encryption key")
        for key_id, key in keys.items():
            _check_key(key_id, key, lookup_key)
        if current not in keys:
            raise ValueError(f"current key id {current!r} is not one of the vault's keys {sorted(keys)}")
        self._lookup_key = bytes(lookup_key)
        self._ciphers = {key_id: AESGCM(bytes(key)) for key_id, key in keys.items()}
        self._current = current

    @property
    def current_key_id(self) -> str:
        """The key new seals use; rows under any other key id are due for `reseal`."""
        return self._current

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._ciphers)

    def __repr__(self) -> str:
        return f"PanVault(current={self._current!r}, key_ids={sorted(self._ciphers)})"

    def lookup(self, pan: str) -> str:
        """Keyed, so a stolen table of lookups cannot be reversed by hashing all ~10^9 PANs of a BIN."""
        check_pan(pan)
        return hmac.new(self._lookup_key, pan.encode("ascii"), hashlib.sha256).hexdigest()

    def seal(self, pan: str) -> SealedPan:
        """Encrypt a valid PAN under the current key; a fresh random nonce each time, so equal PANs look unrelated."""
        lookup = self.lookup(pan)
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._current].encrypt(
            nonce, pan.encode("ascii"), _associated_data(lookup, self._current)
        )
        return SealedPan(lookup=lookup, key_id=self._current, ciphertext=nonce + sealed, masked=mask(pan))

    def open(self, sealed: SealedPan) -> str:
        """Decrypt, refusing anything altered: ciphertext, lookup, key id or masked form."""
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise PanError(f"cannot open a sealed PAN: key id {sealed.key_id!r} is not in this vault")
        if len(sealed.ciphertext) < NONCE_BYTES + TAG_BYTES:
            raise PanError(f"cannot open a sealed PAN under key id {sealed.key_id!r}: ciphertext is truncated")
        nonce, body = sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, body, _associated_data(sealed.lookup, sealed.key_id))
        except InvalidTag:
            raise PanError(
                f"cannot open a sealed PAN under key id {sealed.key_id!r}: authentication failed "
                "(ciphertext, lookup or key id altered, or a different key with the same id)"
            ) from None
        pan = plain.decode("ascii")
        if mask(pan) != sealed.masked:
            raise PanError(f"sealed PAN under key id {sealed.key_id!r} does not match its stored masked form")
        return pan

    def reseal(self, sealed: SealedPan) -> SealedPan:
        """Re-encrypt under the current key, one row at a time, so keys rotate without downtime."""
        return self.seal(self.open(sealed))


def _check_key(key_id: str, key: bytes, lookup_key: bytes) -> None:
    if not key_id:
        raise ValueError("key ids must be non-empty strings")
    if len(key) != KEY_BYTES:
        raise ValueError(f"key {key_id!r} must be {KEY_BYTES} bytes (AES-256), got {len(key)}")
    if hmac.compare_digest(key, lookup_key):
        raise ValueError(f"key {key_id!r} is also the lookup key; one key must serve one purpose")
