"""Engine limits: a bound on everything, unit last in the name.

`CONFIG_BOUNDS` gives every integer field its range (inclusive), checked when a
genesis is loaded; docs/genesis.md prints the same table.
"""

from __future__ import annotations

from typing import Final

import msgspec

_SECOND_NS: Final = 10**9
_DAY_NS: Final = 86_400 * _SECOND_NS


class PortfolioParams(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Portfolio margin by risk arrays (SPAN style), the same for every underlying."""

    price_scan_bps: int = 1_500
    """The price scan range: scenarios move the underlying by up to this much."""
    price_steps: int = 3
    """Scenario points on each side of the current price within the scan range."""
    vol_shift_bps: int = 2_500
    """Volatility scenarios scale every vol up and down by this fraction."""
    extreme_multiple: int = 3
    """Two extreme scenarios move the underlying by this many scan ranges..."""
    extreme_fraction_bps: int = 3_500
    """...and count this fraction of their loss."""
    short_option_min_bps: int = 50
    """Floor per short option lot, as a fraction of the lot's underlying value."""
    per_lot_min_bps: int = 10
    """Floor per lot of any position, as a fraction of the lot's underlying value."""
    maintenance_bps: int = 7_500
    """Maintenance margin as a fraction of initial margin."""


class EngineConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    settlement_asset: str = "USDC"
    accounts_max: int = 1_000_000
    orders_per_account_max: int = 200
    depth_levels_max: int = 1_000
    client_order_id_len_max: int = 36
    account_id_len_max: int = 64
    marks_per_update_max: int = 512
    sub_keys_per_account_max: int = 16
    tx_lifetime_ns_max: int = 3_600 * 10**9
    """A transaction may expire at most this far after it is sequenced: it bounds how
    long signed bytes stay replayable (a rejected transaction does not use its nonce)."""
    large_withdrawal_units: int = 1_000_000 * 10**6
    """A withdrawal above this is a request: its amount is held aside until
    governance approves it (ApproveWithdrawal) or its owner cancels it."""
    pending_withdrawals_per_account_max: int = 4
    oracle_staleness_ns: int = 60 * 10**9
    """An oracle observation older than this (sequencer time) is stale: refused on
    arrival and left out of the median."""
    oracle_sources_min: int = 1
    """Fresh sources needed before the index moves."""
    oracle_move_max_bps: int = 2_500
    """One update moves the index at most this far from the last accepted value
    (the median beyond it is clamped)."""
    circuit_breaker_bps: int = 1_500
    """A move of the index by more than this within the window halts its markets
    (0: no breaker)."""
    circuit_breaker_window_ns: int = 300 * 10**9
    basis_max_bps: int = 2_000
    """An expiry's basis is at most this fraction of the index, on arrival and
    again when marks are set (the index may have moved since)."""
    vol_min_ppm: int = 10_000
    """Volatility floor of the skewed smile (1 %)."""
    perp_premium_cap_bps: int = 100
    """A perpetual marks at the index plus the book's premium, capped at this."""
    funding_interval_ns: int = 8 * 3_600 * 10**9
    funding_cap_bps: int = 75
    """Funding paid per interval, at most this fraction of the notional."""
    settlement_window_ns: int = 30 * 60 * 10**9
    """Expiries settle at the time-weighted average index over this final window."""
    liquidation_fee_bps: int = 50
    insurance_account: str = "insurance-fund"
    rate_limit_window_ns: int = 10**9
    rate_limit_messages: int = 1_000
    """Trading messages one key may have accepted per window (0: no limit)."""
    portfolio: PortfolioParams = PortfolioParams()
    invariant_sweep_interval_txs: int = 10_000
    """Cover the whole state with the invariant sweep once every this many
    transactions, a bounded slice after each (0: never automatically). The O(1)
    invariants of each transaction always run."""


CONFIG_BOUNDS: Final[dict[str, tuple[int, int]]] = {
    # The O(1) limits: positive, and small enough that reaching one is a decision.
    "accounts_max": (1, 100_000_000),
    "orders_per_account_max": (1, 100_000),
    "depth_levels_max": (1, 100_000),
    "client_order_id_len_max": (1, 256),
    "account_id_len_max": (1, 256),
    "marks_per_update_max": (1, 4_096),
    "sub_keys_per_account_max": (0, 1_024),  # 0: accounts have no sub-keys
    "tx_lifetime_ns_max": (_SECOND_NS, 7 * _DAY_NS),
    "large_withdrawal_units": (1, 10**17),  # at most numbers.balance_max_units
    "pending_withdrawals_per_account_max": (0, 1_024),  # 0: no large withdrawal at all
    "oracle_staleness_ns": (_SECOND_NS, _DAY_NS),
    "oracle_sources_min": (1, 64),
    "oracle_move_max_bps": (1, 10_000),
    "circuit_breaker_bps": (0, 10_000),
    "circuit_breaker_window_ns": (_SECOND_NS, _DAY_NS),
    "basis_max_bps": (0, 5_000),
    "vol_min_ppm": (1, 10_000_000),
    "perp_premium_cap_bps": (0, 10_000),
    "funding_interval_ns": (60 * _SECOND_NS, 7 * _DAY_NS),
    "funding_cap_bps": (0, 10_000),
    "settlement_window_ns": (_SECOND_NS, _DAY_NS),
    "liquidation_fee_bps": (0, 1_000),
    "rate_limit_window_ns": (1_000_000, _DAY_NS),
    "rate_limit_messages": (0, 1_000_000_000),
    "invariant_sweep_interval_txs": (0, 1_000_000_000),
    "portfolio.price_scan_bps": (1, 9_999),
    "portfolio.price_steps": (1, 16),
    "portfolio.vol_shift_bps": (0, 9_999),
    "portfolio.extreme_multiple": (1, 9_999),
    "portfolio.extreme_fraction_bps": (0, 10_000),
    "portfolio.short_option_min_bps": (0, 10_000),
    "portfolio.per_lot_min_bps": (0, 10_000),
    "portfolio.maintenance_bps": (1, 10_000),
}
"""Inclusive range of every integer field of `EngineConfig` (and of its `portfolio`)."""


def config_problems(config: EngineConfig) -> list[str]:
    """Each integer field outside its `CONFIG_BOUNDS` range, named by its path in the
    genesis (`config.portfolio.price_steps`), in declaration order."""
    problems: list[str] = []
    for path, (low, high) in CONFIG_BOUNDS.items():
        parent, _, name = path.rpartition(".")
        value = getattr(config.portfolio if parent else config, name)
        if not low <= value <= high:
            problems.append(f"config.{path} must be {low}..{high}, got {value}")
    return problems
