"""Surveillance beside a served venue: a wash trade made through the API is
alerted on `/api/v1/alerts` and on `/metrics` (and on the dashboard:
test_dashboard.py), answered by the surveillance key's kill switch, and shown only
to the venue's own host."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
from served import Server
from test_serve import USD, _metric

from clearhouse.client import VenueClient
from clearhouse.core import Deposit, ErrorCode, OracleUpdate, PlaceOrder, Side, TimeInForce
from clearhouse.testing import CUSTODIAN, ORACLE, signer_for

ALERT_WAIT_S = 20.0


def wash(url: str, crosses: int = 3) -> None:
    """alice's two accounts cross each other, each cross arranged: one rests an order
    and the other takes exactly it at once."""
    with VenueClient(url, signer_for(CUSTODIAN)) as custody:
        for account in ("alice", "alice:desk-2"):
            assert custody.submit(Deposit(account, "USDC", 1_000_000 * USD)).accepted
    with VenueClient(url, signer_for(ORACLE)) as oracle:
        assert oracle.submit(OracleUpdate("BTC-USD", 100_000 * USD, time.time_ns())).accepted
    with VenueClient(url, signer_for("alice")) as alice:
        for number in range(crosses):
            maker, taker = ("alice", "alice:desk-2") if number % 2 else ("alice:desk-2", "alice")
            side = Side.SELL if number % 2 == 0 else Side.BUY
            price = 100_000 * USD
            assert alice.submit(PlaceOrder(maker, "BTC-PERP", side, 5, price=price)).accepted
            taking = PlaceOrder(
                taker,
                "BTC-PERP",
                Side.BUY if side is Side.SELL else Side.SELL,
                5,
                price=price,
                time_in_force=TimeInForce.IOC,
            )
            assert len(alice.submit(taking).events) >= 2


def alerts(url: str, detector: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + ALERT_WAIT_S
    while time.monotonic() < deadline:
        found = [
            a
            for a in httpx.get(url + "/api/v1/alerts").json()["alerts"]
            if a["detector"] == detector
        ]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {detector} alert within {ALERT_WAIT_S} s")


def test_a_wash_trade_is_alerted_and_answered_by_a_kill_switch(
    serve: type[Server], tmp_path: Path
) -> None:
    rules = tmp_path / "responses.json"
    rules.write_text(
        '{"responses": [{"detector": "wash_trading", "action": "kill_switch", "severity": "low"}]}'
    )
    server = serve(tmp_path / "venue", "--respond", str(rules), surveillance=True)
    wash(server.url)
    (alert,) = alerts(server.url, "wash_trading")
    assert alert["accounts"] == ["alice", "alice:desk-2"] and alert["instruments"] == ["BTC-PERP"]
    text = httpx.get(server.url + "/metrics").text
    assert _metric(text, "clearhouse_alerts", detector="wash_trading") == 1
    # The response: surveillance's kill switch, journaled, held until a risk officer.
    deadline = time.monotonic() + ALERT_WAIT_S
    with VenueClient(server.url, signer_for("alice")) as alice:
        while True:
            refused = alice.submit(PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=90_000 * USD))
            if refused.error is not None and refused.error.code == ErrorCode.ACCOUNT_KILLED:
                break
            assert time.monotonic() < deadline, "no kill switch within the wait"
            time.sleep(0.2)
    assert "KillSwitch alice for wash_trading/" in server.log()


def test_alerts_are_answered_to_the_venues_own_host_only(
    serve: type[Server], tmp_path: Path
) -> None:
    outside = _outside_address()
    server = serve(tmp_path / "venue", "--host", "0.0.0.0")
    port = server.url.rpartition(":")[2]
    answer = httpx.get(f"http://{outside}:{port}/api/v1/alerts")
    assert answer.status_code == 403 and answer.json()["error"]["name"] == "FORBIDDEN"
    local = httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts").json()
    assert local == {"surveillance": False, "alerts": [], "counts": {}}
    # The rest of the API is for everyone.
    assert httpx.get(f"http://{outside}:{port}/api/v1/venue").status_code == 200


def _outside_address() -> str:
    """This machine's address on its first non-loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # no packet is sent: it picks a route
        address: str = probe.getsockname()[0]
    assert not address.startswith("127."), "no non-loopback IPv4 address on this machine"
    return address
