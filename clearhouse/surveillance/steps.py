"""What surveillance reads: each journaled transaction as a `Step`.

A step is one entry of the record, decoded: its sequence number and sequencer
time, the payload and who signed it, and what the engine did (the events of an
accepted transaction, or the code of a rejected one). Detectors see steps in
sequence order and nothing else, so what they find depends on the record alone:
the same journal gives the same alerts, live or replayed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from clearhouse.core import Accepted, ErrorCode, Event, Outcome, Payload, Rejection
from clearhouse.core.codec import decode_transaction
from clearhouse.journal import JournalStore
from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.journal import outcome_of


class Step(NamedTuple):
    seq: int
    timestamp_ns: int
    payload: Payload
    signer: bytes
    events: list[Event]
    """The events of an accepted transaction; empty for a rejected one."""
    rejected: ErrorCode | None
    """The engine's code for a rejected transaction."""


def step_of(seq: int, timestamp_ns: int, payload: Payload, signer: bytes, outcome: Outcome) -> Step:
    if isinstance(outcome, Accepted):
        return Step(seq, timestamp_ns, payload, signer, outcome.events, None)
    return Step(seq, timestamp_ns, payload, signer, [], outcome.code)


def entry_step(entry: JournalEntry) -> Step:
    tx = decode_transaction(entry.tx)
    if isinstance(tx, Rejection):  # the journal holds only transactions that decoded
        raise ValueError(f"entry {entry.seq} does not hold a transaction: {tx.message}")
    return step_of(entry.seq, entry.timestamp_ns, tx.payload, tx.signer, outcome_of(entry))


def journal_steps(store: JournalStore, after_seq: int = 0) -> Iterator[Step]:
    """The record's steps after `after_seq`, in order."""
    for entry in store.read(after_seq + 1):
        yield entry_step(entry)
