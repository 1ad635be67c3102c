"""The journal: the append-only source of truth, its Merkle tree and signed checkpoints.

- `journal` runs the write path (verify, sequence, apply, durable append, receipt)
  and recovery (`Journal`, `Receipt`, `InclusionProof`, `JournalError`).
- `store` is the backend interface (`JournalStore`); `sqlite_store` the embedded
  backend, `postgres_store` the production one; `urls.open_store` picks by URL.
- `entry` is what one journal entry holds (`JournalEntry`).

- `checkpoint` writes and reads checkpoints of the tree in the C2SP tlog-checkpoint
  signed-note format (`Checkpoint`, `sign_checkpoint`, `parse_signed_checkpoint`,
  `NoteVerifier`, `CheckpointSigner`, `CheckpointError`).
- `merkle` is the RFC 9162 Merkle tree over the entries, its nodes kept in a
  `HashStore` so that appends, roots and proofs read O(log n) hashes (`MerkleTree`,
  `MemoryHashStore`, `leaf_hash`, `node_hash`, `verify_inclusion`,
  `verify_consistency`, `EMPTY_ROOT`, `HASH_SIZE`).
"""

from clearhouse.journal.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointErrorCode,
    CheckpointSigner,
    ConsistencyCheck,
    NoteVerifier,
    OpenedNote,
    checkpoint_body,
    open_note,
    parse_checkpoint_body,
    parse_signed_checkpoint,
    sign_checkpoint,
    sign_note,
    time_extension,
)
from clearhouse.journal.entry import JournalEntry, entry_bytes
from clearhouse.journal.journal import InclusionProof, Journal, JournalError, Receipt
from clearhouse.journal.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    HashStore,
    MemoryHashStore,
    MerkleTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from clearhouse.journal.sqlite_store import SqliteJournal
from clearhouse.journal.store import JournalStore
from clearhouse.journal.urls import open_store

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "CheckpointError",
    "CheckpointErrorCode",
    "CheckpointSigner",
    "ConsistencyCheck",
    "HashStore",
    "InclusionProof",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalStore",
    "MemoryHashStore",
    "MerkleTree",
    "NoteVerifier",
    "OpenedNote",
    "Receipt",
    "SqliteJournal",
    "checkpoint_body",
    "entry_bytes",
    "leaf_hash",
    "node_hash",
    "open_note",
    "open_store",
    "parse_checkpoint_body",
    "parse_signed_checkpoint",
    "sign_checkpoint",
    "sign_note",
    "time_extension",
    "verify_consistency",
    "verify_inclusion",
]
