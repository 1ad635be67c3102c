"""Notes on each account's resting orders that the market view does not keep, for the
order-book detectors (spoofing, layering).

Per resting order: how far behind the best price of the *others'* orders on its
side it was placed (or last re-priced), in ticks, the distance its trader chose
from the touch the rest of the market makes (a ladder re-priced one order at a
time is not measured against itself); how many times it was re-priced, counting a
cancel-and-replace (a new order on the side an order of the account left within
`replace_gap_ns`) as a re-pricing of one lineage; and the sequence numbers of its
placement and last re-pricings.

Per account, instrument and side (a `Key`): the open orders in placement order,
the lots resting at each price, and over the last `history_ns` its re-pricings and
what it showed (its resting lots) after each change.

The notes of one market view are shared (`notes_for`): every detector that reads
them folds the step into them, and only the first call for a step does the work.

Everything is folded from the step's events, O(events) but for the rare placement
at a price level only the account's own orders make (then O(levels)); windows are
pruned as they grow and every list has a cap (`SEQS_MAX`, `CANCELS_MAX`,
`REPRICINGS_MAX`, `HISTORY_MAX`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

from clearhouse.core import (
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    Side,
    TradeExecuted,
)
from clearhouse.core.events import CancelReason
from clearhouse.surveillance.market import MarketView, RestingOrder
from clearhouse.surveillance.steps import Step

REPLACE_GAP_NS = 50 * 10**6
"""A new order on the side an order of the account was cancelled from within 50 ms
replaces it: an algorithm's cancel/replace is one message pair, microseconds apart."""
HISTORY_NS = 30 * 10**9
"""How far back re-pricings and what each side showed are kept: longer than any
detector looks."""
SEQS_MAX = 16
"""Sequence numbers kept per order: its placement and its last re-pricings."""
CANCELS_MAX = 64
REPRICINGS_MAX = 1024
"""Re-pricings kept per side: far above any rate a detector asks about."""
HISTORY_MAX = 4096


def own_cancel(reason: CancelReason) -> bool:
    """Whether the account caused the cancel: asked for it (one by one or all at once),
    or armed the market maker protection that pulled it (a spoofer could let MMP pull
    its orders on the fill). Compared by identity: enum members hash slowly."""
    return (
        reason is CancelReason.REQUESTED
        or reason is CancelReason.CANCEL_ALL
        or reason is CancelReason.MMP
    )


Key = tuple[str, str, bool]
"""(account, instrument, whether the buy side): a bool, as enum members hash slowly."""


def key_of(account: str, instrument: str, side: Side) -> Key:
    return (account, instrument, side is Side.BUY)


def opposite(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


@dataclass(slots=True)
class OrderNote:
    order_id: int
    key: Key
    price: int
    placed_ticks: int | None = None
    """Ticks behind the others' best price on its side when placed or last re-priced
    (0: at or better than it); None when the others had no order on that side."""
    repricings: int = 0
    """Re-pricings of the order and of the orders it replaced."""
    seqs: list[int] = field(default_factory=list)
    """Its placement and (the last few) re-pricings."""
    resting: int = 0
    """Lots resting now, as the events tell them."""
    cancelled_lots: int | None = None
    """Lots it still had when cancelled, if the current step cancelled it."""

    def lots(self, order: RestingOrder) -> int:
        """Lots resting before the current step's cancels (the market view has them at
        zero once cancelled)."""
        return order.remaining if self.cancelled_lots is None else self.cancelled_lots


class OrderNotes:
    def __init__(self, replace_gap_ns: int = REPLACE_GAP_NS, history_ns: int = HISTORY_NS) -> None:
        self.replace_gap_ns = replace_gap_ns
        self.history_ns = history_ns
        self.seq = 0
        """The last step folded."""
        self.notes: dict[int, OrderNote] = {}
        self._open: dict[Key, dict[int, None]] = {}
        self._own_levels: dict[Key, dict[int, int]] = {}
        """Price -> the account's lots resting there."""
        self._cancels: dict[Key, deque[tuple[int, OrderNote]]] = {}
        self._repricings: dict[Key, deque[tuple[int, int]]] = {}
        self._shown: dict[Key, int] = {}
        """Lots resting on each side now."""
        self._shown_history: dict[Key, deque[tuple[int, int, int]]] = {}
        """(seq, ns, lots) after each step that changed the side, over `history_ns` and
        one entry before it (what the side showed when the window opened)."""
        self._changed: dict[Key, None] = {}
        self._finished: list[RestingOrder] = []
        self._done_by_id: dict[int, RestingOrder] | None = None
        self._maker_fills: dict[int, int] = {}
        """Resting order id -> lots the current step filled."""

    # -- reads -------------------------------------------------------------------------

    def open_orders(
        self, market: MarketView, key: Key, *, finishing: bool = True
    ) -> list[tuple[RestingOrder, OrderNote]]:
        """The account's resting orders on one side, oldest first, with their notes; with
        `finishing`, those the current step filled or cancelled too."""
        found: list[tuple[RestingOrder, OrderNote]] = []
        for order_id in self._open.get(key, ()):
            note = self.notes[order_id]
            order = market.orders.get(order_id)
            if order is None and finishing:
                order = self.finished(market, order_id)
            if order is not None:
                found.append((order, note))
        return found

    def order(self, market: MarketView, order_id: int) -> RestingOrder | None:
        """An order resting after the current step or finished by it (a taker's)."""
        order = market.orders.get(order_id)
        return order if order is not None else self.finished(market, order_id)

    def finished(self, market: MarketView, order_id: int) -> RestingOrder | None:
        if self._done_by_id is None:
            self._done_by_id = {order.order_id: order for order in market.done}
        return self._done_by_id.get(order_id)

    def shown(self, step: Step, key: Key, since_ns: int, taker: RestingOrder | None) -> int:
        """The most lots the account showed on one side from `since_ns` until the current
        step came in, or what it showed then with the step's incoming order (`taker`)
        added, whichever is more."""
        before: int | None = None
        most = 0
        for seq, ns, lots in reversed(self._shown_history.get(key, ())):
            if seq >= step.seq:
                continue
            if before is None:
                before = lots
            most = max(most, lots)
            if ns < since_ns:
                break
        return max(most, (before or 0) + (taker.size if taker is not None else 0))

    def recent_repricings(self, key: Key, now_ns: int, window_ns: int) -> list[int]:
        """Sequence numbers of the side's re-pricings in the last `window_ns` (at most
        `history_ns`)."""
        window = self._repricings.get(key)
        if window is None:
            return []
        start_ns = now_ns - window_ns
        found: list[int] = []
        for ns, seq in reversed(window):
            if ns < start_ns:
                break
            found.append(seq)
        found.reverse()
        return found

    # -- folding a step ----------------------------------------------------------------

    def apply(self, step: Step, market: MarketView) -> None:
        """Fold a step's order events; after the market view folded the same step, and
        once (a second call for the same step does nothing). The orders the step
        finishes stay readable (`open_orders`) until the next step."""
        if step.seq <= self.seq:
            return
        self.seq = step.seq
        for order in self._finished:
            self._close(order)
        self._finished = market.done
        self._done_by_id = None
        self._maker_fills = {}
        for event in step.events:
            if isinstance(event, OrderAccepted):
                self._accepted(step, market, event)
            elif isinstance(event, OrderCancelled):
                self._cancelled(step, event)
            elif isinstance(event, TradeExecuted):
                fills = self._maker_fills
                fills[event.maker_order_id] = fills.get(event.maker_order_id, 0) + event.size
                self._rest(self.notes.get(event.maker_order_id), -event.size)
            elif isinstance(event, OrderAmended):
                self._amended(step, market, event)
            elif isinstance(event, OrderReduced):
                note = self.notes.get(event.order_id)
                if note is not None:
                    self._rest(note, event.remaining - note.resting)
        if self._changed:
            self._record_shown(step)

    def _accepted(self, step: Step, market: MarketView, event: OrderAccepted) -> None:
        order = market.orders.get(event.order_id)
        if order is None:  # filled or cancelled on arrival: never rested
            return
        key = key_of(order.account, order.instrument, order.side)
        note = OrderNote(event.order_id, key, order.price, seqs=[step.seq])
        self.notes[event.order_id] = note
        self._open.setdefault(key, {})[event.order_id] = None
        self._rest(note, order.remaining)
        note.placed_ticks = self._ticks(market, order, key)
        cancels = self._cancels.get(key)
        if cancels:
            while cancels and cancels[0][0] < step.timestamp_ns - self.replace_gap_ns:
                cancels.popleft()
            if cancels:
                note.repricings = cancels.popleft()[1].repricings + 1
                self._repriced(key, step)

    def _amended(self, step: Step, market: MarketView, event: OrderAmended) -> None:
        note = self.notes.get(event.order_id)
        order = market.orders.get(event.order_id)
        if note is None or order is None:
            return
        if event.price != note.price:
            self._rest(note, -note.resting)
            note.price = event.price
            self._rest(note, event.remaining)
            note.placed_ticks = self._ticks(market, order, note.key)
        else:
            self._rest(note, event.remaining - note.resting)
        note.repricings += 1
        note.seqs.append(step.seq)
        if len(note.seqs) > SEQS_MAX:
            del note.seqs[1]  # keep the placement
        self._repriced(note.key, step)

    def _cancelled(self, step: Step, event: OrderCancelled) -> None:
        note = self.notes.get(event.order_id)
        if note is None:
            return
        note.cancelled_lots = event.remaining
        self._rest(note, -note.resting)
        if own_cancel(event.reason):
            cancels = self._cancels.get(note.key)
            if cancels is None:
                cancels = self._cancels[note.key] = deque(maxlen=CANCELS_MAX)
            cancels.append((step.timestamp_ns, note))

    def _rest(self, note: OrderNote | None, lots: int) -> None:
        """`lots` more (or fewer) resting for the order of `note`, at its price."""
        if note is None or not lots:
            return
        key = note.key
        note.resting += lots
        self._shown[key] = self._shown.get(key, 0) + lots
        self._changed[key] = None
        levels = self._own_levels.get(key)
        if levels is None:
            levels = self._own_levels[key] = {}
        left = levels.get(note.price, 0) + lots
        if left:
            levels[note.price] = left
        else:
            del levels[note.price]

    def _record_shown(self, step: Step) -> None:
        horizon_ns = step.timestamp_ns - self.history_ns
        for key in self._changed:
            history = self._shown_history.get(key)
            if history is None:
                history = self._shown_history[key] = deque(maxlen=HISTORY_MAX)
            history.append((step.seq, step.timestamp_ns, self._shown[key]))
            while len(history) > 1 and history[1][1] < horizon_ns:
                history.popleft()
        self._changed = {}

    def _close(self, order: RestingOrder) -> None:
        note = self.notes.pop(order.order_id, None)
        if note is not None:
            self._open[note.key].pop(order.order_id, None)

    def _repriced(self, key: Key, step: Step) -> None:
        window = self._repricings.get(key)
        if window is None:
            window = self._repricings[key] = deque(maxlen=REPRICINGS_MAX)
        window.append((step.timestamp_ns, step.seq))
        while window[0][0] < step.timestamp_ns - self.history_ns:
            window.popleft()

    def _ticks(self, market: MarketView, order: RestingOrder, key: Key) -> int | None:
        """Ticks behind the best price of the others' orders on the order's side."""
        book = market.books.get(order.instrument)
        if book is None:
            return None
        buy = key[2]
        levels = book.level(order.side)
        if not levels:
            return None
        own = self._own_levels.get(key, {})
        best = max(levels) if buy else min(levels)
        if levels[best] <= own.get(best, 0):  # the touch is the account's own: look past it
            others = [price for price, lots in levels.items() if lots > own.get(price, 0)]
            if not others:
                return None
            best = max(others) if buy else min(others)
        behind = best - order.price if buy else order.price - best
        return max(0, behind // market.specs[order.instrument].tick_size)


_SHARED: WeakKeyDictionary[MarketView, OrderNotes] = WeakKeyDictionary()


def notes_for(market: MarketView) -> OrderNotes:
    """The notes kept beside one market view, shared by the detectors that read it."""
    notes = _SHARED.get(market)
    if notes is None:
        notes = _SHARED[market] = OrderNotes()
    return notes
