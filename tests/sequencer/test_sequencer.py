"""The sequencer: many callers, durable receipts, group commit, back pressure, fail-stop.

Every test runs a real SqliteJournal in a temporary folder; a store wrapper can hold
or break the commit so that what is in flight is known exactly when it is checked.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import msgspec
import pytest

from clearhouse.auth.verifier import BatchVerifier, VerifierPool, VerifierThreads
from clearhouse.core import (
    Accepted,
    Deposit,
    ErrorCode,
    Genesis,
    OracleUpdate,
    Payload,
    PlaceOrder,
    Rejected,
    Side,
    Transaction,
)
from clearhouse.journal import Journal, JournalEntry, JournalError, Receipt, SqliteJournal
from clearhouse.journal.store import Node
from clearhouse.sequencer import Sequencer, Ticket
from clearhouse.testing import default_signer_name, signer_for, standard_genesis
from clearhouse.venue import Client

START_NS = 1_700_000_000 * 10**9
USD = 10**6
BTC = 100_000 * USD
TICK = 500_000
TRADERS = tuple(f"trader-{i}" for i in range(8))


class GatedStore(SqliteJournal):
    """A SQLite journal whose appends can be held at a gate or made to fail, and
    which counts them (one append is one durable commit)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()
        self.appends: list[int] = []
        self.fail_with: Exception | None = None

    def append(self, entries: Sequence[JournalEntry], nodes: Sequence[Node]) -> None:
        self.waiting.set()
        self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        super().append(entries, nodes)
        self.appends.append(len(entries))


class Venue:
    """A genesis, deterministic keys, a clock stepping 1 us a reading."""

    def __init__(self, folder: Path) -> None:
        self.genesis: Genesis = standard_genesis(list(TRADERS))
        self.path = folder / "journal.db"
        self.now_ns = START_NS
        self.clients: dict[str, Client] = {}

    def clock(self) -> int:
        self.now_ns += 1_000
        return self.now_ns

    def open(self, store: SqliteJournal | None = None) -> Journal:
        return Journal(
            store or SqliteJournal(self.path),
            self.genesis,
            signer_for("operator"),
            "clearhouse-test-operator",
            clock=self.clock,
            snapshot_every=0,
            checkpoint_every=0,
        )

    def sign(self, payload: Payload, by: str | None = None) -> Transaction:
        name = by or default_signer_name(payload)
        client = self.clients.get(name)
        if client is None:
            client = self.clients[name] = Client(signer_for(name), self.genesis.venue_id)
        return client.sign(payload, START_NS)

    def deposits(self, account: str, count: int) -> list[Transaction]:
        return [self.sign(Deposit(account, "USDC", (i + 1) * USD)) for i in range(count)]


@pytest.fixture
def venue(tmp_path: Path) -> Venue:
    return Venue(tmp_path)


@pytest.fixture(params=["processes", "threads"])
def pool(request: pytest.FixtureRequest) -> Iterator[BatchVerifier]:
    """Each test that verifies on a pool runs on worker processes and on threads."""
    verifier = VerifierPool(2) if request.param == "processes" else VerifierThreads(2)
    with verifier:
        yield verifier


def wait_until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def durable(journal: Journal, receipt: Receipt) -> bool:
    """The store holds the receipt's entry, with the receipt's chain head."""
    stored = next(journal.store.read(receipt.seq, receipt.seq + 1), None)
    return stored is not None and stored.chain_head == receipt.chain_head


def test_concurrent_callers_each_get_a_durable_receipt(venue: Venue, pool: BatchVerifier) -> None:
    journal = venue.open()
    set_up = [venue.sign(Deposit(trader, "USDC", 10**6 * USD)) for trader in TRADERS]
    set_up.append(venue.sign(OracleUpdate("BTC-USD", BTC, START_NS)))
    # Each caller signs with its own key, so its nonces arrive in the order it sent them.
    per_caller = {
        trader: [
            venue.sign(PlaceOrder(trader, "BTC-PERP", Side.BUY, 1, price=BTC - (1 + i) * TICK))
            for i in range(60)
        ]
        for trader in TRADERS
    }
    receipts: dict[str, list[Receipt]] = {}
    with Sequencer(journal, pool=pool, batch_txs_max=64) as sequencer:
        lone = sequencer.submit(set_up[0]).result(timeout=30)  # waits for no company
        assert lone.journaled
        assert all(f.result(timeout=30).journaled for f in sequencer.submit_many(set_up[1:]))

        def caller(trader: str) -> None:
            futures = [sequencer.submit(tx) for tx in per_caller[trader]]
            receipts[trader] = [future.result(timeout=60) for future in futures]

        threads = [threading.Thread(target=caller, args=(t,)) for t in TRADERS]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    every = [receipt for trader in TRADERS for receipt in receipts[trader]]
    first = len(set_up) + 1
    assert all(isinstance(r.outcome, Accepted) for r in every), [
        r.outcome for r in every if not isinstance(r.outcome, Accepted)
    ][:3]
    assert sorted(r.seq for r in every) == list(range(first, first + 8 * 60))
    assert all(durable(journal, r) for r in every)
    for trader in TRADERS:  # each caller's own order is kept
        seqs = [r.seq for r in receipts[trader]]
        assert seqs == sorted(seqs)
    size = len(set_up) + 8 * 60
    assert journal.engine.seq == journal.store.size() == journal.tree.size == size
    journal.close()


def test_the_same_sequence_gives_the_chain_head_of_a_serial_run(
    venue: Venue, tmp_path: Path, pool: BatchVerifier
) -> None:
    txs = [
        *venue.deposits("trader-0", 3),
        *venue.deposits("trader-1", 3),
        venue.sign(PlaceOrder("trader-0", "BTC-PERP", Side.BUY, 1, price=BTC)),
        venue.sign(PlaceOrder("trader-1", "BTC-PERP", Side.SELL, 1, price=BTC)),
        venue.sign(Deposit("nobody", "USDC", USD), by="trader-2"),  # refused: ROLE_FORBIDDEN
    ] * 1
    piped = venue.open()
    with Sequencer(piped, pool=pool, batch_txs_max=3) as sequencer:
        futures = sequencer.submit_many(txs)
    piped_receipts = [future.result() for future in futures]

    serial_venue = Venue(tmp_path / "serial")
    (tmp_path / "serial").mkdir()
    serial = serial_venue.open()
    serial_receipts = [r for start in (0, 4) for r in serial.submit(txs[start : start + 4])]
    serial_receipts += serial.submit(txs[8:])
    assert piped_receipts == serial_receipts
    assert piped.engine.chain_head == serial.engine.chain_head
    assert piped.engine.digest() == serial.engine.digest()
    assert piped.tree.root() == serial.tree.root()
    assert isinstance(piped_receipts[-1].outcome, Rejected)
    assert piped_receipts[-1].outcome.code is ErrorCode.ROLE_FORBIDDEN


def test_a_full_sequencer_answers_busy_at_once_and_loses_nothing(venue: Venue) -> None:
    store = GatedStore(venue.path)
    journal = venue.open(store)
    txs = venue.deposits("trader-0", 6)
    sequencer = Sequencer(journal, in_flight_txs_max=5).start()
    store.gate.clear()  # the first commit waits here: nothing is acknowledged
    admitted = [sequencer.submit(tx) for tx in txs[:5]]
    assert store.waiting.wait(timeout=30)
    busy = sequencer.submit(txs[5]).result(timeout=0)  # resolved already: no wait
    assert not busy.journaled
    assert isinstance(busy.outcome, Rejected) and busy.outcome.code is ErrorCode.BUSY
    assert not any(future.done() for future in admitted)
    store.gate.set()
    receipts = [future.result(timeout=30) for future in admitted]
    assert [r.seq for r in receipts] == [1, 2, 3, 4, 5]
    again = sequencer.submit(txs[5]).result(timeout=30)  # the same signed tx, sent again
    assert again.journaled and isinstance(again.outcome, Accepted)
    sequencer.close()
    assert journal.store.size() == 6


def test_a_flood_rides_few_commits(venue: Venue) -> None:
    store = GatedStore(venue.path)
    journal = venue.open(store)
    txs = venue.deposits("trader-0", 1) + [
        tx for trader in TRADERS[1:] for tx in venue.deposits(trader, 50)
    ]
    with Sequencer(journal, batch_txs_max=16) as sequencer:
        store.gate.clear()
        first = sequencer.submit(txs[0])
        assert store.waiting.wait(timeout=30)
        rest = sequencer.submit_many(txs[1:])  # arrive while the first fsync "runs"
        wait_until(lambda: journal.engine.seq == len(txs))  # all applied, none durable
        assert not any(future.done() for future in rest)
        store.gate.set()
        receipts = [first.result(timeout=30)] + [f.result(timeout=30) for f in rest]
    assert all(r.journaled for r in receipts)
    assert store.appends == [1, len(txs) - 1]  # all that formed during one commit: one more


def test_a_transaction_the_record_cannot_hold_is_refused_alone(venue: Venue) -> None:
    journal = venue.open()
    good = venue.deposits("trader-0", 2)
    # Built in Python past the codec: no signature can cover bytes that do not exist.
    huge = msgspec.structs.replace(good[0], payload=Deposit("trader-0", "USDC", 2**64))
    with Sequencer(journal) as sequencer:
        futures = sequencer.submit_many([good[0], huge, good[1]])
    first, refused, last = (future.result() for future in futures)
    assert not refused.journaled
    assert isinstance(refused.outcome, Rejected)
    assert refused.outcome.code is ErrorCode.VALUE_OUT_OF_RANGE
    assert (first.seq, last.seq) == (1, 2)
    assert durable(journal, first) and durable(journal, last)


def test_a_bad_signature_is_journaled_as_a_rejection(venue: Venue, pool: BatchVerifier) -> None:
    journal = venue.open()
    tx = venue.deposits("trader-0", 1)[0]
    forged = Transaction(tx.payload, tx.signer, tx.nonce, tx.expires_at_ns, bytes(64))
    with Sequencer(journal, pool=pool) as sequencer:
        receipt = sequencer.submit(forged).result(timeout=30)
    assert receipt.journaled and durable(journal, receipt)
    assert isinstance(receipt.outcome, Rejected)
    assert receipt.outcome.code is ErrorCode.BAD_SIGNATURE


def test_a_failed_commit_stops_everything_and_acknowledges_none_of_it(venue: Venue) -> None:
    store = GatedStore(venue.path)
    journal = venue.open(store)
    txs = venue.deposits("trader-0", 4)
    sequencer = Sequencer(journal).start()
    assert sequencer.submit(txs[0]).result(timeout=30).journaled
    store.fail_with = OSError("disk full")
    store.gate.clear()
    failing = sequencer.submit_many(txs[1:3])
    assert store.waiting.wait(timeout=30)
    store.gate.set()
    for future in failing:
        with pytest.raises(JournalError, match="disk full"):
            future.result(timeout=30)
    with pytest.raises(JournalError, match="disk full"):
        sequencer.submit(txs[3])
    with pytest.raises(JournalError):
        sequencer.close()
    journal.close()
    reopened = venue.open()  # the record holds what was acknowledged, and only that
    assert reopened.engine.seq == reopened.store.size() == 1
    reopened.close()


def test_close_drains_every_admitted_transaction(venue: Venue, pool: BatchVerifier) -> None:
    journal = venue.open()
    txs = [tx for trader in TRADERS for tx in venue.deposits(trader, 25)]
    sequencer = Sequencer(journal, pool=pool, batch_txs_max=32).start()
    futures = sequencer.submit_many(txs)
    sequencer.close()
    assert all(future.done() for future in futures)
    assert [future.result().seq for future in futures] == list(range(1, len(txs) + 1))
    with pytest.raises(JournalError, match="closed"):
        sequencer.submit(txs[0])
    journal.close()
    reopened = venue.open()
    assert reopened.engine.chain_head == journal.engine.chain_head


def test_asyncio_tasks_await_their_receipts(venue: Venue) -> None:
    journal = venue.open()
    txs = [tx for trader in TRADERS[:4] for tx in venue.deposits(trader, 20)]

    async def main(sequencer: Sequencer) -> list[Receipt]:
        return list(await asyncio.gather(*(sequencer.submit_async(tx) for tx in txs)))

    with Sequencer(journal) as sequencer:
        receipts = asyncio.run(main(sequencer))
    assert sorted(r.seq for r in receipts) == list(range(1, len(txs) + 1))
    assert all(durable(journal, r) for r in receipts)


def test_an_admitted_transaction_cannot_be_cancelled(venue: Venue) -> None:
    store = GatedStore(venue.path)
    journal = venue.open(store)
    with Sequencer(journal) as sequencer:
        store.gate.clear()
        future: Ticket = sequencer.submit(venue.deposits("trader-0", 1)[0])
        assert store.waiting.wait(timeout=30)
        assert not future.cancel()  # it may already be on its way to the disk
        store.gate.set()
        assert future.result(timeout=30).journaled


def test_a_verifier_worker_killed_stops_nothing(venue: Venue) -> None:
    journal = venue.open()
    first, second = venue.deposits("trader-0", 40), venue.deposits("trader-1", 40)
    with VerifierPool(2) as pool, Sequencer(journal, pool=pool) as sequencer:
        assert all(f.result(timeout=60).journaled for f in sequencer.submit_many(first))
        for pid in pool.pids:
            os.kill(pid, signal.SIGKILL)
        receipts = [f.result(timeout=60) for f in sequencer.submit_many(second)]
    assert all(isinstance(r.outcome, Accepted) and durable(journal, r) for r in receipts)
    assert sequencer.verifier_failures >= 1
    journal.close()
    reopened = venue.open()  # the record re-executes: the verdicts were the rule set's
    assert reopened.engine.seq == 80
    reopened.close()


NEVER_CLOSED = """
import sys
import time
from clearhouse.core import Deposit
from clearhouse.journal import Journal, SqliteJournal
from clearhouse.sequencer import Sequencer
from clearhouse.testing import CUSTODIAN, signer_for, standard_genesis
from clearhouse.venue import Client

genesis = standard_genesis(["alice"])
journal = Journal(SqliteJournal(sys.argv[1]), genesis, signer_for("operator"), "operator")
sequencer = Sequencer(journal).start()
client = Client(signer_for(CUSTODIAN), genesis.venue_id)
tx = client.sign(Deposit("alice", "USDC", 10**6), time.time_ns())
receipt = sequencer.submit(tx).result(timeout=30)
print(receipt.seq, type(receipt.outcome).__name__)
"""


def test_a_process_that_never_closes_its_sequencer_still_exits(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", NEVER_CLOSED, str(tmp_path / "journal.db")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "Accepted"]


def test_a_batch_beyond_the_bound_is_admitted_up_to_it_and_busy_after(venue: Venue) -> None:
    store = GatedStore(venue.path)
    journal = venue.open(store)
    txs = venue.deposits("trader-0", 8)
    with Sequencer(journal, in_flight_txs_max=5) as sequencer:
        store.gate.clear()
        tickets = sequencer.submit_many(txs)
        busy = [t.result(timeout=0) for t in tickets[5:]]  # answered at once
        assert all(r.outcome.code is ErrorCode.BUSY and not r.journaled for r in busy)  # type: ignore[union-attr]
        store.gate.set()
        assert [t.result(timeout=30).seq for t in tickets[:5]] == [1, 2, 3, 4, 5]
    assert sequencer.in_flight == 0
