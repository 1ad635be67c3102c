"""The instruction set: every state change the engine accepts.

| family      | transaction                                    | signed by                                 |
|-------------|------------------------------------------------|-------------------------------------------|
| collateral  | Deposit                                        | custodian                                 |
|             | Withdraw, Transfer, CancelWithdrawal           | the account owner's trader/market-maker key |
| trading     | PlaceOrder, CancelOrder, CancelAll, AmendOrder | the owner's trader/market-maker key, or a trade sub-key of the account |
| market data | OracleUpdate                                   | oracle                                    |
| controls    | HaltMarket                                     | risk officer or surveillance              |
|             | ResumeMarket                                   | risk officer                              |
|             | KillSwitch                                     | the account's owner, or a risk officer    |
| risk        | SetMarginMode, SetMMP, ResetMMP                | the account owner's trading key (MMP also a trade sub-key) |
| lifecycle   | Liquidate, SettleExpiry, FundingTick           | keeper                                    |
| keys        | AddSubKey, RevokeSubKey, RotateSubKey          | the account owner's trader/market-maker key |
| governance  | Propose, Approve, CancelProposal, ExecuteProposal | governor                               |

Governance proposals carry one `Action`: ListInstrument, SetRiskParams, GrantRole,
RevokeRole, RotateKey, ApproveWithdrawal. docs/authorization.md has the whole
permission matrix.

A payload is one frozen `msgspec.Struct` of a tagged union (`type` is the tag). It
travels in a `Transaction` envelope that carries the signer's public key, a nonce,
an expiry and the signature; the sequencer wraps that in `Sequenced`, adding the
sequence number and the sequencer's timestamp, the only time the core ever sees.

Prices on the wire are settlement units (USDC micro-dollars) per whole unit of
underlying and must lie on the instrument's tick grid; sizes are lots. Decoding
checks types and the size bounds below (string and bytes lengths; integers within
what msgpack carries, in clearhouse.core.codec); ranges and the grid are the engine's
checks, so each out-of-range field gets its own error code.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Final

import msgspec

from clearhouse.core.instruments import Instrument
from clearhouse.core.roles import Role

STRING_LEN_MAX: Final = 256
KEY_BYTES_MAX: Final = 32
SIGNATURE_BYTES_MAX: Final = 64

# Bounds the decoder enforces on what comes from outside (VALUE_OUT_OF_RANGE). They
# only cap size: what a name or a key must be is the engine's check, with its own code.
Text = Annotated[str, msgspec.Meta(max_length=STRING_LEN_MAX)]
"""An account, asset, instrument or index name, a client order id, an owner."""
KeyBytes = Annotated[bytes, msgspec.Meta(max_length=KEY_BYTES_MAX)]
"""An Ed25519 public key."""
SignatureBytes = Annotated[bytes, msgspec.Meta(max_length=SIGNATURE_BYTES_MAX)]
"""An Ed25519 signature."""


class Side(Enum):
    BUY = "buy"
    SELL = "sell"


class OrderType(Enum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(Enum):
    GTC = "gtc"
    """Good till cancelled: the unfilled part rests on the book."""
    IOC = "ioc"
    """Immediate or cancel: fill what crosses now, cancel the rest."""
    FOK = "fok"
    """Fill or kill: fill all of it now, or refuse the order."""


class SelfTradePrevention(Enum):
    CANCEL_TAKER = "cancel_taker"
    CANCEL_MAKER = "cancel_maker"
    CANCEL_BOTH = "cancel_both"
    DECREMENT_AND_CANCEL = "decrement_and_cancel"


class _Payload(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    pass


# -- collateral --------------------------------------------------------------


class Deposit(_Payload, frozen=True, tag="deposit"):
    """Credit collateral to an account, opening the account on its first deposit."""

    account: Text
    asset: Text
    amount: int


class Withdraw(_Payload, frozen=True, tag="withdraw"):
    account: Text
    asset: Text
    amount: int


class Transfer(_Payload, frozen=True, tag="transfer"):
    source: Text
    destination: Text
    asset: Text
    amount: int


# -- trading -----------------------------------------------------------------


class PlaceOrder(_Payload, frozen=True, tag="place_order"):
    account: Text
    instrument: Text
    side: Side
    size: int
    price: int | None = None
    order_type: OrderType = OrderType.LIMIT
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    client_order_id: Text = ""
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_TAKER


class CancelOrder(_Payload, frozen=True, tag="cancel_order"):
    """Cancel one open order, named by engine order id or by client order id."""

    account: Text
    order_id: int = 0
    client_order_id: Text = ""


class CancelWithdrawal(_Payload, frozen=True, tag="cancel_withdrawal"):
    """Withdraw a pending large-withdrawal request; its amount returns to the balance."""

    account: Text
    request_id: int


class CancelAll(_Payload, frozen=True, tag="cancel_all"):
    """Cancel every open order of an account, or only those in one instrument."""

    account: Text
    instrument: Text = ""


class AmendOrder(_Payload, frozen=True, tag="amend_order"):
    """Change an open order's price and/or remaining size.

    A price change or a size increase sends the order to the back of its level; a
    size decrease keeps its place.
    """

    account: Text
    order_id: int
    price: int | None = None
    size: int | None = None


# -- market data -------------------------------------------------------------


class ExpiryQuote(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One source's view of one expiry of the index.

    `basis`: the expiry's forward less the index, in settlement units (futures mark at
    index + basis; options on the expiry price off that forward). Volatility, in parts
    per million, is a smile: ``vol(K) = atm_vol_ppm + skew_ppm * (K - F) / F``
    (floored), so `skew_ppm` is the vol change per 100 % of moneyness.
    """

    expiry_ns: int
    atm_vol_ppm: int = 0
    skew_ppm: int = 0
    basis: int = 0


class OracleUpdate(_Payload, frozen=True, tag="oracle_update"):
    """One oracle source's observation of an index, and of its expiries.

    `observed_ns` is when the source saw the price; an observation older than the
    staleness bound (sequencer time) or from the future is refused. The index moves
    to the median of the fresh sources, within the per-update move bound.
    """

    index: Text
    price: int
    observed_ns: int
    expiries: tuple[ExpiryQuote, ...] = ()


# -- controls ------------------------------------------------------------------


class HaltMarket(_Payload, frozen=True, tag="halt_market"):
    """Stop trading in one instrument, or in every instrument on an index."""

    instrument: Text = ""
    index: Text = ""


class ResumeMarket(_Payload, frozen=True, tag="resume_market"):
    instrument: Text = ""
    index: Text = ""


class KillSwitch(_Payload, frozen=True, tag="kill_switch"):
    """Engage (cancel every open order, refuse new ones) or release an account's kill
    switch. Its owner engages and releases its own; a risk officer may do both for any
    account, and the owner cannot release what a risk officer engaged."""

    account: Text
    engaged: bool = True


class MarginMode(Enum):
    STANDARD = "standard"
    PORTFOLIO = "portfolio"


class SetMarginMode(_Payload, frozen=True, tag="set_margin_mode"):
    """Choose standard or portfolio margin; refused if the account would not meet
    initial margin under the new mode."""

    account: Text
    mode: MarginMode


class SetMMP(_Payload, frozen=True, tag="set_mmp"):
    """Market maker protection for one underlying: when the account's resting orders
    on `index` fill more than `quantity_max` lots, or a net delta beyond `delta_max`
    (millionths of a whole unit of the underlying), within `window_ns`, its orders there
    are cancelled and new ones refused until ResetMMP."""

    account: Text
    index: Text
    window_ns: int
    quantity_max: int
    delta_max: int


class ResetMMP(_Payload, frozen=True, tag="reset_mmp"):
    account: Text
    index: Text


# -- lifecycle -------------------------------------------------------------------


class Liquidate(_Payload, frozen=True, tag="liquidate"):
    """Take over an account below maintenance margin (see clearhouse.core.liquidation)."""

    account: Text


class SettleExpiry(_Payload, frozen=True, tag="settle_expiry"):
    """Settle every position of an expired future or option at the settlement price."""

    instrument: Text


class FundingTick(_Payload, frozen=True, tag="funding_tick"):
    """Pay a perpetual's funding for the interval just ended."""

    instrument: Text


# -- keys ----------------------------------------------------------------------


class SubKeyScope(Enum):
    TRADE = "trade"
    """May place, amend and cancel orders for its account; never withdraw or transfer."""
    READ = "read"
    """May sign nothing that changes state (it authenticates reads)."""


class AddSubKey(_Payload, frozen=True, tag="add_sub_key"):
    """Give an account a scoped API key, optionally with a per-order size limit (lots)."""

    account: Text
    public_key: KeyBytes
    scope: SubKeyScope
    order_size_max: int = 0


class RevokeSubKey(_Payload, frozen=True, tag="revoke_sub_key"):
    """Void a sub-key for every transaction sequenced at or after `void_from_seq`."""

    account: Text
    public_key: KeyBytes
    void_from_seq: int


class RotateSubKey(_Payload, frozen=True, tag="rotate_sub_key"):
    """Replace a sub-key: the new key takes its scope now, the old is void from a point."""

    account: Text
    public_key: KeyBytes
    new_public_key: KeyBytes
    void_from_seq: int


# -- governance ----------------------------------------------------------------


class _Action(msgspec.Struct, frozen=True, forbid_unknown_fields=True, tag_field="action"):
    pass


class ListInstrument(_Action, frozen=True, tag="list_instrument"):
    instrument: Instrument


class SetRiskParams(_Action, frozen=True, tag="set_risk_params"):
    """Change an instrument's margin rates and size limits; unset fields stay as they are."""

    instrument: Text
    initial_margin_bps: int | None = None
    maintenance_margin_bps: int | None = None
    short_option_margin_bps: int | None = None
    short_option_floor_bps: int | None = None
    short_option_maintenance_bps: int | None = None
    order_size_max_lots: int | None = None
    position_max_lots: int | None = None


class GrantRole(_Action, frozen=True, tag="grant_role"):
    """Grant a role to a key (registering the key for `owner` if it is new)."""

    public_key: KeyBytes
    owner: Text
    role: Role


class RevokeRole(_Action, frozen=True, tag="revoke_role"):
    public_key: KeyBytes
    role: Role


class RotateKey(_Action, frozen=True, tag="rotate_key"):
    """Move every role of a key (a governor's, say) to a new key; the old one is void."""

    public_key: KeyBytes
    new_public_key: KeyBytes


class ApproveWithdrawal(_Action, frozen=True, tag="approve_withdrawal"):
    """Pay a large withdrawal its owner requested (the request's id is its seq)."""

    request_id: int


Action = ListInstrument | SetRiskParams | GrantRole | RevokeRole | RotateKey | ApproveWithdrawal


class Propose(_Payload, frozen=True, tag="propose"):
    """Open a proposal; its id is the sequence number of this transaction."""

    action: Action


class Approve(_Payload, frozen=True, tag="approve"):
    proposal_id: int


class CancelProposal(_Payload, frozen=True, tag="cancel_proposal"):
    proposal_id: int


class ExecuteProposal(_Payload, frozen=True, tag="execute_proposal"):
    proposal_id: int


Payload = (
    Deposit
    | Withdraw
    | Transfer
    | PlaceOrder
    | CancelOrder
    | CancelAll
    | AmendOrder
    | OracleUpdate
    | HaltMarket
    | ResumeMarket
    | KillSwitch
    | SetMarginMode
    | SetMMP
    | ResetMMP
    | Liquidate
    | SettleExpiry
    | FundingTick
    | CancelWithdrawal
    | AddSubKey
    | RevokeSubKey
    | RotateSubKey
    | Propose
    | Approve
    | CancelProposal
    | ExecuteProposal
)

PAYLOAD_TYPES: tuple[type[_Payload], ...] = (
    Deposit,
    Withdraw,
    Transfer,
    PlaceOrder,
    CancelOrder,
    CancelAll,
    AmendOrder,
    OracleUpdate,
    HaltMarket,
    ResumeMarket,
    KillSwitch,
    SetMarginMode,
    SetMMP,
    ResetMMP,
    Liquidate,
    SettleExpiry,
    FundingTick,
    CancelWithdrawal,
    AddSubKey,
    RevokeSubKey,
    RotateSubKey,
    Propose,
    Approve,
    CancelProposal,
    ExecuteProposal,
)


class Transaction(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A signed request to change state.

    `signature` covers the canonical encoding of everything else with domain
    separation; verifying it happens before sequencing.
    """

    payload: Payload
    signer: KeyBytes = b""
    nonce: int = 0
    expires_at_ns: int = 0
    signature: SignatureBytes = b""


class Sequenced(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A transaction with its place in the total order: the core's only input."""

    seq: int
    timestamp_ns: int
    tx: Transaction
