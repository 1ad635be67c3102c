"""Handlers of the collateral family: Deposit, Withdraw, Transfer.

Each is a flat run of checks in the order docs/errors.md lists, then the change.
"""

from __future__ import annotations

from clearhouse.core.authority import KeyRecord
from clearhouse.core.checks import check_amount, check_name
from clearhouse.core.display import format_settlement
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import (
    AccountOpened,
    Deposited,
    Event,
    Transferred,
    WithdrawalCancelled,
    WithdrawalRequested,
    Withdrawn,
)
from clearhouse.core.ledger import Account
from clearhouse.core.numbers import balance_max_units
from clearhouse.core.state import PendingWithdrawal, State
from clearhouse.core.txs import CancelWithdrawal, Deposit, Transfer, Withdraw

Result = list[Event] | Rejection


def deposit(state: State, tx: Deposit, seq: int, timestamp_ns: int, signer: KeyRecord) -> Result:
    config = state.config
    if tx.asset != config.settlement_asset:
        return Rejection(
            ErrorCode.UNKNOWN_ASSET,
            f"unknown asset {tx.asset!r}: collateral is {config.settlement_asset}",
        )
    if (rejection := check_amount(tx.amount, lambda units: _money(state, units))) is not None:
        return rejection
    account = state.accounts.get(tx.account)
    if account is None:
        rejection = check_name(
            tx.account, "account", config.account_id_len_max, ErrorCode.INVALID_ACCOUNT_ID
        )
        if rejection is not None:
            return rejection
        if len(state.accounts) >= config.accounts_max:
            return Rejection(
                ErrorCode.ACCOUNTS_LIMIT,
                f"the venue holds its maximum of {config.accounts_max} accounts",
            )
    elif account.cash + tx.amount > balance_max_units:
        return Rejection(
            ErrorCode.BALANCE_LIMIT_EXCEEDED,
            f"balance would exceed {_money(state, balance_max_units)}",
        )
    events: list[Event] = []
    if account is None:
        account = Account(tx.account)
        state.accounts[tx.account] = account
        events.append(AccountOpened(tx.account))
    state.credit(account, tx.amount)
    state.deposits_total += tx.amount
    events.append(Deposited(account.id, tx.asset, tx.amount, account.cash))
    if account.in_margin_call:
        state.review_margin_call(account, events)
    return events


def _money(state: State, units: int) -> str:
    """An amount of collateral as people read it: in the asset, with separators, by the
    decimals the listed instruments state for it (raw units before any is listed)."""
    specs = [market.spec for market in state.markets.values()]
    return format_settlement(units, specs, state.config.settlement_asset)


def _check_debit(state: State, account: Account, amount: int) -> Rejection | None:
    """Cash that leaves an account must leave its initial margin covered with its
    unrealized gains left out (docs/ARCHITECTURE.md, Margin): a gain is not cash
    until it is realized, and paying it out is how a later fall becomes bad debt."""
    if amount > account.cash:
        return Rejection(
            ErrorCode.INSUFFICIENT_FUNDS,
            f"amount {_money(state, amount)} exceeds cash {_money(state, account.cash)}",
        )
    margin = state.margin_of(account)
    equity = margin.equity(account)
    required = margin.initial_requirement(account)
    if equity - amount < required:
        return Rejection(
            ErrorCode.INSUFFICIENT_MARGIN,
            f"equity {_money(state, equity)} less {_money(state, amount)} would fall below"
            f" initial margin {_money(state, required)}",
        )
    gains = margin.unrealized_gains(account)
    if equity - gains - amount < required:
        return Rejection(
            ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE,
            f"equity {_money(state, equity)} less unrealized gains {_money(state, gains)}"
            f" less {_money(state, amount)} would fall below initial margin"
            f" {_money(state, required)}: gains are not cash until the position is closed",
        )
    return None


def withdraw(state: State, tx: Withdraw, seq: int, timestamp_ns: int, signer: KeyRecord) -> Result:
    """Pay out at once, or, above the large-withdrawal threshold, hold the amount aside
    as a request that governance approves (ApproveWithdrawal) or its owner cancels."""
    account = state.accounts.get(tx.account)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    if tx.asset != state.config.settlement_asset:
        return Rejection(ErrorCode.UNKNOWN_ASSET, f"unknown asset {tx.asset!r}")
    if (rejection := check_amount(tx.amount, lambda units: _money(state, units))) is not None:
        return rejection
    large = tx.amount > state.config.large_withdrawal_units
    if large and account.pending_withdrawals >= state.config.pending_withdrawals_per_account_max:
        return Rejection(
            ErrorCode.WITHDRAWALS_PENDING_LIMIT,
            f"at most {state.config.pending_withdrawals_per_account_max} large withdrawals pending",
        )
    if (rejection := _check_debit(state, account, tx.amount)) is not None:
        return rejection
    state.credit(account, -tx.amount)
    if large:
        state.pending_withdrawals[seq] = PendingWithdrawal(seq, account.id, tx.asset, tx.amount)
        state.pending_total += tx.amount
        account.pending_withdrawals += 1
        return [WithdrawalRequested(seq, account.id, tx.asset, tx.amount, account.cash)]
    state.withdrawals_total += tx.amount
    return [Withdrawn(account.id, tx.asset, tx.amount, account.cash)]


def cancel_withdrawal(
    state: State, tx: CancelWithdrawal, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    account = state.accounts.get(tx.account)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    request = state.pending_withdrawals.get(tx.request_id)
    if request is None or request.account != account.id:
        return Rejection(
            ErrorCode.UNKNOWN_WITHDRAWAL, f"no pending withdrawal {tx.request_id} for {account.id}"
        )
    del state.pending_withdrawals[tx.request_id]
    state.pending_total -= request.amount
    account.pending_withdrawals -= 1
    state.credit(account, request.amount)
    events: list[Event] = [
        WithdrawalCancelled(request.request_id, account.id, request.amount, account.cash)
    ]
    if account.in_margin_call:
        state.review_margin_call(account, events)
    return events


def pay_withdrawal(state: State, request_id: int, events: list[Event]) -> None:
    """Complete a pending large withdrawal (governance has approved it). The amount
    left the account's balance when it was requested, through `_check_debit`
    (unrealized gains left out); paying it takes nothing more from the account."""
    request = state.pending_withdrawals.pop(request_id)
    account = state.accounts[request.account]
    state.pending_total -= request.amount
    state.withdrawals_total += request.amount
    account.pending_withdrawals -= 1
    events.append(Withdrawn(account.id, request.asset, request.amount, account.cash))


def transfer(state: State, tx: Transfer, seq: int, timestamp_ns: int, signer: KeyRecord) -> Result:
    source = state.accounts.get(tx.source)
    if source is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.source!r}")
    destination = state.accounts.get(tx.destination)
    if destination is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.destination!r}")
    if source is destination:
        return Rejection(ErrorCode.SAME_ACCOUNT, "source and destination are the same account")
    if tx.asset != state.config.settlement_asset:
        return Rejection(ErrorCode.UNKNOWN_ASSET, f"unknown asset {tx.asset!r}")
    if (rejection := check_amount(tx.amount, lambda units: _money(state, units))) is not None:
        return rejection
    if (rejection := _check_debit(state, source, tx.amount)) is not None:
        return rejection
    if destination.cash + tx.amount > balance_max_units:
        return Rejection(
            ErrorCode.BALANCE_LIMIT_EXCEEDED,
            f"balance would exceed {_money(state, balance_max_units)}",
        )
    state.credit(source, -tx.amount)
    state.credit(destination, tx.amount)
    events: list[Event] = [Transferred(source.id, destination.id, tx.asset, tx.amount)]
    if destination.in_margin_call:
        state.review_margin_call(destination, events)
    return events
