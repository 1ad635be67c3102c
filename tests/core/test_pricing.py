"""Black-76 in `decimal` (clearhouse.core.pricing) against QuantLib's BlackCalculator.

Grid: BTC forward 100,000 USD at 6 decimals (1e11 settlement units), strikes from deep in
the money to deep out of the money, expiries 1 day .. 1 year, vols 10 % .. 150 %, calls and
puts. The price must be within one tick (0.5 USD = 500_000 units) of QuantLib; delta, gamma,
vega and theta within 1e-6 relative. Near zero the reference is a float computation that
loses digits to cancellation (a deep out of the money put's delta comes out of QuantLib as
`N(d1) - 1` in doubles, e.g. +2e-30 for a true -6.7e-18), so each greek also has an
absolute floor of 1e-12 of its largest magnitude on the grid.

Theta convention: per year, ``-dV/dT`` of the undiscounted Black-76 (discount 1), which is
what `BlackCalculator.theta(spot=forward, maturity)` returns when the discount is 1.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from decimal import Decimal

import pytest

from clearhouse.core import pricing
from clearhouse.core.pricing import (
    CTX,
    NS_PER_YEAR,
    Greeks,
    black76,
    greeks_from_units,
    normal_cdf,
    price_ticks,
    price_units,
)

if os.environ.get("CI") == "true":
    import QuantLib as ql  # noqa: N813  (CI installs the dev extras: missing is a failure)
else:
    ql = pytest.importorskip("QuantLib", reason="QuantLib (dev extra) is the pricing reference")

UNITS = 1_000_000  # settlement units per USD
FORWARD = 100_000 * UNITS
TICK = 500_000  # 0.5 USD
DAY_NS = 86_400 * 1_000_000_000
STRIKES_USD = [50_000, 80_000, 100_000, 120_000, 200_000]
EXPIRY_DAYS = [1, 7, 30, 91, 365]
VOLS_PPM = [100_000, 500_000, 800_000, 1_500_000]
GRID = [
    (strike * UNITS, days, vol, is_call)
    for strike in STRIKES_USD
    for days in EXPIRY_DAYS
    for vol in VOLS_PPM
    for is_call in (True, False)
]
GREEKS = ("delta", "gamma", "vega", "theta")


def _reference(strike: int, days: int, vol_ppm: int, is_call: bool) -> dict[str, float]:
    t = days * DAY_NS / NS_PER_YEAR
    sigma = vol_ppm / 1e6
    option = ql.Option.Call if is_call else ql.Option.Put
    calc = ql.BlackCalculator(
        ql.PlainVanillaPayoff(option, float(strike)), float(FORWARD), sigma * math.sqrt(t), 1.0
    )
    return {
        "price": calc.value(),
        "delta": calc.deltaForward(),
        "gamma": calc.gammaForward(),
        "vega": calc.vega(t),
        "theta": calc.theta(float(FORWARD), t),
    }


@pytest.fixture(scope="module")
def results() -> list[tuple[tuple[int, int, int, bool], Greeks, dict[str, float]]]:
    return [
        (
            point,
            greeks_from_units(FORWARD, point[0], point[2], point[1] * DAY_NS, point[3]),
            _reference(*point),
        )
        for point in GRID
    ]


def test_price_within_one_tick_of_quantlib(
    results: list[tuple[tuple[int, int, int, bool], Greeks, dict[str, float]]],
) -> None:
    worst = 0.0
    for (strike, days, vol, is_call), greeks, ref in results:
        ticks = price_ticks(FORWARD, strike, vol, days * DAY_NS, is_call, TICK)
        assert abs(ticks * TICK - ref["price"]) <= TICK, (strike, days, vol, is_call)
        units = price_units(FORWARD, strike, vol, days * DAY_NS, is_call)
        assert abs(units - ref["price"]) <= 1, (strike, days, vol, is_call)
        worst = max(worst, abs(float(greeks.price) - ref["price"]))
    assert worst < 1e-3  # in settlement units (1e-9 USD); a tick is 500_000 units


@pytest.mark.parametrize("name", GREEKS)
def test_greeks_match_quantlib(
    name: str, results: list[tuple[tuple[int, int, int, bool], Greeks, dict[str, float]]]
) -> None:
    floor = 1e-12 * max(abs(ref[name]) for _, _, ref in results)
    for point, greeks, ref in results:
        mine = float(getattr(greeks, name))
        assert mine == pytest.approx(ref[name], rel=1e-6, abs=floor), (name, point, ref)


def test_put_call_parity_is_exact_in_decimal() -> None:
    for discount in (Decimal(1), Decimal("0.97"), Decimal("0.123456789")):
        for strike, days, vol, _ in GRID[::2]:
            args = (FORWARD, strike, vol, days * DAY_NS)
            call = greeks_from_units(*args, True, discount)
            put = greeks_from_units(*args, False, discount)
            parity = CTX.multiply(discount, Decimal(FORWARD - strike))
            assert CTX.subtract(call.price, put.price) == parity.quantize(
                pricing.PRICE_QUANTUM, context=CTX
            )
            assert call.gamma == put.gamma and call.vega == put.vega
            assert call.theta == put.theta
            assert call.delta - put.delta == pytest.approx(discount, rel=Decimal("1e-30"))


def test_discount_scales_price_and_greeks() -> None:
    base = black76(Decimal(100), Decimal(110), Decimal("0.6"), Decimal("0.25"), True)
    disc = black76(
        Decimal(100), Decimal(110), Decimal("0.6"), Decimal("0.25"), True, Decimal("0.9")
    )
    for name in ("price", "delta", "gamma", "vega", "theta"):
        ratio = getattr(disc, name) / getattr(base, name)
        assert ratio == pytest.approx(Decimal("0.9"), rel=Decimal("1e-12"))


def test_theta_is_minus_the_time_derivative() -> None:
    f, k, v, t = Decimal(100_000), Decimal(90_000), Decimal("0.7"), Decimal("0.1")
    h = Decimal("1e-6")
    up = black76(f, k, v, t + h, True).price
    down = black76(f, k, v, t - h, True).price
    theta = black76(f, k, v, t, True).theta
    assert -(up - down) / (2 * h) == pytest.approx(theta, rel=Decimal("1e-8"))


def test_normal_cdf_matches_erfc() -> None:
    for tenths in range(-380, 381, 7):
        x = tenths / 10
        expected = 0.5 * math.erfc(-x / math.sqrt(2))
        assert float(normal_cdf(Decimal(tenths) / 10)) == pytest.approx(expected, rel=1e-13)
    assert normal_cdf(Decimal(41)) == 1 and normal_cdf(Decimal(-41)) == 0
    assert normal_cdf(Decimal(0)) == Decimal("0.5")
    # the series and the continued fraction agree where they meet
    inside = normal_cdf(Decimal(-5))
    outside = pricing._upper_tail(Decimal(5))
    assert abs(inside - outside) / outside < Decimal("1e-25")


@pytest.mark.parametrize(
    ("forward", "strike", "is_call", "price", "delta"),
    [
        (110, 100, True, 10, 1),
        (90, 100, True, 0, 0),
        (100, 100, True, 0, 0),
        (90, 100, False, 10, -1),
        (110, 100, False, 0, 0),
    ],
)
def test_expired_or_zero_vol_is_intrinsic(
    forward: int, strike: int, is_call: bool, price: int, delta: int
) -> None:
    for vol, t in (
        (Decimal("0.5"), Decimal(0)),
        (Decimal("0.5"), Decimal(-1)),
        (Decimal(0), Decimal(1)),
    ):
        g = black76(Decimal(forward), Decimal(strike), vol, t, is_call)
        assert (g.price, g.delta, g.gamma, g.vega, g.theta) == (
            Decimal(price),
            Decimal(delta),
            Decimal(0),
            Decimal(0),
            Decimal(0),
        )
    g = black76(Decimal(forward), Decimal(strike), Decimal(0), Decimal(1), is_call, Decimal("0.5"))
    assert (g.price, g.delta) == (Decimal(price) / 2, Decimal(delta) / 2)
    assert price_ticks(forward, strike, 0, 0, is_call, 1) == price


def test_price_ticks_rounds_half_up() -> None:
    # intrinsic 3 units: 1.5 ticks of 2 units rounds up to 2, 0.75 ticks of 4 rounds to 1
    assert price_ticks(103, 100, 0, 0, True, 2) == 2
    assert price_ticks(103, 100, 0, 0, True, 4) == 1
    assert price_ticks(101, 100, 0, 0, True, 4) == 0  # 0.25 tick


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError):
        black76(Decimal(0), Decimal(1), Decimal(1), Decimal(1), True)
    with pytest.raises(ValueError):
        black76(Decimal(1), Decimal(1), Decimal(-1), Decimal(1), True)
    with pytest.raises(ValueError):
        price_ticks(1, 1, 1, 1, True, 0)


_CHILD = """
from clearhouse.core.pricing import greeks_from_units, price_ticks
F = 100_000_000_000
for k in (50, 80, 100, 120, 200):
    for days in (1, 30, 365):
        for vol in (100_000, 800_000, 1_500_000):
            for call in (True, False):
                g = greeks_from_units(F, k * 10**9, vol, days * 86_400 * 10**9, call)
                t = price_ticks(F, k * 10**9, vol, days * 86_400 * 10**9, call, 500_000)
                print(t, g.price, g.delta, g.gamma, g.vega, g.theta)
"""


def test_same_digits_in_two_processes_with_different_hash_seeds() -> None:
    outputs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, check=True
        )
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 5 * 3 * 3 * 2
