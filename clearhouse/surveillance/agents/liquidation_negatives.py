"""Honest agents that look like price movers: the hard negatives of marking the
close, momentum ignition and mark manipulation. They join every session.

    Keeper          the venue's keeper: settles the future once it has expired,
                    pays funding when due, and liquidates every account in a
                    margin call (Liquidate, signed by "keeper"), polling twice a
                    second
    BasisTrader     a calendar spread on portfolio margin in a small sub-account
                    (`basis-N:spread`): the future one way, the perpetual the
                    other, built leg by leg to several times what either leg alone
                    could carry; it closes one leg first (the future, mostly) or
                    lets the future settle, the naked leg is short of margin, and
                    the keeper liquidates it: large trades, all one way, through
                    several levels of the book (the insurance fund takes the rest)
    ExpiringHolder  holds a position in the expiring future and keeps trading it
                    in the settlement window, mostly adding to it, a few lots at the
                    touch (never through it); one time in three it closes the
                    position in the window with one sweep, against its own interest
    BlockTrader     one or two large directional orders on a deep market, split in
                    one to three children that sweep several levels, then held;
                    unwound slowly much later
    ThinMaker       a second market maker on the thin SOL-PERP: wider quotes, an
                    inventory skew that leans both quotes the same way, and profits
                    withdrawn now and then

The timings have defaults for ten-minute sessions; tests pass shorter ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

from clearhouse.core import (
    CancelAll,
    Deposit,
    FundingTick,
    Liquidate,
    PlaceOrder,
    SettleExpiry,
    Side,
)
from clearhouse.core.txs import MarginMode, SetMarginMode, Withdraw
from clearhouse.surveillance.agents.honest import MS_NS, index_of, on_tick
from clearhouse.surveillance.agents.price_movers import (
    DEEP,
    IOC,
    Scripted,
    beyond_index,
    depth_within,
    levels_against,
    opposite,
    ordinary_gap,
    ordinary_trade,
)
from clearhouse.surveillance.sessions import SECOND_NS, USD, SessionContext
from clearhouse.testing import CUSTODIAN, KEEPER

PERP, FUTURE = "BTC-PERP", "BTC-FUT"


class Keeper:
    """What `clearhouse.keepers.Keeper.poll` does, as a session agent: settle, fund,
    liquidate, each read from the engine's state at the time of the poll. A refused
    settlement (no price yet) is retried a minute later; a margin call every poll."""

    owners: tuple[str, ...] = ()
    market_maker = False

    def __init__(self, rng: random.Random, poll_ms: tuple[int, int] = (400, 700)) -> None:
        self.rng = rng
        self.poll_ms = poll_ms
        self.retry_after: dict[str, int] = {}

    def _next(self, ctx: SessionContext) -> int:
        return ctx.now_ns + self.rng.randint(*self.poll_ms) * MS_NS

    def start(self, ctx: SessionContext) -> int | None:
        return self._next(ctx)

    def act(self, ctx: SessionContext) -> int | None:
        engine = ctx.venue.engine
        now = ctx.now_ns
        for instrument in engine.expired_unsettled(now):
            if self.retry_after.get(instrument, 0) <= now:
                step = ctx.submit(SettleExpiry(instrument), by=KEEPER)
                if step.rejected is not None:
                    self.retry_after[instrument] = now + 60 * SECOND_NS
        for instrument in engine.funding_due(now):
            ctx.submit(FundingTick(instrument), by=KEEPER)
        for account in engine.accounts_in_margin_call():
            ctx.submit(Liquidate(account), by=KEEPER)
        return self._next(ctx)


class BasisTrader(Scripted):
    first_wait_s = (2.0, 40.0)

    def __init__(
        self,
        rng: random.Random,
        number: int,
        *,
        first_wait_s: tuple[float, float] | None = None,
        pause_s: tuple[float, float] = (5.0, 30.0),
        hold_s: tuple[float, float] = (20.0, 150.0),
        into_settlement: float = 0.3,
    ) -> None:
        super().__init__(rng, first_wait_s)
        self.owner = f"basis-{number}"
        self.owners = (self.owner,)
        self.account = f"{self.owner}:spread"
        self.pause_s = pause_s
        self.hold_s = hold_s
        self.into_settlement = into_settlement

    def held(self, ctx: SessionContext, instrument: str) -> int:
        return ctx.market.position(self.account, instrument)

    def script(self, ctx: SessionContext) -> Iterator[int]:
        rng = self.rng
        collateral = rng.randint(1_200, 1_800) * USD
        ctx.submit(Deposit(self.account, "USDC", collateral), by=CUSTODIAN)
        ctx.submit(SetMarginMode(self.account, MarginMode.PORTFOLIO))
        spec = ctx.market.specs[PERP]
        lot_value = index_of(ctx, PERP) * spec.tick_value // spec.tick_size
        # Each leg alone needs the scan range (15 %) and more: legs of ~70 % of that.
        lots = max(1, collateral * 7 // (lot_value * 16 // 10))
        expiry = ctx.market.specs[FUTURE].expiry_ns
        # The future leg first, on whichever side its thin book can take it best.
        side = max(
            (Side.BUY, Side.SELL),
            key=lambda s: depth_within(ctx, FUTURE, s, beyond_index(ctx, FUTURE, s, 12.0)),
        )
        for _ in range(rng.randint(3, 4)):
            if ctx.now_ns >= expiry - 5 * SECOND_NS:
                break
            price = beyond_index(ctx, FUTURE, side, 12.0)
            if not depth_within(ctx, FUTURE, side, price):
                break
            ctx.submit(PlaceOrder(self.account, FUTURE, side, lots, price=price, time_in_force=IOC))
            yield rng.randint(200, 1500) * MS_NS
            yield from self.trade_until(ctx, PERP, lambda: -self.held(ctx, FUTURE))
            yield self.seconds(*self.pause_s)
        if rng.random() < self.into_settlement:
            return  # held into settlement: the naked perpetual is liquidated then
        yield self.seconds(*self.hold_s)
        first = FUTURE if rng.random() < 0.7 and ctx.now_ns < expiry - 5 * SECOND_NS else PERP
        for leg in (first, PERP if first == FUTURE else FUTURE):
            if not self.held(ctx, leg) or (leg == FUTURE and ctx.now_ns >= expiry):
                continue
            yield from self.trade_until(ctx, leg, lambda: 0)
            if ctx.market.position(self.account, leg) == 0:
                return  # one leg closed: the other is naked, the keeper comes

    def trade_until(
        self, ctx: SessionContext, instrument: str, wanted: Callable[[], int]
    ) -> Iterator[int]:
        """Trade `instrument` (IOC, a few attempts) until the position is `wanted()`."""
        for _ in range(6):
            gap = wanted() - self.held(ctx, instrument)
            if gap == 0:
                return
            side = Side.BUY if gap > 0 else Side.SELL
            price = beyond_index(ctx, instrument, side, 12.0)
            ctx.submit(
                PlaceOrder(self.account, instrument, side, abs(gap), price=price, time_in_force=IOC)
            )
            yield self.rng.randint(300, 1500) * MS_NS


class ExpiringHolder(Scripted):
    first_wait_s = (1.0, 20.0)

    def __init__(self, rng: random.Random, number: int = 1) -> None:
        super().__init__(rng)
        self.owner = f"hedger-{number}"
        self.owners = (self.owner,)

    def at_touch(self, ctx: SessionContext, side: Side, lots: int) -> None:
        met = levels_against(ctx, FUTURE, side)[:1]
        if met:
            size = min(lots, met[0][1])
            ctx.submit(
                PlaceOrder(self.owner, FUTURE, side, size, price=met[0][0], time_in_force=IOC)
            )

    def script(self, ctx: SessionContext) -> Iterator[int]:
        rng = self.rng
        expiry = ctx.market.specs[FUTURE].expiry_ns
        window_start = expiry - ctx.venue.genesis.config.settlement_window_ns
        side = rng.choice((Side.BUY, Side.SELL))
        target = rng.randint(40, 150)
        roll_at = window_start + self.seconds(10.0, 100.0) if rng.random() < 0.35 else None
        while ctx.now_ns < expiry - SECOND_NS:
            held = ctx.market.position(self.owner, FUTURE)
            if roll_at is not None and ctx.now_ns >= roll_at and held:
                out = Side.SELL if held > 0 else Side.BUY
                price = beyond_index(ctx, FUTURE, out, rng.uniform(8.0, 15.0))
                ctx.submit(
                    PlaceOrder(self.owner, FUTURE, out, abs(held), price=price, time_in_force=IOC)
                )
                roll_at = None
            elif abs(held) < target and ctx.now_ns < window_start:
                self.at_touch(ctx, side, rng.randint(5, 20))
            elif rng.random() < 0.8:
                self.at_touch(
                    ctx, side if rng.random() < 0.7 else opposite(side), rng.randint(1, 8)
                )
            else:
                ordinary_trade(ctx, rng, self.owner, size=(1, 5))
            yield self.seconds(2.0, 9.0)


class BlockTrader(Scripted):
    first_wait_s = (20.0, 120.0)

    def __init__(
        self,
        rng: random.Random,
        number: int = 1,
        *,
        first_wait_s: tuple[float, float] | None = None,
        hold_s: tuple[float, float] = (60.0, 200.0),
    ) -> None:
        super().__init__(rng, first_wait_s)
        self.owner = f"block-{number}"
        self.owners = (self.owner,)
        self.hold_s = hold_s

    def script(self, ctx: SessionContext) -> Iterator[int]:
        rng = self.rng
        for _ in range(rng.randint(1, 2)):
            instrument = rng.choice(DEEP)
            side = rng.choice((Side.BUY, Side.SELL))
            parent = rng.randint(300, 900)
            children = rng.randint(1, 3)
            for _ in range(children):
                price = beyond_index(ctx, instrument, side, rng.uniform(8.0, 15.0))
                ctx.submit(
                    PlaceOrder(
                        self.owner,
                        instrument,
                        side,
                        parent // children,
                        price=price,
                        time_in_force=IOC,
                    )
                )
                yield rng.randint(50, 1500) * MS_NS
            yield self.seconds(*self.hold_s)
            held = ctx.market.position(self.owner, instrument)
            while held:
                out = Side.SELL if held > 0 else Side.BUY
                lots = min(abs(held), rng.randint(10, 40))
                price = beyond_index(ctx, instrument, out, 4.0)
                ctx.submit(
                    PlaceOrder(self.owner, instrument, out, lots, price=price, time_in_force=IOC)
                )
                yield self.seconds(5.0, 20.0)
                held = ctx.market.position(self.owner, instrument)
            yield self.seconds(10.0, 60.0)
        while True:
            ordinary_trade(ctx, rng, self.owner)
            yield ordinary_gap(rng, 10.0)


class ThinMaker(Scripted):
    market_maker = True
    first_wait_s = (0.5, 3.0)

    def __init__(
        self,
        rng: random.Random,
        instrument: str = "SOL-PERP",
        *,
        first_wait_s: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(rng, first_wait_s)
        self.owner = "mm-sol-wide"
        self.owners = (self.owner,)
        self.instrument = instrument

    def script(self, ctx: SessionContext) -> Iterator[int]:
        rng = self.rng
        instrument = self.instrument
        withdraw_at = ctx.now_ns + self.seconds(40.0, 120.0)
        while True:
            ctx.submit(CancelAll(self.owner, instrument))
            index = index_of(ctx, instrument)
            half = rng.uniform(10.0, 30.0)
            lean = max(-20.0, min(20.0, -0.5 * ctx.market.position(self.owner, instrument)))
            for level in range(2):
                offset = half + 15.0 * level
                for side in (Side.BUY, Side.SELL):
                    sign = -1 if side is Side.BUY else 1
                    price = on_tick(ctx, instrument, index * (1 + (sign * offset + lean) / 10_000))
                    size = rng.randint(3, 10) * (1 + level)
                    ctx.submit(PlaceOrder(self.owner, instrument, side, size, price=price))
            if ctx.now_ns >= withdraw_at:
                ctx.submit(Withdraw(self.owner, "USDC", rng.randint(50, 500) * USD))
                withdraw_at = ctx.now_ns + self.seconds(60.0, 150.0)
            yield self.seconds(1.0, 4.0)


def hard_negatives(rng: random.Random) -> list[object]:
    return [
        Keeper(rng),
        BasisTrader(rng, 1),
        BasisTrader(rng, 2),
        ExpiringHolder(rng),
        BlockTrader(rng),
        ThinMaker(rng),
    ]


HONEST = [hard_negatives]
