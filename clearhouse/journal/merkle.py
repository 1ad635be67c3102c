"""The RFC 9162 (Certificate Transparency v2) Merkle tree over the journal's entries.

Hashing (RFC 9162 section 2.1.1): a leaf is SHA-256(0x00 || entry), an interior node is
SHA-256(0x01 || left || right), a tree of n > 1 leaves splits at k, the largest power of
two smaller than n, and the empty tree's root is SHA-256 of the empty string.

Storage. The tree keeps the hash of every complete, aligned subtree: level 0 holds the
leaf hashes, level k holds the hash of each aligned block of 2^k leaves
(node (k, i) covers leaves [i * 2^k, (i + 1) * 2^k)). Node (k, i) exists once
(i + 1) * 2^k leaves have been appended, and never changes after that. Appending a leaf
adds it to level 0 and closes, on average, one more node above it. Every other hash
the RFC asks for is a fold of at most log2(n) stored nodes: the root of size m is the
fold, right to left, of the nodes for the set bits of m; the right-hand sibling that a
proof needs where the tree of size m is still incomplete (the "border" node) is the same
fold over the bits of m below its level. So `root`, `inclusion_proof` and
`consistency_proof` read O(log n) stored nodes for any size m <= n, and never an entry.

The nodes live behind `HashStore`: `count` nodes at a level, `get` one, `get_many` in
one call (one query for a database), and `append` the column of nodes one leaf closes
(in one transaction for a database). `MemoryHashStore` keeps one bytearray per level:
2n - popcount(n) nodes of 32 bytes, 64 MB for 1,000,000 leaves. The journal's SQLite
and PostgreSQL stores can keep the same (level, index) -> hash rows, and a tree opened
over them resumes at the size they hold. Border nodes and roots folded for a size are
cached for the last `border_cache_sizes_max` sizes; stored nodes never change, so
nothing is invalidated. The tree has one writer; reads from other threads need a lock
around it.

Proof order and verification follow RFC 9162 sections 2.1.3 and 2.1.4 to the letter:
proofs list hashes from the bottom of the tree up; `verify_inclusion` and
`verify_consistency` run the RFC's algorithms with the RFC's rejections, and reject
any leaf hash, root or proof element that is not `HASH_SIZE` bytes (RFC 9162 section 4:
every hash of a log is the output of its one hash algorithm), so no shorter or longer
byte string is ever taken for a hash. Generating a proof for arguments that have none
raises `ValueError`; verifying one returns False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "HashStore",
    "MemoryHashStore",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Bytes in a SHA-256 hash: every leaf, node, root and proof element."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1)."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def leaf_hash(entry: bytes) -> bytes:
    """The hash of a leaf: SHA-256(0x00 || entry)."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


class HashStore(Protocol):
    """Where a `MerkleTree` keeps its nodes: (level, index) -> 32-byte hash.

    Level 0 holds the leaf hashes; node (k, i) is the hash of the aligned block of 2^k
    leaves starting at leaf i * 2^k. Levels only grow, and a stored node never changes.
    """

    def count(self, level: int) -> int:
        """How many nodes the level holds (0 for a level never reached)."""
        ...

    def get(self, level: int, index: int) -> bytes:
        """The hash of node (level, index); the node must be stored."""
        ...

    def get_many(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        """The hashes of the given (level, index) nodes, in order, in one read."""
        ...

    def append(self, column: Sequence[bytes]) -> None:
        """Append column[k] to level k for each k, as one atomic write.

        A leaf's column is its hash followed by the nodes it closes, level by level.
        """
        ...


class MemoryHashStore:
    """A `HashStore` in memory: one bytearray per level, 32 bytes a node."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[bytearray] = []

    def count(self, level: int) -> int:
        levels = self._levels
        return len(levels[level]) // HASH_SIZE if level < len(levels) else 0

    def get(self, level: int, index: int) -> bytes:
        start = index * HASH_SIZE
        node = bytes(self._levels[level][start : start + HASH_SIZE])
        assert len(node) == HASH_SIZE, f"node ({level}, {index}) is not stored"
        return node

    def get_many(self, nodes: Sequence[tuple[int, int]]) -> list[bytes]:
        # The proofs' hot loop: index << 5 is index * HASH_SIZE.
        levels = self._levels
        return [bytes(levels[level][index << 5 : (index + 1) << 5]) for level, index in nodes]

    def append(self, column: Sequence[bytes]) -> None:
        levels = self._levels
        while len(levels) < len(column):
            levels.append(bytearray())
        for level, node in enumerate(column):
            levels[level] += node


class MerkleTree:
    """An append-only RFC 9162 Merkle tree whose nodes live in a `HashStore`.

    Leaves are numbered from 0. Opened over a store that already holds nodes, the tree
    resumes at the size the store holds.
    """

    border_cache_sizes_max = 16
    """How many tree sizes keep their folded border nodes and root in memory."""

    __slots__ = ("_borders", "_size", "_store")

    def __init__(self, store: HashStore | None = None) -> None:
        self._store: HashStore = MemoryHashStore() if store is None else store
        self._size = self._store.count(0)
        self._borders: dict[int, list[bytes]] = {}
        for level in range(1, self._size.bit_length() + 1):
            held = self._store.count(level)
            assert held == self._size >> level, (
                f"store holds {held} nodes at level {level}, expected {self._size >> level}"
            )

    @property
    def size(self) -> int:
        """The number of leaves appended."""
        return self._size

    def append(self, entry: bytes) -> int:
        """Append an entry's leaf; return its leaf index."""
        return self.append_leaf_hash(_sha256(_LEAF_PREFIX + entry).digest())

    def append_leaf_hash(self, leaf: bytes) -> int:
        """Append a leaf by its hash (see `leaf_hash`); return its leaf index."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf)}")
        store = self._store
        index = self._size
        column = [bytes(leaf)]
        node = column[0]
        level = 0
        position = index
        while position & 1:
            node = _sha256(_NODE_PREFIX + store.get(level, position - 1) + node).digest()
            column.append(node)
            level += 1
            position >>= 1
        store.append(column)
        self._size = index + 1
        return index

    def root(self, size: int | None = None) -> bytes:
        """The root of the tree of the first `size` leaves (default: all)."""
        if size is None:
            size = self._size
        elif not 0 <= size <= self._size:
            raise ValueError(f"no root for size {size}: the tree has {self._size} leaves")
        if size == 0:
            return EMPTY_ROOT
        return self._border(size)[-1]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 section 2.1.3.1: sibling hashes, bottom up.

        Raises ValueError unless 0 <= index < size <= the tree's size.
        """
        if size is None:
            size = self._size
        elif not 0 < size <= self._size:
            raise ValueError(f"no inclusion proof at size {size}: sizes run from 1 to {self._size}")
        if not 0 <= index < size:
            raise ValueError(
                f"no inclusion proof for leaf {index} in a tree of size {size}: "
                f"leaf indices run from 0 to {size - 1}"
            )
        return self._path(index, 0, size, [])

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) of RFC 9162 section 2.1.4.1, bottom up.

        Empty when the sizes are equal. Raises ValueError unless
        0 < old_size <= new_size <= the tree's size.
        """
        if new_size is None:
            new_size = self._size
        elif not 0 < new_size <= self._size:
            raise ValueError(
                f"no consistency proof to size {new_size}: sizes run from 1 to {self._size}"
            )
        if old_size < 1:
            raise ValueError(
                f"no consistency proof from size {old_size}: the old size must be at least 1"
            )
        if old_size > new_size:
            raise ValueError(
                f"no consistency proof from size {old_size} to the smaller size {new_size}"
            )
        if old_size == new_size:
            return []
        # The largest complete subtree that ends at old_size: the proof is the path from
        # it to the root of new_size, led by the subtree's own hash unless it is the whole
        # old tree (old_size a power of two), whose root the verifier already holds.
        level = (old_size & -old_size).bit_length() - 1
        index = (old_size - 1) >> level
        if index == 0:
            return self._path(0, level, new_size, [])
        return self._path(index, level, new_size, [(level, index)])

    def _path(self, index: int, level: int, size: int, nodes: list[tuple[int, int]]) -> list[bytes]:
        """The hashes after `nodes` on the path from node (level, index) to the root of size.

        Below the fork, where the path to node (level, index) leaves the path to the last
        leaf, siblings are complete stored nodes; the sibling at the fork may be the
        border node (the incomplete subtree ending at `size`); above the fork the path runs
        along the right edge and takes the complete left sibling wherever there is one.
        """
        inner = (index ^ ((size - 1) >> level)).bit_length()
        border_level = -1
        at = 0
        if inner:
            top = level + inner - 1
            for depth in range(inner - 1):
                nodes.append((level + depth, (index >> depth) ^ 1))
            if size & ((1 << top) - 1):
                border_level = top
                at = len(nodes)
            else:
                nodes.append((top, (index >> (inner - 1)) ^ 1))
        position = index >> inner
        level += inner
        while position:
            if position & 1:
                nodes.append((level, position - 1))
            position >>= 1
            level += 1
        proof = self._store.get_many(nodes)
        if border_level >= 0:
            proof.insert(at, self._border(size)[border_level])
        return proof

    def _border(self, size: int) -> list[bytes]:
        """For 1 <= size: entry k is the root of leaves [size - size % 2^k, size).

        That range is covered by the stored nodes for the set bits of size below k; the
        entry is their fold, right to left (b"" where size % 2^k is 0). The last entry,
        k = size.bit_length(), is the root of the tree of `size` leaves.
        """
        border = self._borders.get(size)
        if border is not None:
            return border
        bits = size.bit_length()
        nodes = [(level, (size >> level) - 1) for level in range(bits) if size >> level & 1]
        hashes = iter(self._store.get_many(nodes))
        border = [b""]
        folded = b""
        for level in range(bits):
            if size >> level & 1:
                node = next(hashes)
                folded = node if not folded else node_hash(node, folded)
            border.append(folded)
        if len(self._borders) >= self.border_cache_sizes_max:
            del self._borders[next(iter(self._borders))]
        self._borders[size] = border
        return border


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether `proof` shows the leaf at `index` in the tree of `size` with `root`.

    RFC 9162 section 2.1.3.2, step by step; leaf_index and tree_size are unsigned in the
    RFC, so a negative one is rejected too, and so is a hash of any length but HASH_SIZE.
    """
    if not _all_hashes(leaf_hash, root, *proof):
        return False
    # 1. leaf_index >= tree_size fails.
    if index < 0 or index >= size:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1; 3. r = hash.
    fn = index
    sn = size - 1
    r = leaf_hash
    # 4. For each p in inclusion_path:
    for p in proof:
        # a. sn == 0 fails.
        if sn == 0:
            return False
        # b. LSB(fn) set or fn == sn: r = HASH(0x01 || p || r), then, if LSB(fn) is not
        #    set, shift fn and sn right until LSB(fn) is set or fn is 0.
        if fn & 1 or fn == sn:
            r = _sha256(_NODE_PREFIX + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        # Otherwise r = HASH(0x01 || r || p).
        else:
            r = _sha256(_NODE_PREFIX + r + p).digest()
        # c. Shift fn and sn right once.
        fn >>= 1
        sn >>= 1
    # 5. Valid if sn == 0 and r == root_hash.
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` shows the tree of `new_size` extends the tree of `old_size`.

    RFC 9162 section 2.1.4.2, step by step, for 0 < old_size < new_size. Equal sizes need
    an empty proof and equal roots (the RFC's PROOF(m, D[m]) is empty). An old size of 0,
    outside the RFC's 0 < first, and a new size smaller than the old are rejected, and so
    is a hash of any length but HASH_SIZE.
    """
    if not _all_hashes(old_root, new_root, *proof):
        return False
    if old_size < 1 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    # 1. An empty consistency_path fails.
    if not proof:
        return False
    path = list(proof)
    # 2. If first is an exact power of 2, prepend first_hash to consistency_path.
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    # 3. fn = first - 1, sn = second - 1.
    fn = old_size - 1
    sn = new_size - 1
    # 4. While LSB(fn) is set, shift fn and sn right.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value of consistency_path.
    fr = sr = path[0]
    # 6. For each subsequent c in consistency_path:
    for c in path[1:]:
        # a. sn == 0 fails.
        if sn == 0:
            return False
        # b. LSB(fn) set or fn == sn: fr = HASH(0x01 || c || fr), sr = HASH(0x01 || c || sr),
        #    then, if LSB(fn) is not set, shift fn and sn right until LSB(fn) is set or fn
        #    is 0.
        if fn & 1 or fn == sn:
            fr = _sha256(_NODE_PREFIX + c + fr).digest()
            sr = _sha256(_NODE_PREFIX + c + sr).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        # Otherwise sr = HASH(0x01 || sr || c).
        else:
            sr = _sha256(_NODE_PREFIX + sr + c).digest()
        # c. Shift fn and sn right once.
        fn >>= 1
        sn >>= 1
    # 7. Valid if fr == first_hash, sr == second_hash and sn == 0.
    return fr == old_root and sr == new_root and sn == 0


def _all_hashes(*values: bytes) -> bool:
    """Whether every value is a hash: bytes-like and exactly HASH_SIZE long."""
    return all(
        isinstance(value, bytes | bytearray | memoryview) and len(value) == HASH_SIZE
        for value in values
    )
