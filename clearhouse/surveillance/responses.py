"""Automatic responses: an alert answered by a signed control transaction.

A responses file says, per detector and severity, what surveillance does about
an alert, as JSON:

    {"responses": [
        {"detector": "spoofing", "severity": "high", "action": "kill_switch"},
        {"detector": "mark_manipulation", "severity": "medium", "action": "halt_market"}
    ]}

`severity` is the least severity answered (low, medium or high). Actions:

    kill_switch    KillSwitch on each account the alert names: its orders are
                   cancelled and new ones refused until a risk officer releases it
    halt_market    HaltMarket on each instrument the alert names, until a risk
                   officer resumes it

Each is a transaction signed by the surveillance key (Role.SURVEILLANCE) and
journaled like any order, so the response is audited with the alert it answers.
Only alerts raised live are answered: `clearhouse surveil --follow` reads the
record from its start to rebuild the market, and answers only alerts raised after
`--live-after-seq` (by default the record's length when it starts; `clearhouse
serve` gives the seq it started at): what came before was answered, or not, when
it was raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from clearhouse.auth.signing import Signer
from clearhouse.core import HaltMarket, KillSwitch, Payload
from clearhouse.surveillance.alerts import SEVERITY_RANK, Alert, Severity


class ResponseRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    detector: str
    action: Literal["kill_switch", "halt_market"]
    severity: Severity = Severity.HIGH


class _ResponsesFile(msgspec.Struct, forbid_unknown_fields=True):
    responses: list[ResponseRule]


def read_rules(path: Path, detectors: list[str]) -> list[ResponseRule]:
    """The rules of a responses file; ValueError naming what is wrong with it."""
    try:
        rules = msgspec.json.decode(path.read_bytes(), type=_ResponsesFile).responses
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"{path}: not a responses file: {exc}") from None
    unknown = sorted({r.detector for r in rules} - set(detectors))
    if unknown:
        raise ValueError(f"{path}: unknown detector {', '.join(unknown)}")
    return rules


def responses_to(alert: Alert, rules: list[ResponseRule], accounts: set[str]) -> list[Payload]:
    """The control transactions `rules` answer `alert` with, once each; only the
    `accounts` the venue holds are switched off (an alert may name an oracle
    source, which holds no account)."""
    payloads: list[Payload] = []
    for rule in rules:
        if rule.detector != alert.detector:
            continue
        if SEVERITY_RANK[alert.severity] < SEVERITY_RANK[rule.severity]:
            continue
        if rule.action == "kill_switch":
            payloads += [KillSwitch(a) for a in alert.accounts if a in accounts]
        else:
            payloads += [HaltMarket(instrument=i) for i in alert.instruments]
    unique: list[Payload] = []
    for payload in payloads:
        if payload not in unique:
            unique.append(payload)
    return unique


class Responder:
    """Sends the responses of live alerts to the venue, signed by the surveillance
    key; a refusal or an unreachable venue is reported, never raised (surveillance
    goes on)."""

    def __init__(self, venue: str, signer: Signer, rules: list[ResponseRule]) -> None:
        from clearhouse.client import VenueClient

        self.rules = rules
        self._client = VenueClient(venue, signer)

    def answer(self, alert: Alert, accounts: set[str]) -> list[str]:
        """Respond to `alert`; one line per transaction sent, saying what became of it."""
        import httpx

        from clearhouse.client import VenueError

        lines = []
        for payload in responses_to(alert, self.rules, accounts):
            what = f"{type(payload).__name__} {describe(payload)} for {alert.id}"
            try:
                receipt = self._client.submit(payload)
            except (VenueError, httpx.HTTPError, OSError) as exc:
                lines.append(f"response not sent: {what}: {exc}")
                continue
            if receipt.accepted:
                lines.append(f"response at seq {receipt.seq:,}: {what}")
            else:
                error = receipt.error
                reason = f"{error.name}: {error.message}" if error else receipt.status
                lines.append(f"response refused at seq {receipt.seq:,}: {what}: {reason}")
        return lines

    def close(self) -> None:
        self._client.close()


def describe(payload: Payload) -> str:
    if isinstance(payload, KillSwitch):
        return payload.account
    if isinstance(payload, HaltMarket):
        return payload.instrument or payload.index
    return ""
