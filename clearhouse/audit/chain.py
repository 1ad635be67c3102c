"""Checks 3 and 6, sequence and chain: the entries in order, each linked to the last.

Sequence: seqs run 1, 2, 3, ... with no gap, timestamps never go backwards, and each
entry's recorded outcome names its own seq (an entry moved within the journal keeps
the outcome of its old place). Chain: each chain head is SHA-256(previous head ||
recorded outcome bytes), starting from the digest of the genesis stored in the
journal, so every Merkle leaf, and so every signed checkpoint, binds the genesis.
"""

from __future__ import annotations

import msgspec

from clearhouse.audit.common import decode_recorded_outcome, entry_label
from clearhouse.audit.report import Problem, stop
from clearhouse.journal.entry import JournalEntry, next_chain_head


class ChainCheck:
    """Where the chain stands after the entries checked so far."""

    def __init__(self, genesis_digest: bytes) -> None:
        self.head = genesis_digest
        """The last entry's chain head; before the first, the genesis digest."""
        self.last_ts = 0
        """The last entry's timestamp."""

    def sequence(self, position: int, entry: JournalEntry) -> None:
        """End the audit at a gap: every later check of the entry would be beside the point."""
        if entry.seq == position:
            return
        if entry.seq > position:
            after = f"seq {position - 1}" if position > 1 else "the journal's start"
            why = f"seq {position} is missing: {after} is followed by seq {entry.seq}"
        else:
            why = f"expected seq {position}, found seq {entry.seq}"
        label = entry_label(position, entry.seq)
        stop("sequence", f"{label}: {why}", entry=position, seq=entry.seq)

    def order_problems(self, entry: JournalEntry) -> list[Problem]:
        """A timestamp that goes back; an outcome recorded for another seq."""
        problems: list[Problem] = []
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
        return problems

    def link_problem(self, position: int, entry: JournalEntry) -> Problem | None:
        """The entry's chain head, if it does not follow from the previous one."""
        linked = next_chain_head(self.head, entry.outcome)
        if entry.chain_head == linked:
            return None
        if position == 1:
            why = (
                f"is not SHA-256(genesis digest || recorded outcome) = {linked.hex()}: "
                "the chain does not start from the journal's genesis (the genesis "
                "was changed, or this entry was)"
            )
        else:
            why = f"is not SHA-256(previous head || recorded outcome) = {linked.hex()}"
        return ("chain", f"recorded chain head {entry.chain_head.hex()} {why}")

    def advance(self, entry: JournalEntry) -> None:
        """The entry passed: the next one links to it."""
        self.head = entry.chain_head
        self.last_ts = entry.timestamp_ns


def _recorded_seq(outcome: bytes) -> int | None:
    """The seq an outcome's bytes name, or None if they do not decode."""
    try:
        return decode_recorded_outcome(outcome).seq
    except msgspec.DecodeError:
        return None
