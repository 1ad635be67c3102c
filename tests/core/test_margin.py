"""Standard margin, by hand: requirements, order checks, withdrawals and margin calls.

Every expected requirement is written as the arithmetic of margin.py's rules, in
USD, with the catalogue's parameters:

- BTC-PERP and BTC futures: lot 0.001 BTC; initial 10%, maintenance 5% of notional.
- BTC options: lot 0.01 BTC; a short pays its mark value plus the larger of 15% of
  the underlying less the out-of-the-money amount and a 10% floor; maintenance is
  the mark value plus 7.5%; a long is charged its premium value and no maintenance.

Option marks are the engine's Black-76 prices from the oracle's volatility quotes:
the quotes below are chosen to give round marks, and each test asserts the marks
it relies on before using them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clearhouse.core import (
    Accepted,
    AccountView,
    Approve,
    ApproveWithdrawal,
    CancelAll,
    Deposit,
    Deposited,
    EngineConfig,
    ErrorCode,
    Event,
    ExecuteProposal,
    ExpiryQuote,
    IndexPriceUpdated,
    Instrument,
    Kind,
    Liquidate,
    MarginCallEnded,
    MarginCallStarted,
    MarginMode,
    MarkPriceUpdated,
    OracleObserved,
    OrderType,
    Payload,
    PlaceOrder,
    ProposalOpened,
    Propose,
    Rejected,
    SetMarginMode,
    Side,
    TimeInForce,
    TradeExecuted,
    Transfer,
    Withdraw,
    WithdrawalRequested,
    Withdrawn,
)
from clearhouse.core.catalogue import default_catalogue, expiry_ns
from clearhouse.core.instruments import validate_spec
from clearhouse.core.ledger import Account, Position
from clearhouse.core.margin import StandardMargin, account_equity, linear_margin
from clearhouse.core.market import Market
from clearhouse.testing import TestVenue, standard_genesis

BUY, SELL = Side.BUY, Side.SELL
IOC = TimeInForce.IOC
PERP = "BTC-PERP"
FUTURE = "BTC-25DEC26"
FUNDS = 1_000_000 * 10**6


def usd(amount: int | str) -> int:
    """Whole or decimal USD to settlement micro-units."""
    units = Decimal(amount) * 10**6
    assert units == units.to_integral_value()
    return int(units)


class Venue(TestVenue):
    """A TestVenue whose genesis holds a trader key for each named account."""

    def __init__(
        self,
        traders: tuple[str, ...],
        instruments: list[Instrument] | None = None,
        config: EngineConfig | None = None,
    ):
        super().__init__(
            standard_genesis(traders, None if instruments is None else tuple(instruments), config)
        )

    @property
    def seq(self) -> int:
        return self.engine.seq

    def accept(self, payload: Payload) -> list[Event]:
        outcome = self.apply(payload)
        assert isinstance(outcome, Accepted), outcome
        return outcome.events

    def refuse(self, payload: Payload, code: ErrorCode) -> None:
        digest = self.engine.digest()
        outcome = self.apply(payload)
        assert isinstance(outcome, Rejected), outcome
        assert outcome.code is code, outcome
        assert self.engine.digest() == digest

    def place(
        self,
        account: str,
        side: Side,
        size: int,
        price: int | str | None,
        instrument: str = PERP,
        **options: Any,
    ) -> list[Event]:
        return self.accept(order(account, side, size, price, instrument, **options))

    def view(self, account: str) -> AccountView:
        view = self.engine.account(account)
        assert view is not None
        return view

    def margins(self, account: str) -> tuple[int, int]:
        """(initial, maintenance) requirement of an account, in units."""
        view = self.view(account)
        return view.initial_margin, view.maintenance_margin

    def index(
        self, index_usd: int | str, *quotes: ExpiryQuote, **option_marks_usd: int | str
    ) -> list[Event]:
        """Move BTC-USD (and quote expiries); `option_marks_usd` are the option marks
        the update must give."""
        outcome = self.oracle("BTC-USD", usd(index_usd), quotes)
        assert isinstance(outcome, Accepted), outcome
        for name, price in option_marks_usd.items():
            assert MarkPriceUpdated(name, usd(price)) in outcome.events, (name, outcome.events)
        return outcome.events


def order(
    account: str,
    side: Side,
    size: int,
    price: int | str | None,
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


def opened(
    *funded: tuple[str, int],
    instruments: list[Instrument] | None = None,
    config: EngineConfig | None = None,
) -> Venue:
    v = Venue(tuple(account for account, _ in funded), instruments, config)
    for account, amount in funded:
        v.accept(Deposit(account, "USDC", amount))
    v.index(100_000)
    return v


def cross(
    v: Venue,
    buyer: str,
    seller: str,
    size: int,
    price: int | str,
    instrument: str = PERP,
) -> TradeExecuted:
    """The seller rests, the buyer takes with an IOC: one trade of `size` at `price`."""
    v.place(seller, SELL, size, price, instrument)
    events = v.place(buyer, BUY, size, price, instrument, time_in_force=IOC)
    trade = events[-1]
    assert isinstance(trade, TradeExecuted) and trade.size == size, events
    return trade


# -- perpetuals and futures -------------------------------------------------------


def test_linear_margin_is_notional_times_rate() -> None:
    v = opened(("alice", FUNDS), ("bob", FUNDS))
    cross(v, "bob", "alice", 4, 100_000)
    cross(v, "alice", "bob", 3, 100_000, FUTURE)
    # Bob: long 4 perp, short 3 future, all at 100,000 (lot notional 100 USD).
    # No offsets between instruments: the requirements add up.
    assert v.margins("bob") == (usd("0.10") * 4 * 100 + usd("0.10") * 3 * 100, usd(20) + usd(15))
    assert v.margins("alice") == v.margins("bob")
    # At 101,000 the lot notional is 101 USD.
    v.index(101_000)
    assert v.margins("bob") == (usd("40.4") + usd("30.3"), usd("20.2") + usd("15.15"))
    # Equity moves with unrealized P&L: +4 USD on the perp, -3 USD on the future.
    bob = v.view("bob")
    assert bob.equity == bob.cash + usd(4) - usd(3)
    assert [(p.instrument, p.value) for p in bob.positions] == [
        (FUTURE, usd(-3)),
        (PERP, usd(4)),
    ]
    v.engine.check_invariants()


def test_linear_margin_rounds_up() -> None:
    odd = validate_spec(
        Instrument(
            id="ODD-PERP",
            kind=Kind.PERPETUAL,
            index="BTC-USD",
            settlement_asset="USDC",
            settlement_decimals=6,
            underlying_decimals=8,
            tick_size=500_000,
            contract_size=100_000,
            lot_size=1,
            initial_margin_bps=333,
            maintenance_margin_bps=111,
        )
    )
    v = opened(("alice", FUNDS), ("bob", FUNDS), instruments=[odd])
    cross(v, "bob", "alice", 1, "100000.5", "ODD-PERP")
    v.index("100000.5")
    # Notional 200,001 ticks x 500 = 100,000,500 units.
    # Initial 3.33% = 3,330,016.65 -> 3,330,017; maintenance 1.11% = 1,110,005.55 -> 1,110,006.
    assert v.margins("bob") == (3_330_017, 1_110_006)
    assert v.margins("alice") == (3_330_017, 1_110_006)
    v.engine.check_invariants()


# -- options --------------------------------------------------------------------------

ATM_CALL = "BTC-25DEC26-100000-C"
OTM_PUT = "BTC-25DEC26-100000-P"
FAR_CALL = "BTC-25DEC26-110000-C"
DEC26 = expiry_ns(2026, 12, 25)
ATM_AT_5000 = ExpiryQuote(DEC26, atm_vol_ppm=71_080)
"""At index 100,000 the 100,000 call marks at 5,000 USD."""
FAR_AT_1000 = ExpiryQuote(DEC26, atm_vol_ppm=57_650)
"""At index 100,000 the 110,000 call marks at 1,000 USD."""
SMILE_AT_102000 = ExpiryQuote(DEC26, atm_vol_ppm=54_040, skew_ppm=-55_000)
"""At index 102,000: the 100,000 call at 5,000 USD, so the 100,000 put at 3,000 (put-call
parity: call - put = forward - strike), and the 110,000 call at 1,000 (the skew lowers
the volatility above the forward)."""
MARKS = {ATM_CALL: 5_000, OTM_PUT: 3_000, FAR_CALL: 1_000}


def test_short_option_margin_by_hand() -> None:
    # Index at 102,000: one lot's underlying (0.01 BTC) is worth 1,020 USD, so the
    # charge is max(15% x 1,020 - OTM, 10% x 1,020) = max(153 - OTM, 102) and
    # maintenance adds 7.5% x 1,020 = 76.5 to the mark value.
    writers = ("w_atm", "w_put", "w_far")
    v = opened(("holder", FUNDS), *[(w, FUNDS) for w in writers])
    v.index(102_000, SMILE_AT_102000, **MARKS)
    for writer, option in zip(writers, MARKS, strict=True):
        cross(v, "holder", writer, 2, MARKS[option], option)
    # Table: writer -> (initial, maintenance) for 2 lots.
    #   ATM call, strike 100,000 (in the money, OTM 0): mark value 50.
    #   Put, strike 100,000: OTM 2,000 x 0.01 = 20, so the scan 153 - 20 = 133 wins.
    #   Call, strike 110,000: OTM 8,000 x 0.01 = 80, scan 73 < floor 102.
    expected = {
        "w_atm": (2 * usd(50 + 153), 2 * usd("126.5")),
        "w_put": (2 * usd(30 + 133), 2 * usd("106.5")),
        "w_far": (2 * usd(10 + 102), 2 * usd("86.5")),
    }
    for writer, requirement in expected.items():
        assert v.margins(writer) == requirement, writer
    # The holder: a long option is charged its premium value (50 + 30 + 10 per lot x 2)
    # and has no maintenance.
    assert v.margins("holder") == (2 * usd(50 + 30 + 10), 0)
    holder = v.view("holder")
    assert holder.equity == holder.cash + 2 * usd(90)
    v.engine.check_invariants()


def test_short_option_margin_follows_the_index() -> None:
    v = opened(("holder", FUNDS), ("writer", FUNDS))
    v.index(100_000, FAR_AT_1000, **{FAR_CALL: 1_000})
    cross(v, "holder", "writer", 1, 1_000, FAR_CALL)
    # Index 100,000: underlying 1,000 USD; OTM 10,000 x 0.01 = 100; scan 50 < floor 100.
    assert v.margins("writer") == (usd(10 + 100), usd(10 + 75))
    # Index 108,000: the call is priced again at the new forward, same volatility,
    # and is worth more. Underlying 1,080; OTM 20; scan 162 - 20 = 142 > floor 108;
    # maintenance 81; each on top of the new mark value (0.01 BTC at the mark).
    events = v.index(108_000)
    (mark,) = [
        e.price for e in events if isinstance(e, MarkPriceUpdated) and e.instrument == FAR_CALL
    ]
    assert mark > usd(1_000)
    value = mark // 100
    assert v.margins("writer") == (value + usd(142), value + usd(81))
    v.engine.check_invariants()


# -- open orders ------------------------------------------------------------------------


def test_open_orders_margined_as_worst_side() -> None:
    v = opened(("alice", FUNDS), ("bob", FUNDS))
    cross(v, "alice", "bob", 2, 100_000)  # alice long 2 at the mark 100,000
    # Table: resting orders -> initial requirement (maintenance ignores orders).
    assert v.margins("alice") == (usd(20), usd(10))  # 10% of 2 x 100 USD

    # Bids 3 at 100,500 (above the mark: 3 x 0.5 USD lost if filled) -> long 5:
    # 50 + 1.5 = 51.5.
    v.place("alice", BUY, 3, 100_500)
    assert v.margins("alice") == (usd("51.5"), usd(10))

    # Asks 8 at 101,000 -> short 6: 60, plus the 1.5 the bids above the mark could
    # lose (whichever orders fill, the position is at most 6 and the loss at most 1.5).
    v.place("alice", SELL, 8, 101_000)
    assert v.margins("alice") == (usd("61.5"), usd(10))

    v.accept(CancelAll("alice"))
    # Asks 2 at 99,500 (below the mark: 2 x 0.5 USD lost if filled): the long 2 held
    # now needs 20 and the fill could lose 1 -> 21.
    v.place("alice", SELL, 2, 99_500)
    assert v.margins("alice") == (usd(21), usd(10))
    # Asks 5 more at 99,000 -> short 5 with 1 + 5 = 6 USD lost: 50 + 6 = 56.
    v.place("alice", SELL, 5, 99_000)
    assert v.margins("alice") == (usd(56), usd(10))
    v.engine.check_invariants()


def test_long_option_with_sells_beyond_it_is_margined_as_the_short_it_could_become() -> None:
    v = opened(("holder", FUNDS), ("writer", FUNDS))
    v.index(100_000, ATM_AT_5000, **{ATM_CALL: 5_000})
    cross(v, "holder", "writer", 1, 5_000, ATM_CALL)
    assert v.margins("holder") == (usd(50), 0)
    # Selling 3 at the mark would leave the holder short 2: 2 x (50 + 150) = 400 USD.
    v.place("holder", SELL, 3, 5_000, ATM_CALL)
    assert v.margins("holder") == (usd(400), 0)
    # Selling 1 only closes the long: the long's 50 USD still dominates.
    v.accept(CancelAll("holder"))
    v.place("holder", SELL, 1, 5_000, ATM_CALL)
    assert v.margins("holder") == (usd(50), 0)
    v.engine.check_invariants()


# -- the initial margin check on orders ---------------------------------------------------

# Buying 10 BTC-PERP at the mark 100,000: initial 10% x 1,000 = 100 USD, and a taker
# fee of 5 bps x 1,000 = 0.5 USD assumed in the worst case.
TEN_LOTS_IM = usd(100)
TEN_LOTS_FEE = usd("0.5")


def test_order_just_inside_initial_margin_is_accepted_and_one_unit_short_is_not() -> None:
    enough = TEN_LOTS_IM + TEN_LOTS_FEE
    v = opened(("rich", enough), ("poor", enough - 1))
    v.refuse(order("poor", BUY, 10, 100_000), ErrorCode.INSUFFICIENT_MARGIN)
    v.place("rich", BUY, 10, 100_000)
    assert v.margins("rich") == (TEN_LOTS_IM, 0)
    # Post-only orders pay the maker fee (0 bps here): the fee margin falls away.
    v.place("poor", BUY, 10, 100_000, post_only=True)
    v.refuse(order("poor", BUY, 1, 90_000, post_only=True), ErrorCode.INSUFFICIENT_MARGIN)
    # A market order is margined at its collar: 10 lots at 105,000 lose 50 USD against
    # the mark, so it needs 100 + 50 + 0.525 fee.
    collar_need = usd(100 + 50) + usd("0.525")
    w = opened(("just", collar_need), ("short", collar_need - 1))
    market: dict[str, Any] = {"order_type": OrderType.MARKET, "time_in_force": IOC}
    w.refuse(order("short", BUY, 10, None, **market), ErrorCode.INSUFFICIENT_MARGIN)
    w.place("just", BUY, 10, None, **market)  # nothing to fill: accepted and cancelled
    v.engine.check_invariants()
    w.engine.check_invariants()


def test_option_orders_need_premium_or_short_margin() -> None:
    # Mark 5,000 on the ATM call at index 100,000: a lot is worth 50 USD; a short
    # needs 50 + max(150 - 0, 100) = 200 USD; taker fee 3 bps.
    long_need = usd(50) + usd("0.015")
    short_need = usd(200) + usd("0.015")
    above_need = usd(50 + 5) + usd("0.0165")  # buying at 5,500 loses 5 USD to the mark
    v = opened(
        ("long", long_need),
        ("long_short", long_need - 1),
        ("short", short_need),
        ("short_short", short_need - 1),
        ("above", above_need),
        ("above_short", above_need - 1),
    )
    v.index(100_000, ATM_AT_5000, **{ATM_CALL: 5_000})
    for account, side, price, ok in [
        ("long", BUY, 5_000, True),
        ("long_short", BUY, 5_000, False),
        ("short", SELL, 5_000, True),
        ("short_short", SELL, 5_000, False),
        ("above", BUY, 5_500, True),
        ("above_short", BUY, 5_500, False),
    ]:
        payload = order(account, side, 1, price, ATM_CALL)
        if ok:
            v.accept(payload)
        else:
            v.refuse(payload, ErrorCode.INSUFFICIENT_MARGIN)
    v.engine.check_invariants()


def test_risk_reducing_order_accepted_from_account_short_of_margin() -> None:
    v = opened(("dave", TEN_LOTS_IM + TEN_LOTS_FEE), ("maker", FUNDS))
    cross(v, "dave", "maker", 10, 100_000)  # dave pays 0.5 USD fee: cash 100, IM 100
    assert v.view("dave").equity == v.margins("dave")[0] == usd(100)
    v.index(99_000)
    # Equity 100 - 10 = 90 USD; initial 99, maintenance 49.5: short of initial margin,
    # not in a margin call.
    dave = v.view("dave")
    assert (dave.equity, dave.initial_margin, dave.maintenance_margin) == (
        usd(90),
        usd(99),
        usd("49.5"),
    )
    assert not dave.in_margin_call
    v.refuse(order("dave", BUY, 1, 98_000), ErrorCode.INSUFFICIENT_MARGIN)
    v.refuse(order("dave", SELL, 25, 99_000), ErrorCode.INSUFFICIENT_MARGIN)  # short 15
    # A sell that only reduces (or even flips to a smaller exposure) is accepted,
    # though not flagged reduce-only.
    v.place("dave", SELL, 15, 99_500)  # worst case short 5: 49.75 < 99
    v.accept(CancelAll("dave"))
    v.place("maker", BUY, 5, 99_000)
    events = v.place("dave", SELL, 5, 99_000, time_in_force=IOC)
    trade = events[-1]
    assert isinstance(trade, TradeExecuted)
    assert trade.taker_realized_pnl == usd(-5)  # 5 lots x 0.001 x -1,000
    assert v.view("dave").positions[0].size == 5
    v.engine.check_invariants()


# -- withdrawals --------------------------------------------------------------------------


def test_withdraw_is_limited_by_cash_and_free_collateral() -> None:
    v = opened(("erin", usd(1_000)), ("maker", FUNDS))
    cross(v, "erin", "maker", 10, 100_000)
    erin = v.view("erin")
    # Cash 999.5 after the fee; equity 999.5; initial 100: 899.5 is free.
    assert (erin.cash, erin.equity, erin.initial_margin, erin.available) == (
        usd("999.5"),
        usd("999.5"),
        usd(100),
        usd("899.5"),
    )
    v.refuse(Withdraw("erin", "USDC", usd("899.5") + 1), ErrorCode.INSUFFICIENT_MARGIN)
    v.refuse(Transfer("erin", "maker", "USDC", usd("899.5") + 1), ErrorCode.INSUFFICIENT_MARGIN)
    v.accept(Withdraw("erin", "USDC", usd("899.5")))
    v.refuse(Withdraw("erin", "USDC", 1), ErrorCode.INSUFFICIENT_MARGIN)
    # Unrealized profit raises equity but is not cash: it cannot be withdrawn. Equity
    # 200 covers initial 110 with 90 to spare, but only through the 100 of gain.
    v.index(110_000)
    erin = v.view("erin")
    assert (erin.cash, erin.equity, erin.initial_margin) == (usd(100), usd(200), usd(110))
    assert erin.available == 0
    v.refuse(Withdraw("erin", "USDC", usd(100) + 1), ErrorCode.INSUFFICIENT_FUNDS)
    v.refuse(Withdraw("erin", "USDC", usd(90) + 1), ErrorCode.INSUFFICIENT_MARGIN)
    v.refuse(Withdraw("erin", "USDC", usd(90)), ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE)
    v.refuse(Withdraw("erin", "USDC", 1), ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE)
    # Realized, the same gain is cash: closing 5 lots at 110,000 books 50 (less 0.275
    # of fee) and frees half the margin; what is free without the open gain can go.
    v.place("maker", BUY, 5, 110_000)
    v.place("erin", SELL, 5, 110_000, time_in_force=IOC)
    erin = v.view("erin")
    # Cash 100 + 50 - 0.275; initial 5 x 110 x 10% = 55; 50 of gain still open.
    assert (erin.cash, erin.equity, erin.initial_margin) == (
        usd("149.725"),
        usd("199.725"),
        usd(55),
    )
    assert erin.available == usd("94.725")
    v.refuse(
        Withdraw("erin", "USDC", usd("94.725") + 1), ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE
    )
    v.accept(Withdraw("erin", "USDC", usd("94.725")))
    v.engine.check_invariants()


ONE_BTC = 1_000
"""BTC-PERP lots in one BTC."""
NO_BREAKER = EngineConfig(rate_limit_messages=0, circuit_breaker_bps=0)
"""Default rules but the circuit breaker, so that one update may move BTC 15 %."""


def test_gains_withdrawn_then_lost_would_be_bad_debt_so_they_cannot_be_withdrawn() -> None:
    """The Mango Markets pattern. A trader deposits 11,000 USDC, buys 1 BTC at 100,000
    (50 of taker fee) and the index rises 10 %. Counting the 10,000 of gain, equity
    20,950 less 9,900 still covers the 11,000 of initial margin; but that would leave
    1,050 of cash, and a fall to 93,000 then leaves equity at 1,050 - 7,000 = -5,950:
    bad debt. Without the gain, 10,950 does not cover 11,000: nothing can go out."""
    v = opened(("mango", usd(11_000)), ("maker", FUNDS), config=NO_BREAKER)
    cross(v, "mango", "maker", ONE_BTC, 100_000)
    v.index(110_000)
    mango = v.view("mango")
    assert (mango.cash, mango.equity, mango.initial_margin, mango.available) == (
        usd(10_950),
        usd(20_950),
        usd(11_000),
        0,
    )
    assert mango.equity - usd(9_900) >= mango.initial_margin  # enough, with the gain
    gains = ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE
    v.refuse(Withdraw("mango", "USDC", usd(9_900)), gains)
    v.refuse(Transfer("mango", "maker", "USDC", usd(9_900)), gains)
    v.refuse(Withdraw("mango", "USDC", 1), gains)
    # The fall: the cash that stayed carries the loss. Equity 10,950 - 7,000 is below
    # maintenance (4,650), a margin call that closes at nobody else's expense.
    v.index(93_000)
    mango = v.view("mango")
    assert (mango.cash, mango.equity, mango.in_margin_call) == (usd(10_950), usd(3_950), True)
    v.accept(Liquidate("mango"))
    mango = v.view("mango")
    assert mango.positions == [] and mango.cash >= 0
    assert v.engine.totals()["socialized"] == 0
    v.engine.check_invariants()


def test_a_large_withdrawal_is_held_to_the_rule_when_requested_and_paid_as_it_stands() -> None:
    """A withdrawal above `large_withdrawal_units` leaves the balance when requested, so
    the request is where the rule applies; governance paying it later moves nothing
    more out of the account."""
    config = EngineConfig(rate_limit_messages=0, large_withdrawal_units=usd(5_000))
    v = opened(("mango", usd(11_000)), ("maker", FUNDS), config=config)
    cross(v, "mango", "maker", ONE_BTC, 100_000)
    v.index(110_000)
    gains = ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE
    v.refuse(Withdraw("mango", "USDC", usd(9_900)), gains)
    # 20,000 more: 30,950 without the gain covers the 11,000 with 19,950 to spare.
    v.accept(Deposit("mango", "USDC", usd(20_000)))
    assert v.view("mango").available == usd(19_950)
    v.refuse(Withdraw("mango", "USDC", usd(19_950) + 1), gains)
    (requested,) = v.accept(Withdraw("mango", "USDC", usd(19_950)))
    assert isinstance(requested, WithdrawalRequested)
    assert requested == WithdrawalRequested(v.seq, "mango", "USDC", usd(19_950), usd(11_000))
    held = v.view("mango")
    assert held.available == 0
    (proposal_opened,) = v.accept(Propose(ApproveWithdrawal(requested.request_id)))
    assert isinstance(proposal_opened, ProposalOpened)
    proposal_id = proposal_opened.proposal_id
    assert isinstance(v.apply(Approve(proposal_id), by="gov-b"), Accepted)
    v.now_ns += 86_400 * 10**9  # the timelock
    paid = v.accept(ExecuteProposal(proposal_id))
    assert Withdrawn("mango", "USDC", usd(19_950), usd(11_000)) in paid
    assert v.view("mango") == held
    v.engine.check_invariants()


def test_a_gain_on_one_position_never_offsets_a_loss_on_another() -> None:
    """hedge is long 10 BTC-PERP and short 10 of the December future, both from 100,000:
    flat in BTC. At 110,000 the perpetual is 100 up and the future 100 down. The loss
    counts and the gain does not, position by position, so 100 less is free than if
    the two were netted."""
    v = opened(("hedge", usd(1_000)), ("maker", FUNDS))
    cross(v, "hedge", "maker", 10, 100_000)  # hedge takes: 0.5 of fee
    cross(v, "maker", "hedge", 10, 100_000, FUTURE)  # hedge rests: no maker fee
    v.index(110_000)
    hedge = v.view("hedge")
    # Initial margin 10 % of 1,100 on each leg (standard margin offsets nothing).
    assert (hedge.cash, hedge.equity, hedge.initial_margin) == (
        usd("999.5"),
        usd("999.5"),
        usd(220),
    )
    assert hedge.available == usd("679.5")  # 999.5 - 100 of gain - 220
    v.refuse(
        Withdraw("hedge", "USDC", usd("679.5") + 1), ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE
    )
    v.accept(Withdraw("hedge", "USDC", usd("679.5")))
    v.engine.check_invariants()


def test_option_gains_are_not_cash_and_a_long_options_value_is_not_counted_twice() -> None:
    """writer sells the 100,000 call at 5,000 (50 USD a lot, as maker: no fee) to holder
    (standard margin) and pm (portfolio margin), one lot each, 50.015 paid with the
    3 bps taker fee out of 60 deposited."""
    v = opened(("holder", usd(60)), ("pm", usd(60)), ("writer", usd(1_000)))
    v.index(100_000, ATM_AT_5000, **{ATM_CALL: 5_000})
    v.accept(SetMarginMode("pm", MarginMode.PORTFOLIO))
    for buyer in ("holder", "pm"):
        cross(v, buyer, "writer", 1, 5_000, ATM_CALL)
    gains = ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE
    # At 104,000 the call marks 7,345: a lot is worth 73.45, 23.45 above its price.
    v.index(104_000, **{ATM_CALL: 7_345})
    holder, pm = v.view("holder"), v.view("pm")
    assert holder.cash == pm.cash == usd("9.985")
    assert holder.equity == pm.equity == usd("9.985") + usd("73.45")
    # Standard margin charges a long option its whole value, so its gain pays for
    # nothing already: the cash stays free.
    assert (holder.initial_margin, holder.available) == (usd("73.45"), usd("9.985"))
    v.accept(Withdraw("holder", "USDC", usd("9.985")))
    # Portfolio margin charges only the worst scenario loss, so the option's value
    # lends margin: counting the gain, the whole cash would be free; without it none.
    assert pm.equity - pm.initial_margin > pm.cash
    assert pm.equity - usd("23.45") < pm.initial_margin and pm.available == 0
    v.refuse(Withdraw("pm", "USDC", usd("9.985")), gains)
    v.refuse(Withdraw("pm", "USDC", 1), gains)
    # At 97,000 the call marks 3,570: the writer's two short lots are worth 71.40
    # against the 100 it received, a gain of 28.60 that stays in the account.
    v.index(97_000, **{ATM_CALL: 3_570})
    writer = v.view("writer")
    assert (writer.cash, writer.equity) == (usd(1_100), usd("1028.6"))
    assert writer.available == writer.equity - usd("28.6") - writer.initial_margin
    v.refuse(Withdraw("writer", "USDC", writer.available + 1), gains)
    v.accept(Withdraw("writer", "USDC", writer.available))
    v.engine.check_invariants()


# -- margin calls -------------------------------------------------------------------------


def margin_call_venue() -> Venue:
    """Frank long 10 BTC-PERP at 100,000 with 100 USD equity; BTC falls to 94,000.

    Equity 100 - 10 x 6 = 40 USD < maintenance 5% x 940 = 47 USD.
    """
    v = opened(("frank", TEN_LOTS_IM + TEN_LOTS_FEE), ("maker", FUNDS), ("carol", FUNDS))
    cross(v, "frank", "maker", 10, 100_000)
    v.index(95_000)  # equity 100 - 50 = 50 >= maintenance 47.5: no call yet
    assert not v.view("frank").in_margin_call
    events = v.index(94_000)
    assert events == [
        OracleObserved("BTC-USD", "oracle", usd(94_000), v.now_ns, 1),
        IndexPriceUpdated("BTC-USD", usd(94_000)),
        MarkPriceUpdated(PERP, usd(94_000)),
        MarkPriceUpdated("BTC-25DEC26", usd(94_000)),
        MarkPriceUpdated("BTC-26MAR27", usd(94_000)),
        MarginCallStarted("frank", usd(40), usd(47)),
    ]
    assert v.view("frank").in_margin_call
    return v


def test_margin_call_allows_only_reduce_only_and_a_deposit_ends_it() -> None:
    v = margin_call_venue()
    below = ErrorCode.ACCOUNT_BELOW_MAINTENANCE
    # Table: order from frank in a margin call -> code.
    v.refuse(order("frank", BUY, 1, 90_000), below)
    v.refuse(order("frank", SELL, 1, 95_000), below)  # would reduce, but is not reduce-only
    v.refuse(order("frank", SELL, 1, 94_000, time_in_force=IOC), below)
    v.refuse(
        order("frank", BUY, 1, 94_000, time_in_force=IOC, reduce_only=True),
        ErrorCode.REDUCE_ONLY_WOULD_INCREASE,
    )
    v.refuse(Withdraw("frank", "USDC", 1), ErrorCode.INSUFFICIENT_MARGIN)
    # A reduce-only order with nothing to meet is accepted (and cancelled unfilled).
    events = v.place("frank", SELL, 1, 94_000, time_in_force=IOC, reduce_only=True)
    assert len(events) == 2
    # 5 USD brings equity to 45 < 47: still in the call. 2 more reach 47 = 47: over.
    assert v.accept(Deposit("frank", "USDC", usd(5))) == [
        Deposited("frank", "USDC", usd(5), usd(105)),
    ]
    assert v.view("frank").in_margin_call
    assert v.accept(Deposit("frank", "USDC", usd(2))) == [
        Deposited("frank", "USDC", usd(2), usd(107)),
        MarginCallEnded("frank", usd(47), usd(47)),
    ]
    assert not v.view("frank").in_margin_call
    # Out of the call, an order that lowers the requirement is accepted again.
    v.place("frank", SELL, 1, 95_000)
    v.engine.check_invariants()


def test_reduce_only_fill_can_end_a_margin_call() -> None:
    v = margin_call_venue()
    v.place("carol", BUY, 2, 94_000)
    events = v.place("frank", SELL, 2, 94_000, time_in_force=IOC, reduce_only=True)
    # Realized 2 x 0.001 x -6,000 = -12 USD; fee 2 x 94 x 5 bps = 0.094 USD. Equity
    # 100 - 12 - 0.094 - 8 x 6 = 39.906; maintenance 8 x 94 x 5% = 37.6: the call ends.
    trade = events[1]
    assert isinstance(trade, TradeExecuted)
    assert (trade.taker_realized_pnl, trade.taker_fee) == (usd(-12), usd("0.094"))
    assert events[-1] == MarginCallEnded("frank", usd("39.906"), usd("37.6"))
    frank = v.view("frank")
    assert (frank.cash, frank.in_margin_call) == (usd("87.906"), False)
    v.engine.check_invariants()


def test_transfer_into_an_account_in_a_margin_call_ends_it() -> None:
    v = margin_call_venue()
    events = v.accept(Transfer("carol", "frank", "USDC", usd(10)))
    assert events[-1] == MarginCallEnded("frank", usd(50), usd(47))
    v.engine.check_invariants()


# -- the arithmetic the hot path relies on, against its plain definitions --------

SPECS = {spec.id: spec for spec in default_catalogue()}
MARGIN_INSTRUMENTS = ("BTC-PERP", "BTC-25DEC26", "BTC-25DEC26-90000-C", "BTC-25DEC26-110000-P")
INDEX_PRICE = 100_000_000_000  # 100,000 USD
orders_st = st.tuples(st.booleans(), st.integers(1, 400), st.integers(1, 50))


def held(instrument: str, qty: int, orders: list[tuple[bool, int, int]], mark: int) -> Position:
    """A position of `qty` lots with open `orders` (is_buy, price, lots), marked at
    `mark` after the orders were added (so its adverse-fill cache is stale)."""
    market = Market(SPECS[instrument])
    market.mark = 200
    position = Position(market)
    position.qty = qty
    position.cost = qty * 200
    for is_buy, price, size in orders:
        position.add_open(is_buy, price, size)
    market.mark = mark
    return position


@settings(max_examples=400, deadline=None)
@given(
    instrument=st.sampled_from(MARGIN_INSTRUMENTS),
    qty=st.integers(-60, 60),
    orders=st.lists(orders_st, max_size=8),
    mark=st.integers(1, 400),
    order=orders_st,
)
def test_requirements_with_order_equal_adding_the_order(
    instrument: str,
    qty: int,
    orders: list[tuple[bool, int, int]],
    mark: int,
    order: tuple[bool, int, int],
) -> None:
    # The pre-trade check asks what the requirement would be with one more order; it
    # must be what adding the order and asking again says, and leave the position be.
    margin = StandardMargin({"BTC-USD": INDEX_PRICE})
    asked = held(instrument, qty, orders, mark)
    added = held(instrument, qty, orders, mark)
    before = margin.position_requirement(added)
    added.add_open(*order)
    assert margin.requirements_with_order(asked, *order) == (
        before,
        margin.position_requirement(added),
    )
    untouched = held(instrument, qty, orders, mark)
    for name in ("qty", "cost", "open_buy", "open_sell", "buy_levels", "sell_levels"):
        assert getattr(asked, name) == getattr(untouched, name)
    assert asked.adverse_at(mark) == untouched.adverse_at(mark)


@settings(max_examples=300, deadline=None)
@given(
    positions=st.lists(
        st.tuples(st.sampled_from(MARGIN_INSTRUMENTS), st.integers(-60, 60), st.integers(1, 400)),
        max_size=4,
        unique_by=lambda p: p[0],
    ),
    cash=st.integers(-(10**9), 10**9),
)
def test_equity_and_maintenance_in_one_pass(
    positions: list[tuple[str, int, int]], cash: int
) -> None:
    margin = StandardMargin({"BTC-USD": INDEX_PRICE})
    account = Account("alice")
    account.cash = cash
    maintenance = 0
    for instrument, qty, mark in positions:
        position = held(instrument, qty, [], mark)
        account.positions[instrument] = position
        spec = SPECS[instrument]
        if position.market.is_linear:
            maintenance += -(
                -abs(qty) * mark * spec.tick_value * spec.maintenance_margin_bps // 10_000
            )
        elif qty < 0:
            underlying = position.market.underlying_value(INDEX_PRICE)
            per_lot = mark * spec.tick_value - (
                -underlying * spec.short_option_maintenance_bps // 10_000
            )
            maintenance += -qty * per_lot
    assert margin.maintenance_requirement(account) == maintenance
    assert margin.equity_and_maintenance(account) == (account_equity(account), maintenance)


@settings(max_examples=500, deadline=None)
@given(
    lots=st.integers(0, 10**8),
    mark=st.integers(1, 10**9),
    tick_value=st.integers(1, 10**6),
    bps=st.integers(0, 10_000),
)
def test_linear_margin_rounds_up_like_the_plain_formula(
    lots: int, mark: int, tick_value: int, bps: int
) -> None:
    market = Market(SPECS["BTC-PERP"])
    market.mark = mark
    market.tick_value = tick_value
    assert linear_margin(lots, market, bps) == -(-lots * mark * tick_value * bps // 10_000)
