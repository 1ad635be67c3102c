"""Manipulators that move a price for a position's sake, each labelling its episodes:

    marking_the_close   CloseMarker: builds a position in the expiring future, then
                        in the settlement window sweeps the book in the direction
                        that favours it, several times
    momentum_ignition   MomentumIgniter: a burst of orders that take several levels
                        one way, then orders the other way into the move (resting
                        where the move left the price, or placed before the burst
                        beyond where it will reach)
    mark_manipulation   MarkPumper (Mango Markets, 2022): one account of a linked
                        pair holds a position on the thin market, one of them drives
                        its book far from the index until the mark follows, and the
                        holder then uses the marked-up equity (withdraws, or opens
                        more elsewhere)

Every manipulator also trades normally between episodes (small immediate orders
either way on the deep markets), so an account is not guilty by existing. Each
is a `Scripted` agent: a generator that acts through the context and yields how
long to wait, so an episode reads top to bottom. The helpers here (the levels an
order would meet, an ordinary trade) serve the honest hard negatives of
`liquidation_negatives` too.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from clearhouse.core import CancelAll, OrderAccepted, PlaceOrder, Side, TimeInForce, TradeExecuted
from clearhouse.core.txs import Withdraw
from clearhouse.surveillance.agents.honest import MS_NS, index_of, on_tick
from clearhouse.surveillance.sessions import SECOND_NS, USD, SessionContext
from clearhouse.surveillance.steps import Step

DEEP = ("BTC-PERP", "ETH-PERP")
IOC = TimeInForce.IOC


class Scripted:
    """An agent whose behaviour is the generator `script(ctx)`, which yields the
    nanoseconds to wait before it goes on; the agent is done when it returns."""

    owners: tuple[str, ...] = ()
    market_maker = False
    first_wait_s: tuple[float, float] = (1.0, 5.0)

    def __init__(self, rng: random.Random, first_wait_s: tuple[float, float] | None = None) -> None:
        self.rng = rng
        if first_wait_s is not None:
            self.first_wait_s = first_wait_s
        self._script: Iterator[int] | None = None

    def script(self, ctx: SessionContext) -> Iterator[int]:
        raise NotImplementedError

    def start(self, ctx: SessionContext) -> int | None:
        return ctx.now_ns + self.seconds(*self.first_wait_s)

    def act(self, ctx: SessionContext) -> int | None:
        if self._script is None:
            self._script = self.script(ctx)
        try:
            wait = next(self._script)
        except StopIteration:
            return None
        return ctx.now_ns + max(1, wait)

    def seconds(self, low: float, high: float) -> int:
        """A random wait of `low` to `high` seconds, in nanoseconds."""
        return int(self.rng.uniform(low, high) * SECOND_NS)


# -- helpers ---------------------------------------------------------------------------


def opposite(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


def direction(side: Side) -> int:
    return 1 if side is Side.BUY else -1


def levels_against(ctx: SessionContext, instrument: str, side: Side) -> list[tuple[int, int]]:
    """The levels an order of `side` would meet, best first: (price, lots)."""
    book = ctx.market.depth(instrument, opposite(side))
    return sorted(book.items(), reverse=side is Side.SELL)


def beyond_index(ctx: SessionContext, instrument: str, side: Side, bps: float) -> int:
    """A price `bps` through the index on `side`'s paying side (above it for a buy)."""
    return on_tick(
        ctx, instrument, index_of(ctx, instrument) * (1 + direction(side) * bps / 10_000)
    )


def depth_within(ctx: SessionContext, instrument: str, side: Side, limit: int) -> int:
    """Lots an order of `side` limited at `limit` would meet."""
    return sum(
        size
        for price, size in levels_against(ctx, instrument, side)
        if (price <= limit if side is Side.BUY else price >= limit)
    )


def taken(step: Step) -> tuple[int, int]:
    """(lots, last price) the step's order took as taker."""
    lots, last = 0, 0
    for event in step.events:
        if isinstance(event, TradeExecuted) and event.taker_order_id == step.seq:
            lots += event.size
            last = event.price
    return lots, last


def reach(
    met: list[tuple[int, int]], side: Side, least_bps: float, lots: int, most_bps: float
) -> float:
    """The limit of an order through the levels `met`: at least `least_bps` past the
    touch, further if it takes that to meet `lots`, never past `most_bps`."""
    sign = direction(side)
    touch = met[0][0]
    limit = touch * (1 + sign * least_bps / 10_000)
    most = touch * (1 + sign * most_bps / 10_000)
    seen = 0
    for price, size in met:
        if seen >= lots or (price - most) * sign > 0:
            break
        seen += size
        if (price - limit) * sign > 0:
            limit = price
    return limit


def order_id(step: Step) -> int | None:
    """The id of the order a step accepted, or None."""
    return next((e.order_id for e in step.events if isinstance(e, OrderAccepted)), None)


def ordinary_trade(
    ctx: SessionContext,
    rng: random.Random,
    account: str,
    instruments: tuple[str, ...] = DEEP,
    size: tuple[int, int] = (1, 15),
) -> None:
    """A small immediate order either way, a little through the index: what an
    account does between episodes."""
    instrument = rng.choice(instruments)
    side = rng.choice((Side.BUY, Side.SELL))
    price = beyond_index(ctx, instrument, side, 6.0)
    ctx.submit(
        PlaceOrder(account, instrument, side, rng.randint(*size), price=price, time_in_force=IOC)
    )


def ordinary_gap(rng: random.Random, mean_s: float = 6.0) -> int:
    return int(rng.expovariate(1 / mean_s) * SECOND_NS) + 50 * MS_NS


# -- marking the close -----------------------------------------------------------------


class CloseMarker(Scripted):
    """Holds a position in the expiring future and, inside its settlement window,
    sweeps the book in the position's direction three to six times, a few seconds
    apart (the CFTC's Optiver case of 2008: "banging the close")."""

    first_wait_s = (2.0, 20.0)

    def __init__(self, rng: random.Random, number: int, instrument: str = "BTC-FUT") -> None:
        super().__init__(rng)
        self.owner = f"closer-{number}"
        self.owners = (self.owner,)
        self.instrument = instrument

    def position(self, ctx: SessionContext) -> int:
        return ctx.market.position(self.owner, self.instrument)

    def script(self, ctx: SessionContext) -> Iterator[int]:
        rng = self.rng
        expiry = ctx.market.specs[self.instrument].expiry_ns
        window_start = expiry - ctx.venue.genesis.config.settlement_window_ns
        side = rng.choice((Side.BUY, Side.SELL))
        target = rng.randint(60, 250)
        build_until = window_start - self.seconds(5.0, 30.0)
        while ctx.now_ns < build_until:
            towards = side if rng.random() < 0.8 else opposite(side)
            met = levels_against(ctx, self.instrument, towards)
            if rng.random() < 0.5 and abs(self.position(ctx)) < target and met:
                # At the touch, a few lots: positions are built quietly.
                price, lots = met[0]
                size = min(lots, rng.randint(5, 30))
                order = PlaceOrder(
                    self.owner, self.instrument, towards, size, price=price, time_in_force=IOC
                )
                ctx.submit(order)
            else:
                ordinary_trade(ctx, rng, self.owner)
            yield ordinary_gap(rng)
        window_s = (expiry - window_start) / SECOND_NS
        begin = window_start + self.seconds(0.03 * window_s, 0.4 * window_s)
        while ctx.now_ns < begin:
            ordinary_trade(ctx, rng, self.owner)
            yield min(ordinary_gap(rng), max(1, begin - ctx.now_ns))
        if self.position(ctx) * direction(side) <= 0:
            return  # nothing built to mark
        yield from self.bang(ctx, side, expiry)
        while True:
            ordinary_trade(ctx, rng, self.owner)
            yield ordinary_gap(rng, 8.0)

    def bang(self, ctx: SessionContext, side: Side, expiry: int) -> Iterator[int]:
        """Three to six orders, each through every level within 8-25 bps past the
        touch (waiting a moment when that side of the book is empty)."""
        rng = self.rng
        orders = rng.randint(3, 6)
        room = expiry - 2 * SECOND_NS - ctx.now_ns
        gap = max(SECOND_NS, min(12 * SECOND_NS, room // orders))
        started = ctx.now_ns
        resting = False
        swept = 0
        while swept < orders and ctx.now_ns < expiry - SECOND_NS:
            met = levels_against(ctx, self.instrument, side)
            if not met:
                yield rng.randint(300, 1000) * MS_NS
                continue
            far = met[0][0] * (1 + direction(side) * rng.uniform(8.0, 25.0) / 10_000)
            limit = on_tick(ctx, self.instrument, far)
            size = depth_within(ctx, self.instrument, side, limit) + rng.randint(5, 40)
            keep = rng.random() < 0.35
            step = ctx.submit(
                PlaceOrder(
                    self.owner,
                    self.instrument,
                    side,
                    size,
                    price=limit,
                    time_in_force=TimeInForce.GTC if keep else IOC,
                )
            )
            resting = resting or keep
            swept += 1 if taken(step)[0] else 0
            yield int(gap * rng.uniform(0.6, 1.0))
        if resting and ctx.now_ns < expiry:
            ctx.submit(CancelAll(self.owner, self.instrument))
        if swept >= 2:  # (a book empty on its side all along leaves one order or none)
            ctx.label("marking_the_close", [self.owner], self.instrument, started)


# -- momentum ignition -----------------------------------------------------------------


class MomentumIgniter(Scripted):
    """Bursts of orders that take several levels of a deep market one way, then
    trades the other way into the move: sell orders resting where the burst left
    the price (or, one time in three, placed just before the burst, beyond the price
    it will reach), cancelled a few seconds later if nothing took them (the
    strategy as the SEC's 2010 concept release on equity market structure,
    34-61358, describes it)."""

    first_wait_s = (5.0, 30.0)

    def __init__(self, rng: random.Random, number: int) -> None:
        super().__init__(rng)
        self.owner = f"igniter-{number}"
        self.owners = (self.owner,)

    def script(self, ctx: SessionContext) -> Iterator[int]:
        rng = self.rng
        while True:
            quiet_until = ctx.now_ns + self.seconds(15.0, 70.0)
            while ctx.now_ns < quiet_until:
                ordinary_trade(ctx, rng, self.owner)
                yield ordinary_gap(rng)
            yield from self.episode(ctx)

    def episode(self, ctx: SessionContext) -> Iterator[int]:
        rng = self.rng
        instrument = rng.choice(DEEP)
        side = rng.choice((Side.BUY, Side.SELL))
        out = opposite(side)
        tick = ctx.market.specs[instrument].tick_size
        touch = ctx.market.touch(instrument)
        far = touch.ask if side is Side.BUY else touch.bid
        if far is None:
            return
        started = ctx.now_ns
        orders = rng.randint(2, 4)
        planned = rng.randint(150, 600)
        ahead = rng.random() < 0.35
        ceiling: int | None = None
        waiting = 0
        if ahead:
            # Resting orders the burst will run up to, placed beyond its reach.
            ceiling = on_tick(
                ctx, instrument, far * (1 + direction(side) * rng.uniform(10, 18) / 1e4)
            )
            resting = rng.randint(1, 2)
            for number in range(resting):
                price = ceiling + direction(side) * number * tick * rng.randint(1, 6)
                size = max(10, int(planned * rng.uniform(0.3, 0.8)) // resting)
                ctx.submit(PlaceOrder(self.owner, instrument, out, size, price=price))
                waiting += size
            yield rng.randint(100, 600) * MS_NS
        bought, top = 0, far
        for _ in range(orders):
            met = levels_against(ctx, instrument, side)
            if not met:
                break
            # Everything within a few bps past the touch, and further (up to 25 bps)
            # until it has met the size it means to take.
            through = reach(met, side, rng.uniform(2.0, 6.0), planned // orders, 25.0)
            limit = on_tick(ctx, instrument, through)
            if ceiling is not None:
                limit = (
                    min(limit, ceiling - tick) if side is Side.BUY else max(limit, ceiling + tick)
                )
            size = depth_within(ctx, instrument, side, limit) + rng.randint(0, 20)
            step = ctx.submit(
                PlaceOrder(self.owner, instrument, side, size, price=limit, time_in_force=IOC)
            )
            lots, last = taken(step)
            bought += lots
            if lots and (last - top) * direction(side) > 0:
                top = last  # the furthest the burst went
            yield rng.randint(20, 300) * MS_NS
        wanted = int(bought * rng.uniform(0.3, 0.6))
        if ceiling is not None and waiting < wanted:
            # The burst took more than planned: more waiting at the top of the move.
            size = wanted - waiting
            ctx.submit(PlaceOrder(self.owner, instrument, out, size, price=ceiling))
        if not ahead:
            yield rng.randint(100, 2000) * MS_NS
            total = max(10, int(bought * rng.uniform(0.4, 1.0)))
            resting = rng.randint(1, 3)
            for _ in range(resting):
                price = on_tick(ctx, instrument, far + (top - far) * rng.uniform(0.3, 1.0))
                size = max(1, total // resting)
                ctx.submit(PlaceOrder(self.owner, instrument, out, size, price=price))
        ctx.label("momentum_ignition", [self.owner], instrument, started)
        yield self.seconds(2.0, 8.0)
        ctx.submit(CancelAll(self.owner, instrument))


# -- mark manipulation -----------------------------------------------------------------


class MarkPumper(Scripted):
    """Two linked accounts on the thin market: the holder builds a position at the
    touch; then the pusher (the holder itself, or its linked account) buys through
    the book and rests orders far beyond the index on both sides, so the mid (and,
    at the next index update, the mark) sits far from the index; then the holder
    uses the marked-up equity: a withdrawal, or a new position elsewhere (Mango
    Markets, October 2022; CFTC and SEC v. Eisenberg, 2023)."""

    first_wait_s = (5.0, 40.0)

    def __init__(self, rng: random.Random, number: int, instrument: str = "SOL-PERP") -> None:
        super().__init__(rng)
        self.owners = (f"mango-{number}", f"mango-{number}-linked-1")
        self.instrument = instrument
        self._push_orders: list[int | None] = [None, None]
        """The pusher's resting bid and offer (for an upward push), by order id."""

    def script(self, ctx: SessionContext) -> Iterator[int]:
        rng = self.rng
        for _ in range(rng.randint(1, 2)):
            quiet_until = ctx.now_ns + self.seconds(10.0, 60.0)
            while ctx.now_ns < quiet_until:
                ordinary_trade(ctx, rng, rng.choice(self.owners))
                yield ordinary_gap(rng)
            yield from self.episode(ctx)
        while True:
            ordinary_trade(ctx, rng, rng.choice(self.owners))
            yield ordinary_gap(rng, 8.0)

    def episode(self, ctx: SessionContext) -> Iterator[int]:
        rng = self.rng
        instrument = self.instrument
        side = rng.choice((Side.BUY, Side.SELL))
        holder = rng.choice(self.owners)
        pusher = holder if rng.random() < 0.4 else next(o for o in self.owners if o != holder)
        target = rng.randint(15, 60)
        give_up = ctx.now_ns + 90 * SECOND_NS
        while abs(ctx.market.position(holder, instrument)) < target and ctx.now_ns < give_up:
            met = levels_against(ctx, instrument, side)[:1]
            if met:
                want = target - abs(ctx.market.position(holder, instrument))
                ctx.submit(
                    PlaceOrder(
                        holder,
                        instrument,
                        side,
                        max(1, min(met[0][1], want)),
                        price=met[0][0],
                        time_in_force=IOC,
                    )
                )
            yield self.seconds(1.0, 4.0)
        if ctx.market.position(holder, instrument) * direction(side) <= 0:
            return
        started = ctx.now_ns
        reach = rng.uniform(150.0, 500.0)
        at_least = rng.randint(2, 5)
        self._push_orders = [None, None]
        for number in range(15):
            self.push(ctx, pusher, side, reach)
            yield self.seconds(0.6, 1.6)
            if number + 1 >= at_least and self.premium_bps(ctx) * direction(side) >= 60:
                break  # the mark shows it: time to use it
        yield from self.use_gains(ctx, holder, side)
        yield self.seconds(0.5, 3.0)
        ctx.submit(CancelAll(pusher, instrument))
        ctx.label("mark_manipulation", sorted({holder, pusher}), instrument, started)

    def push(self, ctx: SessionContext, pusher: str, side: Side, reach: float) -> None:
        """Keep a bid (for an upward push) `reach` x 0.6-0.9 bps over the index, taking
        what is offered below it, and an offer `reach` x 1.05-1.4 bps over it: each
        placed again once filled."""
        rng = self.rng
        instrument = self.instrument
        if self._push_orders[0] not in ctx.market.orders:
            near = beyond_index(ctx, instrument, side, reach * rng.uniform(0.6, 0.9))
            size = depth_within(ctx, instrument, side, near) + rng.randint(3, 10)
            step = ctx.submit(PlaceOrder(pusher, instrument, side, size, price=near))
            self._push_orders[0] = order_id(step)
        if self._push_orders[1] not in ctx.market.orders:
            far = beyond_index(ctx, instrument, side, reach * rng.uniform(1.05, 1.4))
            size = rng.randint(3, 10)
            step = ctx.submit(PlaceOrder(pusher, instrument, opposite(side), size, price=far))
            self._push_orders[1] = order_id(step)

    def premium_bps(self, ctx: SessionContext) -> float:
        """The mark's distance from the index, in bps."""
        index = index_of(ctx, self.instrument)
        return (ctx.market.marks.get(self.instrument, index) - index) * 10_000 / index

    def use_gains(self, ctx: SessionContext, holder: str, side: Side) -> Iterator[int]:
        rng = self.rng
        spec = ctx.market.specs[self.instrument]
        mark = ctx.market.marks.get(self.instrument, 0)
        gain = abs(ctx.market.position(holder, self.instrument)) * abs(
            mark - index_of(ctx, self.instrument)
        )
        gain = gain * spec.tick_value // spec.tick_size
        withdraw = rng.random() < 0.6
        if withdraw:
            amount = max(100 * USD, gain * rng.randint(1, 4))
            ctx.submit(Withdraw(holder, "USDC", amount))
            yield rng.randint(100, 1500) * MS_NS
        if not withdraw or rng.random() < 0.5:
            # More exposure elsewhere, on the marked-up equity: add to what it holds.
            instrument = rng.choice(DEEP)
            held = ctx.market.position(holder, instrument)
            more = side if not held else Side.BUY if held > 0 else Side.SELL
            price = beyond_index(ctx, instrument, more, 6.0)
            size = rng.randint(20, 100)
            ctx.submit(PlaceOrder(holder, instrument, more, size, price=price, time_in_force=IOC))


MANIPULATORS = {
    "marking_the_close": CloseMarker,
    "momentum_ignition": MomentumIgniter,
    "mark_manipulation": MarkPumper,
}
