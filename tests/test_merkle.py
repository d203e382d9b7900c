"""Merkle trees (merkle.py): RFC 9162's tree hash and inclusion proofs, checked against the published test vectors
of Certificate Transparency and by properties over trees of every small size."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.merkle import MAX_PATH, inclusion_paths, leaf_hash, root_from_path, tree_root

CT_LEAVES = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

leaves = st.lists(st.binary(max_size=8), min_size=1, max_size=40, unique=True).map(
    lambda data: [leaf_hash(d) for d in data]
)


@pytest.mark.parametrize("size", range(1, 9))
def test_the_root_of_the_certificate_transparency_test_leaves_is_the_published_one(size: int) -> None:
    assert tree_root([leaf_hash(data) for data in CT_LEAVES[:size]]).hex() == CT_ROOTS[size - 1]


def test_the_root_of_no_leaves_is_the_hash_of_nothing() -> None:
    assert tree_root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


@given(leaves)
def test_every_leafs_path_leads_to_the_root(tree: list[bytes]) -> None:
    root, paths = inclusion_paths(tree)
    assert root == tree_root(tree)
    for index, path in enumerate(paths):
        assert root_from_path(tree[index], index, len(tree), path) == root


def _changed_or_refused(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    try:
        return root_from_path(leaf, index, size, path) != root
    except ValueError:
        return True


@given(leaves, st.data())
def test_a_path_proves_nothing_for_another_leaf_or_place_among_distinct_leaves(
    tree: list[bytes], data: st.DataObject
) -> None:
    root, paths = inclusion_paths(tree)
    index = data.draw(st.integers(0, len(tree) - 1))
    path = paths[index]
    assert _changed_or_refused(leaf_hash(b"forged"), index, len(tree), path, root)
    if len(tree) > 1:
        other = data.draw(st.integers(0, len(tree) - 1).filter(lambda i: i != index))
        assert _changed_or_refused(tree[index], other, len(tree), path, root)


def test_the_same_path_can_fit_a_larger_tree_which_is_why_a_signer_signs_the_size_with_the_root() -> None:
    tree = [leaf_hash(bytes([i])) for i in range(3)]
    root, paths = inclusion_paths(tree)
    assert root_from_path(tree[0], 0, 4, paths[0]) == root


@given(leaves, st.data())
def test_a_path_with_any_bit_flipped_proves_nothing(tree: list[bytes], data: st.DataObject) -> None:
    root, paths = inclusion_paths(tree)
    index = data.draw(st.integers(0, len(tree) - 1))
    path = paths[index]
    if not path:
        return
    step = data.draw(st.integers(0, len(path) - 1))
    bit = data.draw(st.integers(0, 8 * 32 - 1))
    flipped = bytearray(path[step])
    flipped[bit // 8] ^= 1 << (bit % 8)
    assert _changed_or_refused(tree[index], index, len(tree), [*path[:step], bytes(flipped), *path[step + 1 :]], root)


@pytest.mark.parametrize(
    ("index", "size", "path", "message"),
    [
        (3, 3, [], "outside a tree"),
        (-1, 3, [], "outside a tree"),
        (0, 2, [bytes(32)] * 2, "longer than the tree is deep"),
        (0, 4, [bytes(32)], "shorter than the tree is deep"),
        (0, 2, [bytes(31)], "hashes of 32 bytes"),
        (0, 2, [bytes(32)] * (MAX_PATH + 1), "at most 64 hashes"),
    ],
)
def test_a_path_that_cannot_fit_its_tree_is_refused_naming_why(
    index: int, size: int, path: list[bytes], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        root_from_path(leaf_hash(b"x"), index, size, path)
