"""The journal: the durable, provable record the engine's state is rebuilt from.

A batch of signed transactions goes through these steps, in this order:

    0. admit     each transaction as the record will hold it: its canonical bytes,
                 decoded again with the boundary's checks; one that cannot be
                 recorded is refused on its own, unsequenced (seq 0)
    1. verify    every signature, by the one rule set (on the verifier pool if given)
    2. sequence  next sequence numbers, timestamps that never go backwards
    3. apply     Engine.apply with each verdict; the outcome and the new chain head
    4. append    the entries and the Merkle nodes they close, one durable commit
    5. receipt   only now: each transaction's outcome, sequence number and leaf index

No transaction's content stops the journal: what steps 1 to 4 receive decodes, and
what decodes is recorded (an accepted or a rejected entry). Only a fault stops it:
if step 4 fails the engine holds effects the record lacks, and an engine fault (a
bug) has stopped the engine itself, so the journal stops (fail-stop) and the next
start recovers from the record. Start-up and recovery are
one path: the newest snapshot that restores (damaged ones are skipped for older
ones), then every later entry re-verified and re-executed, each outcome and chain
head compared with what was recorded; a difference refuses to start.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence

import msgspec

from clearhouse.auth.signing import Signer, venue_domain
from clearhouse.auth.verifier import BatchVerifier, verify_encoded_batch, verify_transactions
from clearhouse.core import (
    Engine,
    Genesis,
    Outcome,
    Rejected,
    Rejection,
    Sequenced,
    Transaction,
    genesis_digest,
)
from clearhouse.core.codec import canonical_transaction, decode_outcome, encode
from clearhouse.core.snapshot import SnapshotError
from clearhouse.journal.checkpoint import (
    Checkpoint,
    CheckpointSigner,
    NoteVerifier,
    parse_signed_checkpoint,
    time_extension,
)
from clearhouse.journal.entry import JournalEntry, entry_bytes
from clearhouse.journal.merkle import MerkleTree, verify_consistency
from clearhouse.journal.store import JournalStore, Node, PersistedHashStore, StoreReadError

Clock = Callable[[], int]

Admitted = tuple[bytes, Transaction] | Rejection
"""A transaction as the record will hold it (its canonical bytes, and what they
decode to), or why it cannot be recorded: what `canonical_transaction` returns."""


class JournalError(RuntimeError):
    """The journal cannot go on: its record and the engine disagree, or a write failed."""


class Receipt(msgspec.Struct, frozen=True):
    """What a client gets back once its transaction is durable.

    A transaction the journal cannot record (admission, step 0) gets a receipt that
    is not journaled: seq 0 (sequence numbers start at 1), leaf index -1, no chain
    head, and a `Rejected` outcome of seq 0 with the boundary's code.
    """

    seq: int
    leaf_index: int
    outcome: Outcome
    chain_head: bytes

    @property
    def journaled(self) -> bool:
        return self.seq > 0


class InclusionProof(msgspec.Struct, frozen=True):
    """Everything needed to check, offline, that an entry is in the signed log."""

    leaf_index: int
    entry: bytes
    tree_size: int
    proof: list[bytes]
    checkpoint: bytes
    """The signed checkpoint note of `tree_size`."""


_genesis_decoder = msgspec.msgpack.Decoder(Genesis)
_tx_decoder = msgspec.msgpack.Decoder(Transaction)


class Journal:
    def __init__(
        self,
        store: JournalStore,
        genesis: Genesis,
        operator: Signer,
        key_name: str,
        *,
        clock: Clock = time.time_ns,
        pool: BatchVerifier | None = None,
        snapshot_every: int = 100_000,
        checkpoint_every: int = 10_000,
    ) -> None:
        self.store = store
        self.genesis = genesis
        self.origin = f"clearhouse/{genesis.venue_id}"
        self._domain = venue_domain(genesis.venue_id)
        self._clock = clock
        self._pool = pool
        self.snapshot_every = snapshot_every
        self.checkpoint_every = checkpoint_every
        self._failed: str | None = None
        self._check_genesis()
        self._hashes = PersistedHashStore(store.nodes())
        self.tree = MerkleTree(self._hashes)
        self.lock = threading.RLock()
        """Held while the engine or the tree changes; hold it to read either from
        another thread while a sequencer runs."""
        self.engine = self._recover()
        self._last_ns = self.engine.timestamp_ns
        self.durable_seq = self.engine.seq
        """The last sequence number whose entry is durable."""
        self._durable_ns = self._last_ns
        self._since_snapshot = self.engine.seq - self._snapshot_seq
        self._since_checkpoint = self.engine.seq - self._last_checkpoint_size()
        self.checkpoints = CheckpointSigner(
            operator,
            key_name,
            self._consistent,
            last_signed=self._last_checkpoint(NoteVerifier(key_name, operator.public_key())),
            persist=None,
        )

    # -- start-up is recovery ------------------------------------------------------

    def _check_genesis(self) -> None:
        """The stored genesis is the one given (or is stored now). Its digest is also the
        chain's first head, so a stored genesis edited to match the one given still
        fails recovery at entry 1."""
        stored = self.store.load_genesis()
        data = encode(self.genesis)
        if stored is None:
            self.store.save_genesis(data)
            return
        try:
            recorded = genesis_digest(_genesis_decoder.decode(stored))
        except msgspec.DecodeError as exc:
            raise JournalError(f"the stored genesis does not decode: {exc}") from exc
        if recorded != genesis_digest(self.genesis):
            raise JournalError("this journal was started from another genesis")

    def _recover(self) -> Engine:
        engine = Engine(self.genesis)
        self._snapshot_seq = 0
        try:
            for seq, blob in self.store.snapshots():
                restored = self._restore(seq, blob)
                if restored is not None:
                    engine = restored
                    self._snapshot_seq = seq
                    break
        except StoreReadError:
            # Snapshots are a shortcut, never the record: one that cannot even be read
            # is passed over like one that does not restore, here down to the genesis.
            engine = Engine(self.genesis)
            self._snapshot_seq = 0
        size = self.store.size()
        self._replay_tail(engine)
        if engine.seq != size:
            raise JournalError(f"recovered to seq {engine.seq}, the record ends at {size}")
        if self.tree.size != size:
            raise JournalError(f"tree holds {self.tree.size} leaves for {size} entries")
        return engine

    def _restore(self, seq: int, blob: bytes) -> Engine | None:
        """The engine a stored snapshot holds, or None if it is damaged in any way: it
        must decode, restore, hash to the digest stored with it, and end on the chain
        head the record has at its seq."""
        try:
            engine = restore_snapshot(self.genesis, blob)
        except SnapshotError:
            return None
        if engine.seq != seq:
            return None
        recorded = next(self.store.read(seq, seq + 1), None)
        if seq and (recorded is None or recorded.chain_head != engine.chain_head):
            return None
        return engine

    def _replay_tail(self, engine: Engine, batch: int = 4_096) -> None:
        """Re-execute every entry after the engine's seq, a batch at a time. With a
        pool the next batch's signatures are verified on the workers while this one
        re-executes, as the sequencer overlaps them on the write path."""
        entries = self.store.read(engine.seq + 1)
        current = list(itertools.islice(entries, batch))
        txs, verdicts = self._start_verify(current)
        while current:
            following = list(itertools.islice(entries, batch))
            following_txs, following_verdicts = self._start_verify(following)
            self._reexecute(engine, current, txs, verdicts())
            current, txs, verdicts = following, following_txs, following_verdicts

    def _start_verify(
        self, entries: list[JournalEntry]
    ) -> tuple[list[Transaction], Callable[[], list[bool]]]:
        """The entries' transactions, decoded once, and a wait for their signature
        verdicts: started on the pool now, or computed here when asked for."""
        txs = [_tx_decoder.decode(entry.tx) for entry in entries]
        if self._pool is None or not entries:
            return txs, lambda: verify_transactions(self.genesis.venue_id, txs)
        wait = self._pool.submit_encoded(self._domain, [entry.tx for entry in entries])
        return txs, lambda: [byte == 1 for byte in wait()]

    def _reexecute(
        self,
        engine: Engine,
        entries: list[JournalEntry],
        txs: list[Transaction],
        verdicts: list[bool],
    ) -> None:
        for entry, tx, signature_valid in zip(entries, txs, verdicts, strict=True):
            outcome = engine.apply(Sequenced(entry.seq, entry.timestamp_ns, tx), signature_valid)
            if encode(outcome) != entry.outcome or engine.chain_head != entry.chain_head:
                raise JournalError(f"entry {entry.seq} does not re-execute to its recorded outcome")

    def _verify(self, recordable: Sequence[tuple[bytes, Transaction]]) -> list[bool]:
        """Verdicts on the pool from the canonical bytes (the workers decode them and
        build the signed messages), or here from the decoded transactions."""
        if self._pool is None:
            return verify_transactions(self.genesis.venue_id, [tx for _, tx in recordable])
        blobs = [data for data, _ in recordable]
        return verify_encoded_batch(self.genesis.venue_id, blobs, self._pool)

    # -- the write path --------------------------------------------------------------

    def submit(self, txs: Sequence[Transaction]) -> list[Receipt]:
        """One receipt per transaction, in order, once the batch is durable.

        A transaction that cannot be recorded gets a receipt that is not journaled
        (`Receipt.journaled`) and the rest of the batch goes on. Raises JournalError
        only for a fault: a failed write or an engine fault stops the journal.
        """
        self._check_running()
        # 0. admit
        admitted = [canonical_transaction(tx) for tx in txs]
        # 1. verify: the engine has not moved yet, so a failing pool stops nothing
        verdicts = self._verify([item for item in admitted if not isinstance(item, Rejection)])
        # 2. sequence, 3. apply
        staged = self.stage(admitted, verdicts)
        # 4. append
        self.commit([staged])
        # 5. receipt
        return staged.receipts

    def stage(self, admitted: Sequence[Admitted], verdicts: Sequence[bool]) -> Staged:
        """Sequence and apply admitted transactions (steps 2 and 3) and add their
        entries to the tree; nothing is durable until `commit`. `verdicts` holds one
        signature verdict per admitted transaction that is not a Rejection.

        The engine and the tree run ahead of the record from here until the commit,
        so any failure stops the journal. Holds `lock` while it runs.
        """
        recordable = sum(1 for item in admitted if not isinstance(item, Rejection))
        if len(verdicts) != recordable:
            raise ValueError(f"{len(verdicts)} verdicts for {recordable} recordable transactions")
        with self.lock:
            self._check_running()
            engine = self.engine
            first = engine.seq + 1
            entries: list[JournalEntry] = []
            receipts: list[Receipt] = []
            verdict = iter(verdicts)
            try:
                for item in admitted:
                    if isinstance(item, Rejection):
                        receipts.append(_unrecorded(item))
                        continue
                    data, tx = item
                    # 2. sequence
                    now = max(self._clock(), self._last_ns)
                    self._last_ns = now
                    seq = engine.seq + 1
                    # 3. apply
                    outcome = engine.apply(Sequenced(seq, now, tx), next(verdict))
                    entry = JournalEntry(seq, now, data, encode(outcome), engine.chain_head)
                    leaf = self.tree.append(entry_bytes(entry))
                    entries.append(entry)
                    receipts.append(Receipt(seq, leaf, outcome, entry.chain_head))
                snapshot = self._snapshot_if_due(len(entries))
            except BaseException as exc:
                self._hashes.discard_pending()
                self.stop(f"batch from seq {first} not applied: {type(exc).__name__}: {exc}")
                if isinstance(exc, Exception):
                    raise JournalError(self._failed) from exc
                raise
            return Staged(entries, self._hashes.take_pending(), receipts, snapshot)

    def commit(self, batches: Sequence[Staged]) -> None:
        """Step 4: the entries and tree nodes of staged batches, in the order they were
        staged, in one durable transaction (the group commit), then any snapshot they
        carry and a checkpoint when one is due. A failed write stops the journal."""
        self._check_running()
        entries = [entry for batch in batches for entry in batch.entries]
        if not entries:
            return
        first = entries[0].seq
        try:
            nodes = [node for batch in batches for node in batch.nodes]
            self.store.append(entries, nodes)
            self.durable_seq = entries[-1].seq
            self._durable_ns = entries[-1].timestamp_ns
            for batch in batches:
                if batch.snapshot is not None:
                    self.store.save_snapshot(*batch.snapshot)
            self._since_checkpoint += len(entries)
            if self.checkpoint_every and self._since_checkpoint >= self.checkpoint_every:
                self.checkpoint()
        except BaseException as exc:
            self.stop(f"batch from seq {first} not recorded: {type(exc).__name__}: {exc}")
            if isinstance(exc, Exception):
                raise JournalError(self._failed) from exc
            raise

    def stop(self, reason: str) -> None:
        """Refuse every later write: the engine may be ahead of the record, and the
        next start recovers from the record. The first reason given is kept."""
        if self._failed is None:
            self._failed = reason

    @property
    def stopped(self) -> str | None:
        """Why the journal stopped, or None while it runs."""
        return self._failed

    def _check_running(self) -> None:
        if self._failed is not None:
            raise JournalError(f"journal stopped: {self._failed}")

    def _snapshot_if_due(self, count: int) -> tuple[int, bytes] | None:
        self._since_snapshot += count
        if not self.snapshot_every or self._since_snapshot < self.snapshot_every:
            return None
        self._since_snapshot = 0
        return self.engine.seq, snapshot_blob(self.engine)

    def snapshot(self) -> int:
        """Store the state digest and the snapshot now; recovery checks one against the
        other. Only between batches: with a sequencer running, snapshots travel with
        the batches they follow."""
        with self.lock:
            self.store.save_snapshot(self.engine.seq, snapshot_blob(self.engine))
            self._since_snapshot = 0
            return self.engine.seq

    def checkpoint(self) -> bytes:
        """Sign and store a checkpoint of the tree as far as it is durable."""
        with self.lock:
            size = self.durable_seq
            cp = Checkpoint(
                self.origin, size, self.tree.root(size), (time_extension(self._durable_ns),)
            )
            note = self.checkpoints.sign(cp)
        self.store.save_checkpoint(size, note)
        self._since_checkpoint = 0
        return note

    # -- proofs ------------------------------------------------------------------------

    def prove(self, leaf_index: int) -> InclusionProof:
        """An inclusion proof of one entry against the latest checkpoint that holds it."""
        checkpoints = self.store.checkpoints()
        if not checkpoints or leaf_index >= checkpoints[-1][0]:
            raise ValueError(f"no checkpoint covers entry {leaf_index} yet")
        size, note = checkpoints[-1]
        entry = next(self.store.read(leaf_index + 1, leaf_index + 2))
        return InclusionProof(
            leaf_index, entry_bytes(entry), size, self.tree.inclusion_proof(leaf_index, size), note
        )

    def verifier(self) -> NoteVerifier:
        return self.checkpoints.verifier()

    def _consistent(self, old: int, new: int, old_root: bytes, new_root: bytes) -> bool:
        proof = self.tree.consistency_proof(old, new)
        return verify_consistency(old, new, old_root, new_root, proof)

    def _last_checkpoint_size(self) -> int:
        stored = self.store.checkpoints()
        return stored[-1][0] if stored else 0

    def _last_checkpoint(self, verifier: NoteVerifier) -> Checkpoint | None:
        stored = self.store.checkpoints()
        if not stored:
            return None
        return parse_signed_checkpoint(stored[-1][1], [verifier])

    def close(self) -> None:
        self.store.close()


class Staged:
    """A batch sequenced, applied and in the tree, durable only once committed."""

    __slots__ = ("entries", "nodes", "receipts", "snapshot")

    def __init__(
        self,
        entries: list[JournalEntry],
        nodes: list[Node],
        receipts: list[Receipt],
        snapshot: tuple[int, bytes] | None,
    ) -> None:
        self.entries = entries
        self.nodes = nodes
        self.receipts = receipts
        """One per admitted transaction, in order (unrecorded ones included)."""
        self.snapshot = snapshot
        """(seq, blob) of a snapshot taken after the batch, stored with it."""


def _unrecorded(rejection: Rejection) -> Receipt:
    return Receipt(0, -1, Rejected(0, rejection.code, rejection.message), b"")


def snapshot_blob(engine: Engine) -> bytes:
    """What the journal stores as a snapshot: the state digest, then the snapshot."""
    return engine.digest() + engine.snapshot()


def restore_snapshot(genesis: Genesis, blob: bytes) -> Engine:
    """The engine in a stored snapshot; SnapshotError unless it hashes to its digest."""
    digest, data = blob[:32], blob[32:]
    engine = Engine.restore(genesis, data)
    if engine.digest() != digest:
        raise SnapshotError("the snapshot restores to a state other than its digest")
    return engine


def outcome_of(entry: JournalEntry) -> Outcome:
    return decode_outcome(entry.outcome)
