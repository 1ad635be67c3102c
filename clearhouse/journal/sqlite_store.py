"""The embedded journal backend: one SQLite file in WAL mode with full sync.

Each `append` is one transaction: the batch's entries and the tree nodes they
close are inserted with executemany and committed; with `synchronous=FULL` the
commit returns after the WAL is fsynced, so a returned append survives a crash
or power loss. One commit per batch is the group commit: its fsync is shared by
every transaction in the batch.

Tree nodes are stored as runs: one row per level per batch holding the
concatenated hashes of consecutive nodes, so a batch of a thousand entries writes
a dozen node rows instead of two thousand. A run must continue its level exactly
where the stored ones end; anything else is refused as an integrity error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.merkle import HASH_SIZE
from clearhouse.journal.store import Node

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    timestamp_ns INTEGER NOT NULL,
    tx BLOB NOT NULL,
    outcome BLOB NOT NULL,
    chain_head BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS node_runs (
    level INTEGER NOT NULL,
    first_idx INTEGER NOT NULL,
    hashes BLOB NOT NULL,
    PRIMARY KEY (level, first_idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (size INTEGER PRIMARY KEY, note BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (seq INTEGER PRIMARY KEY, data BLOB NOT NULL);
"""


class SqliteJournal:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def load_genesis(self) -> bytes | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'genesis'").fetchone()
        return None if row is None else bytes(row[0])

    def save_genesis(self, data: bytes) -> None:
        with self._transaction():
            self._db.execute("INSERT INTO meta (key, value) VALUES ('genesis', ?)", (data,))

    def size(self) -> int:
        row = self._db.execute("SELECT max(seq) FROM entries").fetchone()
        return int(row[0] or 0)

    def append(self, entries: Sequence[JournalEntry], nodes: Sequence[Node]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT INTO entries (seq, timestamp_ns, tx, outcome, chain_head)"
                " VALUES (?, ?, ?, ?, ?)",
                [(e.seq, e.timestamp_ns, e.tx, e.outcome, e.chain_head) for e in entries],
            )
            self._db.executemany(
                "INSERT INTO node_runs (level, first_idx, hashes) VALUES (?, ?, ?)",
                self._runs(nodes),
            )

    def read(self, start_seq: int = 1, stop_seq: int | None = None) -> Iterator[JournalEntry]:
        stop = stop_seq if stop_seq is not None else 2**63 - 1
        cursor = self._db.execute(
            "SELECT seq, timestamp_ns, tx, outcome, chain_head FROM entries"
            " WHERE seq >= ? AND seq < ? ORDER BY seq",
            (start_seq, stop),
        )
        for seq, timestamp_ns, tx, outcome, chain_head in cursor:
            yield JournalEntry(seq, timestamp_ns, bytes(tx), bytes(outcome), bytes(chain_head))

    def nodes(self) -> Iterator[Node]:
        for level, first, hashes in self._db.execute(
            "SELECT level, first_idx, hashes FROM node_runs ORDER BY level, first_idx"
        ):
            for offset in range(0, len(hashes), HASH_SIZE):
                yield level, first + offset // HASH_SIZE, bytes(hashes[offset : offset + HASH_SIZE])

    def _runs(self, nodes: Sequence[Node]) -> list[tuple[int, int, bytes]]:
        """Nodes grouped into one run per level; each must continue its stored level."""
        levels: dict[int, tuple[int, list[bytes]]] = {}
        for level, index, node in sorted(nodes, key=lambda n: (n[0], n[1])):
            if len(node) != HASH_SIZE:
                raise sqlite3.IntegrityError(f"node ({level}, {index}) is not {HASH_SIZE} bytes")
            run = levels.get(level)
            if run is None:
                run = levels[level] = (index, [])
                stored = self._db.execute(
                    "SELECT first_idx + length(hashes) / ? FROM node_runs WHERE level = ?"
                    " ORDER BY first_idx DESC LIMIT 1",
                    (HASH_SIZE, level),
                ).fetchone()
                if index != (stored[0] if stored else 0):
                    raise sqlite3.IntegrityError(
                        f"node ({level}, {index}) does not extend its level"
                    )
            first, hashes = run
            if index != first + len(hashes):
                raise sqlite3.IntegrityError(f"node ({level}, {index}) out of order in the batch")
            hashes.append(node)
        return [(level, first, b"".join(hashes)) for level, (first, hashes) in levels.items()]

    def save_checkpoint(self, size: int, note: bytes) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?, ?)", (size, note)
            )

    def checkpoints(self) -> list[tuple[int, bytes]]:
        rows = self._db.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
        return [(int(size), bytes(note)) for size, note in rows]

    def save_snapshot(self, seq: int, data: bytes) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO snapshots (seq, data) VALUES (?, ?)", (seq, data)
            )

    def snapshots(self) -> Iterator[tuple[int, bytes]]:
        for seq, data in self._db.execute("SELECT seq, data FROM snapshots ORDER BY seq DESC"):
            yield int(seq), bytes(data)

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
