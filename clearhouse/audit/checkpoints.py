"""Checks 2 and 8, the checkpoints: each signed by the operator for this log, on the
rebuilt tree's root, and consistent with the one before.

A stored checkpoint is checked as soon as the entries it covers are: its note signed
by the operator key for this log's origin, its size the size it is stored under,
its signed root the root rebuilt at that size, and an RFC 9162 consistency proof
from the rebuilt tree verifying between it and the previous checkpoint (the log
only grew). A checkpoint the auditor holds from elsewhere (a receipt's, a
witness's) is read first (signed by the operator for this log) and checked once
the journal reaches its size: the same root there, else the journal is not the log
it was signed for. One the journal never reaches shows a journal rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NoReturn

from clearhouse.audit.common import entry_label
from clearhouse.audit.report import AuditReport, stop
from clearhouse.journal.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointErrorCode,
    NoteVerifier,
    parse_signed_checkpoint,
)
from clearhouse.journal.merkle import MerkleTree, verify_consistency
from clearhouse.journal.store import JournalStore

_SIGNATURE_LINE_START: Final = "— ".encode()


def trim_held_note(note: bytes) -> bytes:
    """A held note without the blank lines a file may carry after its last signature line.

    A signed note ends with the newline of its last signature line (C2SP signed-note),
    so a note ending in a blank line is never valid as it is, and the note left
    without those blank lines is the only one it can be: the signatures cover the
    text before the note's own blank line, so the checkpoint read is the one signed.
    Files gain them when a note is copied from a terminal or printed by `sqlite3`.
    A note whose last line is not a signature line is left as it is.
    """
    trimmed = note.rstrip(b"\n")
    last_line = trimmed[trimmed.rfind(b"\n") + 1 :]
    if len(trimmed) < len(note) - 1 and last_line.startswith(_SIGNATURE_LINE_START):
        return trimmed + b"\n"
    return note


def malformed_note(note: bytes) -> str | None:
    """Why `note` is not a signed checkpoint note at all, or None: its syntax and its
    body, read before any signature is checked (`parse_signed_checkpoint`'s order)."""
    try:
        parse_signed_checkpoint(note, [])
    except CheckpointError as exc:
        if exc.code is CheckpointErrorCode.MALFORMED:
            return exc.message
    return None


def checkpoint_problem(exc: CheckpointError, operator: NoteVerifier) -> str:
    """Why a note is not a checkpoint signed by the operator, in the operator's terms."""
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


class CheckpointCheck:
    """The stored checkpoints and the held ones, each checked when the tree reaches it."""

    def __init__(
        self,
        operator: NoteVerifier,
        origin: str,
        stored: list[tuple[int, bytes]],
        report: AuditReport,
    ) -> None:
        self.operator = operator
        self.origin = origin
        self.stored = stored
        self.report = report
        self.stored_next = 0
        """How many stored checkpoints are checked."""
        self.previous: tuple[int, bytes] | None = None
        """(size, root) of the last stored checkpoint checked."""
        self.held: list[tuple[str, Checkpoint]] = []
        self.held_next = 0

    def read_held(self, notes: Sequence[tuple[str, bytes]]) -> None:
        """Check 2: the auditor's own checkpoints, each signed by the operator for this log."""
        for name, note in notes:
            try:
                cp = parse_signed_checkpoint(
                    trim_held_note(note), [self.operator], origin=self.origin
                )
            except CheckpointError as exc:
                stop(
                    "checkpoint",
                    f"held checkpoint {name}: {checkpoint_problem(exc, self.operator)}",
                )
            self.held.append((name, cp))
        self.held.sort(key=lambda held: held[1].size)

    def at(self, size: int, tree: MerkleTree, last_ts: int) -> None:
        """Check 8: every checkpoint, stored or held, that closes at `size` entries."""
        while self.stored_next < len(self.stored) and self.stored[self.stored_next][0] <= size:
            stored_size, note = self.stored[self.stored_next]
            self.stored_next += 1
            self._stored(self.stored_next, stored_size, note, tree, last_ts)
        while self.held_next < len(self.held) and self.held[self.held_next][1].size <= size:
            name, cp = self.held[self.held_next]
            self.held_next += 1
            root = tree.root(cp.size)
            if cp.root_hash != root:
                stop(
                    "checkpoint",
                    f"held checkpoint {name} (tree size {cp.size}): its signed root "
                    f"{cp.root_hash.hex()} differs from the root {root.hex()} rebuilt from "
                    f"entries 1..{cp.size}: the journal is not the log that checkpoint was "
                    "signed for (rewritten or forked)",
                    checkpoint_size=cp.size,
                )
            self.report.held_checkpoints += 1

    def _stored(self, number: int, size: int, note: bytes, tree: MerkleTree, last_ts: int) -> None:
        label = f"checkpoint {number} (tree size {size})"

        def fail(why: str) -> NoReturn:
            stop("checkpoint", f"{label}: {why}", checkpoint_size=size)

        try:
            cp = parse_signed_checkpoint(note, [self.operator], origin=self.origin)
        except CheckpointError as exc:
            fail(checkpoint_problem(exc, self.operator))
        if cp.size != size or size < 0:
            fail(f"the signed note is for tree size {cp.size}")
        root = tree.root(size)
        if cp.root_hash != root:
            fail(
                f"its signed root {cp.root_hash.hex()} differs from the root {root.hex()} "
                f"rebuilt from entries 1..{size}"
            )
        if self.previous is not None:
            old_size, old_root = self.previous
            if 0 < old_size < size:
                proof = tree.consistency_proof(old_size, size)
                if not verify_consistency(old_size, size, old_root, cp.root_hash, proof):
                    fail(
                        f"it is not consistent with checkpoint {number - 1} (tree size "
                        f"{old_size}): the consistency proof from the rebuilt tree fails"
                    )
        signed_ns = cp.time_ns
        if size > 0 and signed_ns is not None and signed_ns != last_ts:
            self.report.warnings.append(
                f"{label}: its time extension {signed_ns} is not the timestamp "
                f"{last_ts} of entry {size}"
            )
        self.previous = (size, cp.root_hash)
        self.report.checkpoints += 1
        self.report.last_checkpoint_size = size

    def end(self, n: int, store: JournalStore) -> None:
        """After the last of `n` entries: no checkpoint, stored or held, covers more."""
        missing = entry_label(n + 1, n + 1)
        if self.stored_next < len(self.stored):
            cp_size, note = self.stored[self.stored_next]
            try:
                parse_signed_checkpoint(note, [self.operator], origin=self.origin)
                signed = "signed by the operator"
            except CheckpointError:
                signed = "not signed by the operator"
            stop(
                "missing",
                f"{missing}: missing: the journal ends at seq {n}, but checkpoint "
                f"{self.stored_next + 1} (tree size {cp_size}, {signed}) covers entries up to "
                f"seq {cp_size}",
                entry=n + 1,
            )
        self._held_beyond(n, store)

    def _held_beyond(self, n: int, store: JournalStore) -> None:
        """A held checkpoint past the journal's end: the journal was rolled back."""
        beyond = self.held[self.held_next :]
        if not beyond:
            return
        now = store.size()
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
        stop(
            "missing",
            f"{entry_label(n + 1, n + 1)}: missing: the journal ends at seq {n}, but the "
            f"held checkpoint {name}, signed by the operator, covers entries up to seq "
            f"{cp.size}: the journal was rolled back or truncated",
            entry=n + 1,
            checkpoint_size=cp.size,
        )
