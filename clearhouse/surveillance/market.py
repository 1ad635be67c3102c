"""The market as surveillance sees it, rebuilt from the record step by step.

Every resting order (who placed it, where, how much is left, when it was placed
and how often it changed), each book's levels and touch, marks and index prices,
and each account's positions. It is folded from the engine's events alone, so it
is exact: a detector asking "how far from the touch was this order" gets the
answer the book gave at that sequence number. `touch_before` keeps the touch of
each book as it was before the current step, for detectors that judge an order
against the market it arrived in.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearhouse.core import (
    Event,
    Genesis,
    Instrument,
    MarkPriceUpdated,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    Side,
    TradeExecuted,
)
from clearhouse.core.events import (
    AccountOpened,
    IndexPriceUpdated,
    InstrumentListed,
    PositionDeleveraged,
    PositionSettled,
    PositionTakenOver,
)
from clearhouse.core.txs import ListInstrument, Propose
from clearhouse.surveillance.steps import Step


@dataclass
class RestingOrder:
    order_id: int
    account: str
    instrument: str
    side: Side
    price: int
    size: int
    """As placed, lots."""
    remaining: int
    placed_seq: int
    placed_ns: int
    changes: int = 0
    """Amendments and reductions since placed."""
    filled: int = 0


class Touch(tuple[int | None, int | None]):
    """(best bid, best ask); None where a side is empty."""

    @property
    def bid(self) -> int | None:
        return self[0]

    @property
    def ask(self) -> int | None:
        return self[1]


@dataclass
class _Book:
    bids: dict[int, int]
    asks: dict[int, int]

    def level(self, side: Side) -> dict[int, int]:
        return self.bids if side is Side.BUY else self.asks

    def touch(self) -> Touch:
        return Touch((max(self.bids) if self.bids else None, min(self.asks) if self.asks else None))


class MarketView:
    def __init__(self, genesis: Genesis) -> None:
        self.specs: dict[str, Instrument] = {spec.id: spec for spec in genesis.instruments}
        self.orders: dict[int, RestingOrder] = {}
        """Orders accepted and not yet done (filled or cancelled)."""
        self.books: dict[str, _Book] = {}
        self.marks: dict[str, int] = {}
        self.index_prices: dict[str, int] = {}
        self.positions: dict[tuple[str, str], int] = {}
        """(account, instrument) -> lots, signed."""
        self.accounts: set[str] = set()
        """Every account opened so far."""
        self.touch_before: dict[str, Touch] = {}
        """The touch of each book the current step changed, before it."""
        self.done: list[RestingOrder] = []
        """Orders the current step finished (filled or cancelled)."""
        self._proposed: dict[int, Instrument] = {}

    # -- reads -------------------------------------------------------------------------

    def touch(self, instrument: str) -> Touch:
        book = self.books.get(instrument)
        return book.touch() if book is not None else Touch((None, None))

    def depth(self, instrument: str, side: Side) -> dict[int, int]:
        book = self.books.get(instrument)
        return dict(book.level(side)) if book is not None else {}

    def position(self, account: str, instrument: str) -> int:
        return self.positions.get((account, instrument), 0)

    def ticks_from_touch(self, order: RestingOrder | OrderAccepted, touch: Touch) -> int | None:
        """How many ticks behind its own side's best price an order's price lies (0 at
        or better than the touch), or None when that side is empty."""
        best = touch.bid if order.side is Side.BUY else touch.ask
        if best is None:
            return None
        spec = self.specs[order.instrument]
        behind = best - order.price if order.side is Side.BUY else order.price - best
        return max(0, behind // spec.tick_size)

    # -- folding a step ----------------------------------------------------------------

    def apply(self, step: Step) -> None:
        self.touch_before = {}
        self.done = []
        payload = step.payload
        if (
            isinstance(payload, Propose)
            and isinstance(payload.action, ListInstrument)
            and step.rejected is None
        ):
            self._proposed[step.seq] = payload.action.instrument
        for event in step.events:
            self._event(step, event)

    def _touched(self, instrument: str) -> _Book:
        book = self.books.get(instrument)
        if book is None:
            book = self.books[instrument] = _Book({}, {})
        if instrument not in self.touch_before:
            self.touch_before[instrument] = book.touch()
        return book

    def _rest(self, order: RestingOrder, delta: int) -> None:
        levels = self._touched(order.instrument).level(order.side)
        size = levels.get(order.price, 0) + delta
        if size > 0:
            levels[order.price] = size
        else:
            levels.pop(order.price, None)

    def _finish(self, order: RestingOrder) -> None:
        self.orders.pop(order.order_id, None)
        self.done.append(order)

    def _event(self, step: Step, event: Event) -> None:
        if isinstance(event, OrderAccepted):
            self.orders[event.order_id] = RestingOrder(
                event.order_id,
                event.account,
                event.instrument,
                event.side,
                event.price,
                event.size,
                0,
                step.seq,
                step.timestamp_ns,
            )
        elif isinstance(event, OrderRested):
            order = self.orders.get(event.order_id)
            if order is not None:
                order.price, order.remaining = event.price, event.remaining
                self._rest(order, event.remaining)
        elif isinstance(event, TradeExecuted):
            self._trade(event)
        elif isinstance(event, OrderCancelled):
            order = self.orders.get(event.order_id)
            if order is not None:
                self._rest(order, -order.remaining)
                order.remaining = 0
                self._finish(order)
        elif isinstance(event, OrderReduced):
            order = self.orders.get(event.order_id)
            if order is not None:
                self._rest(order, event.remaining - order.remaining)
                order.remaining = event.remaining
                order.changes += 1
        elif isinstance(event, OrderAmended):
            order = self.orders.get(event.order_id)
            if order is not None:
                self._rest(order, -order.remaining)
                order.price, order.remaining = event.price, event.remaining
                self._rest(order, event.remaining)
                order.changes += 1
        elif isinstance(event, MarkPriceUpdated):
            self.marks[event.instrument] = event.price
        elif isinstance(event, AccountOpened):
            self.accounts.add(event.account)
        elif isinstance(event, IndexPriceUpdated):
            self.index_prices[event.index] = event.price
        elif isinstance(event, PositionTakenOver):
            self._move(event.account, event.instrument, -event.size)
        elif isinstance(event, PositionDeleveraged):
            self._move(event.counterparty, event.instrument, -event.size)
            self._move(event.account, event.instrument, event.size)
        elif isinstance(event, PositionSettled):
            self._move(event.account, event.instrument, -event.size)
        elif isinstance(event, InstrumentListed):
            spec = next((s for s in self._proposed.values() if s.id == event.instrument), None)
            if spec is not None:
                self.specs[spec.id] = spec

    def _trade(self, trade: TradeExecuted) -> None:
        buyer, seller = (
            (trade.taker_account, trade.maker_account)
            if trade.taker_side is Side.BUY
            else (trade.maker_account, trade.taker_account)
        )
        self._move(buyer, trade.instrument, trade.size)
        self._move(seller, trade.instrument, -trade.size)
        maker = self.orders.get(trade.maker_order_id)
        if maker is not None:
            self._rest(maker, -trade.size)
            maker.remaining = trade.maker_remaining
            maker.filled += trade.size
            if not maker.remaining:
                self._finish(maker)
        taker = self.orders.get(trade.taker_order_id)
        if taker is not None:
            taker.filled += trade.size
            if not trade.taker_remaining:
                self._finish(taker)
        self._touched(trade.instrument)

    def _move(self, account: str, instrument: str, lots: int) -> None:
        key = (account, instrument)
        size = self.positions.get(key, 0) + lots
        if size:
            self.positions[key] = size
        else:
            self.positions.pop(key, None)
