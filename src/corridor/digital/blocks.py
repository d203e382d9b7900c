"""Blocks and inclusion proofs: what anyone can check about a platform's history without asking the platform.

A block is a header signed by the platform's operator: the previous block's hash (so history cannot be rewritten
without every later hash changing), the time, and the RFC 9162 Merkle root over the block's transactions, each
entering the tree as its signed bytes (digital/tx.py). An inclusion proof is one transaction, its place in the tree,
the path to the root, and the signed header: with the operator's public key, known beforehand, `verify_proof`
checks it offline, and docs/digital.md describes every byte so that independent code can do the same.

Why sign every header rather than rely on the chain alone: a proof is checked on its own, months later, by someone
who never saw the chain; the signature binds the root to the operator, and the chain binds the blocks to each other
for those who keep them.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from typing import Any

from corridor import merkle
from corridor.digital import tx as txmod
from corridor.network.identity import SIGNATURE_BYTES, SigningKey, verify_signature

BLOCK_MAGIC = b"CDBK"
BLOCK_VERSION = 1
BLOCK_SIGNING_DOMAIN = b"corridor/block/v1\x00"
GENESIS_PREV = bytes(32)
PROOF_VERSION = 1
MAX_BLOCK_TXS = 65_536
MAX_PROOF_JSON = 256 * 1024
_HEADER_TAIL = struct.Struct(">Q32sQI32s")
_HEX = re.compile(r"[0-9a-f]*")


class ProofError(ValueError):
    """A proof does not hold; `reason` is a stable code (docs/digital.md lists them)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BlockHeader:
    platform: str
    height: int
    prev_hash: bytes
    time_ns: int
    tx_count: int
    tx_root: bytes

    def encode(self) -> bytes:
        platform = self.platform.encode("ascii")
        return (
            BLOCK_MAGIC
            + bytes((BLOCK_VERSION, len(platform)))
            + platform
            + _HEADER_TAIL.pack(self.height, self.prev_hash, self.time_ns, self.tx_count, self.tx_root)
        )

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.encode()).digest()

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "height": self.height,
            "prev_hash": self.prev_hash.hex(),
            "time_ns": self.time_ns,
            "tx_count": self.tx_count,
            "tx_root": self.tx_root.hex(),
        }


def decode_header(data: bytes) -> BlockHeader:
    """A header from its bytes (as stored); ProofError('malformed') for anything else."""
    if len(data) < 6 or data[:4] != BLOCK_MAGIC or data[4] != BLOCK_VERSION:
        raise ProofError("malformed", "not a version 1 block header")
    n = data[5]
    if len(data) != 6 + n + _HEADER_TAIL.size:
        raise ProofError("malformed", "block header has the wrong length")
    try:
        platform = data[6 : 6 + n].decode("ascii")
    except UnicodeDecodeError:
        raise ProofError("malformed", "the block header's platform id is not ASCII") from None
    height, prev_hash, time_ns, tx_count, tx_root = _HEADER_TAIL.unpack_from(data, 6 + n)
    return BlockHeader(platform, height, prev_hash, time_ns, tx_count, tx_root)


@dataclass(frozen=True, slots=True)
class SealedBlock:
    header: BlockHeader
    signature: bytes
    leaves: list[bytes]
    """Each transaction's signed bytes, in order."""


def seal(
    key: SigningKey, platform: str, height: int, prev_hash: bytes, time_ns: int, leaves: list[bytes]
) -> SealedBlock:
    """The next block over `leaves`, its header signed by the operator's key."""
    assert 1 <= len(leaves) <= MAX_BLOCK_TXS, "a block holds 1 to MAX_BLOCK_TXS transactions"
    assert height >= 1 and len(prev_hash) == 32
    root = merkle.tree_root([merkle.leaf_hash(leaf) for leaf in leaves])
    header = BlockHeader(platform, height, prev_hash, time_ns, len(leaves), root)
    return SealedBlock(header, key.sign(BLOCK_SIGNING_DOMAIN + header.encode()), leaves)


def header_signature_valid(header: BlockHeader, signature: bytes, platform_key: bytes) -> bool:
    return verify_signature(platform_key, signature, BLOCK_SIGNING_DOMAIN + header.encode())


def make_proof(block: SealedBlock, platform_key: bytes, index: int) -> dict[str, Any]:
    """The inclusion proof of the block's transaction at `index`, as the JSON document docs/digital.md describes."""
    leaf_hashes = [merkle.leaf_hash(leaf) for leaf in block.leaves]
    _root, paths = merkle.inclusion_paths(leaf_hashes)
    return {
        "version": PROOF_VERSION,
        "block": block.header.to_json(),
        "block_signature": block.signature.hex(),
        "platform_key": platform_key.hex(),
        "tx": block.leaves[index].hex(),
        "index": index,
        "path": [step.hex() for step in paths[index]],
    }


@dataclass(frozen=True, slots=True)
class ProofReport:
    """What a valid proof establishes."""

    platform: str
    height: int
    block_hash: str
    tx_id: str
    kind: str
    signer: str
    index: int


def verify_proof(document: object, trusted_keys: set[bytes]) -> ProofReport:
    """Check an inclusion proof offline against operator keys the verifier already trusts.

    Accepts the parsed JSON object or its text/bytes. Every failure is a ProofError with a reason code: malformed,
    untrusted_key, bad_block_signature, bad_tx, bad_tx_signature, wrong_platform, index_out_of_range, root_mismatch.
    """
    proof = _parse(document)
    header = _header_from(proof.get("block"))
    platform_key = _hex_field(proof, "platform_key", 32)
    if platform_key not in trusted_keys:
        raise ProofError("untrusted_key", "the block is signed by a key the verifier does not trust")
    signature = _hex_field(proof, "block_signature", SIGNATURE_BYTES)
    if not header_signature_valid(header, signature, platform_key):
        raise ProofError("bad_block_signature", "the block header's signature does not verify")
    raw = _hex_field(proof, "tx", None)
    try:
        tx = txmod.decode(raw)
    except txmod.TxFormatError as exc:
        raise ProofError("bad_tx", str(exc)) from None
    if tx.preimage is not None or tx.signed_bytes != raw:
        raise ProofError("bad_tx", "a leaf holds a transaction's signed bytes only")
    if not tx.signatures_valid():
        raise ProofError("bad_tx_signature", "the transaction's signature does not verify")
    if tx.platform != header.platform:
        raise ProofError("wrong_platform", f"the transaction is for {tx.platform}, the block is {header.platform}'s")
    index = proof.get("index")
    if type(index) is not int or not 0 <= index < header.tx_count:
        raise ProofError("index_out_of_range", f"index must be 0 to {header.tx_count - 1}")
    path_json = proof.get("path")
    if not isinstance(path_json, list) or len(path_json) > merkle.MAX_PATH:
        raise ProofError("malformed", "path must be a list of at most 64 hashes")
    path = [_hex_value(step, "path", 32) for step in path_json]
    try:
        root = merkle.root_from_path(merkle.leaf_hash(raw), index, header.tx_count, path)
    except ValueError as exc:
        raise ProofError("root_mismatch", str(exc)) from None
    if root != header.tx_root:
        raise ProofError("root_mismatch", "the path does not lead to the block's transaction root")
    return ProofReport(
        header.platform, header.height, header.hash.hex(), tx.id.hex(), tx.kind.name.lower(), tx.signer.hex(), index
    )


def _parse(document: object) -> dict[str, Any]:
    if isinstance(document, str | bytes):
        if len(document) > MAX_PROOF_JSON:
            raise ProofError("malformed", f"a proof is at most {MAX_PROOF_JSON} bytes")
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            raise ProofError("malformed", "not JSON") from None
    if not isinstance(document, dict):
        raise ProofError("malformed", "a proof is a JSON object")
    if document.get("version") != PROOF_VERSION:
        raise ProofError("malformed", f"version must be {PROOF_VERSION}")
    return document


def _header_from(block: object) -> BlockHeader:
    if not isinstance(block, dict):
        raise ProofError("malformed", "block must be an object")
    platform = block.get("platform")
    if not isinstance(platform, str) or not re.fullmatch(r"[A-Z0-9]{1,16}", platform):
        raise ProofError("malformed", "block.platform is not a platform id")
    ints = {}
    for name, high in (("height", 2**64 - 1), ("time_ns", 2**64 - 1), ("tx_count", MAX_BLOCK_TXS)):
        value = block.get(name)
        if type(value) is not int or not (1 if name != "time_ns" else 0) <= value <= high:
            raise ProofError("malformed", f"block.{name} is out of range")
        ints[name] = value
    return BlockHeader(
        platform,
        ints["height"],
        _hex_value(block.get("prev_hash"), "block.prev_hash", 32),
        ints["time_ns"],
        ints["tx_count"],
        _hex_value(block.get("tx_root"), "block.tx_root", 32),
    )


def _hex_field(proof: dict[str, Any], name: str, size: int | None) -> bytes:
    return _hex_value(proof.get(name), name, size)


def _hex_value(value: object, name: str, size: int | None) -> bytes:
    if not isinstance(value, str) or len(value) % 2 or not _HEX.fullmatch(value):
        raise ProofError("malformed", f"{name} must be lowercase hex")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        raise ProofError("malformed", f"{name} must be {size} bytes")
    return raw
