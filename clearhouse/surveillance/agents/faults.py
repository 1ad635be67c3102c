"""Venue faults with labels: an oracle source that parts from the others, and a
client that floods the venue with refused orders.

    DivergentOracle   a second source for one index: tracks the index with a few
                      basis points of noise, and in one episode per session walks
                      (or jumps) 2-12 % away for 10-60 s, then comes back
    BrokenClient      a trader that trades a little (IOC now and then) and, once a
                      session, sends a burst of 25-200 orders in 0.3-3 s that the
                      venue refuses (priced outside the band, or sized past what
                      its margin allows)
"""

from __future__ import annotations

import random

from clearhouse.core import OracleUpdate, PlaceOrder, Side, TimeInForce
from clearhouse.surveillance.agents.honest import MS_NS, index_of, on_tick
from clearhouse.surveillance.sessions import INDEX_PRICES, SECOND_NS, SessionContext


class DivergentOracle:
    owners: tuple[str, ...] = ()
    market_maker = False

    def __init__(
        self, rng: random.Random, number: int, *, at_s: tuple[int, int] = (40, 400)
    ) -> None:
        self.rng = rng
        self.at_s = at_s
        self.source = f"oracle-src-{number}"
        self.oracle_sources = (self.source,)
        self.index = rng.choice(("BTC-USD", "ETH-USD"))
        self.episode_at: int | None = None
        self.episode_ns = rng.randint(10, 60) * SECOND_NS
        self.away = rng.uniform(0.02, 0.12) * rng.choice((1, -1))
        self.jump = rng.random() < 0.5
        self.started: int | None = None
        self.labelled = False

    def start(self, ctx: SessionContext) -> int | None:
        self.episode_at = ctx.now_ns + self.rng.randint(*self.at_s) * SECOND_NS
        return ctx.now_ns + self.rng.randint(500, 1500) * MS_NS

    def act(self, ctx: SessionContext) -> int | None:
        honest = ctx.market.index_prices.get(self.index, INDEX_PRICES[self.index])
        price = honest * (1 + self.rng.gauss(0.0, 2.0) / 10_000)
        assert self.episode_at is not None
        into = ctx.now_ns - self.episode_at
        if 0 <= into <= self.episode_ns:
            if self.started is None:
                self.started = ctx.now_ns
            share = 1.0 if self.jump else min(1.0, into / (self.episode_ns / 3))
            price *= 1 + self.away * share
        elif self.started is not None and not self.labelled:
            ctx.label("oracle_spread", (self.source,), self.index, self.started)
            self.labelled = True
        ctx.submit(OracleUpdate(self.index, max(1, int(price)), ctx.now_ns), by=self.source)
        return ctx.now_ns + self.rng.randint(700, 1300) * MS_NS


class BrokenClient:
    market_maker = False

    def __init__(
        self, rng: random.Random, number: int, *, at_s: tuple[int, int] = (45, 500)
    ) -> None:
        self.rng = rng
        self.at_s = at_s
        self.owner = f"broken-client-{number}"
        self.owners = (self.owner,)
        self.instrument = rng.choice(("BTC-PERP", "ETH-PERP"))
        self.burst_at: int | None = None
        self.done = False

    def start(self, ctx: SessionContext) -> int | None:
        self.burst_at = ctx.now_ns + self.rng.randint(*self.at_s) * SECOND_NS
        return ctx.now_ns + self.rng.randint(1, 10) * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        assert self.burst_at is not None
        if not self.done and ctx.now_ns >= self.burst_at:
            self._burst(ctx)
            self.done = True
        else:
            side = self.rng.choice((Side.BUY, Side.SELL))
            mid = index_of(ctx, self.instrument)
            price = on_tick(ctx, self.instrument, mid * (1.002 if side is Side.BUY else 0.998))
            order = PlaceOrder(
                self.owner,
                self.instrument,
                side,
                self.rng.randint(1, 5),
                price=price,
                time_in_force=TimeInForce.IOC,
            )
            ctx.submit(order)
        following = ctx.now_ns + self.rng.randint(2, 15) * SECOND_NS
        if not self.done:
            following = min(following, self.burst_at)
        return following

    def _burst(self, ctx: SessionContext) -> None:
        started = ctx.now_ns
        count = self.rng.randint(30, 200)
        gap = self.rng.randint(300, 2_000) * MS_NS // count
        mid = index_of(ctx, self.instrument)
        far = self.rng.random() < 0.5
        for _ in range(count):
            side = self.rng.choice((Side.BUY, Side.SELL))
            if far:  # outside the price band: refused
                price = on_tick(ctx, self.instrument, mid * (1.6 if side is Side.BUY else 0.4))
                size = self.rng.randint(1, 10)
            else:  # far more than the account's margin carries: refused
                price = on_tick(ctx, self.instrument, mid)
                size = 10_000_000
            ctx.submit(PlaceOrder(self.owner, self.instrument, side, size, price=price))
            ctx.venue.now_ns += gap
        ctx.label("reject_rate", (self.owner,), self.instrument, started)


MANIPULATORS = {
    "oracle_spread": DivergentOracle,
    "reject_rate": BrokenClient,
}
