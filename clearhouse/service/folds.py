"""Views of the record kept beside the engine (order history, trade statistics):
each folds the events of every accepted transaction, from the record when the
venue starts (one pass for all of them) and then from every commit."""

from __future__ import annotations

from collections.abc import Callable

from clearhouse.core import Accepted, Event
from clearhouse.journal import JournalStore
from clearhouse.journal.journal import outcome_of
from clearhouse.sequencer import Committed

Fold = Callable[[int, int, list[Event]], None]
"""Told (seq, sequencer timestamp in ns, events) of one accepted transaction."""


def fold_record(store: JournalStore, folds: list[Fold]) -> None:
    """Every accepted transaction of the record, in order, to each fold."""
    for entry in store.read():
        outcome = outcome_of(entry)
        if isinstance(outcome, Accepted):
            for fold in folds:
                fold(entry.seq, entry.timestamp_ns, outcome.events)


def commit_listener(folds: list[Fold]) -> Callable[[list[Committed]], None]:
    """A sequencer commit listener feeding each fold (on the commit thread)."""

    def committed(batch: list[Committed]) -> None:
        for _, receipt, stamp in batch:
            outcome = receipt.outcome
            if isinstance(outcome, Accepted):
                for fold in folds:
                    fold(receipt.seq, stamp, outcome.events)

    return committed
