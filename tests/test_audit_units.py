"""One unit in what people read from `audit query` and `replay`: amounts and prices
in the settlement asset with separators; raw integers only in `--json`, whose
"units" object names their unit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearhouse.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "250"}


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("units") / "demo.db"
    result = runner.invoke(app, ["demo", "--journal", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_query_shows_amounts_in_usdc_and_prices_in_the_quote_currency(journal: Path) -> None:
    deposits = runner.invoke(
        app, ["audit", "query", "--journal", str(journal), "--type", "deposit"], env=WIDE
    )
    assert deposits.exit_code == 0, deposits.output
    assert "amount=2,000,000.00 USDC" in deposits.output
    assert "amount=3,000.00 USDC" in deposits.output
    assert "2000000000000" not in deposits.output
    orders = runner.invoke(
        app,
        [
            "audit",
            "query",
            "--journal",
            str(journal),
            "--type",
            "place_order",
            "--account",
            "trader",
        ],
        env=WIDE,
    )
    assert orders.exit_code == 0, orders.output
    assert "price=100,050.00" in orders.output
    # A refusal recorded by the core quotes its amounts the same way.
    assert "equity 49,871.9985 USDC less worst-case fee 246.50 USDC" in _flat(orders.output)


def test_query_json_keeps_raw_integers_and_names_their_unit(journal: Path) -> None:
    result = runner.invoke(
        app, ["audit", "query", "--journal", str(journal), "--type", "deposit", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows[0]["tx"]["payload"]["amount"] == 2_000_000 * 10**6
    assert rows[0]["units"]["asset"] == "USDC" and rows[0]["units"]["decimals"] == 6
    assert {"amounts", "prices", "sizes"} <= set(rows[0]["units"])


def test_replay_prints_balances_in_usdc_and_its_json_names_the_unit(
    journal: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["replay", "--journal", str(journal)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "accounts at seq 30 (USDC)" in result.output
    assert "2,002,286.2225" in result.output  # maker-a's cash, exactly
    assert "totals (USDC): cash " in result.output
    assert "insurance_fund 113.60" in result.output
    out = tmp_path / "state.json"
    exported = runner.invoke(app, ["replay", "--journal", str(journal), "--json", str(out)])
    assert exported.exit_code == 0, exported.output
    state = json.loads(out.read_text())
    assert state["units"]["asset"] == "USDC" and state["units"]["decimals"] == 6


def test_one_event_and_one_fill_read_in_the_singular(journal: Path) -> None:
    import sqlite3

    from clearhouse.audit import describe_outcome
    from clearhouse.core import Accepted, TradeExecuted
    from clearhouse.core.codec import decode_outcome

    result = runner.invoke(app, ["audit", "query", "--journal", str(journal)], env=WIDE)
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    assert "accepted: 2 events (1 fill) [" in shown
    assert "accepted: 3 events (2 fills) [" in shown
    assert "1 fills" not in shown
    db = sqlite3.connect(journal)
    outcomes = [decode_outcome(bytes(o)) for (o,) in db.execute("SELECT outcome FROM entries")]
    db.close()
    trade = next(
        event
        for outcome in outcomes
        if isinstance(outcome, Accepted)
        for event in outcome.events
        if isinstance(event, TradeExecuted)
    )
    assert describe_outcome(Accepted(1, [trade])) == "accepted: 1 event (1 fill) [trade_executed]"
