"""`clearhouse serve` end to end: a real server on a loopback port, traded through
the Python client, stopped by SIGTERM and by SIGKILL, restarted on its journal."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from pathlib import Path

import pytest
from served import Server

from clearhouse.client import ApiReceipt, ReceiptMismatch, VenueClient, VenueError
from clearhouse.core import Deposit, OracleUpdate, PlaceOrder, Side, TimeInForce
from clearhouse.journal import JournalEntry
from clearhouse.journal.checkpoint import NoteVerifier
from clearhouse.journal.urls import open_store
from clearhouse.serve_cli import DEV_OPERATOR
from clearhouse.testing import CUSTODIAN, ORACLE, signer_for

USD = 10**6
TICK = 500_000
OPERATOR_KEY = NoteVerifier(DEV_OPERATOR, signer_for(DEV_OPERATOR).public_key()).verifier_string()
"""Known to the client beforehand, never taken from the venue it checks."""


def fund_and_mark(url: str) -> None:
    with VenueClient(url, signer_for(CUSTODIAN)) as custody:
        deposits = [Deposit(a, "USDC", 1_000_000 * USD) for a in ("alice", "bob", "maker-a")]
        assert all(r.accepted for r in custody.submit_many(deposits))
    with VenueClient(url, signer_for(ORACLE)) as oracle:
        update = OracleUpdate("BTC-USD", 100_000 * USD, time.time_ns())
        assert oracle.submit(update).accepted


def funded(serve: type[Server], data: Path) -> Server:
    """A served venue on `data`, its traders funded and BTC marked at 100,000."""
    server = serve(data)
    fund_and_mark(server.url)
    return server


def lift(url: str, account: str, size: int, price: int) -> ApiReceipt:
    """`account` buys `size` at up to `price`, what rests there and no more (IOC)."""
    with VenueClient(url, signer_for(account)) as taker:
        order = PlaceOrder(
            account, "BTC-PERP", Side.BUY, size, price=price, time_in_force=TimeInForce.IOC
        )
        return taker.submit(order)


def test_a_trade_through_the_client_is_durable_and_its_receipts_prove_offline(
    serve: type[Server],
) -> None:
    server = serve()
    fund_and_mark(server.url)
    with (
        VenueClient(server.url, signer_for("maker-a")) as maker,
        VenueClient(server.url, signer_for("alice")) as alice,
    ):
        ask = maker.submit(PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 100, price=100_000 * USD))
        assert ask.accepted, ask.error
        book = alice.book("BTC-PERP")
        assert book["asks"] == [[100_000 * USD, 100, 1]] and book["bids"] == []
        lift = PlaceOrder(
            "alice", "BTC-PERP", Side.BUY, 100, price=100_000 * USD, time_in_force=TimeInForce.IOC
        )
        fill = alice.submit(lift)
        assert fill.accepted and fill.seq == ask.seq + 1
        assert any(event["event"] == "trade_executed" for event in fill.events), fill.events
        position = alice.account("alice")["positions"]
        assert [(p["instrument"], p["size"]) for p in position] == [("BTC-PERP", 100)]
        checked = alice.verify_receipt(fill, OPERATOR_KEY)
        assert checked.entry.seq == fill.seq and checked.signature_valid
        # A refusal is journaled and proven like a fill; the receipt names its code.
        too_big = alice.submit(PlaceOrder("alice", "BTC-PERP", Side.BUY, 10**8, price=TICK))
        assert too_big.journaled and not too_big.accepted and too_big.error is not None
        alice.verify_receipt(too_big, OPERATOR_KEY)
        forged = ApiReceipt(**{**_fields(fill), "status": "rejected"})
        with pytest.raises(ReceiptMismatch, match="another outcome"):
            alice.verify_receipt(forged, OPERATOR_KEY)
        with pytest.raises(ReceiptMismatch, match="does not check"):
            alice.verify_receipt(fill, NoteVerifier("impostor", bytes(range(32))).verifier_string())


def _fields(receipt: ApiReceipt) -> dict[str, object]:
    return {name: getattr(receipt, name) for name in receipt.__struct_fields__}


def test_sigterm_drains_and_a_restart_recovers_the_same_state(
    serve: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "venue"
    server = funded(serve, data)
    with VenueClient(server.url, signer_for("bob")) as bob:
        resting = bob.submit(PlaceOrder("bob", "BTC-PERP", Side.BUY, 50, price=99_000 * USD))
        assert resting.accepted
        before = bob.account("bob")
        head = bob.venue()
    assert server.terminate() == 0
    assert f"stopped at seq {head['seq']:,}" in server.log()
    again = serve(data)
    with VenueClient(again.url, signer_for("bob")) as bob:
        assert bob.venue()["chain_head"] == head["chain_head"]
        assert bob.account("bob") == before
        # The nonce carries on from the journal: a restarted client signs afresh.
        assert bob.submit(PlaceOrder("bob", "BTC-PERP", Side.BUY, 1, price=98_000 * USD)).accepted


def test_a_kill_under_load_loses_no_acknowledged_order(serve: type[Server], tmp_path: Path) -> None:
    data = tmp_path / "venue"
    server = serve(data)
    fund_and_mark(server.url)
    acknowledged: list[ApiReceipt] = []
    stop = threading.Event()

    def trade(account: str) -> None:
        with VenueClient(server.url, signer_for(account), timeout=10) as client:
            price = 95_000 * USD
            while not stop.is_set():
                orders = [
                    PlaceOrder(account, "BTC-PERP", Side.BUY, 1, price=price - k * TICK)
                    for k in range(1, 6)
                ]
                try:
                    acknowledged.extend(client.submit_many(orders))
                except Exception:  # the server died under us: what came back counts
                    return

    traders = [threading.Thread(target=trade, args=(a,)) for a in ("alice", "bob")]
    for thread in traders:
        thread.start()
    while len(acknowledged) < 200:
        stop.wait(0.01)
    server.kill()
    stop.set()
    for thread in traders:
        thread.join()
    store = open_store(str(data / "journal.db"), read_only=True)
    entries: dict[int, JournalEntry] = {e.seq: e for e in store.read()}
    store.close()
    for receipt in acknowledged:
        entry = entries.get(receipt.seq)
        assert entry is not None and entry.tx == receipt.tx, f"lost acknowledged seq {receipt.seq}"
        assert entry.chain_head.hex() == receipt.chain_head
    again = serve(data)  # recovers from the journal the kill left
    with VenueClient(again.url) as reader:
        assert reader.venue()["seq"] >= max(r.seq for r in acknowledged)


def test_refusals_are_json_bodies_with_stable_codes(serve: type[Server]) -> None:
    server = serve()
    with VenueClient(server.url) as anonymous:
        with pytest.raises(VenueError) as unknown:
            anonymous.account("nobody")
        assert (unknown.value.status, unknown.value.code) == (404, 2002)
        with pytest.raises(VenueError) as route:
            anonymous._get("/api/v1/nothing-here")
        assert (route.value.status, route.value.name) == (404, "NOT_FOUND")
        with pytest.raises(VenueError) as levels:
            anonymous.book("BTC-PERP", levels=0)
        assert levels.value.name == "DEPTH_INVALID"
        http = anonymous._http
        garbage = http.post(
            "/api/v1/transactions", content=b"\xc1", headers={"content-type": "application/msgpack"}
        )
        assert garbage.status_code == 400 and garbage.json()["error"]["code"] == 1001
        text = http.post(
            "/api/v1/transactions", content=b"x", headers={"content-type": "text/plain"}
        )
        assert text.status_code == 415 and text.json()["error"]["name"] == "UNSUPPORTED_MEDIA_TYPE"
        spec = http.get("/schema/openapi.json").json()
        assert spec["openapi"].startswith("3.1") and "/api/v1/transactions" in spec["paths"]


def test_the_readme_client_example_trades_against_a_served_venue(serve: type[Server]) -> None:
    from test_readme import README, python_blocks

    (code,) = [block for block in python_blocks() if "VenueClient" in block]
    server = serve()
    fund_and_mark(server.url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace("http://127.0.0.1:8000", server.url), str(README), "exec"), {})
    seq, status = out.getvalue().split()
    assert int(seq) > 0 and status == "accepted"


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if sample == (f"{name}{{{wanted}}}" if labels else name):
            return float(value)
    return 0.0


def test_metrics_count_what_the_venue_did(serve: type[Server]) -> None:
    server = serve()
    fund_and_mark(server.url)
    with VenueClient(server.url, signer_for("alice")) as alice:
        alice.submit(PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=99_000 * USD))
        with pytest.raises(VenueError):
            alice.account("nobody")
        alice.submit(PlaceOrder("alice", "BTC-PERP", Side.BUY, 10**8, price=99_000 * USD))
        text = alice._http.get("/metrics").text
    # Four set-up transactions and alice's first order; her second is refused.
    assert _metric(text, "clearhouse_transactions_total", status="accepted") == 5
    assert _metric(text, "clearhouse_transactions_total", status="rejected") == 1
    assert _metric(text, "clearhouse_refusals_total", code="UNKNOWN_ACCOUNT") == 1
    assert _metric(text, "clearhouse_requests_total", handler="account", status="404") == 1
    assert _metric(text, "clearhouse_ack_seconds_count", api="rest") == 4
    assert _metric(text, "clearhouse_stage_seconds_count", stage="journal") >= 1
    assert _metric(text, "clearhouse_durable_seq") == 6
    # The book alice's bid rests in, and the venue's risk figures.
    assert _metric(text, "clearhouse_book_best_bid", instrument="BTC-PERP") == 99_000 * USD
    assert _metric(text, "clearhouse_book_depth_lots", instrument="BTC-PERP", side="bid") == 1
    assert "clearhouse_book_spread{" not in text  # no ask: no spread
    assert _metric(text, "clearhouse_insurance_fund") == 0
    assert _metric(text, "clearhouse_accounts_in_margin_call") == 0
    with VenueClient(server.url, signer_for("bob")) as bob:
        order = PlaceOrder(
            "bob", "BTC-PERP", Side.SELL, 1, price=99_000 * USD, time_in_force=TimeInForce.IOC
        )
        assert bob.submit(order).accepted
        after = bob._http.get("/metrics").text
    assert _metric(after, "clearhouse_trades_total", instrument="BTC-PERP") == 1
    assert "clearhouse_book_best_bid{" not in after  # the book is empty again
    by_code = [
        float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("clearhouse_rejections_total{")
    ]
    assert by_code == [1.0]
