"""Automatic responses: which alerts a responses file answers, and with what."""

from __future__ import annotations

from pathlib import Path

import pytest

from clearhouse.core import HaltMarket, KillSwitch
from clearhouse.surveillance.alerts import Alert, Severity, make_alert
from clearhouse.surveillance.responses import ResponseRule, read_rules, responses_to


def alert(detector: str, score: int, accounts: tuple[str, ...]) -> Alert:
    return make_alert(
        detector,
        10,
        1,
        score=score,
        accounts=accounts,
        instruments=("BTC-PERP", "ETH-PERP"),
        evidence=(9, 10),
        summary="",
    )


def test_rules_answer_by_detector_and_least_severity() -> None:
    rules = [
        ResponseRule("spoofing", "kill_switch", Severity.HIGH),
        ResponseRule("oracle_spread", "halt_market", Severity.MEDIUM),
    ]
    accounts = {"alice", "bob"}
    high = alert("spoofing", 90, ("alice", "ghost"))
    assert responses_to(high, rules, accounts) == [KillSwitch("alice")]
    medium = alert("spoofing", 60, ("alice",))
    assert responses_to(medium, rules, accounts) == []
    spread = alert("oracle_spread", 60, ("oracle", "oracle-b"))
    assert responses_to(spread, rules, accounts) == [
        HaltMarket(instrument="BTC-PERP"),
        HaltMarket(instrument="ETH-PERP"),
    ]
    assert responses_to(alert("wash_trading", 99, ("bob",)), rules, accounts) == []


def test_a_responses_file_is_checked_before_anything_runs(tmp_path: Path) -> None:
    good = tmp_path / "responses.json"
    good.write_text(
        '{"responses": [{"detector": "reject_rate", "action": "kill_switch", "severity": "low"}]}'
    )
    assert read_rules(good, ["reject_rate"]) == [
        ResponseRule("reject_rate", "kill_switch", Severity.LOW)
    ]
    for text, problem in (
        ('{"responses": [{"detector": "nope", "action": "kill_switch"}]}', "unknown detector nope"),
        ('{"responses": [{"detector": "reject_rate", "action": "ban"}]}', "not a responses file"),
        ("[1, 2", "not a responses file"),
    ):
        good.write_text(text)
        with pytest.raises(ValueError, match=problem):
            read_rules(good, ["reject_rate"])
    with pytest.raises(ValueError, match="No such file"):
        read_rules(tmp_path / "missing.json", ["reject_rate"])
