"""Manipulators that need two accounts: wash trading and front-running.

    WashTrader   two accounts of one owner ("wash-N" and "wash-N:b") or of linked
                 owners ("wash-N" and "wash-N-linked-1"). Between episodes either
                 takes small from the market makers every few seconds. Every
                 half minute to two minutes, an episode on any instrument: 3-8
                 crosses 0.3-5 s apart, each one account resting 2-60 lots one to
                 three ticks inside the spread and the other taking exactly that
                 order 1-400 ms later, the direction chosen to bring the pair back
                 flat: volume printed, nothing risked. When the market takes the
                 resting order first, it tries again (up to three tries a cross,
                 a minute an episode).
    FrontRunner  a client ("whale-N") that takes 5-60 lots every few seconds and,
                 every 40-100 s, sends a block of at least 120 lots that sweeps
                 two to four levels or more; and an account linked to it
                 ("whale-N-linked-1", or the client's own "whale-N:prop") that
                 takes 1-15 lots every few seconds. Before two blocks in three,
                 the linked account takes 25-50 % of the block on the same side,
                 0.15-4 s ahead, then gets out: half the time into the block (an
                 opposite order rested just before it, a tick inside a level the
                 block reaches), otherwise after it (taking back 0.3-8 s later,
                 until flat).

Episodes are labelled as they go (`Episode`): wash trading with both accounts from
the first cross, front-running with the linked account from its trade ahead.
"""

from __future__ import annotations

import dataclasses
import random

from clearhouse.core import CancelOrder, PlaceOrder, Side, TimeInForce
from clearhouse.surveillance.agents.activity_negatives import (
    accepted_order,
    open_account,
    random_side,
    sweep_size,
    take,
    taking_price,
)
from clearhouse.surveillance.agents.honest import MS_NS
from clearhouse.surveillance.sessions import FUTURE_EXPIRY_NS, SECOND_NS, SessionContext

IOC = TimeInForce.IOC


class Episode:
    """One manipulative episode, labelled as it goes: the label is recorded at the
    first act that shows the pattern and its end moved to each later act, so an
    episode the session's end cuts short is labelled as far as it went."""

    def __init__(self, detector: str, accounts: tuple[str, ...], instrument: str, start_ns: int):
        self.detector = detector
        self.accounts = accounts
        self.instrument = instrument
        self.start_ns = start_ns
        self.index: int | None = None

    def mark(self, ctx: SessionContext) -> None:
        if self.index is None:
            ctx.label(self.detector, self.accounts, self.instrument, self.start_ns)
            self.index = len(ctx.labels) - 1
        else:
            label = ctx.labels[self.index]
            ctx.labels[self.index] = dataclasses.replace(label, end_ns=ctx.now_ns)


def opposite(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


def expiring(ctx: SessionContext, instrument: str, within_ns: int) -> bool:
    return instrument == "BTC-FUT" and ctx.now_ns + within_ns >= FUTURE_EXPIRY_NS


class WashTrader:
    market_maker = False

    def __init__(self, rng: random.Random, number: int) -> None:
        base = f"wash-{number}"
        other = f"{base}:b" if rng.random() < 0.5 else f"{base}-linked-1"
        self.owners = tuple(sorted({base, other.partition(":")[0]}))
        self.accounts = (base, other)
        self.rng = rng
        self.home = rng.choice(("BTC-PERP", "ETH-PERP", "SOL-PERP"))
        self.instrument = self.home
        self.next_episode_ns = 0
        self.episode: Episode | None = None
        self.rounds = 0
        """Crosses the episode means to print."""
        self.crossed = 0
        self.attempts = 0
        self.resting: tuple[int, str, Side, int] | None = None
        """The maker order of the current round: id, taker account, taker side, price."""

    def start(self, ctx: SessionContext) -> int | None:
        open_account(ctx, self.accounts[1])
        self.next_episode_ns = ctx.now_ns + self.rng.randint(15, 60) * SECOND_NS
        return ctx.now_ns + self.rng.randint(1, 5) * SECOND_NS

    def act(self, ctx: SessionContext) -> int | None:
        rng = self.rng
        if self.resting is not None:
            return self._take(ctx)
        if self.episode is None and ctx.now_ns >= self.next_episode_ns:
            choices = [i for i in ("BTC-PERP", "ETH-PERP", "SOL-PERP", "BTC-FUT")]
            choices = [i for i in choices if not expiring(ctx, i, 90 * SECOND_NS)]
            self.instrument = rng.choice(choices)
            self.rounds = rng.randint(3, 8)
            self.crossed = self.attempts = 0
            self.episode = Episode("wash_trading", self.accounts, self.instrument, ctx.now_ns)
        if self.episode is not None:
            return self._rest(ctx)
        account = rng.choice(self.accounts)
        take(ctx, account, self.home, random_side(rng), rng.randint(1, 20))
        return ctx.now_ns + int(rng.expovariate(1 / 5.0) * SECOND_NS) + MS_NS

    def _rest(self, ctx: SessionContext) -> int:
        rng = self.rng
        assert self.episode is not None
        if ctx.now_ns > self.episode.start_ns + 60 * SECOND_NS:  # the market would not have it
            return self._end(ctx)
        tick = ctx.market.specs[self.instrument].tick_size
        bid, ask = ctx.market.touch(self.instrument)
        if bid is None or ask is None or ask - bid < 3 * tick:
            return ctx.now_ns + rng.randint(100, 500) * MS_NS
        first, second = self.accounts
        held = ctx.market.position(first, self.instrument)
        first_sells = held > 0 if held else rng.random() < 0.5
        seller, buyer = (first, second) if first_sells else (second, first)
        maker, taker = (seller, buyer) if rng.random() < 0.5 else (buyer, seller)
        steps = (ask - bid) // tick - 1
        inside = rng.randint(1, min(3, steps))
        price = bid + inside * tick if rng.random() < 0.5 else ask - inside * tick
        size = rng.randint(2, 60)
        maker_side = Side.SELL if maker == seller else Side.BUY
        order = PlaceOrder(maker, self.instrument, maker_side, size, price=price, post_only=True)
        step = ctx.submit(order, by=maker.partition(":")[0])
        order_id = accepted_order(step)
        if order_id is None or order_id not in ctx.market.orders:
            return ctx.now_ns + rng.randint(100, 500) * MS_NS
        self.resting = (order_id, taker, opposite(maker_side), price)
        return ctx.now_ns + rng.randint(1, 400) * MS_NS

    def _take(self, ctx: SessionContext) -> int:
        assert self.resting is not None and self.episode is not None
        rng = self.rng
        order_id, taker, side, price = self.resting
        self.resting = None
        self.attempts += 1
        resting = ctx.market.orders.get(order_id)
        if resting is not None:
            order = PlaceOrder(
                taker, self.instrument, side, resting.remaining, price=price, time_in_force=IOC
            )
            step = ctx.submit(order, by=taker.partition(":")[0])
            if any(getattr(event, "maker_order_id", None) == order_id for event in step.events):
                self.crossed += 1
                self.episode.mark(ctx)
            if order_id in ctx.market.orders:
                maker = ctx.market.orders[order_id].account
                ctx.submit(CancelOrder(maker, order_id), by=maker.partition(":")[0])
        if self.crossed < self.rounds and self.attempts < 3 * self.rounds:
            return ctx.now_ns + rng.randint(300, 5000) * MS_NS
        return self._end(ctx)

    def _end(self, ctx: SessionContext) -> int:
        rng = self.rng
        self.episode = None
        self.next_episode_ns = ctx.now_ns + rng.randint(30, 100) * SECOND_NS
        return ctx.now_ns + rng.randint(2, 8) * SECOND_NS


class FrontRunner:
    market_maker = False

    def __init__(self, rng: random.Random, number: int) -> None:
        client = f"whale-{number}"
        runner = f"{client}:prop" if rng.random() < 0.4 else f"{client}-linked-1"
        self.owners = tuple(sorted({client, runner.partition(":")[0]}))
        self.client = client
        self.runner = runner
        self.rng = rng
        self.instrument = rng.choice(("BTC-PERP", "ETH-PERP"))
        self.due: dict[str, int] = {}
        self.plan: dict[str, int] = {}
        self.side = Side.BUY
        self.ahead = False
        self.episode: Episode | None = None
        self.held_before = 0
        self.resting: int | None = None

    def start(self, ctx: SessionContext) -> int | None:
        open_account(ctx, self.runner)
        now, rng = ctx.now_ns, self.rng
        self.due = {
            "client": now + rng.randint(1, 8) * SECOND_NS,
            "runner": now + rng.randint(1, 8) * SECOND_NS,
            "large": now + rng.randint(20, 60) * SECOND_NS,
        }
        return min(self.due.values())

    def act(self, ctx: SessionContext) -> int | None:
        """Whichever of the three clocks is due: the client's everyday trading, the
        runner's, and the block with the runner's episode around it."""
        tasks = {"client": self._client, "runner": self._runner, "large": self._large}
        for task, when in sorted(self.due.items(), key=lambda item: (item[1], item[0])):
            if when <= ctx.now_ns:
                self.due[task] = tasks[task](ctx)
        return min(self.due.values())

    def _gap(self, mean_s: float) -> int:
        return int(self.rng.expovariate(1 / mean_s) * SECOND_NS) + MS_NS

    def _client(self, ctx: SessionContext) -> int:
        take(ctx, self.client, self.instrument, random_side(self.rng), self.rng.randint(5, 60))
        return ctx.now_ns + self._gap(8.0)

    def _runner(self, ctx: SessionContext) -> int:
        if self.ahead:  # busy with an episode: back after it
            return ctx.now_ns + self._gap(6.0)
        take(ctx, self.runner, self.instrument, random_side(self.rng), self.rng.randint(1, 15))
        return ctx.now_ns + self._gap(6.0)

    def _large(self, ctx: SessionContext) -> int:
        """The client's large order and, around it, the runner's episode, in stages:
        0 the runner takes ahead (or not), 1 the client's order, 2 the unwind."""
        rng = self.rng
        stage = self.plan.get("stage", 0)
        if stage == 0:
            self.side = random_side(rng)
            levels = rng.randint(2, 4)
            size = int(sweep_size(ctx, self.instrument, self.side, levels) * rng.uniform(0.8, 1.0))
            size = max(size, rng.randint(120, 300))  # a block, however thin the book
            self.plan = {"stage": 1, "levels": levels, "size": size, "into": rng.random() < 0.5}
            if rng.random() < 0.65:
                return self._ahead(ctx)
        if stage <= 1:
            return self._order(ctx)
        return self._unwind(ctx)

    def _ahead(self, ctx: SessionContext) -> int:
        rng = self.rng
        self.held_before = ctx.market.position(self.runner, self.instrument)
        size = max(1, int(self.plan["size"] * rng.uniform(0.25, 0.5)))
        reach = next(
            k for k in range(5) if k == 4 or sweep_size(ctx, self.instrument, self.side, k) >= size
        )
        start_ns = ctx.now_ns
        take(ctx, self.runner, self.instrument, self.side, size, reach)
        if ctx.market.position(self.runner, self.instrument) != self.held_before:
            self.ahead = True  # else nothing taken: the large order goes alone
            self.episode = Episode("front_running", (self.runner,), self.instrument, start_ns)
        return ctx.now_ns + rng.randint(150, 4000) * MS_NS

    def _order(self, ctx: SessionContext) -> int:
        rng = self.rng
        levels = self.plan["levels"]
        if self.ahead and self.plan["into"]:
            self._rest_into(ctx, levels)
        size = self.plan["size"]
        reach = next(
            k
            for k in range(levels, 7)
            if k == 6 or sweep_size(ctx, self.instrument, self.side, k) >= size
        )
        take(ctx, self.client, self.instrument, self.side, size, reach)
        if self.episode is not None:
            self.episode.mark(ctx)
        if not self.ahead:
            self.plan = {}
            return ctx.now_ns + rng.randint(40, 100) * SECOND_NS
        if ctx.market.position(self.runner, self.instrument) == self.held_before:
            return self._finish(ctx)  # unwound into the client's order
        self.plan["stage"] = 2
        return ctx.now_ns + rng.randint(300, 8000) * MS_NS

    def _rest_into(self, ctx: SessionContext, levels: int) -> None:
        """Just before the client's order: the runner's way out, resting one tick
        inside a level the client's order will reach."""
        held = ctx.market.position(self.runner, self.instrument) - self.held_before
        far = taking_price(ctx, self.instrument, self.side, self.rng.randint(1, levels - 1))
        if not held or far is None:
            return
        tick = ctx.market.specs[self.instrument].tick_size
        price = far - tick if self.side is Side.BUY else far + tick
        order = PlaceOrder(
            self.runner, self.instrument, opposite(self.side), abs(held), price=price
        )
        self.resting = accepted_order(ctx.submit(order, by=self.runner.partition(":")[0]))

    def _unwind(self, ctx: SessionContext) -> int:
        """Take back what is left, until flat (the book may be thin just after)."""
        rng = self.rng
        owner = self.runner.partition(":")[0]
        if self.resting is not None and self.resting in ctx.market.orders:
            ctx.submit(CancelOrder(self.runner, self.resting), by=owner)
        self.resting = None
        left = ctx.market.position(self.runner, self.instrument) - self.held_before
        if left:
            side = Side.SELL if left > 0 else Side.BUY
            take(ctx, self.runner, self.instrument, side, abs(left), rng.randint(0, 2))
        left = ctx.market.position(self.runner, self.instrument) - self.held_before
        assert self.episode is not None
        if left and ctx.now_ns < self.episode.start_ns + 20 * SECOND_NS:
            return ctx.now_ns + rng.randint(100, 600) * MS_NS
        return self._finish(ctx)

    def _finish(self, ctx: SessionContext) -> int:
        rng = self.rng
        self.resting = None
        if self.episode is not None:
            self.episode.mark(ctx)
        self.episode = None
        self.ahead = False
        self.plan = {}
        return ctx.now_ns + rng.randint(40, 100) * SECOND_NS


MANIPULATORS = {"front_running": FrontRunner, "wash_trading": WashTrader}
