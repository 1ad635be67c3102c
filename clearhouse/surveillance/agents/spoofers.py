"""Manipulators of the order book: spoofing (the Coscia shape) and layering (the Sarao
shape), each an ordinary trader between its episodes.

    Spoofer     now and then runs an episode of one to three cycles: a small genuine
                order at (or a tick inside) the touch of one side, then, within
                milliseconds, two to four larger orders on the other side at
                progressively better prices from two ticks behind its touch to it
                (about 7, 5, 3 and 2 times the genuine size); the genuine order
                fills (or, after a second or so, is taken by an IOC of the same
                size), and within a few hundred milliseconds the large orders are
                cancelled; most often the mirror image follows. A cycle the market
                spoils (a large order hit first, or most of them run over) is
                pulled and does not count.
    Layerer     now and then runs an episode: four to six very large orders one
                tick apart on one side, three or four ticks behind the others' best
                price, re-priced every 60-250 ms (by amendment, or by cancel and
                replace) so they stay there, while it buys or sells small on the
                other side one to four times; then it cancels the ladder (at once
                if the market reaches it: a fill is the risk it does not take).

Between episodes both trade like anyone else (`Ordinary`): a small passive order
now and then, cancelled if unfilled, and an occasional small IOC. Each episode is
labelled when it ends, from the moment its first order went in.
"""

from __future__ import annotations

import random
from collections.abc import Generator, Sequence

from clearhouse.core import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    PlaceOrder,
    Side,
    TimeInForce,
)
from clearhouse.core.events import OrderAccepted, TradeExecuted
from clearhouse.surveillance.agents.honest import MS_NS
from clearhouse.surveillance.sessions import SECOND_NS, SessionContext
from clearhouse.surveillance.steps import Step

Script = Generator[int, None, None]
"""An episode: yields how long to wait (ns) before it goes on."""

INSTRUMENTS = ("BTC-PERP", "ETH-PERP")
"""The deep books: a spoofer or layerer needs a crowd to mislead."""


def other(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


def accepted(step: Step) -> int | None:
    """The id of the order a PlaceOrder step accepted, or None."""
    for event in step.events:
        if isinstance(event, OrderAccepted):
            return event.order_id
    return None


def traded(step: Step) -> bool:
    return any(isinstance(event, TradeExecuted) for event in step.events)


def behind(price: int, side: Side, ticks: int, tick: int) -> int:
    """`ticks` behind `price` on `side` (lower for a bid, higher for an offer)."""
    return price - ticks * tick if side is Side.BUY else price + ticks * tick


def others_best(ctx: SessionContext, instrument: str, side: Side, own: Sequence[int]) -> int | None:
    """The best price on `side` not counting the agent's own orders `own`."""
    mine: dict[int, int] = {}
    for order_id in own:
        order = ctx.market.orders.get(order_id)
        if order is not None and order.side is side:
            mine[order.price] = mine.get(order.price, 0) + order.remaining
    depth = ctx.market.depth(instrument, side)
    for price in sorted(depth, reverse=side is Side.BUY):
        if depth[price] > mine.get(price, 0):
            return price
    return None


def ms(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high) * MS_NS


class Ordinary:
    """An ordinary trader on one instrument: the base of the manipulators, who trade
    like this between episodes."""

    market_maker = False
    pattern = ""

    def __init__(self, rng: random.Random, owner: str) -> None:
        self.owners = (owner,)
        self.owner = owner
        self.rng = rng
        self.instrument = rng.choice(INSTRUMENTS)
        self.script: Script | None = None
        self.next_episode_ns = 0
        self.passive: tuple[int, int] | None = None
        """The ordinary passive order resting: (order id, when to give up on it)."""
        self.lots: dict[int, int] = {}
        """The large orders of the current episode: id -> lots placed."""

    def start(self, ctx: SessionContext) -> int | None:
        self.next_episode_ns = ctx.now_ns + self.rng.randint(10, 40) * SECOND_NS
        return ctx.now_ns + ms(self.rng, 500, 3000)

    def act(self, ctx: SessionContext) -> int | None:
        if self.script is None and ctx.now_ns >= self.next_episode_ns:
            self._cancel_passive(ctx)
            self.script = self.episode(ctx)
        if self.script is not None:
            try:
                return ctx.now_ns + next(self.script)
            except StopIteration:
                self.script = None
                self.next_episode_ns = ctx.now_ns + self.rng.randint(15, 60) * SECOND_NS
        return self._ordinary(ctx)

    def episode(self, ctx: SessionContext) -> Script:
        raise NotImplementedError

    # -- ordinary trading ------------------------------------------------------------------

    def _ordinary(self, ctx: SessionContext) -> int:
        rng = self.rng
        tick = ctx.market.specs[self.instrument].tick_size
        if self.passive is not None:
            order_id, until_ns = self.passive
            if order_id not in ctx.market.orders:
                self.passive = None
            elif ctx.now_ns >= until_ns:
                self._cancel_passive(ctx)
        position = ctx.market.position(self.owner, self.instrument)
        side = Side.SELL if rng.random() < 0.5 + max(-0.3, min(0.3, position / 200)) else Side.BUY
        roll = rng.random()
        if roll < 0.45 and self.passive is None:
            best = ctx.market.touch(self.instrument)[0 if side is Side.BUY else 1]
            if best is not None:
                size = rng.randint(2, 30) if rng.random() < 0.9 else rng.randint(30, 60)
                price = behind(best, side, rng.choice((0, 0, 1, 2, 3)), tick)
                placed = accepted(self.place(ctx, side, size, price))
                if placed is not None:
                    self.passive = (placed, ctx.now_ns + ms(rng, 1000, 10_000))
        elif roll < 0.65:
            self.take(ctx, side, rng.randint(1, 15))
        return ctx.now_ns + ms(rng, 500, 3000)

    def _cancel_passive(self, ctx: SessionContext) -> None:
        if self.passive is not None and self.passive[0] in ctx.market.orders:
            ctx.submit(CancelOrder(self.owner, self.passive[0]), by=self.owner)
        self.passive = None

    # -- orders ----------------------------------------------------------------------------

    def place(self, ctx: SessionContext, side: Side, size: int, price: int) -> Step:
        order = PlaceOrder(self.owner, self.instrument, side, size, price=price)
        return ctx.submit(order, by=self.owner)

    def take(self, ctx: SessionContext, side: Side, size: int, own: Sequence[int] = ()) -> bool:
        """An IOC for `size` lots at the others' touch opposite; whether it traded."""
        price = others_best(ctx, self.instrument, other(side), own)
        if price is None:
            return False
        order = PlaceOrder(
            self.owner, self.instrument, side, size, price=price, time_in_force=TimeInForce.IOC
        )
        return traded(ctx.submit(order, by=self.owner))

    def cancel(self, ctx: SessionContext, order_ids: list[int]) -> None:
        for order_id in order_ids:
            if order_id in ctx.market.orders:
                ctx.submit(CancelOrder(self.owner, order_id), by=self.owner)

    def filled(self, ctx: SessionContext, order_id: int) -> bool:
        order = ctx.market.orders.get(order_id)
        return order is None or order.filled > 0

    def stood(self, ctx: SessionContext, since: int, genuine: int, orders: Sequence[int]) -> bool:
        """Whether `genuine` traded, in the steps from index `since` on, while most of
        the lots of `orders` (as `self.lots` has them) still rested: an agent polls, and
        the record tells which of two fills between its polls came first."""
        total = sum(self.lots.get(order_id, 0) for order_id in orders)
        taken = 0
        for step in ctx.steps[since:]:
            for event in step.events:
                if not isinstance(event, TradeExecuted):
                    continue
                if genuine in (event.maker_order_id, event.taker_order_id):
                    return taken * 2 < total
                if event.maker_order_id in orders:
                    taken += event.size
        return False


class Spoofer(Ordinary):
    pattern = "spoofing"

    def episode(self, ctx: SessionContext) -> Script:
        rng = self.rng
        start_ns = ctx.now_ns
        side = rng.choice((Side.BUY, Side.SELL))
        done = False
        for _ in range(rng.choice((1, 1, 2, 3))):
            halves = (side, other(side)) if rng.random() < 0.8 else (side,)
            for genuine_side in halves:
                outcome = yield from self._half(ctx, genuine_side)
                done = done or outcome
                yield ms(rng, 100, 1500)
            side = rng.choice((Side.BUY, Side.SELL))
        if done:
            ctx.label(self.pattern, self.owners, self.instrument, start_ns)

    def _half(self, ctx: SessionContext, side: Side) -> Generator[int, None, bool]:
        """One spoof: genuine on `side`, large orders on the other; whether the genuine
        order traded while all the large ones rested and most of their lots were still
        there to cancel."""
        rng = self.rng
        tick = ctx.market.specs[self.instrument].tick_size
        bid, ask = ctx.market.touch(self.instrument)
        if bid is None or ask is None:
            return False
        size = rng.randint(3, 20)
        price = ask if side is Side.SELL else bid
        if ask - bid > 2 * tick and rng.random() < 0.5:
            price = behind(price, side, -1, tick)  # improve the touch by a tick
        since = len(ctx.steps)
        genuine = accepted(self.place(ctx, side, size, price))
        if genuine is None:
            return False
        yield ms(rng, 1, 30)
        large = yield from self._large_orders(ctx, other(side), size, genuine)
        done = False
        if len(large) >= 2:
            if not self.filled(ctx, genuine):
                deadline_ns = ctx.now_ns + ms(rng, 300, 1500)
                while not self._hit(ctx, genuine, large) and ctx.now_ns < deadline_ns:
                    yield ms(rng, 10, 50)
            if self.filled(ctx, genuine):
                done = self.stood(ctx, since, genuine, large)
            elif not self._hit(ctx, None, large):  # take it: the genuine trade is the point
                self.cancel(ctx, [genuine])
                done = self.take(ctx, side, size, large)
        if done:
            yield ms(rng, 20, 400)
        placed = sum(self.lots.pop(order_id, 0) for order_id in large)
        resting = sum(
            ctx.market.orders[order_id].remaining
            for order_id in large
            if order_id in ctx.market.orders
        )
        if rng.random() < 0.3:
            ctx.submit(CancelAll(self.owner, self.instrument), by=self.owner)
        else:
            self.cancel(ctx, [*large, genuine])
        # a spoof the market ran over (most of the large lots traded) became a trade
        return done and resting * 2 > placed

    def _hit(self, ctx: SessionContext, genuine: int | None, large: list[int]) -> bool:
        """Whether the genuine order or any of the large ones has traded."""
        orders = large if genuine is None else [genuine, *large]
        return any(self.filled(ctx, order_id) for order_id in orders)

    def _large_orders(
        self, ctx: SessionContext, side: Side, size: int, genuine: int
    ) -> Generator[int, None, list[int]]:
        """Two to four orders on `side`, about 7, 5, 3 (and 2) times `size`, each at a
        price no worse than the one before, from two ticks behind the touch to it;
        fewer if the genuine order fills meanwhile."""
        rng = self.rng
        tick = ctx.market.specs[self.instrument].tick_size
        count = rng.choice((2, 3, 3, 4))
        multiple = rng.uniform(5.5, 8.5)
        ticks_behind = sorted((rng.choice((0, 1, 2)) for _ in range(count)), reverse=True)
        ticks_behind[0] = max(ticks_behind[0], 1)
        ticks_behind[-1] = 0
        orders: list[int] = []
        for ticks in ticks_behind:
            best = ctx.market.touch(self.instrument)[0 if side is Side.BUY else 1]
            if best is None or self._hit(ctx, genuine, orders):
                break
            lots = round(size * multiple)
            order_id = accepted(self.place(ctx, side, lots, behind(best, side, ticks, tick)))
            if order_id is not None:
                orders.append(order_id)
                self.lots[order_id] = lots
            multiple = max(2.0, multiple - rng.uniform(1.5, 2.5))
            yield ms(rng, 1, 20)
        return orders


class Layerer(Ordinary):
    pattern = "layering"

    def episode(self, ctx: SessionContext) -> Script:
        rng = self.rng
        tick = ctx.market.specs[self.instrument].tick_size
        side = rng.choice((Side.BUY, Side.SELL))
        by_amend = rng.random() < 0.6
        away = rng.choice((3, 4))
        start_ns = ctx.now_ns
        best = others_best(ctx, self.instrument, side, [])
        if best is None:
            return
        layers: list[int] = []
        for number in range(rng.randint(4, 6)):
            price = behind(best, side, away + number, tick)
            lots = rng.randint(80, 250)
            order_id = accepted(self.place(ctx, side, lots, price))
            if order_id is not None:
                layers.append(order_id)
                self.lots[order_id] = lots
        trades, trades_max = 0, rng.randint(1, 4)
        next_trade_ns = ctx.now_ns + ms(rng, 800, 2000)
        genuine: tuple[int, int, int] | None = None
        """The genuine passive order: (id, lots, when to take instead)."""
        while trades < trades_max:
            since = len(ctx.steps)
            yield ms(rng, 60, 250)
            if genuine is not None:
                order_id, size, take_ns = genuine
                if self.filled(ctx, order_id):  # counts if the ladder stood at the fill
                    trades += self.stood(ctx, since, order_id, layers)
                elif ctx.now_ns >= take_ns and not self._run_over(ctx, layers):
                    self.cancel(ctx, [order_id])
                    trades += self.take(ctx, other(side), size, layers)
                else:
                    order_id = 0
                if order_id:
                    self.cancel(ctx, [order_id])
                    genuine = None
                    next_trade_ns = ctx.now_ns + ms(rng, 1000, 5000)
            if trades >= trades_max or self._run_over(ctx, layers):
                break
            if rng.random() < 0.7:
                away = rng.choice((3, 4))
            layers = self._reprice(ctx, side, layers, away, by_amend)
            if genuine is None and ctx.now_ns >= next_trade_ns:
                genuine = self._genuine(ctx, other(side))
        if not self._run_over(ctx, layers):
            yield ms(rng, 50, 1000)
        if rng.random() < 0.5:
            ctx.submit(CancelAll(self.owner, self.instrument), by=self.owner)
        else:
            self.cancel(ctx, [*layers, *(genuine[:1] if genuine else ())])
        self.lots.clear()
        if trades:
            ctx.label(self.pattern, self.owners, self.instrument, start_ns)

    def _genuine(self, ctx: SessionContext, side: Side) -> tuple[int, int, int] | None:
        """A small order at the touch of `side`: (id, lots, when to take instead)."""
        size = self.rng.randint(2, 25)
        price = ctx.market.touch(self.instrument)[0 if side is Side.BUY else 1]
        if price is None:
            return None
        order_id = accepted(self.place(ctx, side, size, price))
        if order_id is None:
            return None
        return order_id, size, ctx.now_ns + ms(self.rng, 1000, 4000)

    def _run_over(self, ctx: SessionContext, layers: list[int]) -> bool:
        """Whether the market has reached the ladder: then the layerer pulls it all."""
        return any(self.filled(ctx, order_id) for order_id in layers)

    def _reprice(
        self, ctx: SessionContext, side: Side, layers: list[int], away: int, by_amend: bool
    ) -> list[int]:
        """Keep the ladder `away` ticks behind the others' best, one tick apart; when
        nothing moved, touch up a size (a modification all the same)."""
        tick = ctx.market.specs[self.instrument].tick_size
        best = others_best(ctx, self.instrument, side, layers)
        if best is None:
            return layers
        kept: list[int] = []
        for number, order_id in enumerate(layers):
            order = ctx.market.orders[order_id]
            price = behind(best, side, away + number, tick)
            if price == order.price:
                kept.append(order_id)
            elif by_amend:
                ctx.submit(AmendOrder(self.owner, order_id, price=price), by=self.owner)
                kept.append(order_id)
            else:
                lots = order.remaining  # the view zeroes it on the cancel
                ctx.submit(CancelOrder(self.owner, order_id), by=self.owner)
                replaced = accepted(self.place(ctx, side, lots, price))
                if replaced is not None:
                    kept.append(replaced)
                    self.lots[replaced] = lots
        if kept == layers and kept:
            order = ctx.market.orders[self.rng.choice(kept)]
            resize = max(1, order.remaining + self.rng.choice((-3, -2, -1, 1, 2, 3)))
            ctx.submit(AmendOrder(self.owner, order.order_id, size=resize), by=self.owner)
        return kept


def spoofer(rng: random.Random, number: int) -> Spoofer:
    return Spoofer(rng, f"spoofer-{number}")


def layerer(rng: random.Random, number: int) -> Layerer:
    return Layerer(rng, f"layerer-{number}")


MANIPULATORS = {"layering": layerer, "spoofing": spoofer}
