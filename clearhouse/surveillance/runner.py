"""`Surveillance`: the market view and the detectors over one stream of steps.

Steps must come in sequence order, each once; the alerts of a step come in
detector order. Fed live (the venue's commits) or from a finished journal, the
same steps give the same alerts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from clearhouse.core import Genesis
from clearhouse.surveillance.alerts import Alert
from clearhouse.surveillance.detector import Detector
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.steps import Step


class Surveillance:
    def __init__(
        self,
        genesis: Genesis,
        detectors: list[Detector] | None = None,
        links: Links | None = None,
    ) -> None:
        if detectors is None:
            from clearhouse.surveillance.detectors import all_detectors

            detectors = all_detectors()
        self.market = MarketView(genesis)
        self.detectors = detectors
        self.links = links if links is not None else Links()
        self.seq = 0
        """The last step observed."""

    def observe(self, step: Step) -> list[Alert]:
        if step.seq <= self.seq:
            raise ValueError(f"step {step.seq} after step {self.seq}: steps come in order")
        self.market.apply(step)
        self.seq = step.seq
        alerts: list[Alert] = []
        for detector in self.detectors:
            alerts.extend(detector.observe(step, self.market, self.links))
        return alerts

    def run(self, steps: Iterable[Step]) -> Iterator[Alert]:
        for step in steps:
            yield from self.observe(step)
