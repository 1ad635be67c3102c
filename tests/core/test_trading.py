"""The trading family through the engine: PlaceOrder, CancelOrder, CancelAll, AmendOrder.

Each scenario is a short run of transactions and the exact events or rejection code
each must give. Prices are written in whole USD and converted to wire units
(USDC micro-units per BTC); BTC-PERP trades 0.001 BTC lots on a 0.5 USD tick, so
one lot is worth 100 USD at 100,000 USD and a tick is worth 500 units per lot.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from clearhouse.core import (
    Accepted,
    AddSubKey,
    AmendOrder,
    CancelAll,
    CancelOrder,
    CancelReason,
    Deposit,
    EngineConfig,
    ErrorCode,
    Event,
    ExpiryQuote,
    Instrument,
    Kind,
    MarkPriceUpdated,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    OrderType,
    Payload,
    PlaceOrder,
    Rejected,
    Rejection,
    RevokeSubKey,
    RotateSubKey,
    SelfTradePrevention,
    Side,
    SubKeyAdded,
    SubKeyRevoked,
    SubKeyRotated,
    SubKeyScope,
    TimeInForce,
    TradeExecuted,
    Transfer,
    Withdraw,
)
from clearhouse.core.catalogue import expiry_ns
from clearhouse.core.instruments import validate_spec
from clearhouse.testing import TestVenue, signer_for, standard_genesis

BUY, SELL = Side.BUY, Side.SELL
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
MARKET = OrderType.MARKET
PERP = "BTC-PERP"
FUTURE = "BTC-25DEC26"
CALL = "BTC-25DEC26-100000-C"
START_NS = 1_700_000_000 * 10**9  # November 2023, long before any listed expiry
FUNDS = 1_000_000 * 10**6  # a million USDC each


def usd(amount: int | str) -> int:
    """Whole or decimal USD to settlement micro-units."""
    units = Decimal(amount) * 10**6
    assert units == units.to_integral_value()
    return int(units)


TRADERS = ("alice", "bob", "carol", "nobody")  # "nobody" holds a key but no account


class Venue(TestVenue):
    """A TestVenue with a slower clock: every transaction gets the next seq, 1 ms later."""

    def __init__(
        self,
        traders: tuple[str, ...] = TRADERS,
        instruments: list[Instrument] | None = None,
        config: EngineConfig | None = None,
    ) -> None:
        genesis = standard_genesis(
            traders, None if instruments is None else tuple(instruments), config
        )
        super().__init__(genesis, start_ns=START_NS, step_ns=1_000_000)

    @property
    def seq(self) -> int:
        return self.engine.seq

    def accept(
        self, payload: Payload, at_ns: int | None = None, by: str | None = None
    ) -> list[Event]:
        outcome = self.apply(payload, by, at_ns)
        assert isinstance(outcome, Accepted), outcome
        return outcome.events

    def mark(self, index_price: int, expiries: tuple[ExpiryQuote, ...] = ()) -> list[Event]:
        """An accepted BTC-USD oracle update, observed as it is sequenced."""
        outcome = self.oracle("BTC-USD", index_price, expiries)
        assert isinstance(outcome, Accepted), outcome
        return outcome.events

    def refuse(
        self, payload: Payload, code: ErrorCode, at_ns: int | None = None, by: str | None = None
    ) -> None:
        """The transaction is rejected with `code` and the state is exactly as before."""
        digest = self.engine.digest()
        outcome = self.apply(payload, by, at_ns)
        assert isinstance(outcome, Rejected), outcome
        assert outcome.code is code, outcome
        assert self.engine.digest() == digest

    def place(
        self,
        account: str,
        side: Side,
        size: int,
        price: int | str | None = None,
        instrument: str = PERP,
        **options: Any,
    ) -> list[Event]:
        return self.accept(order(account, side, size, price, instrument, **options))

    def cash(self, account: str) -> int:
        view = self.engine.account(account)
        assert view is not None
        return view.cash

    def position(self, account: str, instrument: str = PERP) -> tuple[int, int, int]:
        """(size, open buy lots, open sell lots), zeros when the account holds nothing."""
        view = self.engine.account(account)
        assert view is not None
        for held in view.positions:
            if held.instrument == instrument:
                return held.size, held.open_buy, held.open_sell
        return 0, 0, 0

    def book(self, instrument: str = PERP) -> tuple[list[tuple[str, int, int]], ...]:
        """Depth as ((price USD, lots, orders) bids, asks), prices as decimal strings."""
        depth = self.engine.depth(instrument, 10)
        assert not isinstance(depth, Rejection)
        return tuple(
            [(str(Decimal(level.price) / 10**6), level.size, level.orders) for level in side]
            for side in (depth.bids, depth.asks)
        )


def order(
    account: str,
    side: Side,
    size: int,
    price: int | str | None = None,
    instrument: str = PERP,
    **options: Any,
) -> PlaceOrder:
    return PlaceOrder(
        account,
        instrument,
        side,
        size,
        price=None if price is None else usd(price),
        **options,
    )


def opened(accounts: tuple[str, ...] = ("alice", "bob", "carol"), **venue: Any) -> Venue:
    """Funded accounts and BTC at 100,000 USD (marks BTC-PERP and the futures)."""
    v = Venue(traders=(*accounts, "nobody"), **venue)
    for account in accounts:
        v.accept(Deposit(account, "USDC", FUNDS))
    v.mark(usd(100_000))
    return v


def accepted(
    order_id: int,
    account: str,
    side: Side,
    price: int | str,
    size: int,
    *,
    instrument: str = PERP,
    order_type: OrderType = OrderType.LIMIT,
    time_in_force: TimeInForce = GTC,
    post_only: bool = False,
    reduce_only: bool = False,
    client_order_id: str = "",
) -> OrderAccepted:
    return OrderAccepted(
        order_id,
        account,
        instrument,
        side,
        usd(price),
        size,
        order_type,
        time_in_force,
        post_only,
        reduce_only,
        client_order_id,
    )


def trade(
    price: int | str,
    size: int,
    taker_side: Side,
    maker: tuple[str, int],
    taker: tuple[str, int],
    *,
    maker_fee: int = 0,
    taker_fee: int,
    maker_pnl: int = 0,
    taker_pnl: int = 0,
    maker_left: int = 0,
    taker_left: int = 0,
    instrument: str = PERP,
) -> TradeExecuted:
    return TradeExecuted(
        instrument,
        usd(price),
        size,
        taker_side,
        maker[1],
        taker[1],
        maker[0],
        taker[0],
        maker_fee,
        taker_fee,
        maker_pnl,
        taker_pnl,
        maker_left,
        taker_left,
    )


def fee_at_100k(lots: int) -> int:
    """BTC-PERP taker fee at 100,000 USD: lots x 100 USD notional x 5 bps = lots x 0.05 USD."""
    return lots * 50_000


# -- limit orders and matching ---------------------------------------------------


def test_limit_order_rests_then_a_crossing_order_trades_at_the_maker_price() -> None:
    v = opened()
    assert v.place("alice", SELL, 3, 100_000) == [
        accepted(v.seq, "alice", SELL, 100_000, 3),
        OrderRested(v.seq, usd(100_000), 3),
    ]
    ask = v.seq
    # Bob bids above the ask: he trades 3 at the maker's 100,000 and rests 2 at 100,500.
    assert v.place("bob", BUY, 5, 100_500) == [
        accepted(v.seq, "bob", BUY, 100_500, 5),
        trade(
            100_000,
            3,
            BUY,
            ("alice", ask),
            ("bob", v.seq),
            taker_fee=fee_at_100k(3),
            taker_left=2,
        ),
        OrderRested(v.seq, usd(100_500), 2),
    ]
    assert v.position("alice") == (-3, 0, 0)
    assert v.position("bob") == (3, 2, 0)
    assert v.cash("alice") == FUNDS  # maker fee 0 bps, and no P&L is realized opening
    assert v.cash("bob") == FUNDS - 150_000
    assert v.book() == ([("100500", 2, 1)], [])
    v.engine.check_invariants()


def test_price_then_time_priority_decides_the_fill_order() -> None:
    v = opened()
    v.place("alice", SELL, 1, 100_001)  # earliest, but at a worse price
    v.place("alice", SELL, 2, 100_000)
    first = v.seq
    v.place("carol", SELL, 2, 100_000)
    second = v.seq
    events = v.place("bob", BUY, 4, 100_001, time_in_force=IOC)
    fills = [(e.maker_order_id, e.price, e.size) for e in events if isinstance(e, TradeExecuted)]
    assert fills == [
        (first, usd(100_000), 2),
        (second, usd(100_000), 2),
    ]
    # The worse-priced ask was never reached; bob's IOC is complete, so nothing is cancelled.
    assert not any(isinstance(e, OrderCancelled) for e in events)
    assert v.book() == ([], [("100001", 1, 1)])
    assert v.position("bob") == (4, 0, 0)
    assert v.position("alice") == (-2, 0, 1)
    assert v.position("carol") == (-2, 0, 0)
    v.engine.check_invariants()


def test_order_field_checks() -> None:
    v = opened()
    # Table: order -> code. Each leaves the state untouched.
    cases = [
        (order("alice", BUY, 1, 100_000, "BTC-NOPE"), ErrorCode.UNKNOWN_INSTRUMENT),
        (order("nobody", BUY, 1, 100_000), ErrorCode.UNKNOWN_ACCOUNT),
        (order("alice", BUY, 0, 100_000), ErrorCode.SIZE_NOT_POSITIVE),
        (order("alice", BUY, 1_000_001, 100_000), ErrorCode.SIZE_TOO_LARGE),
        (order("alice", BUY, 1, "100000.25"), ErrorCode.PRICE_OFF_TICK),
        (order("alice", BUY, 1, 0), ErrorCode.PRICE_NOT_POSITIVE),
        (order("alice", BUY, 1), ErrorCode.PRICE_REQUIRED),
        (order("alice", BUY, 1, 100_000, order_type=MARKET), ErrorCode.PRICE_NOT_ALLOWED),
        (order("alice", BUY, 1, order_type=MARKET), ErrorCode.INVALID_ORDER_OPTIONS),
        (order("alice", BUY, 1, 100_000, "ETH-PERP"), ErrorCode.NO_MARK_PRICE),
        (order("alice", BUY, 1, 5_000, CALL), ErrorCode.NO_MARK_PRICE),
    ]
    for payload, code in cases:
        v.refuse(payload, code)
    v.engine.check_invariants()


# -- market orders and the collar -------------------------------------------------


def test_market_buy_sweeps_up_to_the_collar_and_cancels_the_rest() -> None:
    v = opened()
    # Collar: mark 100,000 + 5% (500 bps) = 105,000. The 105,000.5 ask is beyond it.
    asks: list[tuple[str, int | str]] = [
        ("alice", 100_000),
        ("carol", "104999.5"),
        ("alice", 105_000),
        ("carol", "105000.5"),
    ]
    ids = []
    for account, price in asks:
        v.place(account, SELL, 1, price)
        ids.append(v.seq)
    events = v.place("bob", BUY, 10, order_type=MARKET, time_in_force=IOC)
    taker = ("bob", v.seq)
    # Fees at each price: notional = ticks x 500; fee = ceil(notional x 5 / 10,000).
    assert events == [
        accepted(v.seq, "bob", BUY, 105_000, 10, order_type=MARKET, time_in_force=IOC),
        trade(100_000, 1, BUY, ("alice", ids[0]), taker, taker_fee=50_000, taker_left=9),
        trade("104999.5", 1, BUY, ("carol", ids[1]), taker, taker_fee=52_500, taker_left=8),
        trade(105_000, 1, BUY, ("alice", ids[2]), taker, taker_fee=52_500, taker_left=7),
        OrderCancelled(v.seq, "bob", PERP, 7, CancelReason.UNFILLED_IOC),
    ]
    assert v.book() == ([], [("105000.5", 1, 1)])
    v.engine.check_invariants()


def test_market_sell_collar_is_below_the_mark() -> None:
    v = opened()
    v.place("alice", BUY, 1, 95_000)
    inside = v.seq
    v.place("alice", BUY, 1, "94999.5")
    events = v.place("bob", SELL, 3, order_type=MARKET, time_in_force=IOC)
    assert events == [
        accepted(v.seq, "bob", SELL, 95_000, 3, order_type=MARKET, time_in_force=IOC),
        # 95,000 x 0.001 BTC = 95 USD notional; 5 bps = 0.0475 USD.
        trade(95_000, 1, SELL, ("alice", inside), ("bob", v.seq), taker_fee=47_500, taker_left=2),
        OrderCancelled(v.seq, "bob", PERP, 2, CancelReason.UNFILLED_IOC),
    ]
    assert v.book() == ([("94999.5", 1, 1)], [])
    v.engine.check_invariants()


def test_market_fok_that_cannot_fill_inside_the_collar_is_refused() -> None:
    v = opened()
    v.place("alice", SELL, 2, 100_000)
    v.place("alice", SELL, 5, "105000.5")
    v.refuse(order("bob", BUY, 3, order_type=MARKET, time_in_force=FOK), ErrorCode.FOK_NOT_FILLABLE)
    events = v.place("bob", BUY, 2, order_type=MARKET, time_in_force=FOK)
    assert [type(e) for e in events] == [OrderAccepted, TradeExecuted]
    v.engine.check_invariants()


# -- time in force -------------------------------------------------------------------


def test_ioc_fills_what_crosses_and_cancels_the_rest() -> None:
    v = opened()
    v.place("alice", SELL, 2, 100_000)
    maker = v.seq
    events = v.place("bob", BUY, 5, 100_000, time_in_force=IOC)
    assert events == [
        accepted(v.seq, "bob", BUY, 100_000, 5, time_in_force=IOC),
        trade(100_000, 2, BUY, ("alice", maker), ("bob", v.seq), taker_fee=100_000, taker_left=3),
        OrderCancelled(v.seq, "bob", PERP, 3, CancelReason.UNFILLED_IOC),
    ]
    # An IOC that crosses nothing is accepted and cancelled whole.
    assert v.place("bob", BUY, 4, 99_000, time_in_force=IOC) == [
        accepted(v.seq, "bob", BUY, 99_000, 4, time_in_force=IOC),
        OrderCancelled(v.seq, "bob", PERP, 4, CancelReason.UNFILLED_IOC),
    ]
    assert v.book() == ([], [])
    v.engine.check_invariants()


def test_fok_fills_whole_or_is_refused() -> None:
    v = opened()
    v.place("alice", SELL, 2, 100_000)
    first = v.seq
    v.place("carol", SELL, 2, "100000.5")
    second = v.seq
    # 5 lots at or under 100,000.5 do not exist (only 4): refused, book untouched.
    v.refuse(order("bob", BUY, 5, "100000.5", time_in_force=FOK), ErrorCode.FOK_NOT_FILLABLE)
    # 3 lots at 100,000 do not exist either (only 2 at that limit).
    v.refuse(order("bob", BUY, 3, 100_000, time_in_force=FOK), ErrorCode.FOK_NOT_FILLABLE)
    events = v.place("bob", BUY, 3, "100000.5", time_in_force=FOK)
    assert events == [
        accepted(v.seq, "bob", BUY, "100000.5", 3, time_in_force=FOK),
        trade(100_000, 2, BUY, ("alice", first), ("bob", v.seq), taker_fee=100_000, taker_left=1),
        # 200,001 ticks x 500 = 100,000,500 units; 5 bps = 50,000.25, rounded up.
        trade(
            "100000.5",
            1,
            BUY,
            ("carol", second),
            ("bob", v.seq),
            taker_fee=50_001,
            maker_left=1,
        ),
    ]
    v.engine.check_invariants()


# -- post-only -------------------------------------------------------------------------


def test_post_only_rests_or_is_refused_when_it_would_take() -> None:
    v = opened()
    v.place("alice", SELL, 1, 100_000)
    v.place("alice", BUY, 1, 99_000)
    # Table: order -> code (crossing or touching the opposite best takes).
    v.refuse(order("bob", BUY, 1, 100_000, post_only=True), ErrorCode.POST_ONLY_WOULD_TAKE)
    v.refuse(order("bob", BUY, 1, 100_500, post_only=True), ErrorCode.POST_ONLY_WOULD_TAKE)
    v.refuse(order("bob", SELL, 1, 99_000, post_only=True), ErrorCode.POST_ONLY_WOULD_TAKE)
    opts: dict[str, Any] = {"post_only": True, "time_in_force": IOC}
    v.refuse(order("bob", BUY, 1, 99_500, **opts), ErrorCode.INVALID_ORDER_OPTIONS)
    assert v.place("bob", BUY, 1, "99999.5", post_only=True) == [
        accepted(v.seq, "bob", BUY, "99999.5", 1, post_only=True),
        OrderRested(v.seq, usd("99999.5"), 1),
    ]
    assert v.book() == ([("99999.5", 1, 1), ("99000", 1, 1)], [("100000", 1, 1)])
    v.engine.check_invariants()


# -- reduce-only -------------------------------------------------------------------------


def test_reduce_only_orders() -> None:
    v = opened()
    v.place("alice", SELL, 3, 100_000)
    v.place("bob", BUY, 3, 100_000, time_in_force=IOC)  # bob long 3 at 100,000
    v.place("carol", BUY, 10, 101_000)
    bid = v.seq
    reduce: dict[str, Any] = {"reduce_only": True, "time_in_force": IOC}
    # Table: bob's reduce-only order -> code.
    v.refuse(order("bob", SELL, 1, 101_000, reduce_only=True), ErrorCode.INVALID_ORDER_OPTIONS)
    v.refuse(order("bob", BUY, 1, 101_000, **reduce), ErrorCode.REDUCE_ONLY_WOULD_INCREASE)
    v.refuse(order("bob", SELL, 4, 101_000, **reduce), ErrorCode.REDUCE_ONLY_WOULD_INCREASE)
    v.refuse(order("carol", SELL, 1, 101_000, **reduce), ErrorCode.REDUCE_ONLY_WOULD_INCREASE)
    # Within the position: accepted, and the reduction realizes P&L.
    events = v.place("bob", SELL, 2, 101_000, **reduce)
    assert events == [
        accepted(v.seq, "bob", SELL, 101_000, 2, time_in_force=IOC, reduce_only=True),
        trade(
            101_000,
            2,
            SELL,
            ("carol", bid),
            ("bob", v.seq),
            # 2 lots x 101 USD x 5 bps
            taker_fee=101_000,
            # 2 lots x 0.001 BTC x (101,000 - 100,000) USD = 2 USD
            taker_pnl=usd(2),
            maker_left=8,
        ),
    ]
    assert v.position("bob") == (1, 0, 0)
    # A reduce-only market order closes the last lot; the position is gone.
    events = v.place("bob", SELL, 1, order_type=MARKET, time_in_force=FOK, reduce_only=True)
    assert events[-1] == trade(
        101_000,
        1,
        SELL,
        ("carol", bid),
        ("bob", v.seq),
        taker_fee=50_500,
        taker_pnl=usd(1),
        maker_left=7,
    )
    assert v.position("bob") == (0, 0, 0)
    v.refuse(order("bob", SELL, 1, 101_000, **reduce), ErrorCode.REDUCE_ONLY_WOULD_INCREASE)
    v.engine.check_invariants()


# -- realized P&L ------------------------------------------------------------------------


def test_realized_pnl_on_reduction_close_and_flip() -> None:
    v = opened()
    v.place("alice", SELL, 4, 100_000)
    v.place("bob", BUY, 4, 100_000, time_in_force=IOC)
    # Bob sells 3 at 101,000 to carol: +1,000 USD x 0.003 BTC = 3 USD realized.
    v.place("carol", BUY, 3, 101_000)
    carol_bid = v.seq
    events = v.place("bob", SELL, 3, 101_000, time_in_force=IOC)
    assert events[-1] == trade(
        101_000,
        3,
        SELL,
        ("carol", carol_bid),
        ("bob", v.seq),
        taker_fee=151_500,
        taker_pnl=usd(3),
    )
    # Alice, short 4 at 100,000, buys 6 at 99,000 from bob as maker: closes 4 for
    # +1,000 USD x 0.004 = 4 USD and flips to long 2. Bob (long 1 at 100,000) sells 6:
    # closes 1 at -1 USD and flips to short 5.
    v.place("alice", BUY, 6, 99_000)
    alice_bid = v.seq
    events = v.place("bob", SELL, 6, 99_000, time_in_force=IOC)
    assert events[-1] == trade(
        99_000,
        6,
        SELL,
        ("alice", alice_bid),
        ("bob", v.seq),
        taker_fee=297_000,  # 6 x 99 USD x 5 bps
        maker_pnl=usd(4),
        taker_pnl=usd(-1),
    )
    assert v.position("alice") == (2, 0, 0)
    assert v.position("bob") == (-5, 0, 0)
    assert v.cash("alice") == FUNDS + usd(4)
    assert v.cash("bob") == FUNDS - 200_000 + usd(3) - 151_500 + usd(-1) - 297_000
    view = v.engine.account("bob")
    assert view is not None
    assert view.positions[0].entry_price == "99000.000000"
    v.engine.check_invariants()


# -- client order ids -----------------------------------------------------------------------


def test_client_order_ids() -> None:
    v = opened()
    v.place("alice", BUY, 1, 99_000, client_order_id="q-1")
    first = v.seq
    # Duplicate while open; the same id in another account is independent.
    v.refuse(
        order("alice", BUY, 2, 98_000, client_order_id="q-1"), ErrorCode.DUPLICATE_CLIENT_ORDER_ID
    )
    v.place("bob", BUY, 1, 98_000, client_order_id="q-1")
    v.refuse(
        order("alice", BUY, 1, 98_000, client_order_id="bad id"), ErrorCode.CLIENT_ORDER_ID_INVALID
    )
    v.refuse(
        order("alice", BUY, 1, 98_000, client_order_id="x" * 37), ErrorCode.CLIENT_ORDER_ID_INVALID
    )
    # Cancel by client id; naming both ids, or an unknown one, is refused.
    v.refuse(
        CancelOrder("alice", order_id=first, client_order_id="q-1"), ErrorCode.INVALID_ORDER_OPTIONS
    )
    v.refuse(CancelOrder("alice", client_order_id="q-2"), ErrorCode.UNKNOWN_ORDER)
    assert v.accept(CancelOrder("alice", client_order_id="q-1")) == [
        OrderCancelled(first, "alice", PERP, 1, CancelReason.REQUESTED),
    ]
    v.refuse(CancelOrder("alice", client_order_id="q-1"), ErrorCode.UNKNOWN_ORDER)
    # Reusable after the cancel ...
    v.place("alice", SELL, 2, 101_000, client_order_id="q-1")
    second = v.seq
    # ... and after the order fills completely.
    events = v.place("carol", BUY, 2, 101_000, time_in_force=IOC)
    fills = [(e.maker_order_id, e.maker_remaining) for e in events if isinstance(e, TradeExecuted)]
    assert fills == [(second, 0)]
    v.place("alice", SELL, 1, 102_000, client_order_id="q-1")
    third = v.seq
    assert v.accept(CancelOrder("alice", client_order_id="q-1")) == [
        OrderCancelled(third, "alice", PERP, 1, CancelReason.REQUESTED),
    ]
    # Bob's own q-1 was never touched by alice's cancels.
    assert v.book() == ([("98000", 1, 1)], [])
    v.engine.check_invariants()


# -- cancel and cancel-all -------------------------------------------------------------------


def test_cancel_by_order_id() -> None:
    v = opened()
    v.place("alice", BUY, 3, 99_000)
    mine = v.seq
    v.refuse(CancelOrder("bob", order_id=mine), ErrorCode.UNKNOWN_ORDER)  # not bob's order
    v.refuse(CancelOrder("nobody", order_id=mine), ErrorCode.UNKNOWN_ACCOUNT)
    v.refuse(CancelOrder("alice"), ErrorCode.UNKNOWN_ORDER)  # names no order
    assert v.accept(CancelOrder("alice", order_id=mine)) == [
        OrderCancelled(mine, "alice", PERP, 3, CancelReason.REQUESTED),
    ]
    v.refuse(CancelOrder("alice", order_id=mine), ErrorCode.UNKNOWN_ORDER)
    assert v.book() == ([], [])
    assert v.position("alice") == (0, 0, 0)
    v.engine.check_invariants()


def test_cancel_all_per_instrument_then_per_account() -> None:
    v = opened()
    v.place("alice", BUY, 1, 99_000)
    a1 = v.seq
    v.place("alice", BUY, 2, 99_500, FUTURE)
    a2 = v.seq
    v.place("bob", BUY, 4, 98_000)
    v.place("alice", SELL, 3, 101_000)
    a3 = v.seq
    v.refuse(CancelAll("alice", "BTC-NOPE"), ErrorCode.UNKNOWN_INSTRUMENT)
    v.refuse(CancelAll("nobody"), ErrorCode.UNKNOWN_ACCOUNT)
    assert v.accept(CancelAll("alice", PERP)) == [
        OrderCancelled(a1, "alice", PERP, 1, CancelReason.CANCEL_ALL),
        OrderCancelled(a3, "alice", PERP, 3, CancelReason.CANCEL_ALL),
    ]
    assert v.book() == ([("98000", 4, 1)], [])  # bob's bid is untouched
    assert v.book(FUTURE) == ([("99500", 2, 1)], [])
    assert v.accept(CancelAll("alice")) == [
        OrderCancelled(a2, "alice", FUTURE, 2, CancelReason.CANCEL_ALL),
    ]
    assert v.accept(CancelAll("alice")) == []
    view = v.engine.account("alice")
    assert view is not None
    assert (view.open_orders, view.positions) == (0, [])
    v.engine.check_invariants()


# -- amend ---------------------------------------------------------------------------------


def test_amend_size_decrease_keeps_priority() -> None:
    v = opened()
    v.place("alice", SELL, 3, 100_000)
    alice = v.seq
    v.place("carol", SELL, 1, 100_000)
    assert v.accept(AmendOrder("alice", alice, size=1)) == [
        OrderAmended(alice, usd(100_000), 1, True),
    ]
    events = v.place("bob", BUY, 1, 100_000, time_in_force=IOC)
    assert events[-1] == trade(
        100_000, 1, BUY, ("alice", alice), ("bob", v.seq), taker_fee=fee_at_100k(1)
    )
    assert v.position("alice") == (-1, 0, 0)
    assert v.position("carol") == (0, 0, 1)
    v.engine.check_invariants()


def test_amend_size_increase_loses_priority() -> None:
    v = opened()
    v.place("alice", SELL, 1, 100_000)
    alice = v.seq
    v.place("carol", SELL, 1, 100_000)
    carol = v.seq
    assert v.accept(AmendOrder("alice", alice, size=2)) == [
        OrderAmended(alice, usd(100_000), 2, False),
    ]
    events = v.place("bob", BUY, 1, 100_000, time_in_force=IOC)
    assert events[-1] == trade(
        100_000, 1, BUY, ("carol", carol), ("bob", v.seq), taker_fee=fee_at_100k(1)
    )
    assert v.position("alice") == (0, 0, 2)
    assert v.book() == ([], [("100000", 2, 1)])
    v.engine.check_invariants()


def test_amend_price_change_loses_priority() -> None:
    v = opened()
    v.place("alice", SELL, 1, 100_000, client_order_id="mine")
    alice = v.seq
    v.place("carol", SELL, 1, 100_000)
    carol = v.seq
    # Away and back again: alice is now behind carol at 100,000.
    assert v.accept(AmendOrder("alice", alice, price=usd(100_001))) == [
        OrderAmended(alice, usd(100_001), 1, False),
    ]
    assert v.book() == ([], [("100000", 1, 1), ("100001", 1, 1)])
    assert v.accept(AmendOrder("alice", alice, price=usd(100_000))) == [
        OrderAmended(alice, usd(100_000), 1, False),
    ]
    events = v.place("bob", BUY, 1, 100_000, time_in_force=IOC)
    assert events[-1] == trade(
        100_000, 1, BUY, ("carol", carol), ("bob", v.seq), taker_fee=fee_at_100k(1)
    )
    # The amended order keeps its id and client order id.
    assert v.accept(CancelOrder("alice", client_order_id="mine")) == [
        OrderCancelled(alice, "alice", PERP, 1, CancelReason.REQUESTED),
    ]
    v.engine.check_invariants()


def test_amend_refusals() -> None:
    v = opened()
    v.place("alice", SELL, 2, 100_000)
    ask = v.seq
    v.place("bob", BUY, 1, 99_000)
    bid = v.seq
    # Table: amendment -> code.
    v.refuse(AmendOrder("alice", ask), ErrorCode.AMEND_NO_CHANGE)
    v.refuse(AmendOrder("alice", ask, price=usd(100_000), size=2), ErrorCode.AMEND_NO_CHANGE)
    v.refuse(AmendOrder("alice", ask, price=usd(99_000)), ErrorCode.AMEND_WOULD_TRADE)
    v.refuse(AmendOrder("bob", bid, price=usd(100_000)), ErrorCode.AMEND_WOULD_TRADE)
    v.refuse(AmendOrder("alice", bid, size=3), ErrorCode.UNKNOWN_ORDER)
    v.refuse(AmendOrder("alice", ask, size=0), ErrorCode.SIZE_NOT_POSITIVE)
    v.refuse(AmendOrder("alice", ask, price=usd("100000.1")), ErrorCode.PRICE_OFF_TICK)
    v.engine.check_invariants()


# -- self-trade prevention ------------------------------------------------------------------


def stp_book() -> tuple[Venue, int, int, int]:
    """Asks at 100,000: bob 1 then alice 2; at 100,000.5: bob 3."""
    v = opened()
    v.place("bob", SELL, 1, 100_000)
    bob_first = v.seq
    v.place("alice", SELL, 2, 100_000)
    alice_ask = v.seq
    v.place("bob", SELL, 3, "100000.5")
    bob_second = v.seq
    return v, bob_first, alice_ask, bob_second


def test_stp_cancel_taker() -> None:
    v, bob_first, alice_ask, _ = stp_book()
    events = v.place(
        "alice",
        BUY,
        4,
        "100000.5",
        self_trade_prevention=SelfTradePrevention.CANCEL_TAKER,
    )
    taker = ("alice", v.seq)
    assert events == [
        accepted(v.seq, "alice", BUY, "100000.5", 4),
        trade(100_000, 1, BUY, ("bob", bob_first), taker, taker_fee=50_000, taker_left=3),
        OrderCancelled(v.seq, "alice", PERP, 3, CancelReason.SELF_TRADE),
    ]
    assert v.book() == ([], [("100000", 2, 1), ("100000.5", 3, 1)])
    assert v.position("alice") == (1, 0, 2)
    # Alice's own ask survived in place: it fills first for the next buyer at 100,000.
    events = v.place("carol", BUY, 1, 100_000, time_in_force=IOC)
    assert [e.maker_order_id for e in events if isinstance(e, TradeExecuted)] == [alice_ask]
    v.engine.check_invariants()


def test_stp_cancel_maker() -> None:
    v, bob_first, alice_ask, bob_second = stp_book()
    events = v.place(
        "alice",
        BUY,
        4,
        "100000.5",
        self_trade_prevention=SelfTradePrevention.CANCEL_MAKER,
    )
    taker = ("alice", v.seq)
    assert events == [
        accepted(v.seq, "alice", BUY, "100000.5", 4),
        trade(100_000, 1, BUY, ("bob", bob_first), taker, taker_fee=50_000, taker_left=3),
        OrderCancelled(alice_ask, "alice", PERP, 2, CancelReason.SELF_TRADE),
        # 3 x 200,001 ticks x 500 = 300,001,500 units; 5 bps = 150,000.75 -> 150,001.
        trade("100000.5", 3, BUY, ("bob", bob_second), taker, taker_fee=150_001),
    ]
    assert v.book() == ([], [])
    assert v.position("alice") == (4, 0, 0)
    v.engine.check_invariants()


def test_stp_cancel_both() -> None:
    v, bob_first, alice_ask, _ = stp_book()
    events = v.place(
        "alice",
        BUY,
        4,
        "100000.5",
        self_trade_prevention=SelfTradePrevention.CANCEL_BOTH,
    )
    taker = ("alice", v.seq)
    assert events == [
        accepted(v.seq, "alice", BUY, "100000.5", 4),
        trade(100_000, 1, BUY, ("bob", bob_first), taker, taker_fee=50_000, taker_left=3),
        OrderCancelled(alice_ask, "alice", PERP, 2, CancelReason.SELF_TRADE),
        OrderCancelled(v.seq, "alice", PERP, 3, CancelReason.SELF_TRADE),
    ]
    assert v.book() == ([], [("100000.5", 3, 1)])
    assert v.position("alice") == (1, 0, 0)
    v.engine.check_invariants()


def test_stp_decrement_and_cancel_smaller_maker() -> None:
    v, bob_first, alice_ask, bob_second = stp_book()
    events = v.place(
        "alice",
        BUY,
        4,
        "100000.5",
        self_trade_prevention=SelfTradePrevention.DECREMENT_AND_CANCEL,
    )
    taker = ("alice", v.seq)
    # Own maker of 2 against taker's remaining 3: both lose 2 (the maker is cancelled,
    # the taker reported at 1 left), and the taker's last lot trades with bob's next ask.
    assert events == [
        accepted(v.seq, "alice", BUY, "100000.5", 4),
        trade(100_000, 1, BUY, ("bob", bob_first), taker, taker_fee=50_000, taker_left=3),
        OrderCancelled(alice_ask, "alice", PERP, 2, CancelReason.SELF_TRADE),
        OrderReduced(v.seq, 1, CancelReason.SELF_TRADE),
        trade("100000.5", 1, BUY, ("bob", bob_second), taker, taker_fee=50_001, maker_left=2),
    ]
    assert v.book() == ([], [("100000.5", 2, 1)])
    assert v.position("alice") == (2, 0, 0)
    v.engine.check_invariants()


def test_stp_decrement_and_cancel_larger_maker_keeps_its_place() -> None:
    v = opened()
    v.place("alice", SELL, 5, 100_000)
    alice_ask = v.seq
    v.place("carol", SELL, 1, 100_000)
    carol_ask = v.seq
    events = v.place(
        "alice",
        BUY,
        2,
        100_000,
        self_trade_prevention=SelfTradePrevention.DECREMENT_AND_CANCEL,
    )
    # The maker is decremented by the taker's whole size and keeps its place; the
    # taker is used up by the decrement (reported at 0), so nothing rests or trades.
    assert events == [
        accepted(v.seq, "alice", BUY, 100_000, 2),
        OrderReduced(alice_ask, 3, CancelReason.SELF_TRADE),
        OrderReduced(v.seq, 0, CancelReason.SELF_TRADE),
    ]
    assert v.book() == ([], [("100000", 4, 2)])
    assert v.position("alice") == (0, 0, 3)
    events = v.place("bob", BUY, 3, 100_000, time_in_force=IOC)
    fills = [(e.maker_order_id, e.size) for e in events if isinstance(e, TradeExecuted)]
    assert fills == [(alice_ask, 3)]
    assert v.book() == ([], [("100000", 1, 1)])
    assert v.accept(CancelOrder("carol", order_id=carol_ask)) == [
        OrderCancelled(carol_ask, "carol", PERP, 1, CancelReason.REQUESTED),
    ]
    v.engine.check_invariants()


# -- limits ------------------------------------------------------------------------------


def test_open_orders_cap_per_account() -> None:
    v = opened(config=EngineConfig(orders_per_account_max=2))
    v.place("alice", BUY, 1, 99_000)
    first = v.seq
    v.place("alice", BUY, 1, 98_000)
    v.refuse(order("alice", BUY, 1, 97_000), ErrorCode.OPEN_ORDERS_LIMIT)
    # A GTC order counts as one that may rest, even if it would fill at once.
    v.place("bob", SELL, 1, 101_000)
    v.refuse(order("alice", BUY, 1, 101_000), ErrorCode.OPEN_ORDERS_LIMIT)
    # An IOC never rests, so the cap does not apply to it.
    events = v.place("alice", BUY, 1, 101_000, time_in_force=IOC)
    assert isinstance(events[-1], TradeExecuted)
    # Other accounts have their own cap.
    v.place("carol", BUY, 1, 97_000)
    # A cancel makes room again.
    v.accept(CancelOrder("alice", order_id=first))
    v.place("alice", BUY, 1, 97_000)
    view = v.engine.account("alice")
    assert view is not None and view.open_orders == 2
    v.engine.check_invariants()


def limited_spec() -> Instrument:
    return validate_spec(
        Instrument(
            id="TEST-PERP",
            kind=Kind.PERPETUAL,
            index="BTC-USD",
            settlement_asset="USDC",
            settlement_decimals=6,
            underlying_decimals=8,
            tick_size=500_000,
            contract_size=100_000,
            lot_size=1,
            order_size_max_lots=5,
            position_max_lots=5,
        )
    )


def test_position_limit_counts_open_orders() -> None:
    v = opened(instruments=[limited_spec()])
    p = "TEST-PERP"
    v.place("alice", BUY, 3, 99_000, p)
    bid = v.seq
    # 3 open + 3 more could reach 6 > 5.
    v.refuse(order("alice", BUY, 3, 99_000, p), ErrorCode.POSITION_LIMIT_EXCEEDED)
    v.refuse(AmendOrder("alice", bid, size=6), ErrorCode.SIZE_TOO_LARGE)
    v.place("alice", BUY, 2, 98_000, p)
    second = v.seq
    v.refuse(
        AmendOrder("alice", second, price=usd(97_000), size=3), ErrorCode.POSITION_LIMIT_EXCEEDED
    )
    # Sells are counted on their own side: 5 short is within the limit.
    v.place("alice", SELL, 5, 101_000, p)
    # Fill the bids: alice is long 5 and can buy no more, but may sell.
    v.place("bob", SELL, 5, 98_000, p, time_in_force=IOC)
    assert v.position("alice", p) == (5, 0, 5)
    v.refuse(order("alice", BUY, 1, 90_000, p), ErrorCode.POSITION_LIMIT_EXCEEDED)
    v.engine.check_invariants()


def test_expired_instrument_refuses_orders_from_its_expiry() -> None:
    v = opened()
    expiry = expiry_ns(2026, 12, 25)
    v.place("alice", BUY, 1, 99_000, FUTURE, time_in_force=IOC)  # long before expiry
    v.accept(order("alice", BUY, 1, 99_000, FUTURE, time_in_force=IOC), at_ns=expiry - 1)
    v.refuse(order("alice", BUY, 1, 99_000, FUTURE), ErrorCode.INSTRUMENT_EXPIRED, at_ns=expiry)
    v.refuse(order("alice", BUY, 1, 99_000, FUTURE), ErrorCode.INSTRUMENT_EXPIRED, at_ns=expiry + 1)
    # The perpetual has no expiry.
    v.place("alice", BUY, 1, 99_000)
    v.engine.check_invariants()


# -- depth ----------------------------------------------------------------------------------


def test_depth_snapshot_aggregates_levels() -> None:
    v = opened()
    resting: list[tuple[str, Side, int, int | str]] = [
        ("alice", BUY, 1, 99_000),
        ("bob", BUY, 2, 99_000),
        ("alice", BUY, 4, "98999.5"),
        ("carol", BUY, 1, 98_000),
        ("alice", SELL, 3, 101_000),
        ("bob", SELL, 5, 101_000),
        ("carol", SELL, 7, 102_000),
    ]
    for account, side, size, price in resting:
        v.place(account, side, size, price)
    depth = v.engine.depth(PERP, 2)
    assert not isinstance(depth, Rejection)
    assert depth.instrument == PERP
    assert depth.mark_price == usd(100_000)
    assert [(lv.price, lv.size, lv.orders) for lv in depth.bids] == [
        (usd(99_000), 3, 2),
        (usd("98999.5"), 4, 1),
    ]
    assert [(lv.price, lv.size, lv.orders) for lv in depth.asks] == [
        (usd(101_000), 8, 2),
        (usd(102_000), 7, 1),
    ]
    bad = v.engine.depth(PERP, 0)
    assert isinstance(bad, Rejection) and bad.code is ErrorCode.DEPTH_INVALID
    bad = v.engine.depth("BTC-NOPE")
    assert isinstance(bad, Rejection) and bad.code is ErrorCode.UNKNOWN_INSTRUMENT
    v.engine.check_invariants()


# -- fees -----------------------------------------------------------------------------------


def fee_spec() -> Instrument:
    return validate_spec(
        Instrument(
            id="FEE-PERP",
            kind=Kind.PERPETUAL,
            index="BTC-USD",
            settlement_asset="USDC",
            settlement_decimals=6,
            underlying_decimals=8,
            tick_size=500_000,
            contract_size=100_000,
            lot_size=1,
            maker_fee_bps=-2,
            taker_fee_bps=7,
        )
    )


def test_maker_rebate_and_taker_fee() -> None:
    v = opened(instruments=[fee_spec()])
    p = "FEE-PERP"
    v.place("alice", SELL, 3, 100_000, p)
    ask = v.seq
    events = v.place("bob", BUY, 3, 100_000, p, time_in_force=IOC)
    # 3 lots x 100 USD = 300 USD: taker 7 bps = 0.21 USD, maker -2 bps = 0.06 USD rebate.
    assert events[-1] == trade(
        100_000,
        3,
        BUY,
        ("alice", ask),
        ("bob", v.seq),
        maker_fee=-60_000,
        taker_fee=210_000,
        instrument=p,
    )
    assert v.cash("alice") == FUNDS + 60_000
    assert v.cash("bob") == FUNDS - 210_000
    # An uneven notional: 200,001 ticks x 500 = 100,000,500 units. The fee rounds up
    # (70,000.35 -> 70,001) and the rebate rounds towards zero (20,000.1 -> 20,000).
    v.place("carol", BUY, 1, "100000.5", p)
    bid = v.seq
    events = v.place("alice", SELL, 1, "100000.5", p, time_in_force=IOC)
    assert events[-1] == trade(
        "100000.5",
        1,
        SELL,
        ("carol", bid),
        ("alice", v.seq),
        maker_fee=-20_000,
        taker_fee=70_001,
        instrument=p,
    )
    assert v.engine.totals()["fees"] == 210_000 - 60_000 + 70_001 - 20_000
    assert v.cash("carol") == FUNDS + 20_000
    v.engine.check_invariants()


# -- options: premium in cash ---------------------------------------------------------------


def test_option_premium_moves_from_buyer_to_seller() -> None:
    v = opened()
    # Black-76 at a 7.108 % volatility prices the at-the-money call, three years
    # from expiry, at 5,000 USD to its 5 USD tick: the price it then trades at.
    events = v.mark(usd(100_000), (ExpiryQuote(expiry_ns(2026, 12, 25), 71_080),))
    assert MarkPriceUpdated(CALL, usd(5_000)) in events
    v.place("alice", SELL, 2, 5_000, CALL)
    ask = v.seq
    events = v.place("bob", BUY, 2, 5_000, CALL, time_in_force=IOC)
    # Premium: 2 lots x 0.01 BTC x 5,000 USD = 100 USD; taker fee 3 bps = 0.03 USD.
    assert events[-1] == trade(
        5_000,
        2,
        BUY,
        ("alice", ask),
        ("bob", v.seq),
        taker_fee=30_000,
        instrument=CALL,
    )
    assert v.cash("bob") == FUNDS - usd(100) - 30_000
    assert v.cash("alice") == FUNDS + usd(100)
    bob = v.engine.account("bob")
    assert bob is not None
    # A long option is worth its mark: equity is unchanged but for the fee.
    assert bob.positions[0].value == usd(100)
    assert bob.equity == FUNDS - 30_000
    # Bob sells one back at 5,500 to carol: the premium comes back in cash, and the
    # report shows +500 USD x 0.01 BTC = 5 USD realized (already in cash).
    v.place("carol", BUY, 1, 5_500, CALL)
    bid = v.seq
    events = v.place("bob", SELL, 1, 5_500, CALL, time_in_force=IOC)
    assert events[-1] == trade(
        5_500,
        1,
        SELL,
        ("carol", bid),
        ("bob", v.seq),
        taker_fee=16_500,  # 55 USD x 3 bps
        taker_pnl=usd(5),
        instrument=CALL,
    )
    assert v.cash("bob") == FUNDS - usd(100) - 30_000 + usd(55) - 16_500
    assert v.cash("carol") == FUNDS - usd(55)
    v.engine.check_invariants()


# -- sub-keys -------------------------------------------------------------------------------


def key_of(name: str) -> bytes:
    """The public key `signer_for(name)` signs with (unregistered unless added)."""
    return signer_for(name).public_key()


def test_trade_sub_key_trades_for_its_account_only() -> None:
    v = opened()
    v.accept(Deposit("alice:hedge", "USDC", FUNDS))
    bot = key_of("alice-bot")
    # Not yet registered: the key may sign nothing.
    v.refuse(order("alice", BUY, 1, 99_000), ErrorCode.UNKNOWN_SIGNER, by="alice-bot")
    # Only alice's own key may give her account a sub-key.
    v.refuse(AddSubKey("alice", bot, SubKeyScope.TRADE), ErrorCode.NOT_ACCOUNT_OWNER, by="bob")
    assert v.accept(AddSubKey("alice", bot, SubKeyScope.TRADE)) == [
        SubKeyAdded("alice", bot, SubKeyScope.TRADE, 0),
    ]
    # Place, amend and cancel for alice, exactly as her own key would.
    assert v.accept(order("alice", BUY, 2, 99_000), by="alice-bot") == [
        accepted(v.seq, "alice", BUY, 99_000, 2),
        OrderRested(v.seq, usd(99_000), 2),
    ]
    bid = v.seq
    assert v.accept(AmendOrder("alice", bid, size=1), by="alice-bot") == [
        OrderAmended(bid, usd(99_000), 1, True),
    ]
    assert v.accept(CancelOrder("alice", order_id=bid), by="alice-bot") == [
        OrderCancelled(bid, "alice", PERP, 1, CancelReason.REQUESTED),
    ]
    v.place("alice", SELL, 1, 101_000)  # alice's own key, cancelled by the sub-key
    ask = v.seq
    assert v.accept(CancelAll("alice"), by="alice-bot") == [
        OrderCancelled(ask, "alice", PERP, 1, CancelReason.CANCEL_ALL),
    ]
    # Table: what the trade sub-key may not sign -> code.
    v.place("bob", BUY, 1, 98_000)
    bobs = v.seq
    cases: list[tuple[Payload, ErrorCode]] = [
        (Withdraw("alice", "USDC", 1), ErrorCode.ROLE_FORBIDDEN),
        (Transfer("alice", "bob", "USDC", 1), ErrorCode.ROLE_FORBIDDEN),
        (AddSubKey("alice", key_of("alice-bot-2"), SubKeyScope.TRADE), ErrorCode.ROLE_FORBIDDEN),
        (RevokeSubKey("alice", bot, v.seq + 1), ErrorCode.ROLE_FORBIDDEN),
        (order("bob", BUY, 1, 99_000), ErrorCode.NOT_ACCOUNT_OWNER),
        (CancelOrder("bob", order_id=bobs), ErrorCode.NOT_ACCOUNT_OWNER),
        (CancelAll("bob"), ErrorCode.NOT_ACCOUNT_OWNER),
        (AmendOrder("bob", bobs, size=2), ErrorCode.NOT_ACCOUNT_OWNER),
        # Another of alice's accounts is not the sub-key's account.
        (order("alice:hedge", BUY, 1, 99_000), ErrorCode.NOT_ACCOUNT_OWNER),
    ]
    for payload, code in cases:
        v.refuse(payload, code, by="alice-bot")
    # Alice's master key does all of that.
    v.place("alice:hedge", BUY, 1, 99_000)
    v.accept(Withdraw("alice", "USDC", 1))
    assert v.book() == ([("99000", 1, 1), ("98000", 1, 1)], [])
    v.engine.check_invariants()


def test_read_sub_key_signs_nothing() -> None:
    v = opened()
    reader = key_of("alice-reader")
    assert v.accept(AddSubKey("alice", reader, SubKeyScope.READ)) == [
        SubKeyAdded("alice", reader, SubKeyScope.READ, 0),
    ]
    v.place("alice", BUY, 1, 99_000)
    bid = v.seq
    cases: list[Payload] = [
        order("alice", BUY, 1, 99_000),
        CancelOrder("alice", order_id=bid),
        CancelAll("alice"),
        AmendOrder("alice", bid, size=2),
        Withdraw("alice", "USDC", 1),
        Transfer("alice", "bob", "USDC", 1),
        AddSubKey("alice", key_of("alice-bot"), SubKeyScope.TRADE),
        RevokeSubKey("alice", reader, v.seq + 1),
    ]
    for payload in cases:
        v.refuse(payload, ErrorCode.ROLE_FORBIDDEN, by="alice-reader")
    assert v.book() == ([("99000", 1, 1)], [])
    v.engine.check_invariants()


def test_sub_key_order_size_limit() -> None:
    v = opened()
    bot = key_of("alice-bot")
    assert v.accept(AddSubKey("alice", bot, SubKeyScope.TRADE, order_size_max=2)) == [
        SubKeyAdded("alice", bot, SubKeyScope.TRADE, 2),
    ]
    limit = ErrorCode.SUB_KEY_SIZE_LIMIT
    v.refuse(order("alice", BUY, 3, 99_000), limit, by="alice-bot")
    v.refuse(order("alice", BUY, 3, order_type=MARKET, time_in_force=IOC), limit, by="alice-bot")
    v.accept(order("alice", BUY, 2, 99_000), by="alice-bot")
    bid = v.seq
    v.refuse(AmendOrder("alice", bid, size=3), limit, by="alice-bot")
    assert v.accept(AmendOrder("alice", bid, size=1), by="alice-bot") == [
        OrderAmended(bid, usd(99_000), 1, True),
    ]
    # The limit is the sub-key's, not the account's: alice's own key is not bound by it.
    v.place("alice", BUY, 3, 98_000)
    master_bid = v.seq
    v.accept(AmendOrder("alice", master_bid, size=5))
    assert v.book() == ([("99000", 1, 1), ("98000", 5, 1)], [])
    v.engine.check_invariants()


def test_sub_key_revocation_from_a_named_seq() -> None:
    v = opened()
    bot = key_of("alice-bot")
    v.accept(AddSubKey("alice", bot, SubKeyScope.TRADE))
    # A void point in the past is refused.
    v.refuse(RevokeSubKey("alice", bot, v.seq), ErrorCode.INVALID_VALUE)
    # Revoked at seq r, void from r + 2: the key still signs at r + 1, not at r + 2 or later.
    revoke_at = v.seq + 1
    assert v.accept(RevokeSubKey("alice", bot, revoke_at + 2)) == [
        SubKeyRevoked("alice", bot, revoke_at + 2),
    ]
    v.accept(order("alice", BUY, 1, 99_000), by="alice-bot")
    assert v.seq == revoke_at + 1
    bid = v.seq
    v.refuse(CancelOrder("alice", order_id=bid), ErrorCode.KEY_REVOKED, by="alice-bot")
    assert v.seq == revoke_at + 2
    v.refuse(order("alice", BUY, 1, 98_000), ErrorCode.KEY_REVOKED, by="alice-bot")
    v.refuse(CancelAll("alice"), ErrorCode.KEY_REVOKED, by="alice-bot")
    # The order it placed while good stays, and alice's own key still trades.
    assert v.accept(CancelOrder("alice", order_id=bid)) == [
        OrderCancelled(bid, "alice", PERP, 1, CancelReason.REQUESTED),
    ]
    # A revocation effective at once: void from the revoking transaction's own seq.
    other = key_of("alice-bot-2")
    v.accept(AddSubKey("alice", other, SubKeyScope.TRADE))
    v.accept(RevokeSubKey("alice", other, v.seq + 1))
    v.refuse(order("alice", BUY, 1, 99_000), ErrorCode.KEY_REVOKED, by="alice-bot-2")
    # A revoked key stays on record: it cannot be added again.
    v.refuse(AddSubKey("alice", other, SubKeyScope.TRADE), ErrorCode.KEY_EXISTS)
    v.engine.check_invariants()


def test_revoked_sub_key_frees_its_slot() -> None:
    v = opened(config=EngineConfig(sub_keys_per_account_max=1))
    v.accept(AddSubKey("alice", key_of("alice-bot"), SubKeyScope.TRADE))
    v.refuse(AddSubKey("alice", key_of("alice-bot-2"), SubKeyScope.TRADE), ErrorCode.INVALID_VALUE)
    v.accept(AddSubKey("bob", key_of("bob-bot"), SubKeyScope.TRADE))  # bob has his own slots
    v.accept(RevokeSubKey("alice", key_of("alice-bot"), v.seq + 1))
    v.accept(AddSubKey("alice", key_of("alice-bot-2"), SubKeyScope.TRADE))
    v.accept(order("alice", BUY, 1, 99_000), by="alice-bot-2")
    v.engine.check_invariants()


def test_sub_key_rotation() -> None:
    v = opened()
    old, new = key_of("alice-bot"), key_of("alice-bot-2")
    v.accept(AddSubKey("alice", old, SubKeyScope.TRADE, order_size_max=2))
    # Not a sub-key of alice's; the new key already registered; a void point in the past.
    v.refuse(RotateSubKey("alice", key_of("nobody-bot"), new, v.seq + 1), ErrorCode.UNKNOWN_KEY)
    v.refuse(RotateSubKey("alice", old, key_of("bob"), v.seq + 1), ErrorCode.KEY_EXISTS)
    v.refuse(RotateSubKey("alice", old, new, v.seq), ErrorCode.INVALID_VALUE)
    # Rotated at seq r, the old key void from r + 2: both sign at r + 1.
    rotate_at = v.seq + 1
    assert v.accept(RotateSubKey("alice", old, new, rotate_at + 2)) == [
        SubKeyRotated("alice", old, new, rotate_at + 2),
    ]
    v.accept(order("alice", BUY, 1, 99_000), by="alice-bot")
    assert v.seq == rotate_at + 1
    v.accept(order("alice", BUY, 1, 98_000), by="alice-bot-2")
    assert v.seq == rotate_at + 2
    v.refuse(order("alice", BUY, 1, 97_000), ErrorCode.KEY_REVOKED, by="alice-bot")
    # The new key takes the old one's account, scope and size limit.
    v.refuse(order("alice", BUY, 3, 97_000), ErrorCode.SUB_KEY_SIZE_LIMIT, by="alice-bot-2")
    v.refuse(Withdraw("alice", "USDC", 1), ErrorCode.ROLE_FORBIDDEN, by="alice-bot-2")
    v.refuse(order("bob", BUY, 1, 97_000), ErrorCode.NOT_ACCOUNT_OWNER, by="alice-bot-2")
    v.accept(CancelAll("alice"), by="alice-bot-2")
    # The void key cannot be rotated again.
    v.refuse(RotateSubKey("alice", old, key_of("alice-bot-3"), v.seq + 1), ErrorCode.KEY_REVOKED)
    assert v.book() == ([], [])
    v.engine.check_invariants()


def test_a_sub_key_with_a_void_point_cannot_be_rotated_into_an_extra_live_key() -> None:
    # A rotation swaps one live key for another. A key already rotated out or revoked
    # (its void point set, even if still ahead) has nothing left to swap: rotating it
    # again would add a live key no slot accounts for.
    v = opened(config=EngineConfig(sub_keys_per_account_max=2))
    old = key_of("alice-bot")
    v.accept(AddSubKey("alice", old, SubKeyScope.TRADE))
    v.accept(RotateSubKey("alice", old, key_of("alice-bot-2"), v.seq + 100))
    v.refuse(RotateSubKey("alice", old, key_of("alice-bot-3"), v.seq + 100), ErrorCode.KEY_REVOKED)
    # Both keys may still sign, so both count: the limit of 2 is reached.
    v.refuse(AddSubKey("alice", key_of("alice-bot-4"), SubKeyScope.TRADE), ErrorCode.INVALID_VALUE)
    v.engine.check_invariants()
    v.accept(AddSubKey("bob", key_of("bob-bot"), SubKeyScope.TRADE))
    v.accept(RevokeSubKey("bob", key_of("bob-bot"), v.seq + 100))
    v.refuse(
        RotateSubKey("bob", key_of("bob-bot"), key_of("bob-bot-2"), v.seq + 100),
        ErrorCode.KEY_REVOKED,
    )
    v.engine.check_invariants()
