"""Quote stuffers: accounts that now and then flood the venue with orders and
cancels that are not meant to trade.

    QuoteStuffer  "stuffer-N", one of two everyday personas: a trader resting a
                  limit order near the touch now and then and taking small, or a
                  small market maker re-quoting one level each side every second
                  or so. Every half minute to two minutes it bursts: for 0.5-2 s it
                  sends 300-2,000 messages a second, in chunks a few milliseconds
                  apart, each chunk placing small orders several ticks behind the
                  touch or cancelling the ones the last chunk placed.

Each burst is labelled as it goes (`collusion.Episode`), with the stuffer's account.
"""

from __future__ import annotations

import random

from clearhouse.core import CancelAll, CancelOrder, PlaceOrder, Side
from clearhouse.surveillance.agents.activity_negatives import accepted_order, random_side, take
from clearhouse.surveillance.agents.collusion import Episode, expiring
from clearhouse.surveillance.agents.honest import MS_NS
from clearhouse.surveillance.sessions import SECOND_NS, SessionContext

OPEN_ORDERS_MAX = 150
"""Below the engine's `orders_per_account_max` (200): the stuffer cancels first."""


class QuoteStuffer:
    def __init__(self, rng: random.Random, number: int) -> None:
        self.owner = f"stuffer-{number}"
        self.owners = (self.owner,)
        self.rng = rng
        self.market_maker = rng.random() < 0.5
        self.home = rng.choice(("BTC-PERP", "ETH-PERP", "SOL-PERP"))
        self.instrument = self.home
        self.next_burst_ns = 0
        self.burst: Episode | None = None
        self.burst_end_ns = 0
        self.rate_per_s = 0
        self.stuffed: list[int] = []
        self.resting: list[int] = []

    def start(self, ctx: SessionContext) -> int | None:
        self.next_burst_ns = ctx.now_ns + self.rng.randint(25, 90) * SECOND_NS
        return ctx.now_ns + self.rng.randint(1, 3) * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        rng = self.rng
        if self.burst is None and ctx.now_ns >= self.next_burst_ns:
            choices = ("BTC-PERP", "ETH-PERP", "SOL-PERP", "BTC-FUT")
            self.instrument = rng.choice(
                [i for i in choices if not expiring(ctx, i, 60 * SECOND_NS)]
            )
            self.burst = Episode("quote_stuffing", self.owners, self.instrument, ctx.now_ns)
            self.burst_end_ns = ctx.now_ns + rng.randint(500, 2000) * MS_NS
            self.rate_per_s = rng.randint(300, 2000)
        if self.burst is not None:
            return self._stuff(ctx)
        if self.market_maker:
            return self._quote(ctx)
        return self._trade(ctx)

    # -- everyday ------------------------------------------------------------------------

    def _quote(self, ctx: SessionContext) -> int:
        rng = self.rng
        ctx.submit(CancelAll(self.owner, self.home))
        bid, ask = ctx.market.touch(self.home)
        tick = ctx.market.specs[self.home].tick_size
        for side, best, away in ((Side.BUY, bid, -tick), (Side.SELL, ask, tick)):
            if best is not None:
                price = best + away * rng.randint(0, 3)
                ctx.submit(PlaceOrder(self.owner, self.home, side, rng.randint(1, 10), price=price))
        return ctx.now_ns + rng.randint(400, 1500) * MS_NS

    def _trade(self, ctx: SessionContext) -> int:
        rng = self.rng
        for order_id in self.resting:
            if order_id in ctx.market.orders:
                ctx.submit(CancelOrder(self.owner, order_id))
        self.resting = []
        side = random_side(rng)
        if rng.random() < 0.3:
            take(ctx, self.owner, self.home, side, rng.randint(1, 15))
        else:
            bid, ask = ctx.market.touch(self.home)
            best = bid if side is Side.BUY else ask
            if best is not None:
                order = PlaceOrder(self.owner, self.home, side, rng.randint(1, 15), price=best)
                placed = accepted_order(ctx.submit(order))
                if placed is not None:
                    self.resting.append(placed)
        return ctx.now_ns + rng.randint(1000, 6000) * MS_NS

    # -- the burst -----------------------------------------------------------------------

    def _stuff(self, ctx: SessionContext) -> int:
        assert self.burst is not None
        rng = self.rng
        if ctx.now_ns >= self.burst_end_ns:
            ctx.submit(CancelAll(self.owner, self.instrument))
            self.stuffed = []
            self.burst.mark(ctx)
            self.burst = None
            self.next_burst_ns = ctx.now_ns + rng.randint(30, 120) * SECOND_NS
            return ctx.now_ns + rng.randint(500, 2000) * MS_NS
        gap_ms = rng.randint(2, 10)
        messages = max(1, self.rate_per_s * gap_ms // 1000)
        if self.stuffed and (rng.random() < 0.5 or len(self.stuffed) >= OPEN_ORDERS_MAX):
            for order_id in self.stuffed[:messages]:
                if order_id in ctx.market.orders:
                    ctx.submit(CancelOrder(self.owner, order_id))
            del self.stuffed[:messages]
        else:
            self._place(ctx, messages)
        self.burst.mark(ctx)
        return ctx.now_ns + gap_ms * MS_NS

    def _place(self, ctx: SessionContext, messages: int) -> None:
        rng = self.rng
        bid, ask = ctx.market.touch(self.instrument)
        tick = ctx.market.specs[self.instrument].tick_size
        for _ in range(messages):
            side = random_side(rng)
            best = bid if side is Side.BUY else ask
            if best is None:
                continue
            away = rng.randint(3, 30) * tick
            price = best - away if side is Side.BUY else best + away
            order = PlaceOrder(self.owner, self.instrument, side, rng.randint(1, 5), price=price)
            order_id = accepted_order(ctx.submit(order))
            if order_id is not None:
                self.stuffed.append(order_id)


MANIPULATORS = {"quote_stuffing": QuoteStuffer}
