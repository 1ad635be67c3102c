"""The pure, deterministic state machine at the heart of clearhouse.

No I/O, no clock, no randomness, no threads, no floats in state. Its only input is
a sequenced transaction; its only output is a list of events or a rejection.
"""

from clearhouse.core.catalogue import default_catalogue
from clearhouse.core.codec import decode_transaction, decode_transaction_json, encode
from clearhouse.core.config import EngineConfig
from clearhouse.core.engine import GENESIS_HEAD, Engine
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import (
    AccountOpened,
    CancelReason,
    Deposited,
    Event,
    IndexPriceUpdated,
    MarginCallEnded,
    MarginCallStarted,
    MarkPriceUpdated,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    TradeExecuted,
    Transferred,
    Withdrawn,
)
from clearhouse.core.instruments import Instrument, InstrumentSpecError, Kind, OptionType
from clearhouse.core.outcomes import Accepted, EngineFault, Outcome, Rejected
from clearhouse.core.txs import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Deposit,
    MarkPrice,
    OracleUpdate,
    OrderType,
    Payload,
    PlaceOrder,
    SelfTradePrevention,
    Sequenced,
    Side,
    TimeInForce,
    Transaction,
    Transfer,
    Withdraw,
)
from clearhouse.core.views import AccountView, Depth, DepthLevel, PositionView

__all__ = [
    "GENESIS_HEAD",
    "Accepted",
    "AccountOpened",
    "AccountView",
    "AmendOrder",
    "CancelAll",
    "CancelOrder",
    "CancelReason",
    "Deposit",
    "Deposited",
    "Depth",
    "DepthLevel",
    "Engine",
    "EngineConfig",
    "EngineFault",
    "ErrorCode",
    "Event",
    "IndexPriceUpdated",
    "Instrument",
    "InstrumentSpecError",
    "Kind",
    "MarginCallEnded",
    "MarginCallStarted",
    "MarkPrice",
    "MarkPriceUpdated",
    "OptionType",
    "OracleUpdate",
    "OrderAccepted",
    "OrderAmended",
    "OrderCancelled",
    "OrderReduced",
    "OrderRested",
    "OrderType",
    "Outcome",
    "Payload",
    "PlaceOrder",
    "PositionView",
    "Rejected",
    "Rejection",
    "SelfTradePrevention",
    "Sequenced",
    "Side",
    "TimeInForce",
    "TradeExecuted",
    "Transaction",
    "Transfer",
    "Transferred",
    "Withdraw",
    "Withdrawn",
    "decode_transaction",
    "decode_transaction_json",
    "default_catalogue",
    "encode",
]
