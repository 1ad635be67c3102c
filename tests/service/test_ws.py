"""The WebSocket API of a real server: several orders a frame, JSON and msgpack,
public streams, and private order streams behind a key proof."""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec
import pytest
from served import Server
from test_serve import USD, fund_and_mark, lift
from websockets.sync.client import ClientConnection, connect

from clearhouse.auth.signing import auth_message
from clearhouse.client import VenueClient
from clearhouse.core import PlaceOrder, Side
from clearhouse.core.codec import encode
from clearhouse.testing import signer_for
from clearhouse.venue import Client

VENUE = "clearhouse-dev"


def ws_url(server: Server) -> str:
    return server.url.replace("http://", "ws://") + "/api/v1/ws"


def signing(name: str, nonce: int = 0) -> Client:
    client = Client(signer_for(name), VENUE)
    client.nonce = nonce
    return client


def ask(socket: ClientConnection, request: dict[str, Any]) -> dict[str, Any]:
    socket.send(json.dumps(request))
    return answer_to(socket, request["id"])


def answer_to(socket: ClientConnection, request_id: object) -> dict[str, Any]:
    while True:
        message = json.loads(socket.recv(timeout=30))
        if message.get("id") == request_id:
            return message  # type: ignore[no-any-return]


def channel_message(socket: ClientConnection, channel: str) -> dict[str, Any]:
    while True:
        message = json.loads(socket.recv(timeout=30))
        if message.get("channel") == channel:
            return message["data"]  # type: ignore[no-any-return]


def prove(socket: ClientConnection, name: str, request_id: int = 90) -> dict[str, Any]:
    signer = signer_for(name)
    now = time.time_ns()
    return ask(
        socket,
        {
            "id": request_id,
            "op": "auth",
            "public_key": signer.public_key().hex(),
            "timestamp_ns": now,
            "signature": signer.sign(auth_message(VENUE, now)).hex(),
        },
    )


def test_several_orders_a_frame_in_json_and_in_msgpack(serve: type[Server]) -> None:
    server = serve()
    fund_and_mark(server.url)
    bob = signing("bob")
    now = time.time_ns()
    bids = [PlaceOrder("bob", "BTC-PERP", Side.BUY, 1, price=(95_000 - k) * USD) for k in range(5)]
    signed = [bob.sign(order, now) for order in bids]
    with connect(ws_url(server)) as socket:
        as_json = [msgspec.to_builtins(tx) for tx in signed[:3]]
        answer = ask(socket, {"id": "a", "op": "submit", "txs": as_json})
        assert [r["status"] for r in answer["receipts"]] == ["accepted"] * 3
        seqs = [r["seq"] for r in answer["receipts"]]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
        socket.send(encode({"id": 7, "op": "submit", "txs": [encode(tx) for tx in signed[3:]]}))
        binary = msgspec.msgpack.decode(socket.recv(timeout=30))
        assert binary["id"] == 7 and [r["status"] for r in binary["receipts"]] == ["accepted"] * 2
        # A replayed transaction is journaled and refused on its own; garbage is refused.
        again = ask(socket, {"id": "b", "op": "submit", "txs": as_json[:1]})
        assert again["receipts"][0]["error"]["name"] == "NONCE_REUSED"
        broken = ask(socket, {"id": "c", "op": "submit", "txs": [{"payload": 1}]})
        assert broken["receipts"][0] == {
            "journaled": False,
            "status": "rejected",
            "error": broken["receipts"][0]["error"],
        }
        assert broken["receipts"][0]["error"]["code"] in (1002, 1003)
        assert ask(socket, {"id": "d", "op": "fly"})["error"]["name"] == "BAD_REQUEST"
        socket.send(b"\xc1")
        assert msgspec.msgpack.decode(socket.recv(timeout=30))["error"]["code"] == 1001
    with VenueClient(server.url) as reader:
        assert reader.account("bob")["open_orders"] == 5


def test_public_streams_show_a_trade_and_the_book_after_it(serve: type[Server]) -> None:
    server = serve()
    fund_and_mark(server.url)
    with connect(ws_url(server)) as socket:
        subscribed = ask(
            socket, {"id": 1, "op": "subscribe", "channels": ["trades.BTC-PERP", "book.BTC-PERP"]}
        )
        assert subscribed["subscribed"] == ["book.BTC-PERP", "trades.BTC-PERP"]
        assert channel_message(socket, "book.BTC-PERP")["asks"] == []  # the book as it stands
        with VenueClient(server.url, signer_for("maker-a")) as maker:
            maker.submit(PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 30, price=100_000 * USD))
        assert channel_message(socket, "book.BTC-PERP")["asks"] == [[100_000 * USD, 30, 1]]
        fill = lift(server.url, "alice", 10, 100_000 * USD)
        trade = channel_message(socket, "trades.BTC-PERP")
        assert trade == {
            "seq": fill.seq,
            "instrument": "BTC-PERP",
            "price": 100_000 * USD,
            "size": 10,
            "taker_side": "buy",
        }
        assert channel_message(socket, "book.BTC-PERP")["asks"] == [[100_000 * USD, 20, 1]]
        refused = ask(socket, {"id": 2, "op": "subscribe", "channels": ["news.BTC"]})
        assert refused["error"]["name"] == "BAD_REQUEST"


def test_an_order_stream_is_its_owners_alone(serve: type[Server]) -> None:
    server = serve()
    fund_and_mark(server.url)
    with connect(ws_url(server)) as alice_socket, connect(ws_url(server)) as bob_socket:
        closed = ask(alice_socket, {"id": 1, "op": "subscribe", "channels": ["orders.alice"]})
        assert "private" in closed["error"]["message"]
        assert prove(alice_socket, "alice")["owner"] == "alice"
        opened = ask(alice_socket, {"id": 2, "op": "subscribe", "channels": ["orders.alice"]})
        assert opened["subscribed"] == ["orders.alice"]
        prove(bob_socket, "bob")
        other = ask(bob_socket, {"id": 3, "op": "subscribe", "channels": ["orders.alice"]})
        assert other["error"]["name"] == "BAD_REQUEST"
        signer = signer_for("bob")
        now = time.time_ns()
        forged = ask(
            bob_socket,
            {
                "id": 4,
                "op": "auth",
                "public_key": signer_for("alice").public_key().hex(),
                "timestamp_ns": now,
                "signature": signer.sign(auth_message(VENUE, now)).hex(),
            },
        )
        assert forged["error"]["name"] == "AUTH_FAILED"
        with VenueClient(server.url, signer_for("maker-a")) as maker:
            maker.submit(PlaceOrder("maker-a", "BTC-PERP", Side.SELL, 5, price=100_000 * USD))
        with VenueClient(server.url, signer_for("alice")) as alice:
            fill = alice.submit(PlaceOrder("alice", "BTC-PERP", Side.BUY, 5, price=100_000 * USD))
        own = channel_message(alice_socket, "orders.alice")
        assert own["seq"] == fill.seq and own["status"] == "accepted"
        assert {e["event"] for e in own["events"]} >= {"order_accepted", "trade_executed"}


@pytest.mark.parametrize("skew_s", [-40, 40])
def test_a_key_proof_out_of_its_window_is_refused(serve: type[Server], skew_s: int) -> None:
    server = serve()
    signer = signer_for("alice")
    stamp = time.time_ns() + skew_s * 10**9
    with connect(ws_url(server)) as socket:
        answer = ask(
            socket,
            {
                "id": 1,
                "op": "auth",
                "public_key": signer.public_key().hex(),
                "timestamp_ns": stamp,
                "signature": signer.sign(auth_message(VENUE, stamp)).hex(),
            },
        )
    assert answer["error"]["name"] == "AUTH_FAILED" and "30 s" in answer["error"]["message"]


def test_the_python_stream_client_trades_and_follows_its_orders(serve: type[Server]) -> None:
    import asyncio

    from clearhouse.client import VenueError, VenueStream

    server = serve()
    fund_and_mark(server.url)

    async def session() -> None:
        async with VenueStream(server.url, signer_for("alice")) as stream:
            with pytest.raises(VenueError, match="private"):
                await stream.subscribe("orders.alice")
            assert await stream.prove() == ("alice", "")
            assert await stream.subscribe("orders.alice", "trades.BTC-PERP") == [
                "orders.alice",
                "trades.BTC-PERP",
            ]
            orders = [
                PlaceOrder("alice", "BTC-PERP", Side.BUY, 3, price=99_000 * USD),
                PlaceOrder("alice", "BTC-PERP", Side.BUY, 4, price=98_500 * USD),
            ]
            receipts = await stream.submit_many(orders)
            assert [r.status for r in receipts] == ["accepted", "accepted"]
            assert receipts[1].seq == receipts[0].seq + 1
            seen = [await asyncio.wait_for(stream.next_message(), 30) for _ in range(2)]
            assert [(channel, data["seq"]) for channel, data in seen] == [
                ("orders.alice", receipts[0].seq),
                ("orders.alice", receipts[1].seq),
            ]
        with VenueClient(server.url) as reader:
            assert reader.account("alice")["open_orders"] == 2

    asyncio.run(session())
