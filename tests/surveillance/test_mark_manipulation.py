"""Mark manipulation: one account of a linked pair pushes the thin market's book far
from the index, the mark follows, and the other, holding a position there,
withdraws: one alert naming both and citing the push, the marks and the
withdrawal; the engine refuses the withdrawal of unrealised gains. A market maker
on the thin market that withdraws its profits, a holder that withdraws without any
push, and liquidations are not flagged; and on labelled sessions the detector finds
the pumpers at the targets."""

from __future__ import annotations

import random

from clearhouse.core import ErrorCode, Liquidate, MarkPriceUpdated, PlaceOrder, Side, TimeInForce
from clearhouse.core.events import IndexPriceUpdated
from clearhouse.core.txs import Withdraw
from clearhouse.surveillance import Alert, Surveillance
from clearhouse.surveillance.agents.honest import honest_population, index_of, on_tick
from clearhouse.surveillance.agents.liquidation_negatives import BasisTrader, Keeper, ThinMaker
from clearhouse.surveillance.agents.price_movers import depth_within, levels_against
from clearhouse.surveillance.detectors.mark_manipulation import MarkManipulationDetector
from clearhouse.surveillance.evaluation import session_links
from clearhouse.surveillance.sessions import (
    SECOND_NS,
    USD,
    LabelledSession,
    SessionContext,
    run_session,
)

NAME = "mark_manipulation"
SOL = "SOL-PERP"


def alerts_of(session: LabelledSession) -> list[Alert]:
    surveillance = Surveillance(
        session.genesis, [MarkManipulationDetector()], session_links(session)
    )
    return list(surveillance.run(session.steps))


def premiums_bps(session: LabelledSession) -> list[int]:
    """SOL-PERP's mark over the index at each index update, in bps."""
    found = []
    for step in session.steps:
        index = next(
            (
                e.price
                for e in step.events
                if isinstance(e, IndexPriceUpdated) and e.index == "SOL-USD"
            ),
            None,
        )
        mark = next(
            (
                e.price
                for e in step.events
                if isinstance(e, MarkPriceUpdated) and e.instrument == SOL
            ),
            None,
        )
        if index and mark:
            found.append((mark - index) * 10_000 // index)
    return found


def take_touch(ctx: SessionContext, account: str, side: Side, lots: int) -> None:
    met = levels_against(ctx, SOL, side)
    if met:
        size = min(lots, met[0][1])
        ctx.submit(
            PlaceOrder(account, SOL, side, size, price=met[0][0], time_in_force=TimeInForce.IOC)
        )


class Pumper:
    """ "pump-linked-1" buys SOL-PERP at the touch; from 20 s "pump" buys through the
    book up to 4 % over the index and keeps a bid 3 % over it and an offer 5 % over
    it, once a second for six seconds; then "pump-linked-1" withdraws more than its
    cash less margin would allow without the gain."""

    owners = ("pump", "pump-linked-1")
    market_maker = False

    def __init__(self) -> None:
        self.pushes: list[int] = []
        self.withdrawal = 0
        self.acts = 0

    def start(self, ctx: SessionContext) -> int:
        return ctx.now_ns + 5 * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        self.acts += 1
        if self.acts <= 6:
            take_touch(ctx, "pump-linked-1", Side.BUY, 5)
            return ctx.now_ns + 2 * SECOND_NS
        if self.acts <= 12:
            index = index_of(ctx, SOL)
            limit = on_tick(ctx, SOL, index * 1.04)
            size = depth_within(ctx, SOL, Side.BUY, limit)
            bid = PlaceOrder("pump", SOL, Side.BUY, size + 5, price=on_tick(ctx, SOL, index * 1.03))
            ask = PlaceOrder("pump", SOL, Side.SELL, 5, price=on_tick(ctx, SOL, index * 1.05))
            self.pushes += [ctx.submit(bid).seq, ctx.submit(ask).seq]
            return ctx.now_ns + SECOND_NS
        view = ctx.venue.engine.account("pump-linked-1")
        assert view is not None
        # All it could take out if the gain were cash: the engine counts it out.
        amount = view.equity - view.initial_margin - 1
        self.withdrawal = ctx.submit(Withdraw("pump-linked-1", "USDC", amount)).seq
        return None


def test_a_linked_push_of_the_mark_then_a_withdrawal_is_one_alert_naming_both() -> None:
    pumper = Pumper()

    def agents(rng: random.Random) -> list[object]:
        return [*honest_population(rng), pumper]

    session = run_session(6, agents, duration_ns=45 * SECOND_NS)
    assert max(premiums_bps(session)) >= 90  # the mark sat at its cap (1 %) over the index
    withdrawal = next(s for s in session.steps if s.seq == pumper.withdrawal)
    assert withdrawal.rejected is ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE
    alerts = alerts_of(session)
    assert [alert.accounts for alert in alerts] == [("pump", "pump-linked-1")]
    (alert,) = alerts
    assert alert.detector == NAME and alert.instruments == (SOL,)
    assert alert.seq == pumper.withdrawal and pumper.withdrawal in alert.evidence
    assert set(pumper.pushes) <= set(alert.evidence)  # every bid and offer of the push


class HonestHolder:
    """Buys SOL-PERP at the touch now and then, withdraws some cash and opens a
    BTC-PERP position: the gains it uses were not made by pushing anything."""

    owners = ("holder",)
    market_maker = False

    def __init__(self) -> None:
        self.acts = 0
        self.withdrawals = 0

    def start(self, ctx: SessionContext) -> int:
        return ctx.now_ns + 3 * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        self.acts += 1
        take_touch(ctx, "holder", Side.BUY, 5)
        if self.acts % 4 == 0:
            ctx.submit(Withdraw("holder", "USDC", 1_000 * USD))
            self.withdrawals += 1
            price = on_tick(ctx, "BTC-PERP", index_of(ctx, "BTC-PERP") * 1.001)
            ctx.submit(
                PlaceOrder(
                    "holder", "BTC-PERP", Side.BUY, 10, price=price, time_in_force=TimeInForce.IOC
                )
            )
        return ctx.now_ns + 3 * SECOND_NS


def test_thin_market_makers_holders_and_liquidations_are_not_flagged() -> None:
    holder = HonestHolder()

    def agents(rng: random.Random) -> list[object]:
        return [
            *honest_population(rng),
            ThinMaker(rng, first_wait_s=(0.5, 1)),
            holder,
            Keeper(rng),
            BasisTrader(
                rng, 1, first_wait_s=(1, 2), pause_s=(1, 2), hold_s=(2, 4), into_settlement=0
            ),
        ]

    session = run_session(7, agents, duration_ns=150 * SECOND_NS)
    maker_withdrew = any(
        isinstance(s.payload, Withdraw) and s.payload.account == "mm-sol-wide" and s.events
        for s in session.steps
    )
    assert maker_withdrew and holder.withdrawals >= 5
    assert any(isinstance(s.payload, Liquidate) and s.events for s in session.steps)
    assert alerts_of(session) == []
