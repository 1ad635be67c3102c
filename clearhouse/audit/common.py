"""What the parts of the audit share: their errors, the journal's genesis, the unit of work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from clearhouse.core import Genesis, Outcome, Transaction
from clearhouse.core.codec import decode_outcome
from clearhouse.journal.store import JournalStore

Progress = Callable[[int], None]
"""Called with the number of entries just processed."""

BATCH_ENTRIES: Final = 4_096
"""Entries read, decoded and verified at a time."""

tx_decoder: Final = msgspec.msgpack.Decoder(Transaction)
_genesis_decoder: Final = msgspec.msgpack.Decoder(Genesis)

_TOO_DEEP: Final = "its arrays and maps nest too deep to decode"
"""Stored bytes nested far beyond any schema: msgspec runs out of stack while it
skips them looking for a union's tag, so they are refused like any bytes that do
not decode (a journal is damaged, not the auditor's process)."""


class AuditError(Exception):
    """The journal cannot be read for this purpose (no genesis, no such entry, ...)."""


class ReplayError(AuditError):
    """Re-execution does not reproduce the record: the message names the entry."""


class StoredGenesisError(AuditError):
    """The genesis the journal stores does not decode or starts no engine: the journal
    is damaged (a fault of the journal, like a changed entry), not the request."""


class ProofError(Exception):
    """An inclusion proof does not check out: the message says why."""


def load_genesis(store: JournalStore) -> Genesis:
    """The genesis stored in the journal. Raises AuditError: StoredGenesisError if it
    does not decode."""
    data = store.load_genesis()
    if data is None:
        raise AuditError("the journal holds no genesis: not a clearhouse journal, or empty")
    try:
        return _genesis_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise StoredGenesisError(f"the stored genesis does not decode: {exc}") from exc
    except RecursionError:
        raise StoredGenesisError(f"the stored genesis does not decode: {_TOO_DEEP}") from None


def log_origin(genesis: Genesis) -> str:
    """The checkpoint origin line of the journal of this genesis."""
    return f"clearhouse/{genesis.venue_id}"


def decode_tx(data: bytes) -> Transaction | str:
    """The transaction, or why its bytes are not one."""
    try:
        return tx_decoder.decode(data)
    except msgspec.DecodeError as exc:
        return str(exc)
    except RecursionError:
        return _TOO_DEEP


def decode_recorded_outcome(data: bytes) -> Outcome:
    """A recorded outcome. Raises msgspec.DecodeError if its bytes are not one, nested
    too deep included."""
    try:
        return decode_outcome(data)
    except RecursionError:
        raise msgspec.DecodeError(_TOO_DEEP) from None


def holds(size: int) -> str:
    """What the journal holds, for a message about a seq it does not hold."""
    return f"the journal holds seq 1..{size}" if size else "the journal holds no entries"


def entry_label(position: int, seq: int) -> str:
    """How a message names an entry: its position in the journal and its recorded seq."""
    return f"entry {position} (seq {seq})"
