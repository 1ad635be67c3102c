"""The Merkle tree against RFC 9162 section 2.1, written out again here the plain way.

The reference below is the RFC's recursive MTH, PATH and PROOF/SUBPROOF over a list of
leaf hashes (MTH memoised, so that every size up to 1,000 and every index stays fast).
The tree must give the reference's roots and proofs for every size 1..1000 and every
leaf index, and for every pair of sizes up to 300 plus sampled pairs up to 1,000; the
verifiers must accept all of them and reject any proof, index, size or root that was
tampered with; and the RFC's rejections must hold as the RFC words them.
"""

from __future__ import annotations

import functools
import hashlib
import random
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

import clearhouse.journal
from clearhouse.journal.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MemoryHashStore,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

SIZE_MAX = 1000
"""Every tree size up to this one is checked against the reference, with every index."""

PAIR_SIZE_MAX = 300
"""Every (old size, new size) pair up to this size is checked for consistency."""

SAMPLED_PAIRS = 4000
"""Seeded random (old size, new size) pairs up to SIZE_MAX checked for consistency."""


def _entry(i: int) -> bytes:
    return b"entry %d" % i


# --- The reference: RFC 9162 section 2.1, recursively --------------------------------


def _ref_leaf(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def _ref_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


LEAVES = [_ref_leaf(_entry(i)) for i in range(SIZE_MAX)]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def ref_mth(start: int, end: int) -> bytes:
    """MTH(D[start:end])."""
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return LEAVES[start]
    k = _split(n)
    return _ref_node(ref_mth(start, start + k), ref_mth(start + k, end))


def ref_path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end]), m counted from start."""
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*ref_path(m, start, start + k), ref_mth(start + k, end)]
    return [*ref_path(m - k, start + k, end), ref_mth(start, start + k)]


def ref_subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b)."""
    n = end - start
    if m == n:
        return [] if complete else [ref_mth(start, end)]
    k = _split(n)
    if m <= k:
        return [*ref_subproof(m, start, start + k, complete), ref_mth(start + k, end)]
    return [*ref_subproof(m - k, start + k, end, False), ref_mth(start, start + k)]


def ref_proof(m: int, n: int) -> list[bytes]:
    """PROOF(m, D[n])."""
    return ref_subproof(m, 0, n, True)


@functools.cache
def full_tree() -> MerkleTree:
    """One tree of SIZE_MAX leaves, shared by the tests that only read."""
    tree = MerkleTree()
    for i in range(SIZE_MAX):
        tree.append(_entry(i))
    return tree


# --- Hashing and the published Certificate Transparency vectors ----------------------

# The vectors published with the Certificate Transparency reference implementations
# (RFC 6962 hashing, which RFC 9162 keeps): eight entries, the root of every prefix of
# them, and some of their proofs.
CT_ENTRIES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CT_CONSISTENCY = [
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def test_hashes_are_the_rfc_prefixed_sha256() -> None:
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert (
        node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()
    )
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert len(EMPTY_ROOT) == HASH_SIZE


def test_the_certificate_transparency_vectors() -> None:
    tree = MerkleTree()
    assert tree.root().hex() == CT_ROOTS[0]
    for entry in CT_ENTRIES:
        tree.append(entry)
    for size, expected in enumerate(CT_ROOTS):
        assert tree.root(size).hex() == expected, size
    for index, size, path in CT_INCLUSION:
        proof = tree.inclusion_proof(index, size)
        assert [p.hex() for p in proof] == path
        root = bytes.fromhex(CT_ROOTS[size])
        assert verify_inclusion(leaf_hash(CT_ENTRIES[index]), index, size, proof, root)
    for old_size, new_size, path in CT_CONSISTENCY:
        proof = tree.consistency_proof(old_size, new_size)
        assert [p.hex() for p in proof] == path
        old_root = bytes.fromhex(CT_ROOTS[old_size])
        new_root = bytes.fromhex(CT_ROOTS[new_size])
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)


# --- Every size, every index, every pair: the tree equals the reference --------------

# Work grows with the square of the size: four slices of about equal work, one test each
# so that pytest-xdist can spread them.
SIZE_SLICES = [(1, 500), (501, 707), (708, 866), (867, SIZE_MAX)]


@pytest.mark.parametrize(("first", "last"), SIZE_SLICES)
def test_every_root_and_inclusion_proof_equals_the_reference(first: int, last: int) -> None:
    tree = MerkleTree()
    for size in range(1, last + 1):
        assert tree.append(_entry(size - 1)) == size - 1
        assert tree.size == size
        if size < first:
            continue
        root = tree.root()
        assert root == ref_mth(0, size)
        for index in range(size):
            proof = tree.inclusion_proof(index)
            assert proof == ref_path(index, 0, size), (index, size)
            assert verify_inclusion(LEAVES[index], index, size, proof, root), (index, size)


def test_every_historical_root_equals_the_reference() -> None:
    tree = full_tree()
    for size in range(SIZE_MAX + 1):
        assert tree.root(size) == ref_mth(0, size)


def test_inclusion_proofs_at_historical_sizes_equal_the_reference() -> None:
    tree = full_tree()
    rng = random.Random(9162)
    for _ in range(20_000):
        size = rng.randint(1, SIZE_MAX)
        index = rng.randrange(size)
        proof = tree.inclusion_proof(index, size)
        assert proof == ref_path(index, 0, size), (index, size)
        assert verify_inclusion(LEAVES[index], index, size, proof, ref_mth(0, size))


def test_every_consistency_proof_up_to_300_equals_the_reference() -> None:
    tree = full_tree()
    for new_size in range(1, PAIR_SIZE_MAX + 1):
        new_root = tree.root(new_size)
        for old_size in range(1, new_size + 1):
            proof = tree.consistency_proof(old_size, new_size)
            assert proof == ref_proof(old_size, new_size), (old_size, new_size)
            old_root = ref_mth(0, old_size)
            assert verify_consistency(old_size, new_size, old_root, new_root, proof)


def test_sampled_consistency_proofs_up_to_1000_equal_the_reference() -> None:
    tree = full_tree()
    rng = random.Random(6962)
    pairs = [(old, SIZE_MAX) for old in range(1, SIZE_MAX + 1)]
    pairs += [(old, new) for new in (511, 512, 513, 999) for old in (1, 2, 255, 256, 257, 511)]
    for _ in range(SAMPLED_PAIRS):
        new_size = rng.randint(1, SIZE_MAX)
        pairs.append((rng.randint(1, new_size), new_size))
    for old_size, new_size in pairs:
        proof = tree.consistency_proof(old_size, new_size)
        assert proof == ref_proof(old_size, new_size), (old_size, new_size)
        old_root, new_root = ref_mth(0, old_size), ref_mth(0, new_size)
        assert verify_consistency(old_size, new_size, old_root, new_root, proof)


# --- Tampering is rejected -----------------------------------------------------------


def _flip(proof: Sequence[bytes], element: int, bit: int) -> list[bytes]:
    tampered = list(proof)
    changed = bytearray(tampered[element])
    changed[bit // 8] ^= 1 << (bit % 8)
    tampered[element] = bytes(changed)
    return tampered


def _hash_along(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes:
    """The hash an inclusion path leads to, with none of the RFC's checks on fn and sn.

    The root a forger would claim for a tampered path: it passes every hash comparison,
    so only the RFC's index checks (steps 4a and 5) stand in its way.
    """
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if fn & 1 or fn == sn:
            r = _ref_node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = _ref_node(r, p)
        fn >>= 1
        sn >>= 1
    return r


sizes = st.integers(min_value=2, max_value=SIZE_MAX)
bits = st.integers(min_value=0, max_value=8 * HASH_SIZE - 1)


@st.composite
def leaf_in_tree(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def size_pair(draw: st.DrawFn) -> tuple[int, int]:
    new_size = draw(sizes)
    return draw(st.integers(min_value=1, max_value=new_size - 1)), new_size


@given(leaf_in_tree(), st.data())
def test_inclusion_rejects_any_single_bit_change_in_the_proof(
    leaf: tuple[int, int], data: st.DataObject
) -> None:
    index, size = leaf
    proof = full_tree().inclusion_proof(index, size)
    element = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    tampered = _flip(proof, element, data.draw(bits))
    assert not verify_inclusion(LEAVES[index], index, size, tampered, ref_mth(0, size))


@given(leaf_in_tree(), st.integers(min_value=-3, max_value=SIZE_MAX + 3))
def test_inclusion_rejects_a_wrong_index(leaf: tuple[int, int], other: int) -> None:
    index, size = leaf
    if other == index:
        other = index + 1
    proof = full_tree().inclusion_proof(index, size)
    assert not verify_inclusion(LEAVES[index], other, size, proof, ref_mth(0, size))


@given(leaf_in_tree(), st.integers(min_value=0, max_value=SIZE_MAX))
def test_inclusion_rejects_a_wrong_size(leaf: tuple[int, int], other: int) -> None:
    # A proof alone does not pin the size (leaf 0's path is the same length in trees of
    # 5 and 6 leaves); the signed (size, root) pair of a checkpoint does. So the wrong
    # size comes with its own root, as it would from another checkpoint.
    index, size = leaf
    if other == size:
        other = size - 1
    proof = full_tree().inclusion_proof(index, size)
    assert not verify_inclusion(LEAVES[index], index, other, proof, ref_mth(0, other))


@given(leaf_in_tree(), st.integers(min_value=1, max_value=3), st.binary(min_size=32, max_size=32))
def test_inclusion_rejects_a_truncated_or_extended_proof(
    leaf: tuple[int, int], count: int, extra: bytes
) -> None:
    index, size = leaf
    proof = full_tree().inclusion_proof(index, size)
    root = ref_mth(0, size)
    assert not verify_inclusion(LEAVES[index], index, size, proof[:-count], root)
    assert not verify_inclusion(LEAVES[index], index, size, proof[1:], root)
    assert not verify_inclusion(LEAVES[index], index, size, [*proof, extra], root)
    assert not verify_inclusion(LEAVES[index], index, size, [*proof, *proof[-count:]], root)
    assert not verify_inclusion(LEAVES[index], index, size, [extra, *proof], root)
    # The same paths, each with the root it does hash to: the index checks reject them.
    for tampered in (proof[:-count], [*proof, extra], [*proof, *proof[-count:]]):
        forged = _hash_along(LEAVES[index], index, size, tampered)
        assert not verify_inclusion(LEAVES[index], index, size, tampered, forged)


@given(leaf_in_tree(), st.integers(min_value=0, max_value=SIZE_MAX))
def test_inclusion_rejects_a_swapped_root_or_leaf(leaf: tuple[int, int], other: int) -> None:
    index, size = leaf
    proof = full_tree().inclusion_proof(index, size)
    if other != size:
        assert not verify_inclusion(LEAVES[index], index, size, proof, ref_mth(0, other))
    other_leaf = LEAVES[other % SIZE_MAX]
    if other % SIZE_MAX != index:
        assert not verify_inclusion(other_leaf, index, size, proof, ref_mth(0, size))
    assert not verify_inclusion(LEAVES[index], index, size, proof, LEAVES[index])


@given(size_pair(), st.data())
def test_consistency_rejects_any_single_bit_change_in_the_proof(
    pair: tuple[int, int], data: st.DataObject
) -> None:
    old_size, new_size = pair
    proof = full_tree().consistency_proof(old_size, new_size)
    element = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
    tampered = _flip(proof, element, data.draw(bits))
    old_root, new_root = ref_mth(0, old_size), ref_mth(0, new_size)
    assert not verify_consistency(old_size, new_size, old_root, new_root, tampered)


@given(size_pair(), st.integers(min_value=0, max_value=SIZE_MAX), st.booleans())
def test_consistency_rejects_a_wrong_size(
    pair: tuple[int, int], other: int, change_old: bool
) -> None:
    # As for inclusion, a wrong size comes with its own root.
    old_size, new_size = pair
    proof = full_tree().consistency_proof(old_size, new_size)
    if change_old:
        if other == old_size:
            other = old_size - 1
        old_root, new_root = ref_mth(0, other), ref_mth(0, new_size)
        assert not verify_consistency(other, new_size, old_root, new_root, proof)
    else:
        if other == new_size:
            other = new_size - 1
        old_root, new_root = ref_mth(0, old_size), ref_mth(0, other)
        assert not verify_consistency(old_size, other, old_root, new_root, proof)


@given(size_pair(), st.integers(min_value=1, max_value=3), st.binary(min_size=32, max_size=32))
def test_consistency_rejects_a_truncated_or_extended_proof(
    pair: tuple[int, int], count: int, extra: bytes
) -> None:
    old_size, new_size = pair
    proof = full_tree().consistency_proof(old_size, new_size)
    old_root, new_root = ref_mth(0, old_size), ref_mth(0, new_size)
    for tampered in (proof[:-count], proof[1:], [*proof, extra], [extra, *proof]):
        assert not verify_consistency(old_size, new_size, old_root, new_root, tampered)
    assert not verify_consistency(old_size, new_size, old_root, new_root, [*proof, *proof[-count:]])


@given(size_pair(), st.integers(min_value=1, max_value=SIZE_MAX))
def test_consistency_rejects_swapped_roots(pair: tuple[int, int], other: int) -> None:
    old_size, new_size = pair
    proof = full_tree().consistency_proof(old_size, new_size)
    old_root, new_root = ref_mth(0, old_size), ref_mth(0, new_size)
    assert not verify_consistency(old_size, new_size, new_root, old_root, proof)
    if other != old_size:
        assert not verify_consistency(old_size, new_size, ref_mth(0, other), new_root, proof)
    if other != new_size:
        assert not verify_consistency(old_size, new_size, old_root, ref_mth(0, other), proof)


# --- The RFC's rejections, and arguments that have no proof --------------------------


def test_inclusion_verification_rejects_what_the_rfc_rejects() -> None:
    tree = full_tree()
    proof = tree.inclusion_proof(4, 5)
    root = tree.root(5)
    assert verify_inclusion(LEAVES[4], 4, 5, proof, root)
    # Step 1: leaf_index >= tree_size.
    assert not verify_inclusion(LEAVES[4], 5, 5, proof, root)
    assert not verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)
    # Unsigned in the RFC: a negative index or size.
    assert not verify_inclusion(LEAVES[4], -1, 5, proof, root)
    assert not verify_inclusion(LEAVES[0], 0, -1, [], LEAVES[0])
    # Step 4a (sn is 0 with path left) and step 5 (sn is not 0 at the end).
    assert not verify_inclusion(LEAVES[4], 4, 5, [*proof, root], root)
    assert not verify_inclusion(LEAVES[4], 4, 5, proof[:-1], root)
    # Step 5, with roots the short paths do reach: a subtree's root is not the tree's.
    assert not verify_inclusion(LEAVES[0], 0, 2, [], LEAVES[0])
    assert not verify_inclusion(LEAVES[0], 0, 4, [LEAVES[1]], node_hash(LEAVES[0], LEAVES[1]))
    # Step 4a with a root the long path does reach: a tree of one leaf has the empty
    # path, and only the empty path.
    assert verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])
    assert not verify_inclusion(LEAVES[0], 0, 1, [LEAVES[1]], node_hash(LEAVES[0], LEAVES[1]))
    assert not verify_inclusion(LEAVES[0], 0, 1, [LEAVES[1]], node_hash(LEAVES[1], LEAVES[0]))


def test_consistency_verification_rejects_what_the_rfc_rejects() -> None:
    tree = full_tree()
    root = {size: tree.root(size) for size in range(9)}
    proof = tree.consistency_proof(3, 7)
    assert verify_consistency(3, 7, root[3], root[7], proof)
    # From size 0: outside the RFC's 0 < first, whatever the proof.
    assert not verify_consistency(0, 7, EMPTY_ROOT, root[7], [])
    assert not verify_consistency(0, 7, EMPTY_ROOT, root[7], proof)
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    # To a smaller size.
    assert not verify_consistency(7, 3, root[7], root[3], proof)
    assert not verify_consistency(7, 3, root[7], root[3], [])
    # Step 1: an empty path for 0 < first < second, even with first a power of two.
    assert not verify_consistency(3, 7, root[3], root[7], [])
    assert not verify_consistency(4, 8, root[4], root[8], [])
    # Step 6a and step 7's sn == 0.
    assert not verify_consistency(3, 7, root[3], root[7], [*proof, root[7]])
    assert not verify_consistency(3, 7, root[3], root[7], proof[:-1])
    # Step 7's sn == 0 with the root the short path does reach: the root of 4 leaves
    # passed off as the root of 8.
    short = [node_hash(LEAVES[2], LEAVES[3])]
    assert tree.consistency_proof(2, 4) == short
    assert verify_consistency(2, 4, root[2], root[4], short)
    assert not verify_consistency(2, 8, root[2], root[4], short)
    # Equal sizes: valid with the empty proof and equal roots, and only then.
    assert verify_consistency(5, 5, root[5], root[5], [])
    assert not verify_consistency(5, 5, root[5], root[6], [])
    assert not verify_consistency(5, 5, root[5], root[5], [root[5]])


def test_proofs_for_arguments_that_have_none_raise() -> None:
    tree = full_tree()
    bad_inclusion = [(SIZE_MAX, None), (-1, None), (5, 5), (0, 0), (0, -1), (0, SIZE_MAX + 1)]
    for index, size in bad_inclusion:
        with pytest.raises(ValueError, match="no inclusion proof"):
            tree.inclusion_proof(index, size)
    bad_consistency = [(0, 5), (0, None), (-1, 5), (6, 5), (SIZE_MAX + 1, None), (1, SIZE_MAX + 1)]
    for old_size, new_size in bad_consistency:
        with pytest.raises(ValueError, match="no consistency proof"):
            tree.consistency_proof(old_size, new_size)
    for size in (-1, SIZE_MAX + 1):
        with pytest.raises(ValueError, match="no root"):
            tree.root(size)
    assert tree.consistency_proof(SIZE_MAX) == []
    assert tree.consistency_proof(7, 7) == []
    empty = MerkleTree()
    assert empty.size == 0
    assert empty.root() == EMPTY_ROOT == empty.root(0)
    with pytest.raises(ValueError, match="no inclusion proof"):
        empty.inclusion_proof(0)
    with pytest.raises(ValueError, match="no consistency proof"):
        empty.consistency_proof(0)


def test_the_verifiers_take_only_32_byte_hashes() -> None:
    """RFC 9162 section 4: a shorter or longer byte string is never a hash, even where
    the algorithm would never look at it (a size-1 tree, equal sizes)."""
    assert not verify_inclusion(b"abc", 0, 1, [], b"abc")
    assert not verify_consistency(3, 3, b"", b"", [])
    tree = full_tree()
    proof, root = tree.inclusion_proof(4, 5), tree.root(5)
    assert verify_inclusion(LEAVES[4], 4, 5, proof, root)
    cproof = tree.consistency_proof(3, 7)
    assert verify_consistency(3, 7, tree.root(3), tree.root(7), cproof)
    for wrong in (b"", LEAVES[4][:31], LEAVES[4] + b"\x00", "a" * 32):
        assert not verify_inclusion(wrong, 4, 5, proof, root)  # type: ignore[arg-type]
        assert not verify_inclusion(LEAVES[4], 4, 5, proof, wrong)  # type: ignore[arg-type]
        assert not verify_inclusion(LEAVES[4], 4, 5, [*proof[:-1], wrong], root)  # type: ignore[list-item]
        assert not verify_inclusion(wrong, 0, 1, [], wrong)  # type: ignore[arg-type]
        assert not verify_consistency(3, 7, wrong, tree.root(7), cproof)  # type: ignore[arg-type]
        assert not verify_consistency(3, 7, tree.root(3), wrong, cproof)  # type: ignore[arg-type]
        assert not verify_consistency(3, 7, tree.root(3), tree.root(7), [wrong, *cproof[1:]])  # type: ignore[list-item]
        assert not verify_consistency(5, 5, wrong, wrong, [])  # type: ignore[arg-type]
    # A 32-byte leaf hash is the root of the tree of that one leaf.
    assert verify_inclusion(LEAVES[0], 0, 1, [], LEAVES[0])


def test_a_leaf_hash_must_be_32_bytes() -> None:
    tree = MerkleTree()
    for wrong in (b"", b"x" * 31, b"x" * 33):
        with pytest.raises(ValueError, match="32 bytes"):
            tree.append_leaf_hash(wrong)
    assert tree.size == 0
    assert tree.append_leaf_hash(LEAVES[0]) == 0
    assert tree.root() == LEAVES[0]


# --- Storage: the layout, O(log n) reads, and resuming over a store ------------------


class CountingStore(MemoryHashStore):
    """A memory store that counts the nodes read."""

    __slots__ = ("reads",)

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def get(self, level: int, index: int) -> bytes:
        self.reads += 1
        return super().get(level, index)

    def get_many(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        self.reads += len(nodes)
        return super().get_many(nodes)


def test_the_store_holds_every_complete_aligned_subtree() -> None:
    tree = MerkleTree(store := MemoryHashStore())
    for i in range(SIZE_MAX):
        tree.append(_entry(i))
    for level in range(SIZE_MAX.bit_length() + 1):
        assert store.count(level) == SIZE_MAX >> level
        for index in range(SIZE_MAX >> level):
            width = 1 << level
            assert store.get(level, index) == ref_mth(index * width, (index + 1) * width)


def test_appends_and_proofs_read_a_logarithmic_number_of_nodes() -> None:
    store = CountingStore()
    tree = MerkleTree(store)
    for i in range(SIZE_MAX):
        store.reads = 0
        tree.append(_entry(i))
        assert store.reads <= i.bit_length()
    bound = 2 * SIZE_MAX.bit_length()
    rng = random.Random(1)
    for _ in range(2_000):
        size = rng.randint(1, SIZE_MAX)
        store.reads = 0
        tree.inclusion_proof(rng.randrange(size), size)
        assert store.reads <= bound
        store.reads = 0
        tree.consistency_proof(rng.randint(1, size), size)
        assert store.reads <= bound
        store.reads = 0
        tree.root(size)
        assert store.reads <= bound


def test_a_tree_opened_over_a_store_resumes_where_it_was() -> None:
    store = MemoryHashStore()
    first = MerkleTree(store)
    for i in range(300):
        first.append(_entry(i))
    again = MerkleTree(store)
    assert again.size == 300
    assert again.root() == ref_mth(0, 300)
    for i in range(300, 450):
        again.append(_entry(i))
    assert again.root() == ref_mth(0, 450)
    assert again.consistency_proof(300) == ref_proof(300, 450)


def test_a_store_with_missing_nodes_is_refused() -> None:
    store = MemoryHashStore()
    store.append([LEAVES[0]])
    store.append([LEAVES[1]])  # the node over leaves 0 and 1 never written
    with pytest.raises(AssertionError, match="level 1"):
        MerkleTree(store)


def test_the_journal_package_exports_the_tree() -> None:
    names = {
        "EMPTY_ROOT",
        "HASH_SIZE",
        "HashStore",
        "MemoryHashStore",
        "MerkleTree",
        "leaf_hash",
        "node_hash",
        "verify_consistency",
        "verify_inclusion",
    }
    assert names <= set(clearhouse.journal.__all__)
    for name in names:
        assert getattr(clearhouse.journal, name) is not None
