"""The invariant sweep spread over transactions: every `invariant_sweep_interval_txs`
transactions check the whole state once, a bounded slice after each transaction,
and a broken rule anywhere stops the engine within that many transactions."""

from __future__ import annotations

import pytest

from clearhouse.core import Deposit, EngineConfig, EngineFault
from clearhouse.core.invariants import Sweep, sweep, sweep_units
from clearhouse.testing import TestVenue, standard_genesis

ACCOUNTS = [f"trader-{i:02d}" for i in range(40)]
USD = 10**6


def venue_with(interval: int) -> TestVenue:
    config = EngineConfig(rate_limit_messages=0, invariant_sweep_interval_txs=interval)
    venue = TestVenue(standard_genesis(ACCOUNTS, config=config))
    for account in ACCOUNTS:
        venue.apply(Deposit(account, "USDC", 1_000 * USD))
    return venue


def deposits_until_fault(venue: TestVenue, most: int) -> int | None:
    """How many more transactions until the engine faults (None: it did not)."""
    for count in range(1, most + 1):
        try:
            venue.apply(Deposit(ACCOUNTS[0], "USDC", USD))
        except EngineFault:
            return count
    return None


@pytest.mark.parametrize("interval", [1, 7, 50, 500])
def test_a_rule_broken_in_the_last_account_is_seen_within_one_interval(interval: int) -> None:
    venue = venue_with(interval)
    state = venue.engine._state
    state.accounts[ACCOUNTS[-1]].kill_switch = 99  # only the account's own unit sees this
    seen_after = deposits_until_fault(venue, interval + sweep_units(state))
    assert seen_after is not None and seen_after <= 2 * interval


def test_a_pass_runs_once_an_interval_not_back_to_back() -> None:
    venue = venue_with(0)
    state = venue.engine._state
    units = sweep_units(state)
    interval = 4 * units  # one unit a step: a pass takes a quarter of the interval
    spread = Sweep()
    started = 0
    for _ in range(3 * interval):
        was_idle = spread._pending is None
        spread.step(state, interval)
        started += was_idle and spread._pending is not None
    assert started == 3


def test_a_broken_total_is_seen_within_one_interval() -> None:
    venue = venue_with(25)
    venue.engine._state.accounts[ACCOUNTS[3]].cash += 1  # the running total now disagrees
    seen_after = deposits_until_fault(venue, 60)
    assert seen_after is not None and seen_after <= 50


def test_each_step_runs_a_bounded_share_and_a_pass_covers_every_unit() -> None:
    venue = venue_with(0)  # the engine's own sweep off: this test drives one
    state = venue.engine._state
    units = sweep_units(state)
    assert units == 3 + len(state.markets) + len(state.portfolio_margin.holders) + len(ACCOUNTS)
    assert sum(1 for _ in sweep(state)) == units
    interval = 10
    per_step = -(-units // interval)
    spread = Sweep()
    for _ in range(interval - 1):  # a pass starts once an interval has gone by
        spread.step(state, interval)
        assert spread._pending is None
    spread.step(state, interval)
    assert spread._pending is not None
    remaining = sum(1 for _ in spread._pending)  # what the first step left for later
    assert remaining == units - per_step


def test_the_spread_sweep_does_not_change_outcomes() -> None:
    spread, whole = venue_with(3), venue_with(0)
    for venue in (spread, whole):
        for i, account in enumerate(ACCOUNTS):
            venue.apply(Deposit(account, "USDC", (i + 1) * USD))
    # The configs differ (and with them the genesis digest the chain starts from),
    # so compare the states the two reach, not their chains.
    for account in ACCOUNTS:
        assert spread.engine.account(account) == whole.engine.account(account)
    spread.engine.check_invariants()
