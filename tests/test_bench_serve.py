"""`clearhouse bench serve` runs end to end on a small flow: a served venue in its
own process, load generators in theirs, every order of each mode answered with a
durable receipt, and every key the service issue agreed on."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clearhouse.cli import app

KEYS = (
    "ws_orders_per_s",
    "rest_orders_per_s",
    "pipeline_orders_per_s",
    "p50_ms",
    "p99_ms",
    "p999_ms",
)


def test_bench_serve_answers_every_order_and_reports_the_agreed_keys() -> None:
    result = CliRunner().invoke(
        app,
        ["bench", "serve", "--json", "--orders", "400", "--clients", "1", "--connections", "1"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in KEYS:
        assert report[key] > 0, key
    for mode in ("ws", "rest"):
        assert report[f"{mode}_receipts"] == 400, mode  # both phases, every order
        assert report[f"{mode}_not_journaled"] == 0, mode
        assert report[f"{mode}_offered_per_s"] * 2 <= report[f"{mode}_orders_per_s"] + 1, mode
        assert report[f"{mode}_p50_ms"] <= report[f"{mode}_p99_ms"] <= report[f"{mode}_p999_ms"]
    assert report["ws_vs_pipeline"] == round(
        report["ws_orders_per_s"] / report["pipeline_orders_per_s"], 3
    )
