"""Inclusion proofs: built from a store without the operator's key, checked offline.

`build_inclusion_proof` reads an entry, the stored Merkle nodes and the latest signed
checkpoint note, and checks the proof against the note's root before returning it.
`check_inclusion_proof` needs only the proof and the operator's public key: the
note's signature, the leaf, the path to the signed root, and the entry's own
transaction signature. A proof travels as a self-contained JSON file
(`proof_to_json`, `proof_from_json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from clearhouse.audit.checkpoints import checkpoint_problem
from clearhouse.audit.common import (
    AuditError,
    ProofError,
    decode_recorded_outcome,
    decode_tx,
    holds,
)
from clearhouse.auth.verifier import verify_transaction
from clearhouse.core import Accepted, Outcome, Transaction
from clearhouse.core.nesting import json_deeper_than
from clearhouse.journal.checkpoint import (
    Checkpoint,
    CheckpointError,
    NoteVerifier,
    parse_checkpoint_body,
    parse_signed_checkpoint,
)
from clearhouse.journal.entry import JournalEntry, decode_entry, entry_bytes
from clearhouse.journal.journal import InclusionProof
from clearhouse.journal.merkle import HASH_SIZE, MerkleTree, leaf_hash, verify_inclusion
from clearhouse.journal.store import JournalStore, PersistedHashStore

PROOF_FORMAT: Final = "clearhouse-inclusion-proof/1"
"""The `format` field of an inclusion proof file."""
PROOF_NESTING_MAX: Final = 2
"""A proof file is an object holding an array of strings; a file nested deeper is
refused before it is parsed, as Python's JSON parser recurses once per level."""


def _note_text(note: bytes) -> bytes:
    split = note.rfind(b"\n\n")
    if split < 0:
        raise AuditError("the stored checkpoint note has no blank line before its signatures")
    return note[: split + 1]


def build_inclusion_proof(store: JournalStore, seq: int) -> InclusionProof:
    """An inclusion proof of entry `seq` against the latest checkpoint, from the store.

    Needs no key: it reads the entry, the stored Merkle nodes and the stored signed
    note. The proof is checked against the note's root before it is returned, so a
    store whose nodes or entry disagree with its checkpoint yields AuditError, never a
    proof that fails later.
    """
    size = store.size()
    if not 1 <= seq <= size:
        raise AuditError(f"no entry {seq}: {holds(size)}")
    checkpoints = store.checkpoints()
    if not checkpoints or checkpoints[-1][0] < seq:
        latest = checkpoints[-1][0] if checkpoints else 0
        raise AuditError(
            f"no checkpoint covers entry {seq} yet: the latest covers entries 1..{latest}"
        )
    tree_size, note = checkpoints[-1]
    try:
        tree = MerkleTree(PersistedHashStore(store.nodes()))
    except (ValueError, AssertionError) as exc:
        raise AuditError(f"the stored Merkle tree is damaged: {exc}") from exc
    if tree.size < tree_size:
        raise AuditError(
            f"the stored Merkle tree holds {tree.size} leaves, the checkpoint {tree_size}"
        )
    entry = next(store.read(seq, seq + 1), None)
    if entry is None or entry.seq != seq:
        raise AuditError(f"entry {seq} is not stored")
    data = entry_bytes(entry)
    proof = tree.inclusion_proof(seq - 1, tree_size)
    try:
        body = parse_checkpoint_body(_note_text(note))
    except CheckpointError as exc:
        raise AuditError(f"the stored checkpoint is malformed: {exc}") from exc
    if body.size != tree_size or not verify_inclusion(
        leaf_hash(data), seq - 1, tree_size, proof, body.root_hash
    ):
        raise AuditError(
            f"entry {seq} and the stored tree do not match checkpoint of size {tree_size}: "
            "run `clearhouse audit verify`"
        )
    return InclusionProof(seq - 1, data, tree_size, proof, note)


def proof_to_json(proof: InclusionProof) -> dict[str, Any]:
    """The proof as a self-contained JSON object (hashes and entry bytes in hex)."""
    return {
        "format": PROOF_FORMAT,
        "leaf_index": proof.leaf_index,
        "seq": proof.leaf_index + 1,
        "tree_size": proof.tree_size,
        "entry": proof.entry.hex(),
        "proof": [node.hex() for node in proof.proof],
        "checkpoint": proof.checkpoint.decode("utf-8"),
    }


def proof_from_json(text: str | bytes) -> InclusionProof:
    """Read a proof file. Raises ProofError if it is not one."""
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
    except UnicodeEncodeError as exc:
        raise ProofError(f"not JSON: {exc}") from exc
    if json_deeper_than(data, PROOF_NESTING_MAX):
        raise ProofError(
            f"not a proof: its arrays and objects nest more than {PROOF_NESTING_MAX} deep"
        )
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProofError(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ProofError("not a proof: expected a JSON object")
    if doc.get("format") != PROOF_FORMAT:
        raise ProofError(f"not a proof: format is {doc.get('format')!r}, not {PROOF_FORMAT!r}")
    try:
        leaf_index, tree_size = doc["leaf_index"], doc["tree_size"]
        if type(leaf_index) is not int or type(tree_size) is not int:
            raise ProofError("leaf_index and tree_size must be integers")
        proof = [bytes.fromhex(node) for node in doc["proof"]]
        entry = bytes.fromhex(doc["entry"])
        note = doc["checkpoint"].encode("utf-8")
    except ProofError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProofError(f"not a proof: missing or malformed field ({exc})") from exc
    return InclusionProof(leaf_index, entry, tree_size, proof, note)


@dataclass(frozen=True)
class CheckedProof:
    """An inclusion proof that checked out, and what the entry says."""

    checkpoint: Checkpoint
    entry: JournalEntry
    tx: Transaction
    outcome: Outcome
    signature_valid: bool | None
    """The transaction signature re-verified (None if the origin names no venue)."""


def check_inclusion_proof(proof: InclusionProof, operator: NoteVerifier) -> CheckedProof:
    """Check a proof offline: the checkpoint's signature, the leaf, the path to the root.

    Raises ProofError with the reason.
    """
    try:
        cp = parse_signed_checkpoint(proof.checkpoint, [operator])
    except CheckpointError as exc:
        raise ProofError(f"checkpoint: {checkpoint_problem(exc, operator)}") from exc
    if proof.tree_size != cp.size:
        raise ProofError(
            f"the proof is for tree size {proof.tree_size}, the checkpoint is of size {cp.size}"
        )
    if any(len(node) != HASH_SIZE for node in proof.proof):
        raise ProofError(f"every proof hash must be {HASH_SIZE} bytes")
    if not verify_inclusion(
        leaf_hash(proof.entry), proof.leaf_index, proof.tree_size, proof.proof, cp.root_hash
    ):
        raise ProofError(
            f"the entry is not in the log: its inclusion proof at leaf {proof.leaf_index} does "
            f"not lead to the root of the signed checkpoint of size {cp.size}"
        )
    try:
        entry = decode_entry(proof.entry)
        tx = decode_tx(entry.tx)
        if isinstance(tx, str):
            raise msgspec.DecodeError(tx)
        outcome = decode_recorded_outcome(entry.outcome)
    except msgspec.DecodeError as exc:
        raise ProofError(f"the included entry does not decode: {exc}") from exc
    if entry.seq != proof.leaf_index + 1:
        raise ProofError(
            f"leaf {proof.leaf_index} holds seq {entry.seq}, not seq {proof.leaf_index + 1}"
        )
    signature_valid: bool | None = None
    if cp.origin.startswith("clearhouse/"):
        try:
            signature_valid = verify_transaction(cp.origin.removeprefix("clearhouse/"), tx)
        except ValueError:
            signature_valid = None
    if signature_valid is False and isinstance(outcome, Accepted):
        raise ProofError(
            f"entry {entry.seq} is recorded as accepted, but its transaction signature does "
            "not verify"
        )
    return CheckedProof(cp, entry, tx, outcome, signature_valid)
