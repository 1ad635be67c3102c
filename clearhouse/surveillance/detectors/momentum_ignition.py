"""Momentum ignition: a burst of immediate orders that take several levels one way,
then the same account trading the other way into the move it made.

The pattern as the SEC's concept release on equity market structure (34-61358,
2010) describes it: "initiating a series of orders and trades ... in an attempt to
ignite a rapid price movement", the trader having taken a position in advance, or
trading out at a favourable price once others follow; ESMA's MAR guidelines (2016)
list the same conduct among the indicators of manipulation. What the detector
sees, for one account and instrument:

1. the burst: at least `burst_orders_min` immediate orders (IOC, FOK, market) on
   one side, each within `burst_window_ns` of the first, that together took at
   least `burst_levels_min` distinct price levels, moved the price they took from
   by at least
   `burst_move_min_bps` (from the far touch an order met to its last fill, or to the
   far touch it left behind when that lies further: an order that empties the
   levels near the touch moves the price to what is left), and took at least
   `burst_size_min_pct` of the instrument's usual taking order (the median of the
   last 63);
2. the reversal, at least `reversal_share_min_pct` of the lots the burst took, of:
   orders of the account on the other side that can rest (GTC), priced into the
   move (a sell at or above the ask the burst began to take from), placed within
   `reversal_window_ns` of the burst's last order, or placed up to
   `placed_before_ns` before the burst and still resting when it qualified (orders
   waiting where the move will fill them); immediate orders of the account on the
   other side within `follow_window_ns`, for the lots they traded beyond the
   furthest price the burst itself paid (selling to the buyers it drew, who took
   the price on); and orders that can rest, into the move, of an account linked to
   it that was not quoting the burst's side itself.

An account that sent orders that can rest on the burst's own side within
`quote_window_ns` before the burst or during it is quoting that side, a market
maker's conduct: its bursts are not judged. The alert is raised at the order that
completes step 2 (at the burst's last order when the reversal rested first).
Evidence: every burst order and every reversal order. One alert per episode: a
burst within `reversal_window_ns` of the account's last alert on the instrument
continues that episode. Score: from the levels, the size against the usual
order, the move, and the reversal's share.

Parameters (`MomentumIgnitionParams`), defaults and why:
    burst_window_ns 1 s          "rapid": an igniter's orders follow one another within
                                 milliseconds; takers and execution algorithms space
                                 theirs seconds apart.
    burst_orders_min 2           "a series of orders": one large order through the
                                 book is a block, a hedge, or a trade ahead of one
                                 (front-running, whose exit rests in the block's path).
    burst_levels_min 2           "takes several levels": more than the touch (the
                                 session books quote 1-2 bps apart beyond it, so two
                                 levels and the move below are already a push).
    burst_move_min_bps 2         a move of the price, not a tick: the deep session
                                 books quote tick by tick near the touch and a few
                                 bps apart beyond it.
    burst_size_min_pct 500       five times the instrument's usual order: a burst
                                 large for its market (takers of the session trade
                                 one to three times the median).
    reversal_window_ns 10 s      igniters trade out within seconds, while the move
                                 lasts; the session books are re-quoted around the
                                 index within a second.
    follow_window_ns 3 s         followers come at once or not at all; later trades
                                 beyond the burst's price are the market drifting.
    placed_before_ns 3 s         orders waiting in the move's path are placed just
                                 before the burst, not minutes earlier.
    reversal_share_min_pct 25    trading out a quarter of the burst or more; a token
                                 order the other way is not a reversal.
    quote_window_ns 10 s         market makers re-quote every few seconds at most.

Hard negatives, and how they pass:
    a large honest order that sweeps several levels and is held (block trades, a
    desk's occasional large order, an execution algorithm's slices): nothing
    rests on the other side, and nothing trades beyond the burst's price, within
    the windows;
    keeper liquidations, large and one way through several levels: the trades are
    the keeper's Liquidate, not an order of the account;
    market makers whose re-quotes cross the book (skewed for inventory, or over a
    stale quote after the index moved): they quote the burst's side too;
    takers without a view, either side now and then: rarely three levels and 2 bps
    at five times the usual size within a second, and then rarely anything beyond
    the burst's price within three seconds;
    a passive quoter linked to the burst's account (one house, several desks): it
    quotes both sides, so its resting orders are quotes, not a reversal.

Limits: an igniter that bursts with orders that can rest (GTC limit orders through
the book) looks like a quoting market maker and is not judged; an igniter whose
linked account trades out immediately is not seen (only its resting orders count).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from clearhouse.core import (
    OrderAccepted,
    OrderRested,
    PlaceOrder,
    Side,
    TimeInForce,
    TradeExecuted,
)
from clearhouse.surveillance.alerts import Alert, make_alert
from clearhouse.surveillance.links import Links
from clearhouse.surveillance.market import MarketView, Touch
from clearhouse.surveillance.steps import Step

SECOND_NS = 10**9
MS_NS = 10**6
LEVELS_MAX = 64
"""Distinct prices counted per burst: far above any threshold."""
EVIDENCE_MAX = 256
SIZES_KEPT = 63
SIZES_MIN = 15
"""Taking orders seen on an instrument before a burst on it is judged: the median of
fewer says little about its usual order."""
PLACED_MAX = 256
"""Recent resting orders remembered per account and instrument: a quote stuffer's
oldest are forgotten first, and an igniter places a handful."""


@dataclass(frozen=True)
class MomentumIgnitionParams:
    burst_window_ns: int = 1 * SECOND_NS
    burst_orders_min: int = 2
    burst_levels_min: int = 2
    burst_move_min_bps: int = 2
    burst_size_min_pct: int = 500
    reversal_window_ns: int = 10 * SECOND_NS
    follow_window_ns: int = 3 * SECOND_NS
    placed_before_ns: int = 3 * SECOND_NS
    reversal_share_min_pct: int = 25
    quote_window_ns: int = 10 * SECOND_NS


@dataclass(frozen=True)
class Take:
    """What one accepted order did on arrival: how much it took, at which prices,
    what it left resting, and the touch it met."""

    seq: int
    timestamp_ns: int
    order: OrderAccepted
    lots: int
    """Taken as taker."""
    fills: tuple[tuple[int, int], ...]
    """Each fill as taker: (price, lots), in order."""
    rested: int
    """Lots left resting on the book."""
    before: Touch
    """The book's touch before the order."""
    after: Touch
    """The book's touch after it."""

    @property
    def direction(self) -> int:
        return 1 if self.order.side is Side.BUY else -1

    @property
    def levels(self) -> int:
        return len({price for price, _ in self.fills})

    def impact_bps(self) -> int:
        """How far the order moved the price it took from: from the far touch before it
        to its last fill, or to the far touch it left if that lies further (the order's
        limit when it emptied that side up to it), in the order's direction."""
        before = far_touch(self.before, self.order.side)
        if not self.fills or before is None or before <= 0:
            return 0
        direction = self.direction
        reached = self.fills[-1][0]
        left = far_touch(self.after, self.order.side)
        if left is None or (left - self.order.price) * direction > 0:
            left = self.order.price
        if (left - reached) * direction > 0:
            reached = left
        return (reached - before) * direction * 10_000 // before


def take_of(step: Step, market: MarketView) -> Take | None:
    """The order a PlaceOrder step accepted and what it did, or None."""
    if step.rejected is not None or not isinstance(step.payload, PlaceOrder):
        return None
    order: OrderAccepted | None = None
    lots = rested = 0
    fills: list[tuple[int, int]] = []
    for event in step.events:
        if isinstance(event, OrderAccepted):
            if order is None:
                order = event
        elif order is None:
            continue
        elif isinstance(event, TradeExecuted) and event.taker_order_id == order.order_id:
            lots += event.size
            fills.append((event.price, event.size))
        elif isinstance(event, OrderRested) and event.order_id == order.order_id:
            rested = event.remaining
    if order is None:
        return None
    after = market.touch(order.instrument)
    before = market.touch_before.get(order.instrument) or after
    return Take(step.seq, step.timestamp_ns, order, lots, tuple(fills), rested, before, after)


def far_touch(touch: Touch, side: Side) -> int | None:
    """The best price an order of `side` can take: the ask for a buy."""
    return touch.ask if side is Side.BUY else touch.bid


@dataclass
class _Burst:
    account: str
    instrument: str
    side: Side
    start_ns: int
    last_ns: int
    far: int
    """The far touch before the burst: where it began to take."""
    levels: set[int] = field(default_factory=set)
    lots: int = 0
    extreme: int = 0
    """The furthest price it paid."""
    move_bps: int = 0
    orders: list[int] = field(default_factory=list)
    reversal_lots: int = 0
    reversal: list[int] = field(default_factory=list)
    qualified: bool = False
    typical: int = 0
    """The instrument's median taking order when the burst qualified, lots."""
    quoting: bool = False
    """The account quotes the burst's side too: a market maker, not an igniter."""
    alerted: bool = False
    alerted_ns: int = 0

    @property
    def direction(self) -> int:
        return 1 if self.side is Side.BUY else -1

    def beyond_reach(self, price: int) -> bool:
        """A price further than the burst itself paid (followers took it there)."""
        return (price - self.extreme) * self.direction > 0

    def into_move(self, price: int) -> bool:
        """A price on the other side at or beyond where the burst began to take."""
        return (price - self.far) * self.direction >= 0


def _note(seqs: list[int], seq: int) -> None:
    if len(seqs) < EVIDENCE_MAX:
        seqs.append(seq)


class MomentumIgnitionDetector:
    name = "momentum_ignition"

    def __init__(self, params: MomentumIgnitionParams | None = None) -> None:
        self.params = params if params is not None else MomentumIgnitionParams()
        self._bursts: dict[tuple[str, str], _Burst] = {}
        """(account, instrument) -> its latest burst."""
        self._qualified: dict[str, dict[str, _Burst]] = {}
        """instrument -> account -> a qualified burst, for its linked accounts' orders."""
        self._placed: dict[tuple[str, str], deque[Take]] = {}
        """(account, instrument) -> its latest orders that rested (recent ones)."""
        self._quoted: dict[tuple[str, str, Side], int] = {}
        """(account, instrument, side) -> when the account last sent an order there that
        could rest (GTC): a quote, as an igniter's burst orders are immediate."""
        self._sizes: dict[str, deque[int]] = {}
        """instrument -> lots taken by its latest taking orders (`SIZES_KEPT`)."""

    def observe(self, step: Step, market: MarketView, links: Links) -> list[Alert]:
        take = take_of(step, market)
        if take is None:
            return []
        order = take.order
        key = (order.account, order.instrument)
        resting = order.time_in_force is TimeInForce.GTC
        if resting:
            self._quoted[(order.account, order.instrument, order.side)] = take.timestamp_ns
            if take.rested:
                self._remember(take)
        alerts: list[Alert] = []
        burst = self._bursts.get(key)
        reversing = False
        if burst is not None and self._waiting(burst, take.timestamp_ns):
            if order.side is not burst.side:
                reversing = True
                alerts += self._reversal(step, burst, take, own=True)
            elif resting:
                burst.quoting = True  # it quotes the burst's side: a market maker
        if take.lots and not reversing:
            alerts += self._burst(step, market, take)
        if resting:
            alerts += self._linked_reversal(step, take, links)
        if take.lots:
            sizes = self._sizes.get(order.instrument)
            if sizes is None:
                sizes = self._sizes[order.instrument] = deque(maxlen=SIZES_KEPT)
            sizes.append(take.lots)
        return alerts

    def _waiting(self, burst: _Burst, now_ns: int) -> bool:
        """A qualified burst still within its reversal window."""
        return burst.qualified and now_ns - burst.last_ns <= self.params.reversal_window_ns

    def _quoting(self, account: str, instrument: str, side: Side, since_ns: int) -> bool:
        quoted = self._quoted.get((account, instrument, side))
        return quoted is not None and quoted >= since_ns

    # -- the burst -----------------------------------------------------------------------

    def _burst(self, step: Step, market: MarketView, take: Take) -> list[Alert]:
        params = self.params
        order = take.order
        key = (order.account, order.instrument)
        burst = self._bursts.get(key)
        now = take.timestamp_ns
        if (
            burst is None
            or burst.side is not order.side
            or now - burst.start_ns > params.burst_window_ns
        ):
            far = far_touch(take.before, order.side)
            if far is None:
                return []
            previous = burst
            burst = _Burst(order.account, order.instrument, order.side, now, now, far)
            if previous is not None and previous.alerted:
                # A burst soon after an alerted one continues that episode.
                burst.alerted = now - previous.alerted_ns <= params.reversal_window_ns
                burst.alerted_ns = previous.alerted_ns
            self._bursts[key] = burst
        burst.last_ns = now
        burst.lots += take.lots
        _note(burst.orders, step.seq)
        for price, _ in take.fills:
            if (price - burst.extreme) * burst.direction > 0 or not burst.extreme:
                burst.extreme = price
            if len(burst.levels) < LEVELS_MAX:
                burst.levels.add(price)
        burst.move_bps = max(burst.move_bps, take.impact_bps())
        since = burst.start_ns - params.quote_window_ns
        if self._quoting(order.account, order.instrument, order.side, since):
            burst.quoting = True
        if burst.qualified or burst.quoting:
            return []
        if (
            len(burst.orders) < params.burst_orders_min
            or len(burst.levels) < params.burst_levels_min
            or burst.move_bps < params.burst_move_min_bps
        ):
            return []
        typical = self._typical(burst.instrument)
        if typical is None or burst.lots * 100 < params.burst_size_min_pct * typical:
            return []
        burst.typical = typical
        burst.qualified = True
        self._qualified.setdefault(burst.instrument, {})[burst.account] = burst
        self._placed_ahead(burst, market)
        return self._maybe_alert(step, burst)

    def _placed_ahead(self, burst: _Burst, market: MarketView) -> None:
        """Count the account's orders placed just before the burst, on the other side
        in the move's path, still resting."""
        since = burst.start_ns - self.params.placed_before_ns
        for placed in self._placed.get((burst.account, burst.instrument), ()):
            order = placed.order
            if placed.timestamp_ns < since or order.side is burst.side:
                continue
            resting = market.orders.get(order.order_id)
            if resting is not None and resting.remaining and burst.into_move(order.price):
                burst.reversal_lots += resting.remaining
                _note(burst.reversal, placed.seq)

    # -- the reversal --------------------------------------------------------------------

    def _reversal(self, step: Step, burst: _Burst, take: Take, own: bool) -> list[Alert]:
        """An order the other way: resting in the move's path (its whole size), or, the
        account's own, trading at or beyond the burst's average price."""
        order = take.order
        if order.time_in_force is TimeInForce.GTC and burst.into_move(order.price):
            lots = order.size
        elif own and take.timestamp_ns - burst.last_ns <= self.params.follow_window_ns:
            lots = sum(size for price, size in take.fills if burst.beyond_reach(price))
        else:
            lots = 0
        if not lots:
            return []
        burst.reversal_lots += lots
        _note(burst.reversal, step.seq)
        return self._maybe_alert(step, burst)

    def _linked_reversal(self, step: Step, take: Take, links: Links) -> list[Alert]:
        """A resting order of an account linked to a qualified burst's, the other way
        into the move, from an account that was not quoting the burst's side."""
        bursts = self._qualified.get(take.order.instrument)
        if not bursts:
            return []
        account = take.order.account
        for other, burst in list(bursts.items()):
            if not self._waiting(burst, take.timestamp_ns) or burst.alerted or burst.quoting:
                del bursts[other]
            elif (
                other != account
                and burst.side is not take.order.side
                and links.linked(account, other)
                and not self._quoting(
                    account,
                    burst.instrument,
                    burst.side,
                    burst.start_ns - self.params.quote_window_ns,
                )
            ):
                return self._reversal(step, burst, take, own=False)
        return []

    def _maybe_alert(self, step: Step, burst: _Burst) -> list[Alert]:
        params = self.params
        if burst.alerted or burst.quoting or not burst.qualified:
            return []
        if burst.reversal_lots * 100 < params.reversal_share_min_pct * max(1, burst.lots):
            return []
        burst.alerted = True
        burst.alerted_ns = step.timestamp_ns
        share_pct = burst.reversal_lots * 100 // max(1, burst.lots)
        levels = len(burst.levels)
        multiple = burst.lots // max(1, burst.typical)
        score = 40 + min(15, 5 * (levels - params.burst_levels_min))
        score += min(15, multiple - params.burst_size_min_pct // 100)
        score += min(10, 2 * (burst.move_bps - params.burst_move_min_bps))
        score += min(20, share_pct // 5)
        return [
            make_alert(
                self.name,
                step.seq,
                step.timestamp_ns,
                score=score,
                accounts=(burst.account,),
                instruments=(burst.instrument,),
                evidence=[*burst.orders, *burst.reversal],
                summary=(
                    f"{burst.account} took {burst.lots} lots ({multiple}x the usual order)"
                    f" over {levels} levels of {burst.instrument} ({burst.side.value},"
                    f" {burst.move_bps} bps past the touch) in"
                    f" {(burst.last_ns - burst.start_ns) // MS_NS} ms, then put"
                    f" {burst.reversal_lots} lots ({share_pct}%) the other way into the move"
                ),
            )
        ]

    # -- bookkeeping ---------------------------------------------------------------------

    def _typical(self, instrument: str) -> int | None:
        """The median lots of the instrument's latest taking orders (the burst's own
        not among them), or None before `SIZES_MIN` are known."""
        sizes = self._sizes.get(instrument)
        if sizes is None or len(sizes) < SIZES_MIN:
            return None
        return sorted(sizes)[len(sizes) // 2]

    def _remember(self, take: Take) -> None:
        order = take.order
        key = (order.account, order.instrument)
        placed = self._placed.get(key)
        if placed is None:
            placed = self._placed[key] = deque(maxlen=PLACED_MAX)
        since = take.timestamp_ns - self.params.placed_before_ns
        while placed and placed[0].timestamp_ns < since:
            placed.popleft()
        placed.append(take)


DETECTORS = [MomentumIgnitionDetector]
