"""Merkle trees as RFC 9162 (Certificate Transparency 2.0, section 2.1) defines them, over SHA-256.

Why a Merkle tree: one signature can then vouch for many records, and each record still travels alone with a short
proof (log2 of the batch size hashes) that it is one of them. The FX provider signs the root of a batch of quotes
once instead of every quote (fx/quotes.py), and the digital currency platforms will prove a transaction's place in
a block the same way.

Why RFC 9162 exactly: its leaf and node hashes are domain-separated (a 0x00 byte before a leaf, 0x01 before two
children), so no inner node can pass for a leaf (the second-preimage attack on naive trees), its shape for sizes
that are not powers of two is fixed, and its verification algorithm (section 2.1.3.2) is specified step by step,
so code written elsewhere from the RFC checks our proofs. Only hashlib's SHA-256 is used; the tree is a few lines
of arithmetic around it, which is why no library is taken for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_SIZE = 32
MAX_PATH = 64
"""An inclusion path in a tree of fewer than 2**64 leaves has at most 64 hashes; anything longer is refused."""


def leaf_hash(data: bytes) -> bytes:
    """HASH(0x00 || data): the hash a leaf enters the tree with."""
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size > 1): where RFC 9162 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) over leaf hashes; the root of no leaves is the hash of nothing."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(tree_root(leaves[:k]), tree_root(leaves[k:]))


def inclusion_paths(leaves: Sequence[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root over `leaves` (leaf hashes) and every leaf's inclusion path, in one pass over the tree.

    A path lists the sibling hashes from the leaf up to the root, as RFC 9162's PATH(m, D[n])."""
    if not leaves:
        raise ValueError("a tree with no leaves has no inclusion paths")
    if len(leaves) == 1:
        return leaves[0], [[]]
    k = _split(len(leaves))
    left_root, left_paths = inclusion_paths(leaves[:k])
    right_root, right_paths = inclusion_paths(leaves[k:])
    for path in left_paths:
        path.append(right_root)
    for path in right_paths:
        path.append(left_root)
    return _node(left_root, right_root), left_paths + right_paths


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """The root that `path` proves `leaf` (a leaf hash) to be at `index` of a tree of `size` leaves under, by
    RFC 9162 section 2.1.3.2; ValueError if the path cannot be one for that place. Compare the result with a root
    you trust (a signed one): a path that computes some other root proves nothing."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    if len(path) > MAX_PATH or any(len(step) != HASH_SIZE for step in path):
        raise ValueError("an inclusion path is at most 64 hashes of 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("the inclusion path is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the inclusion path is shorter than the tree is deep")
    return r
