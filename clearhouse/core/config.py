"""Engine limits: a bound on everything, unit last in the name."""

from __future__ import annotations

import msgspec


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
    invariant_sweep_interval_txs: int = 10_000
    """Run the full O(state) invariant sweep every this many transactions (0: never
    automatically). The O(1) invariants of each transaction always run."""
