"""Front-running: a linked account taking out of character ahead of a block and
getting out into it or after it is found; the block's own account working it, a
desk trading its usual size, an unrelated trader, and an owner's independent
desks are not."""

from __future__ import annotations

import pytest

from clearhouse.core import PlaceOrder, Side, TimeInForce, TradeExecuted
from clearhouse.core.authority import owner_of
from clearhouse.surveillance import Alert, Links, Surveillance
from clearhouse.surveillance.agents.activity_negatives import (
    activity_negatives,
    open_account,
    sweep_size,
    take,
    taking_price,
)
from clearhouse.surveillance.agents.honest import MarketMaker, Oracle, honest_population
from clearhouse.surveillance.detectors.front_running import FrontRunningDetector
from clearhouse.surveillance.evaluation import session_links
from clearhouse.surveillance.sessions import (
    SECOND_NS,
    LabelledSession,
    SessionContext,
    run_session,
)

INSTRUMENT = "BTC-PERP"
CLIENT = "erin"


class Script:
    """`runner` takes 5 lots every 2 s from 2 s (its everyday clip, alternating
    sides); at 30 s it buys `ahead` lots; at 31 s the client buys a block of 200
    lots through up to five levels; then the runner sells what it bought, by a
    sell resting a tick inside the second level just before the block (`into`)
    or by taking 2 s after it."""

    market_maker = False

    def __init__(self, runner: str, *, ahead: int = 60, into: bool = False) -> None:
        self.runner = runner
        self.owners = tuple(sorted({owner_of(runner), CLIENT}))
        self.ahead = ahead
        self.into = into
        self.clips = 0
        self.seqs: dict[str, int] = {}
        """The seq of each act: "ahead", "block", "unwind"."""

    def start(self, ctx: SessionContext) -> int:
        open_account(ctx, self.runner)
        return ctx.now_ns + 2 * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        elapsed_s = (ctx.now_ns - ctx.steps[0].timestamp_ns) // SECOND_NS
        if elapsed_s < 30:
            side = Side.BUY if self.clips % 2 else Side.SELL
            self.clips += 1
            take(ctx, self.runner, INSTRUMENT, side, 5)
            return ctx.now_ns + 2 * SECOND_NS
        if "ahead" not in self.seqs:
            self.seqs["ahead"] = self._take(ctx, self.runner, Side.BUY, self.ahead, 1)
            return ctx.now_ns + SECOND_NS
        if "block" not in self.seqs:
            if self.into:
                far = taking_price(ctx, INSTRUMENT, Side.BUY, 1)
                tick = ctx.market.specs[INSTRUMENT].tick_size
                assert far is not None
                order = PlaceOrder(self.runner, INSTRUMENT, Side.SELL, self.ahead, price=far - tick)
                self.seqs["unwind"] = ctx.submit(order, by=owner_of(self.runner)).seq
            self.seqs["block"] = self._take(ctx, CLIENT, Side.BUY, 200, 4)
            return None if self.into else ctx.now_ns + 2 * SECOND_NS
        self.seqs["unwind"] = self._take(ctx, self.runner, Side.SELL, self.ahead, 2)
        return None

    def _take(self, ctx: SessionContext, account: str, side: Side, size: int, levels: int) -> int:
        assert sweep_size(ctx, INSTRUMENT, side, levels) >= size  # the book has it
        step = take(ctx, account, INSTRUMENT, side, size, levels)
        assert step is not None and step.rejected is None
        return step.seq


def scripted_session(script: Script) -> LabelledSession:
    """A still index, two market makers nobody else trades with, and the script."""
    return run_session(
        2,
        lambda rng: [
            Oracle(rng, step_bps=0.0),
            MarketMaker("mm-1", INSTRUMENT, rng),
            MarketMaker("mm-2", INSTRUMENT, rng),
            script,
        ],
        duration_ns=40 * SECOND_NS,
    )


def front_running_alerts(session: LabelledSession, links: Links) -> list[Alert]:
    surveillance = Surveillance(session.genesis, [FrontRunningDetector()], links)
    return list(surveillance.run(session.steps))


@pytest.mark.parametrize("into", [False, True])
def test_a_linked_desk_trading_ahead_of_a_block_and_out_again(into: bool) -> None:
    script = Script(f"{CLIENT}:prop", into=into)
    session = scripted_session(script)
    alerts = front_running_alerts(session, Links())
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.detector == "front_running"
    assert alert.accounts == (CLIENT, f"{CLIENT}:prop")
    assert alert.instruments == (INSTRUMENT,)
    assert set(script.seqs.values()) <= set(alert.evidence)
    # raised when the desk got out: into the block itself, or at its sell after it
    assert alert.seq == script.seqs["block" if into else "unwind"]
    assert ("into it" in alert.summary) is into
    assert alert.score >= 60


def test_a_linked_owner_is_a_linked_desk() -> None:
    script = Script(f"{CLIENT}-linked-1")
    session = scripted_session(script)
    links = Links([[CLIENT, f"{CLIENT}-linked-1"]])
    assert [a.accounts for a in front_running_alerts(session, links)] == [
        (CLIENT, f"{CLIENT}-linked-1")
    ]
    assert front_running_alerts(session, Links()) == []  # without the link data, strangers


@pytest.mark.parametrize(
    ("script", "why"),
    [
        (Script(CLIENT), "the block's own account working it (slices ahead of a slice)"),
        (Script(f"{CLIENT}:prop", ahead=8), "the desk took its usual size ahead"),
        (Script("frank"), "an unrelated trader"),
    ],
)
def test_trading_ahead_that_is_not_front_running(script: Script, why: str) -> None:
    session = scripted_session(script)
    block = next(s for s in session.steps if s.seq == script.seqs["block"])
    assert sum(isinstance(e, TradeExecuted) for e in block.events) >= 3, "the block walked"
    assert front_running_alerts(session, Links()) == [], why


def test_independent_desks_and_a_sliced_order_are_not_flagged() -> None:
    session = run_session(
        4,
        lambda rng: [*honest_population(rng), *activity_negatives(rng)],
        duration_ns=150 * SECOND_NS,
    )
    slices = [
        s
        for s in session.steps
        if isinstance(s.payload, PlaceOrder)
        and s.payload.account == "house:exec"
        and s.payload.time_in_force is TimeInForce.IOC
        and len({e.price for e in s.events if isinstance(e, TradeExecuted)}) >= 2
    ]
    assert len(slices) >= 3  # the slicer's orders walked the book, next to its sister desks
    assert front_running_alerts(session, session_links(session)) == []
