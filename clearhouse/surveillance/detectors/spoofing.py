"""Spoofing: large orders near the touch, cancelled as soon as the same account has
traded on the other side.

The pattern (CEA section 4c(a)(5)(C), "bidding or offering with the intent to
cancel the bid or offer before execution"; CME Rule 575.A) as the record of United
States v. Coscia (N.D. Ill. 2015, aff'd 7th Cir. 2017) shows it: a small genuine
order on one side; then, within a fraction of a second, several much larger orders
on the other side at progressively better prices (about 7, 5 and 3 times the
genuine size), which make the book look heavy on that side; the genuine order
fills; the large orders are all cancelled within a second of the fill, almost
never having traded; then the mirror image. What the detector sees, for one
account and instrument:

1. the account trades (as maker or taker) on side A: the genuine order;
2. at that moment it has resting on side B at least `orders_min` orders each
   `order_multiple_min_pct` of the genuine order or more, placed within the last
   `lookback_ns`, within `near_ticks` of the others' best price when placed (the
   touch the rest of the market makes), together barely filled
   (`filled_share_max_pct` of their lots at most), and together at least
   `volume_multiple_min_pct` of the most the account showed on side A while they
   rested (the genuine order and any other side-A orders; a taker's order counts
   whole);
3. within `cancel_within_ns` of the fill the account cancels at least
   `cancel_share_min_pct` of those lots that the market did not take meanwhile, and
   more than half of them all (by request, cancel-all, or the market maker
   protection it armed: letting MMP pull the orders on the fill is still the
   account's cancel). A quick market may run over part of a spoof before its
   owner pulls it; one it mostly ran over became a trade.

The alert is raised at the cancel that completes step 3. Evidence: the genuine
order's placement, the trades, each large order's placement (and re-pricings), and
the cancels. One alert per episode: a pattern within `episode_gap_ns` of the
account's last one on the instrument (the mirror image, the next cycle) continues
the episode. Score: from the size multiple, the number of orders, whether their
prices improve one after another, and how fast they were cancelled.

Parameters (`SpoofingParams`), defaults and why:
    near_ticks 2                  Coscia's orders joined or led the best price; two
                                  ticks behind is still "near the touch". Orders
                                  kept further away are layering (layering.py).
    lookback_ns 10 s              the large orders serve the genuine one: placed
                                  seconds before it fills, not minutes.
    order_multiple_min_pct 200    each large order at least twice the genuine one
                                  (Coscia's smallest was three times).
    volume_multiple_min_pct 600   the large side at least 6x what the account shows
                                  on the genuine side (Coscia's 7+5+3 = 15x); a
                                  market maker leaning its quotes shows 1.5-4x.
    orders_min 2                  "several" orders: one large order alone is too
                                  common a shape (a trader's stop, a hedge).
    filled_share_max_pct 25       the large orders had barely traded at the fill
                                  (a quick market can run over one of them).
    cancel_within_ns 2 s          Coscia cancelled within a second; twice that
                                  covers a slower algorithm.
    cancel_share_min_pct 80       nearly all of the large lots still there cancelled.
    episode_gap_ns 10 s           the mirror image and back-to-back cycles are one
                                  episode; the next after a pause is another.

Hard negatives, and how they pass:
    market makers quoting both sides and re-quoting (cancel/replace) every few
    hundred milliseconds: their other side is about as large as the side that
    filled, far below `volume_multiple_min_pct`;
    a market maker leaning its quotes (larger on one side): 1.5-4x, below 6x;
    MMP mass cancels: the protection pulls both sides of a two-sided quote, so the
    cancelled side is no larger than the side that filled;
    iceberg-like slicing (a large parent worked as small child orders): the child
    orders trade on the side they rest on; nothing large rests opposite.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import pairwise

from clearhouse.core import OrderCancelled, Side, TradeExecuted
from clearhouse.surveillance.alerts import Alert, make_alert
from clearhouse.surveillance.detectors._order_notes import (
    Key,
    OrderNotes,
    key_of,
    notes_for,
    opposite,
    own_cancel,
)
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.steps import Step

SECOND_NS = 10**9
MS_NS = 10**6


@dataclass(frozen=True)
class SpoofingParams:
    near_ticks: int = 2
    lookback_ns: int = 10 * SECOND_NS
    order_multiple_min_pct: int = 200
    volume_multiple_min_pct: int = 600
    orders_min: int = 2
    filled_share_max_pct: int = 25
    cancel_within_ns: int = 2 * SECOND_NS
    cancel_share_min_pct: int = 80
    episode_gap_ns: int = 10 * SECOND_NS


@dataclass
class _Suspect:
    """A genuine fill with large orders resting opposite, waiting for their cancels."""

    account: str
    instrument: str
    side: Side
    """The side of the large orders."""
    fill_ns: int
    genuine_lots: int = 0
    """The most the account showed on the genuine side while the large orders rested."""
    orders: dict[int, int] = field(default_factory=dict)
    """Large order id -> lots resting at the fill."""
    prices: list[int] = field(default_factory=list)
    """The large orders' prices, in placement order."""
    evidence: set[int] = field(default_factory=set)
    cancelled: int = 0
    cancelled_ns: int = 0
    traded: int = 0
    """Lots of the large orders the market took after the fill."""

    @property
    def lots(self) -> int:
        return sum(self.orders.values())

    def deadline_ns(self, params: SpoofingParams) -> int:
        return self.fill_ns + params.cancel_within_ns


class SpoofingDetector:
    name = "spoofing"

    def __init__(self, params: SpoofingParams | None = None) -> None:
        self.params = params if params is not None else SpoofingParams()
        self.notes = OrderNotes()
        """The notes beside the market view it observes (`notes_for`)."""
        self._suspects: dict[Key, _Suspect] = {}
        self._watched: dict[int, _Suspect] = {}
        """Large order id -> the suspect waiting for its cancel."""
        self._deadlines: deque[tuple[int, Key]] = deque()
        self._episode_ns: dict[tuple[str, str], int] = {}
        """(account, instrument) -> when its last pattern completed."""

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        self.notes = notes_for(market)
        self.notes.apply(step, market)
        self._expire(step.timestamp_ns)
        alerts: list[Alert] = []
        for event in step.events:
            if isinstance(event, TradeExecuted):
                run_over = self._watched.get(event.maker_order_id)
                if run_over is not None:  # the market reached a large order
                    run_over.traded += event.size
                self._fill(step, market, event, event.taker_account, event.taker_side)
                maker_side = opposite(event.taker_side)
                self._fill(step, market, event, event.maker_account, maker_side)
            elif (
                isinstance(event, OrderCancelled)
                and event.order_id in self._watched
                and own_cancel(event.reason)
            ):
                alert = self._cancelled(step, event)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    # -- the genuine fill ----------------------------------------------------------------

    def _fill(
        self, step: Step, market: MarketView, trade: TradeExecuted, account: str, side: Side
    ) -> None:
        params = self.params
        order_id = trade.taker_order_id if account == trade.taker_account else trade.maker_order_id
        genuine = self.notes.order(market, order_id)
        if genuine is None:
            return
        key = key_of(account, trade.instrument, opposite(side))
        suspect = self._suspects.get(key)
        if suspect is not None:  # a further fill of the same genuine interest
            suspect.evidence.update((genuine.placed_seq, step.seq))
            return
        suspect = _Suspect(account, trade.instrument, opposite(side), step.timestamp_ns)
        filled = placed = 0
        since_ns = step.timestamp_ns
        for order, note in self.notes.open_orders(market, key):
            lots = note.lots(order)
            if (
                note.placed_ticks is not None
                and note.placed_ticks <= params.near_ticks
                and step.timestamp_ns - order.placed_ns <= params.lookback_ns
                and lots * 100 >= params.order_multiple_min_pct * genuine.size
            ):
                suspect.orders[order.order_id] = lots
                filled += order.filled
                placed += order.size
                since_ns = min(since_ns, order.placed_ns)
                suspect.prices.append(order.price)
                suspect.evidence.update(note.seqs)
        if len(suspect.orders) < params.orders_min or filled * 100 > (
            params.filled_share_max_pct * placed
        ):
            return
        taker = genuine if account == trade.taker_account else None
        shown = self.notes.shown(step, key_of(account, trade.instrument, side), since_ns, taker)
        if suspect.lots * 100 < params.volume_multiple_min_pct * shown:
            return
        suspect.genuine_lots = shown
        suspect.evidence.update((genuine.placed_seq, step.seq))
        self._suspects[key] = suspect
        for large in suspect.orders:
            self._watched[large] = suspect
        self._deadlines.append((suspect.deadline_ns(params), key))

    # -- the cancels -----------------------------------------------------------------------

    def _cancelled(self, step: Step, event: OrderCancelled) -> Alert | None:
        suspect = self._watched.pop(event.order_id, None)
        if suspect is None:
            return None
        suspect.cancelled += event.remaining
        suspect.cancelled_ns = step.timestamp_ns
        suspect.evidence.add(step.seq)
        lots = suspect.lots
        if (
            suspect.cancelled * 100 < self.params.cancel_share_min_pct * (lots - suspect.traded)
            or suspect.cancelled * 2 <= lots
        ):
            return None
        self._drop(key_of(suspect.account, suspect.instrument, suspect.side))
        episode = (suspect.account, suspect.instrument)
        last_ns = self._episode_ns.get(episode)
        self._episode_ns[episode] = step.timestamp_ns
        if last_ns is not None and step.timestamp_ns - last_ns <= self.params.episode_gap_ns:
            return None
        return self._alert(step, suspect)

    def _alert(self, step: Step, suspect: _Suspect) -> Alert:
        lots = suspect.lots
        multiple_pct = lots * 100 // max(1, suspect.genuine_lots)
        delay_ms = (suspect.cancelled_ns - suspect.fill_ns) // MS_NS
        prices = suspect.prices
        improving = len(prices) > 1 and all(
            (later > earlier) if suspect.side is Side.BUY else (later < earlier)
            for earlier, later in pairwise(prices)
        )
        score = 40 + min(25, max(0, multiple_pct - 600) * 25 // 900)
        score += 10 if len(suspect.orders) >= 3 else 0
        score += 10 if improving else 0
        score += 15 if delay_ms <= 500 else 10 if delay_ms <= 1000 else 5
        genuine_side = opposite(suspect.side).value
        return make_alert(
            self.name,
            step.seq,
            step.timestamp_ns,
            score=score,
            accounts=(suspect.account,),
            instruments=(suspect.instrument,),
            evidence=suspect.evidence,
            summary=(
                f"{suspect.account} traded on the {genuine_side} side of {suspect.instrument}"
                f" showing {suspect.genuine_lots} lots there, while {len(suspect.orders)}"
                f" {suspect.side.value} orders of {lots} lots ({multiple_pct // 100}.{multiple_pct % 100 // 10}x)"
                f" rested near the touch{', at improving prices' if improving else ''};"
                f" {suspect.cancelled} lots cancelled {delay_ms} ms after the fill"
            ),
        )

    # -- bookkeeping ---------------------------------------------------------------------

    def _drop(self, key: Key) -> None:
        suspect = self._suspects.pop(key, None)
        if suspect is not None:
            for order_id in suspect.orders:
                if self._watched.get(order_id) is suspect:
                    del self._watched[order_id]

    def _expire(self, now_ns: int) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] < now_ns:
            deadline_ns, key = deadlines.popleft()
            suspect = self._suspects.get(key)
            if suspect is not None and suspect.deadline_ns(self.params) == deadline_ns:
                self._drop(key)


DETECTORS = [SpoofingDetector]
