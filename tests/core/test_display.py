"""Amounts and prices as people read them: the shared formatter, and the rejection
messages of the core that quote amounts or prices."""

from __future__ import annotations

import pytest

from clearhouse.core import (
    Accepted,
    Deposit,
    ErrorCode,
    Liquidate,
    PlaceOrder,
    Rejected,
    SettleExpiry,
    Side,
    TimeInForce,
    Transfer,
    Withdraw,
)
from clearhouse.core.catalogue import days_from_civil, default_catalogue, expiry_ns
from clearhouse.core.display import (
    civil_from_days,
    format_amount,
    format_collateral,
    format_duration,
    format_price,
    format_settlement,
    format_time,
    format_units,
    settlement_decimals,
)
from clearhouse.testing import TestVenue, standard_genesis

USD = 10**6
PERP = next(spec for spec in default_catalogue() if spec.id == "BTC-PERP")
IOC = TimeInForce.IOC


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (11_000 * USD, 6, "11,000.00"),
        (100_000 * USD, 6, "100,000.00"),
        (0, 6, "0.00"),
        (1, 6, "0.000001"),
        (1_234_567, 6, "1.234567"),
        (49_871_998_500, 6, "49,871.9985"),  # never rounded away
        (-5_950 * USD, 6, "-5,950.00"),
        (-1, 6, "-0.000001"),
        (1_234_567, 0, "1,234,567"),
        (15, 1, "1.5"),
        (10, 1, "1.0"),
        (10**18 + 5, 18, "1.000000000000000005"),
    ],
)
def test_format_units_groups_thousands_and_keeps_every_digit(
    units: int, decimals: int, text: str
) -> None:
    assert format_units(units, decimals) == text


def test_amounts_name_their_asset_and_prices_read_in_the_quote_currency() -> None:
    assert format_amount(11_000 * USD, 6, "USDC") == "11,000.00 USDC"
    assert format_collateral(11_000 * USD, PERP) == "11,000.00 USDC"
    assert format_price(100_000 * USD, PERP) == "100,000.00"
    assert settlement_decimals(default_catalogue(), "USDC") == 6
    assert settlement_decimals(default_catalogue(), "USDT") is None


def _venue() -> TestVenue:
    venue = TestVenue(standard_genesis(["alice", "bob"]))
    venue.apply(Deposit("alice", "USDC", 10_000 * USD))
    venue.apply(Deposit("bob", "USDC", 10_000 * USD))
    venue.oracle("BTC-USD", 100_000 * USD)
    return venue


def _refusal(venue: TestVenue, payload: PlaceOrder, code: ErrorCode) -> str:
    outcome = venue.apply(payload)
    assert isinstance(outcome, Rejected), outcome
    assert outcome.code == code, outcome.message
    return outcome.message


def test_price_refusals_quote_prices_in_the_quote_currency() -> None:
    venue = _venue()
    off_tick = PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=100_000 * USD + 1)
    assert _refusal(venue, off_tick, ErrorCode.PRICE_OFF_TICK) == (
        "price 100,000.000001 is not a multiple of the tick size 0.50"
    )
    too_large = PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=10**13 + PERP.tick_size)
    assert _refusal(venue, too_large, ErrorCode.PRICE_TOO_LARGE) == (
        "price 10,000,000.50 exceeds the largest price 10,000,000.00"
    )
    far = PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=150_000 * USD)
    assert _refusal(venue, far, ErrorCode.PRICE_OUTSIDE_BAND) == (
        "price 150,000.00 is outside the band 90,000.00..110,000.00"
    )


def test_the_margin_refusal_quotes_equity_fee_and_margin_in_usdc() -> None:
    venue = _venue()
    big = PlaceOrder(
        "alice", "BTC-PERP", Side.BUY, 5_000, price=100_000 * USD, time_in_force=TimeInForce.IOC
    )
    message = _refusal(venue, big, ErrorCode.INSUFFICIENT_MARGIN)
    assert message == (
        "equity 10,000.00 USDC less worst-case fee 250.00 USDC is below initial margin "
        "50,000.00 USDC after this order"
    )


def test_an_oracle_price_beyond_the_bound_is_quoted_in_the_quote_currency() -> None:
    venue = _venue()
    outcome = venue.oracle("BTC-USD", 10**13 + 1)
    assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.PRICE_TOO_LARGE
    assert outcome.message == "price 10,000,000.000001 exceeds the largest price 10,000,000.00"


def test_amount_refusals_quote_the_amount_in_the_asset() -> None:
    venue = _venue()
    refused = [
        (Deposit("alice", "USDC", 0), "amount must be positive, got 0.00 USDC"),
        (Withdraw("alice", "USDC", -1_500_000), "amount must be positive, got -1.50 USDC"),
        (Transfer("alice", "bob", "USDC", -1), "amount must be positive, got -0.000001 USDC"),
    ]
    for payload, message in refused:
        outcome = venue.apply(payload)
        assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.AMOUNT_NOT_POSITIVE
        assert outcome.message == message
    outcome = venue.apply(Deposit("alice", "USDC", 10**15 + 1))
    assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.AMOUNT_TOO_LARGE
    assert outcome.message == (
        "amount 1,000,000,000.000001 USDC exceeds the largest amount 1,000,000,000.00 USDC"
    )


def test_a_refused_liquidation_quotes_equity_and_maintenance_in_usdc() -> None:
    venue = _venue()
    venue.apply(PlaceOrder("bob", "BTC-PERP", Side.SELL, 10, price=100_000 * USD))
    taken = venue.apply(
        PlaceOrder("alice", "BTC-PERP", Side.BUY, 10, price=100_000 * USD, time_in_force=IOC)
    )
    assert isinstance(taken, Accepted), taken
    outcome = venue.apply(Liquidate("alice"))
    assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.NOT_LIQUIDATABLE
    # 10,000 less the 5 bps taker fee on 1,000 of notional; 5 % of it in maintenance.
    assert outcome.message == "alice: equity 9,999.50 USDC covers maintenance margin 50.00 USDC"


def test_before_any_instrument_states_the_decimals_an_amount_is_in_minor_units() -> None:
    assert format_settlement(1_500_000, (), "USDC") == "1,500,000 minor units of USDC"
    assert format_settlement(1_500_000, default_catalogue(), "USDC") == "1.50 USDC"


@pytest.mark.parametrize("days", [-719_468, -1, 0, 59, 365, 11_016, 20_812, 2_932_896])
def test_civil_dates_invert_days_from_civil(days: int) -> None:
    year, month, day = civil_from_days(days)
    assert days_from_civil(year, month, day) == days


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01 00:00:00.000000 UTC"),
        (-1, "1969-12-31 23:59:59.999999 UTC"),
        (expiry_ns(2026, 12, 25), "2026-12-25 08:00:00.000000 UTC"),
        (expiry_ns(2024, 2, 29, 0) + 1_999, "2024-02-29 00:00:00.000001 UTC"),  # never rounded up
    ],
)
def test_times_read_in_utc_to_the_microsecond(ns: int, text: str) -> None:
    assert format_time(ns) == text


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (60 * 10**9, "60 s"),
        (61_500_000_000, "61.5 s"),
        (5, "5 ns"),
        (0, "0 s"),
        (-2 * 10**9, "-2 s"),
    ],
)
def test_durations_read_in_seconds(ns: int, text: str) -> None:
    assert format_duration(ns) == text


def test_an_early_settlement_quotes_both_times_in_utc() -> None:
    venue = _venue()
    expiry = next(spec for spec in default_catalogue() if spec.id == "BTC-25DEC26").expiry_ns
    outcome = venue.apply(SettleExpiry("BTC-25DEC26"))
    assert isinstance(outcome, Rejected) and outcome.code == ErrorCode.NOT_EXPIRED
    assert outcome.message == (
        f"BTC-25DEC26 expires at {format_time(expiry)}, now {format_time(venue.now_ns)}"
    )
    assert "2026-12-25 08:00:00.000000 UTC" in outcome.message
