"""The production journal backend: PostgreSQL through psycopg 3.

The tables are those of the SQLite backend (`meta`, `entries`, `nodes`,
`checkpoints`, `snapshots`) with BIGINT and BYTEA columns, created if missing, in
`schema` when one is given (created if missing too) or else wherever the
connection's search_path puts them.

Each `append` is one transaction: BEGIN, a binary COPY of the entries, a binary
COPY of the tree nodes, COMMIT. COPY was measured against executemany in
pipeline mode and against INSERT ... SELECT FROM unnest(arrays): all three are
bound by the commit's WAL flush for a batch of one, and COPY is the fastest for
batches of 100 and 1000 (two to four times executemany). The commit returns after
the WAL is flushed: the session runs with the server's synchronous_commit unless
that is `off`, which is turned back `on` for this connection.

Reads never hold a cursor or a transaction open between the rows they yield:
entries and nodes come in pages by keyset (`seq > last`, `(level, idx) > last`),
snapshots one at a time, newest first. An abandoned iterator leaves nothing
behind, and appends may run between two pages.

Opened with `read_only=True` (the auditor's way), the session's transactions are
read-only (`SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`), so the server
refuses any write, and tables that are missing are not created: the store is
refused with `NotAJournalError`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, LiteralString

import psycopg
from psycopg import sql

from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.store import Node, NotAJournalError, StoreReadError

_BIGINT_MAX = 2**63 - 1
_BIGINT_MIN = -(2**63)
_TABLES = ("meta", "entries", "nodes", "checkpoints", "snapshots")

_DDL: tuple[LiteralString, ...] = (
    "CREATE TABLE IF NOT EXISTS {meta} (key TEXT PRIMARY KEY, value BYTEA NOT NULL)",
    """CREATE TABLE IF NOT EXISTS {entries} (
        seq BIGINT PRIMARY KEY,
        timestamp_ns BIGINT NOT NULL,
        tx BYTEA NOT NULL,
        outcome BYTEA NOT NULL,
        chain_head BYTEA NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS {nodes} (
        level BIGINT NOT NULL,
        idx BIGINT NOT NULL,
        hash BYTEA NOT NULL,
        PRIMARY KEY (level, idx)
    )""",
    "CREATE TABLE IF NOT EXISTS {checkpoints} (size BIGINT PRIMARY KEY, note BYTEA NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {snapshots} (seq BIGINT PRIMARY KEY, data BYTEA NOT NULL)",
)

_ENTRY_TYPES = ("int8", "int8", "bytea", "bytea", "bytea")
_NODE_TYPES = ("int8", "int8", "bytea")


class PostgresJournal:
    """A `JournalStore` in a PostgreSQL database, over one connection.

    `url` is a libpq connection string or URL (``postgresql://user@host/db``);
    `schema`, when given, holds the tables (tests use one schema each); `read_only`
    opens a session that cannot write.
    """

    entry_page_rows = 4_096
    """Entries fetched per round trip by `read`."""
    node_page_rows = 32_768
    """Tree nodes fetched per round trip by `nodes`."""

    def __init__(self, url: str, schema: str | None = None, *, read_only: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.read_only = read_only
        self._conn = psycopg.connect(url, autocommit=True)
        try:
            if read_only:
                self._conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            self._setup()
        except BaseException:
            self._conn.close()
            raise

    def _setup(self) -> None:
        conn = self._conn
        setting = conn.execute("SHOW synchronous_commit").fetchone()
        if setting is None or setting[0] == "off":
            conn.execute("SET synchronous_commit = on")
        names = {t: self._table(t) for t in _TABLES}
        # Create only what is missing: CREATE ... IF NOT EXISTS checks the privilege to
        # create before it checks existence, and a journal's role may not hold it.
        present = conn.execute(
            "SELECT count(to_regclass(name)) FROM unnest(%s::text[]) AS name",
            ([names[t].as_string(conn) for t in _TABLES],),
        ).fetchone()
        if present is None or present[0] < len(_TABLES):
            if self.read_only:
                where = f"schema {self.schema}" if self.schema is not None else "the search_path"
                raise NotAJournalError(f"it holds no journal tables in {where}")
            self._create(names)

        def q(text: LiteralString) -> bytes:
            return sql.SQL(text).format(**names).as_bytes(conn)

        self._q_load_genesis = q("SELECT value FROM {meta} WHERE key = 'genesis'")
        self._q_save_genesis = q("INSERT INTO {meta} (key, value) VALUES ('genesis', %s)")
        self._q_size = q("SELECT max(seq) FROM {entries}")
        self._q_copy_entries = q(
            "COPY {entries} (seq, timestamp_ns, tx, outcome, chain_head) FROM STDIN (FORMAT BINARY)"
        )
        self._q_copy_nodes = q("COPY {nodes} (level, idx, hash) FROM STDIN (FORMAT BINARY)")
        self._q_read = q(
            "SELECT seq, timestamp_ns, tx, outcome, chain_head FROM {entries}"
            " WHERE seq >= %s AND seq < %s ORDER BY seq LIMIT %s"
        )
        self._q_nodes = q(
            "SELECT level, idx, hash FROM {nodes}"
            " WHERE (level, idx) > (%s, %s) ORDER BY level, idx LIMIT %s"
        )
        self._q_save_checkpoint = q(
            "INSERT INTO {checkpoints} (size, note) VALUES (%s, %s)"
            " ON CONFLICT (size) DO UPDATE SET note = EXCLUDED.note"
        )
        self._q_checkpoints = q("SELECT size, note FROM {checkpoints} ORDER BY size")
        self._q_save_snapshot = q(
            "INSERT INTO {snapshots} (seq, data) VALUES (%s, %s)"
            " ON CONFLICT (seq) DO UPDATE SET data = EXCLUDED.data"
        )
        self._q_snapshot_before = q(
            "SELECT seq, data FROM {snapshots} WHERE seq < %s ORDER BY seq DESC LIMIT 1"
        )

    def _create(self, names: dict[str, sql.Identifier]) -> None:
        with self._conn.transaction():
            if self.schema is not None:
                self._conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
            for statement in _DDL:
                self._conn.execute(sql.SQL(statement).format(**names))

    def _table(self, name: str) -> sql.Identifier:
        if self.schema is None:
            return sql.Identifier(name)
        return sql.Identifier(self.schema, name)

    def _rows(self, query: bytes, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of a read; a server or connection failure is a StoreReadError, one line,
        like a damaged SQLite page (writes keep psycopg's errors: they stop the journal)."""
        try:
            with self._conn.cursor(binary=True) as cur:
                cur.execute(query, params)
                return cur.fetchall()
        except psycopg.Error as exc:
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            raise StoreReadError(f"the journal cannot be read from PostgreSQL: {lines[0]}") from exc

    # -- the protocol ------------------------------------------------------------------

    def load_genesis(self) -> bytes | None:
        rows = self._rows(self._q_load_genesis, ())
        return bytes(rows[0][0]) if rows else None

    def save_genesis(self, data: bytes) -> None:
        self._conn.execute(self._q_save_genesis, (data,))

    def size(self) -> int:
        rows = self._rows(self._q_size, ())
        return int(rows[0][0] or 0)

    def append(self, entries: Sequence[JournalEntry], nodes: Sequence[Node]) -> None:
        if not entries and not nodes:
            return
        with self._conn.transaction(), self._conn.cursor() as cur:
            if entries:
                with cur.copy(self._q_copy_entries) as copy:
                    copy.set_types(_ENTRY_TYPES)
                    for e in entries:
                        copy.write_row((e.seq, e.timestamp_ns, e.tx, e.outcome, e.chain_head))
            if nodes:
                with cur.copy(self._q_copy_nodes) as copy:
                    copy.set_types(_NODE_TYPES)
                    for node in nodes:
                        copy.write_row(node)

    def read(self, start_seq: int = 1, stop_seq: int | None = None) -> Iterator[JournalEntry]:
        start = max(start_seq, _BIGINT_MIN)
        stop = _BIGINT_MAX if stop_seq is None else min(stop_seq, _BIGINT_MAX)
        page = max(1, self.entry_page_rows)
        while start < stop:
            rows = self._rows(self._q_read, (start, stop, page))
            for seq, timestamp_ns, tx, outcome, chain_head in rows:
                yield JournalEntry(seq, timestamp_ns, bytes(tx), bytes(outcome), bytes(chain_head))
            if len(rows) < page:
                return
            start = int(rows[-1][0]) + 1

    def nodes(self) -> Iterator[Node]:
        level, idx = -1, -1
        page = max(1, self.node_page_rows)
        while True:
            rows = self._rows(self._q_nodes, (level, idx, page))
            for row_level, row_idx, node in rows:
                yield int(row_level), int(row_idx), bytes(node)
            if len(rows) < page:
                return
            level, idx = int(rows[-1][0]), int(rows[-1][1])

    def save_checkpoint(self, size: int, note: bytes) -> None:
        self._conn.execute(self._q_save_checkpoint, (size, note))

    def checkpoints(self) -> list[tuple[int, bytes]]:
        return [(int(size), bytes(note)) for size, note in self._rows(self._q_checkpoints, ())]

    def save_snapshot(self, seq: int, data: bytes) -> None:
        self._conn.execute(self._q_save_snapshot, (seq, data))

    def snapshots(self) -> Iterator[tuple[int, bytes]]:
        """Newest first, fetched one at a time: a caller that stops at the first good
        snapshot never transfers the older ones."""
        before = _BIGINT_MAX
        while True:
            rows = self._rows(self._q_snapshot_before, (before,))
            if not rows:
                return
            seq, data = int(rows[0][0]), bytes(rows[0][1])
            yield seq, data
            before = seq

    def close(self) -> None:
        self._conn.close()
