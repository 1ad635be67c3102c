"""The order book of one instrument, driven directly: `Order`, `BookSide`, `Book`.

Prices here are ticks and sizes lots, as the book stores them. A naive reference
side (a flat list scanned in full) runs the same random operations as the real one
at the end, so the fast structure is kept honest by the obvious one.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clearhouse.core.book import Book, BookSide, Order
from clearhouse.core.txs import SelfTradePrevention

_ids = iter(range(1, 10**9))


def order(price: int, size: int, *, is_buy: bool = True, account: str = "a") -> Order:
    return Order(
        next(_ids),
        account,
        "BTC-PERP",
        is_buy,
        price,
        size,
        "",
        SelfTradePrevention.CANCEL_TAKER,
    )


def side_with(is_bid: bool, *levels: tuple[int, int]) -> tuple[BookSide, list[Order]]:
    side = BookSide(is_bid=is_bid)
    orders = []
    for price, size in levels:
        o = order(price, size, is_buy=is_bid)
        side.add(o)
        orders.append(o)
    return side, orders


def queue(side: BookSide, price: int) -> list[tuple[int, bool]]:
    """The raw deque of one level (dead entries included) as (order id, live)."""
    return [(o.order_id, o.live) for o in side.levels[price].orders]


# -- best prices and level order ---------------------------------------------


def test_empty_side_has_no_touch() -> None:
    for is_bid in (True, False):
        side = BookSide(is_bid=is_bid)
        assert side.best_price() is None
        assert side.best_level() is None
        assert side.levels_from_best() == []
        assert side.depth(5) == []
        assert side.live_orders() == []


def test_bids_best_is_highest_and_asks_best_is_lowest() -> None:
    # Inserted out of order: better, worse and in-between prices all land in place.
    bids, _ = side_with(True, (100, 1), (102, 1), (101, 1), (99, 1))
    asks, _ = side_with(False, (100, 1), (102, 1), (101, 1), (99, 1))

    assert bids.best_price() == 102
    assert [level.price for level in bids.levels_from_best()] == [102, 101, 100, 99]
    assert bids.keys == [99, 100, 101, 102]

    assert asks.best_price() == 99
    assert [level.price for level in asks.levels_from_best()] == [99, 100, 101, 102]
    assert asks.keys == [-102, -101, -100, -99]

    best_bid_level = bids.best_level()
    best_ask_level = asks.best_level()
    assert best_bid_level is not None and best_bid_level.price == 102
    assert best_ask_level is not None and best_ask_level.price == 99


def test_price_time_priority_in_live_orders() -> None:
    # Table: (price, size) in arrival order -> expected queue (best price first, FIFO within).
    bids, placed = side_with(True, (100, 5), (101, 1), (100, 2), (101, 3), (99, 7))
    first_100, first_101, second_100, second_101, only_99 = placed
    assert bids.live_orders() == [first_101, second_101, first_100, second_100, only_99]

    asks, placed = side_with(False, (100, 5), (101, 1), (100, 2), (99, 7))
    first_100, only_101, second_100, only_99 = placed
    assert asks.live_orders() == [only_99, first_100, second_100, only_101]


def test_level_total_and_live_count_follow_adds() -> None:
    bids, _ = side_with(True, (100, 5), (100, 2), (100, 4), (98, 1))
    level = bids.levels[100]
    assert (level.total, level.live_count, len(level.orders)) == (11, 3, 3)
    assert (bids.levels[98].total, bids.levels[98].live_count) == (1, 1)


# -- removal: lazy, front-trimming, level dropping, compaction -----------------


def test_remove_from_middle_is_lazy() -> None:
    bids, (a, b, c) = side_with(True, (100, 5), (100, 2), (100, 4))
    bids.remove(b)
    level = bids.levels[100]
    assert b.live is False
    # The dead entry stays in the deque, but totals move at once.
    assert queue(bids, 100) == [(a.order_id, True), (b.order_id, False), (c.order_id, True)]
    assert (level.total, level.live_count) == (9, 2)
    assert bids.live_orders() == [a, c]
    assert bids.depth(1) == [(100, 9, 2)]


def test_remove_front_also_drops_dead_entries_behind_it() -> None:
    bids, (a, b, c, d) = side_with(True, (100, 5), (100, 2), (100, 4), (100, 1))
    bids.remove(b)
    bids.remove(c)
    assert len(bids.levels[100].orders) == 4
    bids.remove(a)
    # a popped from the front, then the dead b and c behind it: d is the new front.
    assert queue(bids, 100) == [(d.order_id, True)]
    assert (bids.levels[100].total, bids.levels[100].live_count) == (1, 1)


def test_removing_last_live_order_drops_the_level() -> None:
    asks, (best, middle, worst) = side_with(False, (100, 1), (101, 1), (102, 1))

    asks.remove(middle)  # a level that is not the touch: found by bisection
    assert 101 not in asks.levels
    assert asks.keys == [-102, -100]
    assert asks.best_price() == 100

    asks.remove(best)  # the touch itself: popped from the end of the keys
    assert asks.keys == [-102]
    assert asks.best_price() == 102

    asks.remove(worst)
    assert asks.levels == {}
    assert asks.keys == []
    assert asks.best_price() is None


def test_level_with_dead_and_live_orders_is_dropped_once_all_are_gone() -> None:
    bids, (a, b) = side_with(True, (100, 1), (100, 1))
    bids.remove(b)  # lazy: b stays behind a
    bids.remove(a)
    assert 100 not in bids.levels
    assert bids.keys == []
    # A new order at the same price opens a fresh level without the old dead entry.
    c = order(100, 3)
    bids.add(c)
    assert queue(bids, 100) == [(c.order_id, True)]


def test_compaction_when_dead_entries_outnumber_live_ones() -> None:
    # 40 orders at one level; remove from behind the front so nothing is trimmed.
    # Compaction happens when len(deque) > 2 * live + 16, i.e. 40 > 2 * (40 - k) + 16,
    # first at k = 29 removals, leaving exactly the 11 live orders.
    bids, placed = side_with(True, *[(100, 1)] * 40)
    level = bids.levels[100]
    for victim in placed[1:29]:
        bids.remove(victim)
    assert (len(level.orders), level.live_count) == (40, 12)
    bids.remove(placed[29])
    level = bids.levels[100]
    assert (len(level.orders), level.live_count, level.total) == (11, 11, 11)
    assert list(level.orders) == [placed[0], *placed[30:]]
    assert all(o.live for o in level.orders)


def test_reduce_keeps_queue_place_and_updates_total() -> None:
    asks, (a, b) = side_with(False, (100, 5), (100, 2))
    asks.reduce(a, 3)
    assert a.remaining == 2
    assert asks.live_orders() == [a, b]
    assert (asks.levels[100].total, asks.levels[100].live_count) == (4, 2)


# -- depth ----------------------------------------------------------------------


def test_depth_aggregates_top_levels_best_first() -> None:
    bids, placed = side_with(True, (100, 5), (100, 2), (101, 1), (99, 4), (98, 8), (100, 6))
    bids.remove(placed[1])  # 2 lots at 100 leave the aggregate and the count
    # Table: levels asked -> (price, total lots, live orders) from the touch outwards.
    assert bids.depth(1) == [(101, 1, 1)]
    assert bids.depth(2) == [(101, 1, 1), (100, 11, 2)]
    assert bids.depth(3) == [(101, 1, 1), (100, 11, 2), (99, 4, 1)]
    assert bids.depth(10) == [(101, 1, 1), (100, 11, 2), (99, 4, 1), (98, 8, 1)]

    asks, _ = side_with(False, (105, 3), (103, 1), (103, 1), (104, 2))
    assert asks.depth(2) == [(103, 2, 2), (104, 2, 1)]


# -- the whole book -------------------------------------------------------------


def test_book_sides_and_crossing() -> None:
    book = Book("BTC-PERP")
    assert book.side(True) is book.bids and book.opposite(True) is book.asks
    assert book.side(False) is book.asks and book.opposite(False) is book.bids
    # Table: (bids, asks) -> crossed?
    cases: list[tuple[list[int], list[int], bool]] = [
        ([], [], False),
        ([100], [], False),
        ([], [100], False),
        ([99], [100], False),
        ([100], [100], True),
        ([101], [100], True),
        ([98, 99], [100, 101], False),
        ([98, 101], [100, 102], True),
    ]
    for bid_prices, ask_prices, crossed in cases:
        book = Book("BTC-PERP")
        for price in bid_prices:
            book.bids.add(order(price, 1, is_buy=True))
        for price in ask_prices:
            book.asks.add(order(price, 1, is_buy=False))
        assert book.is_crossed() is crossed, (bid_prices, ask_prices)


# -- the fast side against a naive one -----------------------------------------


class NaiveSide:
    """Everything in one list in arrival order; every query scans it all."""

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.orders: list[Order] = []

    def live(self) -> list[Order]:
        live = [o for o in self.orders if o.live]
        # Stable sort: best price first, arrival order within a price.
        return sorted(live, key=lambda o: -o.price if self.is_bid else o.price)

    def depth(self, levels_max: int) -> list[tuple[int, int, int]]:
        out: dict[int, list[int]] = {}
        for o in self.live():
            entry = out.setdefault(o.price, [0, 0])
            entry[0] += o.remaining
            entry[1] += 1
        return [(price, total, count) for price, (total, count) in out.items()][:levels_max]


operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "remove", "remove_front", "reduce"]),
        st.integers(95, 105),
        st.integers(1, 5),
        st.integers(0, 10**6),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(is_bid=st.booleans(), ops=operations)
def test_book_side_matches_naive_reference(
    is_bid: bool, ops: list[tuple[str, int, int, int]]
) -> None:
    fast = BookSide(is_bid=is_bid)
    naive = NaiveSide(is_bid)
    for op, price, size, pick in ops:
        live = naive.live()
        if op == "add" or not live:
            o = order(price, size, is_buy=is_bid)
            fast.add(o)
            naive.orders.append(o)
        elif op == "remove":
            fast.remove(live[pick % len(live)])
        elif op == "remove_front":
            fast.remove(live[0])
        else:
            target = live[pick % len(live)]
            if target.remaining > 1:
                fast.reduce(target, 1 + pick % (target.remaining - 1))
        assert fast.live_orders() == naive.live()
        assert fast.depth(3) == naive.depth(3)
        expected_best = naive.live()[0].price if naive.live() else None
        assert fast.best_price() == expected_best
        assert len(fast.keys) == len(fast.levels)
        for level in fast.levels.values():
            live_here = [o for o in level.orders if o.live]
            assert level.live_count == len(live_here) > 0
            assert level.total == sum(o.remaining for o in live_here)
            # Dead entries are trimmed from the front, so the head of a queue is live.
            assert level.orders[0].live
