"""Mark manipulation: a perpetual's book driven far from its index until the mark
follows, while the same account (or one linked to it) gains on a position marked
there, and then uses the marked-up equity.

The pattern as the record of Mango Markets (October 2022; CFTC v. Eisenberg and
SEC v. Eisenberg, 2023) shows it: one account sold MNGO perpetuals to another of
the same trader; the trader bought the thin spot markets the oracle read, the
perpetual's mark rose some tenfold, and the long account borrowed and withdrew
against its unrealised gain. What the detector sees, for one account and one
perpetual:

1. the push: the account's orders priced at least `push_bps` beyond the index on
   the paying side (a bid above it, an offer below it), taking what lies there
   and resting there; while such a push is fresh (its last order within
   `push_memory_ns`), its orders on the other side equally far beyond the index
   in the same direction (the offer above a pushed bid that keeps the mid up)
   join it;
2. the mark follows: an update of the instrument's mark at least
   `premium_min_bps` from the index in the push's direction, while one of the
   account's push orders rests at a touch of the book (so the mid the mark was
   taken from is the account's doing), and the account or an account linked to it
   holds at least `position_min_lots` on the side the mark favours;
3. the gains are used: within `use_window_ns` of that mark, the account or the
   holder withdraws or transfers collateral (accepted, or refused: a refusal for
   unrealised gains is the engine stopping exactly this), or opens or adds to a
   position on another instrument.

The alert is raised at step 3, or at the end of `use_window_ns` without it (the
push for a position's mark is the manipulation; using the gain aggravates it).
One alert per push: pushes by the account on the instrument within
`push_memory_ns` of the last one continue the episode. Evidence: the push orders, the mark updates, the use of the
gains. Score: from the premium reached, the holder's gain at the mark, and how
the gains were used.

What this engine already stops, and what is left. Mango's attack rested on an
oracle that followed thin spot markets and a mark that followed the oracle, with
unrealised gains lent out as collateral. Here: the index is the median of the
fresh oracle sources, and one update moves it at most `oracle_move_max_bps` (a
circuit breaker halts the index's markets beyond `circuit_breaker_bps` in its
window), so a pushed source must outvote the others; a perpetual marks at the
index plus its book's premium capped at `perp_premium_cap_bps` (1 %), so a pushed
book moves the mark by that much at most, not tenfold; limit prices lie within
the instrument's `price_band_bps` of the mark (10 %), so the book can be pushed
only that far; and a withdrawal or transfer must leave initial margin covered
with unrealised gains left out (UNREALIZED_GAINS_NOT_WITHDRAWABLE), so the gain
cannot be taken out as cash. What is left, and what this detector watches: trading
and resting orders far from the index within the band, the premium held at its
cap, the marked-up equity backing new positions (initial margin counts it), and
the attempts to withdraw it. A pushed oracle source is another detector's concern
(the source's observations against the others'; `oracle_spread`): it is not an
account's order.

Parameters (`MarkManipulationParams`), defaults and why:
    push_bps 50               half the premium cap: a book whose touch sits this far
                              beyond the index moves the mark half the way to its
                              cap; honest makers and takers price within a few tens
                              of bps of the index.
    premium_min_bps 50        the mark itself moved: at least half the cap.
    push_memory_ns 30 s       the push serves the next marks, taken each second or
                              so; a push half a minute old has been re-quoted away.
    use_window_ns 60 s        the gain is used while the mark still shows it.
    position_min_lots 1       any position gains; the score weighs how much.

Hard negatives, and how they pass:
    market makers on the thin market, inventory-skewed, withdrawing their profits:
    their quotes lie within tens of bps of the index, never push_bps beyond it;
    traders who hold the thin market and withdraw or trade elsewhere: no push;
    a book left far from a moved index by stale quotes: the quotes were placed near
    the index of their time, so they are no push; an order that takes stale quotes
    after the index moved rests nowhere, so the mark is not its doing;
    keeper liquidations that sweep the thin book: the keeper's Liquidate, not an
    order of the account.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from clearhouse.core import (
    Kind,
    MarkPriceUpdated,
    OrderAccepted,
    PlaceOrder,
    Side,
    TradeExecuted,
)
from clearhouse.core.txs import Transfer, Withdraw
from clearhouse.surveillance.alerts import Alert, make_alert
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.steps import Step

SECOND_NS = 10**9
EVIDENCE_MAX = 256
ORDERS_MAX = 64
"""Push orders tracked per push: the latest are the ones that can be at the touch."""
HOLDERS_MAX = 4_096


@dataclass(frozen=True)
class MarkManipulationParams:
    push_bps: int = 50
    premium_min_bps: int = 50
    push_memory_ns: int = 30 * SECOND_NS
    use_window_ns: int = 60 * SECOND_NS
    position_min_lots: int = 1


@dataclass
class _Push:
    account: str
    instrument: str
    direction: int
    """+1: the book pushed above the index."""
    start_ns: int
    last_ns: int
    orders: dict[int, int] = field(default_factory=dict)
    """Order id -> price, of the push orders placed (latest `ORDERS_MAX`)."""
    evidence: list[int] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)
    premium_bps: int = 0
    holders: dict[str, int] = field(default_factory=dict)
    """Account -> lots held when the mark favoured it."""
    gain: int = 0
    """The holders' gain at the mark over the index, settlement units, at its largest."""
    deadline_ns: int = 0
    used: list[int] = field(default_factory=list)
    done: bool = False

    def note(self, seq: int) -> None:
        if len(self.evidence) < EVIDENCE_MAX:
            self.evidence.append(seq)


class MarkManipulationDetector:
    name = "mark_manipulation"

    def __init__(self, params: MarkManipulationParams | None = None) -> None:
        self.params = params if params is not None else MarkManipulationParams()
        self._pushes: dict[str, dict[str, _Push]] = {}
        """instrument -> account -> its latest push there."""
        self._holders: dict[str, dict[str, None]] = {}
        """perpetual -> accounts that traded it (insertion order)."""
        self._watched: dict[str, list[_Push]] = {}
        """account -> pushes whose gains it could use."""
        self._deadlines: deque[tuple[int, _Push]] = deque()

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        alerts = self._expire(step)
        payload = step.payload
        if isinstance(payload, (Withdraw, Transfer)):
            account = payload.account if isinstance(payload, Withdraw) else payload.source
            alert = self._used(step, market, account, None)
            if alert is not None:
                alerts.append(alert)
            return alerts
        for event in step.events:
            if isinstance(event, TradeExecuted):
                self._traded(event)
            elif isinstance(event, MarkPriceUpdated):
                self._marked(step, market, links, event)
            elif isinstance(event, OrderAccepted) and isinstance(payload, PlaceOrder):
                self._placed(step, market, event)
                if self._adds(market, event):
                    alert = self._used(step, market, event.account, event.instrument)
                    if alert is not None:
                        alerts.append(alert)
        return alerts

    # -- 1. the push ---------------------------------------------------------------------

    def _placed(self, step: Step, market: MarketView, order: OrderAccepted) -> None:
        spec = market.specs.get(order.instrument)
        if spec is None or spec.kind is not Kind.PERPETUAL:
            return
        index = market.index_prices.get(spec.index, 0)
        if index <= 0:
            return
        beyond_bps = (order.price - index) * 10_000 // index
        if abs(beyond_bps) < self.params.push_bps:
            return
        direction = 1 if beyond_bps > 0 else -1
        paying = (order.side is Side.BUY) == (direction > 0)
        pushes = self._pushes.setdefault(order.instrument, {})
        push = pushes.get(order.account)
        now = step.timestamp_ns
        fresh = push is not None and now - push.last_ns <= self.params.push_memory_ns
        if push is not None and fresh and push.done:
            push.last_ns = now  # the episode alerted goes on: no second alert
            return
        if push is None or not fresh or push.direction != direction:
            if not paying:
                return  # an order far on the passive side joins a push, never starts one
            push = pushes[order.account] = _Push(
                order.account, order.instrument, direction, now, now
            )
        push.last_ns = now
        push.orders[order.order_id] = order.price
        if len(push.orders) > ORDERS_MAX:
            del push.orders[next(iter(push.orders))]
        push.note(step.seq)

    # -- 2. the mark follows -------------------------------------------------------------

    def _traded(self, trade: TradeExecuted) -> None:
        holders = self._holders.setdefault(trade.instrument, {})
        for account in (trade.maker_account, trade.taker_account):
            if len(holders) < HOLDERS_MAX:
                holders[account] = None

    def _marked(self, step: Step, market: MarketView, links: Links, mark: MarkPriceUpdated) -> None:
        pushes = self._pushes.get(mark.instrument)
        if not pushes:
            return
        spec = market.specs[mark.instrument]
        index = market.index_prices.get(spec.index, 0)
        if index <= 0:
            return
        premium_bps = (mark.price - index) * 10_000 // index
        if abs(premium_bps) < self.params.premium_min_bps:
            return
        now = step.timestamp_ns
        touch = market.touch(mark.instrument)
        for account, push in list(pushes.items()):
            if now - push.last_ns > self.params.push_memory_ns:
                if not push.marks:
                    del pushes[account]
                continue
            if push.done or (premium_bps > 0) != (push.direction > 0):
                continue
            if not self._at_touch(market, push, (touch.bid, touch.ask)):
                continue
            holders = self._favoured(market, links, push)
            if not holders:
                continue
            if not push.marks:
                self._deadlines.append((now + self.params.use_window_ns, push))
                push.deadline_ns = now + self.params.use_window_ns
                for holder in dict.fromkeys((push.account, *holders)):
                    self._watched.setdefault(holder, []).append(push)
            if len(push.marks) < EVIDENCE_MAX:
                push.marks.append(step.seq)
            push.premium_bps = max(push.premium_bps, abs(premium_bps))
            push.holders.update(holders)
            gain = sum(abs(lots) for lots in holders.values()) * abs(mark.price - index)
            push.gain = max(push.gain, gain * spec.tick_value // spec.tick_size)

    def _at_touch(
        self, market: MarketView, push: _Push, touch: tuple[int | None, int | None]
    ) -> bool:
        for order_id in reversed(push.orders):
            order = market.orders.get(order_id)
            if order is not None and order.remaining and order.price in touch:
                return True
        return False

    def _favoured(self, market: MarketView, links: Links, push: _Push) -> dict[str, int]:
        """The push's account and its linked accounts holding the side it favours."""
        found: dict[str, int] = {}
        minimum = self.params.position_min_lots
        for account in (push.account, *self._holders.get(push.instrument, {})):
            if account in found or (
                account != push.account and not links.linked(account, push.account)
            ):
                continue
            lots = market.position(account, push.instrument)
            if lots * push.direction >= minimum:
                found[account] = lots
        return found

    # -- 3. the gains used ---------------------------------------------------------------

    @staticmethod
    def _adds(market: MarketView, order: OrderAccepted) -> bool:
        """Whether the order opened or added to a position (as the step left it)."""
        held = market.position(order.account, order.instrument)
        return held == 0 or (held > 0) == (order.side is Side.BUY)

    def _used(
        self, step: Step, market: MarketView, account: str, instrument: str | None
    ) -> Alert | None:
        pushes = self._watched.get(account)
        if not pushes:
            return None
        now = step.timestamp_ns
        for push in list(pushes):
            if push.done or now > push.deadline_ns:
                pushes.remove(push)
                continue
            if instrument == push.instrument:
                continue  # more of the push itself, not a use of its gain
            if len(push.used) < EVIDENCE_MAX:
                push.used.append(step.seq)
            return self._alert(step, push, account)
        return None

    def _expire(self, step: Step) -> list[Alert]:
        alerts: list[Alert] = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] < step.timestamp_ns:
            _, push = deadlines.popleft()
            if not push.done:
                alerts.append(self._alert(step, push, None))
        return alerts

    def _alert(self, step: Step, push: _Push, user: str | None) -> Alert:
        push.done = True
        params = self.params
        refused = step.rejected is not None
        use = "no use of the gain seen"
        if user is not None:
            payload = step.payload
            if isinstance(payload, Withdraw):
                use = f"{user} {'tried to withdraw' if refused else 'withdrew'} {payload.amount} units"
            elif isinstance(payload, Transfer):
                use = f"{user} {'tried to transfer' if refused else 'transferred'} {payload.amount} units"
            elif isinstance(payload, PlaceOrder):
                use = f"{user} opened {payload.size} lots of {payload.instrument}"
        score = 40 + min(25, (push.premium_bps - params.premium_min_bps) // 2)
        score += 20 if user is not None else 0
        score += 15 if refused else 5 if user is not None else 0
        holders = ", ".join(f"{a} {lots:+d}" for a, lots in push.holders.items())
        return make_alert(
            self.name,
            step.seq,
            step.timestamp_ns,
            score=score,
            accounts=(push.account, *push.holders),
            instruments=(push.instrument,),
            evidence=[*push.evidence, *push.marks, *push.used],
            summary=(
                f"{push.account} pushed {push.instrument} {'up' if push.direction > 0 else 'down'}"
                f" with {len(push.evidence)} orders at least {params.push_bps} bps beyond the index;"
                f" the mark followed {push.premium_bps} bps off it ({len(push.marks)} updates) for"
                f" {holders} (gain {push.gain} units); {use}"
            ),
        )


DETECTORS = [MarkManipulationDetector]
