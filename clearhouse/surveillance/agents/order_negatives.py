"""Honest hard negatives for the order-book detectors (spoofing, layering): agents
that place large orders, cancel a great deal and trade while they do, for honest
reasons.

    LeaningMaker    quotes three to eight levels a side one tick apart, inside the
                    others' spread, leaning its sizes 1.5-3.5x toward the side that
                    moves it to its inventory target (which changes every minute or
                    so); follows the market by amending every quote, and now and
                    then pulls everything and quotes afresh
    ProtectedMaker  quotes three levels a side at the touch with market maker
                    protection armed (SetMMP): when its fills in a window pass the
                    limit the engine cancels all its quotes at once; it waits, resets
                    and quotes again. A flow taker on its book trips it now and then
    IcebergTrader   works large parent orders (400-1,500 lots) as small child orders
                    (5-25 lots) at and just behind the touch of one side, pegged to
                    the touch by amendments or cancel/replace, a child replaced as
                    each fills, and an IOC now and then to keep up

`order_negatives(rng)` is this module's `HONEST` factory: one of each, on the deep
perps.
"""

from __future__ import annotations

import random

from clearhouse.core import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    ErrorCode,
    PlaceOrder,
    ResetMMP,
    SetMMP,
    Side,
    TimeInForce,
)
from clearhouse.surveillance.agents.honest import MS_NS, Taker, index_of, on_tick
from clearhouse.surveillance.agents.spoofers import accepted, behind, other, others_best
from clearhouse.surveillance.sessions import SECOND_NS, SessionContext

POSITION_MAX = 500
"""Lots a maker holds at most before it stops quoting the side that adds to them."""
SKEW_BPS_PER_LOT = 0.005


class LeaningMaker:
    market_maker = True

    def __init__(self, rng: random.Random, owner: str, instrument: str) -> None:
        self.owners = (owner,)
        self.owner = owner
        self.instrument = instrument
        self.rng = rng
        self.levels = rng.randint(3, 8)
        self.base = rng.randint(10, 25)
        self.half_spread_bps = rng.uniform(0.8, 1.5)
        self.quotes: dict[Side, list[int]] = {Side.BUY: [], Side.SELL: []}
        self.target = 0
        self.lean = 1.0
        self.next_target_ns = 0

    def start(self, ctx: SessionContext) -> int | None:
        return ctx.now_ns + self.rng.randint(1, 3000) * MS_NS

    def act(self, ctx: SessionContext) -> int | None:
        rng = self.rng
        if ctx.now_ns >= self.next_target_ns:
            self.target = rng.randint(-300, 300)
            self.lean = rng.uniform(1.5, 3.5)
            self.next_target_ns = ctx.now_ns + rng.randint(30, 90) * SECOND_NS
        position = ctx.market.position(self.owner, self.instrument)
        heavy = Side.BUY if position < self.target else Side.SELL
        if rng.random() < 0.1 or not any(self.quotes.values()):
            ctx.submit(CancelAll(self.owner, self.instrument))
            self.quotes = {Side.BUY: [], Side.SELL: []}
        tick = ctx.market.specs[self.instrument].tick_size
        mid = index_of(ctx, self.instrument)
        skew = -position * SKEW_BPS_PER_LOT
        for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
            if position * -sign >= POSITION_MAX:  # full on this side: stop adding to it
                self._quote(ctx, side, 0, tick, 1.0, levels=0)
                continue
            offset_bps = sign * self.half_spread_bps + skew
            top = on_tick(ctx, self.instrument, mid * (1 + offset_bps / 10_000))
            lean = self.lean if side is heavy else 1.0
            self._quote(ctx, side, top, tick, lean, self.levels)
        return ctx.now_ns + rng.randint(100, 400) * MS_NS

    def _quote(
        self, ctx: SessionContext, side: Side, top: int, tick: int, lean: float, levels: int
    ) -> None:
        """Move the side's ladder to `levels` levels from `top`, sizes `lean` times the
        base: by amendment where it can, by a fresh order where it cannot."""
        quotes = [order_id for order_id in self.quotes[side] if order_id in ctx.market.orders]
        for order_id in quotes[levels:]:
            ctx.submit(CancelOrder(self.owner, order_id))
        kept: list[int] = []
        opposite = others_best(ctx, self.instrument, other(side), self.quotes[other(side)])
        if opposite is not None:  # never through the others' touch: quote, do not take
            top = min(top, opposite - tick) if side is Side.BUY else max(top, opposite + tick)
        for level in range(levels):
            price = behind(top, side, level, tick)
            size = max(1, round(self.base * lean * self.rng.uniform(0.9, 1.1)))
            if level < len(quotes):
                order = ctx.market.orders[quotes[level]]
                resize = abs(size - order.remaining) * 5 > order.remaining
                if order.price == price and not resize:
                    kept.append(order.order_id)
                    continue
                step = ctx.submit(
                    AmendOrder(
                        self.owner,
                        order.order_id,
                        price=price,
                        size=size if resize else None,
                    )
                )
                if step.rejected is None:
                    kept.append(order.order_id)
                    continue
                ctx.submit(CancelOrder(self.owner, order.order_id))
            placed = accepted(
                ctx.submit(PlaceOrder(self.owner, self.instrument, side, size, price=price))
            )
            if placed is not None and placed in ctx.market.orders:
                kept.append(placed)
        self.quotes[side] = kept


class ProtectedMaker:
    market_maker = True

    def __init__(self, rng: random.Random, owner: str, instrument: str) -> None:
        self.owners = (owner,)
        self.owner = owner
        self.instrument = instrument
        self.rng = rng
        self.tripped_ns: int | None = None

    def start(self, ctx: SessionContext) -> int | None:
        index = ctx.market.specs[self.instrument].index
        window_ns = self.rng.randint(1, 3) * SECOND_NS
        quantity_max = self.rng.randint(30, 80)
        ctx.submit(SetMMP(self.owner, index, window_ns, quantity_max, 10**15))
        return ctx.now_ns + self.rng.randint(1, 2000) * MS_NS

    def act(self, ctx: SessionContext) -> int | None:
        rng = self.rng
        index = ctx.market.specs[self.instrument].index
        if self.tripped_ns is not None:
            ctx.submit(ResetMMP(self.owner, index))
            self.tripped_ns = None
        ctx.submit(CancelAll(self.owner, self.instrument))
        tick = ctx.market.specs[self.instrument].tick_size
        mid = index_of(ctx, self.instrument)
        position = ctx.market.position(self.owner, self.instrument)
        skew = -position * SKEW_BPS_PER_LOT
        for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
            if position * -sign >= POSITION_MAX:
                continue
            top = on_tick(ctx, self.instrument, mid * (1 + (sign * 1.0 + skew) / 10_000))
            opposite = others_best(ctx, self.instrument, other(side), [])
            if opposite is not None:  # never through the others' touch
                top = min(top, opposite - tick) if side is Side.BUY else max(top, opposite + tick)
            for level in range(3):
                size = rng.randint(15, 40)
                price = behind(top, side, level * rng.choice((1, 2)), tick)
                step = ctx.submit(PlaceOrder(self.owner, self.instrument, side, size, price=price))
                if step.rejected is ErrorCode.MMP_TRIPPED:
                    self.tripped_ns = ctx.now_ns
                    return ctx.now_ns + rng.randint(1000, 4000) * MS_NS
        return ctx.now_ns + rng.randint(200, 700) * MS_NS


class IcebergTrader:
    market_maker = False

    def __init__(self, rng: random.Random, owner: str, instrument: str) -> None:
        self.owners = (owner,)
        self.owner = owner
        self.instrument = instrument
        self.rng = rng
        self.side = Side.BUY
        self.left = 0
        self.shown = 1
        self.by_amend = True
        self.children: list[int] = []
        self.next_take_ns = 0
        self.until_ns = 0
        """When the parent order is given up (what is left of it cancelled)."""

    def start(self, ctx: SessionContext) -> int | None:
        return ctx.now_ns + self.rng.randint(2, 20) * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        rng = self.rng
        self.children = [order_id for order_id in self.children if order_id in ctx.market.orders]
        if (self.left <= 0 and not self.children) or ctx.now_ns >= self.until_ns:
            if self.children:
                ctx.submit(CancelAll(self.owner, self.instrument), by=self.owner)
                self.children = []
                self.left = 0
                return ctx.now_ns + rng.randint(5, 30) * SECOND_NS
            self.side = rng.choice((Side.BUY, Side.SELL))
            self.left = rng.randint(400, 1500)
            self.shown = rng.randint(1, 3)
            self.by_amend = rng.random() < 0.7
            self.next_take_ns = ctx.now_ns + rng.randint(3, 10) * SECOND_NS
            self.until_ns = ctx.now_ns + rng.randint(60, 240) * SECOND_NS
        best = others_best(ctx, self.instrument, self.side, self.children)
        if best is None:
            return ctx.now_ns + rng.randint(100, 400) * MS_NS
        self._peg(ctx, best)
        if ctx.now_ns >= self.next_take_ns:
            self._take(ctx)
            self.next_take_ns = ctx.now_ns + rng.randint(3, 10) * SECOND_NS
        return ctx.now_ns + rng.randint(100, 400) * MS_NS

    def _peg(self, ctx: SessionContext, best: int) -> None:
        """Children at the others' best and a tick or two behind it; a filled child's
        place taken by a new one while the parent has lots left."""
        tick = ctx.market.specs[self.instrument].tick_size
        kept: list[int] = []
        for level in range(self.shown):
            price = behind(best, self.side, level, tick)
            if level < len(self.children):
                order = ctx.market.orders[self.children[level]]
                if order.price == price:
                    kept.append(order.order_id)
                    continue
                if self.by_amend:
                    amend = AmendOrder(self.owner, order.order_id, price=price)
                    step = ctx.submit(amend, by=self.owner)
                    if step.rejected is None:
                        kept.append(order.order_id)
                        continue
                self.left += order.remaining  # back to the parent
                ctx.submit(CancelOrder(self.owner, order.order_id), by=self.owner)
            size = min(self.left, self.rng.randint(5, 25))
            if size <= 0:
                break
            child = PlaceOrder(self.owner, self.instrument, self.side, size, price=price)
            placed = accepted(ctx.submit(child, by=self.owner))
            self.left -= size
            if placed is not None and placed in ctx.market.orders:
                kept.append(placed)
        self.children = kept

    def _take(self, ctx: SessionContext) -> None:
        price = others_best(ctx, self.instrument, other(self.side), [])
        size = min(self.left, self.rng.randint(5, 25))
        if price is None or size <= 0:
            return
        order = PlaceOrder(
            self.owner, self.instrument, self.side, size, price=price, time_in_force=TimeInForce.IOC
        )
        ctx.submit(order, by=self.owner)
        self.left -= size


def order_negatives(rng: random.Random) -> list[object]:
    """A leaning maker, a protected maker with its flow, and an iceberg trader."""
    return [
        LeaningMaker(rng, "lean-maker", rng.choice(("BTC-PERP", "ETH-PERP"))),
        *_protected(rng, rng.choice(("BTC-PERP", "ETH-PERP"))),
        IcebergTrader(rng, "iceberg", rng.choice(("BTC-PERP", "ETH-PERP"))),
    ]


def _protected(rng: random.Random, instrument: str) -> list[object]:
    return [
        ProtectedMaker(rng, "mmp-maker", instrument),
        Taker("mmp-flow", instrument, rng, mean_gap_s=1.0, size=(5, 60)),
    ]


HONEST = [order_negatives]
