"""Proof of reserves: what a token's platform owes its holders, committed in a Merkle-sum tree and set against the
reserves a custodian or auditor signed for.

A token is only as good as its backing, and a backing nobody can check is a promise (Venezuela's Petro claimed
barrels no one could count). So, per snapshot:

- the platform's liabilities in one token, every holder's balance, become the leaves of a Merkle-sum tree
  (`build_tree`): each node carries the sum of the balances below it, the root carries the total owed;
- a custodian or auditor signs what it holds in reserve (`ReserveAttestation`, `sign_attestation`);
- the report (`reserve_report`) sets the root's total against the attested reserves: coverage and whether it is
  covered;
- every holder gets a proof of their own leaf (`HolderProof`) and checks it offline against the published root
  (`verify_holder_proof`, `PublishedSnapshot.verify_proof`): their balance is counted, in full, in the total the
  reserves were compared with;
- an auditor given every leaf recomputes the root (`audit_snapshot`) and finds a missing, negative or doubled leaf.

Why each leaf is salted (salt = HMAC-SHA256(seed, holder_id) with a fresh secret seed per snapshot): a holder's path
shows the hashes of other leaves; unsalted, a balance behind a hash could be found by trying likely ids and amounts.
The operator hands each holder its own salt without revealing any other.

Why a node hashes both children's sums, not only their total: with the total alone an operator could move value
between two siblings' claimed sums (understating one subtree) without changing any hash a holder checks; that is the
known flaw of the first summation trees. Sums are 8-byte unsigned fields, each below 2**63, so no leaf or subtree can
be negative and nothing wraps around.

Why the RFC 9162 shape (split at the largest power of two below n, as corridor.merkle): the shape of every size is
fixed, so an independent verifier walks a path with the RFC's own algorithm (section 2.1.3.2), sums added on the way.
Leaves are ordered by leaf hash, which is random under the secret salts: a holder's index says nothing about its
balance or its id, and the order does not depend on how the operator listed its holders.

What a holder's own check does not show: holders left out of the tree (only they can notice, by asking for their
proof), fake leaves added (they only raise the liabilities), or whether the reserves exist (that is the attestation's
signer's word). Each check's reach is spelled out in docs/proof-of-reserves.md, with the byte formats.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import Any, NamedTuple

from corridor.money import round_fraction
from corridor.network.identity import PUBLIC_KEY_BYTES, SIGNATURE_BYTES, SigningKey, verify_signature

__all__ = [
    "ATTESTATION_DOMAIN",
    "ATTESTATION_FORMAT",
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_AMOUNT",
    "MAX_HOLDER_ID",
    "MAX_JSON_LENGTH",
    "MAX_LEAVES",
    "MAX_PATH",
    "MIN_SEED",
    "PROOF_FORMAT",
    "SALT_SIZE",
    "SNAPSHOT_DOMAIN",
    "SNAPSHOT_FORMAT",
    "AuditFinding",
    "AuditReport",
    "HolderProof",
    "LiabilityTree",
    "MalformedError",
    "PathStep",
    "PublishedSnapshot",
    "Reason",
    "ReserveAttestation",
    "ReserveProofError",
    "ReserveReport",
    "SumRoot",
    "audit_snapshot",
    "build_tree",
    "holder_salt",
    "leaf_hash",
    "new_seed",
    "node_hash",
    "reserve_report",
    "sign_attestation",
    "snapshot_report",
    "verify_holder_proof",
]

HASH_SIZE = 32
SALT_SIZE = 32
MAX_AMOUNT = 2**63 - 1
"""Balances, sums, reserves, times and serials are below 2**63: they fit the ledger's signed 64-bit integers, and an
8-byte field can never be read as negative by a verifier in a language with signed 64-bit integers only."""
MAX_LEAVES = 2**24
"""Holders in one snapshot at most (16.7 million): a path is then at most 24 steps."""
MAX_PATH = 64
"""A path longer than this is refused before any hashing, whatever size it claims."""
MAX_HOLDER_ID = 64
"""Bytes of a holder id: visible ASCII (0x21 to 0x7E), 1 to 64 characters, e.g. a wallet's public key in hex."""
MIN_SEED = 32
"""Bytes of the per-snapshot secret the salts derive from: 256 bits, as many as the salts themselves."""
MAX_JSON_LENGTH = 65_536
"""Characters (bytes, for bytes input) of one JSON document; a 64-step proof is under 8,000."""

ATTESTATION_DOMAIN = b"corridor/reserve-attestation/v1\x00"
"""First bytes of what a reserve attestation's signer signs, so its signature can pass for nothing else."""
SNAPSHOT_DOMAIN = b"corridor/liability-snapshot/v1\x00"
"""First bytes of a published snapshot's canonical bytes (what an auditor may sign)."""
ATTESTATION_FORMAT = "corridor/reserve-attestation/v1"
PROOF_FORMAT = "corridor/reserve-proof/v1"
SNAPSHOT_FORMAT = "corridor/liability-snapshot/v1"
"""The `format` member of each JSON document, so a document meant as something else is refused at once."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_TOKEN = re.compile(r"[A-Z][A-Z0-9]{2,11}")  # money.register_token's rule: ISO codes and token codes alike
_HOLDER_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_HOLDER_ID}}}")
_DECIMAL = re.compile(r"0|-?[1-9][0-9]{0,19}")  # one spelling per integer; the sign so negatives get their reason
_HEX = re.compile(r"[0-9a-f]*")


class Reason(StrEnum):
    """Why something was refused: stable codes for tests, logs, metrics and API problems."""

    MALFORMED = "malformed"
    """A field (named by the error's `field`) or a whole document is not what the format allows."""
    NEGATIVE = "negative"
    """A balance, sum or quantity below zero: liabilities and reserves are never negative."""
    TOO_LARGE = "too_large"
    """An integer at or above its limit (2**63 for amounts), or a count above its MAX_ constant."""
    DUPLICATE_HOLDER = "duplicate_holder"
    """One holder id twice in a snapshot: one holder, one leaf, or a balance could be counted twice or hidden."""
    UNKNOWN_HOLDER = "unknown_holder"
    """No leaf for this holder in the tree."""
    INDEX_OUTSIDE = "index_outside"
    """A proof's leaf index is not below its tree size."""
    PATH_LENGTH = "path_length"
    """A proof's path has not the number of steps its index and size call for."""
    SUM_OVERFLOW = "sum_overflow"
    """Sums added on the way up reach 2**63: no honest tree has such a node."""
    ROOT_HASH_MISMATCH = "root_hash_mismatch"
    """The path leads to another root hash: some byte of the leaf, the path or the root differs."""
    TOTAL_MISMATCH = "total_mismatch"
    """The path leads to another total than the published one."""
    SIZE_MISMATCH = "size_mismatch"
    """A proof or a set of leaves has another tree size than the published snapshot."""
    SNAPSHOT_MISMATCH = "snapshot_mismatch"
    """A proof names another token or snapshot time than the published snapshot it is checked against."""
    TOKEN_MISMATCH = "token_mismatch"
    """An attestation of reserves in another token than the liabilities."""
    UNTRUSTED_SIGNER = "untrusted_signer"
    """The attestation is signed by a key not among the trusted ones."""
    BAD_SIGNATURE = "bad_signature"
    """The signature is not the signer's over the canonical bytes: some field was changed."""
    SALT_MISMATCH = "salt_mismatch"
    """(Audit) a leaf's salt is not HMAC-SHA256(seed, holder_id)."""
    DUPLICATE_SALT = "duplicate_salt"
    """(Audit) two leaves share a salt: salts are HMACs of distinct ids, so they never do by chance."""


class ReserveProofError(ValueError):
    """Something about reserves, liabilities or a proof was refused; `reason` says why, `field` which field."""

    def __init__(self, message: str, reason: Reason, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


class MalformedError(ReserveProofError):
    """A record's field (built in code or read from JSON) is not what the format allows; `field` names it, as
    'balance' or 'path[3].sum'. Reason MALFORMED, or NEGATIVE / TOO_LARGE / INDEX_OUTSIDE for those cases."""

    def __init__(self, field: str, message: str, reason: Reason = Reason.MALFORMED) -> None:
        super().__init__(f"{field}: {message}", reason, field)


# --- field checks, shared by every record and by the JSON readers -------------------------------------------------


def _short(value: object) -> str:
    """A value as an error shows it: cut short, so a megabyte of junk never becomes the message."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]} ({len(text)} characters)"


def _member_name(name: object) -> str:
    """A JSON member's name as an error's `field`: as it is when short and printable, else cut short and quoted."""
    if isinstance(name, str) and len(name) <= 40 and name.isascii() and name.isprintable():
        return name
    return _short(name)


def _check_int(field: str, value: object, high: int = MAX_AMOUNT, low: int = 0) -> int:
    """`value` as an int from `low` to `high`; bool (an int subclass) and float are refused by name."""
    if type(value) is not int:
        raise MalformedError(field, f"must be an integer, got {type(value).__name__} {_short(value)}")
    if value < low:
        reason = Reason.NEGATIVE if value < 0 else Reason.MALFORMED
        raise MalformedError(field, f"must be at least {low}, got {value}", reason)
    if value > high:
        raise MalformedError(field, f"must be at most {high}, got {value}", Reason.TOO_LARGE)
    return value


def _check_bytes(field: str, value: object, size: int) -> bytes:
    if type(value) is not bytes or len(value) != size:
        raise MalformedError(field, f"must be {size} bytes, got {type(value).__name__} {_short(value)}")
    return value


def _check_token(value: object, field: str = "token") -> str:
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise MalformedError(
            field, f"must be 3 to 12 upper-case ASCII letters or digits, starting with a letter; got {_short(value)}"
        )
    return value


def _check_holder_id(value: object, field: str = "holder_id") -> str:
    if not isinstance(value, str) or not _HOLDER_ID.fullmatch(value):
        raise MalformedError(
            field, f"must be 1 to {MAX_HOLDER_ID} visible ASCII characters (0x21 to 0x7E), got {_short(value)}"
        )
    return value


def _u64(value: int) -> bytes:
    return value.to_bytes(8, "big")


def _ascii_field(text: str) -> bytes:
    """A string as the binary formats write it: 1-byte length, then its ASCII bytes."""
    data = text.encode("ascii")
    return len(data).to_bytes(1, "big") + data


# --- the tree's hashes --------------------------------------------------------------------------------------------


class SumRoot(NamedTuple):
    """A tree's (or subtree's) root hash and the sum of the balances below it."""

    hash: bytes
    total: int


class PathStep(NamedTuple):
    """One step of a holder's path: the sibling subtree's root hash and its sum."""

    hash: bytes
    total: int


EMPTY_ROOT = SumRoot(hashlib.sha256(b"").digest(), 0)
"""The root of a snapshot with no holders: SHA-256 of nothing (as RFC 9162's empty tree) and a total of 0. No leaf
or node hash can equal it, since every one of those hashes at least a prefix byte."""


def holder_salt(seed: bytes, holder_id: str) -> bytes:
    """HMAC-SHA256(seed, holder id's ASCII): each holder's salt, which the operator can hand out one by one."""
    return hmac.new(seed, _check_holder_id(holder_id).encode("ascii"), hashlib.sha256).digest()


def leaf_hash(salt: bytes, holder_id: str, balance: int) -> bytes:
    """SHA-256(0x00 || salt || len(holder_id) || holder_id || balance as 8 bytes big-endian)."""
    _check_bytes("salt", salt, SALT_SIZE)
    _check_holder_id(holder_id)
    _check_int("balance", balance)
    return hashlib.sha256(_LEAF_PREFIX + salt + _ascii_field(holder_id) + _u64(balance)).digest()


def node_hash(left: SumRoot | PathStep, right: SumRoot | PathStep) -> SumRoot:
    """A parent: SHA-256(0x01 || left hash || left sum || right hash || right sum), sums as 8 bytes big-endian, and
    the sum of both. Refuses (SUM_OVERFLOW) a total of 2**63 or more: it cannot be written in a parent above."""
    total = left.total + right.total
    if total > MAX_AMOUNT:
        raise ReserveProofError(f"a node's sum {total} reaches 2**63", Reason.SUM_OVERFLOW)
    data = _NODE_PREFIX + left.hash + _u64(left.total) + right.hash + _u64(right.total)
    return SumRoot(hashlib.sha256(data).digest(), total)


def _sibling_sides(index: int, size: int) -> list[bool]:
    """For each step from leaf `index` of a `size`-leaf tree up to the root, whether the sibling is on the left.

    RFC 9162 section 2.1.3.2's walk without the hashing: fn is the node's index at its level, sn the last index at
    that level; a node that is a right child, or the last node of its level, has its sibling on the left, and a last
    node with no sibling at all (an odd level's end) is carried up without a step. The list's length is therefore
    the exact path length the index and size call for."""
    sides: list[bool] = []
    fn, sn = index, size - 1
    while sn:
        on_left = bool(fn & 1) or fn == sn
        if on_left:
            while not fn & 1 and fn:
                fn >>= 1
                sn >>= 1
        sides.append(on_left)
        fn >>= 1
        sn >>= 1
    return sides


def _root_from_path(leaf: SumRoot, index: int, size: int, path: Sequence[PathStep]) -> SumRoot:
    """The root a path leads to from `leaf` at `index`; PATH_LENGTH if the path cannot be one for that place."""
    sides = _sibling_sides(index, size)
    if len(path) != len(sides):
        raise ReserveProofError(
            f"leaf {index} of a tree of {size} has a path of {len(sides)} steps, not {len(path)}", Reason.PATH_LENGTH
        )
    node = leaf
    for step, on_left in zip(path, sides, strict=True):
        node = node_hash(step, node) if on_left else node_hash(node, step)
    return node


# --- the liabilities tree -----------------------------------------------------------------------------------------


class _Leaf(NamedTuple):
    holder_id: str
    salt: bytes
    balance: int
    hash: bytes


def _levels(leaves: list[SumRoot]) -> list[list[SumRoot]]:
    """Every level of the tree, leaves first, root last.

    Pairs are joined left to right and a level's odd last node is carried up unchanged: built bottom-up this way,
    the tree is exactly RFC 9162's (split at the largest power of two below n) without recursion, and a path is
    read off the levels in log n steps instead of keeping every path in memory."""
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        levels.append(above)
    return levels


class LiabilityTree:
    """One snapshot's Merkle-sum tree of what every holder is owed in one token. Built by `build_tree`; gives the
    root, the snapshot to publish, each holder's proof and (to an auditor only) every leaf."""

    __slots__ = ("_index", "_leaves", "_levels", "as_of_ns", "token")

    def __init__(self, token: str, as_of_ns: int, leaves: list[_Leaf]) -> None:
        self.token = token
        self.as_of_ns = as_of_ns
        self._leaves = sorted(leaves, key=lambda leaf: leaf.hash)
        self._index = {leaf.holder_id: at for at, leaf in enumerate(self._leaves)}
        self._levels = _levels([SumRoot(leaf.hash, leaf.balance) for leaf in self._leaves])

    @property
    def size(self) -> int:
        return len(self._leaves)

    @property
    def root(self) -> SumRoot:
        return self._levels[-1][0] if self._leaves else EMPTY_ROOT

    def published(self) -> PublishedSnapshot:
        """What the platform publishes (and an auditor may sign): token, time, size, root hash and total."""
        root = self.root
        return PublishedSnapshot(self.token, self.as_of_ns, self.size, root.hash, root.total)

    def proof(self, holder_id: str) -> HolderProof:
        """The holder's proof of their own leaf (it carries their salt: give it to that holder only)."""
        at = self._index.get(holder_id)
        if at is None:
            raise ReserveProofError(f"holder {_short(holder_id)} has no leaf in this snapshot", Reason.UNKNOWN_HOLDER)
        leaf = self._leaves[at]
        return HolderProof(
            token=self.token,
            as_of_ns=self.as_of_ns,
            holder_id=leaf.holder_id,
            salt=leaf.salt,
            balance=leaf.balance,
            index=at,
            size=self.size,
            path=tuple(self._path(at)),
        )

    def _path(self, index: int) -> list[PathStep]:
        path: list[PathStep] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(PathStep(*level[sibling]))
            index >>= 1
        return path

    def disclosure(self) -> list[tuple[str, bytes, int]]:
        """Every leaf as (holder_id, salt, balance), in tree order: what an auditor needs for `audit_snapshot`.
        It reveals every balance and salt, so it goes to the auditor only, never to holders or the public."""
        return [(leaf.holder_id, leaf.salt, leaf.balance) for leaf in self._leaves]


def new_seed() -> bytes:
    """A fresh secret seed for one snapshot. Never reuse one: the same seed gives a holder the same salt in the
    next snapshot, and a salt seen twice links their leaves across snapshots."""
    return secrets.token_bytes(MIN_SEED)


def build_tree(token: str, as_of_ns: int, liabilities: Iterable[tuple[str, int]], seed: bytes) -> LiabilityTree:
    """The snapshot's tree over (holder_id, balance) pairs, each leaf salted with HMAC-SHA256(seed, holder_id).

    Refuses (ReserveProofError) a negative or too large balance, a malformed or repeated holder id, more than
    MAX_LEAVES holders, a total of 2**63 or more, and a seed shorter than MIN_SEED bytes. A balance of zero is kept:
    the holder can still check it is there, and dropping it would say something about it."""
    _check_token(token)
    _check_int("as_of_ns", as_of_ns)
    if type(seed) is not bytes or len(seed) < MIN_SEED:
        raise MalformedError("seed", f"must be at least {MIN_SEED} secret bytes")
    leaves: list[_Leaf] = []
    seen: set[str] = set()
    for number, (holder_id, balance) in enumerate(liabilities):
        leaves.append(_new_leaf(seed, holder_id, balance, number, seen))
        if len(leaves) > MAX_LEAVES:
            raise ReserveProofError(f"a snapshot has at most {MAX_LEAVES} holders", Reason.TOO_LARGE)
    total = sum(leaf.balance for leaf in leaves)
    if total > MAX_AMOUNT:
        raise ReserveProofError(f"liabilities total {total} reaches 2**63", Reason.SUM_OVERFLOW)
    return LiabilityTree(token, as_of_ns, leaves)


def _new_leaf(seed: bytes, holder_id: object, balance: object, number: int, seen: set[str]) -> _Leaf:
    holder = _check_holder_id(holder_id, f"liabilities[{number}].holder_id")
    amount = _check_int(f"liabilities[{number}].balance", balance)
    if holder in seen:
        raise ReserveProofError(f"holder {holder!r} appears twice in the liabilities", Reason.DUPLICATE_HOLDER)
    seen.add(holder)
    salt = holder_salt(seed, holder)
    return _Leaf(holder, salt, amount, leaf_hash(salt, holder, amount))


# --- JSON reading, shared by the three documents ------------------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json keeps the last of duplicate keys, another parser the first: two readers of one document must see the
    same values, so a duplicate key is refused outright."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load(document: object, what: str) -> object:
    """Strict JSON text (or UTF-8 bytes) of at most MAX_JSON_LENGTH, no duplicate keys, no NaN or Infinity."""
    if isinstance(document, bytes):
        if len(document) > MAX_JSON_LENGTH:
            raise MalformedError(what, f"is at most {MAX_JSON_LENGTH} bytes, got {len(document)}")
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedError(what, "is not UTF-8") from None
    if not isinstance(document, str):
        raise MalformedError(what, f"is JSON text or bytes, got {type(document).__name__}")
    if len(document) > MAX_JSON_LENGTH:
        raise MalformedError(what, f"is at most {MAX_JSON_LENGTH} characters, got {len(document)}")
    try:
        return json.loads(document, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        raise MalformedError(_member_name(exc.name), f"appears more than once in the {what}") from None
    except (ValueError, RecursionError) as exc:
        raise MalformedError(what, f"is not JSON ({_short(str(exc))})") from None


def _fields(
    document: object, what: str, names: tuple[str, ...], format_name: str | None, within: str = ""
) -> dict[str, Any]:
    """The JSON object's members, exactly `names` (none missing, none more), its `format` checked. `what` names
    the object in errors; members are named bare ('quantity') or, inside an array item, `within` first
    ('path[2].sum')."""

    def member(name: str) -> str:
        return f"{within}.{name}" if within else name

    if not isinstance(document, dict):
        raise MalformedError(within or what, f"must be a JSON object, got {type(document).__name__}")
    for name in document:
        if name not in names:
            raise MalformedError(member(_member_name(name)), f"is not a {what} member (members: {', '.join(names)})")
    for name in names:
        if name not in document:
            raise MalformedError(member(name), "is missing")
    if format_name is not None and document["format"] != format_name:
        raise MalformedError("format", f"must be {format_name!r}, got {_short(document['format'])}")
    return document


def _json_int(value: object, field: str) -> int:
    """A 64-bit integer written as a decimal string (a JavaScript reader would round a JSON number above 2**53);
    ranges are the record's own checks."""
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise MalformedError(field, f"must be a string of decimal digits without leading zeros, got {_short(value)}")
    return int(value)


def _json_hex(value: object, field: str) -> bytes:
    """Lower-case hex, even length: one spelling per byte string (bytes.fromhex alone would take spaces too)."""
    if not isinstance(value, str) or len(value) % 2 or not _HEX.fullmatch(value):
        raise MalformedError(field, f"must be lower-case hexadecimal text, got {_short(value)}")
    return bytes.fromhex(value)


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))


# --- reserve attestation ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReserveAttestation:
    """A custodian's or auditor's signed statement: "at `as_of_ns` we hold `quantity` minor units of `token`'s
    backing". It checks its fields when built; the signature and the signer's trust are checked by `verify`."""

    token: str
    quantity: int
    """Reserves as an integer count of the token's minor units (a barrel token at 3 places: millibarrels)."""
    as_of_ns: int
    """When the reserves were counted: UTC nanoseconds since 1970."""
    serial: int
    """The signer's attestation number; a later attestation has a higher one."""
    signer: bytes
    """The signer's Ed25519 public key, 32 raw bytes."""
    signature: bytes
    """Ed25519 signature by `signer` over `canonical_bytes()`, 64 bytes."""

    def __post_init__(self) -> None:
        _check_token(self.token)
        _check_int("quantity", self.quantity)
        _check_int("as_of_ns", self.as_of_ns)
        _check_int("serial", self.serial)
        _check_bytes("signer", self.signer, PUBLIC_KEY_BYTES)
        _check_bytes("signature", self.signature, SIGNATURE_BYTES)

    def canonical_bytes(self) -> bytes:
        """What the signer signs: ATTESTATION_DOMAIN, token (1-byte length, ASCII), quantity, as_of_ns and serial
        (8 bytes big-endian each), signer (32 bytes). Fixed widths and the length prefix make it injective."""
        return b"".join(
            (
                ATTESTATION_DOMAIN,
                _ascii_field(self.token),
                _u64(self.quantity),
                _u64(self.as_of_ns),
                _u64(self.serial),
                self.signer,
            )
        )

    def verify(self, trusted_keys: Collection[bytes]) -> None:
        """Raise ReserveProofError unless a trusted key signed exactly these fields (UNTRUSTED_SIGNER first, then
        BAD_SIGNATURE). Trust is the caller's list: a valid signature by anyone else proves nothing."""
        if self.signer not in trusted_keys:
            raise ReserveProofError(
                f"reserve attestation {self.serial} is signed by an untrusted key {self.signer.hex()[:16]}",
                Reason.UNTRUSTED_SIGNER,
            )
        if not verify_signature(self.signer, self.signature, self.canonical_bytes()):
            raise ReserveProofError(
                f"reserve attestation {self.serial}'s signature does not match its fields", Reason.BAD_SIGNATURE
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON object form: bytes as lower-case hex, 64-bit integers as decimal strings."""
        return {
            "format": ATTESTATION_FORMAT,
            "token": self.token,
            "quantity": str(self.quantity),
            "as_of_ns": str(self.as_of_ns),
            "serial": str(self.serial),
            "signer": self.signer.hex(),
            "signature": self.signature.hex(),
        }

    def to_json(self) -> str:
        """Compact JSON; the signature covers the canonical bytes, so the JSON's spacing and order do not matter."""
        return _dumps(self.to_dict())

    @classmethod
    def from_dict(cls, document: object) -> ReserveAttestation:
        """From the JSON object form (outside input): MalformedError naming the field, never another exception.
        Does not check the signature (see `verify`)."""
        fields = _fields(document, "attestation", _ATTESTATION_FIELDS, ATTESTATION_FORMAT)
        return cls(
            token=fields["token"],
            quantity=_json_int(fields["quantity"], "quantity"),
            as_of_ns=_json_int(fields["as_of_ns"], "as_of_ns"),
            serial=_json_int(fields["serial"], "serial"),
            signer=_json_hex(fields["signer"], "signer"),
            signature=_json_hex(fields["signature"], "signature"),
        )

    @classmethod
    def from_json(cls, document: str | bytes) -> ReserveAttestation:
        """From JSON text or UTF-8 bytes (outside input); only ReserveProofError is ever raised."""
        return cls.from_dict(_load(document, "attestation"))


_ATTESTATION_FIELDS = ("format", "token", "quantity", "as_of_ns", "serial", "signer", "signature")


def sign_attestation(key: SigningKey, *, token: str, quantity: int, as_of_ns: int, serial: int) -> ReserveAttestation:
    """An attestation with every field checked, signed by `key` over its canonical bytes."""
    unsigned = ReserveAttestation(token, quantity, as_of_ns, serial, key.public_key, bytes(SIGNATURE_BYTES))
    return replace(unsigned, signature=key.sign(unsigned.canonical_bytes()))


# --- a holder's proof ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HolderProof:
    """What one holder is given: their leaf's fields (salt included), its place, and the path to the root.

    It checks its fields when built (a negative sum, an index outside the size or an over-long path cannot even be
    held); whether it leads to the published root is `verify_holder_proof`'s question."""

    token: str
    as_of_ns: int
    """The snapshot's time, UTC nanoseconds: with `token`, which snapshot the proof belongs to."""
    holder_id: str
    salt: bytes = field(repr=False)
    """The holder's own salt: with it, anyone holding the leaf hash could test guesses of the balance."""
    balance: int
    index: int
    size: int
    path: tuple[PathStep, ...]
    """Sibling (hash, sum) pairs from the leaf up to the root."""

    def __post_init__(self) -> None:
        _check_token(self.token)
        _check_int("as_of_ns", self.as_of_ns)
        _check_holder_id(self.holder_id)
        _check_bytes("salt", self.salt, SALT_SIZE)
        _check_int("balance", self.balance)
        _check_int("size", self.size, MAX_LEAVES, 1)
        if type(self.index) is not int or not 0 <= self.index < self.size:
            raise MalformedError(
                "index", f"must be an integer from 0 to {self.size - 1}, got {_short(self.index)}", Reason.INDEX_OUTSIDE
            )
        object.__setattr__(self, "path", _checked_path(self.path))

    def to_dict(self) -> dict[str, Any]:
        """JSON object form: bytes as lower-case hex, 64-bit integers as decimal strings, index and size numbers."""
        return {
            "format": PROOF_FORMAT,
            "token": self.token,
            "as_of_ns": str(self.as_of_ns),
            "holder_id": self.holder_id,
            "salt": self.salt.hex(),
            "balance": str(self.balance),
            "index": self.index,
            "size": self.size,
            "path": [{"hash": step.hash.hex(), "sum": str(step.total)} for step in self.path],
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_dict(cls, document: object) -> HolderProof:
        """From the JSON object form (outside input): MalformedError naming the field, never another exception."""
        fields = _fields(document, "proof", _PROOF_FIELDS, PROOF_FORMAT)
        return cls(
            token=fields["token"],
            as_of_ns=_json_int(fields["as_of_ns"], "as_of_ns"),
            holder_id=fields["holder_id"],
            salt=_json_hex(fields["salt"], "salt"),
            balance=_json_int(fields["balance"], "balance"),
            index=fields["index"],
            size=fields["size"],
            path=_json_path(fields["path"]),
        )

    @classmethod
    def from_json(cls, document: str | bytes) -> HolderProof:
        """From JSON text or UTF-8 bytes (outside input); only ReserveProofError is ever raised."""
        return cls.from_dict(_load(document, "proof"))


_PROOF_FIELDS = ("format", "token", "as_of_ns", "holder_id", "salt", "balance", "index", "size", "path")


def _checked_path(path: object) -> tuple[PathStep, ...]:
    if not isinstance(path, list | tuple):
        raise MalformedError("path", f"must be a sequence of (hash, sum) steps, got {type(path).__name__}")
    if len(path) > MAX_PATH:
        raise MalformedError("path", f"has at most {MAX_PATH} steps, got {len(path)}", Reason.TOO_LARGE)
    return tuple(_checked_step(step, at) for at, step in enumerate(path))


def _checked_step(step: object, at: int) -> PathStep:
    if not isinstance(step, list | tuple) or len(step) != 2:
        raise MalformedError(f"path[{at}]", f"must be a (hash, sum) pair, got {_short(step)}")
    hash_, total = step
    return PathStep(_check_bytes(f"path[{at}].hash", hash_, HASH_SIZE), _check_int(f"path[{at}].sum", total))


def _json_path(value: object) -> tuple[PathStep, ...]:
    if not isinstance(value, list):
        raise MalformedError("path", f"must be a JSON array, got {type(value).__name__}")
    if len(value) > MAX_PATH:
        raise MalformedError("path", f"has at most {MAX_PATH} steps, got {len(value)}", Reason.TOO_LARGE)
    steps: list[PathStep] = []
    for at, item in enumerate(value):
        step = _fields(item, "path step", ("hash", "sum"), None, f"path[{at}]")
        hash_ = _json_hex(step["hash"], f"path[{at}].hash")
        steps.append(PathStep(hash_, _json_int(step["sum"], f"path[{at}].sum")))
    return tuple(steps)


def verify_holder_proof(proof: HolderProof, root_hash: bytes, root_total: int) -> None:
    """Raise ReserveProofError unless `proof`'s leaf is in the tree whose root is (root_hash, root_total).

    Steps (docs/proof-of-reserves.md): the fields are checked again (MALFORMED, NEGATIVE, TOO_LARGE,
    INDEX_OUTSIDE); the path must have exactly the steps RFC 9162 gives leaf `index` of a tree of `size`
    (PATH_LENGTH); the leaf is hashed and folded with each sibling, sums added and kept below 2**63
    (SUM_OVERFLOW); the result must equal the root hash (ROOT_HASH_MISMATCH) and the total (TOTAL_MISMATCH).
    Passing proves the holder's balance is counted in full in `root_total`; take the root from a source you
    trust (a signed `PublishedSnapshot`), and check `proof.holder_id` and `proof.balance` are yours."""
    _check_bytes("root_hash", root_hash, HASH_SIZE)
    _check_int("root_total", root_total)
    proof = HolderProof(*(getattr(proof, name) for name in _PROOF_ATTRIBUTES))
    leaf = SumRoot(leaf_hash(proof.salt, proof.holder_id, proof.balance), proof.balance)
    root = _root_from_path(leaf, proof.index, proof.size, proof.path)
    if root.hash != root_hash:
        raise ReserveProofError(
            f"holder {proof.holder_id}'s path leads to root {root.hash.hex()}, not {root_hash.hex()}",
            Reason.ROOT_HASH_MISMATCH,
        )
    if root.total != root_total:
        raise ReserveProofError(
            f"holder {proof.holder_id}'s path leads to a total of {root.total}, not {root_total}",
            Reason.TOTAL_MISMATCH,
        )


_PROOF_ATTRIBUTES = ("token", "as_of_ns", "holder_id", "salt", "balance", "index", "size", "path")


# --- the published snapshot ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublishedSnapshot:
    """What the platform publishes per snapshot and an auditor may sign: the root and what it stands for."""

    token: str
    as_of_ns: int
    size: int
    root_hash: bytes
    total: int
    """The liabilities: the sum of every holder's balance, in the token's minor units."""

    def __post_init__(self) -> None:
        _check_token(self.token)
        _check_int("as_of_ns", self.as_of_ns)
        _check_int("size", self.size, MAX_LEAVES)
        _check_bytes("root_hash", self.root_hash, HASH_SIZE)
        _check_int("total", self.total)
        if self.size == 0 and (self.root_hash, self.total) != EMPTY_ROOT:
            raise MalformedError("root_hash", "a snapshot of no holders has the empty root and a total of 0")

    @property
    def root(self) -> SumRoot:
        return SumRoot(self.root_hash, self.total)

    def canonical_bytes(self) -> bytes:
        """What a signer of the snapshot signs: SNAPSHOT_DOMAIN, token (1-byte length, ASCII), as_of_ns, size
        (8 bytes big-endian each), root hash (32 bytes), total (8 bytes big-endian)."""
        return b"".join(
            (
                SNAPSHOT_DOMAIN,
                _ascii_field(self.token),
                _u64(self.as_of_ns),
                _u64(self.size),
                self.root_hash,
                _u64(self.total),
            )
        )

    def verify_proof(self, proof: HolderProof) -> None:
        """`verify_holder_proof` against this snapshot, after checking the proof names this token, time and size
        (SNAPSHOT_MISMATCH, SIZE_MISMATCH): a proof from last month's tree does not vouch for this month's."""
        if (proof.token, proof.as_of_ns) != (self.token, self.as_of_ns):
            raise ReserveProofError(
                f"the proof is for {proof.token} at {proof.as_of_ns}, the snapshot {self.token} at {self.as_of_ns}",
                Reason.SNAPSHOT_MISMATCH,
            )
        if proof.size != self.size:
            raise ReserveProofError(
                f"the proof is for a tree of {proof.size}, the snapshot has {self.size}", Reason.SIZE_MISMATCH
            )
        verify_holder_proof(proof, self.root_hash, self.total)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": SNAPSHOT_FORMAT,
            "token": self.token,
            "as_of_ns": str(self.as_of_ns),
            "size": self.size,
            "root_hash": self.root_hash.hex(),
            "total": str(self.total),
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    @classmethod
    def from_dict(cls, document: object) -> PublishedSnapshot:
        """From the JSON object form (outside input): MalformedError naming the field, never another exception."""
        fields = _fields(document, "snapshot", _SNAPSHOT_FIELDS, SNAPSHOT_FORMAT)
        return cls(
            token=fields["token"],
            as_of_ns=_json_int(fields["as_of_ns"], "as_of_ns"),
            size=fields["size"],
            root_hash=_json_hex(fields["root_hash"], "root_hash"),
            total=_json_int(fields["total"], "total"),
        )

    @classmethod
    def from_json(cls, document: str | bytes) -> PublishedSnapshot:
        return cls.from_dict(_load(document, "snapshot"))


_SNAPSHOT_FIELDS = ("format", "token", "as_of_ns", "size", "root_hash", "total")


# --- the report ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReserveReport:
    """Reserves against liabilities for one snapshot of one token."""

    token: str
    as_of_ns: int
    """The liabilities snapshot's time."""
    holders: int
    liabilities: int
    """The root's total: what all holders are owed, in minor units."""
    reserves: int
    """The attested quantity, in minor units."""
    coverage: Fraction | None
    """reserves / liabilities exactly; None when nothing is owed (no ratio exists)."""
    coverage_text: str
    """The ratio to 4 places, half-even ("1.0250"); "inf" when nothing is owed but reserves exist, "n/a" when
    both are 0."""
    covered: bool
    """reserves >= liabilities."""
    root_hash: str
    """The liabilities root, hex."""
    attestation_serial: int
    attestation_as_of_ns: int
    """When the reserves were counted; how far it may lie from `as_of_ns` is the reader's policy."""
    snapshot: PublishedSnapshot


def published(report: ReserveReport) -> dict[str, Any]:
    """A report as the platform publishes it (the API's and the control interface's answer): the figures, and the
    snapshot each holder checks their own leaf against."""
    return {
        "token": report.token,
        "holders": report.holders,
        "liabilities": report.liabilities,
        "reserves": report.reserves,
        "coverage": report.coverage_text,
        "covered": report.covered,
        "attestation_serial": report.attestation_serial,
        "snapshot": report.snapshot.to_dict(),
    }


def _coverage_text(reserves: int, liabilities: int) -> str:
    """Four places, half-even, rounded once from the exact ratio (a Decimal division would round twice)."""
    if liabilities == 0:
        return "inf" if reserves else "n/a"
    ten_thousandths = round_fraction(Fraction(reserves * 10_000, liabilities), "half_even")
    return f"{Decimal(ten_thousandths).scaleb(-4):.4f}"


def reserve_report(
    tree: LiabilityTree, attestation: ReserveAttestation, *, trusted_keys: Collection[bytes]
) -> ReserveReport:
    """The tree's total against the attested reserves, once the attestation is checked: signed by a trusted key
    (UNTRUSTED_SIGNER, BAD_SIGNATURE) and for the tree's token (TOKEN_MISMATCH)."""
    attestation.verify(trusted_keys)
    if attestation.token != tree.token:
        raise ReserveProofError(
            f"the attestation is of {attestation.token} reserves, the liabilities are in {tree.token}",
            Reason.TOKEN_MISMATCH,
        )
    snapshot = tree.published()
    liabilities, reserves = snapshot.total, attestation.quantity
    return ReserveReport(
        token=tree.token,
        as_of_ns=tree.as_of_ns,
        holders=snapshot.size,
        liabilities=liabilities,
        reserves=reserves,
        coverage=Fraction(reserves, liabilities) if liabilities else None,
        coverage_text=_coverage_text(reserves, liabilities),
        covered=reserves >= liabilities,
        root_hash=snapshot.root_hash.hex(),
        attestation_serial=attestation.serial,
        attestation_as_of_ns=attestation.as_of_ns,
        snapshot=snapshot,
    )


def snapshot_report(
    token: str,
    liabilities: Iterable[tuple[str, int]],
    seed: bytes,
    attestation: ReserveAttestation,
    *,
    as_of_ns: int,
    trusted_keys: Collection[bytes],
) -> ReserveReport:
    """`build_tree` then `reserve_report`, for a caller that needs the report only (no proofs to hand out)."""
    return reserve_report(build_tree(token, as_of_ns, liabilities, seed), attestation, trusted_keys=trusted_keys)


# --- the auditor's check ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One thing wrong with a disclosed snapshot; `holder_id` names the leaf when it is about one."""

    reason: Reason
    detail: str
    holder_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditReport:
    """The auditor's recomputation of a published snapshot from every disclosed leaf, and all it found wrong."""

    published: PublishedSnapshot
    recomputed: SumRoot
    """The root over the well-formed disclosed leaves (a malformed one cannot be hashed and is left out)."""
    leaves: int
    findings: tuple[AuditFinding, ...]

    @property
    def passed(self) -> bool:
        return not self.findings


def audit_snapshot(
    published: PublishedSnapshot, leaves: Iterable[tuple[str, bytes, int]], *, seed: bytes | None = None
) -> AuditReport:
    """Recompute the published root from every leaf (holder_id, salt, balance) and report every discrepancy.

    Per leaf: malformed fields, a negative balance (NEGATIVE), one too large, a repeated holder or salt, and, given
    the snapshot's seed, a salt that is not HMAC-SHA256(seed, holder_id). Over the whole: the number of leaves, the
    total and the root hash against the published ones, which is how a leaf missing from the disclosure (or one
    left out of the tree) shows. The leaves may come in any order: the tree orders them by leaf hash."""
    findings: list[AuditFinding] = []
    good: list[SumRoot] = []
    holders: set[str] = set()
    salts: set[bytes] = set()
    disclosed = list(leaves)
    for holder_id, salt, balance in disclosed:
        problem = _leaf_problem(holder_id, salt, balance, seed, holders, salts)
        if problem is not None:
            findings.append(problem)
        if _well_formed(holder_id, salt, balance):
            good.append(SumRoot(leaf_hash(salt, holder_id, balance), balance))
            holders.add(holder_id)
            salts.add(salt)
    recomputed = _recompute(good, findings)
    findings.extend(_root_findings(published, len(disclosed), recomputed))
    return AuditReport(published, recomputed, len(disclosed), tuple(findings))


def _well_formed(holder_id: object, salt: object, balance: object) -> bool:
    try:
        _check_holder_id(holder_id)
        _check_bytes("salt", salt, SALT_SIZE)
        _check_int("balance", balance)
    except ReserveProofError:
        return False
    return True


def _leaf_problem(
    holder_id: object, salt: object, balance: object, seed: bytes | None, holders: set[str], salts: set[bytes]
) -> AuditFinding | None:
    """The first thing wrong with one disclosed leaf, or None."""
    try:
        holder = _check_holder_id(holder_id)
        salt_bytes = _check_bytes("salt", salt, SALT_SIZE)
        _check_int("balance", balance)
    except ReserveProofError as exc:
        name = holder_id if isinstance(holder_id, str) else None
        return AuditFinding(exc.reason, str(exc), name)
    if holder in holders:
        return AuditFinding(Reason.DUPLICATE_HOLDER, f"holder {holder} has more than one leaf", holder)
    if salt_bytes in salts:
        return AuditFinding(Reason.DUPLICATE_SALT, f"holder {holder}'s salt is another leaf's too", holder)
    if seed is not None and not hmac.compare_digest(salt_bytes, holder_salt(seed, holder)):
        return AuditFinding(Reason.SALT_MISMATCH, f"holder {holder}'s salt is not derived from the seed", holder)
    return None


def _recompute(good: list[SumRoot], findings: list[AuditFinding]) -> SumRoot:
    if not good:
        return EMPTY_ROOT
    try:
        return _levels(sorted(good, key=lambda leaf: leaf.hash))[-1][0]
    except ReserveProofError as exc:  # the leaves sum to 2**63 or more: no tree holds them
        findings.append(AuditFinding(exc.reason, f"the disclosed leaves cannot form a tree: {exc}"))
        return EMPTY_ROOT


def _root_findings(published: PublishedSnapshot, count: int, recomputed: SumRoot) -> list[AuditFinding]:
    findings: list[AuditFinding] = []
    if count != published.size:
        findings.append(
            AuditFinding(Reason.SIZE_MISMATCH, f"{count} leaves disclosed, the snapshot has {published.size}")
        )
    if recomputed.total != published.total:
        findings.append(
            AuditFinding(
                Reason.TOTAL_MISMATCH, f"the leaves add up to {recomputed.total}, the snapshot says {published.total}"
            )
        )
    if recomputed.hash != published.root_hash:
        findings.append(
            AuditFinding(
                Reason.ROOT_HASH_MISMATCH,
                f"the leaves hash to {recomputed.hash.hex()}, the snapshot's root is {published.root_hash.hex()}",
            )
        )
    return findings
