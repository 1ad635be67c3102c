"""Spoofing: the Coscia shape, built order by order, is found once with its orders
as evidence; the same orders left resting, or no larger than the genuine one, are
not; makers that cancel a great deal while they trade are not; and on labelled
sessions the detector finds nearly every episode and little else."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from functools import cache
from typing import Any

import pytest

from clearhouse.core import CancelOrder, PlaceOrder, SetMMP, Side, TimeInForce
from clearhouse.core.events import CancelReason, MMPTripped, OrderCancelled, TradeExecuted
from clearhouse.surveillance.agents.honest import MS_NS, MarketMaker, Oracle, honest_population
from clearhouse.surveillance.agents.order_negatives import order_negatives
from clearhouse.surveillance.agents.spoofers import accepted, layerer, spoofer
from clearhouse.surveillance.alerts import Alert
from clearhouse.surveillance.detectors.spoofing import SpoofingDetector
from clearhouse.surveillance.runner import Surveillance
from clearhouse.surveillance.sessions import SECOND_NS, LabelledSession, SessionContext, run_session

BTC = "BTC-PERP"
SEEDS = (1, 4)
"""The labelled sessions of the short evaluation."""
Script = Generator[int, None, None]


class Scripted:
    """An agent that plays `script(ctx)`: a generator of waits, in nanoseconds."""

    market_maker = False

    def __init__(self, owner: str, script: Callable[[SessionContext], Script]) -> None:
        self.owners = (owner,)
        self.script = script
        self.running: Script | None = None

    def start(self, ctx: SessionContext) -> int | None:
        self.running = self.script(ctx)
        return ctx.now_ns + SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        assert self.running is not None
        wait = next(self.running, None)
        return None if wait is None else ctx.now_ns + wait


def spoof(
    seqs: dict[str, list[int]], large: tuple[int, ...], cancel: str = "requested"
) -> Callable[[SessionContext], Script]:
    """Coscia's cycle by hand: a 10-lot offer a tick inside the touch, then bids of
    `large` lots at progressively better prices up to the touch; when the offer has
    filled, the bids are cancelled: `cancel` "requested" one by one, "mmp" by the
    market maker protection armed to trip on the offer's fill, "none" not at all."""

    def script(ctx: SessionContext) -> Script:
        yield 2 * SECOND_NS  # the maker's quotes are in
        tick = ctx.market.specs[BTC].tick_size
        bid, ask = ctx.market.touch(BTC)
        assert bid is not None and ask is not None
        if cancel == "mmp":
            armed = SetMMP("spoofer-1", "BTC-USD", 10 * SECOND_NS, 5, 10**15)
            assert ctx.submit(armed).rejected is None
        step = ctx.submit(PlaceOrder("spoofer-1", BTC, Side.SELL, 10, price=ask - tick))
        seqs["genuine"] = [step.seq]
        genuine = accepted(step)
        assert genuine is not None
        bids: list[int] = []
        for number, size in enumerate(large):
            price = bid - (len(large) - 1 - number) * tick
            step = ctx.submit(PlaceOrder("spoofer-1", BTC, Side.BUY, size, price=price))
            seqs.setdefault("large", []).append(step.seq)
            order_id = accepted(step)
            assert order_id is not None
            bids.append(order_id)
            yield 5 * MS_NS
        while genuine in ctx.market.orders:
            yield 20 * MS_NS
        yield 200 * MS_NS
        if cancel == "requested":
            for order_id in bids:
                seqs.setdefault("cancels", []).append(
                    ctx.submit(CancelOrder("spoofer-1", order_id)).seq
                )
        yield 60 * SECOND_NS

    return script


def buyer(seqs: dict[str, list[int]]) -> Callable[[SessionContext], Script]:
    """Lifts the spoofer's offer once all its large bids are in."""

    def script(ctx: SessionContext) -> Script:
        yield 2 * SECOND_NS + 300 * MS_NS
        ask = ctx.market.touch(BTC).ask
        assert ask is not None
        order = PlaceOrder("buyer", BTC, Side.BUY, 10, price=ask, time_in_force=TimeInForce.IOC)
        seqs["trade"] = [ctx.submit(order).seq]
        yield 60 * SECOND_NS

    return script


def scripted_session(
    large: tuple[int, ...], cancel: str = "requested"
) -> tuple[list[Alert], dict[str, list[int]], LabelledSession]:
    seqs: dict[str, list[int]] = {}

    def agents(rng: random.Random) -> list[Any]:
        return [
            Oracle(rng, step_bps=0.0),
            MarketMaker("mm-1", BTC, rng, requote_ms=(5_000, 6_000)),
            Scripted("spoofer-1", spoof(seqs, large, cancel)),
            Scripted("buyer", buyer(seqs)),
        ]

    session = run_session(1, agents, duration_ns=5 * SECOND_NS)
    alerts = list(Surveillance(session.genesis, [SpoofingDetector()]).run(session.steps))
    return alerts, seqs, session


def test_the_coscia_cycle_is_found_once_with_its_orders_as_evidence() -> None:
    alerts, seqs, session = scripted_session((70, 50, 30))
    trade = next(s for s in session.steps if s.seq == seqs["trade"][0])
    assert any(
        isinstance(e, TradeExecuted) and e.maker_account == "spoofer-1" for e in trade.events
    )
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.detector, alert.accounts, alert.instruments) == (
        "spoofing",
        ("spoofer-1",),
        (BTC,),
    )
    cited = set(alert.evidence)
    assert {*seqs["genuine"], *seqs["large"], *seqs["trade"]} <= cited
    # raised at the cancel that took the cancelled lots past 80% (70 + 50 of 150)
    assert alert.seq == seqs["cancels"][1]
    assert set(seqs["cancels"][:2]) <= cited
    assert alert.score >= 80  # 15x, three orders, improving prices, cancelled at once
    assert "at improving prices" in alert.summary


def test_a_spoof_pulled_by_the_protection_it_armed_is_found() -> None:
    """MMP set to trip on the offer's own fill cancels the bids in the same step: the
    account's cancel all the same."""
    alerts, seqs, session = scripted_session((70, 50, 30), cancel="mmp")
    trade = next(s for s in session.steps if s.seq == seqs["trade"][0])
    pulled = [e for e in trade.events if isinstance(e, OrderCancelled)]
    assert {e.reason for e in pulled} == {CancelReason.MMP} and len(pulled) == 3
    assert [(a.accounts, a.seq) for a in alerts] == [(("spoofer-1",), trade.seq)]
    assert {*seqs["genuine"], *seqs["large"], trade.seq} <= set(alerts[0].evidence)


@pytest.mark.parametrize(
    ("large", "cancel"),
    [
        ((70, 50, 30), "none"),  # the bids stay: orders that may well trade
        ((12, 10, 10), "requested"),  # no larger than the offer: a two-sided quote
        ((150,), "requested"),  # one large order alone is not "several"
    ],
)
def test_what_is_not_the_coscia_cycle_is_not_flagged(large: tuple[int, ...], cancel: str) -> None:
    alerts, seqs, _ = scripted_session(large, cancel)
    assert seqs["trade"]  # the offer did trade
    assert alerts == []


def hard_negatives(rng: random.Random) -> list[Any]:
    return [*honest_population(rng), *order_negatives(rng)]


@cache
def negatives_session() -> LabelledSession:
    return run_session(3, hard_negatives, duration_ns=90 * SECOND_NS)


def test_makers_and_slicers_that_cancel_while_they_trade_are_not_flagged() -> None:
    session = negatives_session()
    events = [e for s in session.steps for e in s.events]
    trades = [e for e in events if isinstance(e, TradeExecuted)]
    for owner in ("lean-maker", "mmp-maker", "iceberg", "mm-btc-perp-1"):
        assert sum(owner in (t.maker_account, t.taker_account) for t in trades) >= 3, owner
    assert any(isinstance(e, MMPTripped) and e.account == "mmp-maker" for e in events)
    mmp_cancels = [
        e for e in events if isinstance(e, OrderCancelled) and e.reason is CancelReason.MMP
    ]
    assert len(mmp_cancels) >= 4  # a trip pulls both sides of the quote at once
    alerts = list(Surveillance(session.genesis, [SpoofingDetector()]).run(session.steps))
    assert alerts == []


def labelled(rng: random.Random) -> list[Any]:
    """The honest market with this module's hard negatives, two spoofers and two
    layerers: the sessions do not change when other patterns' agents do."""
    manipulators = [spoofer(rng, 1), spoofer(rng, 2), layerer(rng, 1), layerer(rng, 2)]
    return [*hard_negatives(rng), *manipulators]


@cache
def labelled_sessions() -> tuple[LabelledSession, ...]:
    return tuple(run_session(seed, labelled, duration_ns=150 * SECOND_NS) for seed in SEEDS)
