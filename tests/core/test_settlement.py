"""SettleExpiry through the engine: the settlement price, what each holder gets, and
what is left of an instrument once it has settled.

BTC-25DEC26 expires at 08:00 UTC on 25 December 2026 (`EXPIRY`); its settlement
price is the time-weighted average of the BTC-USD index over the 30 minutes before.
A future lot is 0.001 BTC on a 0.50 USD tick (500 units a tick), an option lot is
0.01 BTC. Prices are written in whole USD and converted to micro-USDC.
"""

from __future__ import annotations

import pytest

from clearhouse.core import (
    Accepted,
    CancelReason,
    Deposit,
    Engine,
    EngineConfig,
    ErrorCode,
    Event,
    ExpiryQuote,
    InstrumentSettled,
    LossSocialized,
    MarginCallEnded,
    MarginCallStarted,
    MarginMode,
    MarkPriceUpdated,
    OrderCancelled,
    Payload,
    PlaceOrder,
    PositionSettled,
    Rejected,
    Sequenced,
    SetMarginMode,
    SettleExpiry,
    Side,
)
from clearhouse.core.catalogue import expiry_ns
from clearhouse.core.settlement import time_weighted_price
from clearhouse.testing import TestVenue, standard_genesis

USD = 10**6
MINUTE = 60 * 10**9
EXPIRY = expiry_ns(2026, 12, 25)
FUTURE = "BTC-25DEC26"
CALL_100K = "BTC-25DEC26-100000-C"
PUT_100K = "BTC-25DEC26-100000-P"
CALL_105K = "BTC-25DEC26-105000-C"
PUT_105K = "BTC-25DEC26-105000-P"
QUOTE = (ExpiryQuote(EXPIRY, 500_000, 0, 0),)  # 50 % vol, no basis: futures mark at the index
FUNDED = ("alice", "bob", "carol", "dave")
TRADERS = (*FUNDED, "erin")  # erin funds herself

# The index over the last 40 minutes before expiry: the first price is in force at the
# window's start, the last arrives after expiry and must not count.
PATH = ((-40, 100_000), (-20, 101_000), (-5, 99_000), (1, 98_000))
# (100,000 x 10 min + 101,000 x 15 min + 99,000 x 5 min) / 30 min = 100,333.333... USD
SETTLEMENT_PRICE = 100_333_333_333
FUTURE_LOT_VALUE = 100_333_333  # 0.001 BTC at S, rounded half up (from ...333.333)


class Venue(TestVenue):
    def __init__(self, config: EngineConfig | None = None) -> None:
        super().__init__(
            standard_genesis(TRADERS, config=config), start_ns=EXPIRY - 60 * MINUTE, step_ns=1_000
        )
        for trader in FUNDED:
            self.accept(Deposit(trader, "USDC", 1_000_000 * USD))

    def accept(self, payload: Payload, at_ns: int | None = None) -> list[Event]:
        outcome = self.apply(payload, at_ns=at_ns)
        assert isinstance(outcome, Accepted), outcome
        return outcome.events

    def refuse(self, payload: Payload, code: ErrorCode, at_ns: int | None = None) -> None:
        digest = self.engine.digest()
        outcome = self.apply(payload, at_ns=at_ns)
        assert isinstance(outcome, Rejected), outcome
        assert outcome.code is code, outcome
        assert self.engine.digest() == digest

    def index(self, minutes: int, price_usd: int) -> list[Event]:
        outcome = self.oracle("BTC-USD", price_usd * USD, QUOTE, at_ns=EXPIRY + minutes * MINUTE)
        assert isinstance(outcome, Accepted), outcome
        return outcome.events

    def trade(self, seller: str, buyer: str, instrument: str, size: int, price_usd: int) -> None:
        """`seller` rests an offer (maker, no fee) and `buyer` takes it."""
        self.accept(PlaceOrder(seller, instrument, Side.SELL, size, price=price_usd * USD))
        self.accept(PlaceOrder(buyer, instrument, Side.BUY, size, price=price_usd * USD))

    def cash(self, account: str) -> int:
        view = self.engine.account(account)
        assert view is not None
        return view.cash

    def settle(self, instrument: str, at_ns: int = EXPIRY) -> list[Event]:
        events = self.accept(SettleExpiry(instrument), at_ns=at_ns)
        self.engine.check_invariants()
        return events


def settled(events: list[Event]) -> dict[str, tuple[int, int]]:
    return {e.account: (e.size, e.amount) for e in events if isinstance(e, PositionSettled)}


# -- the settlement price -------------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "window", "expected"),
    [
        # The PATH above in minutes: (100 x 10 + 101 x 15 + 99 x 5) / 30 = 100.33 -> 100
        ([(-40, 100), (-20, 101), (-5, 99), (1, 98)], (-30, 0), 100),
        # Each price holds until the next: 1 for 1 ns, 2 for 1 ns -> 1.5, half up -> 2
        ([(0, 1), (1, 2)], (0, 2), 2),
        ([(0, 1), (3, 2)], (0, 4), 1),  # 1.25 -> 1
        ([(0, 1), (1, 2)], (0, 3), 2),  # 1.67 -> 2
        # A price set exactly at the window's start holds from there; one set exactly
        # at its end holds for no time inside it.
        ([(-30, 100), (0, 500)], (-30, 0), 100),
        # The first price arrives inside the window: only the covered 10 ns count,
        # (100 x 5 + 106 x 5) / 10 = 103.
        ([(-10, 100), (-5, 106)], (-30, 0), 103),
        # No price in force at any point of the window.
        ([(0, 100), (7, 200)], (-30, 0), 0),
        ([], (-30, 0), 0),
    ],
)
def test_the_settlement_price_weights_each_price_by_its_time_in_the_window(
    history: list[tuple[int, int]], window: tuple[int, int], expected: int
) -> None:
    assert time_weighted_price(history, *window) == expected


# -- futures ---------------------------------------------------------------------------


def test_a_future_settles_every_holder_at_the_average_and_the_amounts_sum_to_zero() -> None:
    venue = Venue()
    venue.index(-40, 100_000)
    venue.trade("bob", "alice", FUTURE, 10, 100_000)
    venue.trade("bob", "carol", FUTURE, 4, 100_500)
    venue.accept(PlaceOrder("carol", FUTURE, Side.BUY, 3, price=99_000 * USD))
    venue.accept(PlaceOrder("dave", FUTURE, Side.SELL, 2, price=101_000 * USD))
    resting = venue.engine.seq - 1  # order ids are sequence numbers
    for minutes, price in PATH[1:]:
        venue.index(minutes, price)
    before = {name: venue.cash(name) for name in FUNDED}
    totals = venue.engine.totals()

    events = venue.settle(FUTURE, at_ns=EXPIRY + 2 * MINUTE)

    assert events[0] == InstrumentSettled(FUTURE, SETTLEMENT_PRICE, EXPIRY - 30 * MINUTE, EXPIRY)
    assert [e for e in events if isinstance(e, OrderCancelled)] == [
        OrderCancelled(resting, "carol", FUTURE, 3, CancelReason.EXPIRED),
        OrderCancelled(resting + 1, "dave", FUTURE, 2, CancelReason.EXPIRED),
    ]
    # Each receives size x the lot's value less its cost basis (ticks x 500 units):
    # alice 10 x 100,333,333 - 10 x 200,000 x 500; carol 4 x ... - 4 x 201,000 x 500;
    # bob is short both trades.
    assert list(settled(events).items()) == [
        ("alice", (10, 3_333_330)),
        ("bob", (-14, -2_666_662)),
        ("carol", (4, -666_668)),
    ]
    assert 10 * FUTURE_LOT_VALUE - 10 * 200_000 * 500 == 3_333_330
    assert sum(amount for _, amount in settled(events).values()) == 0
    for name, (_, amount) in settled(events).items():
        assert venue.cash(name) == before[name] + amount
    for name in FUNDED:
        view = venue.engine.account(name)
        assert view is not None and view.positions == [] and view.open_orders == 0
    after = venue.engine.totals()
    assert after["linear_cost"] == 0
    assert after["cash"] - after["linear_cost"] == totals["cash"] - totals["linear_cost"]
    assert after["insurance_fund"] == totals["insurance_fund"] == 0
    mark = venue.engine.marks(FUTURE)
    assert not isinstance(mark, ErrorCode) and mark.settled  # type: ignore[union-attr]
    assert mark.mark_price == 100_333_500_000  # type: ignore[union-attr]  # S in 0.50 ticks, half up


def test_the_first_price_inside_the_window_averages_over_the_covered_part_only() -> None:
    venue = Venue()
    venue.index(-10, 100_000)
    venue.trade("bob", "alice", FUTURE, 1, 100_000)
    venue.index(-4, 102_000)
    events = venue.settle(FUTURE)
    # (100,000 x 6 min + 102,000 x 4 min) / 10 min, not / 30 min
    assert events[0] == InstrumentSettled(FUTURE, 100_800 * USD, EXPIRY - 30 * MINUTE, EXPIRY)
    assert settled(events) == {"alice": (1, 800_000), "bob": (-1, -800_000)}


# -- options ---------------------------------------------------------------------------


def test_options_pay_their_intrinsic_value_from_shorts_to_longs() -> None:
    venue = Venue()
    venue.index(-40, 100_000)
    for instrument, size, premium_usd in (
        (CALL_100K, 5, 2_000),
        (PUT_100K, 2, 2_000),
        (CALL_105K, 3, 100),
        (PUT_105K, 1, 5_000),
    ):
        venue.trade("bob", "alice", instrument, size, premium_usd)
    for minutes, price in PATH[1:]:
        venue.index(minutes, price)
    totals = venue.engine.totals()
    paid = {}
    for instrument in (CALL_100K, PUT_100K, CALL_105K, PUT_105K):
        events = venue.settle(instrument, at_ns=EXPIRY + 2 * MINUTE)
        assert events[0] == InstrumentSettled(
            instrument, SETTLEMENT_PRICE, EXPIRY - 30 * MINUTE, EXPIRY
        )
        paid[instrument] = settled(events)
    # 0.01 BTC a lot, rounded down: the 100k call is 333,333,333 in the money per BTC
    # (3,333,333 a lot), the 105k put 4,666,666,667 (46,666,666 a lot); the others
    # expire worthless and still settle, for nothing.
    assert paid == {
        CALL_100K: {"alice": (5, 5 * 3_333_333), "bob": (-5, -5 * 3_333_333)},
        PUT_100K: {"alice": (2, 0), "bob": (-2, 0)},
        CALL_105K: {"alice": (3, 0), "bob": (-3, 0)},
        PUT_105K: {"alice": (1, 46_666_666), "bob": (-1, -46_666_666)},
    }
    after = venue.engine.totals()
    assert after["cash"] == totals["cash"] and after["fees"] == totals["fees"]
    marks = {i: venue.engine.marks(i) for i in (CALL_100K, PUT_100K, PUT_105K)}
    # The final mark is the intrinsic value per BTC in 5 USD ticks, rounded half up.
    assert [m.mark_price for m in marks.values()] == [  # type: ignore[union-attr]
        335_000_000,
        0,
        4_665_000_000,
    ]


def test_a_portfolio_margin_holder_keeps_only_its_live_positions_in_its_risk_vector() -> None:
    venue = Venue()
    venue.accept(SetMarginMode("alice", MarginMode.PORTFOLIO))
    venue.index(-40, 100_000)
    venue.trade("bob", "alice", FUTURE, 10, 100_000)
    venue.trade("bob", "alice", CALL_100K, 2, 2_000)
    venue.trade("alice", "bob", "BTC-PERP", 10, 100_000)  # alice hedges with the perpetual
    venue.index(-5, 99_000)
    venue.settle(FUTURE)  # the sweep recomputes every risk vector from the positions
    venue.settle(CALL_100K)
    view = venue.engine.account("alice")
    assert view is not None and [p.instrument for p in view.positions] == ["BTC-PERP"]


# -- refusals --------------------------------------------------------------------------


def test_settlement_waits_for_the_expiry_and_happens_once() -> None:
    venue = Venue()
    venue.index(-40, 100_000)
    venue.trade("bob", "alice", FUTURE, 1, 100_000)
    venue.refuse(SettleExpiry(FUTURE), ErrorCode.NOT_EXPIRED, at_ns=EXPIRY - 1)
    venue.settle(FUTURE, at_ns=EXPIRY)  # at the expiry itself
    venue.refuse(SettleExpiry(FUTURE), ErrorCode.ALREADY_SETTLED)
    venue.refuse(SettleExpiry("BTC-PERP"), ErrorCode.NOT_EXPIRING)
    venue.refuse(SettleExpiry("BTC-31DEC26"), ErrorCode.UNKNOWN_INSTRUMENT)


def test_only_the_keeper_may_settle() -> None:
    venue = Venue()
    venue.index(-40, 100_000)
    digest = venue.engine.digest()
    outcome = venue.apply(SettleExpiry(FUTURE), by="alice", at_ns=EXPIRY)
    assert isinstance(outcome, Rejected) and outcome.code is ErrorCode.ROLE_FORBIDDEN
    assert venue.engine.digest() == digest


def test_an_index_first_priced_after_the_expiry_gives_no_settlement_price() -> None:
    venue = Venue()
    venue.index(1, 100_000)
    venue.refuse(SettleExpiry(FUTURE), ErrorCode.NO_SETTLEMENT_PRICE)


def test_a_settled_instrument_takes_no_orders_and_no_new_marks() -> None:
    venue = Venue()
    venue.index(-40, 100_000)
    venue.trade("bob", "alice", FUTURE, 1, 100_000)
    venue.settle(FUTURE)
    venue.refuse(
        PlaceOrder("alice", FUTURE, Side.BUY, 1, price=100_000 * USD), ErrorCode.INSTRUMENT_EXPIRED
    )
    events = venue.index(3, 97_000)
    marked = {e.instrument for e in events if isinstance(e, MarkPriceUpdated)}
    assert FUTURE not in marked and "BTC-26MAR27" in marked


# -- margin after settlement -----------------------------------------------------------


def test_settlement_closing_a_losing_position_ends_its_margin_call() -> None:
    # No circuit breaker: the index jumps 18 % in one update.
    venue = Venue(EngineConfig(rate_limit_messages=0, circuit_breaker_bps=0))
    venue.accept(Deposit("erin", "USDC", 200 * USD))
    venue.index(-40, 100_000)
    venue.trade("erin", "alice", FUTURE, 10, 100_000)  # erin short 0.01 BTC, as maker: no fee
    # 180 USD lost of 200; maintenance is 5 % of 1,180 USD.
    assert MarginCallStarted("erin", 20 * USD, 59 * USD) in venue.index(-35, 118_000)
    events = venue.settle(FUTURE)
    assert settled(events)["erin"] == (-10, -180 * USD)
    assert events[-1] == MarginCallEnded("erin", 20 * USD, 0)
    assert venue.cash("erin") == 20 * USD


def test_a_holder_left_flat_with_negative_cash_is_covered_by_the_fund_then_by_all() -> None:
    venue = Venue(EngineConfig(rate_limit_messages=0, circuit_breaker_bps=0))
    venue.accept(Deposit("erin", "USDC", 200 * USD))
    venue.accept(Deposit("insurance-fund", "USDC", 30 * USD))
    venue.index(-40, 100_000)
    venue.trade("erin", "alice", FUTURE, 10, 100_000)
    assert MarginCallStarted("erin", -50 * USD, 62_500_000) in venue.index(-35, 125_000)
    events = venue.settle(FUTURE)
    # erin loses 250 USD of her 200: the fund pays its 30, the other 20 are charged
    # to the accounts with cash, in proportion to it.
    assert settled(events)["erin"] == (-10, -250 * USD)
    (loss,) = [e for e in events if isinstance(e, LossSocialized)]
    assert (loss.account, loss.deficit, loss.insurance_paid, loss.amount) == (
        "erin",
        50 * USD,
        30 * USD,
        20 * USD,
    )
    assert sum(charge for _, charge in loss.charged_accounts) == 20 * USD
    assert {name for name, _ in loss.charged_accounts} == set(FUNDED)
    assert venue.cash("erin") == 0 and venue.engine.totals()["insurance_fund"] == 0
    assert venue.engine.totals()["socialized"] == 20 * USD
    assert events[-1] == MarginCallEnded("erin", 0, 0)


# -- snapshots ---------------------------------------------------------------------------


def test_a_snapshot_after_settlement_restores_to_the_same_state() -> None:
    venue = Venue()
    venue.index(-40, 100_000)
    venue.trade("bob", "alice", FUTURE, 10, 100_000)
    venue.trade("alice", "carol", FUTURE, 4, 100_500)  # alice realizes on 4 of her 10
    venue.trade("bob", "alice", CALL_100K, 2, 2_000)
    venue.index(-5, 99_000)
    assert venue.engine.totals()["linear_cost"] != 0
    venue.settle(FUTURE)
    assert venue.engine.totals()["linear_cost"] == 0
    restored = Engine.restore(venue.genesis, venue.engine.snapshot())
    assert restored.digest() == venue.engine.digest()
    # Both carry on alike: the future stays settled, the call settles the same way.
    for payload in (SettleExpiry(FUTURE), SettleExpiry(CALL_100K)):
        venue.now_ns += MINUTE
        entry = Sequenced(venue.engine.seq + 1, venue.now_ns, venue.sign(payload))
        assert restored.apply(entry, True) == venue.engine.apply(entry, True)
        assert restored.digest() == venue.engine.digest()
    assert restored.chain_head == venue.engine.chain_head
