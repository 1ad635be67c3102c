"""The embedded journal backend: one SQLite file in WAL mode with full sync.

Each `append` is one transaction: the batch's entries and the tree nodes they
close are inserted and committed; with `synchronous=FULL` the commit returns after
the WAL is fsynced, so a returned append survives a crash or power loss. One commit
per batch is the group commit: its fsync is shared by every transaction in the
batch.

Rows go in as multi-row INSERT statements, a few per append, not one statement
step per row (`executemany`). Each step releases the GIL, and a thread that
releases it while another thread of the process computes waits up to the switch
interval (5 ms) to take it back: a sequencer's commit thread doing a step per row
beside its apply thread spends most of a commit waiting. Statements are cut into
chunks of powers of two rows, so a few prepared statements serve every batch size.

Tree nodes are stored as runs: one row per level per batch holding the
concatenated hashes of consecutive nodes, so a batch of a thousand entries writes
a dozen node rows instead of two thousand. A run must continue its level exactly
where the stored ones end; anything else is refused as an integrity error. Where
each level ends is read once and kept, so an append reads nothing back.

Opened with `read_only=True` the file is opened through SQLite's `mode=ro` URI: no
schema is written, no journal mode is set, and a file without the journal's tables
is refused (`NotAJournalError`). A journal no writer holds (no -wal or -shm file
beside it) is opened `immutable` as well, so reading it creates no file either and
works on read-only media; it must then not be opened for writing while it is read
(a writer's checkpoint would change the file under the reader, which reports the
damage it then sees). Every read checks the SQLite type of each value
(SQLite lets any column hold any type) and turns a damaged file's errors into
`StoreReadError`, naming the entry read last and the page `PRAGMA quick_check`
finds at fault.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.merkle import HASH_SIZE
from clearhouse.journal.store import Node, NotAJournalError, StoreReadError

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
_TABLES = ("meta", "entries", "node_runs", "checkpoints", "snapshots")
_SQLITE_MAGIC = b"SQLite format 3\x00"


_ENTRY_INSERT = "INSERT INTO entries (seq, timestamp_ns, tx, outcome, chain_head) VALUES "
_RUN_INSERT = "INSERT INTO node_runs (level, first_idx, hashes) VALUES "
_CHUNK_ROWS_MAX = 512
"""Rows in the longest statement where SQLite allows its 2,560 parameters (since
3.32; older builds allow 999, and get shorter statements)."""


@functools.cache
def _rows_statement(insert: str, width: int, rows: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return insert + ", ".join([row] * rows)


class SqliteJournal:
    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        self._ends: dict[int, int] | None = None
        """Where each tree level's stored nodes end: read once, kept by `append`."""
        self._chunk_rows_max = _CHUNK_ROWS_MAX
        if read_only:
            self._db = self._open_read_only()
            return
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        widest = self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 5
        self._chunk_rows_max = min(self._chunk_rows_max, 1 << (widest.bit_length() - 1))

    def _open_read_only(self) -> sqlite3.Connection:
        uri = f"file:{quote(str(Path(self.path).absolute()))}?mode=ro"
        if not self._may_be_open_elsewhere():
            # A WAL reader sets up shared memory next to the file (the -shm and -wal
            # files) and, being read-only, leaves them behind; where it cannot create
            # them (read-only media, a folder the auditor may not write) it cannot open
            # the file at all. A journal no writer holds is read as it stands instead.
            uri += "&immutable=1"
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise NotAJournalError(f"it cannot be opened: {exc}") from exc
        self._db = db
        try:
            rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        except sqlite3.DatabaseError as exc:
            db.close()
            if not self._looks_like_sqlite():
                raise NotAJournalError("it is not a SQLite database") from exc
            raise StoreReadError(f"the database file is damaged: {exc}") from exc
        missing = [table for table in _TABLES if (table,) not in rows]
        if missing:
            db.close()
            if len(missing) == len(_TABLES):
                raise NotAJournalError("it holds no journal tables")
            raise NotAJournalError(f"it lacks the journal tables {', '.join(missing)}")
        return db

    def _may_be_open_elsewhere(self) -> bool:
        """A writer holds the -wal file from opening the journal until it closes it
        (the last one out folds it into the file and deletes it, with the -shm), and a
        writer that crashed leaves it with entries the file does not hold yet: while
        either exists, reads go through SQLite's shared memory and see them."""
        return any(Path(self.path + suffix).exists() for suffix in ("-wal", "-shm"))

    def _looks_like_sqlite(self) -> bool:
        try:
            with open(self.path, "rb") as file:
                return file.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
        except OSError:
            return False

    def _damaged(self, where: str, exc: sqlite3.DatabaseError, seq: int | None = None) -> NoReturn:
        """Raise StoreReadError for a read that failed, with the page at fault if found."""
        raise StoreReadError(f"{where}: {exc}{self._damaged_page()}", seq) from exc

    def _damaged_page(self) -> str:
        try:
            rows = self._db.execute("PRAGMA quick_check(1)").fetchall()
        except sqlite3.Error:
            return ""
        lines = [
            line
            for (text,) in rows
            for line in str(text).splitlines()
            if line != "ok" and not line.startswith("***")
        ]
        return f" ({lines[0]})" if lines else ""

    def load_genesis(self) -> bytes | None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'genesis'").fetchone()
        except sqlite3.DatabaseError as exc:
            self._damaged("the genesis cannot be read", exc)
        if row is None:
            return None
        _check_types(row, ("value",), (bytes,), "the stored genesis")
        return bytes(row[0])

    def save_genesis(self, data: bytes) -> None:
        with self._transaction():
            self._db.execute("INSERT INTO meta (key, value) VALUES ('genesis', ?)", (data,))

    def size(self) -> int:
        try:
            row = self._db.execute("SELECT max(seq) FROM entries").fetchone()
        except sqlite3.DatabaseError as exc:
            self._damaged("the number of entries cannot be read", exc)
        if row[0] is not None and type(row[0]) is not int:
            raise StoreReadError(f"the last entry's seq holds {_sql_type(row[0])}, not INTEGER")
        return int(row[0] or 0)

    def append(self, entries: Sequence[JournalEntry], nodes: Sequence[Node]) -> None:
        runs, ends = self._runs(nodes)
        values: list[int | bytes] = []
        for e in entries:
            values += (e.seq, e.timestamp_ns, e.tx, e.outcome, e.chain_head)
        with self._transaction():
            self._insert_rows(_ENTRY_INSERT, 5, values)
            self._insert_rows(_RUN_INSERT, 3, [value for run in runs for value in run])
        self._level_ends().update(ends)  # only once the commit is durable

    def _insert_rows(self, insert: str, width: int, values: list[Any]) -> None:
        """Insert rows of `width` columns, given flat, in chunks of powers of two rows."""
        rows = len(values) // width
        start = 0
        while rows:
            chunk = min(self._chunk_rows_max, 1 << (rows.bit_length() - 1))
            end = start + chunk * width
            self._db.execute(_rows_statement(insert, width, chunk), values[start:end])
            start = end
            rows -= chunk

    def read(self, start_seq: int = 1, stop_seq: int | None = None) -> Iterator[JournalEntry]:
        stop = stop_seq if stop_seq is not None else 2**63 - 1
        last: int | None = None
        try:
            cursor = self._db.execute(
                "SELECT seq, timestamp_ns, tx, outcome, chain_head FROM entries"
                " WHERE seq >= ? AND seq < ? ORDER BY seq",
                (start_seq, stop),
            )
            for row in cursor:
                seq, timestamp_ns, tx, outcome, chain_head = row
                if not (
                    type(seq) is int
                    and type(timestamp_ns) is int
                    and type(tx) is bytes
                    and type(outcome) is bytes
                    and type(chain_head) is bytes
                ):
                    _check_entry(row, last)
                yield JournalEntry(seq, timestamp_ns, tx, outcome, chain_head)
                last = seq
        except sqlite3.DatabaseError as exc:
            after = f"after seq {last}" if last is not None else f"from seq {start_seq}"
            self._damaged(f"the entries cannot be read {after}", exc, _next(last, start_seq))

    def nodes(self) -> Iterator[Node]:
        try:
            for row in self._db.execute(
                "SELECT level, first_idx, hashes FROM node_runs ORDER BY level, first_idx"
            ):
                _check_types(row, _RUN_COLUMNS, (int, int, bytes), _which("Merkle node run", row))
                level, first, hashes = row
                for offset in range(0, len(hashes), HASH_SIZE):
                    yield level, first + offset // HASH_SIZE, hashes[offset : offset + HASH_SIZE]
        except sqlite3.DatabaseError as exc:
            self._damaged("the stored Merkle tree cannot be read", exc)

    def _runs(self, nodes: Sequence[Node]) -> tuple[list[tuple[int, int, bytes]], dict[int, int]]:
        """Nodes grouped into one run per level, and where each level will end. Each
        run must continue its stored level exactly. A tree hands its nodes over in the
        order it closed them, ascending within each level, so that order is taken as
        it comes; only a level given out of order is sorted. Where each level ends is
        read once and then kept, so nothing is read back."""
        by_level: dict[int, list[Node]] = {}
        for item in nodes:
            by_level.setdefault(item[0], []).append(item)
        ends = self._level_ends()
        runs: list[tuple[int, int, bytes]] = []
        new_ends: dict[int, int] = {}
        for level, column in by_level.items():
            first = column[0][1]
            if any(column[i][1] != first + i for i in range(1, len(column))):
                column.sort(key=lambda n: n[1])
                first = column[0][1]
            for offset, (_, index, digest) in enumerate(column):
                if len(digest) != HASH_SIZE:
                    raise sqlite3.IntegrityError(
                        f"node ({level}, {index}) is not {HASH_SIZE} bytes"
                    )
                if index != first + offset:
                    raise sqlite3.IntegrityError(f"node ({level}, {index}) repeated or missing")
            if first != ends.get(level, 0):
                raise sqlite3.IntegrityError(f"node ({level}, {first}) does not extend its level")
            runs.append((level, first, b"".join(digest for _, _, digest in column)))
            new_ends[level] = first + len(column)
        return runs, new_ends

    def _level_ends(self) -> dict[int, int]:
        if self._ends is None:
            rows = self._db.execute(
                "SELECT level, max(first_idx + length(hashes) / ?) FROM node_runs GROUP BY level",
                (HASH_SIZE,),
            ).fetchall()
            self._ends = {int(level): int(end) for level, end in rows}
        return self._ends

    def save_checkpoint(self, size: int, note: bytes) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO checkpoints (size, note) VALUES (?, ?)", (size, note)
            )

    def checkpoints(self) -> list[tuple[int, bytes]]:
        try:
            rows = self._db.execute("SELECT size, note FROM checkpoints ORDER BY size").fetchall()
        except sqlite3.DatabaseError as exc:
            self._damaged("the checkpoints cannot be read", exc)
        for row in rows:
            _check_types(row, ("size", "note"), (int, bytes), _which("checkpoint", row))
        return [(size, note) for size, note in rows]

    def save_snapshot(self, seq: int, data: bytes) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO snapshots (seq, data) VALUES (?, ?)", (seq, data)
            )

    def snapshots(self) -> Iterator[tuple[int, bytes]]:
        try:
            for row in self._db.execute("SELECT seq, data FROM snapshots ORDER BY seq DESC"):
                _check_types(row, ("seq", "data"), (int, bytes), _which("snapshot", row))
                yield row[0], row[1]
        except sqlite3.DatabaseError as exc:
            self._damaged("the snapshots cannot be read", exc)

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


_ENTRY_COLUMNS = ("seq", "timestamp_ns", "tx", "outcome", "chain_head")
_ENTRY_TYPES = (int, int, bytes, bytes, bytes)
_RUN_COLUMNS = ("level", "first_idx", "hashes")


def _sql_type(value: object) -> str:
    """The SQLite storage class of a value as sqlite3 returns it."""
    names = {int: "INTEGER", float: "REAL", str: "TEXT", bytes: "BLOB", type(None): "NULL"}
    return names.get(type(value), type(value).__name__)


def _which(kind: str, row: Sequence[Any]) -> str:
    """The stored row named by its key, "the snapshot at seq 30", as far as the key's
    own columns are integers: a damaged key still leaves the row's kind."""
    keys = row[:-1]
    if not all(type(key) is int for key in keys):
        return f"a stored {kind}"
    if kind == "snapshot":
        return f"the snapshot at seq {keys[0]}"
    if kind == "checkpoint":
        return f"the checkpoint of tree size {keys[0]}"
    return f"the {kind} at ({', '.join(str(key) for key in keys)})"


def _check_types(
    row: Sequence[Any], columns: Sequence[str], types: Sequence[type], where: str
) -> None:
    for name, value, kind in zip(columns, row, types, strict=True):
        if type(value) is not kind:
            expected = "INTEGER" if kind is int else "BLOB"
            raise StoreReadError(
                f"{where}: column {name} holds {_sql_type(value)} {_shown(value)}, not {expected}"
            )


def _check_entry(row: Sequence[Any], last: int | None) -> None:
    """Raise StoreReadError naming the entry (by its seq if that at least is an integer)."""
    seq = row[0]
    where = f"entry seq {seq}" if type(seq) is int else f"the entry after seq {last or 0}"
    try:
        _check_types(row, _ENTRY_COLUMNS, _ENTRY_TYPES, where)
    except StoreReadError as exc:
        raise StoreReadError(str(exc), seq if type(seq) is int else _next(last, 1)) from None


def _next(last: int | None, start: int) -> int:
    return start if last is None else last + 1


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")
