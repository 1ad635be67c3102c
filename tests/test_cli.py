"""The `clearhouse` command as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearhouse.cli import app

runner = CliRunner()


def test_demo_trades_refuses_the_oversized_order_and_prints_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo keeps its journal in the working folder
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "INSUFFICIENT_MARGIN" in result.output
    assert "fills" in result.output
    assert "state digest" in result.output
    digest_line = next(
        line for line in result.output.splitlines() if line.startswith("state digest")
    )
    assert len(digest_line.split()[-1]) == 64


def test_bench_core_prints_one_json_object_with_the_agreed_keys() -> None:
    result = runner.invoke(app, ["bench", "core", "--orders", "3000", "--seed", "7", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ("tx_per_s", "p50_us", "p99_us", "max_us", "fills", "rejects", "digest"):
        assert key in report
    assert report["orders"] == 3000
    assert report["fills"] > 0
    assert report["p50_us"] <= report["p99_us"] <= report["max_us"]


def test_bench_core_is_reproducible_for_a_seed() -> None:
    first = json.loads(runner.invoke(app, ["bench", "core", "--orders", "2000", "--json"]).output)
    second = json.loads(runner.invoke(app, ["bench", "core", "--orders", "2000", "--json"]).output)
    assert first["digest"] == second["digest"]
    assert first["chain_head"] == second["chain_head"]
