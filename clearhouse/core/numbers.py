"""Integer quantities of the core and the bounds every one of them lives within.

The core never holds a float. Collateral is counted in the settlement asset's
smallest unit (`Units`), prices in ticks of an instrument (`Ticks`), sizes in lots
(`Lots`). The wire carries prices in `Units` per whole unit of underlying; the
engine checks them against the tick grid and divides them into ticks at the edge.

Every quantity has a bound well inside a signed 64-bit integer, so that any sum the
engine forms of a bounded number of them stays exact and encodable, and a value
beyond its bound is a rejection, never silent growth.
"""

from __future__ import annotations

from typing import Final, NewType

Units = NewType("Units", int)
"""Collateral in the settlement asset's smallest unit (USDC: 10**-6 USD)."""

Ticks = NewType("Ticks", int)
"""A price as a whole number of an instrument's ticks."""

Lots = NewType("Lots", int)
"""A size as a whole number of an instrument's lots."""

INT64_MAX: Final = 2**63 - 1

amount_max_units: Final = 10**15
"""Largest single deposit, withdrawal or transfer: a billion USD in micro-units."""

balance_max_units: Final = 10**17
"""Largest balance an account may hold; a credit beyond it is refused."""

price_max_units: Final = 10**13
"""Largest price on the wire: ten million USD per unit of underlying."""

size_max_lots: Final = 10**9
"""Largest order size any instrument may allow."""

position_max_lots: Final = 10**10
"""Largest position any account may hold in one instrument."""

counter_max: Final = 2**62
"""Bound on engine counters (sequence numbers, order ids)."""


def ceil_div(numerator: int, denominator: int) -> int:
    """Division rounded towards positive infinity, for amounts owed to the venue."""
    return -(-numerator // denominator)


def bps_of_ceil(amount: int, bps: int) -> int:
    """`amount * bps / 10_000` rounded up: margin and fees charged never round down."""
    return -(-amount * bps // 10_000)


def bps_of_floor(amount: int, bps: int) -> int:
    """`amount * bps / 10_000` rounded down: rebates paid never round up."""
    return amount * bps // 10_000
