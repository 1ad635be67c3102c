"""Queries over the entries: by account, instrument, order, time and transaction type."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from clearhouse.audit.common import (
    BATCH_ENTRIES,
    AuditError,
    Progress,
    decode_recorded_outcome,
    decode_tx,
)
from clearhouse.audit.describe import payload_type, plain
from clearhouse.core import Accepted, Outcome, Transaction
from clearhouse.core.txs import PAYLOAD_TYPES
from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.store import JournalStore

PAYLOAD_TAGS: Final = tuple(str(t.__struct_config__.tag) for t in PAYLOAD_TYPES)
"""Every transaction type by its wire tag (`place_order`, `deposit`, ...)."""

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
            tx = decode_tx(entry.tx)
            outcome: Outcome | None
            try:
                outcome = decode_recorded_outcome(entry.outcome)
            except msgspec.DecodeError:
                outcome = None
            if isinstance(tx, str) or outcome is None:
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
