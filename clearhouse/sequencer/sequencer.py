"""The sequencer: the one place where arrival order enters.

Many callers (threads, or asyncio tasks through `submit_async`) hand it signed
transactions; each gets a future that resolves once its transaction is durable.
A transaction travels through numbered stages, each on its own thread, so that
signature verification (two thirds of an order's cost) overlaps everything else:

    0. admit   `submit` counts it in flight, or answers BUSY at once when
               `in_flight_txs_max` are already in flight: never a silent drop,
               never an unbounded wait
    1. verify  the verify stage takes everything admitted so far (up to
               `batch_txs_max`), encodes each transaction once, and sends the
               canonical bytes to the verifier pool, whose workers decode them,
               build the signing bytes and check the signatures; it does not wait
               for the verdicts, so batch N+1 is verified while batch N applies
    2. apply   the apply stage waits for a batch's verdicts, then sequences and
               applies it and appends its entries to the Merkle tree
               (`Journal.stage`); the engine runs ahead of the record here,
               and nobody sees its state before the commit but through the
               journal's lock
    3. commit  the commit stage writes everything applied since its last commit
               in one durable transaction (group commit): while one fsync runs
               the next batch forms, so a lone order waits for no company and a
               flood rides large batches
    4. ack     only now does each caller's future resolve with its receipt

A transaction that the record cannot hold (`canonical_transaction`: a value the
schema does not allow, an integer beyond 64 bits) gets a receipt that is not
journaled, as does a BUSY answer; the rest of its batch goes on. A failed commit or an engine
fault leaves the engine ahead of the record, so the sequencer stops (fail-stop):
every transaction in flight fails with `JournalError`, nothing of it was
acknowledged, and the next start recovers from the record.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from types import TracebackType
from typing import Final, NamedTuple

from clearhouse.auth.signing import venue_domain
from clearhouse.auth.verifier import BatchVerifier, verify_encoded
from clearhouse.core import ErrorCode, Rejected, Rejection, Transaction
from clearhouse.core.codec import canonical_transaction
from clearhouse.journal.journal import Admitted, Journal, JournalError, Receipt, Staged
from clearhouse.sequencer.ticket import Ticket

IN_FLIGHT_TXS_MAX: Final = 100_000
"""Transactions admitted and not yet acknowledged, by default; one more is BUSY."""
BATCH_TXS_MAX: Final = 4_096
"""The most transactions the verify stage takes into one batch, by default."""
INLINE_VERIFY_TXS_MAX: Final = 4
"""A batch this small is verified in the verify stage's own thread: a round trip to
a worker process costs more than a few signatures, and a lone order is what must
not wait."""
VERIFIED_BATCHES_MAX: Final = 2
"""Batches verified ahead of the apply stage: enough to overlap verification with
applying, few enough that it does not run far ahead of the engine."""

_Verdicts = Callable[[], bytes]


class Committed(NamedTuple):
    """One journaled transaction of a commit, as `on_commit` listeners get it."""

    tx: Transaction
    receipt: Receipt
    timestamp_ns: int
    """The sequencer's time stamped on its entry."""


_StagedBatch = tuple[Staged, list[Ticket], list[Admitted]]
"""A batch applied and waiting for the commit: its tickets and what was admitted."""
log = logging.getLogger("clearhouse.sequencer")


class _Batch:
    """Admitted transactions on their way from the verify to the apply stage."""

    __slots__ = ("admitted", "futures", "verdicts")

    def __init__(
        self, futures: list[Ticket], admitted: list[Admitted], verdicts: _Verdicts
    ) -> None:
        self.futures = futures
        self.admitted = admitted
        self.verdicts = verdicts


class Sequencer:
    """Admits signed transactions from many callers and acknowledges them durably.

    `start()` (or a `with` block) starts the stages; `close()` commits and
    acknowledges everything admitted, then stops them. The journal's `lock`
    guards its engine and tree: hold it to read either from another thread.
    """

    def __init__(
        self,
        journal: Journal,
        *,
        pool: BatchVerifier | None = None,
        in_flight_txs_max: int = IN_FLIGHT_TXS_MAX,
        batch_txs_max: int = BATCH_TXS_MAX,
        on_commit: Callable[[list[Committed]], None] | None = None,
        on_stage: Callable[[str, float, int], None] | None = None,
    ) -> None:
        """`on_commit`, if given, is called on the commit thread after each commit's
        acknowledgements with every journaled transaction of it, its receipt and its
        entry's timestamp (`Committed`), in sequence order: the feed of what is durable. It must return quickly (hand
        the work to another thread or loop); if it raises, the error is logged and
        counted in `listener_failures`, and the sequencer goes on. `on_stage`, if
        given, is told (stage, seconds, transactions) for each batch: "verify" the
        wait for its verdicts, "apply" `Journal.stage`, "journal" the durable
        commit, "ack" resolving the tickets; for metrics, called on the stage's
        thread, and it must be as quick."""
        if in_flight_txs_max < 1 or batch_txs_max < 1:
            raise ValueError("in_flight_txs_max and batch_txs_max must be positive")
        self.journal = journal
        self.in_flight_txs_max = in_flight_txs_max
        self.batch_txs_max = batch_txs_max
        self._pool = pool
        self._domain = venue_domain(journal.genesis.venue_id)
        self._on_commit = on_commit
        self._on_stage = on_stage
        self.listener_failures = 0
        self.verifier_failures = 0
        """Batches the pool failed to verify, verified in the sequencer instead."""
        # One lock for the hand-offs between stages, with a condition per queue.
        self._lock = threading.Lock()
        self._admitted_ready = threading.Condition(self._lock)
        self._verified_ready = threading.Condition(self._lock)
        self._verified_room = threading.Condition(self._lock)
        self._staged_ready = threading.Condition(self._lock)
        self._admitted: deque[tuple[Transaction, Ticket]] = deque()
        self._verified: deque[_Batch | None] = deque()
        self._staged: deque[_StagedBatch | Future[bytes] | None] = deque()
        """Staged batches for the commit stage, checkpoint requests (futures of the
        signed note) among them, and None once the apply stage has ended."""
        self._outstanding: dict[int, Ticket] = {}
        """The tickets in flight: admitted and not yet acknowledged."""
        self._state = "new"
        self._failed: str | None = None
        # Daemon threads: a process that exits without `close()` is not held open by
        # them. Nothing is lost that was acknowledged (acks follow the commit), and a
        # commit cut short is rolled back by the store, so the record stays whole.
        self._threads = [
            threading.Thread(target=self._run, args=(stage,), name=f"sequencer-{name}", daemon=True)
            for name, stage in (
                ("verify", self._verify_stage),
                ("apply", self._apply_stage),
                ("commit", self._commit_stage),
            )
        ]

    # -- 0. admit ------------------------------------------------------------------

    def submit(self, tx: Transaction) -> Ticket:
        """A ticket (a light future) of the transaction's receipt, resolved once it is
        durable.

        Never blocks: with `in_flight_txs_max` transactions in flight the future is
        already resolved, with a receipt that is not journaled and a BUSY outcome.
        Raises JournalError unless the sequencer is running.
        """
        return self.submit_many((tx,))[0]

    def submit_many(self, txs: Sequence[Transaction]) -> list[Ticket]:
        """`submit` for each, in order, admitted under one hold of the lock; those
        beyond `in_flight_txs_max` get BUSY tickets, as one by one."""
        tickets: list[Ticket] = []
        with self._lock:
            self._check_running()
            for tx in txs:
                if len(self._outstanding) >= self.in_flight_txs_max:
                    tickets.append(self._busy())
                    continue
                ticket = Ticket()
                self._outstanding[id(ticket)] = ticket
                self._admitted.append((tx, ticket))
                tickets.append(ticket)
            self._admitted_ready.notify()
        return tickets

    def _check_running(self) -> None:
        if self._state != "running":
            reason = self._failed or f"the sequencer is {self._state}, not running"
            raise JournalError(f"sequencer stopped: {reason}")

    def _busy(self) -> Ticket:
        busy = f"{len(self._outstanding)} transactions in flight, the most it admits; send again"
        return Ticket.resolved(Receipt(0, -1, Rejected(0, ErrorCode.BUSY, busy), b""))

    async def submit_async(self, tx: Transaction) -> Receipt:
        """`submit` for asyncio: awaits the durable receipt without blocking the loop."""
        return await self.submit(tx).wait()

    def checkpoint(self) -> Future[bytes]:
        """A future of a signed checkpoint of everything durable when the commit stage
        takes the request: signed and stored on the commit stage's thread, in turn
        with the commits, since the store takes one writer at a time."""
        request: Future[bytes] = Future()
        with self._lock:
            self._check_running()
            self._staged.append(request)
            self._staged_ready.notify()
        return request

    @property
    def running(self) -> bool:
        """Whether it admits transactions: started, and not closed or stopped."""
        return self._state == "running"

    @property
    def in_flight(self) -> int:
        """Transactions admitted and not yet acknowledged."""
        with self._lock:
            return len(self._outstanding)

    # -- 1. verify -----------------------------------------------------------------

    def _verify_stage(self) -> None:
        while True:
            with self._lock:
                while not self._admitted and self._state == "running":
                    self._admitted_ready.wait()
                if self._failed is not None:
                    return
                if not self._admitted:  # closing, and everything admitted has gone on
                    break
                taken = [
                    self._admitted.popleft()
                    for _ in range(min(len(self._admitted), self.batch_txs_max))
                ]
            admitted = [canonical_transaction(tx) for tx, _ in taken]
            blobs = [item[0] for item in admitted if not isinstance(item, Rejection)]
            batch = _Batch(
                [future for _, future in taken], admitted, self._start_verification(blobs)
            )
            with self._lock:
                while len(self._verified) >= VERIFIED_BATCHES_MAX and self._failed is None:
                    self._verified_room.wait()
                if self._failed is not None:
                    return
                self._verified.append(batch)
                self._verified_ready.notify()
        with self._lock:
            self._verified.append(None)
            self._verified_ready.notify()

    def _start_verification(self, blobs: list[bytes]) -> _Verdicts:
        """Send a batch to the pool and return a wait for its verdicts (one byte each,
        1 for a valid signature); with no pool, or for a handful, verify here and now.

        A pool that fails (a worker killed, the pool closed) stops nothing: the
        engine has not moved for this batch, so it is verified here instead, by the
        same function, to the same verdicts."""
        domain = self._domain
        if self._pool is None or len(blobs) <= INLINE_VERIFY_TXS_MAX:
            verdicts = verify_encoded(domain, blobs)
            return lambda: verdicts
        try:
            waiting = self._pool.submit_encoded(domain, blobs)
        except Exception:
            self.verifier_failures += 1
            verdicts = verify_encoded(domain, blobs)
            return lambda: verdicts

        def wait() -> bytes:
            try:
                return waiting()
            except Exception:
                self.verifier_failures += 1
                return verify_encoded(domain, blobs)

        return wait

    # -- 2. apply ------------------------------------------------------------------

    def _apply_stage(self) -> None:
        while True:
            with self._lock:
                while not self._verified and self._failed is None:
                    self._verified_ready.wait()
                if self._failed is not None:
                    return
                batch = self._verified.popleft()
                self._verified_room.notify()
            if batch is None:
                break
            started = time.perf_counter()
            verdicts = [byte == 1 for byte in batch.verdicts()]
            verified = time.perf_counter()
            staged = self.journal.stage(batch.admitted, verdicts)
            if self._on_stage is not None:
                count = len(batch.admitted)
                self._on_stage("verify", verified - started, count)
                self._on_stage("apply", time.perf_counter() - verified, count)
            with self._lock:
                self._staged.append((staged, batch.futures, batch.admitted))
                self._staged_ready.notify()
        with self._lock:
            self._staged.append(None)
            self._staged_ready.notify()

    # -- 3. commit, 4. ack -----------------------------------------------------------

    def _commit_stage(self) -> None:
        while True:
            with self._lock:
                while not self._staged and self._failed is None:
                    self._staged_ready.wait()
                if self._failed is not None:
                    return
                taken = list(self._staged)
                self._staged.clear()
            ready = [item for item in taken if isinstance(item, tuple)]
            # 3. commit: everything staged since the last commit, in one transaction
            started = time.perf_counter()
            self.journal.commit([staged for staged, _, _ in ready])
            committed = time.perf_counter()
            # 4. ack
            pairs = [
                pair
                for staged, futures, _ in ready
                for pair in zip(futures, staged.receipts, strict=True)
            ]
            self._resolve_all(pairs)
            if self._on_stage is not None and pairs:
                self._on_stage("journal", committed - started, len(pairs))
                self._on_stage("ack", time.perf_counter() - committed, len(pairs))
            if self._on_commit is not None:
                self._tell_committed(ready)
            for request in taken:
                if isinstance(request, Future):
                    request.set_result(self.journal.checkpoint())
            if None in taken:  # the apply stage has ended
                return

    def _tell_committed(self, ready: list[_StagedBatch]) -> None:
        assert self._on_commit is not None
        committed: list[Committed] = []
        for staged, _, admitted in ready:
            entries = iter(staged.entries)
            for item, receipt in zip(admitted, staged.receipts, strict=True):
                if not isinstance(item, Rejection):
                    committed.append(Committed(item[1], receipt, next(entries).timestamp_ns))
        try:
            self._on_commit(committed)
        except Exception:  # a listener's fault is not the record's: the venue goes on
            self.listener_failures += 1
            log.exception("the on_commit listener failed; the sequencer goes on")

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> Sequencer:
        with self._lock:
            if self._state != "new":
                raise RuntimeError(f"the sequencer is {self._state}; start it once")
            self._state = "running"
        for thread in self._threads:
            thread.start()
        return self

    def close(self) -> None:
        """Commit and acknowledge everything admitted, then stop the stages. Raises
        JournalError if the sequencer stopped on a fault. Safe to call twice."""
        with self._lock:
            if self._state == "running":
                self._state = "closed"
            self._admitted_ready.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()
        if self._failed is not None:
            raise JournalError(f"sequencer stopped: {self._failed}")

    def _run(self, stage: Callable[[], None]) -> None:
        try:
            stage()
        except BaseException as exc:  # the engine may be ahead of the record: stop
            self._fail(f"{type(exc).__name__}: {exc}")

    def _fail(self, reason: str) -> None:
        with self._lock:
            if self._failed is None:
                self._failed = reason
            self._state = "stopped"
            outstanding = list(self._outstanding.values())
            self._outstanding.clear()
            requests = [item for item in self._staged if isinstance(item, Future)]
            self._admitted.clear()
            self._verified.clear()
            self._staged.clear()
            for condition in (
                self._admitted_ready,
                self._verified_ready,
                self._verified_room,
                self._staged_ready,
            ):
                condition.notify_all()
        self.journal.stop(reason)
        error = JournalError(f"sequencer stopped, this was not acknowledged: {reason}")
        for future in outstanding:
            future._resolve(None, error)
        for request in requests:
            request.set_exception(error)

    def _resolve_all(self, pairs: list[tuple[Ticket, Receipt]]) -> None:
        """Acknowledge a commit's tickets: counted out under one hold of the lock, then
        resolved outside it (a ticket's callbacks may call back into the sequencer)."""
        with self._lock:
            outstanding = self._outstanding
            # A ticket no longer outstanding was already failed by a stop.
            live = [(t, r) for t, r in pairs if outstanding.pop(id(t), None) is not None]
        for ticket, receipt in live:
            ticket._resolve(receipt, None)

    def __enter__(self) -> Sequencer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
