"""`clearhouse bench pipeline`: a signed order's whole durable path, beside the
verifier pool's raw rate on the same transactions, in one run.

What a user of a venue waits for is a signed order decoded, verified, sequenced,
journaled durably, applied and acknowledged. Measured on the seeded order flow of
`bench core` (resting orders, cancels, marketable orders, oracle moves over 1,000
funded accounts), every transaction signed by its own account's key:

- `verify_pool_per_s`: the pool alone verifying the transactions' canonical bytes
  (the baseline: the path can go no faster than its signatures);
- `durable_orders_per_s`: every order offered at once to a `Sequencer` over a
  SQLite journal (WAL, synchronous=FULL) with the same pool, from the first submit
  to the last durable receipt; `durable_orders_per_s_postgres` the same into
  PostgreSQL (None, with a note, when it cannot be reached);
- `p50_ms`, `p99_ms`, `p999_ms`: durable-acknowledgement latency with orders
  offered at `offered_per_s`, half the SQLite rate, by concurrent client threads
  on a fixed schedule (open loop: latency counts from when an order was due, so a
  stall is not hidden by clients that stop sending during it);
- `journal_vs_raw_sqlite`: the SQLite store's appends (entries and their Merkle
  node runs, batches of 1,000) over a bare `executemany` of the same entry rows
  into the same table with the same pragmas.

Rates are reported as the median of `repeat` runs with their min and max beside
(`*_runs`): the machine is shared, so only ratios measured in one run compare.
The pre-signed flow is moved out of the garbage collector's reach before timing
(`gc.freeze()`, as `bench core` does): a full collection rescanning it shows up as
pauses of tens of milliseconds that belong to the harness, not to the path.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from clearhouse.auth.signing import Signer, sign_transaction, venue_domain
from clearhouse.auth.verifier import BatchVerifier, VerifierPool, VerifierThreads
from clearhouse.bench.journal_bench import (
    DEFAULT_POSTGRES_URL,
    _drop_schemas,
    _journaled,
    _postgres_unreachable,
)
from clearhouse.bench.workload import GC_NOTE, frozen_heap, generate_workload
from clearhouse.core import Accepted, Genesis, Transaction
from clearhouse.core.codec import encode
from clearhouse.journal import Journal, JournalStore, Receipt, SqliteJournal
from clearhouse.journal.entry import JournalEntry, entry_bytes
from clearhouse.journal.merkle import MerkleTree
from clearhouse.journal.store import Node, PersistedHashStore
from clearhouse.sequencer import Sequencer, Ticket
from clearhouse.testing import CUSTODIAN, ORACLE, signer_for

OPERATOR = "bench-operator"
CLIENTS = 8
"""Client threads offering orders in the latency run."""
RAW_BATCH = 1_000


VERIFIERS = ("processes", "threads")


def run_pipeline_bench(
    orders: int = 20_000,
    seed: int = 7,
    workers: int | None = None,
    repeat: int = 3,
    postgres_url: str | None = DEFAULT_POSTGRES_URL,
    verifier: str = "processes",
) -> dict[str, Any]:
    """`verifier`: "processes" (a `VerifierPool`) or "threads" (`VerifierThreads`),
    used for the raw rate and the durable path alike."""
    if verifier not in VERIFIERS:
        raise ValueError(f"verifier must be one of {', '.join(VERIFIERS)}")
    flow = SignedFlow(orders, seed)
    result: dict[str, Any] = {
        "benchmark": "pipeline",
        "orders": orders,
        "seed": seed,
        "verifier": verifier,
    }
    pool: VerifierPool | VerifierThreads = (
        VerifierPool(workers) if verifier == "processes" else VerifierThreads(workers)
    )
    with pool, tempfile.TemporaryDirectory() as scratch, frozen_heap():
        pool.warm_up()
        folder = Path(scratch)
        verify_runs = [_verify_rate(pool, flow) for _ in range(repeat)]
        durable_runs = [
            durable_rate(flow, pool, lambda: SqliteJournal(folder / f"{uuid.uuid4().hex}.db"))
            for _ in range(repeat)
        ]
        result.update(_spread("verify_pool_per_s", verify_runs))
        result.update(_spread("durable_orders_per_s", durable_runs))
        result["durable_vs_verify_pool"] = round(
            result["durable_orders_per_s"] / result["verify_pool_per_s"], 3
        )
        offered = result["durable_orders_per_s"] / 2
        result["offered_per_s"] = round(offered)
        store = SqliteJournal(folder / "latency.db")
        result.update(_latency(flow, pool, store, offered))
        result.update(_postgres(flow, pool, postgres_url, repeat))
        result.update(_spread("journal_vs_raw_sqlite", _raw_ratios(folder, repeat)))
    result["workers"] = pool.workers
    result["cores"] = os.cpu_count()
    result["durability"] = "sqlite WAL synchronous=FULL; postgres synchronous_commit on"
    result["gc"] = GC_NOTE
    return result


class SignedFlow:
    """The seeded workload of `bench core`, each transaction signed by its own key."""

    def __init__(self, orders: int, seed: int) -> None:
        workload = generate_workload(orders, seed)
        self.genesis: Genesis = workload.genesis
        names = [f"acct{i:05d}" for i in range(workload.accounts)]
        signers: dict[bytes, Signer] = {}
        for name in (*names, CUSTODIAN, ORACLE):
            signer = signer_for(name)
            signers[signer.public_key()] = signer
        venue_id = self.genesis.venue_id

        def signed(tx: Transaction) -> Transaction:
            return sign_transaction(signers[tx.signer], venue_id, tx)

        self.setup = [signed(s.tx) for s in workload.setup]
        self.orders = [signed(s.tx) for s in workload.orders]
        self.start_ns = workload.setup[0].timestamp_ns
        self.blobs = [encode(tx) for tx in self.orders]

    def journal(self, store: JournalStore) -> Journal:
        """A journal on `store` whose clock steps as the workload's did, so that every
        transaction is sequenced within its lifetime."""
        now = self.start_ns

        def clock() -> int:
            nonlocal now
            now += 50_000
            return now

        operator = signer_for(OPERATOR)
        journal = Journal(store, self.genesis, operator, OPERATOR, clock=clock)
        for receipt in journal.submit(self.setup):
            if not isinstance(receipt.outcome, Accepted):
                raise AssertionError(f"set-up transaction refused: {receipt.outcome}")
        return journal


def _verify_rate(pool: BatchVerifier, flow: SignedFlow) -> float:
    domain = venue_domain(flow.genesis.venue_id)
    started = time.perf_counter()
    verdicts = pool.submit_encoded(domain, flow.blobs)()
    elapsed = time.perf_counter() - started
    if verdicts.count(1) != len(flow.blobs):
        raise AssertionError("a signed order of the workload did not verify")
    return len(flow.blobs) / elapsed


def durable_rate(
    flow: SignedFlow, pool: BatchVerifier, make_store: Callable[[], JournalStore]
) -> float:
    journal = flow.journal(make_store())
    try:
        with Sequencer(journal, pool=pool) as sequencer:
            started = time.perf_counter()
            futures = sequencer.submit_many(flow.orders)
            receipts = [future.result() for future in futures]
            elapsed = time.perf_counter() - started
        _check(receipts, len(flow.orders))
    finally:
        journal.close()
    return len(flow.orders) / elapsed


def _check(receipts: list[Receipt], count: int) -> None:
    if len(receipts) != count or not all(receipt.journaled for receipt in receipts):
        raise AssertionError("an order was not journaled")


def _latency(
    flow: SignedFlow, pool: BatchVerifier, store: JournalStore, offered_per_s: float
) -> dict[str, Any]:
    """Orders offered on a fixed schedule by `CLIENTS` threads; each latency runs from
    the moment the order was due to the moment its durable receipt arrived."""
    journal = flow.journal(store)
    latencies_ns: list[int] = [0] * len(flow.orders)
    interval_ns = int(1e9 / offered_per_s)
    futures: list[Ticket] = []
    lock = threading.Lock()
    with Sequencer(journal, pool=pool) as sequencer:
        start_ns = time.perf_counter_ns() + 50_000_000

        def client(first: int) -> None:
            for index in range(first, len(flow.orders), CLIENTS):
                due_ns = start_ns + index * interval_ns
                wait_ns = due_ns - time.perf_counter_ns()
                if wait_ns > 0:
                    time.sleep(wait_ns / 1e9)
                future = sequencer.submit(flow.orders[index])
                future.add_done_callback(_stamp(latencies_ns, index, due_ns))
                with lock:
                    futures.append(future)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        receipts = [future.result() for future in futures]
    journal.close()
    _check(receipts, len(flow.orders))
    ordered = sorted(latencies_ns)
    count = len(ordered)
    return {
        "p50_ms": round(ordered[count // 2] / 1e6, 3),
        "p99_ms": round(ordered[min(count - 1, count * 99 // 100)] / 1e6, 3),
        "p999_ms": round(ordered[min(count - 1, count * 999 // 1000)] / 1e6, 3),
        "max_ms": round(ordered[-1] / 1e6, 3),
        "latency_clients": CLIENTS,
    }


def _stamp(latencies_ns: list[int], index: int, due_ns: int) -> Callable[[Ticket], None]:
    def done(_: Ticket) -> None:
        latencies_ns[index] = time.perf_counter_ns() - due_ns

    return done


def _postgres(
    flow: SignedFlow, pool: BatchVerifier, url: str | None, repeat: int
) -> dict[str, Any]:
    unreachable = _postgres_unreachable(url) if url else "no URL given"
    if url is None or unreachable is not None:
        return {"durable_orders_per_s_postgres": None, "postgres_skipped": unreachable}
    from clearhouse.journal.postgres_store import PostgresJournal

    schemas: list[str] = []

    def store() -> JournalStore:
        schemas.append(f"bench_{uuid.uuid4().hex[:12]}")
        return PostgresJournal(url, schema=schemas[-1])

    try:
        runs = [durable_rate(flow, pool, store) for _ in range(repeat)]
    finally:
        _drop_schemas(url, schemas)
    return _spread("durable_orders_per_s_postgres", runs)


def _raw_ratios(folder: Path, repeat: int) -> list[float]:
    """The store's append rate over a bare executemany of the same entry rows."""
    entries, _ = _journaled(20_000, 7)
    batches = _with_nodes(entries)
    ratios = []
    for run in range(repeat):
        raw = _raw_rate(folder / f"raw-{run}.db", entries)
        store = SqliteJournal(folder / f"store-{run}.db")
        started = time.perf_counter()
        for chunk, nodes in batches:
            store.append(chunk, nodes)
        ours = len(entries) / (time.perf_counter() - started)
        store.close()
        ratios.append(ours / raw)
    return ratios


def _with_nodes(entries: list[JournalEntry]) -> list[tuple[list[JournalEntry], list[Node]]]:
    hashes = PersistedHashStore()
    tree = MerkleTree(hashes)
    batches = []
    for start in range(0, len(entries), RAW_BATCH):
        chunk = entries[start : start + RAW_BATCH]
        for entry in chunk:
            tree.append(entry_bytes(entry))
        batches.append((chunk, hashes.take_pending()))
    return batches


def _raw_rate(path: Path, entries: list[JournalEntry]) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE entries (seq INTEGER PRIMARY KEY, timestamp_ns INTEGER NOT NULL,"
        " tx BLOB NOT NULL, outcome BLOB NOT NULL, chain_head BLOB NOT NULL)"
    )
    rows = [(e.seq, e.timestamp_ns, e.tx, e.outcome, e.chain_head) for e in entries]
    started = time.perf_counter()
    for start in range(0, len(rows), RAW_BATCH):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO entries VALUES (?, ?, ?, ?, ?)", rows[start : start + RAW_BATCH]
        )
        db.execute("COMMIT")
    rate = len(rows) / (time.perf_counter() - started)
    db.close()
    return rate


def _spread(key: str, runs: list[float]) -> dict[str, Any]:
    """The median under `key`, and min/median/max of the runs under `key_runs`."""
    digits = 3 if key.endswith(("ratio", "raw_sqlite")) else 0
    values = [round(run, digits) for run in runs]
    median = round(statistics.median(runs), digits)
    return {
        key: median if digits else int(median),
        f"{key}_runs": {"min": min(values), "median": median, "max": max(values)},
    }
