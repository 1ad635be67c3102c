"""Audit a journal from its own record, trusting nothing but the operator's public key.

`audit_journal` reads a journal through any `JournalStore` and checks it in one pass,
in sequence order, stopping at the first fault, which it names exactly (the entry's
position and recorded sequence number, or the checkpoint's tree size, and what
differs):

    a. sequence   seqs run 1, 2, 3, ... with no gap; timestamps never go backwards
    b. chain      each chain head is SHA-256(previous head || recorded outcome bytes),
                  from the digest of the genesis stored in the journal: every leaf and
                  so every signed checkpoint binds the genesis, and an edited genesis
                  breaks the chain at entry 1
    c. merkle     an RFC 9162 tree rebuilt here from the entries' bytes (never from the
                  stored nodes) has, at every checkpoint's size, that checkpoint's root;
                  every stored node equals the rebuilt one, and there are no extra ones
    d. signature  every checkpoint note is signed by the operator key, for this log
    e. growth     consecutive checkpoints are consistent (an RFC 9162 consistency proof
                  from the rebuilt tree verifies between their signed roots); every
                  checkpoint the auditor holds from elsewhere (`held_checkpoints`, e.g.
                  from a receipt) is in the journal: signed by the operator, its size
                  reached, its root the rebuilt root at that size, so a journal rolled
                  back behind it, or rewritten, fails
    f. verdicts   every transaction signature is verified again (on a `VerifierPool`
                  for long journals, overlapped with re-execution)
    g. execution  re-executed from the genesis stored in the journal, every entry gives
                  byte for byte its recorded outcome and chain head; stored snapshots
                  hash to their recorded digest and restore to the re-executed state at
                  their seq (one that does not is a fault, though recovery skips it)

A value the store cannot read (a column of the wrong type, a damaged database page)
is a `storage` fault naming the entry or the page, like any other.

The checks of one entry all run before the checkpoints that close at it, and all of
an entry's problems are reported together (a flipped byte in a transaction shows as a
changed Merkle leaf and, usually, as an outcome re-execution does not reproduce).

Also here: inclusion proofs built from a store without the operator's private key
(`build_inclusion_proof`) and checked offline (`check_inclusion_proof`), replay to any
sequence number (`replay_journal`), and queries over the entries (`JournalQuery`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, NoReturn

import msgspec

from clearhouse.auth.verifier import verify_transaction
from clearhouse.core import (
    Accepted,
    Engine,
    Genesis,
    GenesisError,
    Outcome,
    Rejected,
    Sequenced,
    TradeExecuted,
    Transaction,
    genesis_digest,
)
from clearhouse.core.codec import decode_outcome, encode
from clearhouse.core.outcomes import EngineFault
from clearhouse.core.snapshot import SnapshotError
from clearhouse.core.txs import PAYLOAD_TYPES
from clearhouse.journal.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointErrorCode,
    NoteVerifier,
    parse_checkpoint_body,
    parse_signed_checkpoint,
)
from clearhouse.journal.entry import JournalEntry, decode_entry, entry_bytes, next_chain_head
from clearhouse.journal.journal import InclusionProof, restore_snapshot
from clearhouse.journal.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MemoryHashStore,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from clearhouse.journal.store import JournalStore, Node, PersistedHashStore, StoreReadError

BatchVerifier = Callable[[str, Sequence[Transaction]], list[bool]]
"""`(venue id, transactions) -> one signature verdict each`, e.g. `VerifierPool.verify_batch`."""

Progress = Callable[[int], None]
"""Called with the number of entries just processed."""

BATCH_ENTRIES: Final = 4_096
"""Entries read, decoded and verified at a time."""

PROOF_FORMAT: Final = "clearhouse-inclusion-proof/1"
"""The `format` field of an inclusion proof file."""

PAYLOAD_TAGS: Final = tuple(str(t.__struct_config__.tag) for t in PAYLOAD_TYPES)
"""Every transaction type by its wire tag (`place_order`, `deposit`, ...)."""

_MAX_TREE_LEVEL: Final = 64
_tx_decoder = msgspec.msgpack.Decoder(Transaction)
_genesis_decoder = msgspec.msgpack.Decoder(Genesis)


class AuditError(Exception):
    """The journal cannot be read for this purpose (no genesis, no such entry, ...)."""


class ReplayError(AuditError):
    """Re-execution does not reproduce the record: the message names the entry."""


class ProofError(Exception):
    """An inclusion proof does not check out: the message says why."""


# -- shared helpers ----------------------------------------------------------------------


def in_process_verifier(venue_id: str, txs: Sequence[Transaction]) -> list[bool]:
    """Verify every signature in this process (the right choice for short journals)."""
    return [verify_transaction(venue_id, tx) for tx in txs]


def load_genesis(store: JournalStore) -> Genesis:
    """The genesis stored in the journal. Raises AuditError."""
    data = store.load_genesis()
    if data is None:
        raise AuditError("the journal holds no genesis: not a clearhouse journal, or empty")
    try:
        return _genesis_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise AuditError(f"the stored genesis does not decode: {exc}") from exc


def log_origin(genesis: Genesis) -> str:
    """The checkpoint origin line of the journal of this genesis."""
    return f"clearhouse/{genesis.venue_id}"


def plain(value: object) -> Any:
    """`value` as JSON-ready builtins, with bytes as lowercase hex."""
    return _hexify(msgspec.to_builtins(value, builtin_types=(bytes, bytearray, memoryview)))


def _hexify(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {key: _hexify(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_hexify(item) for item in value]
    return value


def payload_type(tx: Transaction) -> str:
    """The transaction's type tag, e.g. "place_order"."""
    return str(type(tx.payload).__struct_config__.tag)


def format_ns(timestamp_ns: int) -> str:
    """A sequencer timestamp as UTC ISO 8601 with nanoseconds."""
    seconds, nanos = divmod(timestamp_ns, 10**9)
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return str(timestamp_ns)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, sort_keys=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_payload(tx: Transaction) -> str:
    """The payload's fields that differ from their defaults, as `name=value`."""
    payload = tx.payload
    parts: list[str] = []
    for info in msgspec.structs.fields(payload):
        value = getattr(payload, info.name)
        if info.default is not msgspec.NODEFAULT and value == info.default:
            continue
        shown = plain(value)
        if isinstance(value, bytes):
            shown = value.hex()[:16] + "…" if len(value) > 8 else value.hex()
        parts.append(f"{info.name}={shown if isinstance(shown, str | int) else _short(shown)}")
    return " ".join(parts)


def describe_outcome(outcome: Outcome) -> str:
    """ "accepted: 3 events (2 fills)" or "rejected bad_signature: message"."""
    if isinstance(outcome, Rejected):
        return f"rejected {outcome.code.name} ({outcome.code.value}): {outcome.message}"
    fills = sum(isinstance(event, TradeExecuted) for event in outcome.events)
    kinds = ", ".join(str(plain(event)["event"]) for event in outcome.events)
    text = f"accepted: {len(outcome.events)} events"
    if fills:
        text += f" ({fills} fills)"
    return f"{text} [{kinds}]" if kinds else text


def describe_fill(trade: TradeExecuted) -> str:
    return (
        f"{trade.instrument} {trade.size} lots @ {trade.price}: taker {trade.taker_account} "
        f"({trade.taker_side.value}, order {trade.taker_order_id}, fee {trade.taker_fee}), "
        f"maker {trade.maker_account} (order {trade.maker_order_id}, fee {trade.maker_fee})"
    )


def fills_of(outcome: Outcome) -> list[TradeExecuted]:
    if isinstance(outcome, Rejected):
        return []
    return [event for event in outcome.events if isinstance(event, TradeExecuted)]


def describe_outcome_difference(recorded: bytes, outcome: Outcome, signature_valid: bool) -> str:
    """What differs between recorded outcome bytes and a re-executed outcome, precisely."""
    try:
        before = decode_outcome(recorded)
    except msgspec.DecodeError as exc:
        return f"the recorded outcome bytes do not decode ({exc}); re-executed: {describe_outcome(outcome)}"
    if type(before) is not type(outcome):
        text = f"recorded {describe_outcome(before)}; re-executed {describe_outcome(outcome)}"
    else:
        difference = _first_difference(plain(before), plain(outcome), "")
        if difference is None:
            text = (
                "the recorded bytes decode to the same outcome but are not its canonical encoding"
            )
        else:
            text = difference
    if not signature_valid and isinstance(before, Accepted):
        text += " (the transaction's signature does not verify)"
    return text


def _first_difference(recorded: Any, replayed: Any, path: str) -> str | None:
    where = path or "outcome"
    if isinstance(recorded, dict) and isinstance(replayed, dict):
        for key in [*recorded, *(k for k in replayed if k not in recorded)]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in replayed:
                return f"{sub}: recorded {_short(recorded[key])}, absent after re-execution"
            if key not in recorded:
                return f"{sub}: absent from the record, re-executed {_short(replayed[key])}"
            found = _first_difference(recorded[key], replayed[key], sub)
            if found is not None:
                return found
        return None
    if isinstance(recorded, list) and isinstance(replayed, list):
        for index, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
            found = _first_difference(a, b, f"{path}[{index}]")
            if found is not None:
                return found
        if len(recorded) != len(replayed):
            return f"{where}: recorded {len(recorded)} items, re-executed {len(replayed)}"
        return None
    if recorded != replayed or type(recorded) is not type(replayed):
        return f"{where}: recorded {_short(recorded)}, re-executed {_short(replayed)}"
    return None


def _recorded_seq(outcome: bytes) -> int | None:
    """The seq an outcome's bytes name, or None if they do not decode."""
    try:
        return decode_outcome(outcome).seq
    except msgspec.DecodeError:
        return None


def _decode_tx(data: bytes) -> Transaction | str:
    """The transaction, or why its bytes are not one."""
    try:
        return _tx_decoder.decode(data)
    except msgspec.DecodeError as exc:
        return str(exc)


class _Pipeline:
    """Entries in batches with their decoded transactions and signature verdicts.

    With `overlap`, the next batch's signatures are verified (on a pool) while the
    caller processes the current one.
    """

    def __init__(
        self, venue_id: str, verify: BatchVerifier, overlap: bool, batch: int = BATCH_ENTRIES
    ) -> None:
        self._venue = venue_id
        self._verify = verify
        self._overlap = overlap
        self._batch = max(1, batch)

    def run(
        self, entries: Iterable[JournalEntry]
    ) -> Generator[tuple[list[JournalEntry], list[Transaction | str], list[bool]], None, None]:
        reader = iter(entries)
        executor = ThreadPoolExecutor(1, "audit-verify") if self._overlap else None
        pending: tuple[list[JournalEntry], list[Transaction | str], Future[list[bool]]] | None
        pending = None
        error: StoreReadError | None = None
        try:
            while error is None:
                chunk: list[JournalEntry] = []
                try:
                    for entry in itertools.islice(reader, self._batch):
                        chunk.append(entry)
                except StoreReadError as exc:
                    # The entries read before it are checked first: an earlier fault
                    # among them is the first fault.
                    error = exc
                if not chunk:
                    break
                txs = [_decode_tx(entry.tx) for entry in chunk]
                good = [tx for tx in txs if isinstance(tx, Transaction)]
                future: Future[list[bool]]
                if executor is not None:
                    future = executor.submit(self._verify, self._venue, good)
                else:
                    future = Future()
                    future.set_result(self._verify(self._venue, good))
                if pending is not None:
                    yield self._resolve(*pending)
                pending = (chunk, txs, future)
            if pending is not None:
                yield self._resolve(*pending)
            if error is not None:
                raise error
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _resolve(
        chunk: list[JournalEntry], txs: list[Transaction | str], future: Future[list[bool]]
    ) -> tuple[list[JournalEntry], list[Transaction | str], list[bool]]:
        verdicts = iter(future.result())
        return chunk, txs, [next(verdicts) if isinstance(tx, Transaction) else False for tx in txs]


# -- verify ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFault:
    """The first thing wrong with the journal."""

    check: str
    """Which check failed: genesis, sequence, chain, merkle, checkpoint, execution,
    snapshot, missing or storage."""
    message: str
    """The whole statement, location first: "entry 42 (seq 42): ..."."""
    entry: int | None = None
    """The entry's position in the journal, from 1 (its seq, in a sound journal)."""
    seq: int | None = None
    """The sequence number recorded at that position (None if the entry is missing)."""
    checkpoint_size: int | None = None
    """The tree size of the checkpoint at fault."""

    def __str__(self) -> str:
        return self.message


@dataclass
class AuditReport:
    """What `audit_journal` checked and found."""

    venue_id: str = ""
    origin: str = ""
    genesis_digest: bytes = b""
    entries: int = 0
    """Entries that passed every check: all of them when `ok`, those before the fault if not."""
    checkpoints: int = 0
    """Checkpoints fully checked (signature, size, root, consistency)."""
    checkpoints_stored: int = 0
    last_checkpoint_size: int = 0
    held_checkpoints: int = 0
    """Checkpoints held by the auditor found in the journal (size reached, same root)."""
    snapshots: int = 0
    """Snapshots restored and compared with the re-executed state."""
    signatures_valid: int = 0
    signatures_invalid: int = 0
    accepted: int = 0
    rejected: int = 0
    first_timestamp_ns: int = 0
    last_timestamp_ns: int = 0
    chain_head: bytes = b""
    digest: bytes = b""
    root: bytes = EMPTY_ROOT
    grew_to: int | None = None
    """The journal's size at the end, if it grew while being audited (only the entries
    present at the start were audited)."""
    warnings: list[str] = field(default_factory=list)
    fault: AuditFault | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.fault is None

    @property
    def unsigned_entries(self) -> int:
        """Entries after the last checkpoint: checked, but not yet covered by a signature."""
        return self.entries - self.last_checkpoint_size

    def to_json(self) -> dict[str, Any]:
        fault = self.fault
        return {
            "ok": self.ok,
            "venue_id": self.venue_id,
            "origin": self.origin,
            "genesis_digest": self.genesis_digest.hex(),
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "checkpoints_stored": self.checkpoints_stored,
            "last_checkpoint_size": self.last_checkpoint_size,
            "held_checkpoints": self.held_checkpoints,
            "unsigned_entries": self.unsigned_entries,
            "snapshots": self.snapshots,
            "signatures_valid": self.signatures_valid,
            "signatures_invalid": self.signatures_invalid,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "first_timestamp_ns": self.first_timestamp_ns,
            "last_timestamp_ns": self.last_timestamp_ns,
            "chain_head": self.chain_head.hex(),
            "digest": self.digest.hex(),
            "root": self.root.hex(),
            "grew_to": self.grew_to,
            "warnings": self.warnings,
            "fault": None
            if fault is None
            else {
                "check": fault.check,
                "message": fault.message,
                "entry": fault.entry,
                "seq": fault.seq,
                "checkpoint_size": fault.checkpoint_size,
            },
            "seconds": round(self.seconds, 3),
        }


class _StoredNodes:
    """The stored Merkle nodes, level by level, as far as each level is sound."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self.levels: list[bytearray] = []
        self.broken: dict[int, str] = {}
        for level, index, node in nodes:
            if not 0 <= level <= _MAX_TREE_LEVEL:
                self.broken.setdefault(-1, f"a node is stored at level {level}")
                continue
            if level in self.broken:
                continue
            while len(self.levels) <= level:
                self.levels.append(bytearray())
            column = self.levels[level]
            held = len(column) // HASH_SIZE
            if index != held:
                self.broken[level] = (
                    f"node ({level}, {held}) is missing"
                    if index > held
                    else f"node ({level}, {index}) is stored out of order"
                )
            elif len(node) != HASH_SIZE:
                self.broken[level] = f"node ({level}, {index}) is {len(node)} bytes"
            else:
                column += node

    def count(self, level: int) -> int:
        return len(self.levels[level]) // HASH_SIZE if level < len(self.levels) else 0

    def get(self, level: int, index: int) -> bytes | None:
        if index >= self.count(level):
            return None
        return bytes(self.levels[level][index * HASH_SIZE : (index + 1) * HASH_SIZE])


class _ComparingHashStore(MemoryHashStore):
    """The rebuilt tree's nodes, each compared with the stored node as it is made."""

    __slots__ = ("_stored", "mismatches")

    def __init__(self, stored: _StoredNodes) -> None:
        super().__init__()
        self._stored = stored
        self.mismatches: list[tuple[int, int, bytes | None, bytes]] = []

    def append(self, column: Sequence[bytes]) -> None:
        for level, node in enumerate(column):
            index = self.count(level)
            stored = self._stored.get(level, index)
            if stored != node:
                self.mismatches.append((level, index, stored, node))
        super().append(column)


class _Stop(Exception):
    pass


def _checkpoint_problem(exc: CheckpointError, operator: NoteVerifier) -> str:
    key = operator.verifier_string()
    if exc.code is CheckpointErrorCode.UNKNOWN_KEY:
        return f"the note is not signed by the operator key {key} (only by other keys)"
    if exc.code is CheckpointErrorCode.BAD_SIGNATURE:
        return f"its signature does not verify for the operator key {key} ({exc.message})"
    if exc.code is CheckpointErrorCode.NO_SIGNATURE:
        return "the note carries no signature"
    if exc.code is CheckpointErrorCode.WRONG_ORIGIN:
        return f"the note is for another log ({exc.message})"
    return f"the note is malformed ({exc.message})"


class _Auditor:
    def __init__(
        self,
        store: JournalStore,
        operator: NoteVerifier,
        verify: BatchVerifier,
        overlap: bool,
        progress: Progress | None,
        batch: int,
        expected_genesis: Genesis | None,
        held_checkpoints: Sequence[tuple[str, bytes]],
    ) -> None:
        self.store = store
        self.operator = operator
        self.verify = verify
        self.overlap = overlap
        self.progress = progress
        self.batch = batch
        self.expected_genesis = expected_genesis
        self.held_notes = held_checkpoints
        self.held: list[tuple[str, Checkpoint]] = []
        self.held_next = 0
        self.report = AuditReport()
        self.count = 0
        self.prev_head = b""
        self.last_ts = 0
        self.cp_next = 0
        self.prev_cp: tuple[int, bytes] | None = None

    def fail(
        self,
        check: str,
        message: str,
        *,
        entry: int | None = None,
        seq: int | None = None,
        checkpoint_size: int | None = None,
    ) -> NoReturn:
        self.report.fault = AuditFault(check, message, entry, seq, checkpoint_size)
        raise _Stop

    def run(self) -> AuditReport:
        started = time.perf_counter()
        with contextlib.suppress(_Stop):
            try:
                self._run()
            except StoreReadError as exc:
                self._unreadable(exc)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _run(self) -> None:
        report = self.report
        try:
            genesis = load_genesis(self.store)
            self.engine = Engine(genesis)
        except (AuditError, GenesisError, ValueError) as exc:
            self.fail("genesis", f"genesis: {exc}")
        self.genesis = genesis
        report.venue_id = genesis.venue_id
        report.origin = self.origin = log_origin(genesis)
        report.genesis_digest = genesis_digest(genesis)
        # The engine's output chain starts from the genesis digest: recomputing it from
        # the stored genesis is what makes an edited genesis break the chain.
        self.prev_head = report.genesis_digest
        if self.expected_genesis is not None:
            expected = genesis_digest(self.expected_genesis)
            if expected != report.genesis_digest:
                self.fail(
                    "genesis",
                    f"genesis: the journal's genesis has digest {report.genesis_digest.hex()}, "
                    f"the expected one {expected.hex()}",
                )
        # Read in the order the writer commits, so that a journal still being written
        # reads as a consistent prefix: checkpoints and snapshots are saved after the
        # entries they cover, and entries with their nodes in one transaction.
        self.checkpoints = self.store.checkpoints()
        report.checkpoints_stored = len(self.checkpoints)
        self._read_held()
        self.snapshot_seqs = {seq for seq, _ in self.store.snapshots()}
        size = self.store.size()
        self.stored = _StoredNodes(self.store.nodes())
        self.hashes = _ComparingHashStore(self.stored)
        self.tree = MerkleTree(self.hashes)
        self._checkpoints_at(0)
        if 0 in self.snapshot_seqs:
            self._snapshot(0)
        pipeline = _Pipeline(genesis.venue_id, self.verify, self.overlap, self.batch)
        batches = pipeline.run(self.store.read(1, size + 1))
        try:
            for entries, txs, verdicts in batches:
                for entry, tx, verdict in zip(entries, txs, verdicts, strict=True):
                    self._entry(entry, tx, verdict)
                    self._checkpoints_at(self.count)
                    if entry.seq in self.snapshot_seqs:
                        self._snapshot(entry.seq)
                if self.progress is not None:
                    self.progress(len(entries))
        finally:
            batches.close()
        self._end(size)

    # -- one entry ---------------------------------------------------------------------

    def _entry(self, entry: JournalEntry, tx: Transaction | str, verdict: bool) -> None:
        report = self.report
        position = self.count + 1
        label = f"entry {position} (seq {entry.seq})"
        if entry.seq != position:
            if entry.seq > position:
                after = f"seq {position - 1}" if position > 1 else "the journal's start"
                why = f"seq {position} is missing: {after} is followed by seq {entry.seq}"
            else:
                why = f"expected seq {position}, found seq {entry.seq}"
            self.fail("sequence", f"{label}: {why}", entry=position, seq=entry.seq)
        problems: list[tuple[str, str]] = []
        if entry.timestamp_ns < self.last_ts:
            problems.append(
                (
                    "sequence",
                    f"timestamp {entry.timestamp_ns} precedes the previous entry's {self.last_ts}",
                )
            )
        moved = _recorded_seq(entry.outcome)
        if moved is not None and moved != entry.seq:
            problems.append(
                (
                    "sequence",
                    f"its recorded outcome is for seq {moved}: the entry was moved or "
                    "reordered, or its outcome changed",
                )
            )
        if isinstance(tx, str):
            problems.append(("execution", f"the transaction bytes do not decode ({tx})"))
        else:
            if encode(tx) != entry.tx:
                problems.append(
                    ("execution", "the transaction bytes are not the canonical encoding")
                )
            try:
                outcome = self.engine.apply(Sequenced(entry.seq, entry.timestamp_ns, tx), verdict)
            except EngineFault as exc:
                problems.append(("execution", f"re-execution stopped the engine: {exc}"))
            else:
                if encode(outcome) != entry.outcome:
                    difference = describe_outcome_difference(entry.outcome, outcome, verdict)
                    problems.append(
                        ("execution", f"recorded outcome differs from re-execution: {difference}")
                    )
                if self.engine.chain_head != entry.chain_head:
                    problems.append(
                        (
                            "execution",
                            f"recorded chain head {entry.chain_head.hex()} differs from the "
                            f"re-executed {self.engine.chain_head.hex()}",
                        )
                    )
                if isinstance(outcome, Accepted):
                    report.accepted += 1
                else:
                    report.rejected += 1
            if verdict:
                report.signatures_valid += 1
            else:
                report.signatures_invalid += 1
        linked = next_chain_head(self.prev_head, entry.outcome)
        if entry.chain_head != linked:
            if position == 1:
                why = (
                    f"is not SHA-256(genesis digest || recorded outcome) = {linked.hex()}: "
                    "the chain does not start from the journal's genesis (the genesis "
                    "was changed, or this entry was)"
                )
            else:
                why = f"is not SHA-256(previous head || recorded outcome) = {linked.hex()}"
            chain = ("chain", f"recorded chain head {entry.chain_head.hex()} {why}")
            # At entry 1 the broken link is the news: it names the genesis as a suspect.
            problems.insert(0 if position == 1 else len(problems), chain)
        self.tree.append(entry_bytes(entry))
        mismatches = self.hashes.mismatches
        if mismatches:
            problems.append(("merkle", self._node_problem(mismatches)))
            mismatches.clear()
        if problems:
            self.fail(
                problems[0][0],
                f"{label}: " + "; ".join(text for _, text in problems),
                entry=position,
                seq=entry.seq,
            )
        if position == 1:
            report.first_timestamp_ns = entry.timestamp_ns
        self.count = position
        self.prev_head = entry.chain_head
        self.last_ts = entry.timestamp_ns
        report.entries = position
        report.last_timestamp_ns = entry.timestamp_ns

    def _node_problem(self, mismatches: list[tuple[int, int, bytes | None, bytes]]) -> str:
        level, index, stored, rebuilt = mismatches[0]
        more = len(mismatches) - 1
        above = f" (and {more} stored node{'s' if more > 1 else ''} above it)" if more else ""
        if stored is None:
            broken = self.stored.broken.get(level)
            why = f": {broken}" if broken else ""
            return f"the stored Merkle tree has no node ({level}, {index}){why}"
        if level == 0:
            return (
                f"its Merkle leaf hash {rebuilt.hex()} differs from the stored leaf node "
                f"(0, {index}) {stored.hex()}{above}: the entry's bytes changed after it was "
                "journaled, or the stored node did"
            )
        return (
            f"stored Merkle node ({level}, {index}) {stored.hex()} differs from the node "
            f"{rebuilt.hex()} rebuilt from the entries{above}"
        )

    # -- checkpoints and snapshots -----------------------------------------------------

    def _checkpoints_at(self, size: int) -> None:
        while self.cp_next < len(self.checkpoints) and self.checkpoints[self.cp_next][0] <= size:
            stored_size, note = self.checkpoints[self.cp_next]
            self.cp_next += 1
            self._checkpoint(self.cp_next, stored_size, note)
        while self.held_next < len(self.held) and self.held[self.held_next][1].size <= size:
            name, cp = self.held[self.held_next]
            self.held_next += 1
            root = self.tree.root(cp.size)
            if cp.root_hash != root:
                self.fail(
                    "checkpoint",
                    f"held checkpoint {name} (tree size {cp.size}): its signed root "
                    f"{cp.root_hash.hex()} differs from the root {root.hex()} rebuilt from "
                    f"entries 1..{cp.size}: the journal is not the log that checkpoint was "
                    "signed for (rewritten or forked)",
                    checkpoint_size=cp.size,
                )
            self.report.held_checkpoints += 1

    def _read_held(self) -> None:
        """The auditor's own checkpoints, each signed by the operator for this log."""
        for name, note in self.held_notes:
            try:
                cp = parse_signed_checkpoint(note, [self.operator], origin=self.origin)
            except CheckpointError as exc:
                self.fail(
                    "checkpoint",
                    f"held checkpoint {name}: {_checkpoint_problem(exc, self.operator)}",
                )
            self.held.append((name, cp))
        self.held.sort(key=lambda held: held[1].size)

    def _checkpoint(self, number: int, size: int, note: bytes) -> None:
        label = f"checkpoint {number} (tree size {size})"

        def fail(why: str) -> NoReturn:
            self.fail("checkpoint", f"{label}: {why}", checkpoint_size=size)

        try:
            cp = parse_signed_checkpoint(note, [self.operator], origin=self.origin)
        except CheckpointError as exc:
            fail(_checkpoint_problem(exc, self.operator))
        if cp.size != size or size < 0:
            fail(f"the signed note is for tree size {cp.size}")
        root = self.tree.root(size)
        if cp.root_hash != root:
            fail(
                f"its signed root {cp.root_hash.hex()} differs from the root {root.hex()} "
                f"rebuilt from entries 1..{size}"
            )
        if self.prev_cp is not None:
            old_size, old_root = self.prev_cp
            if 0 < old_size < size:
                proof = self.tree.consistency_proof(old_size, size)
                if not verify_consistency(old_size, size, old_root, cp.root_hash, proof):
                    fail(
                        f"it is not consistent with checkpoint {number - 1} (tree size "
                        f"{old_size}): the consistency proof from the rebuilt tree fails"
                    )
        signed_ns = cp.time_ns
        if size > 0 and signed_ns is not None and signed_ns != self.last_ts:
            self.report.warnings.append(
                f"{label}: its time extension {signed_ns} is not the timestamp "
                f"{self.last_ts} of entry {size}"
            )
        self.prev_cp = (size, cp.root_hash)
        self.report.checkpoints += 1
        self.report.last_checkpoint_size = size

    def _snapshot(self, seq: int) -> None:
        data = next((blob for at, blob in self.store.snapshots() if at == seq), None)
        if data is None:
            return
        label = f"snapshot at seq {seq}"
        try:
            restored = restore_snapshot(self.genesis, data)
        except (SnapshotError, msgspec.DecodeError, ValueError) as exc:
            # Recovery skips such a snapshot for an older one, but the writer stored it
            # whole and hashed: one that no longer restores to its digest was changed.
            self.fail(
                "snapshot",
                f"{label}: it does not restore to its recorded digest ({exc}): it was "
                "changed after it was stored",
                entry=seq,
                seq=seq,
            )
        engine = self.engine
        if restored.seq != seq:
            self.fail(
                "snapshot",
                f"{label}: it restores an engine at seq {restored.seq}",
                entry=seq,
                seq=seq,
            )
        if restored.chain_head != engine.chain_head or restored.digest() != engine.digest():
            self.fail(
                "snapshot",
                f"{label}: it restores to state digest {restored.digest().hex()} and chain head "
                f"{restored.chain_head.hex()}, re-execution gives {engine.digest().hex()} and "
                f"{engine.chain_head.hex()}",
                entry=seq,
                seq=seq,
            )
        self.report.snapshots += 1

    # -- the end -----------------------------------------------------------------------

    def _held_beyond(self, n: int) -> None:
        """A held checkpoint past the journal's end: the journal was rolled back."""
        beyond = self.held[self.held_next :]
        if not beyond:
            return
        now = self.store.size()
        unreached = [(name, cp) for name, cp in beyond if cp.size > now]
        if not unreached:
            for name, cp in beyond:
                self.report.warnings.append(
                    f"held checkpoint {name} (tree size {cp.size}) is beyond the {n} entries "
                    f"audited (the journal grew to {now} during the audit): audit again to "
                    "check it"
                )
            return
        name, cp = unreached[0]
        self.fail(
            "missing",
            f"entry {n + 1} (seq {n + 1}): missing: the journal ends at seq {n}, but the "
            f"held checkpoint {name}, signed by the operator, covers entries up to seq "
            f"{cp.size}: the journal was rolled back or truncated",
            entry=n + 1,
            checkpoint_size=cp.size,
        )

    def _unreadable(self, exc: StoreReadError) -> None:
        entry = None if exc.seq is None else self.count + 1
        self.fail("storage", f"the journal cannot be read: {exc}", entry=entry, seq=exc.seq)

    def _end(self, size: int) -> None:
        report = self.report
        n = self.count
        missing = f"entry {n + 1} (seq {n + 1})"
        if self.cp_next < len(self.checkpoints):
            cp_size, note = self.checkpoints[self.cp_next]
            try:
                parse_signed_checkpoint(note, [self.operator], origin=self.origin)
                signed = "signed by the operator"
            except CheckpointError:
                signed = "not signed by the operator"
            self.fail(
                "missing",
                f"{missing}: missing: the journal ends at seq {n}, but checkpoint "
                f"{self.cp_next + 1} (tree size {cp_size}, {signed}) covers entries up to "
                f"seq {cp_size}",
                entry=n + 1,
            )
        self._held_beyond(n)
        beyond = sorted(seq for seq in self.snapshot_seqs if seq > n)
        if beyond:
            self.fail(
                "missing",
                f"{missing}: missing: the journal ends at seq {n}, but a snapshot is stored "
                f"at seq {beyond[0]}",
                entry=n + 1,
            )
        now = self.store.size()
        if now != size:
            report.grew_to = now
        else:
            leaves = self.stored.count(0)
            if leaves > n:
                self.fail(
                    "missing",
                    f"{missing}: missing: the journal ends at seq {n}, but the stored Merkle "
                    f"tree holds {leaves} leaves",
                    entry=n + 1,
                )
            for level in range(1, len(self.stored.levels)):
                held, expected = self.stored.count(level), n >> level
                if held > expected:
                    self.fail(
                        "merkle",
                        f"stored Merkle tree: {held} nodes at level {level}, {expected} "
                        f"for {n} entries",
                    )
            for level, why in sorted(self.stored.broken.items()):
                if level < 0 or self.stored.count(level) < n >> level:
                    continue  # a gap inside the tree was reported at its entry
                self.fail("merkle", f"stored Merkle tree: {why}")
        try:
            self.engine.check_invariants()
        except EngineFault as exc:
            self.fail("execution", f"the state after re-executing {n} entries breaks: {exc}")
        report.chain_head = self.engine.chain_head
        report.digest = self.engine.digest()
        report.root = self.tree.root()


def audit_journal(
    store: JournalStore,
    operator: NoteVerifier,
    *,
    verify: BatchVerifier = in_process_verifier,
    overlap: bool = False,
    progress: Progress | None = None,
    batch: int = BATCH_ENTRIES,
    expected_genesis: Genesis | None = None,
    held_checkpoints: Sequence[tuple[str, bytes]] = (),
) -> AuditReport:
    """Check the whole journal; the report's `fault` is the first problem, or None.

    `verify` checks signatures a batch at a time (pass `VerifierPool.verify_batch`
    with `overlap=True` to verify the next batch while this one re-executes).
    `expected_genesis`, if given, must be the genesis the journal holds.
    `held_checkpoints` are signed checkpoint notes the auditor got elsewhere (a
    receipt, a witness), each as (where it came from, note): the journal must reach
    each one's size with its root there.
    """
    auditor = _Auditor(
        store, operator, verify, overlap, progress, batch, expected_genesis, held_checkpoints
    )
    return auditor.run()


# -- inclusion proofs --------------------------------------------------------------------


def _holds(size: int) -> str:
    return f"the journal holds seq 1..{size}" if size else "the journal holds no entries"


def _note_text(note: bytes) -> bytes:
    split = note.rfind(b"\n\n")
    if split < 0:
        raise AuditError("the stored checkpoint note has no blank line before its signatures")
    return note[: split + 1]


def build_inclusion_proof(store: JournalStore, seq: int) -> InclusionProof:
    """An inclusion proof of entry `seq` against the latest checkpoint, from the store.

    Needs no key: it reads the entry, the stored Merkle nodes and the stored signed
    note. The proof is checked against the note's root before it is returned, so a
    store whose nodes or entry disagree with its checkpoint yields AuditError, never a
    proof that fails later.
    """
    size = store.size()
    if not 1 <= seq <= size:
        raise AuditError(f"no entry {seq}: {_holds(size)}")
    checkpoints = store.checkpoints()
    if not checkpoints or checkpoints[-1][0] < seq:
        latest = checkpoints[-1][0] if checkpoints else 0
        raise AuditError(
            f"no checkpoint covers entry {seq} yet: the latest covers entries 1..{latest}"
        )
    tree_size, note = checkpoints[-1]
    try:
        tree = MerkleTree(PersistedHashStore(store.nodes()))
    except (ValueError, AssertionError) as exc:
        raise AuditError(f"the stored Merkle tree is damaged: {exc}") from exc
    if tree.size < tree_size:
        raise AuditError(
            f"the stored Merkle tree holds {tree.size} leaves, the checkpoint {tree_size}"
        )
    entry = next(store.read(seq, seq + 1), None)
    if entry is None or entry.seq != seq:
        raise AuditError(f"entry {seq} is not stored")
    data = entry_bytes(entry)
    proof = tree.inclusion_proof(seq - 1, tree_size)
    try:
        body = parse_checkpoint_body(_note_text(note))
    except CheckpointError as exc:
        raise AuditError(f"the stored checkpoint is malformed: {exc}") from exc
    if body.size != tree_size or not verify_inclusion(
        leaf_hash(data), seq - 1, tree_size, proof, body.root_hash
    ):
        raise AuditError(
            f"entry {seq} and the stored tree do not match checkpoint of size {tree_size}: "
            "run `clearhouse audit verify`"
        )
    return InclusionProof(seq - 1, data, tree_size, proof, note)


def proof_to_json(proof: InclusionProof) -> dict[str, Any]:
    """The proof as a self-contained JSON object (hashes and entry bytes in hex)."""
    return {
        "format": PROOF_FORMAT,
        "leaf_index": proof.leaf_index,
        "seq": proof.leaf_index + 1,
        "tree_size": proof.tree_size,
        "entry": proof.entry.hex(),
        "proof": [node.hex() for node in proof.proof],
        "checkpoint": proof.checkpoint.decode("utf-8"),
    }


def proof_from_json(text: str | bytes) -> InclusionProof:
    """Read a proof file. Raises ProofError if it is not one."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProofError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ProofError("not a proof: expected a JSON object")
    if doc.get("format") != PROOF_FORMAT:
        raise ProofError(f"not a proof: format is {doc.get('format')!r}, not {PROOF_FORMAT!r}")
    try:
        leaf_index, tree_size = doc["leaf_index"], doc["tree_size"]
        if type(leaf_index) is not int or type(tree_size) is not int:
            raise ProofError("leaf_index and tree_size must be integers")
        proof = [bytes.fromhex(node) for node in doc["proof"]]
        entry = bytes.fromhex(doc["entry"])
        note = doc["checkpoint"].encode("utf-8")
    except ProofError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProofError(f"not a proof: missing or malformed field ({exc})") from exc
    return InclusionProof(leaf_index, entry, tree_size, proof, note)


@dataclass(frozen=True)
class CheckedProof:
    """An inclusion proof that checked out, and what the entry says."""

    checkpoint: Checkpoint
    entry: JournalEntry
    tx: Transaction
    outcome: Outcome
    signature_valid: bool | None
    """The transaction signature re-verified (None if the origin names no venue)."""


def check_inclusion_proof(proof: InclusionProof, operator: NoteVerifier) -> CheckedProof:
    """Check a proof offline: the checkpoint's signature, the leaf, the path to the root.

    Raises ProofError with the reason.
    """
    try:
        cp = parse_signed_checkpoint(proof.checkpoint, [operator])
    except CheckpointError as exc:
        raise ProofError(f"checkpoint: {_checkpoint_problem(exc, operator)}") from exc
    if proof.tree_size != cp.size:
        raise ProofError(
            f"the proof is for tree size {proof.tree_size}, the checkpoint is of size {cp.size}"
        )
    if any(len(node) != HASH_SIZE for node in proof.proof):
        raise ProofError(f"every proof hash must be {HASH_SIZE} bytes")
    if not verify_inclusion(
        leaf_hash(proof.entry), proof.leaf_index, proof.tree_size, proof.proof, cp.root_hash
    ):
        raise ProofError(
            f"the entry is not in the log: its inclusion proof at leaf {proof.leaf_index} does "
            f"not lead to the root of the signed checkpoint of size {cp.size}"
        )
    try:
        entry = decode_entry(proof.entry)
        tx = _tx_decoder.decode(entry.tx)
        outcome = decode_outcome(entry.outcome)
    except msgspec.DecodeError as exc:
        raise ProofError(f"the included entry does not decode: {exc}") from exc
    if entry.seq != proof.leaf_index + 1:
        raise ProofError(
            f"leaf {proof.leaf_index} holds seq {entry.seq}, not seq {proof.leaf_index + 1}"
        )
    signature_valid: bool | None = None
    if cp.origin.startswith("clearhouse/"):
        try:
            signature_valid = verify_transaction(cp.origin.removeprefix("clearhouse/"), tx)
        except ValueError:
            signature_valid = None
    if signature_valid is False and isinstance(outcome, Accepted):
        raise ProofError(
            f"entry {entry.seq} is recorded as accepted, but its transaction signature does "
            "not verify"
        )
    return CheckedProof(cp, entry, tx, outcome, signature_valid)


# -- replay ------------------------------------------------------------------------------


@dataclass
class ReplayResult:
    """Where a replay starts (`plan_replay`) and, once run, the engine it rebuilt."""

    engine: Engine
    genesis: Genesis
    target: int
    """The seq to replay to."""
    snapshot_seq: int | None
    """The snapshot replay starts from, or None for the genesis."""
    reexecuted: int = 0
    skipped_snapshots: list[str] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        """Entries still to re-execute."""
        return self.target - self.engine.seq


def plan_replay(
    store: JournalStore, to_seq: int | None = None, *, use_snapshots: bool = True
) -> ReplayResult:
    """The starting point of a replay to `to_seq` (default: the last entry).

    The newest snapshot at or before `to_seq` that restores to its own seq (damaged
    ones are skipped and listed), else the genesis. Raises AuditError.
    """
    genesis = load_genesis(store)
    size = store.size()
    target = size if to_seq is None else to_seq
    if not 0 <= target <= size:
        raise AuditError(f"cannot replay to seq {target}: {_holds(size)}")
    try:
        engine = Engine(genesis)
    except GenesisError as exc:
        raise AuditError(f"the stored genesis is invalid: {exc}") from exc
    plan = ReplayResult(engine, genesis, target, None)
    if not use_snapshots:
        return plan
    for seq, data in store.snapshots():
        if seq > target:
            continue
        try:
            restored = restore_snapshot(genesis, data)
        except (SnapshotError, msgspec.DecodeError, ValueError) as exc:
            plan.skipped_snapshots.append(f"snapshot at seq {seq} does not restore: {exc}")
            continue
        if restored.seq != seq:
            plan.skipped_snapshots.append(f"snapshot at seq {seq} restores to seq {restored.seq}")
            continue
        plan.engine, plan.snapshot_seq = restored, seq
        break
    return plan


def run_replay(
    store: JournalStore,
    plan: ReplayResult,
    *,
    verify: BatchVerifier = in_process_verifier,
    overlap: bool = False,
    progress: Progress | None = None,
    batch: int = BATCH_ENTRIES,
) -> ReplayResult:
    """Re-execute the entries after the plan's start up to its target, in place.

    Each signature is verified again and each outcome and chain head compared with
    the record; raises ReplayError naming the first entry that differs.
    """
    engine = plan.engine
    pipeline = _Pipeline(plan.genesis.venue_id, verify, overlap, batch)
    batches = pipeline.run(store.read(engine.seq + 1, plan.target + 1))
    try:
        for entries, txs, verdicts in batches:
            for entry, tx, verdict in zip(entries, txs, verdicts, strict=True):
                _replay_one(engine, entry, tx, verdict)
                plan.reexecuted += 1
            if progress is not None:
                progress(len(entries))
    finally:
        batches.close()
    if engine.seq != plan.target:
        raise ReplayError(
            f"entry {engine.seq + 1} (seq {engine.seq + 1}): missing before seq {plan.target}"
        )
    return plan


def replay_journal(
    store: JournalStore,
    to_seq: int | None = None,
    *,
    use_snapshots: bool = True,
    verify: BatchVerifier = in_process_verifier,
    overlap: bool = False,
    progress: Progress | None = None,
    batch: int = BATCH_ENTRIES,
) -> ReplayResult:
    """The engine as it was after entry `to_seq` (default: the last).

    `plan_replay` then `run_replay`: the newest snapshot at or before `to_seq` that
    restores (unless `use_snapshots` is False), then every later entry re-executed
    with its signature verified again and compared with the record. Raises
    ReplayError (naming the entry) on a difference, AuditError if it cannot start.
    """
    plan = plan_replay(store, to_seq, use_snapshots=use_snapshots)
    return run_replay(store, plan, verify=verify, overlap=overlap, progress=progress, batch=batch)


def _replay_one(engine: Engine, entry: JournalEntry, tx: Transaction | str, verdict: bool) -> None:
    position = engine.seq + 1
    label = f"entry {position} (seq {entry.seq})"
    if entry.seq != position:
        raise ReplayError(f"{label}: seq {position} is missing")
    if isinstance(tx, str):
        raise ReplayError(f"{label}: the transaction bytes do not decode ({tx})")
    try:
        outcome = engine.apply(Sequenced(entry.seq, entry.timestamp_ns, tx), verdict)
    except EngineFault as exc:
        raise ReplayError(f"{label}: re-execution stopped the engine: {exc}") from exc
    if encode(outcome) != entry.outcome:
        difference = describe_outcome_difference(entry.outcome, outcome, verdict)
        raise ReplayError(f"{label}: recorded outcome differs from re-execution: {difference}")
    if engine.chain_head != entry.chain_head:
        raise ReplayError(
            f"{label}: recorded chain head {entry.chain_head.hex()} differs from the "
            f"re-executed {engine.chain_head.hex()}"
        )


# -- queries -----------------------------------------------------------------------------

_ACCOUNT_KEYS: Final = frozenset(
    {"account", "source", "destination", "maker_account", "taker_account"}
)
_ORDER_KEYS: Final = frozenset({"order_id", "maker_order_id", "taker_order_id"})


def _values(value: Any, keys: frozenset[str]) -> Iterator[Any]:
    """Every value under one of `keys`, anywhere in nested builtins."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys:
                yield item
            if isinstance(item, dict | list):
                yield from _values(item, keys)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item, keys)


@dataclass(frozen=True)
class QueryFilter:
    """Which entries a query returns; every given criterion must hold."""

    account: str | None = None
    """Named in the payload or in any event (as account, source, destination, maker or taker)."""
    instrument: str | None = None
    """Named in the payload or in any event."""
    order_id: int | None = None
    """An engine order id in any event (or the order a cancel or amend names)."""
    from_ns: int | None = None
    """Sequencer timestamp at or after this."""
    to_ns: int | None = None
    """Sequencer timestamp before this."""
    types: frozenset[str] = frozenset()
    """Transaction types by tag (empty: any)."""


@dataclass(frozen=True)
class QueryMatch:
    entry: JournalEntry
    tx: Transaction
    outcome: Outcome

    @property
    def type(self) -> str:
        return payload_type(self.tx)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.entry.seq,
            "timestamp_ns": self.entry.timestamp_ns,
            "type": self.type,
            "tx": plain(self.tx),
            "outcome": plain(self.outcome),
            "chain_head": self.entry.chain_head.hex(),
        }


class JournalQuery:
    """The entries matching a filter, in sequence order.

    Entries that do not decode cannot be matched; their seqs are in `undecodable`.
    """

    def __init__(self, store: JournalStore, criteria: QueryFilter) -> None:
        unknown = sorted(set(criteria.types) - set(PAYLOAD_TAGS))
        if unknown:
            raise AuditError(
                f"unknown transaction type {', '.join(unknown)}: one of {', '.join(PAYLOAD_TAGS)}"
            )
        self.store = store
        self.criteria = criteria
        self.undecodable: list[int] = []
        self.scanned = 0

    def run(self, progress: Progress | None = None) -> Iterator[QueryMatch]:
        criteria = self.criteria
        since_report = 0
        for entry in self.store.read(1):
            self.scanned += 1
            since_report += 1
            if progress is not None and since_report == BATCH_ENTRIES:
                progress(since_report)
                since_report = 0
            if criteria.from_ns is not None and entry.timestamp_ns < criteria.from_ns:
                continue
            if criteria.to_ns is not None and entry.timestamp_ns >= criteria.to_ns:
                continue
            try:
                tx = _tx_decoder.decode(entry.tx)
                outcome = decode_outcome(entry.outcome)
            except msgspec.DecodeError:
                self.undecodable.append(entry.seq)
                continue
            if criteria.types and payload_type(tx) not in criteria.types:
                continue
            if self._matches(tx, outcome):
                yield QueryMatch(entry, tx, outcome)
        if progress is not None and since_report:
            progress(since_report)

    def _matches(self, tx: Transaction, outcome: Outcome) -> bool:
        criteria = self.criteria
        if criteria.account is None and criteria.instrument is None and criteria.order_id is None:
            return True
        things = [msgspec.to_builtins(tx.payload)]
        if isinstance(outcome, Accepted):
            things.append(msgspec.to_builtins(outcome.events))
        if criteria.account is not None and criteria.account not in {
            value for value in _values(things, _ACCOUNT_KEYS) if isinstance(value, str)
        }:
            return False
        if criteria.instrument is not None:
            named = {
                value.get("id") if isinstance(value, dict) else value
                for value in _values(things, frozenset({"instrument"}))
                if isinstance(value, dict | str)
            }
            if criteria.instrument not in named:
                return False
        return criteria.order_id is None or criteria.order_id in {
            value for value in _values(things, _ORDER_KEYS) if isinstance(value, int)
        }
