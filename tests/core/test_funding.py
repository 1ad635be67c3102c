"""FundingTick through the engine: the rate, who pays whom, and where rounding goes.

BTC-PERP trades 0.001 BTC lots on a 0.50 USD tick (500 micro-USDC a tick a lot).
Its mark is the index plus the book's premium (mid less index, capped at 1 %); the
funding interval here is one hour. In every scenario the index stays at 100,000 USD
(200,000 ticks), alice is long 10 lots and bob short 10, and carol's two resting
orders set the book's mid, so the premium, from the moment an oracle update marks
it, is whatever carol's quotes make it.
"""

from __future__ import annotations

from clearhouse.core import (
    Accepted,
    AccountFunded,
    Deposit,
    Engine,
    EngineConfig,
    ErrorCode,
    Event,
    FundingPaid,
    FundingTick,
    MarginCallStarted,
    Payload,
    PlaceOrder,
    Rejected,
    Sequenced,
    Side,
)
from clearhouse.core.funding import funding_rate_ppm
from clearhouse.testing import TestVenue, standard_genesis

USD = 10**6
SECOND = 10**9
HOUR = 3_600 * SECOND
START = 1_700_000_000 * SECOND
PERP = "BTC-PERP"
CONFIG = EngineConfig(rate_limit_messages=0, funding_interval_ns=HOUR)
FUNDED = ("alice", "bob", "carol")
TRADERS = (*FUNDED, "erin")


class Venue(TestVenue):
    def __init__(self, config: EngineConfig = CONFIG) -> None:
        genesis = standard_genesis(TRADERS, config=config)
        super().__init__(genesis, start_ns=START - SECOND, step_ns=1_000)
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

    def index(self, at_ns: int, price_usd: int = 100_000) -> list[Event]:
        outcome = self.oracle("BTC-USD", price_usd * USD, at_ns=at_ns)
        assert isinstance(outcome, Accepted), outcome
        return outcome.events

    def order(self, account: str, side: Side, size: int, price_usd: int) -> None:
        self.accept(PlaceOrder(account, PERP, side, size, price=price_usd * USD))

    def cash(self, account: str) -> int:
        view = self.engine.account(account)
        assert view is not None
        return view.cash

    def tick(self, at_ns: int) -> list[Event]:
        events = self.accept(FundingTick(PERP), at_ns=at_ns)
        self.engine.check_invariants()
        return events


def opened(bid: int, ask: int, config: EngineConfig = CONFIG) -> Venue:
    """Index at 100,000 from START (the perp's first mark: funding counts from here),
    alice long 10 and bob short 10 at 100,000, carol quoting `bid` / `ask`."""
    venue = Venue(config)
    venue.index(START)
    venue.order("bob", Side.SELL, 10, 100_000)
    venue.order("alice", Side.BUY, 10, 100_000)
    venue.order("carol", Side.BUY, 1, bid)
    venue.order("carol", Side.SELL, 1, ask)
    return venue


def funded(events: list[Event]) -> dict[str, int]:
    return {e.account: e.amount for e in events if isinstance(e, AccountFunded)}


def test_longs_pay_shorts_when_the_mark_is_above_the_index() -> None:
    venue = opened(100_401, 100_600)  # mid 201,001 ticks: premium 1,001 ticks
    venue.index(START + 1_234 * SECOND)  # the premium is in force from here
    insurance = venue.engine.totals()["insurance_fund"]
    events = venue.tick(START + HOUR)
    # 1,001 ticks for 2,366 s of the hour, over 200,000 ticks: 3,289.39 ppm -> 3,289.
    # alice owes 10 x 201,001 x 500 x 3,289 / 10^6 = 3,305,461.445: she pays it
    # rounded up, bob receives it rounded down, the fund gets the unit between.
    assert events[0] == FundingPaid(
        PERP, 3_289, 100_000 * USD, 100_500_500_000, START, START + HOUR, 3_305_462, 3_305_461, 1
    )
    assert funded(events) == {"alice": -3_305_462, "bob": 3_305_461}
    assert venue.engine.totals()["insurance_fund"] == insurance + 1


def test_shorts_pay_longs_when_the_mark_is_below_the_index() -> None:
    venue = opened(99_400, 99_599)  # mid 198,999 ticks: premium -1,001 ticks
    venue.index(START + 1_234 * SECOND)
    events = venue.tick(START + HOUR)
    # bob owes 10 x 198,999 x 500 x 3,289 / 10^6 = 3,272,538.555
    assert events[0] == FundingPaid(
        PERP, -3_289, 100_000 * USD, 99_499_500_000, START, START + HOUR, 3_272_539, 3_272_538, 1
    )
    assert funded(events) == {"bob": -3_272_539, "alice": 3_272_538}


def test_funding_is_capped_per_interval_and_a_late_tick_pays_every_interval_it_covers() -> None:
    venue = opened(101_500, 102_500)  # mid 4,000 ticks above: capped at 1 %, 2,000
    venue.index(START + SECOND)
    cash = {name: venue.cash(name) for name in ("alice", "bob")}
    events = venue.tick(START + HOUR)
    # 2,000 / 200,000 for 3,599 s of the hour: 9,997 ppm, capped at 75 bps
    assert events[0].rate_ppm == 7_500  # type: ignore[union-attr]
    assert funded(events) == {"alice": -7_575_000, "bob": 7_575_000}  # 10 x 202,000 x 500 x 0.75 %
    # Two hours late: twice the premium, twice the cap.
    events = venue.tick(START + 3 * HOUR)
    assert events[0].rate_ppm == 15_000  # type: ignore[union-attr]
    assert events[0].interval_start_ns == START + HOUR  # type: ignore[union-attr]
    assert funded(events) == {"alice": -15_150_000, "bob": 15_150_000}
    assert venue.cash("alice") == cash["alice"] - 22_725_000
    assert venue.cash("bob") == cash["bob"] + 22_725_000


def test_the_rate_is_a_fraction_of_the_index_per_interval_rounded_toward_zero() -> None:
    # premium x ns, index ticks, elapsed, interval, cap
    assert funding_rate_ppm(1_001 * 2_366 * SECOND, 200_000, HOUR, HOUR, 75) == 3_289
    assert funding_rate_ppm(-1_001 * 2_366 * SECOND, 200_000, HOUR, HOUR, 75) == -3_289
    assert funding_rate_ppm(2_000 * HOUR, 200_000, HOUR, HOUR, 75) == 7_500
    assert funding_rate_ppm(-2_000 * HOUR, 200_000, HOUR, HOUR, 75) == -7_500
    assert funding_rate_ppm(2_000 * HOUR, 200_000, HOUR, HOUR, 0) == 0
    assert funding_rate_ppm(0, 200_000, HOUR, HOUR, 75) == 0
    assert funding_rate_ppm(1, 200_000, HOUR, HOUR, 75) == 0  # far below one ppm


def test_a_tick_before_the_interval_has_passed_changes_nothing() -> None:
    venue = opened(100_401, 100_600)
    venue.refuse(FundingTick(PERP), ErrorCode.FUNDING_NOT_DUE, at_ns=START + HOUR - 1)
    venue.tick(START + HOUR)
    venue.refuse(FundingTick(PERP), ErrorCode.FUNDING_NOT_DUE, at_ns=START + 2 * HOUR - 1)


def test_funding_needs_a_marked_perpetual() -> None:
    venue = Venue()
    venue.refuse(FundingTick(PERP), ErrorCode.NO_MARK_PRICE, at_ns=START + HOUR)
    venue.refuse(FundingTick("BTC-25DEC26"), ErrorCode.NOT_A_PERPETUAL)
    venue.refuse(FundingTick("BTC-PERPETUAL"), ErrorCode.UNKNOWN_INSTRUMENT)
    outcome = venue.apply(FundingTick(PERP), by="alice")
    assert isinstance(outcome, Rejected) and outcome.code is ErrorCode.ROLE_FORBIDDEN


def test_no_premium_pays_nothing_and_restarts_the_interval() -> None:
    venue = Venue()
    venue.index(START)
    venue.order("bob", Side.SELL, 10, 100_000)
    venue.order("alice", Side.BUY, 10, 100_000)  # no quotes left: no premium
    events = venue.tick(START + HOUR + 5 * SECOND)
    assert events == [
        FundingPaid(
            PERP, 0, 100_000 * USD, 100_000 * USD, START, START + HOUR + 5 * SECOND, 0, 0, 0
        )
    ]
    venue.refuse(FundingTick(PERP), ErrorCode.FUNDING_NOT_DUE, at_ns=START + 2 * HOUR)


def test_funding_that_takes_a_holder_below_maintenance_starts_its_margin_call() -> None:
    venue = Venue()
    venue.index(START)
    venue.accept(Deposit("erin", "USDC", 101 * USD))
    venue.order("erin", Side.BUY, 10, 100_000)  # 10 % of 1,000 USD; a maker pays no fee
    venue.order("bob", Side.SELL, 10, 100_000)
    venue.order("carol", Side.BUY, 1, 101_500)
    venue.order("carol", Side.SELL, 1, 102_500)  # the premium sits at its 1 % cap
    venue.index(START + 60 * SECOND, 94_000)
    # Marked at 94,940: erin has 101 - 50.60 = 50.40 USD against 47.47 maintenance.
    view = venue.engine.account("erin")
    assert view is not None and view.equity == 50_400_000 and not view.in_margin_call
    events = venue.tick(START + HOUR)
    # At the 75 bps cap: 10 x 189,880 ticks x 500 x 0.75 % = 7.1205 USD
    assert funded(events)["erin"] == -7_120_500
    assert MarginCallStarted("erin", 50_400_000 - 7_120_500, 47_470_000) in events


def test_a_snapshot_after_funding_restores_to_the_same_state() -> None:
    venue = opened(100_401, 100_600)
    venue.index(START + 1_234 * SECOND)
    venue.tick(START + HOUR)
    restored = Engine.restore(venue.genesis, venue.engine.snapshot())
    assert restored.digest() == venue.engine.digest()
    # Both carry on alike: the next funding counts from the same point.
    venue.now_ns = START + 2 * HOUR
    entry = Sequenced(venue.engine.seq + 1, venue.now_ns, venue.sign(FundingTick(PERP)))
    assert restored.apply(entry, True) == venue.engine.apply(entry, True)
    assert restored.digest() == venue.engine.digest()
