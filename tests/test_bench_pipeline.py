"""`clearhouse bench pipeline` runs end to end on a small flow and reports every key
the durable-path issue agreed on, each figure consistent with the others."""

from __future__ import annotations

import json

import pytest
from test_bench_journal import postgres_url
from typer.testing import CliRunner

from clearhouse.bench.pipeline_bench import run_pipeline_bench
from clearhouse.cli import app

KEYS = (
    "verify_pool_per_s",
    "durable_orders_per_s",
    "durable_orders_per_s_postgres",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "offered_per_s",
    "journal_vs_raw_sqlite",
)


@pytest.mark.parametrize("verifier", ["processes", "threads"])
def test_bench_pipeline_reports_every_agreed_key(verifier: str) -> None:
    url = postgres_url()
    result = run_pipeline_bench(
        orders=400, workers=2, repeat=2, postgres_url=url, verifier=verifier
    )
    assert result["verifier"] == verifier
    for key in KEYS:
        if key == "durable_orders_per_s_postgres" and url is None:
            assert result[key] is None and result["postgres_skipped"]
            continue
        assert result[key] > 0, key
    runs = result["durable_orders_per_s_runs"]
    assert runs["min"] <= result["durable_orders_per_s"] == runs["median"] <= runs["max"]
    assert result["offered_per_s"] == round(result["durable_orders_per_s"] / 2)
    assert result["p50_ms"] <= result["p99_ms"] <= result["p999_ms"] <= result["max_ms"]
    assert result["durable_vs_verify_pool"] == round(
        result["durable_orders_per_s"] / result["verify_pool_per_s"], 3
    )


def test_the_command_prints_one_json_object() -> None:
    args = ["bench", "pipeline", "--orders", "200", "--repeat", "1", "--postgres", "", "--json"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["orders"] == 200 and result["durable_orders_per_s_postgres"] is None
    assert "PostgreSQL skipped" in done.stderr
