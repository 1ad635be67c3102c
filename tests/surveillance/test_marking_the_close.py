"""Marking the close: sweeps through the book in an expiry's settlement window, the
way the account's position in it gains, are one alert citing each sweep; a holder
trading a few lots at the touch in the window, a holder closing its position with
a sweep, the settlement and the liquidations that follow it are not; and on
labelled sessions the detector finds the markers at the targets.

The sessions here are short, so their future expires 100-150 s in, with a
settlement window of 40-60 s (the detector is told the window, as a venue would
configure it from its genesis)."""

from __future__ import annotations

import random

import msgspec

from clearhouse.core import InstrumentSettled, Liquidate, PlaceOrder, Side, TimeInForce
from clearhouse.surveillance import Alert, Surveillance
from clearhouse.surveillance.agents.honest import Taker, honest_population
from clearhouse.surveillance.agents.liquidation_negatives import (
    BasisTrader,
    ExpiringHolder,
    Keeper,
)
from clearhouse.surveillance.agents.price_movers import depth_within, levels_against
from clearhouse.surveillance.detectors.marking_the_close import (
    MarkingTheCloseDetector,
    MarkingTheCloseParams,
)
from clearhouse.surveillance.evaluation import session_links
from clearhouse.surveillance.sessions import (
    SECOND_NS,
    SESSION_CONFIG,
    START_NS,
    LabelledSession,
    SessionContext,
    run_session,
    session_instruments,
)

NAME = "marking_the_close"


def session_with_expiry(
    seed: int,
    agents: object,
    expiry_s: int,
    window_s: int,
    duration_s: int,
) -> LabelledSession:
    instruments = tuple(
        msgspec.structs.replace(spec, expiry_ns=START_NS + expiry_s * SECOND_NS)
        if spec.id == "BTC-FUT"
        else spec
        for spec in session_instruments()
    )
    config = msgspec.structs.replace(SESSION_CONFIG, settlement_window_ns=window_s * SECOND_NS)
    return run_session(
        seed,
        agents,  # type: ignore[arg-type]
        duration_ns=duration_s * SECOND_NS,
        instruments=instruments,
        config=config,
    )


def alerts_of(session: LabelledSession, window_s: int) -> list[Alert]:
    params = MarkingTheCloseParams(settlement_window_ns=window_s * SECOND_NS)
    detector = MarkingTheCloseDetector(params)
    return list(
        Surveillance(session.genesis, [detector], session_links(session)).run(session.steps)
    )


class Banger:
    """Buys the future at the touch early on; in the window (60-100 s), sweeps every
    level within 15 bps past the ask, three times, seven seconds apart."""

    owners = ("banger",)
    market_maker = False

    def __init__(self) -> None:
        self.sweeps: list[int] = []
        self.built = 0

    def start(self, ctx: SessionContext) -> int:
        return ctx.now_ns + 5 * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        met = levels_against(ctx, "BTC-FUT", Side.BUY)
        if not met:
            return ctx.now_ns + SECOND_NS // 2
        if self.built < 3:
            order = PlaceOrder(
                "banger", "BTC-FUT", Side.BUY, 10, price=met[0][0], time_in_force=TimeInForce.IOC
            )
            ctx.submit(order)
            self.built += 1
            return ctx.now_ns + 5 * SECOND_NS if self.built < 3 else START_NS + 65 * SECOND_NS
        tick = ctx.market.specs["BTC-FUT"].tick_size
        limit = (met[0][0] * 10_015 // 10_000) // tick * tick
        size = depth_within(ctx, "BTC-FUT", Side.BUY, limit) + 20
        step = ctx.submit(
            PlaceOrder(
                "banger", "BTC-FUT", Side.BUY, size, price=limit, time_in_force=TimeInForce.IOC
            )
        )
        self.sweeps.append(step.seq)
        return ctx.now_ns + 7 * SECOND_NS if len(self.sweeps) < 3 else None


def test_sweeps_in_the_window_for_a_long_position_are_one_alert_citing_each() -> None:
    banger = Banger()

    def agents(rng: random.Random) -> list[object]:
        return [*honest_population(rng), Keeper(rng), banger]

    session = session_with_expiry(2, agents, expiry_s=100, window_s=40, duration_s=105)
    assert len(banger.sweeps) == 3
    alerts = alerts_of(session, 40)
    assert [alert.accounts for alert in alerts] == [("banger",)]
    (alert,) = alerts
    assert alert.detector == NAME and alert.instruments == ("BTC-FUT",)
    assert set(banger.sweeps[:2]) <= set(alert.evidence)
    assert alert.seq == banger.sweeps[1]  # raised at the second sweep
    settled = [e for s in session.steps for e in s.events if isinstance(e, InstrumentSettled)]
    assert len(settled) == 1  # the keeper settled the expiry


def test_the_same_sweeps_outside_the_window_are_not_flagged() -> None:
    banger = Banger()

    def agents(rng: random.Random) -> list[object]:
        return [*honest_population(rng), banger]

    session = session_with_expiry(2, agents, expiry_s=100, window_s=20, duration_s=95)
    assert len(banger.sweeps) == 3  # at 65, 72 and 79 s: before the window opens at 80 s
    assert alerts_of(session, 20) == []


def test_holders_trading_in_the_window_settlement_and_liquidations_are_not_flagged() -> None:
    def agents(rng: random.Random) -> list[object]:
        holders = [ExpiringHolder(rng, number) for number in range(1, 5)]
        return [
            *honest_population(rng),
            Taker("fut-taker", "BTC-FUT", rng, mean_gap_s=1.5),
            Keeper(rng),
            BasisTrader(
                rng, 1, first_wait_s=(1, 2), pause_s=(1, 3), hold_s=(50, 60), into_settlement=0
            ),
            BasisTrader(rng, 2, first_wait_s=(2, 4), pause_s=(1, 3), into_settlement=1),
            *holders,
        ]

    session = session_with_expiry(4, agents, expiry_s=100, window_s=40, duration_s=110)
    in_window = [
        s
        for s in session.steps
        if isinstance(s.payload, PlaceOrder)
        and s.payload.account.startswith("hedger-")
        and s.timestamp_ns >= START_NS + 60 * SECOND_NS
    ]
    assert len(in_window) >= 10  # the holders kept trading through the window
    assert any(isinstance(e, InstrumentSettled) for s in session.steps for e in s.events)
    assert any(isinstance(s.payload, Liquidate) and s.events for s in session.steps)
    assert alerts_of(session, 40) == []
