"""Risk arrays: the integer P&L of one long lot of an instrument under each scenario.

Portfolio margin (clearhouse.core.portfolio) values every position under the same
fixed list of scenarios for its underlying, SPAN style. With `PortfolioParams`
``p`` and ``n = p.price_steps``, the scenarios are, in this order:

1. for ``k = 0, +1, -1, +2, -2, ..., +n, -n``: the underlying moved by
   ``k / n`` of the scan range ``p.price_scan_bps``, first with every volatility
   scaled up by ``p.vol_shift_bps`` (``vol x (1 + shift)``), then scaled down
   (``vol x (1 - shift)``): ``2 x (2n + 1)`` scenarios;
2. the underlying moved up by ``p.extreme_multiple`` scan ranges, volatility
   unchanged, its P&L counted at ``p.extreme_fraction_bps``;
3. the same move down.

With the defaults (scan 15 %, 3 steps, vol shift 25 %, extremes of 3 x 15 %
counted at 35 %) that is 16 scenarios, as in SPAN.

A move applies to the instrument's forward ``F`` (the index plus the expiry's
basis; perpetuals have no basis): ``F' = F + sign(k) x (F x |k| x scan // (n x
10_000))`` (an extreme move: ``F x multiple x scan // 10_000``), so every
instrument on an index moves by the same fraction and a hedge offsets. Volatility
scales with ``vol x (10_000 +- shift) // 10_000`` (ppm).

The array entry of a scenario is the value of one long lot there less its value
now (the mark), in settlement units, times the scenario's weight (10_000 bps, or
the extreme fraction), rounded down: towards the loss of a long lot.

- Perpetuals and futures: ``(F' - F) x underlying per lot x weight``; the value
  now is the mark, but a linear lot's P&L depends on the move alone.
- Options: Black-76 (clearhouse.core.pricing) at ``F'``, at the smile's
  volatility at the strike (``market.vol_ppm``) scaled for the scenario, with the
  time to expiry as of the index's last accepted update, times the underlying per
  lot, less ``mark x tick_value``. An option with no mark yet has no array.

After the scenarios the array holds two floors, so that one pass over an
account's positions computes both its scenario P&L and its floors:

- ``array[n_scenarios]``: per lot of any position, ``p.per_lot_min_bps`` of one
  lot's underlying value at the index price, rounded up;
- ``array[n_scenarios + 1]``: per short lot on top, one settlement unit (the
  scenario entries round towards the loss of a long lot, so a short's loss may be
  understated by less than a unit per lot), plus for options
  ``p.short_option_min_bps`` of the lot's underlying value, rounded up.

Settled instruments have no array either. An array is a pure function of the
market's mark, basis and vol, the index's accepted price and the time of its last
update, and the parameters: recomputing it gives the same integers everywhere.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from clearhouse.core.config import PortfolioParams
from clearhouse.core.instruments import OptionType
from clearhouse.core.market import Market
from clearhouse.core.pricing import CTX, NS_PER_YEAR, PPM, black76_call_put, floor_int

FULL_WEIGHT: Final = 10_000
"""Weight of an ordinary scenario: its whole P&L counts."""

OptionValues = dict[tuple[int, int, int, int], tuple[Decimal, Decimal]]
"""Black-76 values (call, put) by (forward, strike, vol ppm, time to expiry ns): a
call and a put on the same strike and expiry share every scenario, so the values
one array computes serve the other."""


class Scenario:
    """A move of the forward by ``move_num / move_den``, a volatility shift of
    ``vol_sign x shift``, and the weight (bps) its P&L counts at."""

    __slots__ = ("move_den", "move_num", "vol_sign", "weight_bps")

    def __init__(self, move_num: int, move_den: int, vol_sign: int, weight_bps: int) -> None:
        self.move_num = move_num
        self.move_den = move_den
        self.vol_sign = vol_sign
        self.weight_bps = weight_bps

    def forward(self, forward: int) -> int:
        """The scenario's forward: moved by the fraction, truncated towards no move."""
        move = forward * abs(self.move_num) // self.move_den
        return forward + move if self.move_num >= 0 else forward - move

    def vol_ppm(self, vol_ppm: int, shift_bps: int) -> int:
        return vol_ppm * (10_000 + self.vol_sign * shift_bps) // 10_000


def scenarios(params: PortfolioParams) -> list[Scenario]:
    """The scenarios of every underlying, in the documented order."""
    steps = params.price_steps
    scan = params.price_scan_bps
    result: list[Scenario] = []
    moves = [0]
    for step in range(1, steps + 1):
        moves += [step, -step]
    for k in moves:
        for vol_sign in (1, -1):
            result.append(Scenario(k * scan, steps * 10_000, vol_sign, FULL_WEIGHT))
    extreme = params.extreme_multiple * scan
    result.append(Scenario(extreme, 10_000, 0, params.extreme_fraction_bps))
    result.append(Scenario(-extreme, 10_000, 0, params.extreme_fraction_bps))
    return result


def risk_array(
    market: Market,
    index_price: int,
    now_ns: int,
    scenario_list: list[Scenario],
    params: PortfolioParams,
    values: OptionValues,
) -> list[int]:
    """The market's risk array (see the module doc); empty if it has none. Option
    values are looked up in and added to `values`."""
    if market.mark == 0 or market.settled:
        return []
    array = _scenario_pnl(market, index_price, now_ns, scenario_list, params.vol_shift_bps, values)
    underlying = market.underlying_value(index_price)
    array.append(-(-underlying * params.per_lot_min_bps // 10_000))
    short_extra = 1
    if not market.is_linear:
        short_extra += -(-underlying * params.short_option_min_bps // 10_000)
    array.append(short_extra)
    return array


def _scenario_pnl(
    market: Market,
    index_price: int,
    now_ns: int,
    scenario_list: list[Scenario],
    vol_shift_bps: int,
    values: OptionValues,
) -> list[int]:
    forward = max(1, index_price + market.basis)
    num = market.underlying_per_lot_num
    den = market.underlying_per_lot_den
    if market.is_linear:
        return [
            (s.forward(forward) - forward) * num * s.weight_bps // (den * 10_000)
            for s in scenario_list
        ]
    spec = market.spec
    strike = spec.strike
    is_call = spec.option_type is OptionType.CALL
    t_ns = max(0, spec.expiry_ns - now_ns)
    t_years = CTX.divide(Decimal(t_ns), Decimal(NS_PER_YEAR))
    # Underlying per lot is exact in decimal: its denominator is a power of ten.
    per_lot = CTX.divide(Decimal(num), Decimal(den))
    mark_value = Decimal(market.mark * market.tick_value)
    vol_ppm = market.vol_ppm
    array: list[int] = []
    for s in scenario_list:
        moved = s.forward(forward)
        vol = s.vol_ppm(vol_ppm, vol_shift_bps)
        key = (moved, strike, vol, t_ns)
        pair = values.get(key)
        if pair is None:
            pair = black76_call_put(
                Decimal(moved), Decimal(strike), CTX.divide(Decimal(vol), Decimal(PPM)), t_years
            )
            values[key] = pair
        value = pair[0] if is_call else pair[1]
        pnl = CTX.subtract(CTX.multiply(value, per_lot), mark_value)
        if s.weight_bps != FULL_WEIGHT:
            pnl = CTX.divide(CTX.multiply(pnl, Decimal(s.weight_bps)), Decimal(10_000))
        array.append(floor_int(pnl))
    return array
