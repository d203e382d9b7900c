"""Digital platform transactions: one fixed binary layout per kind, signed over exactly those bytes.

Why a fixed layout rather than JSON or CBOR: the bytes a wallet signs must be the only encoding of what it means, so
that a verifier written elsewhere (from docs/digital.md alone) computes the same id and checks the same signature.
Every field has one width or one length prefix, integers are big-endian, there are no optional fields, and the
decoder refuses trailing bytes, so two different byte strings never decode to the same transaction.

A transaction is `canonical || signature(s)`: the canonical bytes start with a header (magic, version, kind,
platform, signer, nonce) and end with the kind's body. The signer signs `SIGNING_DOMAIN || canonical`; a swap also
carries its counterparty's signature over the same bytes. The transaction id is SHA-256(canonical): what was signed,
not how, so re-encoding a signature cannot make a second id for the same intent. A claim travels with its preimage
after the signatures; the preimage is checked against the lock's hash but is not part of the signed bytes nor of the
block's leaf, so a bill of lading released from escrow is not published in the block (docs/digital.md).
"""

from __future__ import annotations

import enum
import hashlib
import re
import struct
from dataclasses import dataclass, field

from corridor.network.identity import SIGNATURE_BYTES, SigningKey, verify_signature

MAGIC = b"CDTX"
VERSION = 1
SIGNING_DOMAIN = b"corridor/digital-tx/v1\x00"
KEY_BYTES = 32
HASH_BYTES = 32
MAX_AMOUNT = 2**63 - 1
MAX_NONCE = 2**63 - 1
MAX_ALLOWED_RECIPIENTS = 16
MAX_PREIMAGE = 65_536
"""A preimage is an HTLC secret (32 bytes) or a shipping document released from escrow; larger is refused."""
MAX_TX_BYTES = 1_024 + MAX_PREIMAGE
MAX_TIER = 9

_PLATFORM_ID = re.compile(r"[A-Z0-9]{1,16}")
_TOKEN_CODE = re.compile(r"[A-Z][A-Z0-9]{2,11}")
_U64 = struct.Struct(">Q")
_U16 = struct.Struct(">H")
ZERO_REF = bytes(HASH_BYTES)


class Kind(enum.IntEnum):
    """What a transaction does; the number is its byte on the wire."""

    TRANSFER = 1
    LOCK = 2
    """A hash-time-locked transfer: the payee gets it by showing the preimage of `hashlock` before `expires_at`."""
    CLAIM = 3
    REFUND = 4
    SWAP = 5
    """Two legs in one transaction, signed by both parties: both move or neither does."""
    OPEN = 6
    """A bank opens a wallet for a customer it has onboarded, at a KYC tier."""
    MINT = 7
    BURN = 8


class TxFormatError(ValueError):
    """The bytes are not a well-formed transaction; `field` names the part that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Transfer:
    token: str
    to: bytes
    amount: int
    reference: bytes = ZERO_REF
    """32 bytes the payer chooses (an invoice's hash, say); zeros for none."""


@dataclass(frozen=True, slots=True)
class Lock:
    token: str
    to: bytes
    amount: int
    hashlock: bytes
    """SHA-256 of the preimage that releases the lock: an HTLC's secret, or an escrowed document."""
    expires_at: int
    """Unix seconds: from then on the lock can only be refunded to the payer."""
    reference: bytes = ZERO_REF


@dataclass(frozen=True, slots=True)
class Claim:
    lock: bytes
    """The id of the LOCK transaction."""


@dataclass(frozen=True, slots=True)
class Refund:
    lock: bytes


@dataclass(frozen=True, slots=True)
class Swap:
    token: str
    amount: int
    """What the signer gives."""
    counterparty: bytes
    counter_token: str
    counter_amount: int
    """What the counterparty gives."""
    counter_nonce: int


@dataclass(frozen=True, slots=True)
class Open:
    wallet: bytes
    tier: int
    holder_ref: bytes
    """A hash of the bank's KYC record for the holder: the platform learns no name."""
    allowed: tuple[bytes, ...] = ()
    """Purpose-bound money: when not empty, the only wallets this one may pay."""


@dataclass(frozen=True, slots=True)
class Mint:
    token: str
    to: bytes
    amount: int
    reference: bytes = ZERO_REF
    """What backs this issue: the reserve transfer's or attestation's id."""


@dataclass(frozen=True, slots=True)
class Burn:
    token: str
    amount: int
    reference: bytes = ZERO_REF


_KINDS = {k.value: k for k in Kind}

Body = Transfer | Lock | Claim | Refund | Swap | Open | Mint | Burn
_KIND_OF: dict[type, Kind] = {
    Transfer: Kind.TRANSFER,
    Lock: Kind.LOCK,
    Claim: Kind.CLAIM,
    Refund: Kind.REFUND,
    Swap: Kind.SWAP,
    Open: Kind.OPEN,
    Mint: Kind.MINT,
    Burn: Kind.BURN,
}


@dataclass(frozen=True, slots=True)
class SignedTx:
    platform: str
    signer: bytes
    nonce: int
    body: Body
    canonical: bytes
    signatures: tuple[bytes, ...]
    preimage: bytes | None = None
    id: bytes = field(init=False, compare=False)
    """SHA-256 of the canonical bytes, computed once: a platform looks it up several times per transaction."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", tx_id(self.canonical))

    @property
    def kind(self) -> Kind:
        return _KIND_OF[type(self.body)]

    @property
    def signed_bytes(self) -> bytes:
        """The transaction as a block's leaf holds it: canonical bytes and signatures, without a claim's preimage."""
        return self.canonical + b"".join(self.signatures)

    @property
    def wire(self) -> bytes:
        """The transaction as sent to the platform."""
        if self.preimage is None:
            return self.signed_bytes
        return self.signed_bytes + _U16.pack(len(self.preimage)) + self.preimage

    def signatures_valid(self) -> bool:
        message = SIGNING_DOMAIN + self.canonical
        signers = [self.signer]
        if isinstance(self.body, Swap):
            signers.append(self.body.counterparty)
        return len(self.signatures) == len(signers) and all(
            verify_signature(key, sig, message) for key, sig in zip(signers, self.signatures, strict=True)
        )


def tx_id(canonical: bytes) -> bytes:
    return hashlib.sha256(canonical).digest()


# --- encoding ----------------------------------------------------------------------------------------------------


def encode(platform: str, signer: bytes, nonce: int, body: Body) -> bytes:
    """The canonical bytes of a transaction (what its signer signs); ValueError naming the field if out of range."""
    _check_str(platform, _PLATFORM_ID, "platform")
    _check_key(signer, "signer")
    _check_int(nonce, 1, MAX_NONCE, "nonce")
    kind = _KIND_OF[type(body)]
    out = bytearray(MAGIC)
    out += bytes((VERSION, kind))
    out += _str8(platform)
    out += signer
    out += _U64.pack(nonce)
    out += _encode_body(body)
    return bytes(out)


def _encode_body(body: Body) -> bytes:
    if isinstance(body, Transfer | Mint):
        return _token(body.token) + _key(body.to, "to") + _amount(body.amount) + _hash(body.reference, "reference")
    if isinstance(body, Lock):
        _check_int(body.expires_at, 1, MAX_AMOUNT, "expires_at")
        return (
            _token(body.token)
            + _key(body.to, "to")
            + _amount(body.amount)
            + _hash(body.hashlock, "hashlock")
            + _U64.pack(body.expires_at)
            + _hash(body.reference, "reference")
        )
    if isinstance(body, Claim | Refund):
        return _hash(body.lock, "lock")
    if isinstance(body, Swap):
        _check_int(body.counter_nonce, 1, MAX_NONCE, "counter_nonce")
        return (
            _token(body.token)
            + _amount(body.amount)
            + _key(body.counterparty, "counterparty")
            + _token(body.counter_token, "counter_token")
            + _amount(body.counter_amount, "counter_amount")
            + _U64.pack(body.counter_nonce)
        )
    if isinstance(body, Open):
        _check_int(body.tier, 0, MAX_TIER, "tier")
        if len(body.allowed) > MAX_ALLOWED_RECIPIENTS:
            raise ValueError(f"allowed: at most {MAX_ALLOWED_RECIPIENTS} recipients")
        allowed = b"".join(_key(k, "allowed") for k in body.allowed)
        return (
            _key(body.wallet, "wallet")
            + bytes((body.tier,))
            + _hash(body.holder_ref, "holder_ref")
            + bytes((len(body.allowed),))
            + allowed
        )
    return _token(body.token) + _amount(body.amount) + _hash(body.reference, "reference")  # Burn


def sign(key: SigningKey, platform: str, nonce: int, body: Body, *, preimage: bytes | None = None) -> SignedTx:
    """A transaction signed by `key` (its signer). A swap still needs its counterparty's `countersign`."""
    canonical = encode(platform, key.public_key, nonce, body)
    if preimage is not None and not isinstance(body, Claim):
        raise ValueError("preimage: only a claim carries one")
    if preimage is not None and len(preimage) > MAX_PREIMAGE:
        raise ValueError(f"preimage: at most {MAX_PREIMAGE} bytes")
    signature = key.sign(SIGNING_DOMAIN + canonical)
    return SignedTx(platform, key.public_key, nonce, body, canonical, (signature,), preimage)


def countersign(key: SigningKey, tx: SignedTx) -> SignedTx:
    """Add the counterparty's signature to a swap its proposer signed."""
    if not isinstance(tx.body, Swap) or tx.body.counterparty != key.public_key:
        raise ValueError("countersign: only a swap's counterparty countersigns it")
    signature = key.sign(SIGNING_DOMAIN + tx.canonical)
    return SignedTx(tx.platform, tx.signer, tx.nonce, tx.body, tx.canonical, (tx.signatures[0], signature))


# --- decoding ----------------------------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int, field: str) -> bytes:
        end = self.pos + n
        if end > len(self.data):
            raise TxFormatError(field, f"truncated: needs {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u64(self, field: str) -> int:
        value: int = _U64.unpack(self.take(8, field))[0]
        return value

    def str8(self, pattern: re.Pattern[str], field: str) -> str:
        raw = self.take(self.u8(field), field)
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            raise TxFormatError(field, "not ASCII") from None
        if not pattern.fullmatch(text):
            raise TxFormatError(field, f"{text!r} is not a valid {field}")
        return text

    def amount(self, field: str = "amount") -> int:
        value = self.u64(field)
        if not 1 <= value <= MAX_AMOUNT:
            raise TxFormatError(field, f"must be 1 to {MAX_AMOUNT} minor units")
        return value


def decode(wire: bytes) -> SignedTx:
    """Parse a transaction as sent to a platform; TxFormatError naming the field for anything malformed.

    Signatures are not checked here (`SignedTx.signatures_valid`): parsing is cheap and a platform verifies
    signatures in parallel."""
    if not isinstance(wire, bytes | bytearray | memoryview):
        raise TxFormatError("transaction", "must be bytes")
    data = bytes(wire)
    if len(data) > MAX_TX_BYTES:
        raise TxFormatError("transaction", f"longer than {MAX_TX_BYTES} bytes")
    r = _Reader(data)
    if r.take(4, "magic") != MAGIC:
        raise TxFormatError("magic", "not a Corridor digital transaction")
    if r.u8("version") != VERSION:
        raise TxFormatError("version", f"only version {VERSION} is known")
    kind_byte = r.u8("kind")
    kind = _KINDS.get(kind_byte)
    if kind is None:
        raise TxFormatError("kind", f"unknown kind {kind_byte}")
    platform = r.str8(_PLATFORM_ID, "platform")
    signer = r.take(KEY_BYTES, "signer")
    nonce = r.u64("nonce")
    if not 1 <= nonce <= MAX_NONCE:
        raise TxFormatError("nonce", f"must be 1 to {MAX_NONCE}")
    body = _decode_body(kind, r)
    canonical = data[: r.pos]
    signatures: tuple[bytes, ...] = (r.take(SIGNATURE_BYTES, "signature"),)
    if kind is Kind.SWAP:
        signatures += (r.take(SIGNATURE_BYTES, "counter_signature"),)
    preimage = None
    if kind is Kind.CLAIM and r.pos < len(data):
        length = _U16.unpack(r.take(2, "preimage"))[0]
        preimage = r.take(length, "preimage")
    if r.pos != len(data):
        raise TxFormatError("transaction", f"{len(data) - r.pos} bytes after the end")
    return SignedTx(platform, signer, nonce, body, canonical, signatures, preimage)


def _decode_body(kind: Kind, r: _Reader) -> Body:
    if kind in (Kind.TRANSFER, Kind.MINT):
        token = r.str8(_TOKEN_CODE, "token")
        to = r.take(KEY_BYTES, "to")
        amount = r.amount()
        reference = r.take(HASH_BYTES, "reference")
        return Transfer(token, to, amount, reference) if kind is Kind.TRANSFER else Mint(token, to, amount, reference)
    if kind is Kind.LOCK:
        token = r.str8(_TOKEN_CODE, "token")
        to = r.take(KEY_BYTES, "to")
        amount = r.amount()
        hashlock = r.take(HASH_BYTES, "hashlock")
        expires_at = r.u64("expires_at")
        if not 1 <= expires_at <= MAX_AMOUNT:
            raise TxFormatError("expires_at", "out of range")
        return Lock(token, to, amount, hashlock, expires_at, r.take(HASH_BYTES, "reference"))
    if kind in (Kind.CLAIM, Kind.REFUND):
        lock = r.take(HASH_BYTES, "lock")
        return Claim(lock) if kind is Kind.CLAIM else Refund(lock)
    if kind is Kind.SWAP:
        token = r.str8(_TOKEN_CODE, "token")
        amount = r.amount()
        counterparty = r.take(KEY_BYTES, "counterparty")
        counter_token = r.str8(_TOKEN_CODE, "counter_token")
        counter_amount = r.amount("counter_amount")
        counter_nonce = r.u64("counter_nonce")
        if not 1 <= counter_nonce <= MAX_NONCE:
            raise TxFormatError("counter_nonce", f"must be 1 to {MAX_NONCE}")
        return Swap(token, amount, counterparty, counter_token, counter_amount, counter_nonce)
    if kind is Kind.OPEN:
        wallet = r.take(KEY_BYTES, "wallet")
        tier = r.u8("tier")
        if tier > MAX_TIER:
            raise TxFormatError("tier", f"must be 0 to {MAX_TIER}")
        holder_ref = r.take(HASH_BYTES, "holder_ref")
        count = r.u8("allowed")
        if count > MAX_ALLOWED_RECIPIENTS:
            raise TxFormatError("allowed", f"at most {MAX_ALLOWED_RECIPIENTS} recipients")
        allowed = tuple(r.take(KEY_BYTES, "allowed") for _ in range(count))
        return Open(wallet, tier, holder_ref, allowed)
    token = r.str8(_TOKEN_CODE, "token")  # BURN
    return Burn(token, r.amount(), r.take(HASH_BYTES, "reference"))


# --- field helpers -----------------------------------------------------------------------------------------------


def _check_str(value: str, pattern: re.Pattern[str], field: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{field}: {value!r} is not valid")


def _check_int(value: int, low: int, high: int, field: str) -> None:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{field}: must be an int from {low} to {high}")


def _check_key(value: bytes, field: str) -> None:
    if not isinstance(value, bytes) or len(value) != KEY_BYTES:
        raise ValueError(f"{field}: must be {KEY_BYTES} bytes")


def _str8(text: str) -> bytes:
    raw = text.encode("ascii")
    return bytes((len(raw),)) + raw


def _token(code: str, field: str = "token") -> bytes:
    _check_str(code, _TOKEN_CODE, field)
    return _str8(code)


def _key(value: bytes, field: str) -> bytes:
    _check_key(value, field)
    return value


def _hash(value: bytes, field: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != HASH_BYTES:
        raise ValueError(f"{field}: must be {HASH_BYTES} bytes")
    return value


def _amount(value: int, field: str = "amount") -> bytes:
    _check_int(value, 1, MAX_AMOUNT, field)
    return _U64.pack(value)
