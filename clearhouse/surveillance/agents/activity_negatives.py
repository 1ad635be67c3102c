"""Honest hard negatives for the activity detectors (wash trading, front-running,
quote stuffing): agents that look like the pattern at a glance and are not.

    HighFrequencyMaker  quotes one level each side of ETH-PERP inside the others'
                        spread and re-quotes every 25-55 ms, all session long:
                        about 75 messages a second, four times the ordinary
                        makers' and near `burst_min` in its busy seconds, high
                        but steady (its own norm), so not quote stuffing
    FlowTaker           takes the ETH-PERP touch every second or two, so most of
                        its trades are with the high-frequency maker: an unrelated
                        pair that trades each other often, not wash trading
    Desk                one owner's ("house") desks on one deep perp, each on its
                        own clock: a passive desk quoting at the touch, a taking
                        desk, and a linked owner ("house-linked-1") trading small
                        with now and then a large order; the desks trade each
                        other by chance, none times another
    Slicer              "house:exec" works a large parent order as slices, some of
                        them big enough to move the price, each after its own
                        earlier slices on the same side: trading ahead of its own
                        order is execution, not front-running

`activity_negatives(rng)` is this module's `HONEST` factory.
"""

from __future__ import annotations

import random

from clearhouse.core import CancelAll, CancelOrder, Deposit, PlaceOrder, Side, TimeInForce
from clearhouse.core.events import OrderAccepted
from clearhouse.surveillance.agents.honest import MS_NS, index_of, on_tick
from clearhouse.surveillance.sessions import DEPOSIT_UNITS, SECOND_NS, SessionContext
from clearhouse.surveillance.steps import Step
from clearhouse.testing import CUSTODIAN

HOUSE = "house"
"""The owner of the independent desks (accounts `house:<desk>`)."""


def accepted_order(step: Step) -> int | None:
    """The id of the order a PlaceOrder step accepted, or None."""
    for event in step.events:
        if isinstance(event, OrderAccepted):
            return event.order_id
    return None


def taking_price(ctx: SessionContext, instrument: str, side: Side, levels: int = 0) -> int | None:
    """The price of the `levels`-th opposite level (0: the touch), or None when the
    opposite side is empty: a limit that takes up to that level and no further."""
    opposite = Side.SELL if side is Side.BUY else Side.BUY
    prices = sorted(ctx.market.depth(instrument, opposite), reverse=side is Side.SELL)
    if not prices:
        return None
    return prices[min(levels, len(prices) - 1)]


def sweep_size(ctx: SessionContext, instrument: str, side: Side, levels: int) -> int:
    """Lots resting on the opposite side within `levels` levels of its touch."""
    opposite = Side.SELL if side is Side.BUY else Side.BUY
    depth = ctx.market.depth(instrument, opposite)
    prices = sorted(depth, reverse=side is Side.SELL)[: levels + 1]
    return sum(depth[price] for price in prices)


def take(
    ctx: SessionContext, account: str, instrument: str, side: Side, size: int, levels: int = 0
) -> Step | None:
    """An IOC order of `size` lots limited to the `levels`-th opposite level."""
    price = taking_price(ctx, instrument, side, levels)
    if price is None or size <= 0:
        return None
    order = PlaceOrder(account, instrument, side, size, price=price, time_in_force=TimeInForce.IOC)
    return ctx.submit(order, by=account.partition(":")[0])


def open_account(ctx: SessionContext, account: str) -> None:
    """Fund an `owner:label` account (the owner's own account is funded already)."""
    if ":" in account:
        ctx.submit(Deposit(account, "USDC", DEPOSIT_UNITS), by=CUSTODIAN)


def random_side(rng: random.Random) -> Side:
    return rng.choice((Side.BUY, Side.SELL))


class HighFrequencyMaker:
    market_maker = True

    def __init__(
        self,
        rng: random.Random,
        owner: str = "hft-mm",
        instrument: str = "ETH-PERP",
        requote_ms: tuple[int, int] = (25, 55),
    ) -> None:
        self.owners = (owner,)
        self.owner = owner
        self.instrument = instrument
        self.rng = rng
        self.requote_ms = requote_ms

    def start(self, ctx: SessionContext) -> int | None:
        return ctx.now_ns + self.rng.randint(1, 200) * MS_NS

    def act(self, ctx: SessionContext) -> int | None:
        ctx.submit(CancelAll(self.owner, self.instrument))
        mid = index_of(ctx, self.instrument)
        skew = ctx.market.position(self.owner, self.instrument) * -0.02
        for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
            offset = max(0.3, 1.2 + sign * skew) / 10_000
            price = on_tick(ctx, self.instrument, mid * (1 + sign * offset))
            size = self.rng.randint(10, 30)
            ctx.submit(PlaceOrder(self.owner, self.instrument, side, size, price=price))
        return ctx.now_ns + self.rng.randint(*self.requote_ms) * MS_NS


class FlowTaker:
    market_maker = False

    def __init__(self, rng: random.Random, owner: str = "flow-taker", instrument: str = "ETH-PERP"):
        self.owners = (owner,)
        self.owner = owner
        self.instrument = instrument
        self.rng = rng

    def start(self, ctx: SessionContext) -> int | None:
        return ctx.now_ns + self.rng.randint(500, 2000) * MS_NS

    def act(self, ctx: SessionContext) -> int | None:
        take(ctx, self.owner, self.instrument, random_side(self.rng), self.rng.randint(1, 15))
        return ctx.now_ns + int(self.rng.expovariate(1 / 1.5) * SECOND_NS) + MS_NS


class Desk:
    """One independent desk: `style` "passive" quotes both touches and re-quotes every
    one to five seconds; "taker" takes small; "mixed" takes small and, every minute
    or two, sends a large order that sweeps a few levels."""

    market_maker = False

    def __init__(self, rng: random.Random, account: str, instrument: str, style: str) -> None:
        self.owners = (account.partition(":")[0],)
        self.account = account
        self.instrument = instrument
        self.style = style
        self.rng = rng
        self.quotes: list[int] = []
        self.next_large_ns = 0

    def start(self, ctx: SessionContext) -> int | None:
        open_account(ctx, self.account)
        self.next_large_ns = ctx.now_ns + self.rng.randint(30, 120) * SECOND_NS
        return ctx.now_ns + self.rng.randint(1, 5) * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        if self.style == "passive":
            return self._quote(ctx)
        rng = self.rng
        if self.style == "mixed" and ctx.now_ns >= self.next_large_ns:
            side = random_side(rng)
            levels = rng.randint(1, 3)
            size = int(sweep_size(ctx, self.instrument, side, levels) * rng.uniform(0.7, 1.0))
            take(ctx, self.account, self.instrument, side, size, levels)
            self.next_large_ns = ctx.now_ns + rng.randint(50, 150) * SECOND_NS
        else:
            take(ctx, self.account, self.instrument, random_side(rng), rng.randint(1, 40))
        mean_s = 4.0 if self.style == "taker" else 6.0
        return ctx.now_ns + int(rng.expovariate(1 / mean_s) * SECOND_NS) + MS_NS

    def _quote(self, ctx: SessionContext) -> int:
        owner = self.owners[0]
        for order_id in self.quotes:
            if order_id in ctx.market.orders:
                ctx.submit(CancelOrder(self.account, order_id), by=owner)
        self.quotes = []
        bid, ask = ctx.market.touch(self.instrument)
        for side, price in ((Side.BUY, bid), (Side.SELL, ask)):
            if price is None:
                continue
            size = self.rng.randint(5, 40)
            step = ctx.submit(
                PlaceOrder(self.account, self.instrument, side, size, price=price), by=owner
            )
            placed = accepted_order(step)
            if placed is not None:
                self.quotes.append(placed)
        return ctx.now_ns + self.rng.randint(1000, 5000) * MS_NS


class Slicer:
    """Works parent orders of 300-1,200 lots, buying and selling in turn, each as 4-12
    IOC slices 0.5-6 s apart;
    a slice may sweep up to three levels."""

    market_maker = False

    def __init__(self, rng: random.Random, account: str, instrument: str) -> None:
        self.owners = (account.partition(":")[0],)
        self.account = account
        self.instrument = instrument
        self.rng = rng
        self.side = Side.BUY
        self.left = 0
        self.slices = 0

    def start(self, ctx: SessionContext) -> int | None:
        open_account(ctx, self.account)
        return ctx.now_ns + self.rng.randint(10, 60) * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        rng = self.rng
        if self.left <= 0:
            self.side = Side.SELL if self.side is Side.BUY else Side.BUY
            self.left = rng.randint(300, 1200)
            self.slices = rng.randint(4, 12)
        levels = rng.choice((0, 0, 1, 2, 3))
        size = min(self.left, max(self.left // self.slices, 1))
        if levels:
            size = max(size, int(sweep_size(ctx, self.instrument, self.side, levels) * 0.8))
        step = take(ctx, self.account, self.instrument, self.side, min(size, self.left), levels)
        self.left -= min(size, self.left) if step is not None else 0
        self.slices = max(1, self.slices - 1)
        if self.left <= 0:
            return ctx.now_ns + rng.randint(40, 120) * SECOND_NS
        return ctx.now_ns + rng.randint(500, 6000) * MS_NS


def activity_negatives(rng: random.Random) -> list[object]:
    """The high-frequency maker and its flow, and the house's independent desks on
    one deep perp."""
    instrument = rng.choice(("BTC-PERP", "ETH-PERP"))
    return [
        HighFrequencyMaker(rng),
        FlowTaker(rng),
        Desk(rng, f"{HOUSE}:alpha", instrument, "passive"),
        Desk(rng, f"{HOUSE}:beta", instrument, "taker"),
        Desk(rng, f"{HOUSE}-linked-1", instrument, "mixed"),
        Slicer(rng, f"{HOUSE}:exec", instrument),
    ]


HONEST = [activity_negatives]
