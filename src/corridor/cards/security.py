"""Card verification at the issuer: CVV2 and PIN, checked with the issuer's keys and never stored.

PCI DSS (requirement 3.3) forbids keeping sensitive authentication data after authorisation, even encrypted: the CVV2
and the PIN (or PIN block) are verified and then forgotten. The issuer therefore stores only what it can recompute
against: nothing for CVV2 (it is derived from the PAN, expiry and the CVK) and the PIN Verification Value (PVV) for
the PIN, which is a one-way function of PAN, PIN and the PVK. PIN blocks arrive encrypted under the zone PIN key
(ZPK) shared with the acquirer side and are decrypted only inside `verify_pin_block`.

The cryptography is psec's (Visa CVV/PVV, ISO 9564 format 0, TDES); this module adds key handling, input checks and
the rule that nothing about a PIN ever leaves a function: not in a return value, an exception, a repr or a log.

Keys rotate by generation (`IssuerKeys.rotated`): a generation is a CVK, a PVK with its PVKI and a ZPK under one key
id (the PAN vault's key id of the same generation, cards/cardkeys.py). New cards get their CVV2 and PVV from the
current generation; a card issued under an earlier one still verifies, because checks try every generation the
issuer still holds, newest first, until the card is re-issued and the old generation retired. Each generation kept
adds one more value a guess may match (a CVV2 is 3 digits), so the old ones are retired once their cards are gone;
an issuer that knows a card's generation (its sealed PAN's key id) checks with that one only (`generation`).
"""

from __future__ import annotations

import hmac
import warnings
from dataclasses import dataclass, field, replace

import psec
from cryptography.utils import CryptographyDeprecationWarning

from corridor.cards.pan import check_pan

# psec 1.3 runs TDES through cryptography's TripleDES, which cryptography has deprecated (it moved to its "decrepit"
# module) and warns about on every call; the keys and results are right, and the warnings would flood the logs of
# every issuer. Silenced for psec's module only; cryptography is pinned below the release that may remove it.
warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning, module=r"psec\.")

__all__ = [
    "IssuerKeys",
    "cvv2",
    "encrypt_pin_block",
    "pvv",
    "verify_cvv2",
    "verify_pin_block",
]

TDES_DOUBLE_LENGTH = 16
PIN_BLOCK_BYTES = 8
CVV2_SERVICE_CODE = "000"  # CVV2 is the magnetic-stripe CVV algorithm run with service code 000
PVV_PIN_LENGTH = 4  # the Visa PVV covers 4-digit PINs only
ISO0_PIN_LENGTHS = range(4, 13)
KCV_BYTES = 3


def _is_digits(text: str, length: int) -> bool:
    return len(text) == length and text.isascii() and text.isdigit()


def _check_tdes_key(name: str, key: bytes) -> None:
    if len(key) != TDES_DOUBLE_LENGTH:
        raise ValueError(f"{name} must be a {TDES_DOUBLE_LENGTH}-byte double-length TDES key, got {len(key)} bytes")
    if key[:8] == key[8:]:
        raise ValueError(f"{name} has two equal halves, which makes it single DES; use a real double-length key")


def _kcv(key: bytes) -> str:
    """The key check value: identifies a key in logs and key ceremonies without revealing it."""
    return psec.des.generate_kcv(key, KCV_BYTES).hex().upper()


@dataclass(frozen=True, slots=True)
class IssuerKeys:
    """One issuer's card keys. Three different keys, because PCI PIN requires each key to serve a single purpose.

    The fields are the current generation's (`key_id`); `previous` holds the generations still honoured for the
    cards issued under them, newest first, each without previous generations of its own."""

    cvk: bytes = field(repr=False)
    pvk: bytes = field(repr=False)
    pvki: str
    zpk: bytes = field(repr=False)
    key_id: str = "k1"
    previous: tuple[IssuerKeys, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        _check_tdes_key("cvk", self.cvk)
        _check_tdes_key("pvk", self.pvk)
        _check_tdes_key("zpk", self.zpk)
        if not _is_digits(self.pvki, 1):
            raise ValueError(f"pvki must be one digit 0-9, got {self.pvki!r}")
        if len({self.cvk, self.pvk, self.zpk}) != 3:
            raise ValueError("cvk, pvk and zpk must be three different keys (one key, one purpose)")
        if not self.key_id:
            raise ValueError("a key generation needs a non-empty key id")
        ids = [self.key_id, *(g.key_id for g in self.previous)]
        if len(set(ids)) != len(ids):
            raise ValueError(f"key ids must be unique across generations, got {ids}")
        if any(g.previous for g in self.previous):
            raise ValueError("a previous generation holds no generations of its own")

    @property
    def generations(self) -> tuple[IssuerKeys, ...]:
        """Every generation honoured, the current one first."""
        return (self, *self.previous) if self.previous else (self,)

    def generation(self, key_id: str) -> IssuerKeys:
        """The single generation `key_id` (KeyError if retired): checks with it try no other generation."""
        for found in self.generations:
            if found.key_id == key_id:
                return replace(found, previous=()) if found.previous else found
        raise KeyError(f"card key generation {key_id!r} is not held (held: {[g.key_id for g in self.generations]})")

    def rotated(self, new: IssuerKeys) -> IssuerKeys:
        """`new` as the current generation, this one (and its previous ones) honoured after it."""
        return replace(new, previous=(replace(self, previous=()), *self.previous))

    def __repr__(self) -> str:
        older = f", previous={[g.key_id for g in self.previous]}" if self.previous else ""
        return (
            f"IssuerKeys(key_id={self.key_id!r}, cvk_kcv={_kcv(self.cvk)!r}, pvk_kcv={_kcv(self.pvk)!r}, "
            f"pvki={self.pvki!r}, zpk_kcv={_kcv(self.zpk)!r}{older})"
        )


def _check_expiry(expiry_yymm: str) -> None:
    if not _is_digits(expiry_yymm, 4) or not 1 <= int(expiry_yymm[2:]) <= 12:
        raise ValueError("expiry must be 4 ASCII digits YYMM with a month 01-12")


def _check_pin(pin: str, lengths: range) -> None:
    """Refuse a malformed PIN saying only what is allowed, never what was given."""
    if not (pin.isascii() and pin.isdigit() and len(pin) in lengths):
        raise ValueError(f"PIN must be {lengths[0]} to {lengths[-1]} ASCII digits")


def cvv2(keys: IssuerKeys, pan: str, expiry_yymm: str) -> str:
    """The value printed on the card: computed at embossing and recomputed at every check, never stored."""
    check_pan(pan)
    _check_expiry(expiry_yymm)
    return psec.cvv.generate_cvv(keys.cvk, pan, expiry_yymm, CVV2_SERVICE_CODE)


def verify_cvv2(keys: IssuerKeys, pan: str, expiry_yymm: str, presented: str) -> bool:
    """False for a wrong or malformed CVV2; constant-time so response timing does not leak matching digits. Any
    generation of `keys` may have made it (a card issued before a rotation)."""
    matched = False
    for generation in keys.generations:
        expected = cvv2(generation, pan, expiry_yymm)
        if not _is_digits(presented, len(expected)):
            return False
        matched |= hmac.compare_digest(expected.encode("ascii"), presented.encode("ascii"))
    return matched


def pvv(keys: IssuerKeys, pan: str, pin: str) -> str:
    """Computed once when the PIN is chosen; the issuer stores this, and forgets the PIN."""
    check_pan(pan)
    _check_pin(pin, range(PVV_PIN_LENGTH, PVV_PIN_LENGTH + 1))
    return psec.pin.generate_visa_pvv(keys.pvk, keys.pvki, pin, pan)


def encrypt_pin_block(keys: IssuerKeys, pan: str, pin: str) -> bytes:
    """What a terminal and acquirer send: an ISO 9564 format 0 block under the ZPK. For simulators and tests."""
    check_pan(pan)
    _check_pin(pin, ISO0_PIN_LENGTHS)
    return psec.des.encrypt_tdes_ecb(keys.zpk, psec.pinblock.encode_pinblock_iso_0(pin, pan))


def _decrypt_pin(keys: IssuerKeys, pan: str, encrypted_pin_block: bytes) -> list[str]:
    """The PIN inside a block under the ZPK of each generation where it is a well-formed format 0 block for this
    PAN (the acquirer side may have moved to the new zone key, or not yet); empty if under none.

    psec's decoding errors quote PIN digits, so they are swallowed here and never re-raised or chained.
    """
    if len(encrypted_pin_block) != PIN_BLOCK_BYTES:
        return []
    pins = []
    for generation in keys.generations:
        try:
            clear = psec.des.decrypt_tdes_ecb(generation.zpk, bytes(encrypted_pin_block))
            pins.append(psec.pinblock.decode_pinblock_iso_0(clear, pan))
        except ValueError:
            continue
    return pins


def verify_pin_block(keys: IssuerKeys, pan: str, encrypted_pin_block: bytes, stored_pvv: str) -> bool:
    """True only if the block holds the PIN behind `stored_pvv`; any malformed block is simply a failed check.

    Raises only for the issuer's own data (a malformed PAN or stored PVV), never because of what the block contains.
    """
    check_pan(pan)
    if not _is_digits(stored_pvv, 4):
        raise ValueError("stored PVV must be 4 ASCII digits")
    matched = False
    for pin in _decrypt_pin(keys, pan, encrypted_pin_block):
        if len(pin) != PVV_PIN_LENGTH:
            continue
        for generation in keys.generations:  # the PVV was made with the PVK of the card's generation
            candidate = psec.pin.generate_visa_pvv(generation.pvk, generation.pvki, pin, pan)
            matched |= hmac.compare_digest(candidate.encode("ascii"), stored_pvv.encode("ascii"))
    return matched
