"""Deribit API v2 compatibility of a real server, read through ccxt's own `deribit`
class with only its base URL changed."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import ccxt
import httpx
import pytest
from served import Server
from test_serve import USD, fund_and_mark, funded, lift
from typer.testing import CliRunner

from clearhouse.cli import app
from clearhouse.client import VenueClient
from clearhouse.core import PlaceOrder, Side, TimeInForce
from clearhouse.service.api_clients import STORE_NAME, ApiClients
from clearhouse.testing import signer_for


def deribit(server: Server) -> ccxt.deribit:
    exchange = ccxt.deribit()
    exchange.urls["api"] = {"rest": server.url}
    return exchange


def test_ccxt_loads_markets_books_tickers_and_time(serve: type[Server]) -> None:
    server = serve()
    fund_and_mark(server.url)
    with VenueClient(server.url, signer_for("maker-a")) as maker:
        maker.submit_many(
            [
                PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 20, price=100_500 * USD),
                PlaceOrder("maker-a", "BTC-PERP", Side.BUY, 30, price=99_500 * USD),
            ]
        )
    with VenueClient(server.url, signer_for("alice")) as alice:
        alice.submit(
            PlaceOrder(
                "alice", "BTC-PERP", Side.BUY, 5, price=100_500 * USD, time_in_force=TimeInForce.IOC
            )
        )
    exchange = deribit(server)
    markets = exchange.load_markets()
    perp = markets["BTC/USDC:USDC"]
    assert perp["id"] == "BTC-PERP" and perp["swap"] and perp["linear"]
    assert perp["contractSize"] == 0.001 and perp["precision"]["price"] == 0.5
    option = next(m for m in markets.values() if m["option"])
    assert option["strike"] > 0 and option["optionType"] in ("call", "put")
    assert any(m["future"] for m in markets.values())
    book = exchange.fetch_order_book("BTC/USDC:USDC")
    assert book["bids"] == [[99_500.0, 0.03]] and book["asks"] == [[100_500.0, 0.015]]
    ticker = exchange.fetch_ticker("BTC/USDC:USDC")
    assert (ticker["bid"], ticker["ask"], ticker["last"]) == (99_500.0, 100_500.0, 100_500.0)
    assert ticker["markPrice"] > 0 and ticker["indexPrice"] == 100_000.0
    # The day's statistics, from the one trade so far.
    day = (ticker["high"], ticker["low"], ticker["baseVolume"])
    assert day == (100_500.0, 100_500.0, 0.005)
    assert ticker["info"]["stats"]["price_change"] == 0.0
    assert abs(exchange.fetch_time() - exchange.milliseconds()) < 60_000
    assert exchange.fetch_status()["status"] == "ok"


def test_deribit_errors_are_deribits_codes(serve: type[Server]) -> None:
    server = serve()
    exchange = deribit(server)
    with pytest.raises(ccxt.ExchangeError):
        exchange.publicGetTicker({"instrument_name": "NOPE-PERP"})
    answer = httpx.get(server.url + "/api/v2/public/ticker?instrument_name=NOPE").json()
    assert answer["jsonrpc"] == "2.0" and answer["error"]["code"] == 10020
    unknown = httpx.get(server.url + "/api/v2/public/no_such_method").json()
    assert unknown["error"]["code"] == -32601
    with_currency = httpx.get(server.url + "/api/v2/public/get_instruments?currency=ETH").json()
    assert with_currency["result"] and {i["base_currency"] for i in with_currency["result"]} == {
        "ETH"
    }


def test_the_readme_ccxt_example_trades_on_a_served_venue(serve: type[Server]) -> None:
    from test_readme import README, python_blocks

    (code,) = [block for block in python_blocks() if "ccxt.deribit" in block]
    server = serve()
    fund_and_mark(server.url)
    with VenueClient(server.url, signer_for("alice")) as alice:
        alice.submit(PlaceOrder("alice", "BTC-PERP", Side.BUY, 10, price=99_000 * USD))
    keys = add_api_client(server, "alice")
    names = {"CLIENT_ID": keys["client_id"], "CLIENT_SECRET": keys["client_secret"]}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        source = code.replace("http://127.0.0.1:8000", server.url)
        exec(compile(source, str(README), "exec"), names)
    book, result = out.getvalue().strip().splitlines()
    assert book == "[[99000.0, 0.01]]"
    status, total = result.split()
    assert status == "open" and float(total) == 1_000_000.0


def add_api_client(server: Server, account: str, *options: str) -> dict[str, Any]:
    return run_api_keys(server, "add", "--account", account, *options)


def run_api_keys(server: Server, *args: str) -> dict[str, Any]:
    """`clearhouse api-keys ARGS` against `server`, its JSON answer."""
    result = CliRunner().invoke(
        app, ["api-keys", *args, "--venue", server.url, "--data", str(server.data), "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_ccxt_reads_balance_and_positions_as_an_api_client(serve: type[Server]) -> None:
    server = serve()
    fund_and_mark(server.url)
    with VenueClient(server.url, signer_for("maker-a")) as maker:
        maker.submit(PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 20, price=100_000 * USD))
    lift(server.url, "alice", 20, 100_000 * USD)
    keys = add_api_client(server, "alice")
    exchange = deribit(server)
    exchange.apiKey, exchange.secret = keys["client_id"], keys["client_secret"]
    exchange.load_markets()
    balance = exchange.fetch_balance({"code": "USDC"})
    assert 999_000 < balance["USDC"]["total"] <= 1_000_000
    positions = exchange.fetch_positions()
    # Deribit sizes a linear position in the base currency: 20 contracts of 0.001 BTC.
    assert [(p["symbol"], p["side"], p["contracts"]) for p in positions] == [
        ("BTC/USDC:USDC", "long", 0.02)
    ]
    exchange.secret = "not-the-secret"
    with pytest.raises(ccxt.AuthenticationError):
        exchange.fetch_balance({"code": "USDC"})


def test_deribit_authentication_grants_and_refusals(serve: type[Server]) -> None:
    import hashlib
    import hmac
    import time

    server = serve()
    fund_and_mark(server.url)
    keys = add_api_client(server, "bob")
    base = server.url + "/api/v2"
    granted = httpx.get(
        base + "/public/auth",
        params={
            "grant_type": "client_credentials",
            "client_id": keys["client_id"],
            "client_secret": keys["client_secret"],
        },
    ).json()["result"]
    assert granted["token_type"] == "bearer" and granted["scope"] == "trade:read_write"
    bearer = {"Authorization": "Bearer " + granted["access_token"]}
    summary = httpx.get(base + "/private/get_account_summary?currency=USDC", headers=bearer)
    assert summary.json()["result"]["equity"] == 1_000_000.0
    refreshed = httpx.get(
        base + "/public/auth",
        params={"grant_type": "refresh_token", "refresh_token": granted["refresh_token"]},
    ).json()["result"]
    assert refreshed["access_token"] != granted["access_token"]
    again = httpx.get(
        base + "/public/auth",
        params={"grant_type": "refresh_token", "refresh_token": granted["refresh_token"]},
    ).json()
    assert again["error"]["code"] == 13004  # a refresh token serves once
    # A signed request, then the same signature sent again: the nonce is spent.
    stamp, nonce, uri = str(time.time_ns() // 10**6), "n-1", "/api/v2/private/get_positions"
    text = f"{stamp}\n{nonce}\nGET\n{uri}\n\n"
    signature = hmac.new(keys["client_secret"].encode(), text.encode(), hashlib.sha256).hexdigest()
    header = {
        "Authorization": f"deri-hmac-sha256 id={keys['client_id']},ts={stamp},sig={signature},nonce={nonce}"
    }
    assert httpx.get(server.url + uri, headers=header).json()["result"] == []
    replayed = httpx.get(server.url + uri, headers=header)
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == 13009
    stale = str(time.time_ns() // 10**6 - 120_000)
    old_text = f"{stale}\nn-2\nGET\n{uri}\n\n"
    old_sig = hmac.new(
        keys["client_secret"].encode(), old_text.encode(), hashlib.sha256
    ).hexdigest()
    old = {
        "Authorization": f"deri-hmac-sha256 id={keys['client_id']},ts={stale},sig={old_sig},nonce=n-2"
    }
    assert httpx.get(server.url + uri, headers=old).json()["error"]["code"] == 13009
    nobody = httpx.get(base + "/private/get_positions").json()
    assert nobody["error"]["code"] == 13009


def test_ccxt_places_fills_and_cancels_orders_as_an_api_client(serve: type[Server]) -> None:
    server = serve()
    fund_and_mark(server.url)
    with VenueClient(server.url, signer_for("maker-a")) as maker:
        maker.submit(PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 50, price=100_500 * USD))
    keys = add_api_client(server, "alice")
    exchange = deribit(server)
    exchange.apiKey, exchange.secret = keys["client_id"], keys["client_secret"]
    exchange.load_markets()
    symbol = "BTC/USDC:USDC"
    resting = exchange.create_order(symbol, "limit", "buy", 0.01, 99_000.0, {"post_only": True})
    assert resting["status"] == "open" and resting["amount"] == 0.01 and resting["price"] == 99_000
    with VenueClient(server.url) as reader:
        assert reader.book("BTC-PERP")["bids"] == [[99_000 * USD, 10, 1]]
    cancelled = exchange.cancel_order(resting["id"], symbol)
    assert cancelled["status"] == "canceled"
    filled = exchange.create_order(symbol, "market", "buy", 0.02)
    assert filled["status"] == "closed" and filled["filled"] == 0.02
    assert filled["average"] == 100_500.0 and len(filled["trades"]) == 1
    with pytest.raises(ccxt.InsufficientFunds):
        exchange.create_order(symbol, "limit", "buy", 1_000.0, 100_000.0)
    with pytest.raises(ccxt.InvalidOrder):  # not a whole tick (ccxt itself rounds prices)
        exchange.privateGetBuy({"instrument_name": "BTC-PERP", "amount": 0.01, "price": 99_000.3})
    with pytest.raises(ccxt.OrderNotFound):
        exchange.cancel_order("999999", symbol)
    # IOC takes what rests within its price, 0.03 of 0.05, and cancels the rest.
    ioc = exchange.create_order(symbol, "limit", "buy", 0.05, 100_500.0, {"timeInForce": "IOC"})
    assert (ioc["status"], ioc["filled"], ioc["timeInForce"]) == ("canceled", 0.03, "IOC")
    # Reduce-only (taking orders only, here): a sell against the long fills; a buy,
    # which would add to it, is refused.
    with VenueClient(server.url, signer_for("maker-a")) as maker:
        maker.submit(PlaceOrder("maker-a", "BTC-PERP", Side.BUY, 10, price=99_000 * USD))
    reducing = exchange.create_order(symbol, "market", "sell", 0.01, None, {"reduceOnly": True})
    assert (reducing["status"], reducing["filled"]) == ("closed", 0.01)
    assert reducing["info"]["reduce_only"] is True
    with pytest.raises(ccxt.ExchangeError, match="REDUCE_ONLY_WOULD_INCREASE"):
        exchange.create_order(symbol, "market", "buy", 0.01, None, {"reduceOnly": True})
    # Every one of those was signed by alice's sub-key and journaled as such.
    with VenueClient(server.url) as reader:
        assert reader.account("alice")["positions"][0]["size"] == 40


def test_ccxt_reads_open_orders_order_state_and_its_trades_across_a_restart(
    serve: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "venue"
    server = funded(serve, data)
    with VenueClient(server.url, signer_for("maker-a")) as maker:
        maker.submit(PlaceOrder("maker-a", "BTC-PERP", Side.BUY, 30, price=99_500 * USD))
    keys = add_api_client(server, "alice")
    symbol = "BTC/USDC:USDC"

    def connected(url: str) -> ccxt.deribit:
        exchange = ccxt.deribit({"apiKey": keys["client_id"], "secret": keys["client_secret"]})
        exchange.urls["api"] = {"rest": url}
        exchange.load_markets()
        return exchange

    exchange = connected(server.url)
    resting = exchange.create_order(symbol, "limit", "sell", 0.05, 100_500.0, {"label": "ask-1"})
    sold = exchange.create_order(symbol, "limit", "sell", 0.02, 99_500.0)  # fills the bid
    assert sold["status"] == "closed"
    server.terminate()
    again = serve(data)  # the ledger is folded from the record on start
    exchange = connected(again.url)
    open_orders = exchange.fetch_open_orders(symbol)
    assert [(o["id"], o["amount"], o["filled"], o["price"]) for o in open_orders] == [
        (resting["id"], 0.05, 0.0, 100_500.0)
    ]
    state = exchange.fetch_order(sold["id"], symbol)
    assert (state["status"], state["filled"], state["average"]) == ("closed", 0.02, 99_500.0)
    trades = exchange.fetch_my_trades(symbol)
    assert [(t["side"], t["amount"], t["price"], t["order"]) for t in trades] == [
        ("sell", 0.02, 99_500.0, sold["id"])
    ]
    assert abs(trades[0]["timestamp"] - exchange.milliseconds()) < 120_000
    edited = exchange.edit_order(resting["id"], symbol, "limit", "sell", 0.03, 101_000.0)
    assert (edited["amount"], edited["price"], edited["status"]) == (0.03, 101_000.0, "open")
    with VenueClient(again.url) as reader:
        assert reader.book("BTC-PERP")["asks"] == [[101_000 * USD, 30, 1]]
    exchange.cancel_all_orders(symbol)
    assert exchange.fetch_open_orders(symbol) == []
    with pytest.raises(ccxt.InvalidOrder):  # no longer open
        exchange.edit_order(resting["id"], symbol, "limit", "sell", 0.03, 101_500.0)


def test_rate_limits_allow_lists_and_revocation_refuse_with_deribits_codes(
    serve: type[Server],
) -> None:
    server = serve()
    fund_and_mark(server.url)
    # Five seconds' worth of requests in a burst, then too_many_requests.
    slow = add_api_client(server, "alice", "--requests-per-s", "1", "--orders-per-s", "1")
    exchange = deribit(server)
    exchange.apiKey, exchange.secret = slow["client_id"], slow["client_secret"]
    exchange.load_markets()
    with pytest.raises(ccxt.DDoSProtection):
        for _ in range(8):
            exchange.fetch_balance({"code": "USDC"})
    with pytest.raises(ccxt.DDoSProtection):
        for _ in range(8):
            exchange.cancel_all_orders("BTC/USDC:USDC")
    # A client bound to a network it does not connect from is refused, even with
    # the right secret; one bound to loopback is served.
    fenced = add_api_client(server, "bob", "--allow-ip", "10.0.0.0/8")
    outside = deribit(server)
    outside.apiKey, outside.secret = fenced["client_id"], fenced["client_secret"]
    with pytest.raises(ccxt.PermissionDenied):
        outside.fetch_balance({"code": "USDC"})
    local = add_api_client(server, "bob", "--allow-ip", "127.0.0.1", "--allow-ip", "::1")
    inside = deribit(server)
    inside.apiKey, inside.secret = local["client_id"], local["client_secret"]
    assert inside.fetch_balance({"code": "USDC"})["USDC"]["total"] == 1_000_000
    # Revoked: its token is refused at once, and its sub-key is void on the record.
    granted = httpx.get(
        server.url + "/api/v2/public/auth",
        params={
            "grant_type": "client_credentials",
            "client_id": local["client_id"],
            "client_secret": local["client_secret"],
        },
    ).json()["result"]
    bearer = {"Authorization": "Bearer " + granted["access_token"]}
    positions = server.url + "/api/v2/private/get_positions"
    assert httpx.get(positions, headers=bearer).json()["result"] == []
    store = ApiClients(server.data / STORE_NAME)
    sub_key = store.get(local["client_id"]).signer()  # type: ignore[union-attr]
    revoked = run_api_keys(server, "revoke", local["client_id"])
    after = httpx.get(positions, headers=bearer)
    assert after.status_code == 401 and after.json()["error"]["code"] == 13004
    with VenueClient(server.url, sub_key) as signed:
        refused = signed.submit(PlaceOrder("bob", "BTC-PERP", Side.BUY, 1, price=90_000 * USD))
    assert refused.error is not None and refused.error.name == "KEY_REVOKED", refused.error
    assert revoked["client_id"] == local["client_id"] and revoked["seq"] > 0
    again = CliRunner().invoke(
        app, ["api-keys", "revoke", local["client_id"], "--data", str(server.data)]
    )
    assert again.exit_code == 2 and "no API client" in again.output


def test_a_read_scope_cannot_trade_and_no_client_touches_anothers_orders(
    serve: type[Server],
) -> None:
    server = serve()
    fund_and_mark(server.url)
    with VenueClient(server.url, signer_for("bob")) as bob:
        placed = bob.submit(PlaceOrder("bob", "BTC-PERP", Side.BUY, 10, price=99_000 * USD))
    bobs_order = next(e["order_id"] for e in placed.events if e["event"] == "order_accepted")
    reader = add_api_client(server, "alice", "--scope", "account:read")
    exchange = deribit(server)
    exchange.apiKey, exchange.secret = reader["client_id"], reader["client_secret"]
    exchange.load_markets()
    assert exchange.fetch_balance({"code": "USDC"})["USDC"]["total"] == 1_000_000
    with pytest.raises(ccxt.PermissionDenied):
        exchange.create_order("BTC/USDC:USDC", "limit", "buy", 0.01, 99_000.0)
    trader = add_api_client(server, "alice")
    exchange.apiKey, exchange.secret = trader["client_id"], trader["client_secret"]
    with pytest.raises(ccxt.OrderNotFound):
        exchange.fetch_order(str(bobs_order), "BTC/USDC:USDC")
    with pytest.raises(ccxt.ExchangeError):  # bob's order is not alice's to cancel
        exchange.cancel_order(str(bobs_order), "BTC/USDC:USDC")
    with VenueClient(server.url) as venue_reader:
        assert venue_reader.book("BTC-PERP")["bids"] == [[99_000 * USD, 10, 1]]
