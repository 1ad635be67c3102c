"""Surveillance: detectors of market abuse over the record's steps, alerts with
their evidence, and labelled sessions to measure the detectors on."""

from clearhouse.surveillance.alerts import Alert, Severity, make_alert
from clearhouse.surveillance.detector import Detector
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView, RestingOrder, Touch
from clearhouse.surveillance.runner import Surveillance
from clearhouse.surveillance.steps import Step, entry_step, journal_steps, step_of

__all__ = [
    "Alert",
    "Detector",
    "Links",
    "MarketView",
    "RestingOrder",
    "Severity",
    "Step",
    "Surveillance",
    "Touch",
    "entry_step",
    "journal_steps",
    "make_alert",
    "step_of",
]
