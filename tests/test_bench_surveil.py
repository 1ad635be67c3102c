"""`clearhouse bench surveil --json`: every detector over the core's workload, with
the core's own rate measured in the same run."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from clearhouse.cli import app
from clearhouse.surveillance.detectors import detector_classes


def test_bench_surveil_reports_both_rates_from_one_run() -> None:
    result = CliRunner().invoke(
        app, ["bench", "surveil", "--orders", "3000", "--repeats", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["detectors"] == list(detector_classes())
    assert figures["core_tx_per_s"] > 0 and figures["steps_per_s"] > 0
    ratio = figures["steps_per_s"] / figures["core_tx_per_s"]
    assert abs(figures["ratio"] - ratio) <= 0.001 + ratio * 1e-3  # of the unrounded rates
    assert figures["events_per_s"] > figures["steps_per_s"]  # an order makes events
    low, high = figures["steps_per_s_min_max"]
    assert low <= figures["steps_per_s"] <= high
