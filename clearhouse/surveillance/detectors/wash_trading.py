"""Wash trading: one beneficial owner on both sides of trade after trade, printing
volume without changing its position.

The pattern (CEA section 4c(a)(2)(A)(i) and CME Rule 534, trades "without a
change in beneficial ownership"; in crypto, the record of the 2024 "Operation
Token Mirrors" cases, where market makers such as Gotbit, ZM Quant and CLS Global
traded tokens between accounts they controlled to fake volume): two accounts of
one owner (`owner:label`) or of linked owners cross each other again and again.
The engine's self-trade prevention stops an account trading itself, so a wash
trader uses two. Each cross is prearranged: one account rests an order, usually
at or just inside the touch so nobody else is ahead of it, and the other takes
exactly that order a moment later, in exactly its size; the direction alternates
so the pair stays flat. What the detector sees:

1. a trade whose maker and taker accounts differ and are linked (`Links.linked`:
   same owner, or owners the venue's link data joins);
2. that is matched: the taker's order was exactly the size the trade filled (it
   took that order and nothing else) and the trade left the maker order empty
   (it took all the maker had left), and the maker order was at most
   `prearranged_ns` old;
3. `trades_min` such matched trades of one pair of accounts on one instrument,
   each within `gap_ns` of the one before (in either direction).

The alert is raised at the trade that completes step 3. Evidence: each matched
trade's step and the placement of its maker order. One alert per episode: later
matched trades of the pair on the instrument, each within `gap_ns` of the last,
continue the episode; a pause longer than `gap_ns` ends it. Score: from the
number of matched trades, how flat the pair stayed (the net lots one account
bought over the gross lots), and how young the maker orders were.

Parameters (`WashTradingParams`), defaults and why:
    trades_min 2            one matched cross between two of an owner's desks
                            can be an accident (it happens about once an hour
                            between desks that meet all day); a second within
                            seconds is a practice (the cases cite hundreds).
    gap_ns 20 s             prearranged crosses come seconds apart (each needs
                            only the second account's order); a pause of 20 s
                            ends an episode, so the next one alerts again.
    prearranged_ns 1 s      a cross is arranged: the taker arrives within
                            milliseconds of the maker's order (the agents of
                            sessions.py: 1-400 ms). A resting quote an
                            unrelated order happens to meet has usually waited
                            for seconds.
    evidence_max 64         matched trades cited per alert, at most (an episode
                            that goes on keeps its one alert).

Hard negatives, and how they pass:
    a market maker and an unrelated taker that trade each other all day: not
    linked, so never step 1 (this is the venue's link data to get right);
    an owner's desks trading independently on the same instrument (a passive desk
    quoting at the touch, a taking desk, an affiliate's occasional large order):
    they do meet, dozens of times a session, but a taker of its own size rarely
    takes exactly what the quote has left, the moment it was placed, and two such
    meetings within seconds of each other do not happen by chance;
    an account crossing itself: the engine's self-trade prevention stops it (and
    a maker equal to the taker is skipped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clearhouse.core import PlaceOrder, Side, TradeExecuted
from clearhouse.surveillance.alerts import Alert, make_alert
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView, RestingOrder
from clearhouse.surveillance.steps import Step

SECOND_NS = 10**9


@dataclass(frozen=True)
class WashTradingParams:
    trades_min: int = 2
    gap_ns: int = 20 * SECOND_NS
    prearranged_ns: int = SECOND_NS
    evidence_max: int = 64


@dataclass
class _Run:
    """Matched trades of one pair on one instrument, each within `gap_ns` of the last."""

    last_ns: int
    trades: int = 0
    gross: int = 0
    net: int = 0
    """Lots the pair's first account bought, less those it sold."""
    ages_ns: int = 0
    evidence: list[int] = field(default_factory=list)
    alerted: bool = False


def maker_order(market: MarketView, order_id: int) -> RestingOrder | None:
    """A maker order as the step left it: still resting, or finished by the step."""
    order = market.orders.get(order_id)
    if order is not None:
        return order
    return next((done for done in market.done if done.order_id == order_id), None)


class WashTradingDetector:
    name = "wash_trading"

    def __init__(self, params: WashTradingParams | None = None) -> None:
        self.params = params or WashTradingParams()
        self._runs: dict[tuple[str, str, str], _Run] = {}
        """(first account, second account, instrument) -> its current run."""

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        payload = step.payload
        if not isinstance(payload, PlaceOrder) or not step.events:
            return []
        alerts: list[Alert] = []
        for event in step.events:
            if not isinstance(event, TradeExecuted):
                continue
            maker, taker = event.maker_account, event.taker_account
            if maker == taker or taker != payload.account or not links.linked(maker, taker):
                continue
            if event.maker_remaining or payload.size != event.size:
                continue  # not one order taken exactly by the other
            order = maker_order(market, event.maker_order_id)
            if order is None or step.timestamp_ns - order.placed_ns > self.params.prearranged_ns:
                continue
            alert = self._matched(step, event, order)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _matched(self, step: Step, trade: TradeExecuted, order: RestingOrder) -> Alert | None:
        params = self.params
        first, second = sorted((trade.maker_account, trade.taker_account))
        key = (first, second, trade.instrument)
        run = self._runs.get(key)
        if run is None or step.timestamp_ns - run.last_ns > params.gap_ns:
            run = self._runs[key] = _Run(step.timestamp_ns)
        buyer = trade.taker_account if trade.taker_side is Side.BUY else trade.maker_account
        run.last_ns = step.timestamp_ns
        run.trades += 1
        run.gross += trade.size
        run.net += trade.size if buyer == first else -trade.size
        run.ages_ns += step.timestamp_ns - order.placed_ns
        if len(run.evidence) < 2 * params.evidence_max:
            run.evidence += [order.placed_seq, step.seq]
        if run.alerted or run.trades < params.trades_min:
            return None
        run.alerted = True
        flat_pct = 100 - 100 * abs(run.net) // run.gross
        mean_age_ms = run.ages_ns // run.trades // 10**6
        score = (
            45
            + min(25, 5 * (run.trades - params.trades_min + 1))
            + flat_pct // 5
            + (10 if mean_age_ms * 10**6 * 2 <= params.prearranged_ns else 0)
        )
        return make_alert(
            self.name,
            step.seq,
            step.timestamp_ns,
            score=score,
            accounts=(first, second),
            instruments=(trade.instrument,),
            evidence=run.evidence,
            summary=(
                f"{first} and {second} (one owner or linked) crossed each other "
                f"{run.trades} times on {trade.instrument}, {run.gross} lots, each taker "
                f"order taking exactly the other's order within {mean_age_ms} ms on "
                f"average; net {run.net:+d} lots for {first}"
            ),
        )


DETECTORS = [WashTradingDetector]
