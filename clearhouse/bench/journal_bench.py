"""`clearhouse bench journal`: durable appends per backend, proofs at a million leaves,
and replay speed.

Appends: journal entries of a realistic size (a signed order and its outcome) with
the Merkle nodes they close, written through each store's `append`, one durable
commit per batch of 1, 100 and 1000. Proofs: `run_merkle_bench` (ours beside
pymerkle). Replay: a seeded workload journaled to SQLite, then read back, decoded,
re-executed and compared with the recorded outcome and chain head, entry by entry
(signatures are verified in their own benchmark, `bench verify`; here the verdict
is given).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec

from clearhouse.bench.merkle_bench import run_merkle_bench
from clearhouse.bench.workload import generate_workload
from clearhouse.core import Engine, Sequenced, Transaction
from clearhouse.core.codec import encode
from clearhouse.journal.entry import JournalEntry, entry_bytes
from clearhouse.journal.merkle import MerkleTree
from clearhouse.journal.sqlite_store import SqliteJournal
from clearhouse.journal.store import JournalStore, PersistedHashStore
from clearhouse.journal.urls import redact_password

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
POSTGRES_CONNECT_TIMEOUT_S = 3
"""How long the benchmark waits for PostgreSQL before it skips that backend."""
_tx_decoder = msgspec.msgpack.Decoder(Transaction)


def _journaled(orders: int, seed: int) -> tuple[list[JournalEntry], Engine]:
    workload = generate_workload(orders, seed)
    engine = Engine(workload.genesis)
    entries = []
    for sequenced in workload.setup + workload.orders:
        outcome = engine.apply(sequenced, True)
        entries.append(
            JournalEntry(
                sequenced.seq,
                sequenced.timestamp_ns,
                encode(sequenced.tx),
                encode(outcome),
                engine.chain_head,
            )
        )
    return entries, engine


def _appends_per_s(store: JournalStore, entries: list[JournalEntry], batch: int) -> float:
    hashes = PersistedHashStore()
    tree = MerkleTree(hashes)
    started = time.perf_counter()
    for start in range(0, len(entries), batch):
        chunk = entries[start : start + batch]
        for entry in chunk:
            tree.append(entry_bytes(entry))
        store.append(chunk, hashes.take_pending())
    return len(entries) / (time.perf_counter() - started)


def _append_counts(batch: int) -> int:
    # Enough commits to average over, bounded in time.
    return {1: 500, 100: 20_000, 1000: 100_000}[batch]


def _store_figures(prefix: str, make: Any, entries: list[JournalEntry]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for batch in (1, 100, 1000):
        store = make()
        try:
            figures[f"{prefix}_appends_per_s_batch{batch}"] = round(
                _appends_per_s(store, entries[: _append_counts(batch)], batch)
            )
        finally:
            store.close()
    return figures


def _replay_per_s(entries: list[JournalEntry], genesis_engine: Engine, path: Path) -> float:
    store = SqliteJournal(path)
    hashes = PersistedHashStore()
    tree = MerkleTree(hashes)
    for start in range(0, len(entries), 1000):
        chunk = entries[start : start + 1000]
        for entry in chunk:
            tree.append(entry_bytes(entry))
        store.append(chunk, hashes.take_pending())
    engine = genesis_engine
    started = time.perf_counter()
    count = 0
    for entry in store.read():
        tx = _tx_decoder.decode(entry.tx)
        outcome = engine.apply(Sequenced(entry.seq, entry.timestamp_ns, tx), True)
        if encode(outcome) != entry.outcome or engine.chain_head != entry.chain_head:
            raise AssertionError(f"entry {entry.seq} replays differently")
        count += 1
    elapsed = time.perf_counter() - started
    store.close()
    return count / elapsed


def run_journal_bench(
    postgres_url: str | None = DEFAULT_POSTGRES_URL,
    leaves: int = 1_000_000,
    proofs: int = 100_000,
    orders: int = 100_000,
) -> dict[str, Any]:
    entries, _ = _journaled(orders, 7)
    result: dict[str, Any] = {"benchmark": "journal"}
    with tempfile.TemporaryDirectory() as scratch:
        counter = iter(range(1_000_000))

        def sqlite_store() -> JournalStore:
            return SqliteJournal(Path(scratch) / f"append-{next(counter)}.db")

        result.update(_store_figures("sqlite", sqlite_store, entries))
        unreachable = _postgres_unreachable(postgres_url) if postgres_url else "no URL given"
        if postgres_url and unreachable is None:
            from clearhouse.journal.postgres_store import PostgresJournal

            schemas: list[str] = []

            def postgres_store() -> JournalStore:
                schemas.append(f"bench_{uuid.uuid4().hex[:12]}")
                return PostgresJournal(postgres_url, schema=schemas[-1])

            try:
                result.update(_store_figures("postgres", postgres_store, entries))
            finally:
                _drop_schemas(postgres_url, schemas)
        else:
            result.update({f"postgres_appends_per_s_batch{b}": None for b in (1, 100, 1000)})
            result["postgres_skipped"] = unreachable
        workload = generate_workload(1, 7)
        result["replay_entries_per_s"] = round(
            _replay_per_s(entries, Engine(workload.genesis), Path(scratch) / "replay.db")
        )
        result["replay_entries"] = len(entries)
    merkle = run_merkle_bench(leaves, proofs)
    for key in (
        "proofs_generated_per_s",
        "proofs_verified_per_s",
        "pymerkle_proofs_per_s",
        "leaves",
    ):
        result[key] = merkle.get(key)
    result["merkle"] = merkle
    result["durability"] = "sqlite WAL synchronous=FULL; postgres synchronous_commit on"
    result["cores"] = os.cpu_count()
    return result


def _postgres_unreachable(url: str) -> str | None:
    """Why PostgreSQL at `url` cannot be benchmarked (one line), or None if it answers.

    A machine without PostgreSQL is an ordinary case: the backend is skipped with
    this reason rather than the run failing after libpq's retries."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S).close()
    except (psycopg.Error, OSError) as exc:
        first = str(exc).strip().splitlines()
        return (
            f"cannot connect to {redact_password(url)}: {first[0] if first else type(exc).__name__}"
        )
    return None


def _drop_schemas(url: str, schemas: list[str]) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
