"""The broadcaster on a real sequencer: each account sees its own orders and the
fills of its resting orders by others, never another account's orders; and a
subscriber that stops reading is dropped, not buffered without end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from clearhouse.core import Deposit, OracleUpdate, PlaceOrder, Side, TimeInForce
from clearhouse.journal import Journal, SqliteJournal
from clearhouse.sequencer import Sequencer
from clearhouse.service.streams import QUEUE_MESSAGES_MAX, Broadcaster, Subscriber
from clearhouse.testing import TestVenue, signer_for, standard_genesis

USD = 10**6


def test_private_streams_carry_an_accounts_own_orders_and_its_fills_only(tmp_path: Path) -> None:
    genesis = standard_genesis(["alice", "bob", "carol"])
    signing = TestVenue(genesis)
    journal = Journal(
        SqliteJournal(tmp_path / "j.db"),
        genesis,
        signer_for("operator"),
        "operator",
        clock=lambda: signing.now_ns,
    )

    async def session() -> dict[str, list[dict[str, object]]]:
        hub = Broadcaster(lambda instrument, levels: None)
        hub.attach(asyncio.get_running_loop())
        subscribers = {name: Subscriber() for name in ("alice", "bob", "carol")}
        for name, subscriber in subscribers.items():
            hub.subscribe(subscriber, f"orders.{name}")
        script = [
            Deposit("alice", "USDC", 10**6 * USD),
            Deposit("bob", "USDC", 10**6 * USD),
            OracleUpdate("BTC-USD", 100_000 * USD, signing.now_ns),
            PlaceOrder("alice", "BTC-PERP", Side.SELL, 10, price=100_000 * USD),
            PlaceOrder(
                "bob",
                "BTC-PERP",
                Side.BUY,
                4,
                price=100_000 * USD,
                time_in_force=TimeInForce.IOC,
            ),
        ]
        with Sequencer(journal, on_commit=hub.on_commit) as sequencer:
            for payload in script:
                signing.now_ns += 1_000_000
                sequencer.submit(signing.sign(payload)).result(timeout=30)
        await asyncio.sleep(0.05)  # the last commit's hand-off to this loop
        seen: dict[str, list[dict[str, object]]] = {}
        for name, subscriber in subscribers.items():
            seen[name] = []
            while not subscriber.queue.empty():
                message = subscriber.queue.get_nowait()
                assert isinstance(message, str)
                seen[name].append(json.loads(message)["data"])
        return seen

    seen = asyncio.run(session())
    journal.close()
    assert seen["carol"] == []
    # alice: her deposit and her resting order in full, then bob's fill of it
    # showing only the trade and her order's reduction, not bob's own order.
    assert [m["seq"] for m in seen["alice"]] == [1, 4, 5]
    fill = seen["alice"][2]
    kinds = [e["event"] for e in fill["events"]]  # type: ignore[union-attr]
    assert "trade_executed" in kinds and "order_accepted" not in kinds
    assert [m["seq"] for m in seen["bob"]] == [2, 5]
    bob_fill = seen["bob"][1]
    assert bob_fill["status"] == "accepted"
    assert "order_accepted" in [e["event"] for e in bob_fill["events"]]  # type: ignore[union-attr]


def test_a_subscriber_that_falls_too_far_behind_is_dropped() -> None:
    async def flood() -> Subscriber:
        subscriber = Subscriber()
        for number in range(QUEUE_MESSAGES_MAX + 5):
            subscriber.offer(f"message {number}")
        return subscriber

    subscriber = asyncio.run(flood())
    assert subscriber.dropped is not None and "10,000" in subscriber.dropped
    assert subscriber.queue.qsize() == 1 and subscriber.queue.get_nowait() is None
