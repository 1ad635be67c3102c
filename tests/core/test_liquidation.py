"""Liquidate, stage by stage: the book, the insurance fund, auto-deleveraging, and
the socialized loss, then a 40 % crash cleared by a keeper.

Every scenario runs on the default catalogue, amounts written in USD:

- BTC-PERP and BTC futures: a lot is 0.001 BTC, the tick 0.50 USD, so one lot gains
  0.0005 USD a tick (tick value 500 micro-USD); initial margin 10 %, maintenance 5 %
  of notional; taker fee 5 bps, maker fee 0.
- BTC options: a lot is 0.01 BTC, the tick 5 USD (tick value 50,000 micro-USD).
- The liquidation fee is 50 bps of a liquidation fill's notional.

The venue's config lets one oracle update move the index by up to 50 % with the
circuit breaker off: the scenarios move the index in single jumps (the crash by 40 %),
which the default bound (25 %) would clamp and the default breaker (15 %) would
answer by halting every BTC market, closing the books the liquidations use.

After every transaction the venue checks that collateral is conserved (cash - linear
cost + fees + pending withdrawals == deposits - withdrawals, from `Engine.totals`)
and runs the full invariant sweep. Inside a Liquidate the handler checks
conservation, open interest and the book after each stage; a failure there would
raise out of `apply` as an EngineFault and fail the test.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import TypeVar

import pytest

from clearhouse.core import (
    Accepted,
    AccountView,
    Approve,
    CancelReason,
    Deposit,
    Depth,
    Engine,
    EngineConfig,
    EngineFault,
    ErrorCode,
    Event,
    ExecuteProposal,
    ExpiryQuote,
    GrantRole,
    HaltMarket,
    Liquidate,
    LiquidationEnded,
    LiquidationFeeCharged,
    LiquidationStarted,
    LossSocialized,
    MarginCallEnded,
    MarginCallStarted,
    MarginMode,
    OracleUpdate,
    OrderCancelled,
    Payload,
    PlaceOrder,
    PositionDeleveraged,
    PositionTakenOver,
    Propose,
    Rejected,
    Role,
    Sequenced,
    SetMarginMode,
    Side,
    TimeInForce,
    TradeExecuted,
)
from clearhouse.core.catalogue import expiry_ns
from clearhouse.testing import TestVenue, signer_for, standard_genesis

E = TypeVar("E")
BUY, SELL = Side.BUY, Side.SELL
PERP = "BTC-PERP"
FUTURE = "BTC-25DEC26"
PUT = "BTC-25DEC26-95000-P"
PUT_EXPIRY = expiry_ns(2026, 12, 25)
CONFIG = EngineConfig(rate_limit_messages=0, oracle_move_max_bps=5_000, circuit_breaker_bps=0)
FUND = CONFIG.insurance_account
LINEAR_TICK_USD = Decimal("0.5")
LINEAR_TICK_VALUE = 500
"""Micro-USD one BTC-PERP or BTC future lot gains per tick."""


def usd(amount: int | str) -> int:
    """Whole or decimal USD to settlement micro-units."""
    units = Decimal(amount) * 10**6
    assert units == units.to_integral_value()
    return int(units)


def ticks(price_usd: int | str) -> int:
    return int(Decimal(price_usd) / LINEAR_TICK_USD)


def bankruptcy_long(mark_usd: int | str, lots: int, equity: int) -> int:
    """The price in USD (on the wire: micro-USD) at which selling `lots` of a linear
    long at `mark_usd` uses up `equity` exactly, rounded up to a tick."""
    per_tick = lots * LINEAR_TICK_VALUE
    ceil_ticks = ticks(mark_usd) - equity // per_tick
    return usd(str(ceil_ticks * LINEAR_TICK_USD))


class Venue(TestVenue):
    def __init__(self, *funded: tuple[str, int | str], fund_usd: int | str = 0) -> None:
        super().__init__(standard_genesis([name for name, _ in funded], config=CONFIG))
        for name, amount in funded:
            self.accept(Deposit(name, "USDC", usd(amount)))
        if fund_usd:
            self.accept(Deposit(FUND, "USDC", usd(fund_usd)), by="custody")

    def check(self) -> None:
        totals = self.engine.totals()
        assert (
            totals["cash"] - totals["linear_cost"] + totals["fees"] + totals["pending_withdrawals"]
            == totals["deposits"] - totals["withdrawals"]
        ), totals
        self.engine.check_invariants()

    def accept(self, payload: Payload, by: str | None = None) -> list[Event]:
        outcome = self.apply(payload, by=by)
        assert isinstance(outcome, Accepted), outcome
        self.check()
        return outcome.events

    def refuse(self, payload: Payload, code: ErrorCode, by: str | None = None) -> None:
        digest = self.engine.digest()
        outcome = self.apply(payload, by=by)
        assert isinstance(outcome, Rejected), outcome
        assert outcome.code is code, outcome
        assert self.engine.digest() == digest
        self.check()

    def index(self, price_usd: int | str, *quotes: ExpiryQuote) -> list[Event]:
        outcome = self.oracle("BTC-USD", usd(price_usd), quotes)
        assert isinstance(outcome, Accepted), outcome
        self.check()
        return outcome.events

    def rest(
        self, account: str, side: Side, size: int, price_usd: int | str, instrument: str = PERP
    ) -> None:
        self.accept(PlaceOrder(account, instrument, side, size, price=usd(price_usd)))

    def take(
        self, account: str, side: Side, size: int, price_usd: int | str, instrument: str = PERP
    ) -> list[Event]:
        events = self.accept(
            PlaceOrder(
                account,
                instrument,
                side,
                size,
                price=usd(price_usd),
                time_in_force=TimeInForce.IOC,
            )
        )
        assert sum(e.size for e in events if isinstance(e, TradeExecuted)) == size, events
        return events

    def liquidate(self, account: str) -> list[Event]:
        events = self.accept(Liquidate(account))
        started = events[0]
        assert isinstance(started, LiquidationStarted) and started.account == account
        assert isinstance(events[-1], LiquidationEnded) and events[-1].account == account
        return events

    def view(self, account: str) -> AccountView:
        view = self.engine.account(account)
        assert view is not None
        return view

    def cash(self, account: str) -> int:
        return self.view(account).cash

    def size(self, account: str, instrument: str = PERP) -> int:
        for position in self.view(account).positions:
            if position.instrument == instrument:
                return position.size
        return 0


def of_type(events: list[Event], kind: type[E]) -> list[E]:
    return [event for event in events if isinstance(event, kind)]


def long_after_a_fall(deposit_usd: int | str = 1_100) -> Venue:
    """alice holds 100 lots (0.1 BTC) long from 100,000 and offers 5 of them at
    99,000; BTC falls to 93,500. She paid 5 USD taker fee and lost 650: with the
    default deposit her equity is 445 < maintenance 467.50."""
    venue = Venue(("alice", deposit_usd), ("mm", 100_000), fund_usd=1_000)
    venue.index(100_000)
    venue.rest("mm", SELL, 100, 100_000)
    venue.take("alice", BUY, 100, 100_000)
    venue.rest("alice", SELL, 5, 99_000)
    events = venue.index(93_500)
    equity = usd(deposit_usd) - usd(655)
    assert (MarginCallStarted("alice", equity, usd("467.5")) in events) == (equity < usd("467.5"))
    return venue


# -- the book ------------------------------------------------------------------------


def test_the_book_absorbs_at_or_above_the_bankruptcy_price_and_the_fee_goes_to_the_fund() -> None:
    venue = long_after_a_fall()
    venue.rest("mm", BUY, 60, 93_000)
    venue.rest("mm", BUY, 60, 92_000)
    bankruptcy = bankruptcy_long(93_500, 100, usd(445))
    assert bankruptcy == usd(89_050)  # 445 USD spread over 0.1 BTC below the mark
    fund_before = venue.cash(FUND)

    events = venue.liquidate("alice")

    assert events[0] == LiquidationStarted("alice", usd(445), usd("467.5"))
    cancelled = events[1]  # her offer goes before anything trades
    assert isinstance(cancelled, OrderCancelled)
    assert (cancelled.account, cancelled.remaining, cancelled.reason) == (
        "alice",
        5,
        CancelReason.LIQUIDATION,
    )
    fills = of_type(events, TradeExecuted)
    assert [(f.price, f.size, f.taker_side) for f in fills] == [
        (usd(93_000), 60, SELL),
        (usd(92_000), 40, SELL),
    ]
    assert all(f.price >= bankruptcy for f in fills)
    assert all(f.taker_fee == 0 for f in fills)  # the liquidation fee replaces it
    # 50 bps of 5,580 + 3,680 USD of notional.
    assert of_type(events, LiquidationFeeCharged) == [
        LiquidationFeeCharged("alice", PERP, usd("27.9") + usd("18.4"))
    ]
    assert venue.cash(FUND) == fund_before + usd("46.3")
    # 1,100 - 5 taker fee - 420 (0.06 BTC sold 7,000 below entry) - 320 (0.04 BTC,
    # 8,000 below) - 46.30 liquidation fee.
    assert venue.view("alice").positions == []
    assert venue.cash("alice") == usd("308.7")
    assert MarginCallEnded("alice", usd("308.7"), 0) in events
    assert venue.size("mm") == 0 and venue.view("mm").open_orders == 1  # 20 lots still bid
    assert of_type(events, PositionTakenOver) == []
    assert of_type(events, PositionDeleveraged) == []


def test_the_fee_never_takes_the_account_below_zero() -> None:
    venue = long_after_a_fall(deposit_usd=1_005)  # equity 350: bankrupt at 90,000
    venue.rest("mm", BUY, 50, 90_100)

    events = venue.liquidate("alice")

    assert [(f.price, f.size) for f in of_type(events, TradeExecuted)] == [(usd(90_100), 50)]
    assert of_type(events, PositionTakenOver) == [PositionTakenOver("alice", PERP, 50, usd(90_000))]
    # Selling 0.05 BTC 100 above the bankruptcy price left her 5 USD to spare once the
    # rest goes at 90,000: the fee (22.525 USD on 4,505) takes those 5 and no more.
    assert of_type(events, LiquidationFeeCharged) == [LiquidationFeeCharged("alice", PERP, usd(5))]
    assert venue.cash("alice") == 0
    assert of_type(events, LossSocialized) == []


def test_the_worst_risk_closes_first_and_liquidation_stops_once_maintenance_is_met() -> None:
    venue = Venue(("alice", 125), ("mm", 100_000))
    venue.index(100_000)
    venue.rest("mm", SELL, 2, 100_000, FUTURE)
    venue.rest("mm", SELL, 10, 100_000)
    venue.take("alice", BUY, 2, 100_000, FUTURE)
    venue.take("alice", BUY, 10, 100_000)
    # 0.012 BTC lose 78 USD; equity 125 - 0.60 fees - 78 = 46.40 < 46.75 + 9.35.
    assert MarginCallStarted("alice", usd("46.4"), usd("56.1")) in venue.index(93_500)
    venue.rest("mm", BUY, 10, 93_000)
    venue.rest("mm", BUY, 2, 93_000, FUTURE)

    events = venue.liquidate("alice")

    # The perpetual (maintenance 46.75) goes before the future (9.35); once it is
    # sold, equity 46.40 - 5 - 4.65 fee = 36.75 covers the future's 9.35: it stays.
    assert [(f.instrument, f.size) for f in of_type(events, TradeExecuted)] == [(PERP, 10)]
    assert venue.size("alice", PERP) == 0
    assert venue.size("alice", FUTURE) == 2
    assert events[-1] == LiquidationEnded("alice", usd("36.75"), usd("9.35"))
    assert not venue.view("alice").in_margin_call


# -- the insurance fund ----------------------------------------------------------------


def test_what_the_book_cannot_absorb_the_fund_takes_over_at_the_bankruptcy_price() -> None:
    venue = long_after_a_fall()
    venue.rest("mm", BUY, 40, 93_000)
    venue.rest("mm", BUY, 60, 89_000)  # below the bankruptcy price 89,050: not hit
    fund_cash = venue.cash(FUND)

    events = venue.liquidate("alice")

    assert [(f.price, f.size) for f in of_type(events, TradeExecuted)] == [(usd(93_000), 40)]
    assert of_type(events, PositionTakenOver) == [PositionTakenOver("alice", PERP, 60, usd(89_050))]
    fund = venue.view(FUND)
    assert [(p.instrument, p.size, p.entry_price) for p in fund.positions] == [
        (PERP, 60, "89050.000000")
    ]
    assert fund.cash == fund_cash + usd("18.6")  # the fee on 3,720 USD sold in the book
    # The lots taken over below the mark are the fund's gain: 60 x 0.001 x 4,450.
    assert fund.equity == fund.cash + usd(267)
    assert venue.view("alice").positions == []
    # 445 - 20 (sold 0.04 BTC 500 below the mark) - 18.60 - 267 (0.06 BTC 4,450 below).
    assert venue.cash("alice") == usd("139.4")
    assert venue.size("mm") == -60 and venue.view("mm").open_orders == 1


def test_a_halted_market_has_no_book_so_the_fund_takes_the_whole_position() -> None:
    venue = long_after_a_fall()
    venue.rest("mm", BUY, 100, 93_000)
    venue.accept(HaltMarket(instrument=PERP))

    events = venue.liquidate("alice")

    assert of_type(events, TradeExecuted) == []
    assert of_type(events, PositionTakenOver) == [
        PositionTakenOver("alice", PERP, 100, usd(89_050))
    ]
    assert venue.size(FUND) == 100
    assert venue.cash("alice") == 0  # the whole equity was the fund's at 89,050


# -- the insurance fund's own shortfall -------------------------------------------------


def fund_long_60_from_89_050() -> Venue:
    """`long_after_a_fall` with two more traders, s1 (1,000) and bo (800): after
    alice's liquidation the fund holds 60 lots long from 89,050 with 1,018.60 of cash
    (its 1,000 and the fee); mm is short the 60 lots from 100,000."""
    venue = Venue(("alice", 1_100), ("mm", 100_000), ("s1", 1_000), ("bo", 800), fund_usd=1_000)
    venue.index(100_000)
    venue.rest("mm", SELL, 100, 100_000)
    venue.take("alice", BUY, 100, 100_000)
    venue.rest("alice", SELL, 5, 99_000)
    venue.index(93_500)
    venue.rest("mm", BUY, 40, 93_000)
    venue.liquidate("alice")
    fund = venue.view(FUND)
    assert (fund.cash, venue.size(FUND), venue.size("mm")) == (usd("1018.6"), 60, -60)
    return venue


def test_a_fund_whose_positions_lose_more_than_it_holds_is_margin_called_and_liquidated() -> None:
    """The fund's maintenance is zero: at 70,000 its equity, 1,018.60 - 0.06 BTC x
    19,050 = -124.40, is below it, a margin call like any account's, which a keeper's
    Liquidate ends: the book has nothing, so mm, short and in profit, buys the lots
    back at the fund's bankruptcy price, giving up the part of its profit that the
    fund's loss went beyond the fund's cash."""
    venue = fund_long_60_from_89_050()
    events = venue.index(70_000)
    assert events[-1] == MarginCallStarted(FUND, -usd("124.4"), 0)
    assert venue.engine.accounts_in_margin_call() == [FUND]
    assert venue.view(FUND).in_margin_call

    events = venue.liquidate(FUND)

    bankruptcy = bankruptcy_long(70_000, 60, -usd("124.4"))
    assert bankruptcy == usd("72073.5")  # 70,000 + 124.40 / 0.06, up to the tick
    assert events == [
        LiquidationStarted(FUND, -usd("124.4"), 0),
        PositionDeleveraged(FUND, "mm", PERP, -60, bankruptcy, 1),
        MarginCallEnded(FUND, usd("0.01"), 0),
        LiquidationEnded(FUND, usd("0.01"), 0),
    ]
    fund = venue.view(FUND)
    assert (fund.positions, fund.cash, fund.in_margin_call) == ([], usd("0.01"), False)
    # mm keeps its profit down to the bankruptcy price: 0.06 BTC x 27,926.50.
    assert venue.size("mm") == 0
    # Before: its 100,000 and 280 realized buying 40 lots back at 93,000 from alice.
    assert venue.cash("mm") == usd(100_000) + usd(280) + usd("1675.59")
    assert venue.engine.totals()["socialized"] == 0
    assert venue.engine.accounts_in_margin_call() == []


def test_what_deleveraging_cannot_cover_of_the_funds_shortfall_is_socialized() -> None:
    """At 71,000 the fund's equity is 1,018.60 - 0.06 x 18,050 = -64.40. mm buys its
    short back from s1, who shorts at 71,000: s1 has no profit to give up, so it is
    deleveraged at the mark, never at a loss, and the fund's cash ends 64.40 below
    zero: a loss nobody's gain covers, charged pro rata to the accounts with cash."""
    venue = fund_long_60_from_89_050()
    venue.index(71_000)
    assert venue.view(FUND).equity == -usd("64.4") and venue.view(FUND).in_margin_call
    venue.rest("s1", SELL, 60, 71_000)
    venue.take("mm", BUY, 60, 71_000)
    cash_before = {name: venue.cash(name) for name in ("alice", "mm", "s1", "bo")}

    events = venue.liquidate(FUND)

    assert of_type(events, PositionTakenOver) == []
    assert of_type(events, PositionDeleveraged) == [
        PositionDeleveraged(FUND, "s1", PERP, -60, usd(71_000), 1)
    ]
    (loss,) = of_type(events, LossSocialized)
    assert (loss.account, loss.deficit, loss.insurance_paid, loss.amount) == (
        FUND,
        usd("64.4"),
        0,
        usd("64.4"),
    )
    assert dict(loss.charged_accounts) == pro_rata(usd("64.4"), cash_before)
    fund = venue.view(FUND)
    assert (fund.positions, fund.cash, fund.in_margin_call) == ([], 0, False)
    assert venue.engine.totals()["socialized"] == usd("64.4")


def test_a_fund_in_shortfall_takes_nothing_over() -> None:
    """With the fund below zero, a trader's liquidation skips the fund stage, even for
    lots it would take at a gain, and goes straight to deleveraging."""
    venue = fund_long_60_from_89_050()
    venue.index(80_000)
    venue.rest("mm", SELL, 70, 80_000)
    venue.take("bo", BUY, 70, 80_000)
    # The fund: 1,018.60 - 0.06 x 19,050 < 0; bo: 800 - 2.80 - 700 = 97.20, below its
    # maintenance of 245 but above zero.
    venue.index(70_000)
    assert venue.view(FUND).in_margin_call and venue.view("bo").in_margin_call
    assert venue.view("bo").equity > 0  # its bankruptcy price lies below the mark

    events = venue.liquidate("bo")

    assert of_type(events, PositionTakenOver) == []
    assert [d.counterparty for d in of_type(events, PositionDeleveraged)] == ["mm"]
    assert venue.size(FUND) == 60 and venue.view(FUND).in_margin_call


def test_the_sweep_refuses_a_fund_below_zero_without_its_margin_call() -> None:
    venue = fund_long_60_from_89_050()
    venue.index(70_000)
    state = venue.engine._state
    state.accounts[FUND].in_margin_call = False  # as if nothing had noticed
    with pytest.raises(EngineFault, match="insurance-fund: below maintenance is True"):
        venue.engine.check_invariants()


# -- auto-deleveraging -----------------------------------------------------------------


def shorts_at_three_prices(lena_usd: int, fund_usd: int) -> Venue:
    """lena buys 10 lots from each of s1 at 100,000, s2 at 105,000 and s3 at 110,000
    (30 lots, 0.03 BTC, 1.575 USD taker fees), then BTC falls to 90,000."""
    venue = Venue(("lena", lena_usd), ("s1", 200), ("s2", 300), ("s3", 300), fund_usd=fund_usd)
    for seller, price in (("s1", 100_000), ("s2", 105_000), ("s3", 110_000)):
        venue.index(price)
        venue.rest(seller, SELL, 10, price)
        venue.take("lena", BUY, 10, price)
    venue.index(90_000)
    return venue


def test_an_exhausted_fund_leaves_the_rest_to_deleveraging_ranked_by_profit_times_leverage() -> (
    None
):
    venue = shorts_at_three_prices(lena_usd=350, fund_usd=30)
    # lena: 350 - 1.575 - (10 + 15 + 20) x 0.01 x 1,000 = -101.575 USD.
    lena = venue.view("lena")
    assert lena.equity == -usd("101.575") and lena.in_margin_call
    bankruptcy = bankruptcy_long(90_000, 30, lena.equity)
    assert bankruptcy == usd(93_386)
    # Profit / entry notional x mark notional / equity (each short 0.01 BTC at 900 USD):
    #   s1: 100/1,000 x 900/300 = 0.300   (least profit, most leverage)
    #   s2: 150/1,050 x 900/450 = 0.286
    #   s3: 200/1,100 x 900/500 = 0.327   (most profit, least leverage)
    equities = {name: venue.view(name).equity for name in ("s1", "s2", "s3")}
    assert equities == {"s1": usd(300), "s2": usd(450), "s3": usd(500)}

    events = venue.liquidate("lena")

    # A lot taken over at 93,386 costs the fund 3.386 USD: its 30 USD bear 8 lots.
    assert of_type(events, PositionTakenOver) == [PositionTakenOver("lena", PERP, 8, bankruptcy)]
    assert of_type(events, PositionDeleveraged) == [
        PositionDeleveraged("lena", "s3", PERP, -10, bankruptcy, 1),
        PositionDeleveraged("lena", "s1", PERP, -10, bankruptcy, 2),
        PositionDeleveraged("lena", "s2", PERP, -2, bankruptcy, 3),
    ]
    assert [venue.size(name) for name in ("lena", "s1", "s2", "s3", FUND)] == [0, 0, -8, 0, 8]
    # Each short keeps its profit down to the bankruptcy price, not down to the mark.
    assert venue.cash("s1") == usd(200) + usd("66.14")  # (100,000 - 93,386) x 0.01
    assert venue.cash("s3") == usd(300) + usd("166.14")
    # Everything closed at the bankruptcy price: lena ends with the rounding, >= 0.
    assert 0 <= venue.cash("lena") < 30 * LINEAR_TICK_VALUE
    assert venue.view(FUND).equity == usd(30) - 8 * usd("3.386")
    assert of_type(events, LossSocialized) == []


def test_a_deficit_deleveraging_cannot_cover_is_paid_by_the_fund_then_socialized_pro_rata() -> None:
    venue = Venue(
        ("lena", 220),
        ("mm", 10_000),
        ("s1", 100),
        ("s2", 150),
        ("b1", "1234.567891"),
        ("b2", "1234.567891"),
        ("b3", "77.000003"),
        fund_usd=5,
    )
    venue.index(100_000)
    venue.rest("mm", SELL, 20, 100_000)
    venue.take("lena", BUY, 20, 100_000)
    venue.index(88_000)  # lena is in a margin call; no keeper acts yet
    venue.rest("s1", SELL, 10, 88_000)
    venue.rest("s2", SELL, 10, 88_000)
    venue.take("mm", BUY, 20, 88_000)  # mm closes: the shorts are now s1 and s2 at 88,000
    venue.index(80_000)
    lena = venue.view("lena")
    assert lena.equity == usd(220) - usd(1) - usd(400)
    bankruptcy = bankruptcy_long(80_000, 20, lena.equity)
    assert bankruptcy == usd(89_050)
    cash_before = {name: venue.cash(name) for name in ("mm", "s1", "s2", "b1", "b2", "b3")}

    events = venue.liquidate("lena")

    # The fund's 5 USD cannot bear a lot (9.05 USD each); s1 and s2 shorted at 88,000,
    # below the bankruptcy price, and never realize a loss: they close at 88,000.
    assert of_type(events, PositionTakenOver) == []
    assert [(d.counterparty, d.size, d.price) for d in of_type(events, PositionDeleveraged)] == [
        ("s1", -10, usd(88_000)),
        ("s2", -10, usd(88_000)),
    ]
    # lena sold 0.02 BTC 12,000 below her entry: 219 - 240 = -21 USD of bad debt.
    (loss,) = of_type(events, LossSocialized)
    assert (loss.account, loss.deficit, loss.insurance_paid) == ("lena", usd(21), usd(5))
    assert loss.amount == usd(16)
    # Every account with cash but lena and the fund pays in proportion to its cash,
    # rounded down, the units left over going one each to the largest balances.
    expected = pro_rata(usd(16), cash_before)
    assert dict(loss.charged_accounts) == expected
    assert [name for name, _ in loss.charged_accounts] == sorted(expected)
    assert sum(expected.values()) == usd(16)
    for name, share in expected.items():
        assert venue.cash(name) == cash_before[name] - share
    assert venue.cash("lena") == 0 and venue.view("lena").positions == []
    assert venue.cash(FUND) == 0
    assert venue.engine.totals()["socialized"] == usd(16)


def pro_rata(amount: int, balances: dict[str, int]) -> dict[str, int]:
    """Exact shares rounded down; the units left to the largest balances, ties by name."""
    total = sum(balances.values())
    shares = {name: int(Fraction(amount * cash, total)) for name, cash in balances.items()}
    left = amount - sum(shares.values())
    for name in sorted(balances, key=lambda n: (-balances[n], n))[:left]:
        shares[name] += 1
    assert left > 0, "the scenario should exercise the remainder"
    return shares


def test_a_holder_at_a_loss_is_deleveraged_at_the_mark_with_its_equity_unchanged() -> None:
    venue = Venue(("lena", 220), ("mm", 10_000), ("late", 1_000))
    venue.index(100_000)
    venue.rest("mm", SELL, 20, 100_000)
    venue.take("lena", BUY, 20, 100_000)
    venue.index(80_000)
    venue.rest("late", SELL, 20, 80_000)
    venue.take("mm", BUY, 20, 80_000)  # the only short left is late, at 80,000
    venue.index(85_000)
    late_equity = venue.view("late").equity
    assert late_equity < venue.cash("late")  # late is losing on its short

    events = venue.liquidate("lena")

    # No fund and no short in profit: the short at a loss closes at the mark, not at
    # lena's bankruptcy price of 89,050.
    assert of_type(events, PositionDeleveraged) == [
        PositionDeleveraged("lena", "late", PERP, -20, usd(85_000), 1)
    ]
    (loss,) = of_type(events, LossSocialized)
    # 220 - 1 fee - 300 realized: 81 USD nobody but the accounts with cash can pay.
    assert (loss.deficit, loss.insurance_paid, loss.amount) == (usd(81), 0, usd(81))
    # Closing at the mark leaves late's equity as it was, less its share of the loss.
    late_share = dict(loss.charged_accounts)["late"]
    assert venue.view("late").equity == late_equity - late_share
    assert venue.size("late") == 0


def test_a_portfolio_account_is_liquidated_on_its_own_requirement_and_its_vector_follows() -> None:
    venue = Venue(("paula", 2_000), ("mm", 100_000), fund_usd=1_000)
    venue.index(100_000)
    venue.accept(SetMarginMode("paula", MarginMode.PORTFOLIO))
    venue.rest("mm", SELL, 100, 100_000)
    venue.take("paula", BUY, 100, 100_000)
    events = venue.index(90_000)
    (call,) = of_type(events, MarginCallStarted)
    # Equity 2,000 - 5 - 1,000 would cover standard maintenance (5 % of 9,000 USD),
    # not the portfolio's: the scan of the risk array asks more.
    assert call.account == "paula" and call.equity == usd(995) > usd(450)

    events = venue.liquidate("paula")

    assert of_type(events, PositionTakenOver) == [
        PositionTakenOver("paula", PERP, 100, bankruptcy_long(90_000, 100, usd(995)))
    ]
    assert venue.view("paula").positions == [] and venue.cash("paula") == 0
    # The sweep (in `check`, after every transaction) recomputes every portfolio risk
    # vector from the positions: paula's followed the takeover to zero.


# -- what cannot be liquidated ------------------------------------------------------------


def test_a_healthy_account_the_fund_and_an_unknown_account_are_refused() -> None:
    venue = long_after_a_fall(deposit_usd=2_000)  # 2,000 - 5 - 650 > 467.50
    assert not venue.view("alice").in_margin_call
    venue.refuse(Liquidate("alice"), ErrorCode.NOT_LIQUIDATABLE)
    venue.refuse(Liquidate(FUND), ErrorCode.NOT_LIQUIDATABLE)
    venue.refuse(Liquidate("nobody"), ErrorCode.UNKNOWN_ACCOUNT)


def test_only_the_keeper_signs_a_liquidation() -> None:
    venue = long_after_a_fall()
    venue.refuse(Liquidate("alice"), ErrorCode.ROLE_FORBIDDEN, by="mm")
    venue.refuse(Liquidate("alice"), ErrorCode.ROLE_FORBIDDEN, by="alice")
    venue.refuse(Liquidate("alice"), ErrorCode.ROLE_FORBIDDEN, by="risk-officer")
    assert venue.view("alice").in_margin_call


# -- a crash ----------------------------------------------------------------------------


def test_a_40_percent_crash_liquidates_the_right_accounts_in_margin_call_order() -> None:
    """BTC falls from 100,000 to 60,000 in one update. Longs of 0.01 BTC each: dave at
    10x, bob at 1.5x, alice at 4x; sam is short all 0.03 BTC; carol sold erin 10 puts
    struck at 95,000. dave, alice and carol cannot survive 40 %, bob can; a keeper
    liquidates in the order the margin calls started; the fund takes every position
    (the book is empty after the crash) and nobody else is touched."""
    quote = ExpiryQuote(PUT_EXPIRY, 500_000)
    venue = Venue(
        ("dave", 102),
        ("bob", 670),
        ("alice", 251),
        ("carol", 4_300),
        ("erin", 5_000),
        ("sam", 20_000),
        fund_usd=1_000_000,
    )
    venue.index(100_000, quote)
    venue.rest("sam", SELL, 30, 100_000)
    for buyer in ("dave", "bob", "alice"):
        venue.take(buyer, BUY, 10, 100_000)
    depth = venue.engine.depth(PUT)
    assert isinstance(depth, Depth)
    put_price = str(Decimal(depth.mark_price) / 10**6)
    venue.rest("carol", SELL, 10, put_price, PUT)
    venue.take("erin", BUY, 10, put_price, PUT)
    bystanders = ("bob", "erin", "sam")

    events = venue.index(60_000, quote)

    called = [e.account for e in of_type(events, MarginCallStarted)]
    assert called == ["dave", "alice", "carol"]  # perpetual holders first, as they came
    before = {name: venue.view(name) for name in bystanders}
    for name in called:
        view = venue.view(name)
        assert view.equity < view.maintenance_margin
    put_view = next(p for p in venue.view("carol").positions if p.instrument == PUT)
    carol = venue.view("carol")

    for name in called:
        liquidation = venue.liquidate(name)
        for event in liquidation:
            assert all(
                getattr(event, field, None) not in bystanders
                for field in ("account", "counterparty", "maker_account", "taker_account")
            ), event
        assert of_type(liquidation, TradeExecuted) == []  # the book is empty
        assert of_type(liquidation, PositionDeleveraged) == []  # the fund can bear it all
        assert venue.view(name).positions == []
        assert not venue.view(name).in_margin_call
        assert venue.cash(name) >= 0
    for name in bystanders:
        assert venue.view(name) == before[name]
        venue.refuse(Liquidate(name), ErrorCode.NOT_LIQUIDATABLE)

    fund = {p.instrument: p for p in venue.view(FUND).positions}
    # dave: equity 102 - 0.50 - 400 = -298.50 on 0.01 BTC: the fund takes his lots at
    # 60,000 + 29,850 = 89,850; alice: 251 - 0.50 - 400 = -149.50, at 74,950.
    assert fund[PERP].size == 20
    assert fund[PERP].entry_price == "82400.000000"
    # carol, short 10 puts (0.1 BTC) with equity E > 0 left, buys them back from the
    # fund at the mark plus E / 0.1 BTC, rounded down to the 5 USD tick.
    assert fund[PUT].size == -10
    ticks_above_mark = carol.equity // (10 * 50_000)
    assert Decimal(fund[PUT].entry_price) == (
        Decimal(put_view.mark_price) / 10**6 + ticks_above_mark * 5
    )


def test_an_engine_restored_after_a_liquidation_has_the_same_digest() -> None:
    venue = shorts_at_three_prices(lena_usd=350, fund_usd=30)
    venue.liquidate("lena")
    restored = Engine.restore(venue.genesis, venue.engine.snapshot())
    assert restored.digest() == venue.engine.digest()
    restored.check_invariants()
    # Both carry on alike: an update re-marks the fund's and s2's positions.
    at = venue.now_ns + 1_000
    update = venue.client("oracle").sign(OracleUpdate("BTC-USD", usd(99_000), at), at)
    outcomes = [
        engine.apply(Sequenced(engine.seq + 1, at, update), True)
        for engine in (venue.engine, restored)
    ]
    assert outcomes[0] == outcomes[1] and isinstance(outcomes[0], Accepted)
    assert restored.digest() == venue.engine.digest()
    assert restored.chain_head == venue.engine.chain_head


def test_the_venue_unwinds_what_the_fund_took_over_through_a_key_governance_grants() -> None:
    """Nothing in the engine trades the fund's positions; the venue does, with a trading
    key for the fund's owner that only M-of-N governance can grant. Its orders that
    only shrink the fund's position pass whatever the fund's margin."""
    venue = long_after_a_fall()
    venue.rest("mm", BUY, 40, 93_000)
    venue.liquidate("alice")
    assert venue.size(FUND) == 60
    desk = signer_for("fund-desk").public_key()
    refused = venue.apply(PlaceOrder(FUND, PERP, SELL, 1, price=usd(93_500)), by="fund-desk")
    assert isinstance(refused, Rejected) and refused.code is ErrorCode.UNKNOWN_SIGNER
    proposal = venue.accept(Propose(GrantRole(desk, FUND, Role.TRADER)), by="gov-a")
    proposal_id = proposal[0].proposal_id  # type: ignore[attr-defined]
    venue.accept(Approve(proposal_id), by="gov-b")
    venue.now_ns += 86_400 * 10**9  # the timelock
    venue.accept(ExecuteProposal(proposal_id), by="gov-a")

    venue.rest("mm", BUY, 60, 93_000)
    fund_cash = venue.cash(FUND)
    unwind = PlaceOrder(
        FUND,
        PERP,
        SELL,
        60,
        price=usd(93_000),
        time_in_force=TimeInForce.IOC,
        reduce_only=True,
    )
    events = venue.accept(unwind, by="fund-desk")
    assert sum(e.size for e in of_type(events, TradeExecuted)) == 60
    assert venue.size(FUND) == 0
    # Taken over at 89,050, sold at 93,000: 60 x 0.001 x 3,950 less the taker fee.
    assert venue.cash(FUND) == fund_cash + usd(237) - usd("2.79")
