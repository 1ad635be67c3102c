"""Checks 5 and 9, execution and snapshots: the journal re-executed gives its own record.

Re-executed from the genesis stored in the journal, with each signature's verdict
from check 4, every entry must give byte for byte its recorded outcome and chain
head, from transaction bytes that are the canonical encoding. A snapshot stored at
a seq must hash to its recorded digest and restore to the state re-execution
reached there: one that does not was changed after it was stored (recovery skips
it for an older one; the audit names it). At the end the state must pass the full
invariant sweep.
"""

from __future__ import annotations

import msgspec

from clearhouse.audit.common import entry_label
from clearhouse.audit.describe import describe_outcome_difference
from clearhouse.audit.report import AuditReport, Problem, stop
from clearhouse.core import Accepted, Engine, Genesis, Sequenced, Transaction
from clearhouse.core.codec import encode
from clearhouse.core.outcomes import EngineFault
from clearhouse.core.snapshot import SnapshotError
from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.journal import restore_snapshot
from clearhouse.journal.store import JournalStore


class ExecutionCheck:
    """The engine re-executing the journal, and the snapshots compared with it."""

    def __init__(
        self,
        engine: Engine,
        genesis: Genesis,
        store: JournalStore,
        snapshot_seqs: set[int],
        report: AuditReport,
    ) -> None:
        self.engine = engine
        self.genesis = genesis
        self.store = store
        self.snapshot_seqs = snapshot_seqs
        """The seqs snapshots are stored at, as read before the entries."""
        self.report = report

    def problems(self, entry: JournalEntry, tx: Transaction | str, verdict: bool) -> list[Problem]:
        """Re-execute the entry: what differs from its record."""
        if isinstance(tx, str):
            return [("execution", f"the transaction bytes do not decode ({tx})")]
        problems: list[Problem] = []
        if encode(tx) != entry.tx:
            problems.append(("execution", "the transaction bytes are not the canonical encoding"))
        engine = self.engine
        try:
            outcome = engine.apply(Sequenced(entry.seq, entry.timestamp_ns, tx), verdict)
        except EngineFault as exc:
            problems.append(("execution", f"re-execution stopped the engine: {exc}"))
            return problems
        if encode(outcome) != entry.outcome:
            difference = describe_outcome_difference(entry.outcome, outcome, verdict)
            problems.append(
                ("execution", f"recorded outcome differs from re-execution: {difference}")
            )
        if engine.chain_head != entry.chain_head:
            problems.append(
                (
                    "execution",
                    f"recorded chain head {entry.chain_head.hex()} differs from the "
                    f"re-executed {engine.chain_head.hex()}",
                )
            )
        if isinstance(outcome, Accepted):
            self.report.accepted += 1
        else:
            self.report.rejected += 1
        return problems

    def snapshot(self, seq: int) -> None:
        """Check 9: the snapshot stored at `seq`, if any, restores to the re-executed state."""
        if seq not in self.snapshot_seqs:
            return
        data = next((blob for at, blob in self.store.snapshots() if at == seq), None)
        if data is None:
            return
        label = f"snapshot at seq {seq}"
        try:
            restored = restore_snapshot(self.genesis, data)
        except (SnapshotError, msgspec.DecodeError, ValueError) as exc:
            # Recovery skips such a snapshot for an older one, but the writer stored it
            # whole and hashed: one that no longer restores to its digest was changed.
            stop(
                "snapshot",
                f"{label}: it does not restore to its recorded digest ({exc}): it was "
                "changed after it was stored",
                entry=seq,
                seq=seq,
            )
        engine = self.engine
        if restored.seq != seq:
            stop(
                "snapshot",
                f"{label}: it restores an engine at seq {restored.seq}",
                entry=seq,
                seq=seq,
            )
        if restored.chain_head != engine.chain_head or restored.digest() != engine.digest():
            stop(
                "snapshot",
                f"{label}: it restores to state digest {restored.digest().hex()} and chain head "
                f"{restored.chain_head.hex()}, re-execution gives {engine.digest().hex()} and "
                f"{engine.chain_head.hex()}",
                entry=seq,
                seq=seq,
            )
        self.report.snapshots += 1

    def snapshots_beyond(self, n: int) -> None:
        """After the last of `n` entries: no snapshot is stored past it."""
        beyond = sorted(seq for seq in self.snapshot_seqs if seq > n)
        if beyond:
            stop(
                "missing",
                f"{entry_label(n + 1, n + 1)}: missing: the journal ends at seq {n}, but a "
                f"snapshot is stored at seq {beyond[0]}",
                entry=n + 1,
            )

    def end(self, n: int) -> None:
        """After the last of `n` entries: the full invariant sweep; the final chain and digest."""
        try:
            self.engine.check_invariants()
        except EngineFault as exc:
            stop("execution", f"the state after re-executing {n} entries breaks: {exc}")
        self.report.chain_head = self.engine.chain_head
        self.report.digest = self.engine.digest()
