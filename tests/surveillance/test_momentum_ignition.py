"""Momentum ignition: a burst that takes several levels one way, then orders the
other way into the move, is one alert citing both; a block that sweeps and holds,
a keeper's liquidation, and the background are not; and on labelled sessions the
detector finds the igniters at the targets."""

from __future__ import annotations

import random

from clearhouse.core import Liquidate, PlaceOrder, Side, TimeInForce, TradeExecuted
from clearhouse.surveillance import Alert, Surveillance
from clearhouse.surveillance.agents.honest import Taker, honest_population
from clearhouse.surveillance.agents.liquidation_negatives import BasisTrader, BlockTrader, Keeper
from clearhouse.surveillance.agents.price_movers import depth_within, levels_against, taken
from clearhouse.surveillance.detectors.momentum_ignition import MomentumIgnitionDetector
from clearhouse.surveillance.evaluation import session_links
from clearhouse.surveillance.sessions import SECOND_NS, LabelledSession, SessionContext, run_session

MS_NS = 10**6
NAME = "momentum_ignition"


def alerts_of(session: LabelledSession) -> list[Alert]:
    surveillance = Surveillance(
        session.genesis, [MomentumIgnitionDetector()], session_links(session)
    )
    return list(surveillance.run(session.steps))


class Igniter:
    """Once, forty seconds in: three immediate buys, each through everything within
    4 bps past the ask, then two sell orders resting between the ask it started
    from and the highest price it paid."""

    owners = ("ign",)
    market_maker = False

    def __init__(self) -> None:
        self.burst: list[int] = []
        self.reversal: list[int] = []
        self.start_ask = 0
        self.top = 0
        self.bought = 0

    def start(self, ctx: SessionContext) -> int:
        return ctx.now_ns + 40 * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        if len(self.burst) < 3:
            met = levels_against(ctx, "BTC-PERP", Side.BUY)
            if not met:  # the burst emptied the book: a moment for the makers
                return ctx.now_ns + 100 * MS_NS
            ask = met[0][0]
            self.start_ask = self.start_ask or ask
            tick = ctx.market.specs["BTC-PERP"].tick_size
            limit = (ask + ask * 4 // 10_000) // tick * tick
            size = depth_within(ctx, "BTC-PERP", Side.BUY, limit)
            step = ctx.submit(
                PlaceOrder(
                    "ign", "BTC-PERP", Side.BUY, size, price=limit, time_in_force=TimeInForce.IOC
                )
            )
            self.burst.append(step.seq)
            lots, last = taken(step)
            self.bought += lots
            self.top = max(self.top, last)
            return ctx.now_ns + 150 * MS_NS
        tick = ctx.market.specs["BTC-PERP"].tick_size
        for price in (self.start_ask, (self.start_ask + self.top) // 2 // tick * tick):
            order = PlaceOrder("ign", "BTC-PERP", Side.SELL, self.bought * 15 // 100, price=price)
            self.reversal.append(ctx.submit(order).seq)
        return None


def test_a_burst_then_orders_resting_into_the_move_is_one_alert_citing_both() -> None:
    igniter = Igniter()

    def agents(rng: random.Random) -> list[object]:
        flow = Taker("flow", "BTC-PERP", rng, mean_gap_s=1.0)
        return [*honest_population(rng), flow, igniter]

    session = run_session(3, agents, duration_ns=60 * SECOND_NS)
    assert len(igniter.burst) == 3 and len(igniter.reversal) == 2
    alerts = alerts_of(session)
    assert [alert.accounts for alert in alerts] == [("ign",)]
    (alert,) = alerts
    assert alert.detector == NAME and alert.instruments == ("BTC-PERP",)
    assert set(igniter.burst) | set(igniter.reversal) <= set(alert.evidence)
    assert alert.seq == igniter.reversal[-1]  # raised when the reversal reached its share


class BurstOnly(Igniter):
    """The same burst, held: no order the other way."""

    def act(self, ctx: SessionContext) -> int | None:
        return super().act(ctx) if len(self.burst) < 3 else None


def test_the_same_burst_held_is_not_flagged() -> None:
    holder = BurstOnly()

    def agents(rng: random.Random) -> list[object]:
        return [*honest_population(rng), Taker("flow", "BTC-PERP", rng, mean_gap_s=1.0), holder]

    session = run_session(3, agents, duration_ns=60 * SECOND_NS)
    assert len(holder.burst) == 3
    assert alerts_of(session) == []


def test_liquidations_and_block_trades_are_not_flagged() -> None:
    def agents(rng: random.Random) -> list[object]:
        return [
            *honest_population(rng),
            Keeper(rng),
            BasisTrader(
                rng, 1, first_wait_s=(1, 2), pause_s=(1, 2), hold_s=(2, 4), into_settlement=0
            ),
            BasisTrader(
                rng, 2, first_wait_s=(5, 8), pause_s=(1, 2), hold_s=(2, 4), into_settlement=0
            ),
            BlockTrader(rng, 1, first_wait_s=(10, 20), hold_s=(20, 30)),
            BlockTrader(rng, 2, first_wait_s=(30, 40), hold_s=(20, 30)),
        ]

    session = run_session(5, agents, duration_ns=90 * SECOND_NS)
    liquidations = [s for s in session.steps if isinstance(s.payload, Liquidate) and s.events]
    swept = [
        sum(isinstance(e, TradeExecuted) for e in s.events)
        for s in session.steps
        if isinstance(s.payload, PlaceOrder) and s.payload.account.startswith("block-")
    ]
    liquidation_trades = [sum(isinstance(e, TradeExecuted) for e in s.events) for s in liquidations]
    assert liquidations and max(liquidation_trades) >= 2  # large, one way
    assert max(swept) >= 3  # the blocks took several levels
    assert alerts_of(session) == []
