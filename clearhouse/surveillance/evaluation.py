"""Precision and recall of the detectors on labelled sessions.

An alert is true when a label of its detector shares an account with it and the
alert was raised within the label's episode (from its start to `GRACE_NS` after
its end: a detector may need to see the cancels that end a spoof). Per detector:
recall is the share of its labels that at least one alert found, precision the
share of its alerts that are true. A detector with no labels in the sessions has
recall 1 (nothing to find); one with no alerts has precision 1 (nothing wrong).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from clearhouse.surveillance.alerts import Alert
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.runner import Surveillance
from clearhouse.surveillance.sessions import SECOND_NS, Label, LabelledSession, run_session

GRACE_NS = 5 * SECOND_NS
SESSION_NS = 600 * SECOND_NS


def matches(alert: Alert, label: Label) -> bool:
    return (
        alert.detector == label.detector
        and bool(set(alert.accounts) & set(label.accounts))
        and label.start_ns <= alert.timestamp_ns <= label.end_ns + GRACE_NS
    )


@dataclass
class DetectorScore:
    detector: str
    labels: int = 0
    found: int = 0
    """Labels at least one alert matched."""
    alerts: int = 0
    true_alerts: int = 0
    missed: list[Label] = field(default_factory=list)
    false_alerts: list[Alert] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.labels if self.labels else 1.0

    @property
    def precision(self) -> float:
        return self.true_alerts / self.alerts if self.alerts else 1.0

    def add(self, other: DetectorScore) -> None:
        self.labels += other.labels
        self.found += other.found
        self.alerts += other.alerts
        self.true_alerts += other.true_alerts
        self.missed += other.missed
        self.false_alerts += other.false_alerts


def score(
    labels: list[Label], alerts: list[Alert], detectors: Iterable[str]
) -> dict[str, DetectorScore]:
    scores = {name: DetectorScore(name) for name in detectors}
    for label in labels:
        entry = scores.setdefault(label.detector, DetectorScore(label.detector))
        entry.labels += 1
        if any(matches(alert, label) for alert in alerts):
            entry.found += 1
        else:
            entry.missed.append(label)
    for alert in alerts:
        entry = scores.setdefault(alert.detector, DetectorScore(alert.detector))
        entry.alerts += 1
        if any(matches(alert, label) for label in labels):
            entry.true_alerts += 1
        else:
            entry.false_alerts.append(alert)
    return scores


def session_alerts(session: LabelledSession, links: Links | None = None) -> list[Alert]:
    surveillance = Surveillance(session.genesis, links=links)
    return list(surveillance.run(session.steps))


def evaluate_seed(
    seed: int, duration_ns: int = SESSION_NS, patterns: list[str] | None = None
) -> dict[str, DetectorScore]:
    """One labelled session of the standard population, scored."""
    from clearhouse.surveillance.agents import standard_population
    from clearhouse.surveillance.detectors import detector_classes

    session = run_session(
        seed, lambda rng: standard_population(rng, patterns), duration_ns=duration_ns
    )
    links = session_links(session)
    return score(session.labels, session_alerts(session, links), detector_classes())


def session_links(session: LabelledSession) -> Links:
    """The ownership links a venue would hold for the session's owners: owners whose
    names end in `-linked-N` form group N with the owner named without that end."""
    owners = {key.owner for key in session.genesis.keys}
    groups: dict[str, list[str]] = {}
    for owner in sorted(owners):
        base, marker, _ = owner.partition("-linked")
        if marker:
            groups.setdefault(base, [base]).append(owner)
    return Links(list(groups.values()))


def evaluate(
    seeds: Iterable[int], duration_ns: int = SESSION_NS, patterns: list[str] | None = None
) -> dict[str, DetectorScore]:
    total: dict[str, DetectorScore] = {}
    for seed in seeds:
        for name, entry in evaluate_seed(seed, duration_ns, patterns).items():
            total.setdefault(name, DetectorScore(name)).add(entry)
    return total
