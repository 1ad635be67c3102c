"""The journal's Merkle tree: append, inclusion and consistency proofs at a million leaves.

Builds a `MerkleTree` over `leaves` seeded random entries, then generates and verifies
`proofs` inclusion proofs for seeded random leaf indices against the full tree, and as
many consistency proofs from seeded random old sizes. The same entries go into
pymerkle's in-memory tree (SHA-256 with the 0x00/0x01 prefixes, RFC 9162 hashing) for
comparison: its append time and inclusion proofs generated per second, and whether its
roots and proofs equal ours. pymerkle is a dev dependency; without it those fields are
None.
"""

from __future__ import annotations

import importlib
import random
import time
from typing import Any

from clearhouse.bench.workload import GC_NOTE, frozen_heap
from clearhouse.journal.merkle import (
    HASH_SIZE,
    MemoryHashStore,
    MerkleTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

ENTRY_BYTES = 64
"""Bytes in each benchmark entry."""

PYMERKLE_CHECKED_PROOFS = 1_000
"""How many of pymerkle's proofs are compared hash by hash with ours."""


def run_merkle_bench(
    leaves: int = 1_000_000, proofs: int = 100_000, seed: int = 7
) -> dict[str, Any]:
    """Time our tree (and pymerkle's) on `leaves` entries; see the module docstring."""
    if leaves < 2 or proofs < 1:
        raise ValueError("the benchmark needs at least 2 leaves and 1 proof")
    rng = random.Random(seed)
    entries = [rng.randbytes(ENTRY_BYTES) for _ in range(leaves)]
    indices = [rng.randrange(leaves) for _ in range(proofs)]
    old_sizes = [rng.randrange(1, leaves) for _ in range(proofs)]
    clock = time.perf_counter

    store = MemoryHashStore()
    tree = MerkleTree(store)
    with frozen_heap():
        started = clock()
        append = tree.append
        for entry in entries:
            append(entry)
        append_s = clock() - started
        root = tree.root()

        prove = tree.inclusion_proof
        started = clock()
        inclusion = [prove(index) for index in indices]
        generate_s = clock() - started

        leaf_hashes = [leaf_hash(entries[index]) for index in indices]
        started = clock()
        verified = 0
        for index, leaf, proof in zip(indices, leaf_hashes, inclusion, strict=True):
            verified += verify_inclusion(leaf, index, leaves, proof, root)
        verify_s = clock() - started
        assert verified == proofs, "an inclusion proof failed to verify"

        prove_consistency = tree.consistency_proof
        started = clock()
        consistency = [prove_consistency(old_size) for old_size in old_sizes]
        consistency_generate_s = clock() - started

        old_roots = [tree.root(old_size) for old_size in old_sizes]
        started = clock()
        verified = 0
        for old_size, old_root, proof in zip(old_sizes, old_roots, consistency, strict=True):
            verified += verify_consistency(old_size, leaves, old_root, root, proof)
        consistency_verify_s = clock() - started
        assert verified == proofs, "a consistency proof failed to verify"

    levels = leaves.bit_length()
    stored_nodes = sum(store.count(level) for level in range(levels))
    result: dict[str, Any] = {
        "benchmark": "merkle",
        "leaves": leaves,
        "entry_bytes": ENTRY_BYTES,
        "proofs": proofs,
        "seed": seed,
        "root": root.hex(),
        "append_s": round(append_s, 3),
        "appends_per_s": round(leaves / append_s),
        "proofs_generated_per_s": round(proofs / generate_s),
        "proofs_verified_per_s": round(proofs / verify_s),
        "proof_hashes_mean": round(sum(map(len, inclusion)) / proofs, 2),
        "consistency_proofs_generated_per_s": round(proofs / consistency_generate_s),
        "consistency_proofs_verified_per_s": round(proofs / consistency_verify_s),
        "stored_nodes": stored_nodes,
        "stored_bytes": stored_nodes * HASH_SIZE,
        "gc": GC_NOTE,
    }
    result.update(_pymerkle_figures(entries, indices, tree))
    return result


def _pymerkle_figures(entries: list[bytes], indices: list[int], tree: MerkleTree) -> dict[str, Any]:
    """pymerkle's in-memory tree on the same entries and indices, beside ours."""
    try:
        pymerkle = importlib.import_module("pymerkle")
    except ImportError:
        return {
            "pymerkle_version": None,
            "pymerkle_append_s": None,
            "pymerkle_proofs_per_s": None,
            "pymerkle_roots_equal": None,
            "pymerkle_proofs_equal": None,
        }
    clock = time.perf_counter
    with frozen_heap():
        other = pymerkle.InmemoryTree(algorithm="sha256")
        started = clock()
        append = other.append_entry
        for entry in entries:
            append(entry)
        append_s = clock() - started

        prove = other.prove_inclusion  # leaf indices count from one
        started = clock()
        proofs = [prove(index + 1) for index in indices]
        generate_s = clock() - started

    count = len(entries)
    # The smallest trees, a third, all but one and all; a tree of 2 leaves has no third.
    sizes = sorted(size for size in {1, 2, 3, count // 3, count - 1, count} if 1 <= size <= count)
    roots_equal = all(other.get_root(size) == tree.root(size) for size in sizes)
    # pymerkle's path starts with the leaf's own hash; the rest is RFC 9162's PATH.
    checked = zip(indices[:PYMERKLE_CHECKED_PROOFS], proofs, strict=False)
    proofs_equal = all(proof.path[1:] == tree.inclusion_proof(index) for index, proof in checked)
    return {
        "pymerkle_version": pymerkle.__version__,
        "pymerkle_append_s": round(append_s, 3),
        "pymerkle_proofs_per_s": round(len(indices) / generate_s),
        "pymerkle_roots_equal": roots_equal,
        "pymerkle_proofs_equal": proofs_equal,
    }
