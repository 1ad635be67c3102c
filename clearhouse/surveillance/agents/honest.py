"""Honest agents: the market a manipulator hides in, and the hard negatives a
detector must not flag.

    Oracle          moves each index by a seeded random walk, one update a second,
                    seen by two honest sources
    MarketMaker     quotes both sides in several levels around the index and
                    re-quotes (cancel and replace) every few hundred milliseconds:
                    a very high cancel rate, and large orders that never fill
    Taker           takes liquidity now and then (IOC), either side, random size

`honest_population(rng)` is the background of every labelled session.
"""

from __future__ import annotations

import random

from clearhouse.core import CancelAll, OracleUpdate, PlaceOrder, Side, TimeInForce
from clearhouse.surveillance.sessions import INDEX_PRICES, SECOND_NS, SessionContext
from clearhouse.testing import ORACLE

MS_NS = 10**6
SKEW_MAX_BPS = 20.0


class Oracle:
    owners: tuple[str, ...] = ()
    market_maker = False
    oracle_sources = ("oracle-b",)

    def __init__(self, rng: random.Random, step_bps: float = 3.0) -> None:
        self.prices = dict(INDEX_PRICES)
        self.step_bps = step_bps
        self.rng = rng

    def start(self, ctx: SessionContext) -> int | None:
        self._publish(ctx)
        return ctx.now_ns + SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        for index, price in self.prices.items():
            move = self.rng.gauss(0.0, self.step_bps) / 10_000
            self.prices[index] = max(1, int(price * (1 + move)))
        self._publish(ctx)
        return ctx.now_ns + SECOND_NS

    def _publish(self, ctx: SessionContext) -> None:
        """The walk from the venue's main source, and a second honest source seeing
        the same market a basis point or so apart: with a third source, a faulty
        one never moves the median."""
        for index, price in sorted(self.prices.items()):
            ctx.submit(OracleUpdate(index, price, ctx.now_ns), by=ORACLE)
            seen = max(1, int(price * (1 + self.rng.gauss(0.0, 1.0) / 10_000)))
            ctx.submit(OracleUpdate(index, seen, ctx.now_ns), by="oracle-b")


def index_of(ctx: SessionContext, instrument: str) -> int:
    spec = ctx.market.specs[instrument]
    return ctx.market.index_prices.get(spec.index, INDEX_PRICES[spec.index])


def expired(ctx: SessionContext, instrument: str) -> bool:
    """Whether `instrument` has expired (no one trades it any more)."""
    expiry = ctx.market.specs[instrument].expiry_ns
    return bool(expiry) and ctx.now_ns >= expiry


def on_tick(ctx: SessionContext, instrument: str, price: float) -> int:
    """`price` rounded to the instrument's tick."""
    tick = ctx.market.specs[instrument].tick_size
    return max(tick, round(price / tick) * tick)


class MarketMaker:
    market_maker = True

    def __init__(
        self,
        owner: str,
        instrument: str,
        rng: random.Random,
        *,
        levels: int = 4,
        size: int = 50,
        spread_bps: float = 4.0,
        step_bps: float = 2.0,
        requote_ms: tuple[int, int] = (150, 800),
    ) -> None:
        self.owners = (owner,)
        self.owner = owner
        self.instrument = instrument
        self.rng = rng
        self.levels = levels
        self.size = size
        self.spread_bps = spread_bps
        self.step_bps = step_bps
        self.requote_ms = requote_ms

    def start(self, ctx: SessionContext) -> int | None:
        return ctx.now_ns + self.rng.randint(1, 500) * MS_NS

    def act(self, ctx: SessionContext) -> int | None:
        if expired(ctx, self.instrument):
            return None
        ctx.submit(CancelAll(self.owner, self.instrument))
        mid = index_of(ctx, self.instrument)
        # Lean against inventory: quotes move away from the side it is long, at most
        # `SKEW_MAX_BPS`.
        held = ctx.market.position(self.owner, self.instrument)
        skew = max(-SKEW_MAX_BPS, min(SKEW_MAX_BPS, -held / self.size))
        for level in range(self.levels):
            offset = (self.spread_bps / 2 + level * self.step_bps + skew) / 10_000
            size = max(1, int(self.size * (1 + level) * self.rng.uniform(0.6, 1.4)))
            for side, sign in ((Side.BUY, -1), (Side.SELL, 1)):
                price = on_tick(ctx, self.instrument, mid * (1 + sign * offset))
                ctx.submit(PlaceOrder(self.owner, self.instrument, side, size, price=price))
        low, high = self.requote_ms
        return ctx.now_ns + self.rng.randint(low, high) * MS_NS


class Taker:
    market_maker = False

    def __init__(
        self,
        owner: str,
        instrument: str,
        rng: random.Random,
        *,
        mean_gap_s: float = 3.0,
        size: tuple[int, int] = (1, 40),
    ) -> None:
        self.owners = (owner,)
        self.owner = owner
        self.instrument = instrument
        self.rng = rng
        self.mean_gap_s = mean_gap_s
        self.size = size

    def _gap(self) -> int:
        return int(self.rng.expovariate(1 / self.mean_gap_s) * SECOND_NS) + MS_NS

    def start(self, ctx: SessionContext) -> int | None:
        return ctx.now_ns + SECOND_NS + self._gap()

    def act(self, ctx: SessionContext) -> int | None:
        if expired(ctx, self.instrument):
            return None
        side = self.rng.choice((Side.BUY, Side.SELL))
        mid = index_of(ctx, self.instrument)
        limit = on_tick(ctx, self.instrument, mid * (1.002 if side is Side.BUY else 0.998))
        size = self.rng.randint(*self.size)
        ctx.submit(
            PlaceOrder(
                self.owner,
                self.instrument,
                side,
                size,
                price=limit,
                time_in_force=TimeInForce.IOC,
            )
        )
        return ctx.now_ns + self._gap()


def honest_population(rng: random.Random) -> list[object]:
    """An oracle, two market makers on each deep perp and one on the thin one, and
    a few takers."""
    agents: list[object] = [Oracle(rng)]
    for instrument in ("BTC-PERP", "ETH-PERP"):
        for number in (1, 2):
            agents.append(MarketMaker(f"mm-{instrument.lower()}-{number}", instrument, rng))
    agents.append(MarketMaker("mm-sol", "SOL-PERP", rng, levels=2, size=5, requote_ms=(2000, 6000)))
    agents.append(MarketMaker("mm-btc-fut", "BTC-FUT", rng, levels=3, size=20))
    for number in range(1, 5):
        instrument = rng.choice(("BTC-PERP", "ETH-PERP", "BTC-FUT"))
        agents.append(Taker(f"taker-{number}", instrument, rng))
    return agents
