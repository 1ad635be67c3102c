"""Check 7, merkle: an RFC 9162 tree rebuilt from the entries, node by node against the store.

The tree is rebuilt here from the entries' bytes, never from the stored nodes. As
each entry is appended, every node it closes (its leaf, and the subtrees it
completes) is compared with the node stored at that place, so a changed entry or a
changed node is named at the entry where it first shows. At the end, the store must
hold no node beyond the entries audited. The rebuilt tree is also what the
checkpoints' roots and consistency proofs are checked against (check 8).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from clearhouse.audit.common import entry_label
from clearhouse.audit.report import Problem, stop
from clearhouse.journal.entry import JournalEntry, entry_bytes
from clearhouse.journal.merkle import HASH_SIZE, MemoryHashStore, MerkleTree
from clearhouse.journal.store import Node

MAX_TREE_LEVEL: Final = 64
"""No tree of 64-bit sizes has a node above this level."""


class StoredNodes:
    """The stored Merkle nodes, level by level, as far as each level is sound."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.levels: list[bytearray] = []
        self.broken: dict[int, str] = {}
        for level, index, node in nodes:
            if not 0 <= level <= MAX_TREE_LEVEL:
                self.broken.setdefault(-1, f"a node is stored at level {level}")
                continue
            if level in self.broken:
                continue
            while len(self.levels) <= level:
                self.levels.append(bytearray())
            column = self.levels[level]
            held = len(column) // HASH_SIZE
            if index != held:
                self.broken[level] = (
                    f"node ({level}, {held}) is missing"
                    if index > held
                    else f"node ({level}, {index}) is stored out of order"
                )
            elif len(node) != HASH_SIZE:
                self.broken[level] = f"node ({level}, {index}) is {len(node)} bytes"
            else:
                column += node

    def count(self, level: int) -> int:
        return len(self.levels[level]) // HASH_SIZE if level < len(self.levels) else 0

    def get(self, level: int, index: int) -> bytes | None:
        if index >= self.count(level):
            return None
        return bytes(self.levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE])


class ComparingHashStore(MemoryHashStore):
    """The rebuilt tree's nodes, each compared with the stored node as it is made."""

    __slots__ = ("_stored", "mismatches")

    def __init__(self, stored: StoredNodes) -> None:
        super().__init__()
        self._stored = stored
        self.mismatches: list[tuple[int, int, bytes | None, bytes]] = []

    def append(self, column: Sequence[bytes]) -> None:
        for level, node in enumerate(column):
            index = self.count(level)
            stored = self._stored.get(level, index)
            if stored != node:
                self.mismatches.append((level, index, stored, node))
        super().append(column)


class TreeCheck:
    """The tree rebuilt so far, compared with the stored one as it grows."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.stored = StoredNodes(nodes)
        self.hashes = ComparingHashStore(self.stored)
        self.tree = MerkleTree(self.hashes)

    def append(self, entry: JournalEntry) -> Problem | None:
        """Append the entry's leaf; the first stored node that differs from the rebuilt one."""
        self.tree.append(entry_bytes(entry))
        mismatches = self.hashes.mismatches
        if not mismatches:
            return None
        problem = ("merkle", self._node_problem(mismatches))
        mismatches.clear()
        return problem

    def _node_problem(self, mismatches: list[tuple[int, int, bytes | None, bytes]]) -> str:
        level, index, stored, rebuilt = mismatches[0]
        more = len(mismatches) - 1
        above = f" (and {more} stored node{'s' if more > 1 else ''} above it)" if more else ""
        if stored is None:
            broken = self.stored.broken.get(level)
            why = f": {broken}" if broken else ""
            return f"the stored Merkle tree has no node ({level}, {index}){why}"
        if level == 0:
            return (
                f"its Merkle leaf hash {rebuilt.hex()} differs from the stored leaf node "
                f"(0, {index}) {stored.hex()}{above}: the entry's bytes changed after it was "
                "journaled, or the stored node did"
            )
        return (
            f"stored Merkle node ({level}, {index}) {stored.hex()} differs from the node "
            f"{rebuilt.hex()} rebuilt from the entries{above}"
        )

    def end(self, n: int) -> None:
        """After the last of `n` entries: the store holds no node beyond them."""
        leaves = self.stored.count(0)
        if leaves > n:
            stop(
                "missing",
                f"{entry_label(n + 1, n + 1)}: missing: the journal ends at seq {n}, but the "
                f"stored Merkle tree holds {leaves} leaves",
                entry=n + 1,
            )
        for level in range(1, len(self.stored.levels)):
            held, expected = self.stored.count(level), n >> level
            if held > expected:
                stop(
                    "merkle",
                    f"stored Merkle tree: {held} nodes at level {level}, {expected} "
                    f"for {n} entries",
                )
        for level, why in sorted(self.stored.broken.items()):
            if level < 0 or self.stored.count(level) < n >> level:
                continue  # a gap inside the tree was reported at its entry
            stop("merkle", f"stored Merkle tree: {why}")
