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
from clearhouse.core.txs import Action, MarginMode, OrderType, Side, SubKeyScope, TimeInForce


class CancelReason(Enum):
    REQUESTED = "requested"
    CANCEL_ALL = "cancel_all"
    UNFILLED_IOC = "unfilled_ioc"
    SELF_TRADE = "self_trade"
    REDUCE_ONLY_TRIMMED = "reduce_only_trimmed"
    KILL_SWITCH = "kill_switch"
    MMP = "mmp"
    LIQUIDATION = "liquidation"
    EXPIRED = "expired"


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


# -- market data and controls -------------------------------------------------------


class OracleObserved(_Event, frozen=True, tag="oracle_observed"):
    """A source's observation was recorded; `fresh_sources` counts the sources whose
    latest observation is fresh now (the index moves only with enough of them)."""

    index: str
    source: str
    price: int
    observed_ns: int
    fresh_sources: int


class IndexClamped(_Event, frozen=True, tag="index_clamped"):
    """The median moved further than one update may; the index took the bound."""

    index: str
    median: int
    accepted: int


class ExpiryQuoted(_Event, frozen=True, tag="expiry_quoted"):
    index: str
    expiry_ns: int
    atm_vol_ppm: int
    skew_ppm: int
    basis: int


class CircuitBreakerTripped(_Event, frozen=True, tag="circuit_breaker_tripped"):
    index: str
    reference_price: int
    price: int
    window_ns: int


class HaltReason(Enum):
    RISK_OFFICER = "risk_officer"
    SURVEILLANCE = "surveillance"
    CIRCUIT_BREAKER = "circuit_breaker"


class MarketHalted(_Event, frozen=True, tag="market_halted"):
    instrument: str
    reason: HaltReason


class MarketResumed(_Event, frozen=True, tag="market_resumed"):
    instrument: str


class KillSwitchSet(_Event, frozen=True, tag="kill_switch_set"):
    account: str
    engaged: bool
    by_risk_officer: bool
    """Set by the venue's staff (a risk officer, or surveillance engaging it): held
    until a risk officer releases it."""


class MarginModeSet(_Event, frozen=True, tag="margin_mode_set"):
    account: str
    mode: MarginMode


class MMPSet(_Event, frozen=True, tag="mmp_set"):
    account: str
    index: str
    window_ns: int
    quantity_max: int
    delta_max: int


class MMPTripped(_Event, frozen=True, tag="mmp_tripped"):
    account: str
    index: str
    quantity: int
    delta: int


class MMPReset(_Event, frozen=True, tag="mmp_reset"):
    account: str
    index: str


# -- lifecycle ----------------------------------------------------------------------


class LiquidationStarted(_Event, frozen=True, tag="liquidation_started"):
    account: str
    equity: int
    maintenance_margin: int


class LiquidationFeeCharged(_Event, frozen=True, tag="liquidation_fee_charged"):
    account: str
    instrument: str
    amount: int


class PositionTakenOver(_Event, frozen=True, tag="position_taken_over"):
    """The insurance fund took `size` lots (signed, as the liquidated account held
    them) at the bankruptcy price."""

    account: str
    instrument: str
    size: int
    price: int


class PositionDeleveraged(_Event, frozen=True, tag="position_deleveraged"):
    """Auto-deleveraging closed `size` lots of `counterparty` (signed, as it held them)
    against the liquidated account, at `price`."""

    account: str
    counterparty: str
    instrument: str
    size: int
    price: int
    rank: int


class LossSocialized(_Event, frozen=True, tag="loss_socialized"):
    """A liquidated account ended flat owing `deficit`: the insurance fund paid
    `insurance_paid` from its free cash, and `amount` was charged to the accounts with
    positive balances in proportion to them, each (account, charge) in
    `charged_accounts` (sorted by account id). `amount` is 0 when the fund paid it
    all; `insurance_paid + amount < deficit` only if nobody had cash left to charge
    (an invariant then stops the engine)."""

    account: str
    deficit: int
    insurance_paid: int
    amount: int
    charged_accounts: tuple[tuple[str, int], ...]


class LiquidationEnded(_Event, frozen=True, tag="liquidation_ended"):
    account: str
    equity: int
    maintenance_margin: int


class InstrumentSettled(_Event, frozen=True, tag="instrument_settled"):
    """A future or option settled at `settlement_price`, the time-weighted average
    index over the window from `window_start_ns` to `window_end_ns` (its expiry)."""

    instrument: str
    settlement_price: int
    window_start_ns: int
    window_end_ns: int


class PositionSettled(_Event, frozen=True, tag="position_settled"):
    account: str
    instrument: str
    size: int
    """The position settled, lots (negative: short)."""
    amount: int
    """Cash the account received (negative: paid) at settlement: for a future its whole
    P&L from entry, for an option the intrinsic value."""


class FundingPaid(_Event, frozen=True, tag="funding_paid"):
    """`rate_ppm` of the notional at `mark_price` for the period from
    `interval_start_ns` to `interval_end_ns`: longs pay shorts when positive. Payers
    paid `paid` in all, receivers got `received`, the insurance fund the rest."""

    instrument: str
    rate_ppm: int
    index_price: int
    mark_price: int
    interval_start_ns: int
    interval_end_ns: int
    paid: int
    received: int
    remainder_to_insurance: int


class AccountFunded(_Event, frozen=True, tag="account_funded"):
    account: str
    instrument: str
    amount: int
    """Funding the account received (negative: paid)."""


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
    | OracleObserved
    | IndexClamped
    | ExpiryQuoted
    | CircuitBreakerTripped
    | MarketHalted
    | MarketResumed
    | KillSwitchSet
    | MarginModeSet
    | MMPSet
    | MMPTripped
    | MMPReset
    | LiquidationStarted
    | LiquidationFeeCharged
    | PositionTakenOver
    | PositionDeleveraged
    | LossSocialized
    | LiquidationEnded
    | InstrumentSettled
    | PositionSettled
    | FundingPaid
    | AccountFunded
)
