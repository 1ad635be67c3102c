"""Amounts and prices as people read them: one pure formatter for the core and the shell.

The core counts collateral in the settlement asset's smallest unit and the wire
carries prices in those units per whole unit of underlying (`numbers.py`). People
read neither: `format_units(11_000_000_000, 6)` is "11,000.00", and
`format_amount(11_000_000_000, 6, "USDC")` is "11,000.00 USDC".

A figure keeps two decimals (cents), and more only when its smallest units need
them, so nothing is ever rounded away: `format_units(1_234_567, 6)` is "1.234567".
Only integers and strings are used, so a rejection message that quotes an amount is
the same on every machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from clearhouse.core.instruments import Instrument

DECIMALS_SHOWN_MIN: Final = 2
"""Decimals always shown (cents), when the asset has that many."""


def format_units(units: int, decimals: int) -> str:
    """`units` of an asset with `decimals` decimals, e.g. "-1,250.50", never rounded."""
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole:,}"
    digits = f"{fraction:0{decimals}d}".rstrip("0")
    shown = min(decimals, DECIMALS_SHOWN_MIN)
    if len(digits) < shown:
        digits += "0" * (shown - len(digits))
    return f"{sign}{whole:,}.{digits}"


def format_amount(units: int, decimals: int, asset: str) -> str:
    """An amount of collateral with its asset, e.g. "11,000.00 USDC"."""
    return f"{format_units(units, decimals)} {asset}"


def format_price(units: int, spec: Instrument) -> str:
    """A price of `spec` (settlement units per whole underlying) in its quote currency,
    e.g. "100,000.00"."""
    return format_units(units, spec.settlement_decimals)


def format_collateral(units: int, spec: Instrument) -> str:
    """An amount of the asset `spec` settles in, e.g. "11,000.00 USDC"."""
    return format_amount(units, spec.settlement_decimals, spec.settlement_asset)


def settlement_decimals(instruments: Iterable[Instrument], asset: str) -> int | None:
    """The decimals of `asset` as the instruments that settle in it state them; None
    if none does."""
    for spec in instruments:
        if spec.settlement_asset == asset:
            return spec.settlement_decimals
    return None


def format_settlement(units: int, instruments: Iterable[Instrument], asset: str) -> str:
    """An amount of the settlement asset `asset`, by the decimals the listed
    `instruments` state for it: "11,000.00 USDC"; before any instrument states them,
    its smallest units: "11,000,000,000 minor units of USDC"."""
    decimals = settlement_decimals(instruments, asset)
    if decimals is None:
        return f"{units:,} minor units of {asset}"
    return format_amount(units, decimals, asset)


NS_PER_S: Final = 1_000_000_000


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of the proleptic Gregorian date `days` after 1970-01-01;
    integer-only, the inverse of `catalogue.days_from_civil`."""
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1_460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    return year_of_era + era * 400 + (month <= 2), month, day


def format_time(ns: int) -> str:
    """A sequencer time (ns since the Unix epoch) in UTC, e.g.
    "2026-12-25 08:00:00.000000 UTC"; microseconds shown, never rounded up."""
    seconds, rest = divmod(ns, NS_PER_S)
    days, second_of_day = divmod(seconds, 86_400)
    year, month, day = civil_from_days(days)
    hour, minute_and_second = divmod(second_of_day, 3_600)
    minute, second = divmod(minute_and_second, 60)
    return (
        f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
        f".{rest // 1_000:06d} UTC"
    )


def format_duration(ns: int) -> str:
    """A span of sequencer time in seconds, e.g. "61.5 s" (to the microsecond)."""
    if 0 < abs(ns) < 1_000:
        return f"{ns} ns"
    sign = "-" if ns < 0 else ""
    seconds, rest = divmod(abs(ns), NS_PER_S)
    micros = f"{rest // 1_000:06d}".rstrip("0")
    return f"{sign}{seconds:,}{'.' + micros if micros else ''} s"
