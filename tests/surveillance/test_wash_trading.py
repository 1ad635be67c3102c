"""Wash trading: an owner's two accounts (or linked owners') crossing each other,
order for order, are found; unrelated pairs, unmatched or slow crosses and an
owner's independent desks are not."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from clearhouse.core import PlaceOrder, Side, TimeInForce, TradeExecuted
from clearhouse.core.authority import owner_of
from clearhouse.surveillance import Alert, Links, Surveillance
from clearhouse.surveillance.agents.activity_negatives import (
    accepted_order,
    activity_negatives,
    open_account,
)
from clearhouse.surveillance.agents.collusion import WashTrader
from clearhouse.surveillance.agents.honest import MS_NS, MarketMaker, Oracle, honest_population
from clearhouse.surveillance.detectors.wash_trading import WashTradingDetector
from clearhouse.surveillance.evaluation import session_links
from clearhouse.surveillance.sessions import (
    SECOND_NS,
    LabelledSession,
    SessionContext,
    run_session,
)

INSTRUMENT = "BTC-PERP"


class Crosser:
    """Two accounts crossing each other `crosses` times, two seconds apart: one rests
    a sell a tick inside the ask, the other buys it `delay_ms` later, `extra` lots
    more than it rests; the roles swap each time."""

    market_maker = False

    def __init__(
        self, first: str, second: str, *, crosses: int = 3, delay_ms: int = 50, extra: int = 0
    ) -> None:
        self.accounts = (first, second)
        self.owners = tuple(sorted({owner_of(first), owner_of(second)}))
        self.crosses = crosses
        self.delay_ms = delay_ms
        self.extra = extra
        self.placed: list[int] = []
        """Seqs of the resting orders."""
        self.taken: list[int] = []
        """Seqs of the orders that took them."""
        self.pending: tuple[str, int, int] | None = None

    def start(self, ctx: SessionContext) -> int:
        for account in self.accounts:
            open_account(ctx, account)
        return ctx.now_ns + 5 * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        if self.pending is not None:
            taker, size, price = self.pending
            order = PlaceOrder(
                taker, INSTRUMENT, Side.BUY, size, price=price, time_in_force=TimeInForce.IOC
            )
            self.taken.append(ctx.submit(order, by=owner_of(taker)).seq)
            self.pending = None
            return ctx.now_ns + 2 * SECOND_NS if len(self.taken) < self.crosses else None
        maker, taker = self.accounts[::-1] if len(self.placed) % 2 else self.accounts
        tick = ctx.market.specs[INSTRUMENT].tick_size
        ask = ctx.market.touch(INSTRUMENT).ask
        assert ask is not None
        size = 10 + len(self.placed)
        order = PlaceOrder(maker, INSTRUMENT, Side.SELL, size, price=ask - tick, post_only=True)
        step = ctx.submit(order, by=owner_of(maker))
        assert accepted_order(step) is not None
        self.placed.append(step.seq)
        self.pending = (taker, size + self.extra, ask - tick)
        return ctx.now_ns + self.delay_ms * MS_NS


def crossing_session(crosser: Crosser, seed: int = 1) -> LabelledSession:
    """A still index, one wide market maker (nobody trades with it, so it never
    leans) and the crosser, for 20 s."""
    return run_session(
        seed,
        lambda rng: [
            Oracle(rng, step_bps=0.0),
            MarketMaker("mm", INSTRUMENT, rng, spread_bps=20.0),
            crosser,
        ],
        duration_ns=20 * SECOND_NS,
    )


def wash_alerts(session: LabelledSession, links: Links) -> list[Alert]:
    surveillance = Surveillance(session.genesis, [WashTradingDetector()], links)
    return list(surveillance.run(session.steps))


def crossed(session: LabelledSession, crosser: Crosser) -> int:
    """How many of the crosser's taking orders traded with its other account."""
    steps = {step.seq: step for step in session.steps}
    return sum(
        1
        for seq in crosser.taken
        for event in steps[seq].events
        if isinstance(event, TradeExecuted) and event.maker_account in crosser.accounts
    )


def test_two_accounts_of_one_owner_crossing_each_other_are_wash_trading() -> None:
    crosser = Crosser("alice", "alice:b")
    session = crossing_session(crosser)
    assert crossed(session, crosser) == 3
    alerts = wash_alerts(session, Links())
    assert len(alerts) == 1  # one episode, one alert
    alert = alerts[0]
    assert alert.detector == "wash_trading"
    assert alert.accounts == ("alice", "alice:b")
    assert alert.instruments == (INSTRUMENT,)
    # raised at the second cross, citing both crosses: each resting order and its taker
    assert alert.seq == crosser.taken[1]
    assert alert.evidence == tuple(sorted(crosser.placed[:2] + crosser.taken[:2]))
    assert alert.score >= 50


def test_linked_owners_count_as_one_owner() -> None:
    crosser = Crosser("carol", "carol-linked-1")
    session = crossing_session(crosser)
    linked = wash_alerts(session, Links([["carol", "carol-linked-1"]]))
    assert [alert.accounts for alert in linked] == [("carol", "carol-linked-1")]
    assert wash_alerts(session, Links()) == []  # without the link data, two strangers


@pytest.mark.parametrize(
    ("crosser", "why"),
    [
        (Crosser("alice", "bob"), "unrelated accounts"),
        (Crosser("alice", "alice:b", extra=5), "the taker wanted more than the one order"),
        (Crosser("alice", "alice:b", delay_ms=1_500), "the resting order waited a while"),
        (Crosser("alice", "alice:b", crosses=1), "a single cross"),
    ],
)
def test_crosses_that_are_not_a_wash_practice(crosser: Crosser, why: str) -> None:
    session = crossing_session(crosser)
    assert crossed(session, crosser) == crosser.crosses, why
    assert wash_alerts(session, Links()) == [], why


def test_independent_desks_and_busy_unrelated_pairs_are_not_flagged() -> None:
    session = run_session(
        4,
        lambda rng: [*honest_population(rng), *activity_negatives(rng)],
        duration_ns=150 * SECOND_NS,
    )
    links = session_links(session)
    trades = [e for s in session.steps for e in s.events if isinstance(e, TradeExecuted)]
    linked = [t for t in trades if links.linked(t.maker_account, t.taker_account)]
    flow = Counter(t.maker_account for t in trades if t.taker_account == "flow-taker")
    assert len(linked) >= 5  # the house's desks did meet each other
    assert flow.most_common(1)[0][1] >= 20  # and the flow taker trades one maker all the time
    assert wash_alerts(session, links) == []


def test_the_agent_is_random_but_its_seed_is_its_session() -> None:
    def names(seed: int) -> tuple[str, ...]:
        return WashTrader(random.Random(seed), 1).accounts

    assert names(1) == names(1)
    assert {names(seed)[1] for seed in range(20)} == {"wash-1:b", "wash-1-linked-1"}
