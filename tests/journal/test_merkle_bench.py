"""The Merkle benchmark runs end to end on a small tree and agrees with pymerkle."""

from __future__ import annotations

import importlib.util

from clearhouse.bench.merkle_bench import run_merkle_bench


def test_a_small_run_reports_every_figure() -> None:
    result = run_merkle_bench(leaves=2_000, proofs=300, seed=3)
    assert result["benchmark"] == "merkle"
    assert result["leaves"] == 2_000
    assert result["stored_nodes"] == 2 * 2_000 - bin(2_000).count("1")
    for figure in (
        "appends_per_s",
        "proofs_generated_per_s",
        "proofs_verified_per_s",
        "consistency_proofs_generated_per_s",
        "consistency_proofs_verified_per_s",
    ):
        assert result[figure] > 0, figure
    assert result["proof_hashes_mean"] > 10
    assert len(bytes.fromhex(result["root"])) == 32
    if importlib.util.find_spec("pymerkle") is None:
        assert result["pymerkle_proofs_per_s"] is None
    else:
        assert result["pymerkle_proofs_per_s"] > 0
        assert result["pymerkle_roots_equal"] is True
        assert result["pymerkle_proofs_equal"] is True


def test_the_run_is_deterministic_in_its_seed() -> None:
    first = run_merkle_bench(leaves=100, proofs=10, seed=5)
    again = run_merkle_bench(leaves=100, proofs=10, seed=5)
    other = run_merkle_bench(leaves=100, proofs=10, seed=6)
    assert first["root"] == again["root"] != other["root"]


def test_the_smallest_tree_the_command_allows_is_benchmarked() -> None:
    """`bench journal --leaves` starts at 2: too few leaves for a third of the tree."""
    for leaves in (2, 3):
        result = run_merkle_bench(leaves=leaves, proofs=5, seed=1)
        assert result["leaves"] == leaves
        if importlib.util.find_spec("pymerkle") is not None:
            assert result["pymerkle_roots_equal"] is True
