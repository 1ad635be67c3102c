"""What an audit found: the report, its first fault, and how a check ends the audit.

A check that finds a fault calls `stop`, which raises `FaultFound`; the audit
(`verify.py`) puts its fault in the report and ends there. The checks of one entry
collect their findings as `Problem`s first, so that all of an entry's problems are
reported together, under the first one's check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

from clearhouse.journal.merkle import EMPTY_ROOT

Problem = tuple[str, str]
"""(check, statement) of one thing wrong with an entry, e.g. ("chain", "recorded ...")."""


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


class FaultFound(Exception):
    """The first fault is found: the audit ends with it in its report."""

    def __init__(self, fault: AuditFault) -> None:
        super().__init__(fault.message)
        self.fault = fault


def stop(
    check: str,
    message: str,
    *,
    entry: int | None = None,
    seq: int | None = None,
    checkpoint_size: int | None = None,
) -> NoReturn:
    """End the audit at this fault."""
    raise FaultFound(AuditFault(check, message, entry, seq, checkpoint_size))
