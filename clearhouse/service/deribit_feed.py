"""Deribit subscriptions: what a `/ws/api/v2` connection is notified of.

    book.{instrument}.{interval}       a snapshot when subscribed, then each change
                                       as [action, price, amount] entries (action
                                       new, change or delete) with change_id and
                                       prev_change_id; the top `BOOK_LEVELS` levels
    trades.{instrument}.{interval}     trades as they become durable
    ticker.{instrument}.{interval}     the ticker when subscribed, then after each
                                       change of the book, its trades or its mark
    user.orders.{instrument}.{interval}
    user.orders.{kind}.{currency}.{interval}
                                       private: the client's orders as each
                                       transaction leaves them (kind future, option
                                       or any; a currency or any)
    user.trades.(the same selectors)   private: the client's fills

`interval` is raw, 100ms or agg2, and every interval is notified as soon as the
change is durable: book and ticker notifications are read after the commit and
coalesce the commits that land while a read runs; `raw` sends user.orders one
order a notification, the others a list per transaction.

The feed hears each commit from the sequencer (public channels) and each change
of a watched account from the order ledger (private channels), on the commit
thread; it hands both to the event loop at once and renders there, so a
subscriber never slows the venue. Each connection's queue is bounded
(`streams.Subscriber`): one too far behind is dropped.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from clearhouse.core import (
    Accepted,
    Instrument,
    Kind,
    MarkPriceUpdated,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    TradeExecuted,
)
from clearhouse.core.views import Depth
from clearhouse.sequencer import Committed
from clearhouse.service.deribit import (
    INVALID_PARAMS,
    DeribitError,
    PublicApi,
    _amount,
    _price,
    _underlying,
)
from clearhouse.service.deribit_orders import order_json, trade_json
from clearhouse.service.order_ledger import OrderLedger, OrderRecord, TradeRecord
from clearhouse.service.streams import Subscriber

INTERVALS = ("raw", "100ms", "agg2")
BOOK_LEVELS = 20
_KINDS = ("any", "future", "option")
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class Topic:
    """A parsed channel name."""

    family: str
    """book, trades, ticker, user.orders or user.trades."""
    instrument: str | None
    """One instrument, or None: every instrument of `kind` and `currency`."""
    kind: str = "any"
    currency: str = "any"
    interval: str = "raw"

    @property
    def private(self) -> bool:
        return self.family.startswith("user.")

    def covers(self, spec: Instrument) -> bool:
        if self.instrument is not None:
            return spec.id == self.instrument
        kind = "option" if spec.kind is Kind.OPTION else "future"
        currency = self.currency.upper()
        return self.kind in ("any", kind) and (
            self.currency == "any" or currency in (_underlying(spec), spec.settlement_asset)
        )


def parse_channel(channel: object, specs: dict[str, Instrument]) -> Topic:
    """The topic of a channel name, or DeribitError (Invalid params) naming why not."""
    if not isinstance(channel, str):
        raise DeribitError(INVALID_PARAMS, "Invalid params", "a channel is a string")
    parts = channel.split(".")
    family = parts[0]
    if family == "user" and len(parts) > 1:
        family, parts = f"user.{parts[1]}", parts[1:]
    rest = parts[1:]
    if not rest or rest[-1] not in INTERVALS:
        raise DeribitError(
            INVALID_PARAMS, "Invalid params", f"{channel}: the interval is one of {INTERVALS}"
        )
    interval = rest[-1]
    if family in ("book", "trades", "ticker", "user.orders", "user.trades") and len(rest) == 2:
        if rest[0] not in specs:
            raise DeribitError(10020, "invalid_or_unsupported_instrument", rest[0])
        return Topic(family, rest[0], interval=interval)
    if family in ("user.orders", "user.trades") and len(rest) == 3:
        kind, currency = rest[0], rest[1]
        known = {_underlying(s) for s in specs.values()} | {
            s.settlement_asset for s in specs.values()
        }
        if kind not in _KINDS or (currency != "any" and currency.upper() not in known):
            raise DeribitError(INVALID_PARAMS, "Invalid params", f"{channel}: kind or currency")
        return Topic(family, None, kind, currency, interval)
    raise DeribitError(
        INVALID_PARAMS,
        "Invalid params",
        f"unknown channel {channel!r}: book.I.INTERVAL, trades.I.INTERVAL, ticker.I.INTERVAL,"
        " user.orders.(I|KIND.CURRENCY).INTERVAL or user.trades.(I|KIND.CURRENCY).INTERVAL",
    )


@dataclass
class _Channels:
    """Who listens to which channel, with each channel's topic."""

    topics: dict[str, Topic] = field(default_factory=dict)
    listeners: dict[str, set[Subscriber]] = field(default_factory=lambda: defaultdict(set))

    def add(self, channel: str, topic: Topic, subscriber: Subscriber) -> None:
        self.topics[channel] = topic
        self.listeners[channel].add(subscriber)

    def remove(self, channel: str, subscriber: Subscriber) -> None:
        listeners = self.listeners.get(channel)
        if listeners is not None:
            listeners.discard(subscriber)
            if not listeners:
                del self.listeners[channel]
                del self.topics[channel]

    def of(self, family: str, spec: Instrument) -> Iterable[tuple[str, Topic]]:
        return [(c, t) for c, t in self.topics.items() if t.family == family and t.covers(spec)]


@dataclass
class _Book:
    """The book as last published to a book channel of one instrument."""

    bids: dict[int, int] | None = None
    asks: dict[int, int] = field(default_factory=dict)
    change_id: int = 0
    waiting: set[tuple[str, Subscriber]] = field(default_factory=set)
    """Subscribers to be sent a snapshot on the next read."""


class DeribitFeed:
    def __init__(self, public: PublicApi, ledger: OrderLedger) -> None:
        self.public = public
        self.runtime = public.runtime
        self.ledger = ledger
        self._loop: asyncio.AbstractEventLoop | None = None
        self._public = _Channels()
        self._private: dict[str, _Channels] = {}
        """Per account: its clients' private channels."""
        self._books: dict[str, _Book] = {}
        self._due: set[str] = set()
        """Instruments whose book or ticker is to be read and published."""
        self._reading = False
        self._last_price: dict[str, int] = {}
        ledger.on_change = self._changed

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    # -- subscriptions (on the loop) ---------------------------------------------------

    def subscribe(self, subscriber: Subscriber, channel: str, account: str | None) -> None:
        """`account`: the connection's authenticated client's, needed for user.*."""
        specs = self.public._specs()
        topic = parse_channel(channel, specs)
        if topic.private:
            if account is None:
                raise DeribitError(
                    13009, "unauthorized", f"{channel} is private: public/auth first"
                )
            self._private.setdefault(account, _Channels()).add(channel, topic, subscriber)
            self.ledger.watched = frozenset(self._private)
            return
        self._public.add(channel, topic, subscriber)
        if topic.family in ("book", "ticker") and topic.instrument is not None:
            if topic.family == "book":
                book = self._books.setdefault(topic.instrument, _Book())
                if book.bids is not None:
                    subscriber.offer(self._message(channel, self._snapshot(topic.instrument)))
                    return
                book.waiting.add((channel, subscriber))
            self._due.add(topic.instrument)
            self._start_reading()

    def unsubscribe(self, subscriber: Subscriber, channel: str, account: str | None) -> None:
        topic = self._public.topics.get(channel)
        self._public.remove(channel, subscriber)
        if topic is not None and topic.family == "book" and topic.instrument is not None:
            book = self._books.get(topic.instrument)
            if book is not None:
                book.waiting.discard((channel, subscriber))
                spec = self.public._specs()[topic.instrument]
                if not any(True for _ in self._public.of("book", spec)):
                    del self._books[topic.instrument]  # unread from now on: soon stale
        if account is not None and account in self._private:
            channels = self._private[account]
            channels.remove(channel, subscriber)
            if not channels.topics:
                del self._private[account]
                self.ledger.watched = frozenset(self._private)

    # -- the feed (handed from the commit thread to the loop) --------------------------

    def on_commit(self, committed: list[Committed]) -> None:
        loop = self._loop
        if self._public.topics and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._dispatch, committed)

    def _changed(self, orders: list[OrderRecord], trades: list[TradeRecord]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._private_change, orders, trades)

    def _dispatch(self, committed: list[Committed]) -> None:
        specs = self.public._specs()
        for _, receipt, stamp in committed:
            outcome = receipt.outcome
            if not isinstance(outcome, Accepted):
                continue
            trades: dict[str, list[dict[str, Any]]] = {}
            for index, event in enumerate(outcome.events):
                if isinstance(event, TradeExecuted):
                    spec = specs[event.instrument]
                    trades.setdefault(spec.id, []).append(
                        self._trade(spec, receipt.seq, index, stamp // 10**6, event)
                    )
                    self._due.add(spec.id)
                elif isinstance(event, (OrderAccepted, OrderCancelled)):
                    self._due.add(event.instrument)
                elif isinstance(event, (OrderReduced, OrderAmended)):
                    self._due.update(self._books)  # the event does not name its book
                elif isinstance(event, MarkPriceUpdated):
                    self._due.add(event.instrument)
            for instrument, shown in trades.items():
                for channel, _ in self._public.of("trades", specs[instrument]):
                    self._publish(channel, shown)
        self._start_reading()

    def _trade(
        self, spec: Instrument, seq: int, index: int, stamp_ms: int, trade: TradeExecuted
    ) -> dict[str, Any]:
        last = self._last_price.get(spec.id, trade.price)
        self._last_price[spec.id] = trade.price
        return {
            "trade_seq": seq,
            "trade_id": f"{seq}-{index}",
            "timestamp": stamp_ms,
            "tick_direction": 0 if trade.price > last else 2 if trade.price < last else 1,
            "price": _price(spec, trade.price),
            "instrument_name": spec.id,
            "direction": trade.taker_side.value,
            "amount": _amount(spec, trade.size),
        }

    def _private_change(self, orders: list[OrderRecord], trades: list[TradeRecord]) -> None:
        specs = self.public._specs()
        by_account: dict[str, tuple[list[OrderRecord], list[TradeRecord]]] = {}
        for order in orders:
            by_account.setdefault(order.account, ([], []))[0].append(order)
        for trade in trades:
            by_account.setdefault(trade.account, ([], []))[1].append(trade)
        for account, (changed, filled) in by_account.items():
            channels = self._private.get(account)
            if channels is None:
                continue
            for channel, topic in list(channels.topics.items()):
                if topic.family == "user.orders":
                    shown = [
                        order_json(specs[o.instrument], o)
                        for o in changed
                        if topic.covers(specs[o.instrument])
                    ]
                    if topic.interval == "raw":
                        for one in shown:
                            self._publish(channel, one, channels)
                    elif shown:
                        self._publish(channel, shown, channels)
                else:
                    mine = [
                        trade_json(specs[t.instrument], t)
                        for t in filled
                        if topic.covers(specs[t.instrument])
                    ]
                    if mine:
                        self._publish(channel, mine, channels)

    # -- books and tickers, read after the commits that touch them ---------------------

    def _start_reading(self) -> None:
        if not self._reading and self._due and self._loop is not None:
            self._reading = True
            self._loop.create_task(self._read())

    async def _read(self) -> None:
        try:
            while self._due:
                instrument = self._due.pop()
                spec = self.public._specs().get(instrument)
                if spec is None:
                    continue
                books = [c for c, _ in self._public.of("book", spec)]
                tickers = [c for c, _ in self._public.of("ticker", spec)]
                if books:
                    depth = await asyncio.to_thread(self.runtime.depth, instrument, BOOK_LEVELS)
                    self._publish_book(spec, books, depth)
                if tickers:
                    ticker = await asyncio.to_thread(self.public._ticker, spec)
                    for channel in tickers:
                        self._publish(channel, ticker)
        finally:
            self._reading = False

    def _publish_book(self, spec: Instrument, channels: list[str], depth: Depth) -> None:
        book = self._books.setdefault(spec.id, _Book())
        bids = {level.price: level.size for level in depth.bids}
        asks = {level.price: level.size for level in depth.asks}
        change = None
        if book.bids is None:
            book.change_id = self.runtime.journal.durable_seq
        elif bids != book.bids or asks != book.asks:
            change_id = max(book.change_id + 1, self.runtime.journal.durable_seq)
            change = {
                "type": "change",
                "timestamp": self._now_ms(),
                "prev_change_id": book.change_id,
                "instrument_name": spec.id,
                "change_id": change_id,
                "bids": _diff(spec, book.bids, bids, reverse=True),
                "asks": _diff(spec, book.asks, asks, reverse=False),
            }
            book.change_id = change_id
        book.bids, book.asks = bids, asks
        waiting, book.waiting = book.waiting, set()
        for channel, subscriber in waiting:
            subscriber.offer(self._message(channel, self._snapshot(spec.id)))
        if change is not None:
            for channel in channels:
                message = self._message(channel, change)
                for subscriber in list(self._public.listeners.get(channel, ())):
                    if (channel, subscriber) not in waiting:
                        subscriber.offer(message)

    def _snapshot(self, instrument: str) -> dict[str, Any]:
        book = self._books[instrument]
        spec = self.public._specs()[instrument]
        return {
            "type": "snapshot",
            "timestamp": self._now_ms(),
            "instrument_name": instrument,
            "change_id": book.change_id,
            "bids": _diff(spec, {}, book.bids or {}, reverse=True),
            "asks": _diff(spec, {}, book.asks, reverse=False),
        }

    def _now_ms(self) -> int:
        return self.runtime.now_ns() // 10**6

    # -- sending -----------------------------------------------------------------------

    def _publish(self, channel: str, data: Any, channels: _Channels | None = None) -> None:
        listeners = (channels or self._public).listeners.get(channel)
        if listeners:
            message = self._message(channel, data)
            for subscriber in list(listeners):
                subscriber.offer(message)

    @staticmethod
    def _message(channel: str, data: Any) -> str:
        body = {
            "jsonrpc": "2.0",
            "method": "subscription",
            "params": {"channel": channel, "data": data},
        }
        return _encode(body).decode()


def _diff(
    spec: Instrument, old: dict[int, int], new: dict[int, int], *, reverse: bool
) -> list[list[Any]]:
    """Deribit's book entries taking one side from `old` to `new`, best price first."""
    entries = []
    for price in sorted(old.keys() | new.keys(), reverse=reverse):
        size = new.get(price)
        if size is None:
            entries.append(["delete", _price(spec, price), 0.0])
        elif price not in old:
            entries.append(["new", _price(spec, price), _amount(spec, size)])
        elif old[price] != size:
            entries.append(["change", _price(spec, price), _amount(spec, size)])
    return entries
