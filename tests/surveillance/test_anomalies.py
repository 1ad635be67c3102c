"""Venue anomalies: a divergent oracle source and a flood of refused orders are
found, once each, and the honest market raises neither."""

from __future__ import annotations

import random

from clearhouse.surveillance.agents.faults import BrokenClient, DivergentOracle
from clearhouse.surveillance.agents.honest import honest_population
from clearhouse.surveillance.evaluation import score, session_alerts
from clearhouse.surveillance.sessions import SECOND_NS, run_session

DETECTORS = ("oracle_spread", "reject_rate")


def faulty(rng: random.Random) -> list[object]:
    """The honest market with both faults, due in the session's second minute."""
    return [
        *honest_population(rng),
        DivergentOracle(rng, 1, at_s=(35, 45)),
        BrokenClient(rng, 1, at_s=(40, 60)),
    ]


def test_the_honest_market_raises_no_venue_anomaly() -> None:
    for seed in (11, 12):
        session = run_session(seed, honest_population, duration_ns=75 * SECOND_NS)
        alerts = [a for a in session_alerts(session) if a.detector in DETECTORS]
        assert alerts == []


def test_a_divergent_source_and_a_refusal_flood_are_each_found_once() -> None:
    session = run_session(21, faulty, duration_ns=100 * SECOND_NS)
    assert sorted(label.detector for label in session.labels) == list(DETECTORS)
    alerts = [a for a in session_alerts(session) if a.detector in DETECTORS]
    scores = score(session.labels, alerts, DETECTORS)
    for name in DETECTORS:
        assert (scores[name].found, scores[name].alerts, scores[name].true_alerts) == (1, 1, 1)
    spread = next(a for a in alerts if a.detector == "oracle_spread")
    assert "oracle-src-1" in spread.accounts and len(spread.evidence) >= 2
    flood = next(a for a in alerts if a.detector == "reject_rate")
    assert flood.accounts[0] == "broken-client-1" or "broken-client-1" in flood.accounts
    refused = {s.seq for s in session.steps if s.rejected is not None}
    assert set(flood.evidence) <= refused and len(flood.evidence) >= 10


def test_alerts_are_the_same_on_every_replay() -> None:
    session = run_session(22, faulty, duration_ns=100 * SECOND_NS)
    assert session_alerts(session) == session_alerts(session)
