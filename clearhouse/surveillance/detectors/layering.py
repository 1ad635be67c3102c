"""Layering: a ladder of very large orders on one side, kept a few ticks from the
touch by constant re-pricing, while the account trades on the other side.

The pattern as the record of Navinder Sarao shows it (CFTC v. Nav Sarao Futures
Ltd., N.D. Ill. 2015; United States v. Sarao, guilty plea 2016): his "layering
algorithm" placed four to six exceptionally large E-mini sell orders one price
level apart, three or four levels from the best offer, and modified them many
times a second as the market moved so that they stayed there, visible as depth
and almost never filled; he cancelled them unfilled, and meanwhile traded on the
buy side. What the detector sees, for one account and instrument:

1. the account trades (as maker or taker) on side A;
2. at that moment it has resting on side B orders each at least
   `order_multiple_min_pct` of the order that traded, placed (or last re-priced)
   between `away_ticks_min` and `away_ticks_max` ticks behind the others' best
   price, together barely filled (`filled_share_max_pct`), on at least `layers_min`
   price levels one after another, no more than `level_gap_ticks_max` ticks apart:
   the ladder;
3. the ladder holds at least `volume_multiple_min_pct` of the most the account
   showed on side A while the ladder rested (the order that traded and any other
   side-A orders; a taker's order counts whole), and the account rests no more
   than `near_share_max_pct` of the ladder's lots on side B nearer the touch than
   `away_ticks_min` (a maker whose larger side starts at the touch is quoting);
4. the account re-priced its side-B orders (amended them, or cancelled and
   replaced them within 50 ms) at least `repricings_min` times in the last
   `rate_window_ns`.

The alert is raised at that trade. Evidence: the trade and the side-A order's
placement, each ladder order's placement and its last re-pricings, and the side's
re-pricings of the last second. One alert per episode: a pattern within
`episode_gap_ns` of the account's last one on the instrument continues it. Score:
from the number of levels, the size multiple and the re-pricing rate.

Parameters (`LayeringParams`), defaults and why:
    away_ticks_min 3              Sarao's layers sat three or four levels back; an
                                  order nearer the touch is spoofing's (spoofing.py)
                                  or a market maker's quote.
    away_ticks_max 12             beyond a dozen ticks an order no longer reads as
                                  pressure at the touch.
    layers_min 4                  Sarao ran four to six levels.
    order_multiple_min_pct 200    each layer "exceptionally large": at least twice
                                  the order that traded.
    level_gap_ticks_max 2         "one level apart": contiguous, allowing one empty
                                  tick; a market maker's ladder steps in basis points.
    volume_multiple_min_pct 500   the ladder at least 5x what the account shows on
                                  the side it trades; a leaning maker shows 1.5-4x
                                  and quotes the touch on both sides.
    filled_share_max_pct 25       layers are kept away so as not to fill (a quick
                                  market can run over one of them).
    near_share_max_pct 10         a ladder whose owner also rests real size at the
                                  touch on that side is a quote, not a facade.
    rate_window_ns 1 s, repricings_min 4
                                  "modified many times a second": at least four
                                  re-pricings of the side in the last second.
    episode_gap_ns 10 s           trades of one layering run are one episode.

Hard negatives, and how they pass:
    market makers quoting both sides and re-quoting often: their other side is as
    large as the side that trades (and their levels step in basis points, far
    more than two ticks);
    a market maker leaning its quotes: its larger side is 1.5-4x its smaller one,
    and its levels start at the touch;
    iceberg-like slicing: the child orders are re-priced constantly, but trade on
    the side they rest on; nothing rests opposite;
    MMP mass cancels: the maker's quotes are two-sided, and a trip is followed by a
    pause, not by re-pricing.
"""

from __future__ import annotations

from dataclasses import dataclass

from clearhouse.core import Side, TradeExecuted
from clearhouse.surveillance.alerts import Alert, make_alert
from clearhouse.surveillance.detectors._order_notes import (
    Key,
    OrderNote,
    OrderNotes,
    key_of,
    notes_for,
    opposite,
)
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView, RestingOrder
from clearhouse.surveillance.steps import Step

SECOND_NS = 10**9
EVIDENCE_REPRICINGS_MAX = 16


@dataclass(frozen=True)
class LayeringParams:
    away_ticks_min: int = 3
    away_ticks_max: int = 12
    layers_min: int = 4
    order_multiple_min_pct: int = 200
    level_gap_ticks_max: int = 2
    volume_multiple_min_pct: int = 500
    filled_share_max_pct: int = 25
    near_share_max_pct: int = 10
    rate_window_ns: int = SECOND_NS
    repricings_min: int = 4
    episode_gap_ns: int = 10 * SECOND_NS


Layer = tuple[RestingOrder, OrderNote]


class LayeringDetector:
    name = "layering"

    def __init__(self, params: LayeringParams | None = None) -> None:
        self.params = params if params is not None else LayeringParams()
        self.notes = OrderNotes()
        """The notes beside the market view it observes (`notes_for`)."""
        self._episode_ns: dict[tuple[str, str], int] = {}
        """(account, instrument) -> when its last pattern was seen."""

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        self.notes = notes_for(market)
        self.notes.apply(step, market)
        alerts: list[Alert] = []
        for event in step.events:
            if not isinstance(event, TradeExecuted):
                continue
            for account, side, order_id in (
                (event.taker_account, event.taker_side, event.taker_order_id),
                (event.maker_account, opposite(event.taker_side), event.maker_order_id),
            ):
                alert = self._trade(step, market, event, account, side, order_id)
                if alert is not None:
                    alerts.append(alert)
        return alerts

    def _trade(
        self,
        step: Step,
        market: MarketView,
        trade: TradeExecuted,
        account: str,
        side: Side,
        order_id: int,
    ) -> Alert | None:
        params = self.params
        instrument = trade.instrument
        key = key_of(account, instrument, opposite(side))
        repricings = self.notes.recent_repricings(key, step.timestamp_ns, params.rate_window_ns)
        if len(repricings) < params.repricings_min:
            return None
        genuine = self.notes.order(market, order_id)
        if genuine is None:
            return None
        ladder, near = self._ladder(market, key, genuine.size)
        if len({order.price for order, _ in ladder}) < params.layers_min:
            return None
        taker = genuine if account == trade.taker_account else None
        since_ns = min(order.placed_ns for order, _ in ladder)
        shown = self.notes.shown(step, key_of(account, instrument, side), since_ns, taker)
        lots = sum(order.remaining for order, _ in ladder)
        if (
            lots * 100 < params.volume_multiple_min_pct * shown
            or near * 100 > params.near_share_max_pct * lots
        ):
            return None
        filled = sum(order.filled for order, _ in ladder)
        if filled * 100 > params.filled_share_max_pct * sum(order.size for order, _ in ladder):
            return None
        episode = (account, instrument)
        last_ns = self._episode_ns.get(episode)
        self._episode_ns[episode] = step.timestamp_ns
        if last_ns is not None and step.timestamp_ns - last_ns <= params.episode_gap_ns:
            return None
        evidence = {genuine.placed_seq, step.seq, *repricings[-EVIDENCE_REPRICINGS_MAX:]}
        for _, note in ladder:
            evidence.update(note.seqs)
        levels = len({order.price for order, _ in ladder})
        multiple_pct = lots * 100 // max(1, shown)
        rate = len(repricings)
        score = 40 + min(10, (levels - params.layers_min) * 5)
        score += min(25, max(0, multiple_pct - 500) * 25 // 1500)
        score += min(25, max(0, rate - params.repricings_min) * 25 // 16)
        nearest = min(note.placed_ticks or 0 for _, note in ladder)
        return make_alert(
            self.name,
            step.seq,
            step.timestamp_ns,
            score=score,
            accounts=(account,),
            instruments=(instrument,),
            evidence=evidence,
            summary=(
                f"{account} traded on the {side.value} side of {instrument} showing {shown}"
                f" lots there, while {len(ladder)} {opposite(side).value} orders of {lots}"
                f" lots ({multiple_pct // 100}x) rested on {levels} levels from {nearest}"
                f" ticks behind the touch, re-priced {rate} times in the last second"
            ),
        )

    def _ladder(self, market: MarketView, key: Key, genuine_lots: int) -> tuple[list[Layer], int]:
        """The longest run of the side's large away orders whose price levels follow
        one another within `level_gap_ticks_max`, and the lots the side rests nearer
        the touch than `away_ticks_min`."""
        params = self.params
        away: list[Layer] = []
        near = 0
        for order, note in self.notes.open_orders(market, key, finishing=False):
            if note.placed_ticks is None or note.placed_ticks > params.away_ticks_max:
                continue
            if note.placed_ticks < params.away_ticks_min:
                near += order.remaining
            elif order.remaining * 100 >= params.order_multiple_min_pct * genuine_lots:
                away.append((order, note))
        gap = params.level_gap_ticks_max * market.specs[key[1]].tick_size
        away.sort(key=lambda layer: (layer[0].price, layer[0].order_id))
        best: list[Layer] = []
        best_levels = 0
        run: list[Layer] = []
        run_levels = 0
        for layer in away:
            price = layer[0].price
            if run and price - run[-1][0].price > gap:
                run, run_levels = [], 0
            if not run or price != run[-1][0].price:
                run_levels += 1
            run.append(layer)
            if run_levels > best_levels:
                best, best_levels = list(run), run_levels
        return best, near


DETECTORS = [LayeringDetector]
