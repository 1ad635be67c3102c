"""The runtime state of one listed instrument: its book, mark and open interest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clearhouse.core.book import Book
from clearhouse.core.instruments import Instrument, Kind

if TYPE_CHECKING:
    from clearhouse.core.ledger import Account


class Market:
    __slots__ = (
        "book",
        "holders",
        "is_linear",
        "long_open_interest",
        "mark",
        "short_open_interest",
        "spec",
        "tick_value",
        "underlying_per_lot_den",
        "underlying_per_lot_num",
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

    def underlying_value(self, index_price: int) -> int:
        """Settlement units of one lot's underlying at `index_price`, rounded up."""
        return -(-index_price * self.underlying_per_lot_num // self.underlying_per_lot_den)

    def notional(self, price_ticks: int, lots: int) -> int:
        return price_ticks * lots * self.tick_value
