"""What the parts of the audit share: their errors, the journal's genesis, the unit of work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from clearhouse.core import Genesis, Transaction
from clearhouse.journal.store import JournalStore

Progress = Callable[[int], None]
"""Called with the number of entries just processed."""

BATCH_ENTRIES: Final = 4_096
"""Entries read, decoded and verified at a time."""

tx_decoder: Final = msgspec.msgpack.Decoder(Transaction)
_genesis_decoder: Final = msgspec.msgpack.Decoder(Genesis)


class AuditError(Exception):
    """The journal cannot be read for this purpose (no genesis, no such entry, ...)."""


class ReplayError(AuditError):
    """Re-execution does not reproduce the record: the message names the entry."""


class ProofError(Exception):
    """An inclusion proof does not check out: the message says why."""


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


def decode_tx(data: bytes) -> Transaction | str:
    """The transaction, or why its bytes are not one."""
    try:
        return tx_decoder.decode(data)
    except msgspec.DecodeError as exc:
        return str(exc)


def holds(size: int) -> str:
    """What the journal holds, for a message about a seq it does not hold."""
    return f"the journal holds seq 1..{size}" if size else "the journal holds no entries"


def entry_label(position: int, seq: int) -> str:
    """How a message names an entry: its position in the journal and its recorded seq."""
    return f"entry {position} (seq {seq})"
