"""A journal opened read-only, as the auditor opens it: it reads everything, writes
nothing, creates nothing, refuses a store that holds no journal, and turns stored
values it cannot read into `StoreReadError` naming where they are.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from clearhouse.journal import JournalEntry, SqliteJournal, open_store
from clearhouse.journal.store import NotAJournalError, StoreReadError


def entry(seq: int) -> JournalEntry:
    digest = hashlib.sha256(seq.to_bytes(8, "big")).digest()
    return JournalEntry(seq, 1_700_000_000_000_000_000 + seq, b"tx" + digest, b"out", digest)


def _written(path: Path) -> None:
    store = SqliteJournal(path)
    store.save_genesis(b"genesis")
    store.append([entry(s) for s in range(1, 6)], [(0, 0, bytes(32))])
    store.save_checkpoint(5, b"note")
    store.save_snapshot(3, b"snapshot")
    store.close()


def test_a_read_only_sqlite_journal_reads_everything_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    _written(path)
    before = path.read_bytes()
    store = open_store(f"sqlite:///{path}", read_only=True)
    try:
        assert isinstance(store, SqliteJournal) and store.read_only
        assert store.load_genesis() == b"genesis"
        assert store.size() == 5
        assert list(store.read()) == [entry(s) for s in range(1, 6)]
        assert list(store.nodes()) == [(0, 0, bytes(32))]
        assert store.checkpoints() == [(5, b"note")]
        assert list(store.snapshots()) == [(3, b"snapshot")]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.append([entry(6)], [])
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.save_checkpoint(6, b"note")
    finally:
        store.close()
    assert path.read_bytes() == before


def test_reading_a_closed_journal_creates_no_file_beside_it(tmp_path: Path) -> None:
    """A WAL reader would set up shared memory in -shm and -wal files and, read-only,
    leave them behind; a journal no writer holds is read as it stands."""
    path = tmp_path / "journal.db"
    _written(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.db"]
    store = SqliteJournal(path, read_only=True)
    try:
        assert store.size() == 5 and len(list(store.read())) == 5
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.db"]


def test_a_journal_a_writer_holds_open_is_read_with_its_latest_entries(tmp_path: Path) -> None:
    """Entries a live (or crashed) writer committed may be in the -wal file only; the
    reader sees them through SQLite's shared memory."""
    path = tmp_path / "journal.db"
    writer = SqliteJournal(path)
    try:
        writer.save_genesis(b"genesis")
        writer.append([entry(s) for s in range(1, 4)], [(0, 0, bytes(32))])
        assert (tmp_path / "journal.db-wal").stat().st_size > 0
        reader = SqliteJournal(path, read_only=True)
        try:
            assert list(reader.read()) == [entry(s) for s in range(1, 4)]
            writer.append([entry(4)], [(0, 1, bytes(32))])
            assert reader.size() == 4
        finally:
            reader.close()
    finally:
        writer.close()


_READ_SIZE = (
    "import sys; from clearhouse.journal import SqliteJournal; "
    "store = SqliteJournal(sys.argv[1], read_only=True); "
    "print(store.size(), store.load_genesis().decode())"
)


def _read_from_read_only_media(folder: Path) -> str:
    """What a reader prints for the journal in `folder` when it cannot write there:
    a folder without write permission, or for root (who writes anywhere) the folder
    bind-mounted read-only in a mount namespace of its own."""
    journal = str(folder / "journal.db")
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            command = [sys.executable, "-c", _READ_SIZE, journal]
            return subprocess.run(command, capture_output=True, text=True, check=True).stdout
        finally:
            folder.chmod(0o755)
    script = 'mount --bind -o ro "$1" "$1" && exec "$2" -c "$3" "$4"'
    command = [
        "unshare",
        "--mount",
        "sh",
        "-c",
        script,
        "sh",
        str(folder),
        sys.executable,
        _READ_SIZE,
        journal,
    ]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_a_closed_journal_on_read_only_media_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "media"
    folder.mkdir()
    _written(folder / "journal.db")
    assert _read_from_read_only_media(folder).split() == ["5", "genesis"]
    assert sorted(p.name for p in folder.iterdir()) == ["journal.db"]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "it holds no journal tables"),
        (b"SQLite format 2, or anything else\n" * 4, "it is not a SQLite database"),
    ],
)
def test_a_file_that_is_not_a_journal_is_refused_untouched(
    tmp_path: Path, content: bytes, why: str
) -> None:
    path = tmp_path / "file.db"
    path.write_bytes(content)
    with pytest.raises(NotAJournalError, match=why):
        SqliteJournal(path, read_only=True)
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["file.db"]


def test_a_missing_file_is_refused_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(NotAJournalError, match="cannot be opened"):
        SqliteJournal(path, read_only=True)
    assert not path.exists()


def test_a_database_with_only_some_journal_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "partial.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE entries (seq INTEGER PRIMARY KEY)")
    db.close()
    with pytest.raises(NotAJournalError, match="lacks the journal tables meta, node_runs"):
        SqliteJournal(path, read_only=True)


@pytest.mark.parametrize(
    ("statement", "read", "message", "seq"),
    [
        ("UPDATE entries SET tx = 'x' WHERE seq = 4", "entries", "entry seq 4: column tx", 4),
        ("UPDATE entries SET timestamp_ns = 'late' WHERE seq = 2", "entries", "TEXT 'late'", 2),
        ("UPDATE meta SET value = 'g'", "genesis", "the stored genesis: column value", None),
        ("UPDATE checkpoints SET note = 7", "checkpoints", "the checkpoint of tree size 5:", None),
        (
            "UPDATE snapshots SET data = 1.5",
            "snapshots",
            "the snapshot at seq 3: .* REAL 1.5",
            None,
        ),
        ("UPDATE node_runs SET hashes = 'h'", "nodes", "the Merkle node run at \\(0, 0\\):", None),
        (
            "UPDATE node_runs SET level = 'x'",
            "nodes",
            "a stored Merkle node run: column level",
            None,
        ),
    ],
)
def test_a_value_of_the_wrong_type_is_a_read_error_naming_it(
    tmp_path: Path, statement: str, read: str, message: str, seq: int | None
) -> None:
    path = tmp_path / "journal.db"
    _written(path)
    db = sqlite3.connect(path)
    with db:
        db.execute(statement)  # SQLite lets a column of any type hold any type
    db.close()
    store = SqliteJournal(path, read_only=True)
    readers = {
        "entries": lambda: list(store.read()),
        "genesis": store.load_genesis,
        "checkpoints": store.checkpoints,
        "snapshots": lambda: list(store.snapshots()),
        "nodes": lambda: list(store.nodes()),
    }
    try:
        with pytest.raises(StoreReadError, match=message) as raised:
            readers[read]()
        assert raised.value.seq == seq
    finally:
        store.close()


def test_a_read_only_postgres_journal_creates_nothing_and_writes_nothing(
    postgres_url: str, postgres_schema: str
) -> None:
    import psycopg

    from clearhouse.journal.postgres_store import PostgresJournal

    with pytest.raises(NotAJournalError, match=f"no journal tables in schema {postgres_schema}"):
        PostgresJournal(postgres_url, schema=postgres_schema, read_only=True)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s",
            (postgres_schema,),
        ).fetchone()
    assert found == (0,), "a read-only open must not create the schema"

    writer = PostgresJournal(postgres_url, schema=postgres_schema)
    try:
        writer.save_genesis(b"genesis")
        writer.append([entry(1), entry(2)], [(0, 0, bytes(32))])
    finally:
        writer.close()
    reader = PostgresJournal(postgres_url, schema=postgres_schema, read_only=True)
    try:
        assert reader.load_genesis() == b"genesis"
        assert list(reader.read()) == [entry(1), entry(2)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.append([entry(3)], [])
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.save_checkpoint(2, b"note")
        assert reader.size() == 2 and reader.checkpoints() == []
    finally:
        reader.close()
