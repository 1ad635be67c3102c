"""Baseline: a plain price-level order book on sortedcontainers, with no checks at all.

It replays exactly the workload of `clearhouse bench core` (`generate_workload`) and
times each transaction the same way (`time.perf_counter_ns` around it), but does
none of the engine's work beyond matching: no margin, no ledger, no positions, no
self-trade prevention, no invariants, no hashing. The ratio of its throughput to
the core's is what the core's safety costs.

Each instrument has two sides, a `SortedDict` from price (in ticks) to a FIFO deque
of resting orders, and one dict from order id to order serves cancels. A cancel
zeroes the order and leaves it in its deque until it reaches the front (or the deque
is compacted), the same lazy removal the engine's book uses, so the ratio measures
the checks rather than an O(level) `deque.remove`. Prices are in ticks
(`price // tick_size`), like the engine. A market order is a limit at the engine's
collar: mark +/- mark * market_collar_bps // 10_000 ticks, the mark being the index
price rounded half up to the tick. Of the workload's set-up only the OracleUpdates
are applied (for the marks); deposits are ignored. Order ids are sequence numbers.

    .venv/bin/python benchmarks/sorted_book.py --orders 1000000 --seed 7 [--compare]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, Final

from sortedcontainers import SortedDict

from clearhouse.bench.workload import (
    GC_NOTE,
    Workload,
    frozen_heap,
    generate_workload,
    latency_figures,
)
from clearhouse.core import (
    CancelOrder,
    Kind,
    OracleUpdate,
    OrderType,
    PlaceOrder,
    Sequenced,
    Side,
    TimeInForce,
    default_catalogue,
)

MARKET_COLLAR_BPS: Final = 500
COMPACT_SLACK: Final = 16


class Order:
    __slots__ = ("is_buy", "order_id", "price", "remaining")

    def __init__(self, order_id: int, is_buy: bool, price: int, remaining: int) -> None:
        self.order_id = order_id
        self.is_buy = is_buy
        self.price = price
        self.remaining = remaining


class Level(deque[Order]):
    """The FIFO of one price. Cancelled orders (remaining 0) stay until they reach the
    front or the level is compacted; `live` counts the others, and the level leaves the
    book when it reaches 0, so a level in the book always holds a live order.
    """

    __slots__ = ("live",)

    def __init__(self, orders: Iterable[Order] = ()) -> None:
        super().__init__(orders)
        self.live = len(self)


class Book:
    """One instrument's book: price (ticks) -> FIFO of orders, per side."""

    __slots__ = ("asks", "bids", "mark", "tick_size")

    def __init__(self, tick_size: int) -> None:
        self.tick_size = tick_size
        self.mark = 0
        self.bids: SortedDict[int, Level] = SortedDict()
        self.asks: SortedDict[int, Level] = SortedDict()

    def best_bid(self) -> int | None:
        return self.bids.peekitem(-1)[0] if self.bids else None

    def best_ask(self) -> int | None:
        return self.asks.peekitem(0)[0] if self.asks else None


class SortedBookExchange:
    """Every instrument's book plus the order-id index; `apply` handles one transaction."""

    def __init__(self) -> None:
        self.books: dict[str, Book] = {}
        self.books_on_index: dict[str, list[Book]] = {}
        for spec in default_catalogue():
            book = Book(spec.tick_size)
            self.books[spec.id] = book
            if spec.kind is not Kind.OPTION:
                self.books_on_index.setdefault(spec.index, []).append(book)
        self.orders: dict[int, tuple[Book, Order]] = {}

    def apply(self, tx: Sequenced) -> int:
        """Handle one transaction: the number of fills it made, or -1 if it was refused."""
        payload = tx.tx.payload
        kind = type(payload)
        if kind is PlaceOrder:
            return self._place(payload, tx.seq)  # type: ignore[arg-type]
        if kind is CancelOrder:
            return self._cancel(payload)  # type: ignore[arg-type]
        if kind is OracleUpdate:
            return self._oracle(payload)  # type: ignore[arg-type]
        return -1

    def _place(self, tx: PlaceOrder, order_id: int) -> int:
        book = self.books[tx.instrument]
        is_buy = tx.side is Side.BUY
        if tx.order_type is OrderType.MARKET:
            mark = book.mark
            collar = mark * MARKET_COLLAR_BPS // 10_000
            limit = mark + collar if is_buy else max(1, mark - collar)
        else:
            limit = tx.price // book.tick_size  # type: ignore[operator]
        remaining = tx.size
        fills = 0
        orders = self.orders
        if is_buy:
            levels = book.asks
            best = 0
        else:
            levels = book.bids
            best = -1
        while remaining and levels:
            price, level = levels.peekitem(best)
            if (price > limit) if is_buy else (price < limit):
                break
            while remaining:
                maker = level[0]
                size = maker.remaining
                if not size:  # cancelled: drop it now that it is at the front
                    level.popleft()
                    continue
                fills += 1
                if size <= remaining:
                    remaining -= size
                    maker.remaining = 0
                    level.popleft()
                    del orders[maker.order_id]
                    level.live -= 1
                    if not level.live:
                        del levels[price]
                        break
                else:
                    maker.remaining = size - remaining
                    remaining = 0
        if remaining and tx.time_in_force is TimeInForce.GTC:
            order = Order(order_id, is_buy, limit, remaining)
            side = book.bids if is_buy else book.asks
            resting = side.get(limit)
            if resting is None:
                side[limit] = Level((order,))
            else:
                resting.append(order)
                resting.live += 1
            orders[order_id] = (book, order)
        return fills

    def _cancel(self, tx: CancelOrder) -> int:
        entry = self.orders.pop(tx.order_id, None)
        if entry is None:
            return -1
        book, order = entry
        side = book.bids if order.is_buy else book.asks
        price = order.price
        level = side[price]
        order.remaining = 0
        level.live -= 1
        if not level.live:
            del side[price]
        elif level[0] is order:
            level.popleft()
            while not level[0].remaining:
                level.popleft()
        elif len(level) > 2 * level.live + COMPACT_SLACK:
            side[price] = Level(o for o in level if o.remaining)
        return 0

    def _oracle(self, tx: OracleUpdate) -> int:
        books = self.books_on_index.get(tx.index)
        if books is None:
            return -1
        for book in books:
            tick = book.tick_size
            book.mark = max(1, (tx.price + tick // 2) // tick)
        return 0


def replay(workload: Workload) -> tuple[dict[str, Any], SortedBookExchange]:
    """Replay a workload, timing each transaction; the result and the final books."""
    exchange = SortedBookExchange()
    for tx in workload.setup:
        if type(tx.tx.payload) is OracleUpdate:
            exchange.apply(tx)
    apply = exchange.apply
    clock = time.perf_counter_ns
    latencies = [0] * len(workload.orders)
    fills = rejects = 0
    with frozen_heap():
        started = clock()
        for i, tx in enumerate(workload.orders):
            t0 = clock()
            outcome = apply(tx)
            latencies[i] = clock() - t0
            if outcome >= 0:
                fills += outcome
            else:
                rejects += 1
        elapsed_ns = clock() - started
    result = {
        "benchmark": "sorted_book",
        "orders": len(latencies),
        "seed": workload.seed,
        **latency_figures(latencies, elapsed_ns),
        "fills": fills,
        "rejects": rejects,
        "gc": GC_NOTE,
    }
    return result, exchange


def run_sorted_book(orders: int, seed: int) -> dict[str, Any]:
    return replay(generate_workload(orders, seed))[0]


def run_compare(orders: int, seed: int) -> dict[str, Any]:
    """The baseline, then the core on the same workload in the same process."""
    from clearhouse.bench import run_core_bench

    baseline = run_sorted_book(orders, seed)
    core = run_core_bench(orders, seed)
    return {
        "benchmark": "sorted_book_vs_core",
        "orders": orders,
        "seed": seed,
        "sorted_book": baseline,
        "core": core,
        "safety_cost": round(baseline["tx_per_s"] / core["tx_per_s"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1_000_000, help="transactions to replay")
    parser.add_argument("--seed", type=int, default=7, help="workload seed")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also run the core on the same workload and print both with safety_cost",
    )
    args = parser.parse_args(argv)
    if args.orders <= 0:
        parser.error("--orders must be positive")
    if args.compare:
        result = run_compare(args.orders, args.seed)
    else:
        result = run_sorted_book(args.orders, args.seed)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
