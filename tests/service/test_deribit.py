"""Deribit API v2 compatibility of a real server, read through ccxt's own `deribit`
class with only its base URL changed."""

from __future__ import annotations

import contextlib
import io

import ccxt
import httpx
import pytest
from served import Server
from test_serve import USD, fund_and_mark

from clearhouse.client import VenueClient
from clearhouse.core import PlaceOrder, Side, TimeInForce
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


def test_the_readme_ccxt_example_reads_a_served_venue(serve: type[Server]) -> None:
    from test_readme import README, python_blocks

    (code,) = [block for block in python_blocks() if "ccxt.deribit" in block]
    server = serve()
    fund_and_mark(server.url)
    with VenueClient(server.url, signer_for("alice")) as alice:
        alice.submit(PlaceOrder("alice", "BTC-PERP", Side.BUY, 10, price=99_000 * USD))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.replace("http://127.0.0.1:8000", server.url), str(README), "exec"), {})
    assert out.getvalue().strip() == "[[99000.0, 0.01]]"
