"""Positions and the arithmetic of a fill: `fill_position`, by hand and at random.

Prices are ticks and sizes lots; realized P&L comes back in ticks x lots, so every
expected number below is a product a reader can check on paper.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from clearhouse.core import (
    Accepted,
    Deposit,
    Payload,
    PlaceOrder,
    Side,
    TimeInForce,
    TradeExecuted,
)
from clearhouse.core.catalogue import default_catalogue
from clearhouse.core.ledger import Account, Position, fill_position
from clearhouse.core.market import Market
from clearhouse.testing import TestVenue, standard_genesis

PERP_SPEC = next(spec for spec in default_catalogue() if spec.id == "BTC-PERP")
TICK_VALUE = PERP_SPEC.tick_value  # 500 units per lot per tick


def position(qty: int = 0, cost: int = 0) -> Position:
    held = Position(Market(PERP_SPEC))
    held.qty = qty
    held.cost = cost
    return held


def test_tick_value_of_the_perpetual() -> None:
    # 0.5 USD tick x 0.001 BTC contract = 0.0005 USD = 500 micro-units per lot per tick.
    assert TICK_VALUE == 500_000 * 100_000 // 10**8 == 500


# Table: (qty, cost) before, signed fill (buy > 0) at price -> realized, (qty, cost) after.
FILLS = [
    # opening
    ((0, 0), +3, 100, 0, (3, 300)),
    ((0, 0), -2, 100, 0, (-2, -200)),
    # adding: cost is the plain sum of price x size
    ((3, 300), +2, 110, 0, (5, 520)),
    ((-2, -200), -3, 90, 0, (-5, -470)),
    # partial reduction, exact: releases 2/5 of 520 = 208; sells 2 at 120 = 240
    ((5, 520), -2, 120, 240 - 208, (3, 312)),
    # partial reduction of a short, exact: releases 2/5 of -470 = -188; buys 2 at 80
    ((-5, -470), +2, 80, -160 + 188, (-3, -282)),
    # partial reduction, inexact long: 310 // 3 = 103 released, realized 100 - 103
    ((3, 310), -1, 100, -3, (2, 207)),
    # partial reduction, inexact short: -310 // 3 = -104 released (towards -inf)
    ((-3, -310), +1, 100, -100 + 104, (-2, -206)),
    # full reduction releases the whole basis
    ((5, 520), -5, 100, 500 - 520, (0, 0)),
    ((-5, -470), +5, 100, -500 + 470, (0, 0)),
    # flip through zero: close 3 at 110 against 300, open 2 short at 110
    ((3, 300), -5, 110, 330 - 300, (-2, -220)),
    # flip the other way: close 2 short (basis -200) at 90, open 3 long at 90
    ((-2, -200), +5, 90, -180 + 200, (3, 270)),
    # flip with an inexact basis: the whole basis goes, whatever the rounding would be
    ((3, 310), -4, 100, 300 - 310, (-1, -100)),
]


def test_fill_position_table() -> None:
    for (qty, cost), signed, price, realized, (qty_after, cost_after) in FILLS:
        held = position(qty, cost)
        got = fill_position(held, signed, price)
        case = ((qty, cost), signed, price)
        assert got == realized, case
        assert (held.qty, held.cost) == (qty_after, cost_after), case
        # Whatever the rounding, cash (+= realized) minus cost moves by -signed x price.
        assert got - (held.cost - cost) == -signed * price, case


def test_average_entry_is_exact_over_adds() -> None:
    held = position()
    fills = [(3, 100_001), (7, 99_999), (1, 100_500), (4, 98_765)]
    for size, price in fills:
        assert fill_position(held, size, price) == 0
    expected_cost = 3 * 100_001 + 7 * 99_999 + 1 * 100_500 + 4 * 98_765
    assert (held.qty, held.cost) == (15, expected_cost)
    # The average entry is cost / qty as an exact fraction: nothing was rounded into state.
    assert Fraction(held.cost, held.qty) == Fraction(expected_cost, 15)


def test_even_partial_reduction_keeps_average_entry() -> None:
    held = position(4, 402)  # average 100.5
    realized = fill_position(held, -2, 103)
    assert realized == 2 * 103 - 201
    assert Fraction(held.cost, held.qty) == Fraction(201, 2)
    realized = fill_position(held, -1, 99)
    assert realized == 99 - 100  # releases 201 // 2 = 100
    assert (held.qty, held.cost) == (1, 101)


def test_many_small_reductions_release_the_whole_basis() -> None:
    # Rounding in each partial release never leaks: closing the last lot releases the rest.
    held = position(7, 700_003)
    realized_total = 0
    for _ in range(7):
        realized_total += fill_position(held, -1, 100_000)
    assert (held.qty, held.cost) == (0, 0)
    assert realized_total == 7 * 100_000 - 700_003


def test_position_open_order_aggregates() -> None:
    held = position()
    assert held.is_empty()
    held.add_open(True, 100, 3)
    held.add_open(True, 101, 2)
    held.add_open(False, 105, 4)
    held.add_open(True, 100, 1)
    assert (held.open_buy, held.buy_levels) == (6, {100: 4, 101: 2})
    assert (held.open_sell, held.sell_levels) == (4, {105: 4})
    assert not held.is_empty()
    # Losses if filled on the wrong side of a mark: buys above it, sells below it;
    # the larger side counts.
    assert held.adverse_at(100) == 1 * 2
    assert held.adverse_at(99) == 4 * 1 + 2 * 2
    assert held.adverse_at(101) == 0
    assert held.adverse_at(107) == 4 * 2
    # The cache follows changes made at a fixed mark exactly.
    held.add_open(True, 110, 5)
    assert held.adverse_at(107) == max(5 * 3, 4 * 2)
    held.add_open(False, 100, 1)
    assert held.adverse_at(107) == max(5 * 3, 4 * 2 + 7)
    held.add_open(False, 100, -1)
    held.add_open(True, 110, -5)
    assert held.adverse_at(107) == 4 * 2
    held.add_open(True, 100, -4)
    held.add_open(True, 101, -2)
    held.add_open(False, 105, -4)
    assert held.is_empty()
    assert (held.buy_levels, held.sell_levels) == ({}, {})
    assert held.adverse_at(107) == held.adverse_at(50) == 0


open_order_changes = st.lists(
    st.one_of(
        # Add an order (is_buy, price, lots), or cancel the n-th still open, or move the mark.
        st.tuples(st.just("add"), st.booleans(), st.integers(90, 110), st.integers(1, 5)),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("mark"), st.integers(85, 115)),
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(changes=open_order_changes)
def test_adverse_cache_and_price_bounds_follow_orders_and_marks(
    changes: list[tuple[object, ...]],
) -> None:
    # The cache must equal the loss recomputed from scratch after any run of orders,
    # cancels and mark moves; a mark move skips the levels only when the bounds prove
    # that no buy is above it and no sell below it, so the bounds must always hold.
    held = position()
    orders: list[tuple[bool, int, int]] = []
    mark = 100
    for change in changes:
        if change[0] == "add":
            _, is_buy, price, size = change
            assert isinstance(is_buy, bool) and isinstance(price, int) and isinstance(size, int)
            held.add_open(is_buy, price, size)
            orders.append((is_buy, price, size))
        elif change[0] == "cancel" and orders:
            assert isinstance(change[1], int)
            is_buy, price, size = orders.pop(change[1] % len(orders))
            held.add_open(is_buy, price, -size)
        elif change[0] == "mark":
            assert isinstance(change[1], int)
            mark = change[1]
        buys = sum((p - mark) * q for b, p, q in orders if b and p > mark)
        sells = sum((mark - p) * q for b, p, q in orders if not b and p < mark)
        assert held.adverse_at(mark) == max(buys, sells)
        assert (held.adverse_buy, held.adverse_sell) == (buys, sells)
        assert all(p <= held.buy_high for p in held.buy_levels)
        assert all(held.sell_low <= p for p in held.sell_levels)
        assert held.buy_high or not held.buy_levels
        assert held.sell_low or not held.sell_levels


def test_a_pass_over_the_levels_tightens_the_bounds() -> None:
    held = position()
    held.add_open(True, 100, 1)
    held.add_open(True, 104, 1)
    held.add_open(False, 96, 1)
    held.add_open(False, 108, 1)
    held.add_open(True, 104, -1)
    held.add_open(False, 96, -1)
    # Cancels leave the bounds wide: they stay true, only looser.
    assert (held.buy_high, held.sell_low) == (104, 96)
    assert held.adverse_at(102) == 0
    assert (held.buy_high, held.sell_low) == (100, 108)
    # All buys at or below and all sells at or above the mark: no pass is needed.
    assert held.adverse_at(101) == 0
    assert held.adverse_at(99) == 1


def test_account_position_is_created_once() -> None:
    account = Account("alice")
    market = Market(PERP_SPEC)
    first = account.position(market)
    assert account.position(market) is first
    assert list(account.positions) == ["BTC-PERP"]


# -- conservation across two counterparties -------------------------------------

trades = st.lists(
    st.tuples(st.booleans(), st.integers(1, 9), st.integers(190_000, 210_000)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=500, deadline=None)
@given(trades=trades)
def test_fill_conserves_cash_minus_cost_between_counterparties(
    trades: list[tuple[bool, int, int]],
) -> None:
    """A buys what B sells; cash(units) - cost x tick value sums to zero after every fill.

    Beside it, an exact model with a fractional cost basis: the integer basis never
    falls below it and drifts above it by less than one tick-lot per partial
    reduction since the position last went through zero.
    """
    books = {name: position() for name in "AB"}
    cash = dict.fromkeys("AB", 0)
    paid = dict.fromkeys("AB", 0)  # -sum(signed x price), ticks x lots
    exact_cost = dict.fromkeys("AB", Fraction(0))
    partials = dict.fromkeys("AB", 0)
    for a_buys, size, price in trades:
        signed_a = size if a_buys else -size
        for name, signed in (("A", signed_a), ("B", -signed_a)):
            held = books[name]
            qty_before = held.qty
            realized = fill_position(held, signed, price)
            cash[name] += realized * TICK_VALUE
            paid[name] -= signed * price
            # Exact average-cost model.
            if qty_before == 0 or (qty_before > 0) == (signed > 0):
                exact_cost[name] += signed * price
            elif abs(signed) < abs(qty_before):
                exact_cost[name] -= exact_cost[name] * Fraction(abs(signed), abs(qty_before))
                partials[name] += 1
            else:
                exact_cost[name] = Fraction((signed + qty_before) * price)
                partials[name] = 0
            assert held.qty == qty_before + signed
            assert cash[name] - held.cost * TICK_VALUE == paid[name] * TICK_VALUE
            drift = held.cost - exact_cost[name]
            assert drift >= 0
            assert drift == 0 if partials[name] == 0 else drift < partials[name]
            if held.qty == 0:
                assert held.cost == 0
        assert books["A"].qty == -books["B"].qty
        total = sum(cash[n] - books[n].cost * TICK_VALUE for n in "AB")
        assert total == 0


# -- the same identity through the engine ----------------------------------------

GENESIS = standard_genesis(("maker", "taker"))
INDEX_UNITS = 100_000 * 10**6
TICK = PERP_SPEC.tick_size


@settings(max_examples=200, deadline=None)
@given(
    trades=st.lists(
        st.tuples(st.booleans(), st.integers(1, 5), st.integers(-40, 40)),
        min_size=1,
        max_size=12,
    ),
    mark_offset=st.integers(-400, 400),
)
def test_engine_cash_plus_unrealized_is_deposits_less_fees(
    trades: list[tuple[bool, int, int]], mark_offset: int
) -> None:
    """Two accounts trade at random prices; at any common mark, the sum of cash and
    unrealized P&L is what was deposited less the fees the venue kept."""
    venue = TestVenue(GENESIS)
    engine = venue.engine

    def apply(payload: Payload) -> Accepted:
        outcome = venue.apply(payload)
        assert isinstance(outcome, Accepted), outcome
        return outcome

    def oracle(price: int) -> None:
        outcome = venue.oracle("BTC-USD", price)
        assert isinstance(outcome, Accepted), outcome

    deposit = 10**12
    apply(Deposit("maker", "USDC", deposit))
    apply(Deposit("taker", "USDC", deposit))
    oracle(INDEX_UNITS)
    fees = 0
    realized = {"maker": 0, "taker": 0}
    for taker_buys, size, offset in trades:
        price = INDEX_UNITS + offset * TICK
        maker_side, taker_side = (Side.SELL, Side.BUY) if taker_buys else (Side.BUY, Side.SELL)
        apply(PlaceOrder("maker", "BTC-PERP", maker_side, size, price=price))
        events = apply(
            PlaceOrder(
                "taker",
                "BTC-PERP",
                taker_side,
                size,
                price=price,
                time_in_force=TimeInForce.IOC,
            )
        ).events
        (trade,) = [e for e in events if isinstance(e, TradeExecuted)]
        assert (trade.size, trade.price) == (size, price)
        fees += trade.maker_fee + trade.taker_fee
        realized["maker"] += trade.maker_realized_pnl
        realized["taker"] += trade.taker_realized_pnl
    oracle(INDEX_UNITS + mark_offset * TICK)  # the book is empty: the mark is the index

    held = 0
    for name in ("maker", "taker"):
        view = engine.account(name)
        assert view is not None
        value = sum(p.value for p in view.positions)
        held += view.cash + value
        # Per account: cash is the deposit plus realized P&L less its own fees.
        assert view.equity == view.cash + value
    assert held == 2 * deposit - fees
    totals = engine.totals()
    assert totals["fees"] == fees
    assert totals["cash"] - totals["linear_cost"] + totals["fees"] == totals["deposits"]
    assert totals["cash"] == 2 * deposit + sum(realized.values()) - fees
    engine.check_invariants()
