"""Every journal backend against one contract: the `JournalStore` protocol, and the
whole `Journal` (write path, recovery, proofs) running on it.

`backend` is parametrized over SQLite (a file in tmp_path) and PostgreSQL (a schema
of its own, dropped afterwards; the environment policy is in conftest.py). The
PostgreSQL stores the tests open read in tiny pages, so that every range test also
crosses page boundaries; the `Journal` tests start on the default page sizes.
"""

from __future__ import annotations

import hashlib
import itertools
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import msgspec
import pytest

from clearhouse.core import (
    Accepted,
    Deposit,
    OracleUpdate,
    Payload,
    PlaceOrder,
    Rejected,
    Side,
)
from clearhouse.core import Transaction as Tx
from clearhouse.core.codec import decode_outcome
from clearhouse.journal import (
    Journal,
    JournalEntry,
    JournalStore,
    MerkleTree,
    SqliteJournal,
    leaf_hash,
    parse_signed_checkpoint,
    verify_inclusion,
)
from clearhouse.journal.entry import decode_entry
from clearhouse.journal.store import Node, PersistedHashStore
from clearhouse.testing import TestVenue, signer_for, standard_genesis

SMALL_ENTRY_PAGE = 3
SMALL_NODE_PAGE = 4


@dataclass
class Backend:
    """Opens stores on one backend's storage (the same file or schema every time)."""

    name: str
    factory: Callable[[bool], JournalStore]
    integrity_error: tuple[type[Exception], ...]
    opened: list[JournalStore] = field(default_factory=list)

    def open(self, small_pages: bool = True) -> JournalStore:
        store = self.factory(small_pages)
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


def _sqlite_backend(tmp_path: Path) -> Backend:
    path = tmp_path / "journal.db"
    return Backend("sqlite", lambda _small: SqliteJournal(path), (sqlite3.IntegrityError,))


def _postgres_backend(url: str, schema: str) -> Backend:
    import psycopg

    from clearhouse.journal.postgres_store import PostgresJournal

    def factory(small_pages: bool) -> JournalStore:
        store = PostgresJournal(url, schema=schema)
        if small_pages:
            store.entry_page_rows = SMALL_ENTRY_PAGE
            store.node_page_rows = SMALL_NODE_PAGE
        return store

    return Backend("postgres", factory, (psycopg.IntegrityError,))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        chosen = _sqlite_backend(tmp_path)
    else:
        url: str = request.getfixturevalue("postgres_url")
        schema: str = request.getfixturevalue("postgres_schema")
        chosen = _postgres_backend(url, schema)
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> JournalStore:
    return backend.open()


def entry(seq: int) -> JournalEntry:
    """A stored entry with binary fields: NUL, high bytes, varied lengths."""
    digest = hashlib.sha256(seq.to_bytes(8, "big")).digest()
    return JournalEntry(
        seq,
        1_700_000_000_000_000_000 + seq * 1_000,
        b"\x00tx\xff" + digest * (1 + seq % 3),
        b"outcome\x00" + digest[: seq % 32],
        digest,
    )


def node(level: int, index: int) -> Node:
    return level, index, hashlib.sha256(f"{level}/{index}".encode()).digest()


def seqs(entries: Iterator[JournalEntry]) -> list[int]:
    return [e.seq for e in entries]


# -- genesis ---------------------------------------------------------------------------


def test_genesis_is_absent_then_saved_once(backend: Backend, store: JournalStore) -> None:
    assert store.load_genesis() is None
    genesis = b"\x00genesis\xff" * 100
    store.save_genesis(genesis)
    assert store.load_genesis() == genesis
    with pytest.raises(backend.integrity_error):
        store.save_genesis(b"another")
    assert store.load_genesis() == genesis


# -- entries ---------------------------------------------------------------------------


def test_an_empty_store(store: JournalStore) -> None:
    assert store.size() == 0
    assert list(store.read()) == []
    assert list(store.nodes()) == []
    assert store.checkpoints() == []
    assert list(store.snapshots()) == []


def test_append_size_and_read_everything_in_order(store: JournalStore) -> None:
    store.append([entry(s) for s in range(1, 5)], [])
    store.append([entry(5)], [])
    store.append([], [])  # an empty batch stores nothing, and is no error
    store.append([entry(s) for s in range(6, 11)], [])
    assert store.size() == 10
    assert list(store.read()) == [entry(s) for s in range(1, 11)]


def test_read_ranges(store: JournalStore) -> None:
    store.append([entry(s) for s in range(1, 11)], [])
    assert seqs(store.read(3, 7)) == [3, 4, 5, 6]
    assert seqs(store.read(1, 4)) == [1, 2, 3]  # one small page exactly
    assert seqs(store.read(1, 5)) == [1, 2, 3, 4]
    assert seqs(store.read(7)) == [7, 8, 9, 10]
    assert seqs(store.read(0)) == list(range(1, 11))
    assert seqs(store.read(9, 100)) == [9, 10]
    assert seqs(store.read(4, 5)) == [4]
    assert seqs(store.read(start_seq=2, stop_seq=None)) == list(range(2, 11))
    for start, stop in [(5, 5), (8, 3), (11, None), (11, 20), (-5, 1), (0, 0)]:
        assert list(store.read(start, stop)) == [], (start, stop)
    assert [list(store.read(s, s + 1)) for s in range(1, 11)] == [[entry(s)] for s in range(1, 11)]


def test_read_orders_by_sequence_number_not_by_insertion(store: JournalStore) -> None:
    store.append([entry(s) for s in (7, 3, 5)], [])
    store.append([entry(s) for s in (2, 1)], [])
    assert seqs(store.read()) == [1, 2, 3, 5, 7]
    assert store.size() == 7  # the last sequence number


def test_an_abandoned_read_leaves_the_store_usable(store: JournalStore) -> None:
    store.append([entry(s) for s in range(1, 11)], [])
    reader = store.read()
    assert next(reader) == entry(1)
    store.append([entry(11)], [node(0, 0)])  # what `Journal.prove` then `submit` does
    assert store.size() == 11
    assert next(store.read(11)) == entry(11)
    del reader


def test_duplicate_sequence_numbers_are_refused(backend: Backend, store: JournalStore) -> None:
    store.append([entry(1), entry(2)], [])
    clash = msgspec.structs.replace(entry(2), tx=b"a different transaction")
    with pytest.raises(backend.integrity_error):
        store.append([entry(3), clash], [])
    with pytest.raises(backend.integrity_error):
        store.append([entry(3), entry(3)], [])  # twice in one batch
    assert list(store.read()) == [entry(1), entry(2)]
    store.append([entry(3)], [])  # the store is still usable
    assert store.size() == 3


# -- tree nodes --------------------------------------------------------------------


def test_nodes_come_back_level_by_level_index_by_index(store: JournalStore) -> None:
    # Nodes extend their levels in order, as a tree appends them; within one batch
    # their order does not matter.
    stored = [node(level, index) for level in range(4) for index in range(9 >> level)]
    shuffled = sorted(stored[7:], key=lambda n: hashlib.sha256(n[2]).digest())
    store.append([], stored[:7])
    store.append([], shuffled)
    assert list(store.nodes()) == stored


def test_a_real_trees_nodes_round_trip(store: JournalStore) -> None:
    hashes = PersistedHashStore()
    tree = MerkleTree(hashes)
    for batch in ([1], [2, 3, 4], list(range(5, 18)), [18]):
        entries = [entry(s) for s in batch]
        for e in entries:
            tree.append(e.tx)
        store.append(entries, hashes.take_pending())
    rebuilt = MerkleTree(PersistedHashStore(store.nodes()))
    assert rebuilt.size == tree.size == store.size() == 18
    assert all(rebuilt.root(size) == tree.root(size) for size in range(19))


# -- atomicity ---------------------------------------------------------------------


def test_an_append_whose_nodes_clash_stores_no_entries(
    backend: Backend, store: JournalStore
) -> None:
    with pytest.raises(backend.integrity_error):
        store.append([entry(1), entry(2), entry(3)], [node(0, 0), node(0, 1), node(0, 0)])
    assert store.size() == 0
    assert list(store.read()) == []
    assert list(store.nodes()) == []


def test_an_append_clashing_with_stored_nodes_stores_nothing(
    backend: Backend, store: JournalStore
) -> None:
    store.append([entry(1)], [node(0, 0)])
    with pytest.raises(backend.integrity_error):
        store.append([entry(2), entry(3)], [node(0, 1), node(0, 0)])
    assert list(store.read()) == [entry(1)]
    assert list(store.nodes()) == [node(0, 0)]
    store.append([entry(2)], [node(0, 1), node(1, 0)])  # and the store goes on
    assert store.size() == 2
    assert list(store.nodes()) == [node(0, 0), node(0, 1), node(1, 0)]


def test_an_append_clashing_on_sequence_stores_no_nodes(
    backend: Backend, store: JournalStore
) -> None:
    store.append([entry(1)], [node(0, 0)])
    with pytest.raises(backend.integrity_error):
        store.append([entry(1)], [node(0, 1)])
    assert list(store.nodes()) == [node(0, 0)]


# -- checkpoints and snapshots -----------------------------------------------------


def test_checkpoints_are_ordered_by_size(store: JournalStore) -> None:
    for size in (30, 10, 20, 5):
        store.save_checkpoint(size, f"note {size}\n".encode())
    store.save_checkpoint(20, b"note 20, signed again\n")  # a size is stored once
    assert store.checkpoints() == [
        (5, b"note 5\n"),
        (10, b"note 10\n"),
        (20, b"note 20, signed again\n"),
        (30, b"note 30\n"),
    ]


def test_snapshots_come_newest_first(store: JournalStore) -> None:
    for seq in (100, 300, 200):
        store.save_snapshot(seq, bytes([seq % 256]) * seq)
    store.save_snapshot(200, b"\x00retaken")
    assert list(store.snapshots()) == [
        (300, bytes([300 % 256]) * 300),
        (200, b"\x00retaken"),
        (100, bytes([100]) * 100),
    ]
    newest = store.snapshots()
    assert next(newest)[0] == 300  # a caller may stop at the first one
    del newest


# -- reopening ---------------------------------------------------------------------


def test_reopening_sees_everything(backend: Backend, store: JournalStore) -> None:
    store.save_genesis(b"genesis")
    store.append([entry(s) for s in range(1, 8)], [node(0, i) for i in range(7)])
    store.append([entry(8)], [node(0, 7), node(1, 0), node(2, 0)])
    store.save_checkpoint(8, b"checkpoint 8")
    store.save_snapshot(4, b"snapshot 4")
    store.close()

    again = backend.open()
    assert again.load_genesis() == b"genesis"
    assert again.size() == 8
    assert list(again.read()) == [entry(s) for s in range(1, 9)]
    assert list(again.nodes()) == [
        *(node(0, i) for i in range(8)),
        node(1, 0),
        node(2, 0),
    ]
    assert again.checkpoints() == [(8, b"checkpoint 8")]
    assert list(again.snapshots()) == [(4, b"snapshot 4")]
    again.append([entry(9)], [])
    assert again.size() == 9


def test_two_stores_on_the_same_storage_see_each_others_commits(backend: Backend) -> None:
    writer, reader = backend.open(), backend.open()
    writer.append([entry(1), entry(2)], [node(0, 0)])
    assert reader.size() == 2
    assert list(reader.read()) == [entry(1), entry(2)]


# -- the whole journal -------------------------------------------------------------

OPERATOR = "clearhouse-test-operator"
START_NS = 1_700_000_000 * 10**9
TRADERS = ("alice", "bob", "carol")


def _payload_batches() -> list[list[Payload]]:
    btc = 100_000 * 10**6
    tick = 500_000
    traders = TRADERS
    batches: list[list[Payload]] = [
        [Deposit(t, "USDC", 50_000 * 10**6) for t in traders],
        [OracleUpdate("BTC-USD", btc, observed_ns=START_NS)],  # before its sequencing
    ]
    for round_ in range(6):
        batch: list[Payload] = []
        for i, trader in enumerate(traders):
            side = Side.SELL if (i + round_) % 2 else Side.BUY
            offset = (round_ % 3) * tick
            price = btc + offset if side is Side.BUY else btc - offset
            batch.append(PlaceOrder(trader, "BTC-PERP", side, 1 + i, price=price))
        batches.append(batch)
    return batches


def _signed_batches() -> tuple[TestVenue, list[list[Tx]]]:
    venue = TestVenue(standard_genesis(TRADERS), start_ns=START_NS)
    signed = [[venue.sign(p) for p in payloads] for payloads in _payload_batches()]
    # One forged signature: rejected at submit, and rejected again on replay.
    forged = msgspec.structs.replace(signed[-1][0], signature=bytes(64))
    signed[-1][0] = forged
    return venue, signed


def _journal(store: JournalStore, snapshot_every: int = 0) -> Journal:
    clock = itertools.count(START_NS + 1_000, 1_000).__next__
    return Journal(
        store,
        standard_genesis(TRADERS),
        signer_for("operator"),
        OPERATOR,
        clock=clock,
        snapshot_every=snapshot_every,
        checkpoint_every=0,
    )


def _check_proof(journal: Journal, leaf_index: int) -> None:
    proof = journal.prove(leaf_index)
    checkpoint = parse_signed_checkpoint(proof.checkpoint, [journal.verifier()])
    assert checkpoint.size == proof.tree_size
    assert checkpoint.origin == journal.origin
    assert verify_inclusion(
        leaf_hash(proof.entry), proof.leaf_index, proof.tree_size, proof.proof, checkpoint.root_hash
    )
    assert decode_entry(proof.entry).seq == leaf_index + 1
    assert not verify_inclusion(
        leaf_hash(proof.entry + b"x"),
        proof.leaf_index,
        proof.tree_size,
        proof.proof,
        checkpoint.root_hash,
    )


@pytest.mark.parametrize("snapshot_midway", [False, True], ids=["replay", "snapshot"])
def test_the_journal_recovers_to_the_same_state(backend: Backend, snapshot_midway: bool) -> None:
    venue, batches = _signed_batches()
    journal = _journal(backend.open(small_pages=False))
    receipts = []
    for i, batch in enumerate(batches):
        receipts += journal.submit(batch)
        if snapshot_midway and i == 3:
            journal.snapshot()
        if i == 4:
            journal.checkpoint()
    journal.checkpoint()
    outcomes = [r.outcome for r in receipts]
    assert [r.seq for r in receipts] == list(range(1, len(receipts) + 1))
    assert sum(isinstance(o, Accepted) for o in outcomes) >= len(outcomes) - 1
    assert isinstance(outcomes[-len(batches[-1])], Rejected)  # the forged signature
    digest, head, root = journal.engine.digest(), journal.engine.chain_head, journal.tree.root()
    for leaf in (0, 7, len(receipts) - 1):
        _check_proof(journal, leaf)
    journal.close()

    again = _journal(backend.open())
    assert again.engine.seq == len(receipts)
    assert again.engine.digest() == digest
    assert again.engine.chain_head == head
    assert again.tree.root() == root
    stored = list(again.store.read())
    assert [decode_outcome(e.outcome) for e in stored] == outcomes
    assert stored[-1].chain_head == head
    for leaf in range(len(receipts)):
        _check_proof(again, leaf)
    # And it goes on from where it was.
    more = again.submit([venue.sign(Deposit("alice", "USDC", 10**6))])
    assert more[0].seq == len(receipts) + 1
    assert isinstance(more[0].outcome, Accepted)
    again.checkpoint()
    _check_proof(again, len(receipts))


# -- PostgreSQL only ---------------------------------------------------------------


def test_postgres_commits_wait_for_the_wal_flush(postgres_url: str, postgres_schema: str) -> None:
    """A server or URL that turns synchronous_commit off is overridden for the store."""
    from psycopg.conninfo import make_conninfo

    from clearhouse.journal.postgres_store import PostgresJournal

    url = make_conninfo(postgres_url, options="-c synchronous_commit=off")
    store = PostgresJournal(url, schema=postgres_schema)
    try:
        setting = store._conn.execute("SHOW synchronous_commit").fetchone()
        assert setting == ("on",)
    finally:
        store.close()


def test_postgres_without_a_schema_uses_the_search_path(
    postgres_url: str, postgres_schema: str
) -> None:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    from clearhouse.journal.postgres_store import PostgresJournal

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(postgres_schema)))
    url = make_conninfo(postgres_url, options=f"-c search_path={postgres_schema}")
    store = PostgresJournal(url)
    try:
        store.append([entry(1)], [node(0, 0)])
    finally:
        store.close()
    again = PostgresJournal(postgres_url, schema=postgres_schema)
    try:
        assert list(again.read()) == [entry(1)]
        assert list(again.nodes()) == [node(0, 0)]
    finally:
        again.close()


def test_open_store_picks_the_backend_by_url(
    tmp_path: Path, postgres_url: str, postgres_schema: str
) -> None:
    import psycopg
    from psycopg import sql

    from clearhouse.journal import open_store
    from clearhouse.journal.postgres_store import PostgresJournal

    embedded = open_store(f"sqlite:///{tmp_path / 'journal.db'}")
    assert isinstance(embedded, SqliteJournal)
    embedded.close()

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(postgres_schema)))
    parts = urlsplit(postgres_url)
    if parts.scheme not in ("postgresql", "postgres"):
        pytest.skip("the PostgreSQL test server is given as a conninfo string, not a URL")
    options = urlencode({"options": f"-c search_path={postgres_schema}"}, quote_via=quote)
    query = f"{parts.query}&{options}" if parts.query else options
    production = open_store(urlunsplit(parts._replace(query=query)))
    try:
        assert isinstance(production, PostgresJournal)
        production.append([entry(1)], [])
        assert production.size() == 1
    finally:
        production.close()
