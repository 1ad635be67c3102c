"""Every detector on labelled sessions it was not tuned on: the honest population,
every module's hard negatives and every known manipulator in one market. The
suite's small version of `clearhouse surveil eval` (the issue's figures come from
`make surveil-eval`, docs/benchmarks.md)."""

from __future__ import annotations

import pytest

from clearhouse.surveillance.detectors import detector_classes
from clearhouse.surveillance.evaluation import DetectorScore, evaluate
from clearhouse.surveillance.sessions import SECOND_NS

SEEDS = range(5_000, 5_002)
"""Held out: the detectors were tuned on seeds 1-30."""
RECALL_MIN = 0.95
PRECISION_MIN = 0.90


@pytest.fixture(scope="module")
def scores() -> dict[str, DetectorScore]:
    return evaluate(SEEDS, duration_ns=600 * SECOND_NS)


SHORT_OF_TARGET = {
    "mark_manipulation": "precision 0.86 on these seeds: a quote stuffer's orders on the thin "
    "market are taken for a mark push (issue 13 open)",
}
"""Detectors known to miss a target on these seeds: strict, so the day one meets it
the test fails until it is taken off this list."""


@pytest.mark.parametrize(
    "detector",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=SHORT_OF_TARGET[name]))
        if name in SHORT_OF_TARGET
        else name
        for name in detector_classes()
    ],
)
def test_each_detector_finds_its_pattern_and_little_else(
    scores: dict[str, DetectorScore], detector: str
) -> None:
    score = scores[detector]
    assert score.labels >= 1, f"no {detector} episode in the sessions: nothing was measured"
    assert score.recall >= RECALL_MIN, (detector, [str(m) for m in score.missed])
    assert score.precision >= PRECISION_MIN, (detector, [a.summary for a in score.false_alerts])
