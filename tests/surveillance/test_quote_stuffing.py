"""Quote stuffing: a burst of orders and cancels far above the account's own norm
is found; a steady high-rate market maker, a burst the venue refuses and a burst
before the account has a norm are not."""

from __future__ import annotations

import random

import pytest

from clearhouse.core import CancelOrder, PlaceOrder, Side
from clearhouse.surveillance import Alert, Links, Surveillance
from clearhouse.surveillance.agents.activity_negatives import (
    HighFrequencyMaker,
    accepted_order,
    activity_negatives,
)
from clearhouse.surveillance.agents.honest import MS_NS, MarketMaker, Oracle, honest_population
from clearhouse.surveillance.detectors.quote_stuffing import QuoteStuffingDetector
from clearhouse.surveillance.evaluation import session_links
from clearhouse.surveillance.sessions import (
    SECOND_NS,
    LabelledSession,
    SessionContext,
    run_session,
)

INSTRUMENT = "ETH-PERP"
STUFFER = "dave"


class Script:
    """Every second from 1 s, one order a tick behind the bid, and a cancel of the
    last; at `burst_s`, `orders` orders 5-24 ticks behind the touch in chunks of 10
    every 2 ms, each chunk cancelled by the next; `off_grid` prices the burst's
    orders between ticks, so the venue refuses them."""

    market_maker = False
    owners = (STUFFER,)

    def __init__(self, *, burst_s: int = 20, orders: int = 150, off_grid: bool = False) -> None:
        self.burst_s = burst_s
        self.orders = orders
        self.off_grid = off_grid
        self.quiet: list[int] = []
        self.burst: list[int] = []
        self.resting: list[int] = []
        self.start_ns = 0

    def start(self, ctx: SessionContext) -> int:
        self.start_ns = ctx.now_ns
        return ctx.now_ns + SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        if ctx.now_ns - self.start_ns < self.burst_s * SECOND_NS:
            self.quiet += self._chunk(ctx, 1, away=1)
            return ctx.now_ns + SECOND_NS
        self.burst += self._chunk(ctx, 10, away=5, off_grid=self.off_grid)
        return ctx.now_ns + 2 * MS_NS if len(self.burst) < 2 * self.orders else None

    def _chunk(
        self, ctx: SessionContext, orders: int, away: int, off_grid: bool = False
    ) -> list[int]:
        """Cancel the last chunk's orders, place `orders` new ones; their seqs."""
        seqs = [ctx.submit(CancelOrder(STUFFER, order_id)).seq for order_id in self.resting]
        self.resting = []
        bid = ctx.market.touch(INSTRUMENT).bid
        assert bid is not None
        tick = ctx.market.specs[INSTRUMENT].tick_size
        for number in range(orders):
            price = bid - (away + number % 20) * tick + (tick // 2 if off_grid else 0)
            step = ctx.submit(PlaceOrder(STUFFER, INSTRUMENT, Side.BUY, 1, price=price))
            seqs.append(step.seq)
            placed = accepted_order(step)
            if placed is not None:
                self.resting.append(placed)
        return seqs


def quiet_market(*agents: object) -> LabelledSession:
    return run_session(
        3,
        lambda rng: [Oracle(rng), MarketMaker("mm", INSTRUMENT, rng), *agents],
        duration_ns=30 * SECOND_NS,
    )


def stuffing_alerts(session: LabelledSession, links: Links | None = None) -> list[Alert]:
    surveillance = Surveillance(session.genesis, [QuoteStuffingDetector()], links or Links())
    return list(surveillance.run(session.steps))


def test_a_burst_far_above_the_accounts_norm_is_quote_stuffing() -> None:
    script = Script()
    session = quiet_market(script)
    alerts = stuffing_alerts(session)
    assert len(alerts) == 1  # one burst, one alert
    alert = alerts[0]
    assert alert.detector == "quote_stuffing"
    assert alert.accounts == (STUFFER,)
    assert alert.instruments == (INSTRUMENT,)
    # raised inside the burst, at its 100th message, citing the burst's messages
    assert alert.seq == script.burst[99]
    assert alert.evidence == tuple(script.burst[:100])
    assert not set(alert.evidence) & set(script.quiet)


@pytest.mark.parametrize(
    ("script", "why"),
    [
        (Script(orders=40), "a burst of 80 messages: a trader's handful, not a flood"),
        (Script(off_grid=True), "the venue refused the burst's orders: nothing reached the book"),
        (Script(burst_s=5), "the account has no norm yet"),
    ],
)
def test_bursts_that_are_not_quote_stuffing(script: Script, why: str) -> None:
    session = quiet_market(script)
    assert len(script.burst) >= 2 * script.orders - 10
    assert stuffing_alerts(session) == [], why


def test_a_steady_high_rate_maker_is_its_own_norm() -> None:
    maker = HighFrequencyMaker(random.Random(1), instrument=INSTRUMENT, requote_ms=(8, 16))
    session = quiet_market(maker)
    sent = [s for s in session.steps if getattr(s.payload, "account", None) == "hft-mm"]
    assert len(sent) >= 29 * 150  # well above `burst_min` every second of the session
    assert stuffing_alerts(session) == []


def test_the_honest_population_and_hard_negatives_are_not_flagged() -> None:
    session = run_session(
        4,
        lambda rng: [*honest_population(rng), *activity_negatives(rng)],
        duration_ns=120 * SECOND_NS,
    )
    assert stuffing_alerts(session, session_links(session)) == []
