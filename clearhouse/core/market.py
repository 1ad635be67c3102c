"""The runtime state of one listed instrument: its book, mark and open interest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clearhouse.core.book import Book
from clearhouse.core.events import HaltReason
from clearhouse.core.instruments import Instrument, Kind

if TYPE_CHECKING:
    from clearhouse.core.ledger import Account


class Market:
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
