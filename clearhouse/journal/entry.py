"""A journal entry: one sequenced transaction, what it did, and the chain head after it.

The entry's canonical bytes (msgpack, fields in this order) are the Merkle leaf.
`tx` and `outcome` are kept as the canonical bytes that were signed and hashed, so
the journal can be checked without trusting any decoder to round-trip them.
"""

from __future__ import annotations

import hashlib

import msgspec

from clearhouse.core.codec import encode


class JournalEntry(msgspec.Struct, frozen=True, array_like=True):
    seq: int
    timestamp_ns: int
    tx: bytes
    """The canonical bytes of the signed Transaction."""
    outcome: bytes
    """The canonical bytes of the engine's Outcome (Accepted or Rejected)."""
    chain_head: bytes
    """SHA-256(previous chain head || outcome): the engine's output chain after this entry.
    The chain starts from the genesis digest, so every entry binds the genesis."""


_decoder = msgspec.msgpack.Decoder(JournalEntry)


def entry_bytes(entry: JournalEntry) -> bytes:
    return encode(entry)


def decode_entry(data: bytes) -> JournalEntry:
    return _decoder.decode(data)


def next_chain_head(previous: bytes, outcome: bytes) -> bytes:
    return hashlib.sha256(previous + outcome).digest()
