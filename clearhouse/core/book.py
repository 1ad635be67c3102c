"""The order book of one instrument: price levels in price-time priority.

Each side keeps a dict from price to `Level` and a sorted list of price keys whose
last element is the best price (bids keyed by price, asks by minus price), so the
touch is read in O(1) and a new level is placed by bisection. A level is a FIFO
deque of orders. Cancelling marks the order dead and takes its size off the level
at once; dead entries are skipped and dropped when they reach the front, and a
level whose dead entries outnumber its live ones is compacted, so memory stays
proportional to live orders.

The book only stores and finds; what a fill does to accounts is the engine's work.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import Final

from clearhouse.core.txs import SelfTradePrevention

_COMPACT_SLACK: Final = 16


class Order:
    """A resting order. Mutable: only the engine changes it, inside `apply`."""

    __slots__ = (
        "account",
        "client_order_id",
        "instrument",
        "is_buy",
        "live",
        "order_id",
        "price",
        "remaining",
        "self_trade_prevention",
    )

    def __init__(
        self,
        order_id: int,
        account: str,
        instrument: str,
        is_buy: bool,
        price: int,
        remaining: int,
        client_order_id: str,
        self_trade_prevention: SelfTradePrevention,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.instrument = instrument
        self.is_buy = is_buy
        self.price = price
        self.remaining = remaining
        self.client_order_id = client_order_id
        self.self_trade_prevention = self_trade_prevention
        self.live = True


class Level:
    __slots__ = ("live_count", "orders", "price", "total")

    def __init__(self, price: int) -> None:
        self.price = price
        self.orders: deque[Order] = deque()
        self.total = 0
        self.live_count = 0


class BookSide:
    __slots__ = ("is_bid", "keys", "levels")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.levels: dict[int, Level] = {}
        self.keys: list[int] = []

    def best_price(self) -> int | None:
        keys = self.keys
        if not keys:
            return None
        return keys[-1] if self.is_bid else -keys[-1]

    def best_level(self) -> Level | None:
        keys = self.keys
        if not keys:
            return None
        return self.levels[keys[-1] if self.is_bid else -keys[-1]]

    def levels_from_best(self) -> list[Level]:
        """Levels from the touch outwards (a copy: safe to mutate the side while walking)."""
        levels = self.levels
        if self.is_bid:
            return [levels[key] for key in reversed(self.keys)]
        return [levels[-key] for key in reversed(self.keys)]

    def add(self, order: Order) -> None:
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = Level(price)
            self.levels[price] = level
            key = price if self.is_bid else -price
            keys = self.keys
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.orders.append(order)
        level.total += order.remaining
        level.live_count += 1

    def remove(self, order: Order) -> None:
        """Take a live order off the book (cancel, or fully filled)."""
        level = self.levels[order.price]
        order.live = False
        level.total -= order.remaining
        level.live_count -= 1
        if level.live_count == 0:
            self._drop_level(level)
            return
        orders = level.orders
        if orders[0] is order:
            orders.popleft()
            while not orders[0].live:
                orders.popleft()
        elif len(orders) > 2 * level.live_count + _COMPACT_SLACK:
            level.orders = deque(o for o in orders if o.live)

    def reduce(self, order: Order, size: int) -> None:
        """Take `size` lots off a live order that keeps its place in the queue."""
        order.remaining -= size
        self.levels[order.price].total -= size

    def _drop_level(self, level: Level) -> None:
        del self.levels[level.price]
        key = level.price if self.is_bid else -level.price
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]

    def depth(self, levels_max: int) -> list[tuple[int, int, int]]:
        """Top levels as (price ticks, total lots, live orders), best first."""
        out: list[tuple[int, int, int]] = []
        levels = self.levels
        for key in reversed(self.keys):
            if len(out) == levels_max:
                break
            level = levels[key if self.is_bid else -key]
            out.append((level.price, level.total, level.live_count))
        return out

    def live_orders(self) -> list[Order]:
        """Every live order, best level first, in queue order (used by digests and checks)."""
        return [o for level in self.levels_from_best() for o in level.orders if o.live]


class Book:
    __slots__ = ("asks", "bids", "instrument")

    def __init__(self, instrument: str) -> None:
        self.instrument = instrument
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)

    def side(self, is_buy: bool) -> BookSide:
        return self.bids if is_buy else self.asks

    def opposite(self, is_buy: bool) -> BookSide:
        return self.asks if is_buy else self.bids

    def is_crossed(self) -> bool:
        bid = self.bids.best_price()
        ask = self.asks.best_price()
        return bid is not None and ask is not None and bid >= ask
