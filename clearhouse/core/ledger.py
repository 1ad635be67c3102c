"""Accounts, positions, the markets they are held in, and the arithmetic of a fill.

`Market`, `Position` and `Account` point at each other (a market lists its holders,
a position names its market, an account holds its positions), so they are defined
here together and this module depends on none of their users: the arrows between
core modules point one way. `market.py` gives `Market` its usual import path.

A position keeps its signed size `qty` (lots, long positive) and its signed cost
basis `cost` (ticks x lots: the sum of price x size over the lots still open), so
the average entry price is `cost / qty` exactly, never rounded into state. Reducing
a position releases the matching share of the cost basis and realizes the
difference as P&L.

Cash moves differently by kind:
- perpetuals and futures: only realized P&L and fees move cash; open P&L lives in
  `cost` until the position is reduced;
- options: the premium is paid and received in cash at the fill, and `cost` only
  records the average premium for reporting.

So collateral is conserved as: the sum of cash, minus the cost bases of all
linear positions valued at their tick value, plus fees and insurance, equals
deposits minus withdrawals (equivalently: cash plus unrealized P&L at any common
mark, because long and short open interest are equal).
"""

from __future__ import annotations

from collections import deque
from typing import Final

from clearhouse.core.book import Book, Order
from clearhouse.core.events import HaltReason
from clearhouse.core.instruments import Instrument, Kind
from clearhouse.core.txs import MarginMode


class Market:
    """The runtime state of one listed instrument: its book, mark and open interest."""

    __slots__ = (
        "basis",
        "book",
        "delta_ppm",
        "funding_last_ns",
        "halt_reason",
        "holders",
        "is_linear",
        "long_open_interest",
        "mark",
        "premium",
        "premium_since_ns",
        "premium_sum",
        "risk_array",
        "settled",
        "settlement_price",
        "short_open_interest",
        "spec",
        "tick_value",
        "underlying_per_lot_den",
        "underlying_per_lot_num",
        "vol_ppm",
    )

    def __init__(self, spec: Instrument) -> None:
        self.spec = spec
        self.tick_value = spec.tick_value
        self.is_linear = spec.kind is not Kind.OPTION
        self.book = Book(spec.id)
        self.mark = 0
        """Mark price in ticks; 0 until the oracle has priced the instrument."""
        self.long_open_interest = 0
        self.short_open_interest = 0
        self.holders: dict[str, Account] = {}
        """Accounts with a non-zero position, in the order they first took one."""
        self.underlying_per_lot_num = spec.contract_size * spec.lot_size
        self.underlying_per_lot_den: int = 10**spec.underlying_decimals
        self.halt_reason: HaltReason | None = None
        """Why trading is halted; None while the market trades."""
        self.basis = 0
        """Futures and options: the expiry's forward less the index, settlement units."""
        self.vol_ppm = 0
        """Options: the smile's volatility at the strike, parts per million."""
        self.delta_ppm = 1_000_000 if self.is_linear else 0
        """Underlying per lot's underlying, in parts per million (options: Black-76 delta)."""
        self.premium = 0
        """Perpetuals: mark less index, ticks (the book's premium, capped)."""
        self.premium_sum = 0
        """Perpetuals: premium x nanoseconds since the last funding (time-weighted)."""
        self.premium_since_ns = 0
        self.funding_last_ns = 0
        """Perpetuals: sequencer time funding was last paid to (0: never)."""
        self.settled = False
        self.settlement_price = 0
        """Settlement units per whole underlying, once settled."""
        self.risk_array: list[int] = []
        """Portfolio margin: P&L of one long lot under each scenario, settlement units,
        then its two floors (clearhouse.core.risk_arrays); empty until computed."""

    @property
    def halted(self) -> bool:
        return self.halt_reason is not None

    def underlying_value(self, index_price: int) -> int:
        """Settlement units of one lot's underlying at `index_price`, rounded up."""
        return -(-index_price * self.underlying_per_lot_num // self.underlying_per_lot_den)

    def notional(self, price_ticks: int, lots: int) -> int:
        return price_ticks * lots * self.tick_value


class Position:
    """An account's holding in one instrument, with its open orders aggregated.

    `open_buy`/`open_sell` are the lots of live orders on each side, and
    `buy_levels`/`sell_levels` map each price (ticks) the account rests at to its
    lots there. Margin needs the loss those orders would take if they filled on the
    wrong side of the mark (buys above it, sells below it): `adverse_buy` and
    `adverse_sell` hold it for the mark `adverse_mark`, kept exact by every change
    of the open orders and recomputed only when the mark has moved, so an order
    costs O(1) and a mark change O(the account's price levels) once. Most marks
    move with every buy still below and every sell still above them: `buy_high`
    and `sell_low` bound the prices so that such a move skips the levels.
    """

    __slots__ = (
        "adverse_buy",
        "adverse_mark",
        "adverse_sell",
        "buy_high",
        "buy_levels",
        "cost",
        "market",
        "open_buy",
        "open_sell",
        "qty",
        "sell_levels",
        "sell_low",
    )

    def __init__(self, market: Market) -> None:
        self.market = market
        self.qty = 0
        self.cost = 0
        self.open_buy = 0
        self.open_sell = 0
        self.buy_levels: dict[int, int] = {}
        self.sell_levels: dict[int, int] = {}
        self.adverse_mark = market.mark
        self.adverse_buy = 0
        self.adverse_sell = 0
        self.buy_high = 0
        """No price in buy_levels is above it (0: buy_levels is empty)."""
        self.sell_low = 0
        """No price in sell_levels is below it (0: sell_levels is empty). Both bounds
        widen as orders are added and are made tight again by each pass over levels."""

    def is_empty(self) -> bool:
        return self.qty == 0 and self.open_buy == 0 and self.open_sell == 0

    def add_open(self, is_buy: bool, price: int, size: int) -> None:
        """Add `size` lots (negative: remove) of open orders at `price` ticks."""
        mark = self.adverse_mark
        if is_buy:
            self.open_buy += size
            levels = self.buy_levels
            if price > mark:
                self.adverse_buy += (price - mark) * size
            self.buy_high = price if price > self.buy_high else self.buy_high
        else:
            self.open_sell += size
            levels = self.sell_levels
            if price < mark:
                self.adverse_sell += (mark - price) * size
            if price < self.sell_low or not self.sell_low:
                self.sell_low = price
        lots = levels.get(price, 0) + size
        if lots:
            levels[price] = lots
        else:
            del levels[price]

    def adverse_at(self, mark: int) -> int:
        """The larger of the buy-side and sell-side loss of filling open orders at `mark`."""
        if mark != self.adverse_mark:
            self.adverse_buy = self._adverse_buys(mark) if self.buy_high > mark else 0
            self.adverse_sell = self._adverse_sells(mark) if 0 < self.sell_low < mark else 0
            self.adverse_mark = mark
        return self.adverse_buy if self.adverse_buy > self.adverse_sell else self.adverse_sell

    # Plain loops and comparisons rather than sum() over a generator and max(): compiled,
    # they stay native.

    def _adverse_buys(self, mark: int) -> int:
        """The loss of filling every buy above `mark` at `mark`; tightens `buy_high`."""
        adverse = 0
        high = 0
        for price, lots in self.buy_levels.items():
            if price > mark:
                adverse += (price - mark) * lots
            high = price if price > high else high
        self.buy_high = high
        return adverse

    def _adverse_sells(self, mark: int) -> int:
        """The loss of filling every sell below `mark` at `mark`; tightens `sell_low`."""
        adverse = 0
        low = 0
        for price, lots in self.sell_levels.items():
            if price < mark:
                adverse += (mark - price) * lots
            if price < low or not low:
                low = price
        self.sell_low = low
        return adverse


KILL_SWITCH_OFF: Final = 0
KILL_SWITCH_OWNER: Final = 1
KILL_SWITCH_RISK_OFFICER: Final = 2


class MMPState:
    """Market maker protection on one index: limits, and the maker fills in the window."""

    __slots__ = ("delta", "delta_max", "fills", "quantity", "quantity_max", "tripped", "window_ns")

    def __init__(self, window_ns: int, quantity_max: int, delta_max: int) -> None:
        self.window_ns = window_ns
        self.quantity_max = quantity_max
        self.delta_max = delta_max
        self.fills: deque[tuple[int, int, int]] = deque()
        """(timestamp, lots, signed delta) of each maker fill still in the window."""
        self.quantity = 0
        self.delta = 0
        self.tripped = False


class Account:
    __slots__ = (
        "cash",
        "client_order_ids",
        "id",
        "in_margin_call",
        "kill_switch",
        "margin_mode",
        "mmp",
        "open_orders",
        "pending_withdrawals",
        "positions",
        "risk_vectors",
    )

    def __init__(self, account_id: str) -> None:
        self.id = account_id
        self.cash = 0
        self.positions: dict[str, Position] = {}
        self.open_orders: dict[int, Order] = {}
        self.client_order_ids: dict[str, int] = {}
        self.in_margin_call = False
        self.pending_withdrawals = 0
        """Large withdrawals this account has requested and governance has not settled."""
        self.kill_switch = KILL_SWITCH_OFF
        self.margin_mode = MarginMode.STANDARD
        self.mmp: dict[str, MMPState] = {}
        """Market maker protection by index, in the order it was set."""
        self.risk_vectors: dict[str, list[int]] = {}
        """Portfolio margin: per index, the sum over positions of qty x risk array."""

    def position(self, market: Market) -> Position:
        position = self.positions.get(market.spec.id)
        if position is None:
            position = Position(market)
            self.positions[market.spec.id] = position
        return position


def fill_position(position: Position, signed_size: int, price: int) -> int:
    """Apply a fill of `signed_size` lots (buy positive) at `price` ticks.

    Returns the realized P&L in ticks x lots. The cost basis released by a partial
    reduction is rounded towards minus infinity; whatever the rounding, the sum of
    cash and cost basis moves by exactly -signed_size x price, which is what keeps
    collateral conserved between the two sides of a trade.
    """
    qty = position.qty
    if qty == 0 or (qty > 0) == (signed_size > 0):
        position.qty = qty + signed_size
        position.cost += signed_size * price
        return 0
    closing = min(abs(signed_size), abs(qty))
    released = position.cost if closing == abs(qty) else position.cost * closing // abs(qty)
    direction = 1 if qty > 0 else -1
    realized = direction * closing * price - released
    opening = signed_size + direction * closing
    position.qty = qty - direction * closing + opening
    position.cost = position.cost - released + opening * price
    return realized
