"""Market maker protection: SetMMP, ResetMMP, and the count of maker fills.

An account sets limits per underlying (index): traded lots and net delta of its
resting orders' fills within a window of sequencer time. A maker fill that takes
either beyond its limit trips the protection: when the matching transaction has
filled, every open order of the account on that index is cancelled, and new orders
there are refused (MMP_TRIPPED) until the account resets it. Delta is counted in
millionths of a whole unit of the underlying (micro-BTC, micro-ETH), whatever the
underlying's atomic unit: one lot of a perpetual or future is its whole underlying,
an option lot its underlying times the option's Black-76 delta at its last mark.
"""

from __future__ import annotations

from typing import Final

from clearhouse.core.authority import KeyRecord
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import Event, MMPReset, MMPSet
from clearhouse.core.ledger import Account, MMPState
from clearhouse.core.market import Market
from clearhouse.core.numbers import INT64_MAX
from clearhouse.core.state import State
from clearhouse.core.txs import ResetMMP, SetMMP

Result = list[Event] | Rejection

WINDOW_MAX_NS: Final = 86_400 * 10**9


def set_mmp(state: State, tx: SetMMP, seq: int, timestamp_ns: int, signer: KeyRecord) -> Result:
    account = state.accounts.get(tx.account)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    if tx.index not in state.index_markets:
        return Rejection(ErrorCode.UNKNOWN_INDEX, f"unknown index {tx.index!r}")
    for value in (tx.window_ns, tx.quantity_max, tx.delta_max):
        if type(value) is not int:
            return Rejection(ErrorCode.WRONG_TYPE, "MMP limits must be integers")
    if not 0 < tx.window_ns <= WINDOW_MAX_NS:
        return Rejection(ErrorCode.MMP_INVALID, f"window_ns must be 1..{WINDOW_MAX_NS}")
    if not 0 < tx.quantity_max <= INT64_MAX or not 0 < tx.delta_max <= INT64_MAX:
        return Rejection(ErrorCode.MMP_INVALID, "quantity_max and delta_max must be positive")
    current = account.mmp.get(tx.index)
    mmp = MMPState(tx.window_ns, tx.quantity_max, tx.delta_max)
    if current is not None:
        # New limits do not clear a trip or forget the fills already counted.
        mmp.tripped = current.tripped
        mmp.fills = current.fills
        mmp.quantity = current.quantity
        mmp.delta = current.delta
    account.mmp[tx.index] = mmp
    return [MMPSet(account.id, tx.index, tx.window_ns, tx.quantity_max, tx.delta_max)]


def reset_mmp(state: State, tx: ResetMMP, seq: int, timestamp_ns: int, signer: KeyRecord) -> Result:
    account = state.accounts.get(tx.account)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    mmp = account.mmp.get(tx.index)
    if mmp is None:
        return Rejection(ErrorCode.MMP_NOT_SET, f"no MMP on {tx.index!r} for {account.id}")
    mmp.tripped = False
    mmp.fills.clear()
    mmp.quantity = 0
    mmp.delta = 0
    return [MMPReset(account.id, tx.index)]


def is_tripped(account: Account, index: str) -> bool:
    mmp = account.mmp.get(index)
    return mmp is not None and mmp.tripped


def fill_delta(market: Market, signed_lots: int) -> int:
    """Delta that `signed_lots` of the instrument carry, in millionths of a whole
    unit of the underlying, rounded toward zero."""
    spec = market.spec
    magnitude = (
        abs(signed_lots)
        * abs(market.delta_ppm)
        * spec.contract_size
        * spec.lot_size
        // market.underlying_per_lot_den
    )
    return magnitude if (signed_lots > 0) == (market.delta_ppm > 0) else -magnitude


def count_maker_fill(account: Account, market: Market, signed_lots: int, timestamp_ns: int) -> bool:
    """Count a fill of the account's resting order; True when it trips the protection
    (the caller cancels the account's orders once the match is done)."""
    mmp = account.mmp.get(market.spec.index)
    if mmp is None or mmp.tripped:
        return False
    fills = mmp.fills
    start = timestamp_ns - mmp.window_ns
    while fills and fills[0][0] <= start:
        _, lots, delta = fills.popleft()
        mmp.quantity -= lots
        mmp.delta -= delta
    delta = fill_delta(market, signed_lots)
    lots = abs(signed_lots)
    fills.append((timestamp_ns, lots, delta))
    mmp.quantity += lots
    mmp.delta += delta
    if mmp.quantity > mmp.quantity_max or abs(mmp.delta) > mmp.delta_max:
        mmp.tripped = True
        return True
    return False
