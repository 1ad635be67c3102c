"""An alert: what a detector saw, who did it, and the sequence numbers that show it.

Alerts are values of the record: a detector raises one at a step, its id is the
detector's name and that step's sequence number, and everything in it is read off
steps, so replaying the journal raises the same alerts, byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

import msgspec


class Severity(Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


SEVERITY_RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2}


class Alert(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    """`{detector}/{seq}`: unique, as a detector raises at most one alert a step."""
    detector: str
    severity: Severity
    score: int
    """0-100: how strongly the evidence fits the pattern."""
    accounts: tuple[str, ...]
    instruments: tuple[str, ...]
    evidence: tuple[int, ...]
    """Sequence numbers of the steps the alert cites, ascending."""
    seq: int
    """The step at which the detector raised it."""
    timestamp_ns: int
    """That step's sequencer time."""
    summary: str


def make_alert(
    detector: str,
    seq: int,
    timestamp_ns: int,
    *,
    score: int,
    accounts: Iterable[str],
    instruments: Iterable[str],
    evidence: Iterable[int],
    summary: str,
    severity: Severity | None = None,
) -> Alert:
    """An alert with sorted, de-duplicated sets; severity from the score unless given."""
    score = max(0, min(100, score))
    if severity is None:
        severity = (
            Severity.HIGH if score >= 80 else Severity.MEDIUM if score >= 50 else Severity.LOW
        )
    return Alert(
        id=f"{detector}/{seq}",
        detector=detector,
        severity=severity,
        score=score,
        accounts=tuple(sorted(set(accounts))),
        instruments=tuple(sorted(set(instruments))),
        evidence=tuple(sorted(set(evidence))),
        seq=seq,
        timestamp_ns=timestamp_ns,
        summary=summary,
    )


alert_encoder = msgspec.json.Encoder()
alert_decoder = msgspec.json.Decoder(Alert)
