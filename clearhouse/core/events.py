"""Events: what a transaction did, in the past tense.

An accepted transaction yields a list of events; replaying the journal must yield
the same events byte for byte. Amounts are integers: collateral in settlement
units, prices in settlement units per whole underlying (as on the wire), sizes in
lots.
"""

from __future__ import annotations

from enum import Enum

import msgspec

from clearhouse.core.roles import Role
from clearhouse.core.txs import Action, OrderType, Side, SubKeyScope, TimeInForce


class CancelReason(Enum):
    REQUESTED = "requested"
    CANCEL_ALL = "cancel_all"
    UNFILLED_IOC = "unfilled_ioc"
    SELF_TRADE = "self_trade"
    REDUCE_ONLY_TRIMMED = "reduce_only_trimmed"


class _Event(msgspec.Struct, frozen=True, tag_field="event"):
    pass


class AccountOpened(_Event, frozen=True, tag="account_opened"):
    account: str


class Deposited(_Event, frozen=True, tag="deposited"):
    account: str
    asset: str
    amount: int
    balance: int


class Withdrawn(_Event, frozen=True, tag="withdrawn"):
    account: str
    asset: str
    amount: int
    balance: int


class WithdrawalRequested(_Event, frozen=True, tag="withdrawal_requested"):
    request_id: int
    account: str
    asset: str
    amount: int
    balance: int


class WithdrawalCancelled(_Event, frozen=True, tag="withdrawal_cancelled"):
    request_id: int
    account: str
    amount: int
    balance: int


class Transferred(_Event, frozen=True, tag="transferred"):
    source: str
    destination: str
    asset: str
    amount: int


class OrderAccepted(_Event, frozen=True, tag="order_accepted"):
    order_id: int
    account: str
    instrument: str
    side: Side
    price: int
    size: int
    order_type: OrderType
    time_in_force: TimeInForce
    post_only: bool
    reduce_only: bool
    client_order_id: str


class OrderRested(_Event, frozen=True, tag="order_rested"):
    order_id: int
    price: int
    remaining: int


class TradeExecuted(_Event, frozen=True, tag="trade_executed"):
    instrument: str
    price: int
    size: int
    taker_side: Side
    maker_order_id: int
    taker_order_id: int
    maker_account: str
    taker_account: str
    maker_fee: int
    taker_fee: int
    maker_realized_pnl: int
    taker_realized_pnl: int
    maker_remaining: int
    taker_remaining: int


class OrderCancelled(_Event, frozen=True, tag="order_cancelled"):
    order_id: int
    account: str
    instrument: str
    remaining: int
    reason: CancelReason


class OrderReduced(_Event, frozen=True, tag="order_reduced"):
    """A resting order lost size but kept its place (self-trade decrement)."""

    order_id: int
    remaining: int
    reason: CancelReason


class OrderAmended(_Event, frozen=True, tag="order_amended"):
    order_id: int
    price: int
    remaining: int
    priority_kept: bool


class IndexPriceUpdated(_Event, frozen=True, tag="index_price_updated"):
    index: str
    price: int


class MarkPriceUpdated(_Event, frozen=True, tag="mark_price_updated"):
    instrument: str
    price: int


class MarginCallStarted(_Event, frozen=True, tag="margin_call_started"):
    account: str
    equity: int
    maintenance_margin: int


class MarginCallEnded(_Event, frozen=True, tag="margin_call_ended"):
    account: str
    equity: int
    maintenance_margin: int


class SubKeyAdded(_Event, frozen=True, tag="sub_key_added"):
    account: str
    public_key: bytes
    scope: SubKeyScope
    order_size_max: int


class SubKeyRevoked(_Event, frozen=True, tag="sub_key_revoked"):
    account: str
    public_key: bytes
    void_from_seq: int


class SubKeyRotated(_Event, frozen=True, tag="sub_key_rotated"):
    account: str
    public_key: bytes
    new_public_key: bytes
    void_from_seq: int


class ProposalOpened(_Event, frozen=True, tag="proposal_opened"):
    proposal_id: int
    proposer: bytes
    action: Action
    executable_from_ns: int


class ProposalApproved(_Event, frozen=True, tag="proposal_approved"):
    proposal_id: int
    approver: bytes
    approvals: int


class ProposalCancelled(_Event, frozen=True, tag="proposal_cancelled"):
    proposal_id: int
    cancelled_by: bytes


class ProposalExecuted(_Event, frozen=True, tag="proposal_executed"):
    proposal_id: int
    approvals: int


class InstrumentListed(_Event, frozen=True, tag="instrument_listed"):
    instrument: str


class RiskParamsSet(_Event, frozen=True, tag="risk_params_set"):
    instrument: str
    initial_margin_bps: int
    maintenance_margin_bps: int
    order_size_max_lots: int
    position_max_lots: int


class RoleGranted(_Event, frozen=True, tag="role_granted"):
    public_key: bytes
    owner: str
    role: Role


class RoleRevoked(_Event, frozen=True, tag="role_revoked"):
    public_key: bytes
    role: Role


class KeyRotated(_Event, frozen=True, tag="key_rotated"):
    public_key: bytes
    new_public_key: bytes
    void_from_seq: int


Event = (
    AccountOpened
    | Deposited
    | Withdrawn
    | WithdrawalRequested
    | WithdrawalCancelled
    | Transferred
    | OrderAccepted
    | OrderRested
    | TradeExecuted
    | OrderCancelled
    | OrderReduced
    | OrderAmended
    | IndexPriceUpdated
    | MarkPriceUpdated
    | MarginCallStarted
    | MarginCallEnded
    | SubKeyAdded
    | SubKeyRevoked
    | SubKeyRotated
    | ProposalOpened
    | ProposalApproved
    | ProposalCancelled
    | ProposalExecuted
    | InstrumentListed
    | RiskParamsSet
    | RoleGranted
    | RoleRevoked
    | KeyRotated
)
