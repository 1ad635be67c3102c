"""A running venue: the journal, its sequencer and verifier pool, a keeper, and
the chores between them, started and stopped as one.

The sequencer applies on its own threads; everything here that reads the engine
or the in-memory tree holds the journal's lock for the few microseconds a view
takes. Reads of the record (entries, stored checkpoints) go through a second,
read-only connection to the store, so they never share the writer's connection or
its open transaction.

The engine runs a commit (a few milliseconds) ahead of the record, so a view read
from it is answered only once the record has caught up with what the view shows
(`_durable_read`): no reader ever sees a transaction that a crash could still
undo. Receipts and proofs are only ever of what is durable too.

Chores, on one thread: every `checkpoint_interval_s` a signed checkpoint of
everything durable, when the record has grown (through the sequencer, whose
commit stage is the store's one writer), so that a receipt can be proven within
about that long; every `keeper_interval_s` a keeper poll (settlements, funding,
liquidations), when the venue runs a keeper.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from clearhouse.audit.proofs import proof_to_json
from clearhouse.auth.signing import Signer
from clearhouse.auth.verifier import BatchVerifier, VerifierPool
from clearhouse.core import Engine, ErrorCode, Genesis, Instrument, Rejection, Transaction
from clearhouse.core.views import AccountView, Depth, MarkView
from clearhouse.journal import InclusionProof, Journal, JournalStore
from clearhouse.journal.entry import entry_bytes
from clearhouse.journal.urls import open_store
from clearhouse.keepers import Keeper
from clearhouse.sequencer import Committed, Sequencer, Ticket
from clearhouse.service.errors import ApiError, ServiceErrorCode

log = logging.getLogger("clearhouse.service")
_T = TypeVar("_T")

READ_WAIT_S = 5.0
"""How long a read waits for the record to catch up before NOT_READY."""
CHECKPOINT_INTERVAL_S = 1.0
KEEPER_INTERVAL_S = 1.0
IN_FLIGHT_MAX = 100_000
BOOK_LEVELS_METRICS = 10
SHED_FRACTION = 0.8
"""Requests are answered BUSY once this share of `in_flight_max` is in flight, so
the sequencer's own bound is never what turns an order away."""


class VenueRuntime:
    def __init__(
        self,
        journal: Journal,
        reader: JournalStore,
        *,
        pool: BatchVerifier | None = None,
        keeper_signer: Signer | None = None,
        checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
        keeper_interval_s: float = KEEPER_INTERVAL_S,
        clock: Callable[[], int] = time.time_ns,
        on_close: Callable[[], None] | None = None,
        in_flight_max: int = IN_FLIGHT_MAX,
    ) -> None:
        """`in_flight_max` bounds the sequencer's queue; requests are shed with BUSY
        from `SHED_FRACTION` of it (`shed_at`)."""
        self.journal = journal
        self.shed_at = max(1, int(in_flight_max * SHED_FRACTION))
        self.genesis: Genesis = journal.genesis
        self.listeners: list[Callable[[list[Committed]], None]] = []
        """Called with every commit's journaled transactions and receipts, on the
        commit thread: each must return at once (the streams hand off to a loop)."""
        self._caught_up = threading.Condition()
        """Notified after every commit, for reads waiting on the record."""
        self.stage_listeners: list[Callable[[str, float, int], None]] = []
        """Told each sequencer stage's time per batch (metrics), on its thread."""
        self.sequencer = Sequencer(
            journal,
            pool=pool,
            in_flight_txs_max=in_flight_max,
            on_commit=self._committed,
            on_stage=self._staged,
        )
        self._reader = reader
        self._reader_lock = threading.Lock()
        self._keeper_signer = keeper_signer
        self.keeper: Keeper | None = None
        self.checkpoint_interval_s = checkpoint_interval_s
        self.keeper_interval_s = keeper_interval_s
        self._clock = clock
        self._on_close = on_close
        self._stop = threading.Event()
        self._chores = threading.Thread(target=self._run_chores, name="venue-chores", daemon=True)
        self._closed = False

    @classmethod
    def open(
        cls,
        url: str,
        genesis: Genesis,
        operator: Signer,
        key_name: str,
        *,
        workers: int | None = None,
        keeper_signer: Signer | None = None,
        checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
        clock: Callable[[], int] = time.time_ns,
        in_flight_max: int = IN_FLIGHT_MAX,
    ) -> VenueRuntime:
        """Open (or create) the journal at `url`, recovering its state, with a
        verifier pool of `workers` processes (0: verify in the sequencer). `clock`
        stamps transactions (the sequencer's time; a benchmark replays a workload's)."""
        pool = VerifierPool(workers) if workers != 0 else None
        try:
            journal = Journal(open_store(url), genesis, operator, key_name, pool=pool, clock=clock)
            reader = open_store(url, read_only=True)
        except BaseException:
            if pool is not None:
                pool.close()
            raise
        return cls(
            journal,
            reader,
            pool=pool,
            keeper_signer=keeper_signer,
            checkpoint_interval_s=checkpoint_interval_s,
            clock=clock,
            on_close=pool.close if pool is not None else None,
            in_flight_max=in_flight_max,
        )

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> VenueRuntime:
        self.sequencer.start()
        if self._keeper_signer is not None:
            self.keeper = Keeper.for_sequencer(self.sequencer, self._keeper_signer)
        self._chores.start()
        return self

    def close(self) -> None:
        """Stop the chores, commit and acknowledge everything admitted, sign a last
        checkpoint, and close the record. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._chores.is_alive():
            self._chores.join()
        try:
            self.sequencer.close()
            if self.journal.stopped is None and self._grown():
                self.journal.checkpoint()
        finally:
            self.journal.close()
            self._reader.close()
            if self._on_close is not None:
                self._on_close()

    @property
    def ready(self) -> bool:
        return self.sequencer.running

    def _run_chores(self) -> None:
        next_checkpoint = next_poll = time.monotonic()
        while not self._stop.wait(0.05):
            now = time.monotonic()
            try:
                if self.keeper is not None and now >= next_poll:
                    next_poll = now + self.keeper_interval_s
                    self.keeper.poll(self._clock())
                if now >= next_checkpoint:
                    next_checkpoint = now + self.checkpoint_interval_s
                    if self._grown():
                        self.sequencer.checkpoint().result()
            except Exception as exc:  # a stopped sequencer: the venue is going down
                if self.sequencer.running:
                    log.error("venue chore failed: %s: %s", type(exc).__name__, exc)
                else:
                    return

    def _grown(self) -> bool:
        with self._reader_lock:
            stored = self._reader.checkpoints()
        return self.journal.durable_seq > (stored[-1][0] if stored else 0)

    def now_ns(self) -> int:
        """The venue's clock (the sequencer's time source)."""
        return self._clock()

    def _committed(self, committed: list[Committed]) -> None:
        with self._caught_up:
            self._caught_up.notify_all()
        for listener in self.listeners:
            listener(committed)

    def _staged(self, stage: str, seconds: float, count: int) -> None:
        for listener in self.stage_listeners:
            listener(stage, seconds, count)

    # -- writes ----------------------------------------------------------------------

    def submit_many(self, txs: list[Transaction]) -> list[Ticket]:
        """Admit a request's transactions, all of them or, past `shed_at` in flight,
        none: ApiError(BUSY), which nothing was journaled for and may be sent again."""
        in_flight = self.sequencer.in_flight
        if in_flight + len(txs) > self.shed_at:
            raise ApiError(
                ErrorCode.BUSY,
                f"{in_flight:,} transactions in flight; this venue sheds load from "
                f"{self.shed_at:,}: send again shortly",
            )
        return self.sequencer.submit_many(txs)

    # -- reads of the engine ---------------------------------------------------------

    def status(self) -> dict[str, Any]:
        signed = self.journal.checkpoints.last_signed
        with self.journal.lock:
            engine = self.journal.engine
            return {
                "venue_id": self.genesis.venue_id,
                "seq": engine.seq,
                "durable_seq": self.journal.durable_seq,
                "chain_head": engine.chain_head.hex(),
                "timestamp_ns": engine.timestamp_ns,
                "operator_key": self.journal.verifier().verifier_string(),
                "in_flight": self.sequencer.in_flight,
                "totals": engine.totals(),
                "governance": msgspec.to_builtins(self.genesis.governance),
                "checkpoint_size": signed.size if signed is not None else 0,
            }

    def instruments(self) -> list[Instrument]:
        with self.journal.lock:
            return self.journal.engine.instruments()

    def _durable_read(self, read: Callable[[Engine], _T]) -> _T:
        """`read(engine)` under the journal's lock, answered once everything it may
        show is durable."""
        journal = self.journal
        with journal.lock:
            value = read(journal.engine)
            shown = journal.engine.seq
        if journal.durable_seq < shown:
            with self._caught_up:
                caught_up = self._caught_up.wait_for(
                    lambda: journal.durable_seq >= shown or journal.stopped is not None,
                    READ_WAIT_S,
                )
            if not caught_up or journal.durable_seq < shown:
                raise ApiError(
                    ServiceErrorCode.NOT_READY, "the record is not keeping up: try again"
                )
        return value

    def account(self, account_id: str) -> AccountView:
        view = self._durable_read(lambda engine: engine.account(account_id))
        if view is None:
            raise ApiError(ErrorCode.UNKNOWN_ACCOUNT, f"no account {account_id!r}")
        return view

    def depth(self, instrument: str, levels: int) -> Depth:
        depth = self._durable_read(lambda engine: engine.depth(instrument, levels))
        if isinstance(depth, Rejection):
            raise ApiError(depth.code, depth.message)
        return depth

    def marks(self, instrument: str) -> MarkView:
        marks = self._durable_read(lambda engine: engine.marks(instrument))
        if isinstance(marks, Rejection):
            raise ApiError(marks.code, marks.message)
        return marks

    def books(self) -> list[Depth]:
        """The top `BOOK_LEVELS_METRICS` levels of every book with orders (metrics)."""
        depths = []
        for spec in self.instruments():
            depth = self.depth(spec.id, BOOK_LEVELS_METRICS)
            if depth.bids or depth.asks:
                depths.append(depth)
        return depths

    def margin_calls(self) -> int:
        """How many accounts are in a margin call now (a pass over the accounts, as
        the keeper's poll makes every second)."""
        return self._durable_read(lambda engine: len(engine.accounts_in_margin_call()))

    def key_holder(self, public_key: bytes) -> tuple[str, str] | None:
        with self.journal.lock:
            return self.journal.engine.key_holder(public_key)

    def nonce_high(self, public_key: bytes) -> int:
        with self.journal.lock:
            return self.journal.engine.nonce_high(public_key)

    # -- reads of the record ---------------------------------------------------------

    def fold_record(self, fold: Callable[[JournalStore], None]) -> None:
        """Let `fold` read the whole record on the read-only connection (at start)."""
        with self._reader_lock:
            fold(self._reader)

    def latest_checkpoint(self) -> tuple[int, bytes]:
        with self._reader_lock:
            stored = self._reader.checkpoints()
        if not stored:
            raise ApiError(ServiceErrorCode.PROOF_NOT_READY, "no checkpoint has been signed yet")
        return stored[-1]

    def entry(self, seq: int) -> bytes:
        """The journal entry `seq` as the tree hashes it (`entry_bytes`)."""
        with self._reader_lock:
            entry = next(self._reader.read(seq, seq + 1), None)
        if seq < 1 or entry is None or entry.seq != seq:
            raise ApiError(ServiceErrorCode.NO_SUCH_ENTRY, f"no durable entry {seq}")
        return entry_bytes(entry)

    def prove(self, seq: int) -> dict[str, Any]:
        """An inclusion proof of entry `seq` against the latest checkpoint, in the
        format of `clearhouse audit prove` (checked offline by `audit check-proof`)."""
        size, note = self.latest_checkpoint()
        data = self.entry(seq)
        if seq > size:
            raise ApiError(
                ServiceErrorCode.PROOF_NOT_READY,
                f"no checkpoint covers entry {seq} yet: the latest covers 1..{size}; "
                f"one is signed every {self.checkpoint_interval_s:g} s",
            )
        with self.journal.lock:
            path = self.journal.tree.inclusion_proof(seq - 1, size)
        return proof_to_json(InclusionProof(seq - 1, data, size, path, note))

    def consistency(self, old_size: int, new_size: int) -> list[str]:
        """A consistency proof between two tree sizes, both within the latest checkpoint."""
        size, _ = self.latest_checkpoint()
        if not 0 < old_size <= new_size <= size:
            raise ApiError(
                ServiceErrorCode.BAD_REQUEST,
                f"sizes must satisfy 0 < first <= second <= {size} (the latest checkpoint)",
            )
        with self.journal.lock:
            return [node.hex() for node in self.journal.tree.consistency_proof(old_size, new_size)]
