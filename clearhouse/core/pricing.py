"""Black-76 for European options on a futures or index price, in `decimal` (DESIGN rule 2).

Every operation goes through the one module-level context `CTX` (its methods, never the
operators, which would read the thread's global context), so a result depends on the inputs
alone: the same digits on every platform, in every process. `decimal` has correctly rounded
`exp`, `ln` and `sqrt` but no `erf`; the standard normal CDF is computed here by its Taylor
series near the centre and by Laplace's continued fraction in the tails, with bounded work.

Conventions:

- `forward`, `strike`: any common unit (the integer entry points take settlement units per
  whole underlying); `vol`: annualised, as a fraction (`Decimal("0.8")` is 80 %);
  `t_years`: years to expiry; `discount`: the discount factor to the premium payment date,
  a constant of the call (1 for the undiscounted Black-76 of a futures-style premium).
- `delta` and `gamma` are with respect to the forward; `vega` is per unit of vol (per
  100 vol points); `theta` is per year, ``-dV/dT`` with the discount factor held fixed.
- Prices are quantized to `PRICE_QUANTUM` (a fixed exponent) so that put-call parity,
  ``call - put == discount * (forward - strike)``, holds exactly: the put is derived from
  the call by that identity, a subtraction of two fixed-point numbers, which is exact.
- At or past expiry, or at zero vol, the value is the discounted intrinsic value, delta
  is ``discount`` (in the money call), ``-discount`` (in the money put) or 0, and gamma,
  vega and theta are 0.

The integer entry points (`price_units`,
`price_ticks`, `greeks_from_units`) take what the engine would supply: integer settlement
units, vol in parts per million and time in nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import (
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

CTX = Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
"""The one context of every operation in this module (IEEE decimal128 precision)."""

PI = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")
ZERO = Decimal(0)
ONE = Decimal(1)
TWO = Decimal(2)
HALF = Decimal("0.5")
SQRT_2PI = CTX.sqrt(CTX.multiply(TWO, PI))

PRICE_QUANTUM = Decimal("1e-12")
"""Prices are quantized to this exponent (far below one settlement unit)."""

NS_PER_YEAR = 365 * 86_400 * 1_000_000_000
"""Time to expiry in nanoseconds is converted with a 365-day year."""
PPM = 1_000_000
"""Vol in parts per million: 800_000 is 80 %."""

CDF_CAP = Decimal(40)
"""Beyond |x| > 40 the normal CDF is 0 or 1 (the tail is below 1e-349)."""
SERIES_LIMIT = Decimal(5)
"""|x| <= 5 uses the Taylor series (at most 7 digits lost to cancellation), beyond it the
continued fraction."""
SERIES_MAX_TERMS = 400
"""The series converges to the context's precision in under 150 terms for |x| <= 5."""
CONTINUED_FRACTION_TERMS = 200
"""Laplace's continued fraction, evaluated backwards from this depth: better than 1e-50
relative for x >= 5."""


@dataclass(frozen=True)
class Greeks:
    price: Decimal
    delta: Decimal
    gamma: Decimal
    vega: Decimal
    theta: Decimal


def normal_pdf(x: Decimal) -> Decimal:
    """phi(x) = exp(-x^2 / 2) / sqrt(2 pi)."""
    half_square = CTX.divide(CTX.multiply(x, x), TWO)
    return CTX.divide(CTX.exp(CTX.minus(half_square)), SQRT_2PI)


def _upper_tail(x: Decimal) -> Decimal:
    """Q(x) = 1 - Phi(x) for x >= SERIES_LIMIT, by Laplace's continued fraction
    Q(x) = phi(x) / (x + 1 / (x + 2 / (x + 3 / (x + ...))))."""
    denominator = x
    for k in range(CONTINUED_FRACTION_TERMS, 0, -1):
        denominator = CTX.add(x, CTX.divide(Decimal(k), denominator))
    return CTX.divide(normal_pdf(x), denominator)


def normal_cdf(x: Decimal) -> Decimal:
    """Phi(x), the standard normal CDF, to about 27 significant digits everywhere."""
    if x > CDF_CAP:
        return ONE
    if x < CTX.minus(CDF_CAP):
        return ZERO
    if x > SERIES_LIMIT:
        return CTX.subtract(ONE, _upper_tail(x))
    if x < CTX.minus(SERIES_LIMIT):
        return _upper_tail(CTX.minus(x))
    # Phi(x) = 1/2 + phi(x) * sum_n x^(2n+1) / (1 * 3 * 5 * ... * (2n+1))
    square = CTX.multiply(x, x)
    term = x
    total = x
    for n in range(1, SERIES_MAX_TERMS):
        term = CTX.divide(CTX.multiply(term, square), Decimal(2 * n + 1))
        grown = CTX.add(total, term)
        if grown == total:
            break
        total = grown
    return CTX.add(HALF, CTX.multiply(normal_pdf(x), total))


def _quantize_price(value: Decimal) -> Decimal:
    return value.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN, context=CTX)


def black76(
    forward: Decimal,
    strike: Decimal,
    vol: Decimal,
    t_years: Decimal,
    is_call: bool,
    discount: Decimal = ONE,
) -> Greeks:
    """Black-76 value and greeks of a European call or put on `forward` (see module doc)."""
    if forward <= ZERO or strike <= ZERO:
        raise ValueError("forward and strike must be positive")
    if vol < ZERO:
        raise ValueError("vol must not be negative")
    if discount <= ZERO:
        raise ValueError("discount must be positive")
    parity = _quantize_price(CTX.multiply(discount, CTX.subtract(forward, strike)))
    if t_years <= ZERO or vol == ZERO:
        return _intrinsic(forward, strike, is_call, discount)

    sqrt_t = CTX.sqrt(t_years)
    std_dev = CTX.multiply(vol, sqrt_t)
    log_moneyness = CTX.ln(CTX.divide(forward, strike))
    half_variance = CTX.divide(CTX.multiply(std_dev, std_dev), TWO)
    d1 = CTX.divide(CTX.add(log_moneyness, half_variance), std_dev)
    d2 = CTX.subtract(d1, std_dev)
    n_d1 = normal_cdf(d1)
    n_d2 = normal_cdf(d2)
    pdf_d1 = normal_pdf(d1)

    # The call from the side that avoids cancellation: for d1 < 0 directly, otherwise via
    # the put, C = D * (F - K) + D * (K N(-d2) - F N(-d1)), whose bracket is then small.
    if d1 < ZERO:
        undiscounted = CTX.subtract(CTX.multiply(forward, n_d1), CTX.multiply(strike, n_d2))
        call = _quantize_price(CTX.multiply(discount, undiscounted))
    else:
        put_undiscounted = CTX.subtract(
            CTX.multiply(strike, normal_cdf(CTX.minus(d2))),
            CTX.multiply(forward, normal_cdf(CTX.minus(d1))),
        )
        put = _quantize_price(CTX.multiply(discount, put_undiscounted))
        call = CTX.add(put, parity)  # exact: both are fixed-point at PRICE_QUANTUM
    call = max(call, ZERO)
    call_delta = CTX.multiply(discount, n_d1)
    discounted_pdf = CTX.multiply(discount, pdf_d1)
    gamma = CTX.divide(discounted_pdf, CTX.multiply(forward, std_dev))
    vega = CTX.multiply(CTX.multiply(discounted_pdf, forward), sqrt_t)
    theta = CTX.minus(
        CTX.divide(
            CTX.multiply(CTX.multiply(discounted_pdf, forward), vol), CTX.multiply(TWO, sqrt_t)
        )
    )
    if is_call:
        return Greeks(call, call_delta, gamma, vega, theta)
    put_price = CTX.subtract(call, parity)  # exact, as above
    put_delta = CTX.minus(CTX.multiply(discount, normal_cdf(CTX.minus(d1))))  # no cancellation
    return Greeks(put_price, put_delta, gamma, vega, theta)


def _intrinsic(forward: Decimal, strike: Decimal, is_call: bool, discount: Decimal) -> Greeks:
    in_the_money = forward > strike if is_call else forward < strike
    if not in_the_money:
        return Greeks(ZERO, ZERO, ZERO, ZERO, ZERO)
    value = CTX.subtract(forward, strike) if is_call else CTX.subtract(strike, forward)
    price = _quantize_price(CTX.multiply(discount, value))
    delta = discount if is_call else CTX.minus(discount)
    return Greeks(price, delta, ZERO, ZERO, ZERO)


def black76_call_put(
    forward: Decimal,
    strike: Decimal,
    vol: Decimal,
    t_years: Decimal,
    discount: Decimal = ONE,
) -> tuple[Decimal, Decimal]:
    """The call's and the put's values alone: the same digits as ``black76(...).price``
    of each, by the same operations, for the cost of one (two normal CDFs instead of
    up to five per option). For revaluing options under many scenarios."""
    if forward <= ZERO or strike <= ZERO:
        raise ValueError("forward and strike must be positive")
    if vol < ZERO:
        raise ValueError("vol must not be negative")
    if discount <= ZERO:
        raise ValueError("discount must be positive")
    parity = _quantize_price(CTX.multiply(discount, CTX.subtract(forward, strike)))
    if t_years <= ZERO or vol == ZERO:
        return (
            _intrinsic(forward, strike, True, discount).price,
            _intrinsic(forward, strike, False, discount).price,
        )
    std_dev = CTX.multiply(vol, CTX.sqrt(t_years))
    log_moneyness = CTX.ln(CTX.divide(forward, strike))
    half_variance = CTX.divide(CTX.multiply(std_dev, std_dev), TWO)
    d1 = CTX.divide(CTX.add(log_moneyness, half_variance), std_dev)
    d2 = CTX.subtract(d1, std_dev)
    if d1 < ZERO:
        undiscounted = CTX.subtract(
            CTX.multiply(forward, normal_cdf(d1)), CTX.multiply(strike, normal_cdf(d2))
        )
        call = _quantize_price(CTX.multiply(discount, undiscounted))
    else:
        put_undiscounted = CTX.subtract(
            CTX.multiply(strike, normal_cdf(CTX.minus(d2))),
            CTX.multiply(forward, normal_cdf(CTX.minus(d1))),
        )
        call = CTX.add(_quantize_price(CTX.multiply(discount, put_undiscounted)), parity)
    call = max(call, ZERO)
    return call, CTX.subtract(call, parity)


def floor_int(value: Decimal) -> int:
    """`value` rounded down (towards minus infinity) to an integer, in the module's context."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR, context=CTX))


def round_half_up(value: Decimal) -> int:
    """`value` rounded half up to an integer, in the module's context."""
    return int(value.quantize(ONE, rounding=ROUND_HALF_UP, context=CTX))


# -- integer entry points (what the engine would supply) ----------------------------------


def greeks_from_units(
    forward_units: int,
    strike_units: int,
    vol_ppm: int,
    t_ns: int,
    is_call: bool,
    discount: Decimal = ONE,
) -> Greeks:
    """`black76` on integer inputs: settlement units per whole underlying, vol in parts per
    million, time to expiry in nanoseconds (365-day year). Price and greeks in settlement
    units (per year for theta, per unit vol for vega)."""
    vol = CTX.divide(Decimal(vol_ppm), Decimal(PPM))
    t_years = CTX.divide(Decimal(t_ns), Decimal(NS_PER_YEAR))
    return black76(Decimal(forward_units), Decimal(strike_units), vol, t_years, is_call, discount)


def price_units(
    forward_units: int,
    strike_units: int,
    vol_ppm: int,
    t_ns: int,
    is_call: bool,
    discount: Decimal = ONE,
) -> int:
    """The Black-76 price in whole settlement units, rounded half up."""
    greeks = greeks_from_units(forward_units, strike_units, vol_ppm, t_ns, is_call, discount)
    return int(greeks.price.quantize(ONE, rounding=ROUND_HALF_UP, context=CTX))


def price_ticks(
    forward_units: int,
    strike_units: int,
    vol_ppm: int,
    t_ns: int,
    is_call: bool,
    tick_units: int,
    discount: Decimal = ONE,
) -> int:
    """The Black-76 price as a whole number of ticks of `tick_units` settlement units each,
    rounded half up (multiply by `tick_units` for the price in settlement units)."""
    if tick_units <= 0:
        raise ValueError("tick_units must be positive")
    greeks = greeks_from_units(forward_units, strike_units, vol_ppm, t_ns, is_call, discount)
    ticks = CTX.divide(greeks.price, Decimal(tick_units))
    return int(ticks.quantize(ONE, rounding=ROUND_HALF_UP, context=CTX))
