"""What a detector is: a named, parameterised fold over steps that raises alerts.

A detector sees each step after the market view has folded it in (so the view is
the market as the step left it; `MarketView.touch_before` and `MarketView.done`
tell what the step changed). It keeps its own windows in sequencer time and
returns the alerts the step completes. It must be deterministic: no wall clock,
no randomness, no iteration over unordered sets into its output.
"""

from __future__ import annotations

from typing import Protocol

from clearhouse.surveillance.alerts import Alert
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.steps import Step


class Detector(Protocol):
    name: str

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        """The alerts this step raises (usually none)."""
        ...
