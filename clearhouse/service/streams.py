"""Live streams of what is durable: trades, books, marks and each account's orders.

The sequencer tells the `Broadcaster` of every commit (on its commit thread,
after the acknowledgements); the broadcaster hands the batch to the event loop
and returns at once, so a subscriber never slows the venue. On the loop each
journaled transaction is turned into channel messages:

    trades.{instrument}   every trade: seq, price, size, taker side (no accounts)
    book.{instrument}     the depth (10 levels) after a commit that touched the book
    marks.{instrument}    every new mark price
    liquidations.all      liquidations as they start, take over, deleverage,
                          socialize losses and end (public: a venue's risk is)
    orders.{account}      the account's own receipts: its transactions' outcomes,
                          and the events of others' transactions that fill or
                          cancel its orders (private: the connection must have
                          proven a key of the account's owner)

Every subscriber has a bounded queue; one that falls `QUEUE_MESSAGES_MAX` behind
is dropped with SLOW_CONSUMER rather than buffered without end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import msgspec

from clearhouse.core import (
    Accepted,
    LiquidationEnded,
    LiquidationStarted,
    LossSocialized,
    MarkPriceUpdated,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    PositionDeleveraged,
    PositionTakenOver,
    Transaction,
)
from clearhouse.core.authority import owner_of
from clearhouse.core.events import TradeExecuted
from clearhouse.journal import Receipt
from clearhouse.sequencer import Committed
from clearhouse.service.wire import receipt_body

QUEUE_MESSAGES_MAX = 10_000
ORDER_OWNERS_MAX = 1_000_000
"""Order ids whose owner the broadcaster remembers, newest kept: an order older than
that still shows its trades to its owner (a trade names both accounts), but not
its reductions and amendments."""
BOOK_LEVELS = 10
CHANNEL_KINDS = ("trades", "book", "marks", "orders", "liquidations")

_encode = msgspec.json.Encoder().encode
_ORDER_EVENTS = (OrderRested, OrderReduced, OrderAmended, OrderCancelled)
_LIQUIDATION_EVENTS = (
    LiquidationStarted,
    PositionTakenOver,
    PositionDeleveraged,
    LossSocialized,
    LiquidationEnded,
)


class Subscriber:
    """One connection's subscriptions and outgoing queue."""

    def __init__(self) -> None:
        self.channels: set[str] = set()
        self.queue: asyncio.Queue[str | bytes | None] = asyncio.Queue(QUEUE_MESSAGES_MAX)
        self.dropped: str | None = None

    def offer(self, message: str | bytes) -> None:
        if self.dropped is not None:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = f"more than {QUEUE_MESSAGES_MAX:,} messages behind"
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)

    def offer_close(self) -> None:
        """Close the connection once what is queued before this is sent."""
        with contextlib.suppress(asyncio.QueueFull):  # full: being dropped anyway
            self.queue.put_nowait(None)


class Broadcaster:
    def __init__(self, depth: Callable[[str, int], Any]) -> None:
        """`depth(instrument, levels)` reads a book (on a worker thread)."""
        self._depth = depth
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: dict[str, set[Subscriber]] = {}
        self._orders: dict[int, str] = {}
        """Order id -> account, for the orders seen accepted since the start."""
        self._books_due: set[str] = set()
        self._books_running = False

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # -- subscriptions (on the loop) -------------------------------------------------

    def subscribe(self, subscriber: Subscriber, channel: str) -> None:
        subscriber.channels.add(channel)
        self._subscribers.setdefault(channel, set()).add(subscriber)
        if channel.startswith("book."):
            self._books_due.add(channel.removeprefix("book."))
            self._start_books()

    def unsubscribe(self, subscriber: Subscriber, channel: str) -> None:
        subscriber.channels.discard(channel)
        listeners = self._subscribers.get(channel)
        if listeners is not None:
            listeners.discard(subscriber)
            if not listeners:
                del self._subscribers[channel]

    def leave(self, subscriber: Subscriber) -> None:
        for channel in list(subscriber.channels):
            self.unsubscribe(subscriber, channel)

    # -- the feed ----------------------------------------------------------------------

    def on_commit(self, committed: list[Committed]) -> None:
        """The sequencer's commit listener: hands the batch to the loop and returns."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._dispatch, committed)

    def _dispatch(self, committed: list[Committed]) -> None:
        subscribers = self._subscribers
        orders = self._orders
        for tx, receipt, _ in committed:
            outcome = receipt.outcome
            events = outcome.events if isinstance(outcome, Accepted) else []
            mine: dict[str, list[Any]] = {}
            for event in events:
                if isinstance(event, OrderAccepted):
                    orders[event.order_id] = event.account
                    if len(orders) > ORDER_OWNERS_MAX:
                        del orders[next(iter(orders))]  # ids grow: the first is the oldest
                    self._book_touched(event.instrument)
                elif isinstance(event, TradeExecuted):
                    # A maker's order placed before this venue started: its owner is
                    # learnt from its first fill.
                    orders.setdefault(event.maker_order_id, event.maker_account)
                    self._trade(receipt.seq, event)
                    self._book_touched(event.instrument)
                    mine.setdefault(event.maker_account, [])
                    mine.setdefault(event.taker_account, [])
                elif isinstance(event, _ORDER_EVENTS):
                    account = orders.get(event.order_id)
                    if account is not None:
                        mine.setdefault(account, [])
                    if isinstance(event, OrderCancelled):
                        self._book_touched(event.instrument)
                        orders.pop(event.order_id, None)
                elif isinstance(event, _LIQUIDATION_EVENTS):
                    if "liquidations.all" in subscribers:
                        data = {"seq": receipt.seq, **msgspec.to_builtins(event)}
                        self._send("liquidations.all", data)
                elif isinstance(event, MarkPriceUpdated):
                    channel = f"marks.{event.instrument}"
                    if channel in subscribers:
                        self._send(channel, {"seq": receipt.seq, "mark_price": event.price})
            instrument = getattr(tx.payload, "instrument", None)
            if events and isinstance(instrument, str):
                self._book_touched(instrument)
            self._private(tx, receipt, mine)

    def _private(self, tx: Transaction, receipt: Receipt, mine: dict[str, list[Any]]) -> None:
        """Each concerned account's view of one transaction: its own transaction in
        full; another's only the events about the account's orders."""
        account = getattr(tx.payload, "account", None)
        own = account if isinstance(account, str) else None
        if own is not None and f"orders.{own}" in self._subscribers:
            self._send(f"orders.{own}", receipt_body(receipt))
        outcome = receipt.outcome
        if not isinstance(outcome, Accepted):
            return
        for other in mine:
            channel = f"orders.{other}"
            if other == own or channel not in self._subscribers:
                continue
            events = [e for e in outcome.events if self._concerns(e, other)]
            data = {"seq": receipt.seq, "status": "accepted", "events": msgspec.to_builtins(events)}
            self._send(channel, data)

    def _concerns(self, event: object, account: str) -> bool:
        if isinstance(event, TradeExecuted):
            return account in (event.maker_account, event.taker_account)
        if isinstance(event, _ORDER_EVENTS):
            return self._orders.get(event.order_id, getattr(event, "account", "")) == account
        return getattr(event, "account", None) == account

    def _trade(self, seq: int, trade: TradeExecuted) -> None:
        channel = f"trades.{trade.instrument}"
        if channel in self._subscribers:
            data = {
                "seq": seq,
                "instrument": trade.instrument,
                "price": trade.price,
                "size": trade.size,
                "taker_side": trade.taker_side.value,
            }
            self._send(channel, data)

    def _book_touched(self, instrument: str) -> None:
        if f"book.{instrument}" in self._subscribers:
            self._books_due.add(instrument)
            self._start_books()

    def _start_books(self) -> None:
        if not self._books_running and self._books_due and self._loop is not None:
            self._books_running = True
            self._loop.create_task(self._send_books())

    async def _send_books(self) -> None:
        """Depth snapshots of the books touched, one at a time, coalescing the
        commits that touch a book while its snapshot is read."""
        try:
            while self._books_due:
                instrument = self._books_due.pop()
                if f"book.{instrument}" not in self._subscribers:
                    continue
                try:
                    depth = await asyncio.to_thread(self._depth, instrument, BOOK_LEVELS)
                except Exception:  # an unknown instrument: nobody can subscribe to it
                    continue
                self._send(f"book.{instrument}", msgspec.to_builtins(depth))
        finally:
            self._books_running = False

    def _send(self, channel: str, data: Any) -> None:
        message = _encode({"channel": channel, "data": data}).decode()
        for subscriber in list(self._subscribers.get(channel, ())):
            subscriber.offer(message)


def channel_problem(channel: object, owner: str | None, account: str | None) -> str | None:
    """Why a connection may not subscribe to `channel`, or None. `owner` and
    `account` are what its proven key holds (None: no key proven; account "" for a
    master key, which reads every account of its owner)."""
    if not isinstance(channel, str):
        return "a channel is a string"
    kind, _, name = channel.partition(".")
    if kind not in CHANNEL_KINDS or not name or (kind == "liquidations" and name != "all"):
        return (
            f"unknown channel {channel!r}: one of {', '.join(k + '.NAME' for k in CHANNEL_KINDS)}"
        )
    if kind != "orders":
        return None
    if owner is None:
        return f"{channel} is private: prove a key of the account's owner first (op auth)"
    if owner_of(name) != owner or (account and account != name):
        return f"the key proven on this connection may not read {channel}"
    return None
