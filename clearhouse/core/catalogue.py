"""The default catalogue shipped with the package.

Two indices (BTC-USD, ETH-USD), each with one perpetual swap, two quarterly futures
and a European option chain (two expiries, five strikes, calls and puts), all
settled in USDC counted in micro-dollars. Expiries are at 08:00 UTC, named the way
traders read them (`BTC-25DEC26`, `BTC-25DEC26-100000-C`).
"""

from __future__ import annotations

from typing import Final, NamedTuple

from clearhouse.core.instruments import Instrument, Kind, OptionType, validate_spec

USDC: Final = "USDC"
USDC_DECIMALS: Final = 6
NS_PER_DAY: Final = 86_400 * 10**9
_MONTHS: Final = (
    "JAN",
    "FEB",
    "MAR",
    "APR",
    "MAY",
    "JUN",
    "JUL",
    "AUG",
    "SEP",
    "OCT",
    "NOV",
    "DEC",
)


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (integer-only, no clock)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def expiry_ns(year: int, month: int, day: int, hour: int = 8) -> int:
    return days_from_civil(year, month, day) * NS_PER_DAY + hour * 3_600 * 10**9


def expiry_code(year: int, month: int, day: int) -> str:
    return f"{day}{_MONTHS[month - 1]}{year % 100:02d}"


class _Underlying(NamedTuple):
    symbol: str
    decimals: int
    linear_tick: int
    linear_contract: int
    option_tick: int
    option_contract: int
    strikes: tuple[int, ...]


_UNDERLYINGS: Final = (
    _Underlying(
        "BTC",
        8,
        500_000,
        100_000,
        5_000_000,
        1_000_000,
        (90_000, 95_000, 100_000, 105_000, 110_000),
    ),
    _Underlying("ETH", 18, 50_000, 10**16, 500_000, 10**17, (3_000, 3_250, 3_500, 3_750, 4_000)),
)
_FUTURE_EXPIRIES: Final = ((2026, 12, 25), (2027, 3, 26))
_OPTION_EXPIRIES: Final = ((2026, 12, 25), (2027, 3, 26))


def default_catalogue() -> tuple[Instrument, ...]:
    specs: list[Instrument] = []
    for u in _UNDERLYINGS:
        index = f"{u.symbol}-USD"
        linear = dict(
            index=index,
            settlement_asset=USDC,
            settlement_decimals=USDC_DECIMALS,
            underlying_decimals=u.decimals,
            tick_size=u.linear_tick,
            contract_size=u.linear_contract,
            lot_size=1,
        )
        specs.append(Instrument(id=f"{u.symbol}-PERP", kind=Kind.PERPETUAL, **linear))  # type: ignore[arg-type]
        for year, month, day in _FUTURE_EXPIRIES:
            specs.append(
                Instrument(
                    id=f"{u.symbol}-{expiry_code(year, month, day)}",
                    kind=Kind.FUTURE,
                    expiry_ns=expiry_ns(year, month, day),
                    **linear,  # type: ignore[arg-type]
                )
            )
        for year, month, day in _OPTION_EXPIRIES:
            for strike in u.strikes:
                for option_type in (OptionType.CALL, OptionType.PUT):
                    specs.append(
                        Instrument(
                            id=f"{u.symbol}-{expiry_code(year, month, day)}-{strike}-"
                            f"{'C' if option_type is OptionType.CALL else 'P'}",
                            kind=Kind.OPTION,
                            index=index,
                            settlement_asset=USDC,
                            settlement_decimals=USDC_DECIMALS,
                            underlying_decimals=u.decimals,
                            tick_size=u.option_tick,
                            contract_size=u.option_contract,
                            lot_size=1,
                            expiry_ns=expiry_ns(year, month, day),
                            strike=strike * 10**USDC_DECIMALS,
                            option_type=option_type,
                            maker_fee_bps=0,
                            taker_fee_bps=3,
                        )
                    )
    return tuple(validate_spec(spec) for spec in specs)
