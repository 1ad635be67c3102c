"""Handlers of the controls family: HaltMarket, ResumeMarket, KillSwitch, SetMarginMode.

A halt names one instrument or a whole index; while halted, a market takes no new
orders or amendments (cancels still go through) and liquidation skips its book. A
halt by the circuit breaker, like any other, ends only by a risk officer's
ResumeMarket.

A kill switch cancels every open order of the account and refuses new ones until
released. An owner engages and releases its own; a risk officer may engage or release
any account's, surveillance may engage any account's (its automatic response to an
alert), and an owner cannot release what a risk officer or surveillance engaged:
only a risk officer can.
"""

from __future__ import annotations

from clearhouse.core.authority import RISK_OFFICER, STAFF, SURVEILLANCE, KeyRecord
from clearhouse.core.display import format_settlement
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import (
    CancelReason,
    Event,
    HaltReason,
    KillSwitchSet,
    MarginModeSet,
    MarketHalted,
    MarketResumed,
)
from clearhouse.core.ledger import (
    KILL_SWITCH_OFF,
    KILL_SWITCH_OWNER,
    KILL_SWITCH_RISK_OFFICER,
)
from clearhouse.core.market import Market
from clearhouse.core.state import State
from clearhouse.core.trading import cancel_orders
from clearhouse.core.txs import HaltMarket, KillSwitch, MarginMode, ResumeMarket, SetMarginMode

Result = list[Event] | Rejection


def _targets(state: State, instrument: object, index: object) -> list[Market] | Rejection:
    if type(instrument) is not str or type(index) is not str:
        return Rejection(ErrorCode.WRONG_TYPE, "instrument and index must be strings")
    if bool(instrument) == bool(index):
        return Rejection(ErrorCode.HALT_TARGET_INVALID, "name an instrument or an index, not both")
    if instrument:
        market = state.markets.get(instrument)
        if market is None:
            return Rejection(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {instrument!r}")
        return [market]
    markets = state.index_markets.get(index)
    if markets is None:
        return Rejection(ErrorCode.UNKNOWN_INDEX, f"unknown index {index!r}")
    return [m for m in markets if not m.settled]


def halt_market(
    state: State, tx: HaltMarket, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    markets = _targets(state, tx.instrument, tx.index)
    if type(markets) is Rejection:
        return markets
    reason = HaltReason.RISK_OFFICER if signer.roles & RISK_OFFICER else HaltReason.SURVEILLANCE
    events: list[Event] = []
    for market in markets:  # type: ignore[union-attr]
        if market.halt_reason is None:
            market.halt_reason = reason
            events.append(MarketHalted(market.spec.id, reason))
    if not events:
        return Rejection(ErrorCode.MARKET_HALTED, "already halted")
    return events


def resume_market(
    state: State, tx: ResumeMarket, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    markets = _targets(state, tx.instrument, tx.index)
    if type(markets) is Rejection:
        return markets
    events: list[Event] = []
    for market in markets:  # type: ignore[union-attr]
        if market.halt_reason is not None:
            market.halt_reason = None
            events.append(MarketResumed(market.spec.id))
    if not events:
        return Rejection(ErrorCode.MARKET_NOT_HALTED, "not halted")
    return events


def kill_switch(
    state: State, tx: KillSwitch, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    account = state.accounts.get(tx.account)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    if type(tx.engaged) is not bool:
        return Rejection(ErrorCode.WRONG_TYPE, "engaged must be a boolean")
    by_officer = bool(signer.roles & STAFF)
    if not tx.engaged and signer.roles & SURVEILLANCE and not signer.roles & RISK_OFFICER:
        return Rejection(
            ErrorCode.ROLE_FORBIDDEN,
            "surveillance engages kill switches; a risk officer releases them",
        )
    current = account.kill_switch
    if tx.engaged == (current != KILL_SWITCH_OFF) and not (
        tx.engaged and by_officer and current == KILL_SWITCH_OWNER
    ):
        return Rejection(
            ErrorCode.KILL_SWITCH_UNCHANGED,
            f"the kill switch is already {'engaged' if tx.engaged else 'released'}",
        )
    if not tx.engaged and current == KILL_SWITCH_RISK_OFFICER and not by_officer:
        return Rejection(
            ErrorCode.KILL_SWITCH_HELD,
            "a risk officer engaged this kill switch: only one may release it",
        )
    events: list[Event] = [KillSwitchSet(account.id, tx.engaged, by_officer)]
    if tx.engaged:
        account.kill_switch = KILL_SWITCH_RISK_OFFICER if by_officer else KILL_SWITCH_OWNER
        cancel_orders(state, account, None, CancelReason.KILL_SWITCH, events)
    else:
        account.kill_switch = KILL_SWITCH_OFF
    return events


def set_margin_mode(
    state: State, tx: SetMarginMode, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    account = state.accounts.get(tx.account)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    mode = tx.mode
    if type(mode) is not MarginMode:
        return Rejection(ErrorCode.WRONG_TYPE, "mode must be standard or portfolio")
    if mode is account.margin_mode:
        return Rejection(ErrorCode.MARGIN_MODE_UNCHANGED, f"the account is already on {mode.value}")
    previous = account.margin_mode
    portfolio = state.portfolio_margin
    if mode is MarginMode.PORTFOLIO:
        portfolio.attach(account)
    account.margin_mode = mode
    model = state.margin_of(account)
    equity = model.equity(account)
    required = model.initial_requirement(account)
    if equity < required:
        account.margin_mode = previous
        if mode is MarginMode.PORTFOLIO:
            portfolio.detach(account)
        return Rejection(
            ErrorCode.INSUFFICIENT_MARGIN,
            f"equity {_collateral(state, equity)} is below the {mode.value} initial margin "
            f"{_collateral(state, required)}",
        )
    if previous is MarginMode.PORTFOLIO:
        portfolio.detach(account)
    events: list[Event] = [MarginModeSet(account.id, mode)]
    state.review_margin_call(account, events)
    return events


def _collateral(state: State, units: int) -> str:
    specs = [market.spec for market in state.markets.values()]
    return format_settlement(units, specs, state.config.settlement_asset)
