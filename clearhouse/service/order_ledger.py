"""Every account's orders and trades as the record tells them, for order-state
and trade-history queries (Deribit's get_order_state, get_open_orders_*,
get_user_trades_*).

The engine keeps what it needs to match (an order's remaining size), not its
history (the size it was placed with, what filled, at what average). The ledger
folds the journal's outcomes into that history (`folds`): read from the record
when the venue starts, then fed each commit on the commit thread (a few
dictionary updates per event). Its memory grows with the orders
and trades the venue has seen; closed orders and trades past
`CLOSED_ORDERS_MAX` and `TRADES_MAX` per account are forgotten, oldest first.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from clearhouse.core import (
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    TradeExecuted,
)

CLOSED_ORDERS_MAX = 1_000
TRADES_MAX = 10_000


@dataclass
class OrderRecord:
    order_id: int
    account: str
    instrument: str
    side: str
    order_type: str
    time_in_force: str
    price: int
    size: int
    post_only: bool
    reduce_only: bool
    label: str
    created_ms: int
    updated_ms: int
    """The sequencer's time of the order's first and latest event, milliseconds."""
    remaining: int
    filled: int = 0
    filled_value: int = 0
    """Sum of price times size over the fills, for the average price."""
    fees: int = 0
    state: str = "open"
    """open, filled or cancelled."""


@dataclass(frozen=True)
class TradeRecord:
    account: str
    seq: int
    timestamp_ms: int
    index: int
    instrument: str
    order_id: int
    side: str
    price: int
    size: int
    fee: int
    maker: bool


@dataclass
class _Account:
    open: dict[int, OrderRecord] = field(default_factory=dict)
    closed: deque[OrderRecord] = field(default_factory=lambda: deque(maxlen=CLOSED_ORDERS_MAX))
    trades: deque[TradeRecord] = field(default_factory=lambda: deque(maxlen=TRADES_MAX))


class OrderLedger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, _Account] = {}
        self._orders: dict[int, OrderRecord] = {}
        """Open orders by id."""
        self.watched: frozenset[str] = frozenset()
        """Accounts whose every change is told to `on_change` (the Deribit feed's
        subscribers), replaced whole when it changes."""
        self.on_change: Callable[[list[OrderRecord], list[TradeRecord]], None] | None = None
        """Told, after each transaction, the watched accounts' orders as it left
        them (copies) and their new trades; on the commit thread."""

    def fold(self, seq: int, stamp_ns: int, events: list[Event]) -> None:
        """One accepted transaction's events (a `folds.Fold`)."""
        stamp = stamp_ns // 10**6
        watched = self.watched
        touched: dict[int, OrderRecord] = {}
        new_trades: list[TradeRecord] = []
        with self._lock:
            for index, event in enumerate(events):
                if isinstance(event, OrderAccepted):
                    record = OrderRecord(
                        event.order_id,
                        event.account,
                        event.instrument,
                        event.side.value,
                        event.order_type.value,
                        event.time_in_force.value,
                        event.price,
                        event.size,
                        event.post_only,
                        event.reduce_only,
                        event.client_order_id,
                        stamp,
                        stamp,
                        event.size,
                    )
                    self._orders[event.order_id] = record
                    self._account(event.account).open[event.order_id] = record
                    if event.account in watched:
                        touched[record.order_id] = record
                elif isinstance(event, TradeExecuted):
                    for order_id, account, fee, maker in (
                        (event.maker_order_id, event.maker_account, event.maker_fee, True),
                        (event.taker_order_id, event.taker_account, event.taker_fee, False),
                    ):
                        found = self._orders.get(order_id)
                        if found is not None:
                            if account in watched:
                                touched[order_id] = found
                            found.filled += event.size
                            found.filled_value += event.price * event.size
                            found.fees += fee
                            found.remaining -= event.size
                            found.updated_ms = stamp
                            if found.remaining <= 0:
                                self._close(found, "filled")
                        side = event.taker_side.value
                        if maker:
                            side = "sell" if side == "buy" else "buy"
                        trade = TradeRecord(
                            account,
                            seq,
                            stamp,
                            index,
                            event.instrument,
                            order_id,
                            side,
                            event.price,
                            event.size,
                            fee,
                            maker,
                        )
                        self._account(account).trades.append(trade)
                        if account in watched:
                            new_trades.append(trade)
                elif isinstance(event, OrderCancelled):
                    found = self._orders.get(event.order_id)
                    if found is not None:
                        if found.account in watched:
                            touched[found.order_id] = found
                        found.updated_ms = stamp
                        self._close(found, "filled" if found.filled == found.size else "cancelled")
                elif isinstance(event, (OrderReduced, OrderAmended)):
                    found = self._orders.get(event.order_id)
                    if found is not None:
                        if found.account in watched:
                            touched[found.order_id] = found
                        found.remaining = event.remaining
                        found.updated_ms = stamp
                        if isinstance(event, OrderAmended):
                            found.price = event.price
                            found.size = found.filled + event.remaining
            changed = [OrderRecord(**vars(r)) for r in touched.values()]
        on_change = self.on_change
        if on_change is not None and (changed or new_trades):
            on_change(changed, new_trades)

    def _account(self, account: str) -> _Account:
        found = self._accounts.get(account)
        if found is None:
            found = self._accounts[account] = _Account()
        return found

    def _close(self, record: OrderRecord, state: str) -> None:
        record.state = state
        self._orders.pop(record.order_id, None)
        book = self._account(record.account)
        if book.open.pop(record.order_id, None) is not None:
            book.closed.append(record)

    # -- reads -------------------------------------------------------------------------

    def order(self, account: str, order_id: int) -> OrderRecord | None:
        with self._lock:
            book = self._accounts.get(account)
            if book is None:
                return None
            found = book.open.get(order_id)
            if found is None:
                found = next((o for o in book.closed if o.order_id == order_id), None)
            return None if found is None else OrderRecord(**vars(found))

    def open_orders(self, account: str) -> list[OrderRecord]:
        with self._lock:
            book = self._accounts.get(account)
            return [] if book is None else [OrderRecord(**vars(o)) for o in book.open.values()]

    def trades(self, account: str) -> list[TradeRecord]:
        """Newest first."""
        with self._lock:
            book = self._accounts.get(account)
            return [] if book is None else list(reversed(book.trades))
