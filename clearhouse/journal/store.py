"""The storage interface every journal backend implements, and the node cache over it.

A backend stores, durably and append-only: the genesis, the entries (by sequence
number), the Merkle tree's nodes, signed checkpoints and snapshots. `append` writes
a batch of entries and the tree nodes they close in one transaction and returns
only once that transaction is durable: that is the group commit every
acknowledgement waits for.

A backend opened read-only (`open_store(url, read_only=True)`, what the auditor
uses) never writes: it creates no table, and a store that holds no journal is
refused with `NotAJournalError`. Reading stored data that cannot be the journal's
(a value of the wrong type, a damaged database page) raises `StoreReadError`,
naming the entry or the page where it can, never a backend's own exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.merkle import MemoryHashStore

Node = tuple[int, int, bytes]
"""(level, index, hash) of a Merkle tree node."""


class NotAJournalError(Exception):
    """Opened read-only, the store holds no journal: not a database, or no journal tables."""


class StoreReadError(Exception):
    """Stored data cannot be read as the journal's: a value of the wrong type, or a
    damaged file. The message says where; `seq` is the entry's, when one is named."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class JournalStore(Protocol):
    def load_genesis(self) -> bytes | None: ...

    def save_genesis(self, data: bytes) -> None: ...

    def size(self) -> int:
        """How many entries are stored (the last sequence number)."""
        ...

    def append(self, entries: Sequence[JournalEntry], nodes: Sequence[Node]) -> None:
        """Store entries and tree nodes atomically and durably."""
        ...

    def read(self, start_seq: int = 1, stop_seq: int | None = None) -> Iterator[JournalEntry]:
        """Entries with start_seq <= seq < stop_seq (to the end when None), in order."""
        ...

    def nodes(self) -> Iterator[Node]:
        """Every stored tree node, level by level, index by index."""
        ...

    def save_checkpoint(self, size: int, note: bytes) -> None: ...

    def checkpoints(self) -> list[tuple[int, bytes]]:
        """Every signed checkpoint note by tree size, oldest first."""
        ...

    def save_snapshot(self, seq: int, data: bytes) -> None: ...

    def snapshots(self) -> Iterator[tuple[int, bytes]]:
        """Stored snapshots, newest first."""
        ...

    def close(self) -> None: ...


class PersistedHashStore(MemoryHashStore):
    """The tree's nodes in memory, with the ones appended since the last commit queued
    for the backend to write in the same transaction as their entries."""

    __slots__ = ("_pending",)

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        super().__init__()
        self._pending: list[Node] = []
        columns: dict[int, list[bytes]] = {}
        for level, index, node in nodes:
            column = columns.setdefault(level, [])
            if index != len(column):
                raise ValueError(f"tree node ({level}, {index}) out of order or missing")
            column.append(node)
        for level in sorted(columns):
            if level != len(self._levels):
                raise ValueError(f"tree level {level} stored without level {len(self._levels)}")
            self._levels.append(bytearray(b"".join(columns[level])))

    def append(self, column: Sequence[bytes]) -> None:
        for level, node in enumerate(column):
            self._pending.append((level, self.count(level), node))
        super().append(column)

    def take_pending(self) -> list[Node]:
        pending, self._pending = self._pending, []
        return pending

    def discard_pending(self) -> None:
        """Forget nodes whose commit failed (the journal stops; recovery rebuilds them)."""
        self._pending = []
