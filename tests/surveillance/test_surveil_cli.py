"""`clearhouse surveil` over a journal: the alerts found live are those found over
the finished journal, kept once in its store however often it is surveilled, and
`explain` shows the book at each sequence number an alert cites."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearhouse.cli import app
from clearhouse.surveillance.agents.faults import BrokenClient, DivergentOracle
from clearhouse.surveillance.agents.honest import honest_population
from clearhouse.surveillance.alerts import alert_decoder
from clearhouse.surveillance.evaluation import session_alerts
from clearhouse.surveillance.sessions import SECOND_NS, LabelledSession, run_session, write_journal
from clearhouse.surveillance.store import open_alert_store

runner = CliRunner()


def faulty(rng: random.Random) -> list[object]:
    return [
        *honest_population(rng),
        DivergentOracle(rng, 1, at_s=(35, 45)),
        BrokenClient(rng, 1, at_s=(40, 60)),
    ]


@pytest.fixture(scope="module")
def journaled(tmp_path_factory: pytest.TempPathFactory) -> tuple[LabelledSession, str]:
    session = run_session(31, faulty, duration_ns=90 * SECOND_NS)
    url = f"sqlite:///{tmp_path_factory.mktemp('surveil') / 'journal.db'}"
    write_journal(session, url)
    return session, url


def surveil(*args: str) -> dict[str, object]:
    result = runner.invoke(app, ["surveil", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_the_journal_gives_the_alerts_found_live_and_keeps_them_once(
    journaled: tuple[LabelledSession, str],
) -> None:
    session, url = journaled
    live = [a for a in session_alerts(session) if a.detector in ("oracle_spread", "reject_rate")]
    assert {a.detector for a in live} == {"oracle_spread", "reject_rate"}
    first = surveil("--journal", url, "--detector", "oracle_spread", "--detector", "reject_rate")
    assert [alert_decoder.decode(json.dumps(a)) for a in first["alerts"]] == live  # type: ignore[attr-defined]
    assert first["last_seq"] == len(session.steps)
    surveil("--journal", url, "--detector", "oracle_spread", "--detector", "reject_rate")
    store = open_alert_store(url)
    try:
        assert store.alerts() == live
        assert store.counts() == {"oracle_spread": 1, "reject_rate": 1}
    finally:
        store.close()


def test_the_table_and_the_json_lines_sink(
    journaled: tuple[LabelledSession, str], tmp_path: Path
) -> None:
    _, url = journaled
    lines = tmp_path / "alerts.jsonl"
    result = runner.invoke(
        app,
        [
            "surveil",
            "--journal",
            url,
            "--detector",
            "reject_rate",
            "--no-store",
            "--jsonl",
            str(lines),
        ],
    )
    assert result.exit_code == 0, result.output
    (line,) = lines.read_text().splitlines()
    alert = alert_decoder.decode(line)
    assert alert.id in result.output and "1 alerts in" in result.output
    assert "broken-client-1" in result.output


def test_explain_shows_each_cited_transaction_and_the_book_after_it(
    journaled: tuple[LabelledSession, str],
) -> None:
    session, url = journaled
    alert = next(a for a in session_alerts(session) if a.detector == "reject_rate")
    shown = surveil("explain", alert.id, "--journal", url, "--levels", "3")
    evidence = shown["evidence"]
    assert [item["seq"] for item in evidence] == list(alert.evidence)  # type: ignore[union-attr]
    first = evidence[0]  # type: ignore[index]
    assert "broken-client-1 places" in first["what"] and "rejected" in first["what"]
    book = first["books"][alert.instruments[0]]
    assert len(book["bids"]) == len(book["asks"]) == 3
    assert book["bids"][0]["price"] > 0 and book["bids"][0]["price"] < book["asks"][0]["price"]
    text = runner.invoke(app, ["surveil", "explain", alert.id, "--journal", url])
    assert text.exit_code == 0 and f"seq {alert.evidence[0]:,}" in text.output


def test_bad_input_is_one_line_and_changes_nothing(
    journaled: tuple[LabelledSession, str], tmp_path: Path
) -> None:
    _, url = journaled
    bad_links = tmp_path / "links.json"
    bad_links.write_text('{"groups": "x"}')
    cases = [
        (["surveil"], "--journal URL is required"),
        (["surveil", "--journal", str(tmp_path / "none.db")], "no journal"),
        (["surveil", "--journal", url, "--detector", "nope"], "unknown detector"),
        (["surveil", "--journal", url, "--links", str(bad_links)], "--links"),
        (["surveil", "--journal", url, "--webhook", "ftp://x"], "--webhook"),
        (["surveil", "explain", "nope/1", "--journal", url], "ALERT"),
        (["surveil", "explain", "reject_rate/1", "--journal", url], "no alert reject_rate/1"),
    ]
    for args, expected in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, result.output)
