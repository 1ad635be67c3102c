"""Deribit's JSON-RPC over WebSocket on a real server: ccxt.pro's `deribit` class
watching books, trades and orders with only its URLs changed, and the protocol
itself (auth on the connection, private calls, subscriptions, heartbeats, logout)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import ccxt
import ccxt.pro
import httpx
import pytest
import websockets
from served import Server
from test_deribit import add_api_client
from test_serve import USD, fund_and_mark

from clearhouse.client import VenueClient
from clearhouse.core import CancelOrder, PlaceOrder, Side
from clearhouse.testing import signer_for

SYMBOL = "BTC/USDC:USDC"
WAIT_S = 10.0


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/ws/api/v2"


def pro(server: Server, keys: dict[str, str] | None = None) -> ccxt.pro.deribit:
    exchange = ccxt.pro.deribit()
    exchange.urls["api"] = {"rest": server.url, "ws": ws_url(server)}
    if keys is not None:
        exchange.apiKey, exchange.secret = keys["client_id"], keys["client_secret"]
    return exchange


def place(server: Server, account: str, *orders: PlaceOrder) -> list[int]:
    with VenueClient(server.url, signer_for(account)) as client:
        receipts = client.submit_many(list(orders))
    assert all(r.accepted for r in receipts)
    return [e["order_id"] for r in receipts for e in r.events if e["event"] == "order_accepted"]


def levels(side: list[list[float]]) -> list[list[float]]:
    """A side of ccxt's counted book as [price, amount] pairs."""
    return [level[:2] for level in side]


async def until(watch: Any, done: Any) -> Any:
    """Watch until `done(result)`, within WAIT_S."""
    async with asyncio.timeout(WAIT_S):
        while True:
            result = await watch()
            if done(result):
                return result


async def book_until(exchange: ccxt.pro.deribit, done: Any) -> Any:
    """The book ccxt keeps, once `done(book)`, within WAIT_S. ccxt resolves a watch
    only for updates that arrive while one waits, so the kept book is looked at
    between waits too."""
    waiting: asyncio.Task[Any] | None = None
    async with asyncio.timeout(WAIT_S):
        while True:
            book = exchange.orderbooks.get(SYMBOL)
            if book is not None and done(book):
                return book
            if waiting is None or waiting.done():
                waiting = asyncio.create_task(exchange.watch_order_book(SYMBOL))
            await asyncio.wait({waiting}, timeout=0.1)


def test_ccxt_pro_keeps_a_book_equal_to_the_venues_as_orders_come_and_go(
    serve: type[Server],
) -> None:
    server = serve()
    fund_and_mark(server.url)
    place(server, "maker-a", PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 20, price=100_500 * USD))

    async def run() -> None:
        exchange = pro(server)
        try:
            await exchange.load_markets()
            book = await exchange.watch_order_book(SYMBOL)
            assert levels(book["asks"]) == [[100_500.0, 0.02]] and book["bids"] == []
            ids = await asyncio.to_thread(
                place,
                server,
                "maker-a",
                PlaceOrder("maker-a", "BTC-PERP", Side.BUY, 30, price=99_500 * USD),
                PlaceOrder("maker-a", "BTC-PERP", Side.BUY, 10, price=99_000 * USD),
                PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 5, price=100_500 * USD),
            )
            await book_until(exchange, lambda b: len(b["bids"]) == 2)
            await asyncio.to_thread(
                place,
                server,
                "alice",
                PlaceOrder("alice", "BTC-PERP", Side.SELL, 30, price=99_500 * USD),
            )
            with VenueClient(server.url, signer_for("maker-a")) as maker:
                assert (
                    await asyncio.to_thread(maker.submit, CancelOrder("maker-a", ids[1]))
                ).accepted
            book = await book_until(exchange, lambda b: len(b["bids"]) == 0)
            rest = await exchange.fetch_order_book(SYMBOL)
            assert levels(book["asks"]) == rest["asks"] == [[100_500.0, 0.025]]
            assert levels(book["bids"]) == rest["bids"] == []
        finally:
            await exchange.close()

    asyncio.run(run())


def test_ccxt_pro_watches_trades_and_an_api_clients_orders(serve: type[Server]) -> None:
    server = serve()
    fund_and_mark(server.url)
    place(server, "maker-a", PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 50, price=100_500 * USD))
    keys = add_api_client(server, "alice")

    async def run() -> None:
        exchange = pro(server, keys)
        try:
            await exchange.load_markets()
            trades = asyncio.create_task(exchange.watch_trades(SYMBOL))
            orders = asyncio.create_task(exchange.watch_orders(SYMBOL))
            await asyncio.sleep(0.5)  # both subscribed
            taken = await exchange.create_order(SYMBOL, "market", "buy", 0.01)
            assert taken["status"] == "closed" and taken["filled"] == 0.01
            async with asyncio.timeout(WAIT_S):
                seen = await trades
                mine = await orders
            assert [(t["price"], t["amount"], t["side"]) for t in seen] == [
                (100_500.0, 0.01, "buy")
            ]
            assert [(o["id"], o["status"], o["filled"]) for o in mine] == [
                (taken["id"], "closed", 0.01)
            ]
            # ccxt tells only of updates that arrive while a watch waits: watch first.
            opened = asyncio.create_task(exchange.watch_orders(SYMBOL))
            await asyncio.sleep(0.2)
            resting = await exchange.create_order(
                SYMBOL, "limit", "buy", 0.02, 99_000.0, {"post_only": True}
            )
            async with asyncio.timeout(WAIT_S):
                assert [(o["id"], o["status"]) for o in await opened] == [(resting["id"], "open")]
            cancelled = asyncio.create_task(exchange.watch_orders(SYMBOL))
            await asyncio.sleep(0.2)
            await exchange.cancel_order(resting["id"], SYMBOL)
            async with asyncio.timeout(WAIT_S):
                assert [(o["id"], o["status"]) for o in await cancelled] == [
                    (resting["id"], "canceled")
                ]
        finally:
            await exchange.close()

    asyncio.run(run())


class Rpc:
    """A bare JSON-RPC connection to /ws/api/v2."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0
        self.notes: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        await self.socket.send(json.dumps(request))
        async with asyncio.timeout(WAIT_S):
            while True:
                answer = json.loads(await self.socket.recv())
                if answer.get("id") == self.next_id:
                    return answer  # type: ignore[no-any-return]
                self.notes.append(answer)

    async def note(self, channel: str) -> Any:
        async with asyncio.timeout(WAIT_S):
            while True:
                found = [n for n in self.notes if n.get("params", {}).get("channel") == channel]
                if found:
                    self.notes.remove(found[0])
                    return found[0]["params"]["data"]
                self.notes.append(json.loads(await self.socket.recv()))


def test_json_rpc_auth_private_calls_and_logout_over_the_websocket(serve: type[Server]) -> None:
    server = serve()
    fund_and_mark(server.url)
    keys = add_api_client(server, "bob")

    async def run() -> None:
        async with websockets.connect(ws_url(server)) as socket:
            rpc = Rpc(socket)
            assert (await rpc.call("public/get_time"))["result"] > 0
            refused = await rpc.call("private/get_positions")
            assert refused["error"]["code"] == 13009
            private = await rpc.call("public/subscribe", channels=["user.orders.any.any.raw"])
            assert private["error"]["code"] == 13009
            unknown = await rpc.call("public/subscribe", channels=["book.NOPE.raw"])
            assert unknown["error"]["code"] == 10020
            assert (await rpc.call("public/no_such"))["error"]["code"] == -32601
            bad = await rpc.call("public/set_heartbeat", interval=1)
            assert bad["error"]["code"] == -32602
            granted = await rpc.call(
                "public/auth",
                grant_type="client_credentials",
                client_id=keys["client_id"],
                client_secret=keys["client_secret"],
            )
            token = granted["result"]["access_token"]
            assert (await rpc.call("private/subscribe", channels=["user.orders.any.any.raw"]))[
                "result"
            ] == ["user.orders.any.any.raw"]
            bought = await rpc.call(
                "private/buy",
                instrument_name="BTC-PERP",
                amount=0.01,
                price=99_000.0,
                post_only=True,
            )
            order = bought["result"]["order"]
            assert order["order_state"] == "open" and order["amount"] == 0.01
            update = await rpc.note("user.orders.any.any.raw")
            assert update["order_id"] == order["order_id"] and update["order_state"] == "open"
            state = await rpc.call("private/get_order_state", order_id=order["order_id"])
            assert state["result"]["order_state"] == "open"
            too_big = await rpc.call(
                "private/buy", instrument_name="BTC-PERP", amount=0.0105, price=99_000.0
            )
            assert too_big["error"]["code"] == 11029
            assert (await rpc.call("private/logout"))["result"] == "ok"
            with pytest.raises(websockets.ConnectionClosed):
                async with asyncio.timeout(WAIT_S):
                    while True:
                        await socket.recv()
        # The tokens granted on the connection died with its logout.
        after = httpx.get(
            server.url + "/api/v2/private/get_positions",
            headers={"Authorization": "Bearer " + token},
        )
        assert after.status_code == 401 and after.json()["error"]["code"] == 13009

    asyncio.run(run())


def test_a_silent_connection_is_closed_after_a_missed_heartbeat(serve: type[Server]) -> None:
    server = serve()

    async def run() -> None:
        async with websockets.connect(ws_url(server)) as socket:
            rpc = Rpc(socket)
            assert (await rpc.call("public/set_heartbeat", interval=10))["result"] == "ok"
            beat = json.loads(await socket.recv())
            assert beat["method"] == "heartbeat"
            assert beat["params"]["type"] == "test_request"
            async with asyncio.timeout(15):
                with pytest.raises(websockets.ConnectionClosed):
                    while True:
                        await socket.recv()

    asyncio.run(run())


def test_a_frame_that_is_not_json_is_a_parse_error_and_the_connection_goes_on(
    serve: type[Server],
) -> None:
    server = serve()

    async def run() -> None:
        async with websockets.connect(ws_url(server)) as socket:
            await socket.send("{not json")
            answer = json.loads(await socket.recv())
            assert answer["error"]["code"] == -32700 and answer["id"] is None
            rpc = Rpc(socket)
            assert (await rpc.call("public/test"))["result"]["version"]

    asyncio.run(run())
