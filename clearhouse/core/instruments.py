"""Instrument specifications: perpetual swaps, dated futures, European options.

Every instrument is quoted in its settlement asset (a USD stablecoin counted in
integer minor units) per whole unit of its underlying index, and sized in lots:

- `tick_size`: the price step, in settlement units per whole unit of underlying;
- `contract_size`: the contract multiplier, in atomic units of the underlying
  (satoshi, wei-gwei) per contract;
- `lot_size`: contracts per lot, the smallest tradable increment.

From these the spec derives `tick_value`, the settlement units one lot gains or
loses when the price moves one tick. It must be a whole number: a spec whose
parameters would need rounding is refused at construction, so every notional,
P&L and fee in the engine is an exact integer product.
"""

from __future__ import annotations

from enum import Enum
from typing import Final

import msgspec

from clearhouse.core.numbers import (
    INT64_MAX,
    position_max_lots,
    price_max_units,
    size_max_lots,
)


class Kind(Enum):
    PERPETUAL = "perpetual"
    FUTURE = "future"
    OPTION = "option"


class OptionType(Enum):
    CALL = "call"
    PUT = "put"


class InstrumentSpecError(ValueError):
    """A specification that cannot be listed; raised only outside the hot path."""


class Instrument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    kind: Kind
    index: str
    settlement_asset: str
    settlement_decimals: int
    underlying_decimals: int
    tick_size: int
    contract_size: int
    lot_size: int
    expiry_ns: int = 0
    strike: int = 0
    option_type: OptionType | None = None
    maker_fee_bps: int = 0
    taker_fee_bps: int = 5
    initial_margin_bps: int = 1_000
    maintenance_margin_bps: int = 500
    short_option_margin_bps: int = 1_500
    short_option_floor_bps: int = 1_000
    short_option_maintenance_bps: int = 750
    market_collar_bps: int = 500
    price_band_bps: int = 1_000
    """A limit price may lie at most this far from the mark: a fraction of the mark for
    perpetuals and futures, of the index price for options."""
    order_size_max_lots: int = 1_000_000
    position_max_lots: int = 100_000_000

    @property
    def tick_value(self) -> int:
        """Settlement units gained by one lot when the price rises one tick."""
        return tick_value_of(self)

    @property
    def is_option(self) -> bool:
        return self.kind is Kind.OPTION

    @property
    def strike_ticks(self) -> int:
        return self.strike // self.tick_size


def tick_value_of(spec: Instrument) -> int:
    numerator = spec.tick_size * spec.contract_size * spec.lot_size
    denominator: int = 10**spec.underlying_decimals
    if numerator % denominator:
        raise InstrumentSpecError(
            f"{spec.id}: tick_size*contract_size*lot_size must be a whole multiple of "
            f"10**underlying_decimals, got {numerator}/{denominator}"
        )
    return numerator // denominator


ID_MAX_LEN: Final = 48
"""Longest instrument id, index or asset name."""

_SYMBOL_FIRST: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_SYMBOL_CHARS: Final = _SYMBOL_FIRST + "-_."


def is_valid_symbol(value: str) -> bool:
    """The one charset of instrument ids, index names and asset names: 1 to 48 of
    A-Z, 0-9, '-', '_' and '.', starting with a letter or a digit. Upper case only, so
    two names never differ by case alone, and nothing a terminal or a log shows
    ambiguously (spaces, zero-width or look-alike characters)."""
    return (
        0 < len(value) <= ID_MAX_LEN
        and value[0] in _SYMBOL_FIRST
        and all(char in _SYMBOL_CHARS for char in value)
    )


def instrument_name_problem(spec: Instrument) -> str | None:
    """Why the spec's id or index is not a valid symbol, or None."""
    for field, value in (("id", spec.id), ("index", spec.index)):
        if not is_valid_symbol(value):
            return (
                f"instrument {field} {value!r} must be 1 to {ID_MAX_LEN} of A-Z, 0-9, "
                "'-', '_', '.', starting with a letter or digit"
            )
    return None


def validate_spec(spec: Instrument) -> Instrument:
    """Return `spec` if it can be listed, else raise InstrumentSpecError naming the field.

    Every integer field has a range here, so a spec never carries a value the engine
    cannot encode (msgpack integers are 64-bit) or that makes no sense."""
    if (problem := instrument_name_problem(spec)) is not None:
        raise InstrumentSpecError(problem)
    _require(is_valid_symbol(spec.settlement_asset), spec, "settlement_asset")
    _require(0 <= spec.settlement_decimals <= 18, spec, "settlement_decimals")
    _require(0 <= spec.underlying_decimals <= 18, spec, "underlying_decimals")
    _require(0 < spec.tick_size <= price_max_units, spec, "tick_size")
    _require(0 < spec.contract_size <= INT64_MAX, spec, "contract_size")
    _require(0 < spec.lot_size <= size_max_lots, spec, "lot_size")
    _require(0 < tick_value_of(spec) <= price_max_units, spec, "tick_value")
    _require(-spec.taker_fee_bps <= spec.maker_fee_bps <= 1_000, spec, "maker_fee_bps")
    _require(0 <= spec.taker_fee_bps <= 1_000, spec, "taker_fee_bps")
    _require(
        0 < spec.maintenance_margin_bps <= spec.initial_margin_bps <= 10_000,
        spec,
        "initial_margin_bps",
    )
    _require(
        0 < spec.short_option_floor_bps <= spec.short_option_margin_bps <= 10_000,
        spec,
        "short_option_margin_bps",
    )
    _require(
        0 < spec.short_option_maintenance_bps <= spec.short_option_floor_bps,
        spec,
        "short_option_maintenance_bps",
    )
    _require(0 < spec.market_collar_bps < 10_000, spec, "market_collar_bps")
    _require(0 < spec.price_band_bps <= 10_000, spec, "price_band_bps")
    _require(0 < spec.order_size_max_lots <= size_max_lots, spec, "order_size_max_lots")
    _require(
        spec.order_size_max_lots <= spec.position_max_lots <= position_max_lots,
        spec,
        "position_max_lots",
    )
    if spec.kind is Kind.PERPETUAL:
        _require(spec.expiry_ns == 0 and spec.option_type is None, spec, "expiry_ns")
    else:
        _require(0 < spec.expiry_ns <= INT64_MAX, spec, "expiry_ns")
    if spec.kind is Kind.OPTION:
        _require(spec.option_type is not None, spec, "option_type")
        _require(0 < spec.strike <= price_max_units, spec, "strike")
        _require(spec.strike % spec.tick_size == 0, spec, "strike")
    else:
        _require(spec.strike == 0 and spec.option_type is None, spec, "strike")
    return spec


def _require(condition: bool, spec: Instrument, field: str) -> None:
    if not condition:
        raise InstrumentSpecError(f"{spec.id or '<unnamed>'}: invalid {field}")
