"""Handlers of the collateral family: Deposit, Withdraw, Transfer.

Each is a flat run of checks in the order docs/errors.md lists, then the change.
"""

from __future__ import annotations

from clearhouse.core.authority import KeyRecord
from clearhouse.core.checks import check_amount, check_name
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import AccountOpened, Deposited, Event, Transferred, Withdrawn
from clearhouse.core.ledger import Account
from clearhouse.core.numbers import balance_max_units
from clearhouse.core.state import State
from clearhouse.core.txs import Deposit, Transfer, Withdraw

Result = list[Event] | Rejection


def deposit(state: State, tx: Deposit, seq: int, timestamp_ns: int, signer: KeyRecord) -> Result:
    config = state.config
    if tx.asset != config.settlement_asset:
        return Rejection(
            ErrorCode.UNKNOWN_ASSET,
            f"unknown asset {tx.asset!r}: collateral is {config.settlement_asset}",
        )
    if (rejection := check_amount(tx.amount)) is not None:
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
            ErrorCode.BALANCE_LIMIT_EXCEEDED, f"balance would exceed {balance_max_units}"
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


def _check_debit(state: State, account: Account, amount: int) -> Rejection | None:
    if amount > account.cash:
        return Rejection(
            ErrorCode.INSUFFICIENT_FUNDS, f"amount {amount} exceeds cash {account.cash}"
        )
    margin = state.margin
    equity = margin.equity(account)
    required = margin.initial_requirement(account)
    if equity - amount < required:
        return Rejection(
            ErrorCode.INSUFFICIENT_MARGIN,
            f"equity {equity} less {amount} would fall below initial margin {required}",
        )
    return None


def check_withdrawal(
    state: State, account_id: str, asset: str, amount: int, large_allowed: bool
) -> Rejection | None:
    """Every check of a withdrawal; governance runs it again for large ones."""
    account = state.accounts.get(account_id)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {account_id!r}")
    if asset != state.config.settlement_asset:
        return Rejection(ErrorCode.UNKNOWN_ASSET, f"unknown asset {asset!r}")
    if (rejection := check_amount(amount)) is not None:
        return rejection
    if amount > state.config.large_withdrawal_units and not large_allowed:
        return Rejection(
            ErrorCode.APPROVAL_REQUIRED,
            f"withdrawals above {state.config.large_withdrawal_units} need governance approval",
        )
    return _check_debit(state, account, amount)


def withdraw(state: State, tx: Withdraw, seq: int, timestamp_ns: int, signer: KeyRecord) -> Result:
    rejection = check_withdrawal(state, tx.account, tx.asset, tx.amount, large_allowed=False)
    if rejection is not None:
        return rejection
    account = state.accounts[tx.account]
    state.credit(account, -tx.amount)
    state.withdrawals_total += tx.amount
    return [Withdrawn(account.id, tx.asset, tx.amount, account.cash)]


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
    if (rejection := check_amount(tx.amount)) is not None:
        return rejection
    if (rejection := _check_debit(state, source, tx.amount)) is not None:
        return rejection
    if destination.cash + tx.amount > balance_max_units:
        return Rejection(
            ErrorCode.BALANCE_LIMIT_EXCEEDED, f"balance would exceed {balance_max_units}"
        )
    state.credit(source, -tx.amount)
    state.credit(destination, tx.amount)
    events: list[Event] = [Transferred(source.id, destination.id, tx.asset, tx.amount)]
    if destination.in_margin_call:
        state.review_margin_call(destination, events)
    return events
