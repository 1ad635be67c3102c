"""Layering: Sarao's ladder, built order by order and re-priced as the market moves,
is found once with its orders as evidence when the account trades the other side;
a ladder that sits still, one at the touch, or one no larger than the account's
other side is not; makers that re-price ladders of their own while they trade are
not; and on labelled sessions the detector finds nearly every episode and little
else."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from clearhouse.core import AmendOrder, CancelAll, CancelOrder, PlaceOrder, Side, TimeInForce
from clearhouse.core.events import TradeExecuted
from clearhouse.surveillance.agents.honest import MS_NS, MarketMaker, Oracle, honest_population
from clearhouse.surveillance.agents.order_negatives import order_negatives
from clearhouse.surveillance.agents.spoofers import accepted, layerer, spoofer
from clearhouse.surveillance.alerts import Alert
from clearhouse.surveillance.detectors.layering import LayeringDetector
from clearhouse.surveillance.runner import Surveillance
from clearhouse.surveillance.sessions import SECOND_NS, LabelledSession, SessionContext, run_session

ETH = "ETH-PERP"
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


@dataclass(frozen=True)
class Ladder:
    sizes: tuple[int, ...] = (300, 250, 350, 280, 320)
    away: int = 3
    """Ticks behind the others' best offer of the nearest layer."""
    reprice: bool = True
    """Move the ladder between 3 and 4 (`away`, `away + 1`) ticks away every 100 ms."""
    by_amend: bool = True
    """Move it by amendments, or by cancelling and placing each order anew."""


def layer(seqs: dict[str, list[int]], ladder: Ladder) -> Callable[[SessionContext], Script]:
    """Sarao's ladder by hand: large offers one tick apart behind the touch, re-priced
    every 100 ms, a 10-lot bid a tick inside the touch, and the ladder cancelled
    once the bid has filled."""

    def script(ctx: SessionContext) -> Script:
        yield 2 * SECOND_NS  # the maker's quotes are in
        tick = ctx.market.specs[ETH].tick_size
        bid, ask = ctx.market.touch(ETH)
        assert bid is not None and ask is not None
        offers: list[int] = []
        for number, size in enumerate(ladder.sizes):
            price = ask + (ladder.away + number) * tick
            step = ctx.submit(PlaceOrder("layerer-1", ETH, Side.SELL, size, price=price))
            seqs.setdefault("ladder", []).append(step.seq)
            order_id = accepted(step)
            assert order_id is not None
            offers.append(order_id)
        seqs["live"] = list(seqs["ladder"])
        genuine: int | None = None
        for tenth in range(40):
            yield 100 * MS_NS
            if ladder.reprice:
                shift = ladder.away + (tenth + 1) % 2
                for number, order_id in enumerate(offers):
                    price = ask + (shift + number) * tick
                    if ladder.by_amend:
                        amend = AmendOrder("layerer-1", order_id, price=price)
                        assert ctx.submit(amend).rejected is None
                        continue
                    size = ladder.sizes[number]
                    ctx.submit(CancelOrder("layerer-1", order_id))
                    step = ctx.submit(PlaceOrder("layerer-1", ETH, Side.SELL, size, price=price))
                    replaced = accepted(step)
                    assert replaced is not None
                    offers[number] = replaced
                    seqs["live"][number] = step.seq
            seqs[f"ladder@{ctx.steps[-1].seq}"] = list(seqs["live"])
            if tenth == 12:
                step = ctx.submit(PlaceOrder("layerer-1", ETH, Side.BUY, 10, price=bid + tick))
                seqs["genuine"] = [step.seq]
                genuine = accepted(step)
            if genuine is not None and genuine not in ctx.market.orders:
                break
        yield 200 * MS_NS
        seqs["cancel"] = [ctx.submit(CancelAll("layerer-1", ETH)).seq]
        yield 60 * SECOND_NS

    return script


def seller(seqs: dict[str, list[int]]) -> Callable[[SessionContext], Script]:
    """Hits the layerer's bid once it is in."""

    def script(ctx: SessionContext) -> Script:
        yield 2 * SECOND_NS + 1500 * MS_NS
        bid = ctx.market.touch(ETH).bid
        assert bid is not None
        order = PlaceOrder("seller", ETH, Side.SELL, 10, price=bid, time_in_force=TimeInForce.IOC)
        seqs["trade"] = [ctx.submit(order).seq]
        yield 60 * SECOND_NS

    return script


def scripted_session(ladder: Ladder) -> tuple[list[Alert], dict[str, list[int]], LabelledSession]:
    seqs: dict[str, list[int]] = {}

    def agents(rng: random.Random) -> list[Any]:
        return [
            Oracle(rng, step_bps=0.0),
            MarketMaker("mm-1", ETH, rng, requote_ms=(8_000, 9_000)),
            Scripted("layerer-1", layer(seqs, ladder)),
            Scripted("seller", seller(seqs)),
        ]

    session = run_session(2, agents, duration_ns=7 * SECOND_NS)
    alerts = list(Surveillance(session.genesis, [LayeringDetector()]).run(session.steps))
    return alerts, seqs, session


@pytest.mark.parametrize("by_amend", [True, False])
def test_sarao_ladder_is_found_once_with_its_orders_as_evidence(by_amend: bool) -> None:
    alerts, seqs, session = scripted_session(Ladder(by_amend=by_amend))
    trade = next(s for s in session.steps if s.seq == seqs["trade"][0])
    assert any(
        isinstance(e, TradeExecuted) and e.maker_account == "layerer-1" for e in trade.events
    )
    moves = {
        s.seq
        for s in session.steps
        if isinstance(s.payload, (AmendOrder, CancelOrder)) and s.payload.account == "layerer-1"
    }
    assert len(moves) >= 30
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.detector, alert.accounts, alert.instruments) == (
        "layering",
        ("layerer-1",),
        (ETH,),
    )
    assert alert.seq == seqs["trade"][0]  # raised at the trade on the other side
    # the ladder as it stood at the trade (each order's placement), the bid, the trade
    standing = max(
        (key for key in seqs if key.startswith("ladder@") and int(key[7:]) < alert.seq),
        key=lambda key: int(key[7:]),
    )
    assert {*seqs[standing], *seqs["genuine"], *seqs["trade"]} <= set(alert.evidence)
    if by_amend:  # the same orders all along, with the amendments that moved them
        assert set(seqs["ladder"]) <= set(alert.evidence)
        assert len(set(alert.evidence) & moves) >= 4
    assert "5 sell orders" in alert.summary and "on 5 levels" in alert.summary
    assert alert.score >= 80


@pytest.mark.parametrize(
    "ladder",
    [
        Ladder(reprice=False),  # a ladder that sits still is resting interest
        Ladder(away=1),  # within two ticks of the touch: spoofing's ground, not layering's
        Ladder(sizes=(12, 10, 11, 9, 10)),  # no larger than the bid: a two-sided book
        Ladder(sizes=(300, 250, 350)),  # three levels are not Sarao's four to six
    ],
)
def test_what_is_not_sarao_ladder_is_not_flagged(ladder: Ladder) -> None:
    alerts, seqs, _ = scripted_session(ladder)
    assert seqs["trade"]  # the bid did trade
    assert alerts == []


def hard_negatives(rng: random.Random) -> list[Any]:
    return [*honest_population(rng), *order_negatives(rng)]


@cache
def negatives_session() -> LabelledSession:
    return run_session(4, hard_negatives, duration_ns=90 * SECOND_NS)


def test_makers_and_slicers_that_reprice_while_they_trade_are_not_flagged() -> None:
    session = negatives_session()
    repriced: dict[str, int] = {}
    for step in session.steps:
        if isinstance(step.payload, (AmendOrder, CancelOrder)) and step.rejected is None:
            repriced[step.payload.account] = repriced.get(step.payload.account, 0) + 1
    assert repriced.get("lean-maker", 0) >= 100  # it re-prices its ladder all the time
    assert repriced.get("iceberg", 0) >= 20  # and the iceberg pegs its child orders
    trades = [e for s in session.steps for e in s.events if isinstance(e, TradeExecuted)]
    for owner in ("lean-maker", "mmp-maker", "iceberg"):
        assert sum(owner in (t.maker_account, t.taker_account) for t in trades) >= 3, owner
    alerts = list(Surveillance(session.genesis, [LayeringDetector()]).run(session.steps))
    assert alerts == []


def labelled(rng: random.Random) -> list[Any]:
    """The honest market with this module's hard negatives, two spoofers and two
    layerers: the sessions do not change when other patterns' agents do."""
    manipulators = [spoofer(rng, 1), spoofer(rng, 2), layerer(rng, 1), layerer(rng, 2)]
    return [*hard_negatives(rng), *manipulators]


@cache
def labelled_sessions() -> tuple[LabelledSession, ...]:
    return tuple(run_session(seed, labelled, duration_ns=150 * SECOND_NS) for seed in SEEDS)
