"""Marking the close: trading aggressively in an expiry's settlement window, in the
direction that favours the position the account holds in it.

The pattern ("banging the close") as the CFTC's cases show it: Optiver (2008,
settled 2012) bought or sold heavily in the two-minute settlement period of NYMEX
crude oil, heating oil and gasoline futures to move the settlement price in favour
of positions taken earlier; Moore Capital (2010) placed buy orders at the close of
platinum and palladium futures to lift the settlement of its long positions. What
the detector sees, for one account and one expiring instrument (a dated future or
an option):

1. the account (or an account linked to it) holds a position in the instrument;
2. between `settlement_window_ns` before its expiry and the expiry, it sends
   orders that trade on arrival (whatever their time in force) on an instrument of
   the same index (the expiring one itself or another on its index, e.g. the
   perpetual) on the side that pushes the price the
   way the position gains (buys for a long), each taking at least `levels_min`
   price levels and moving the price it took from by at least `move_min_bps` (from
   the far touch it met to its last fill, or to the far touch it left behind when
   that lies further);
3. at least `orders_min` such orders, and they are at least
   `favoured_share_min_pct` of the lots it took on the index in the window.

The alert is raised at the order that completes step 3; one alert per account,
instrument and expiry. Evidence: every order that counted. Score: from the number
of orders, how far they moved the price, and how one-sided the account's trading
in the window was.

What the price moves here, and what it does not. This engine settles a future at
the time-weighted average of the index over the window (core/settlement.py), and
marks a future at the index plus the oracle's basis (core/market_data.py): trading
the future's book moves neither, and a perpetual's mark moves with its book only
within `perp_premium_cap_bps`. The venue's defence is that its close comes from
the index, not from its own book. The conduct is still manipulation when the
index draws on markets the trader can move, and an attempt where it does not (the
CFTC charged Optiver with attempted manipulation): the detector flags the conduct
the record shows, whatever its effect on the settlement price. The settlement
window is not in the record: `settlement_window_ns` must be the genesis's
(`config.settlement_window_ns`; the session default, 2 minutes).

Parameters (`MarkingTheCloseParams`), defaults and why:
    settlement_window_ns 120 s   the window the settlement averages over (the
                                 session venue's; a venue sets its own).
    levels_min 2                 an order that takes one level is any trader's;
                                 marking orders go through the book.
    move_min_bps 3               past the second level of the session future's book
                                 (levels 2 bps apart): a price-moving order.
    orders_min 2                 repeatedly: one large order in the window is a
                                 hedge or an exit (takers without a view make such an
                                 order once in a few sessions, never twice).
    favoured_share_min_pct 70    the account pushed one way: a trader working both
                                 sides in the window is making a market, not a price.

Hard negatives, and how they pass:
    a holder of the expiring future who keeps trading it in the window, a few lots
    at the touch: no order takes two levels;
    a holder who closes (or rolls) its position in the window with a sweep: it
    trades against its own position, not in its favour;
    takers without a view (either side, up to a level or two): rarely two levels
    and 3 bps, hardly ever three times one way with little trading the other way;
    keeper liquidations and settlement, large and one-sided: they are the keeper's
    transactions, not the account's orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clearhouse.core import Kind, Side, TradeExecuted
from clearhouse.core.instruments import Instrument
from clearhouse.surveillance.alerts import Alert, make_alert
from clearhouse.surveillance.detectors.momentum_ignition import Take, take_of
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.steps import Step

SECOND_NS = 10**9
EVIDENCE_MAX = 256
HOLDERS_MAX = 4_096
"""Accounts remembered per expiring instrument, for positions held through a link."""


@dataclass(frozen=True)
class MarkingTheCloseParams:
    settlement_window_ns: int = 120 * SECOND_NS
    levels_min: int = 2
    move_min_bps: int = 3
    orders_min: int = 2
    favoured_share_min_pct: int = 70


@dataclass
class _Window:
    """One account's trading on one index inside one expiry's settlement window."""

    account: str
    expiring: str
    direction: int
    """+1: the position gains as the price rises."""
    position: int
    holders: tuple[str, ...]
    favoured_lots: int = 0
    other_lots: int = 0
    orders: list[int] = field(default_factory=list)
    moves_bps: list[int] = field(default_factory=list)
    alerted: bool = False


class MarkingTheCloseDetector:
    name = "marking_the_close"

    def __init__(self, params: MarkingTheCloseParams | None = None) -> None:
        self.params = params if params is not None else MarkingTheCloseParams()
        self._expiring: dict[str, list[Instrument]] = {}
        """index -> its instruments that expire, from the specs the market knows."""
        self._specs_seen = 0
        self._holders: dict[str, dict[str, None]] = {}
        """expiring instrument -> accounts that traded it (insertion order)."""
        self._windows: dict[tuple[str, str], _Window] = {}
        """(account, expiring instrument) -> its window."""

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        self._refresh(market)
        for event in step.events:
            if isinstance(event, TradeExecuted) and event.instrument in self._holders:
                holders = self._holders[event.instrument]
                for account in (event.maker_account, event.taker_account):
                    if len(holders) < HOLDERS_MAX:
                        holders[account] = None
        take = take_of(step, market)
        if take is None or not take.lots:
            return []
        spec = market.specs.get(take.order.instrument)
        if spec is None:
            return []
        alerts: list[Alert] = []
        for expiring in self._expiring.get(spec.index, ()):
            alert = self._judge(step, market, links, take, expiring)
            if alert is not None:
                alerts.append(alert)
        return alerts

    def _judge(
        self, step: Step, market: MarketView, links: Links, take: Take, expiring: Instrument
    ) -> Alert | None:
        params = self.params
        now = take.timestamp_ns
        order = take.order
        if not expiring.expiry_ns - params.settlement_window_ns <= now < expiring.expiry_ns:
            return None
        key = (order.account, expiring.id)
        window = self._windows.get(key)
        if window is None:
            window = self._open(market, links, take, expiring)
            if window is None:
                return None
            self._windows[key] = window
        if window.alerted:
            return None
        direction = 1 if order.side is Side.BUY else -1
        if direction != window.direction:
            window.other_lots += take.lots
            return None
        window.favoured_lots += take.lots
        move = take.impact_bps()
        if take.levels < params.levels_min or move < params.move_min_bps:
            return None
        if len(window.orders) < EVIDENCE_MAX:
            window.orders.append(step.seq)
            window.moves_bps.append(move)
        total = window.favoured_lots + window.other_lots
        if (
            len(window.orders) < params.orders_min
            or window.favoured_lots * 100 < params.favoured_share_min_pct * total
        ):
            return None
        window.alerted = True
        return self._alert(step, window, total)

    def _open(
        self, market: MarketView, links: Links, take: Take, expiring: Instrument
    ) -> _Window | None:
        """The account's window, if it (or an account linked to it) holds the
        expiring instrument as it enters it."""
        account = take.order.account
        held = market.position(account, expiring.id)
        if expiring.id == take.order.instrument:
            held -= take.lots if take.order.side is Side.BUY else -take.lots
        holders = [account] if held else []
        for other in self._holders.get(expiring.id, {}):
            if other != account and links.linked(account, other):
                lots = market.position(other, expiring.id)
                if lots:
                    held += lots
                    holders.append(other)
        if not held:
            return None
        return _Window(account, expiring.id, 1 if held > 0 else -1, held, tuple(holders))

    def _alert(self, step: Step, window: _Window, total: int) -> Alert:
        params = self.params
        count = len(window.orders)
        share_pct = window.favoured_lots * 100 // max(1, total)
        moved = sum(window.moves_bps)
        score = 45 + min(20, 5 * (count - params.orders_min))
        score += min(20, max(0, moved // count - params.move_min_bps) * 2)
        score += min(15, max(0, share_pct - params.favoured_share_min_pct) // 2)
        side = "bought" if window.direction > 0 else "sold"
        return make_alert(
            self.name,
            step.seq,
            step.timestamp_ns,
            score=score,
            accounts=(window.account, *window.holders),
            instruments=(window.expiring,),
            evidence=window.orders,
            summary=(
                f"{window.account} {side} through the book {count} times in the settlement"
                f" window of {window.expiring} (up to {max(window.moves_bps)} bps past the"
                f" mid; {share_pct}% of its {total} lots taken one way) holding"
                f" {window.position} lots of it"
            ),
        )

    # -- bookkeeping ---------------------------------------------------------------------

    def _refresh(self, market: MarketView) -> None:
        if len(market.specs) == self._specs_seen:
            return
        self._specs_seen = len(market.specs)
        self._expiring = {}
        for spec in market.specs.values():
            if spec.kind is not Kind.PERPETUAL and spec.expiry_ns:
                self._expiring.setdefault(spec.index, []).append(spec)
                self._holders.setdefault(spec.id, {})


DETECTORS = [MarkingTheCloseDetector]
