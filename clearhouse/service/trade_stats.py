"""Each instrument's last trade and its last 24 hours of trading, for tickers.

Trades are kept as one-minute bars (open, high, low, close, volume) in sequencer
time, at most a day of them per instrument, so the memory stays bounded however
busy the venue; a day's figures are read over the bars that end within the last
24 hours, so the window is exact to the minute. Folded from the record when the
venue starts and then from every commit.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from clearhouse.core import Event, TradeExecuted

BAR_NS = 60 * 10**9
DAY_NS = 24 * 3600 * 10**9


@dataclass
class _Bar:
    start_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(frozen=True)
class DayStats:
    """An instrument's trading over the last 24 hours: prices in quote units,
    volume in lots."""

    high: int
    low: int
    first: int
    last: int
    volume: int


class TradeStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bars: dict[str, deque[_Bar]] = {}
        self.last_price: dict[str, int] = {}

    def fold(self, seq: int, stamp_ns: int, events: list[Event]) -> None:
        """One journaled transaction's events (`seq` unused: bars are by time)."""
        for event in events:
            if isinstance(event, TradeExecuted):
                self._trade(event.instrument, stamp_ns, event.price, event.size)

    def _trade(self, instrument: str, stamp_ns: int, price: int, size: int) -> None:
        start = stamp_ns - stamp_ns % BAR_NS
        with self._lock:
            self.last_price[instrument] = price
            bars = self._bars.setdefault(instrument, deque(maxlen=DAY_NS // BAR_NS + 1))
            bar = bars[-1] if bars else None
            if bar is None or bar.start_ns != start:
                bars.append(_Bar(start, price, price, price, price, size))
                return
            bar.high, bar.low = max(bar.high, price), min(bar.low, price)
            bar.close = price
            bar.volume += size

    def day(self, instrument: str, now_ns: int) -> DayStats | None:
        """The last 24 hours before `now_ns`, or None if nothing traded in them."""
        with self._lock:
            bars = [
                b for b in self._bars.get(instrument, ()) if b.start_ns + BAR_NS > now_ns - DAY_NS
            ]
            if not bars:
                return None
            return DayStats(
                high=max(b.high for b in bars),
                low=min(b.low for b in bars),
                first=bars[0].open,
                last=bars[-1].close,
                volume=sum(b.volume for b in bars),
            )
