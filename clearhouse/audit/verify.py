"""Audit a journal from its own record, trusting nothing but the operator's public key.

`audit_journal` reads a journal through any `JournalStore` and checks it in one pass,
in sequence order, stopping at the first fault, which it names exactly (the entry's
position and recorded sequence number, or the checkpoint's tree size, and what
differs). The checks, in the order they run, with the module that holds each and
the `check` its fault names:

     1. genesis (here) [genesis]: the journal holds a genesis an engine starts from;
        with `expected_genesis`, the expected one.
     2. held (checkpoints.py) [checkpoint]: every checkpoint the auditor holds from
        elsewhere (`held_checkpoints`, e.g. a receipt's) is signed by the operator
        key for this log.
    Then for each entry, in sequence order, a batch at a time:
     3. sequence (chain.py) [sequence]: seqs run 1, 2, 3, ... with no gap (a gap ends
        the audit at once); timestamps never go backwards; the recorded outcome names
        the entry's own seq.
     4. verdicts (signatures.py): every transaction signature is verified again (on a
        `VerifierPool` for long journals, the next batch while this one re-executes).
     5. execution (execution.py) [execution]: re-executed from the genesis stored in
        the journal, the entry gives byte for byte its recorded outcome and chain head.
     6. chain (chain.py) [chain]: its chain head is SHA-256(previous head || recorded
        outcome bytes), from the digest of the stored genesis: every leaf, and so
        every signed checkpoint, binds the genesis, and an edited genesis breaks the
        chain at entry 1.
     7. merkle (tree.py) [merkle]: in an RFC 9162 tree rebuilt here from the entries'
        bytes (never from the stored nodes), every node the entry closes equals the
        stored one.
    Then for each checkpoint that closes at that entry, and a snapshot stored there:
     8. checkpoints (checkpoints.py) [checkpoint]: a stored checkpoint is signed by
        the operator key for this log, its root is the rebuilt root at its size, and
        it is consistent with the one before (an RFC 9162 consistency proof from the
        rebuilt tree); a held one has the rebuilt root at its size, so a journal
        rewritten under it fails.
     9. snapshots (execution.py) [snapshot]: the snapshot hashes to its recorded
        digest and restores to the re-executed state (one that does not is a fault,
        though recovery skips it).
    And once, at the end:
    10. the end (here) [missing, merkle, execution]: nothing is recorded beyond the
        last entry (no checkpoint, held checkpoint, snapshot or stored tree node), and
        the state passes the full invariant sweep.

All of an entry's problems (3 to 7) are reported together, under the first one's
check; at entry 1 a broken chain comes first, as it names the genesis as a suspect
(a flipped byte in a transaction shows as a changed Merkle leaf and, usually, as an
outcome re-execution does not reproduce). A value the store cannot read (a column
of the wrong type, a damaged database page) is a `storage` fault naming the entry or
the page, like any other.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from clearhouse.audit.chain import ChainCheck
from clearhouse.audit.checkpoints import CheckpointCheck
from clearhouse.audit.common import (
    BATCH_ENTRIES,
    AuditError,
    Progress,
    entry_label,
    load_genesis,
    log_origin,
)
from clearhouse.audit.execution import ExecutionCheck
from clearhouse.audit.report import AuditReport, FaultFound, stop
from clearhouse.audit.signatures import BatchVerifier, Pipeline, count_verdict, in_process_verifier
from clearhouse.audit.tree import TreeCheck
from clearhouse.core import Engine, Genesis, GenesisError, Transaction, genesis_digest
from clearhouse.journal.checkpoint import NoteVerifier
from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.store import JournalStore, StoreReadError


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


class _Auditor:
    """One audit: the checks wired in the order of the module's list."""

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
        self.report = AuditReport()
        self.count = 0
        """Entries that passed every check."""

    def run(self) -> AuditReport:
        started = time.perf_counter()
        try:
            try:
                self._run()
            except StoreReadError as exc:
                entry = None if exc.seq is None else self.count + 1
                stop("storage", f"the journal cannot be read: {exc}", entry=entry, seq=exc.seq)
        except FaultFound as found:
            self.report.fault = found.fault
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _run(self) -> None:
        report = self.report
        # 1. genesis
        try:
            genesis = load_genesis(self.store)
            engine = Engine(genesis)
        except (AuditError, GenesisError, ValueError) as exc:
            stop("genesis", f"genesis: {exc}")
        report.venue_id = genesis.venue_id
        report.origin = origin = log_origin(genesis)
        report.genesis_digest = genesis_digest(genesis)
        if self.expected_genesis is not None:
            expected = genesis_digest(self.expected_genesis)
            if expected != report.genesis_digest:
                stop(
                    "genesis",
                    f"genesis: the journal's genesis has digest {report.genesis_digest.hex()}, "
                    f"the expected one {expected.hex()}",
                )
        # The engine's output chain starts from the genesis digest: recomputing it from
        # the stored genesis is what makes an edited genesis break the chain.
        self.chain = ChainCheck(report.genesis_digest)
        # Read in the order the writer commits, so that a journal still being written
        # reads as a consistent prefix: checkpoints and snapshots are saved after the
        # entries they cover, and entries with their nodes in one transaction.
        stored_checkpoints = self.store.checkpoints()
        report.checkpoints_stored = len(stored_checkpoints)
        self.checkpoints = CheckpointCheck(self.operator, origin, stored_checkpoints, report)
        # 2. held
        self.checkpoints.read_held(self.held_notes)
        snapshot_seqs = {seq for seq, _ in self.store.snapshots()}
        self.execution = ExecutionCheck(engine, genesis, self.store, snapshot_seqs, report)
        size = self.store.size()
        self.tree = TreeCheck(self.store.nodes())
        self._closed_at(0)
        pipeline = Pipeline(genesis.venue_id, self.verify, self.overlap, self.batch)
        batches = pipeline.run(self.store.read(1, size + 1))
        try:
            for entries, txs, verdicts in batches:
                for entry, tx, verdict in zip(entries, txs, verdicts, strict=True):
                    self._entry(entry, tx, verdict)
                    self._closed_at(entry.seq)
                if self.progress is not None:
                    self.progress(len(entries))
        finally:
            batches.close()
        self._end(size)

    def _entry(self, entry: JournalEntry, tx: Transaction | str, verdict: bool) -> None:
        """Checks 3 to 7 of one entry."""
        position = self.count + 1
        # 3. sequence
        self.chain.sequence(position, entry)
        problems = self.chain.order_problems(entry)
        # 4. verdicts: `verdict` is the pipeline's
        if isinstance(tx, Transaction):
            count_verdict(self.report, verdict)
        # 5. execution
        problems += self.execution.problems(entry, tx, verdict)
        # 6. chain
        link = self.chain.link_problem(position, entry)
        if link is not None:
            # At entry 1 the broken link is the news: it names the genesis as a suspect.
            problems.insert(0 if position == 1 else len(problems), link)
        # 7. merkle
        node = self.tree.append(entry)
        if node is not None:
            problems.append(node)
        if problems:
            stop(
                problems[0][0],
                f"{entry_label(position, entry.seq)}: " + "; ".join(text for _, text in problems),
                entry=position,
                seq=entry.seq,
            )
        report = self.report
        if position == 1:
            report.first_timestamp_ns = entry.timestamp_ns
        self.count = position
        self.chain.advance(entry)
        report.entries = position
        report.last_timestamp_ns = entry.timestamp_ns

    def _closed_at(self, seq: int) -> None:
        """Checks 8 and 9: the checkpoints that close at `seq` entries, a snapshot there."""
        self.checkpoints.at(seq, self.tree.tree, self.chain.last_ts)
        self.execution.snapshot(seq)

    def _end(self, size: int) -> None:
        """Check 10, for a journal of `size` entries when the audit began."""
        n = self.count
        self.checkpoints.end(n, self.store)
        self.execution.snapshots_beyond(n)
        now = self.store.size()
        if now != size:
            # Only the entries present at the start were audited; nodes may have been
            # appended since with the entries they close.
            self.report.grew_to = now
        else:
            self.tree.end(n)
        self.execution.end(n)
        self.report.root = self.tree.tree.root()
