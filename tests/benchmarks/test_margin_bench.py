"""A small run of `clearhouse bench margin`: the figures it prints, and that the
state it measures is the one a full recomputation gives."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clearhouse.cli import app

runner = CliRunner()


def run(accounts: int, seed: int = 7) -> dict[str, object]:
    result = runner.invoke(
        app, ["bench", "margin", "--accounts", str(accounts), "--seed", str(seed), "--json"]
    )
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.output)
    return report


def test_bench_margin_remargins_every_account_after_one_oracle_update() -> None:
    report = run(500)
    for key in ("accounts_per_s", "seconds_100k", "risk_array_seconds", "build", "digest"):
        assert key in report, key
    # Every account holds options on the index, so every one is re-margined, once.
    assert report["accounts"] == 500
    assert report["instruments"] == 200
    assert report["scenarios"] == 16
    assert report["build"] in ("compiled", "pure")
    assert report["seconds_100k_extrapolated"] is True
    # Arrays are computed for held instruments only: never for the perpetual, which
    # nobody holds here, and not for an option no pair happened to trade.
    arrays = report["arrays_computed"]
    assert isinstance(arrays, int) and 150 <= arrays <= 200
    accounts_per_s = report["accounts_per_s"]
    assert isinstance(accounts_per_s, int) and accounts_per_s > 0


def test_bench_margin_builds_the_same_state_for_a_seed() -> None:
    assert run(200)["digest"] == run(200)["digest"]
    assert run(200, seed=8)["digest"] != run(200)["digest"]
