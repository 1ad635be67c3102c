"""Replay: the engine as it was after any entry, every entry on the way checked.

`plan_replay` picks the start (the newest snapshot at or before the target that
restores, else the genesis), `run_replay` re-executes from there, verifying each
signature again and comparing each outcome and chain head with the record;
`replay_journal` does both. Unlike the audit, a damaged snapshot is skipped, as
recovery skips it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from clearhouse.audit.common import (
    BATCH_ENTRIES,
    AuditError,
    Progress,
    ReplayError,
    StoredGenesisError,
    entry_label,
    holds,
    load_genesis,
)
from clearhouse.audit.describe import describe_outcome_difference
from clearhouse.audit.signatures import BatchVerifier, Pipeline, in_process_verifier
from clearhouse.core import Engine, Genesis, GenesisError, Sequenced, Transaction
from clearhouse.core.codec import encode
from clearhouse.core.outcomes import EngineFault
from clearhouse.core.snapshot import SnapshotError
from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.journal import restore_snapshot
from clearhouse.journal.store import JournalStore


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
    ones are skipped and listed), else the genesis. Raises StoredGenesisError if the
    stored genesis does not decode or starts no engine, AuditError if the journal does
    not hold `to_seq`.
    """
    genesis = load_genesis(store)
    size = store.size()
    target = size if to_seq is None else to_seq
    if not 0 <= target <= size:
        raise AuditError(f"cannot replay to seq {target}: {holds(size)}")
    try:
        engine = Engine(genesis)
    except (GenesisError, ValueError) as exc:
        raise StoredGenesisError(f"the stored genesis is invalid: {exc}") from exc
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
    pipeline = Pipeline(plan.genesis.venue_id, verify, overlap, batch)
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
    label = entry_label(position, entry.seq)
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
