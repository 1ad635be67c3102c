"""Bad input, field by field: every malformed or out-of-range field of every
transaction is refused with its own error code, and the state is exactly as before.

Each table row is a payload (or the bytes of one on the wire) and the code it must
get. Every row runs against a fresh copy of one small venue:

- alice and bob are rich market makers; alice bids BTC-PERP (client id
  "alice-1"), bob offers it ("bob-1") and holds two offers in BTC-TINY, a
  perpetual whose order and position limits are 10 lots, so his position there
  could already reach -10;
- carol has 1M USD and as many open orders as the venue allows (4);
- dave bought 100 lots at 100,000 and the index fell to 92,000: he is in a margin
  call;
- whale holds the largest balance an account may hold;
- the venue holds its maximum of 5 accounts and takes at most 4 marks per update.

Payloads are built in Python with `replace(valid, field=bad)` (msgspec does not
check types on construction, so a float or a bool gets as far as `apply`), and
valid versions of every transaction are shown to be accepted in the same venue,
so each row fails for the one reason it names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from clearhouse.core import (
    GENESIS_HEAD,
    Accepted,
    AmendOrder,
    CancelAll,
    CancelOrder,
    Deposit,
    Engine,
    EngineConfig,
    ErrorCode,
    Instrument,
    Kind,
    MarkPrice,
    OracleUpdate,
    OrderType,
    Outcome,
    Payload,
    PlaceOrder,
    Rejected,
    Rejection,
    SelfTradePrevention,
    Sequenced,
    Side,
    TimeInForce,
    TradeExecuted,
    Transaction,
    Transfer,
    Withdraw,
    decode_transaction,
    decode_transaction_json,
    default_catalogue,
)
from clearhouse.core.catalogue import expiry_ns
from clearhouse.core.numbers import amount_max_units, balance_max_units, price_max_units

E = ErrorCode
USD = 1_000_000
TICK = 500_000
"""BTC-PERP's tick: 0.50 USD."""
OPTION_TICK = 5_000_000
SIZE_MAX = 1_000_000
"""The default catalogue's order_size_max_lots."""
HUGE = 2**80
U64_MAX = 2**64 - 1
"""The largest integer msgpack can carry."""
T0 = 1_700_000_000 * 10**9
CALL = "BTC-25DEC26-100000-C"
"""The one option with a mark."""
UNMARKED_PUT = "BTC-26MAR27-90000-P"
ETH_CALL = "ETH-25DEC26-3500-C"
DEC26_EXPIRY = expiry_ns(2026, 12, 25)

TINY = Instrument(
    id="BTC-TINY",
    kind=Kind.PERPETUAL,
    index="BTC-USD",
    settlement_asset="USDC",
    settlement_decimals=6,
    underlying_decimals=8,
    tick_size=TICK,
    contract_size=100_000,
    lot_size=1,
    order_size_max_lots=10,
    position_max_lots=10,
)
CONFIG = EngineConfig(accounts_max=5, orders_per_account_max=4, marks_per_update_max=4)


@dataclass
class Venue:
    engine: Engine
    orders: dict[str, int]
    """Order ids by name."""
    now: int
    """Timestamp of the last transaction applied."""

    def apply(self, payload: Any, timestamp_ns: int | None = None) -> Outcome:
        self.now = self.now + 1_000 if timestamp_ns is None else timestamp_ns
        sequenced = Sequenced(self.engine.seq + 1, self.now, Transaction(payload))
        return self.engine.apply(sequenced)


def open_venue() -> Venue:
    venue = Venue(Engine((*default_catalogue(), TINY), CONFIG), {}, T0)

    def setup(payload: Payload, name: str = "") -> None:
        outcome = venue.apply(payload)
        assert isinstance(outcome, Accepted), (payload, outcome)
        if name:
            venue.orders[name] = outcome.seq

    for account, amount in (("alice", 10**15), ("bob", 10**15), ("carol", 10**12)):
        setup(Deposit(account, "USDC", amount))
    setup(Deposit("dave", "USDC", 1_100 * USD))
    for _ in range(balance_max_units // amount_max_units):
        setup(Deposit("whale", "USDC", amount_max_units))
    setup(OracleUpdate("BTC-USD", 100_000 * USD, (MarkPrice(CALL, 5_000 * USD),)))
    setup(OracleUpdate("ETH-USD", 3_500 * USD))
    setup(PlaceOrder("bob", "BTC-PERP", Side.SELL, 100, price=100_000 * USD), "bob-filled")
    setup(
        PlaceOrder(
            "dave", "BTC-PERP", Side.BUY, 100, price=100_000 * USD, time_in_force=TimeInForce.IOC
        )
    )
    setup(OracleUpdate("BTC-USD", 92_000 * USD))
    setup(
        PlaceOrder(
            "alice", "BTC-PERP", Side.BUY, 10, price=91_000 * USD, client_order_id="alice-1"
        ),
        "alice-1",
    )
    setup(PlaceOrder("alice", "BTC-25DEC26", Side.BUY, 1, price=90_000 * USD), "alice-dec")
    setup(
        PlaceOrder("bob", "BTC-PERP", Side.SELL, 10, price=93_000 * USD, client_order_id="bob-1"),
        "bob-1",
    )
    setup(PlaceOrder("bob", "BTC-TINY", Side.SELL, 5, price=95_000 * USD), "bob-tiny-1")
    setup(PlaceOrder("bob", "BTC-TINY", Side.SELL, 5, price=96_000 * USD), "bob-tiny-2")
    for i in range(CONFIG.orders_per_account_max):
        setup(PlaceOrder("carol", "BTC-PERP", Side.BUY, 1, price=(80_000 + i) * USD), f"carol-{i}")
    return venue


ORDERS = open_venue().orders
ALICE_1 = ORDERS["alice-1"]
BOB_1 = ORDERS["bob-1"]
BOB_TINY = ORDERS["bob-tiny-1"]
CAROL_0 = ORDERS["carol-0"]
ALICE_DEC = ORDERS["alice-dec"]
FILLED = ORDERS["bob-filled"]


def test_the_venue_is_what_the_rows_assume() -> None:
    venue = open_venue()
    engine = venue.engine
    assert engine.account_ids() == ["alice", "bob", "carol", "dave", "whale"]
    dave = engine.account("dave")
    assert dave is not None and dave.in_margin_call
    assert [p.size for p in dave.positions] == [100]
    carol = engine.account("carol")
    assert carol is not None and carol.open_orders == CONFIG.orders_per_account_max
    whale = engine.account("whale")
    assert whale is not None and whale.cash == balance_max_units
    depth = engine.depth("BTC-PERP")
    assert not isinstance(depth, Rejection)
    assert depth.mark_price == 92_000 * USD
    assert depth.asks[0].price == 93_000 * USD and depth.asks[0].size == 10
    assert depth.bids[0].price == 91_000 * USD
    engine.check_invariants()


def bad(base: Any, **changes: object) -> Any:
    """`base` with some fields replaced, types unchecked (as a Python caller may do)."""
    return msgspec.structs.replace(base, **changes)


def marked(*marks: tuple[str, object]) -> OracleUpdate:
    return bad(ORACLE, marks=tuple(MarkPrice(instrument, price) for instrument, price in marks))  # type: ignore[arg-type]


# -- valid baselines: each row below changes one of these in one way ----------

DEPOSIT = Deposit("alice", "USDC", 1_000 * USD)
WITHDRAW = Withdraw("alice", "USDC", 1_000 * USD)
TRANSFER = Transfer("alice", "bob", "USDC", 1_000 * USD)
PLACE = PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=90_000 * USD)
MARKET = PlaceOrder(
    "alice", "BTC-PERP", Side.BUY, 1, order_type=OrderType.MARKET, time_in_force=TimeInForce.IOC
)
CANCEL = CancelOrder("alice", order_id=ALICE_1)
CANCEL_BY_CLIENT_ID = CancelOrder("alice", client_order_id="alice-1")
CANCEL_ALL = CancelAll("alice", "BTC-PERP")
AMEND = AmendOrder("alice", ALICE_1, price=90_500 * USD)
ORACLE = OracleUpdate("BTC-USD", 92_500 * USD, (MarkPrice(CALL, 4_000 * USD),))

BASELINES = [
    DEPOSIT,
    WITHDRAW,
    TRANSFER,
    PLACE,
    MARKET,
    PlaceOrder("alice", CALL, Side.BUY, 1, price=5_000 * USD),
    PlaceOrder("bob", "BTC-TINY", Side.BUY, 10, price=90_000 * USD),
    CANCEL,
    CANCEL_BY_CLIENT_ID,
    CANCEL_ALL,
    CancelAll("carol"),
    AMEND,
    AmendOrder("alice", ALICE_1, size=20),
    OracleUpdate("ETH-USD", 3_400 * USD),
    ORACLE,
]

# The largest values each limit allows are accepted: the rows just above them are
# refused for the limit, not for something else.
BOUNDARIES = [
    pytest.param(bad(DEPOSIT, amount=amount_max_units), id="deposit-amount-max"),
    pytest.param(bad(WITHDRAW, account="whale", amount=amount_max_units), id="withdraw-amount-max"),
    pytest.param(bad(DEPOSIT, amount=1), id="deposit-amount-1"),
    pytest.param(bad(PLACE, size=SIZE_MAX), id="place-size-max"),
    pytest.param(bad(PLACE, price=price_max_units), id="place-price-max"),
    pytest.param(bad(PLACE, price=TICK), id="place-price-one-tick"),
    pytest.param(bad(PLACE, client_order_id="c" * 36), id="place-client-id-36-chars"),
    pytest.param(
        bad(PLACE, client_order_id="~!#$%&()*+,-./:;<=>?@[]^_{|}"), id="place-client-id-punctuation"
    ),
    pytest.param(bad(PLACE, client_order_id="bob-1"), id="place-client-id-of-another-account"),
    pytest.param(bad(PLACE, instrument="BTC-25DEC26"), id="place-future-1ns-before-expiry"),
    pytest.param(
        AmendOrder("bob", BOB_TINY, size=5, price=94_000 * USD), id="amend-tiny-at-position-limit"
    ),
    pytest.param(bad(ORACLE, price=price_max_units), id="oracle-price-max"),
    pytest.param(bad(ORACLE, price=1), id="oracle-price-1-off-any-grid"),
    pytest.param(
        marked(
            (CALL, 4_000 * USD),
            ("BTC-25DEC26-90000-C", 9_000 * USD),
            ("BTC-25DEC26-90000-P", 2_000 * USD),
            ("BTC-26MAR27-110000-C", OPTION_TICK),
        ),
        id="oracle-marks-at-limit",
    ),
]


@pytest.mark.parametrize("payload", BOUNDARIES)
def test_values_at_their_limit_are_accepted(payload: Payload) -> None:
    venue = open_venue()
    # The future is placed 1 ns before its expiry; everything else at the next tick.
    expiring = getattr(payload, "instrument", "") == "BTC-25DEC26"
    outcome = venue.apply(payload, DEC26_EXPIRY - 1 if expiring else None)
    assert isinstance(outcome, Accepted), outcome
    venue.engine.check_invariants()


@pytest.mark.parametrize("payload", BASELINES, ids=lambda p: type(p).__name__)
def test_valid_baseline_is_accepted(payload: Payload) -> None:
    venue = open_venue()
    before = venue.engine.digest()
    outcome = venue.apply(payload)
    assert isinstance(outcome, Accepted), outcome
    assert outcome.events
    assert venue.engine.digest() != before
    venue.engine.check_invariants()


def row(name: str, payload: object, code: ErrorCode, timestamp_ns: int | None = None) -> Any:
    return pytest.param(payload, code, timestamp_ns, id=name)


def _wrong_types(base: Any, field: str, *values: object) -> list[Any]:
    return [
        row(
            f"{type(base).__name__}-{field}-{type(v).__name__}-{v!r:.12}",
            bad(base, **{field: v}),
            E.WRONG_TYPE,
        )
        for v in values
    ]


# -- collateral ---------------------------------------------------------------

COLLATERAL_ROWS = [
    # Deposit
    row("deposit-asset-unknown", bad(DEPOSIT, asset="BTC"), E.UNKNOWN_ASSET),
    row("deposit-asset-empty", bad(DEPOSIT, asset=""), E.UNKNOWN_ASSET),
    row("deposit-asset-lowercase", bad(DEPOSIT, asset="usdc"), E.UNKNOWN_ASSET),
    row("deposit-amount-zero", bad(DEPOSIT, amount=0), E.AMOUNT_NOT_POSITIVE),
    row("deposit-amount-negative", bad(DEPOSIT, amount=-1), E.AMOUNT_NOT_POSITIVE),
    row("deposit-amount-very-negative", bad(DEPOSIT, amount=-HUGE), E.AMOUNT_NOT_POSITIVE),
    row("deposit-amount-above-max", bad(DEPOSIT, amount=amount_max_units + 1), E.AMOUNT_TOO_LARGE),
    row("deposit-amount-u64-max", bad(DEPOSIT, amount=U64_MAX), E.AMOUNT_TOO_LARGE),
    row("deposit-amount-2**80", bad(DEPOSIT, amount=HUGE), E.AMOUNT_TOO_LARGE),
    row("deposit-new-account-empty", bad(DEPOSIT, account=""), E.INVALID_ACCOUNT_ID),
    row("deposit-new-account-space", bad(DEPOSIT, account="two words"), E.INVALID_ACCOUNT_ID),
    row("deposit-new-account-non-ascii", bad(DEPOSIT, account="zoë"), E.INVALID_ACCOUNT_ID),
    row("deposit-new-account-control", bad(DEPOSIT, account="tab\t"), E.INVALID_ACCOUNT_ID),
    row("deposit-new-account-nul", bad(DEPOSIT, account="nul\x00"), E.INVALID_ACCOUNT_ID),
    row("deposit-new-account-too-long", bad(DEPOSIT, account="a" * 65), E.INVALID_ACCOUNT_ID),
    row("deposit-new-account-venue-full", bad(DEPOSIT, account="erin"), E.ACCOUNTS_LIMIT),
    row(
        "deposit-new-account-64-chars-is-valid",
        bad(DEPOSIT, account="a" * 64),
        E.ACCOUNTS_LIMIT,
    ),
    row("deposit-balance-limit", bad(DEPOSIT, account="whale", amount=1), E.BALANCE_LIMIT_EXCEEDED),
    *_wrong_types(DEPOSIT, "amount", 1.5, 1000.0, True, "1000", None, b"\x01"),
    *_wrong_types(DEPOSIT, "account", 5, None, b"alice", ["alice"], ("alice",)),
    *_wrong_types(DEPOSIT, "asset", None, 5, b"USDC", ["USDC"]),
    # Withdraw
    row("withdraw-account-unknown", bad(WITHDRAW, account="nobody"), E.UNKNOWN_ACCOUNT),
    row("withdraw-account-empty", bad(WITHDRAW, account=""), E.UNKNOWN_ACCOUNT),
    row("withdraw-asset-unknown", bad(WITHDRAW, asset="BTC"), E.UNKNOWN_ASSET),
    row("withdraw-amount-zero", bad(WITHDRAW, amount=0), E.AMOUNT_NOT_POSITIVE),
    row("withdraw-amount-negative", bad(WITHDRAW, amount=-1_000 * USD), E.AMOUNT_NOT_POSITIVE),
    row(
        "withdraw-amount-above-max", bad(WITHDRAW, amount=amount_max_units + 1), E.AMOUNT_TOO_LARGE
    ),
    row("withdraw-amount-2**80", bad(WITHDRAW, amount=HUGE), E.AMOUNT_TOO_LARGE),
    row(
        "withdraw-more-than-cash",
        bad(WITHDRAW, account="carol", amount=10**12 + 1),
        E.INSUFFICIENT_FUNDS,
    ),
    row("withdraw-all-cash-margin-held", bad(WITHDRAW, amount=10**15), E.INSUFFICIENT_MARGIN),
    row("withdraw-in-margin-call", bad(WITHDRAW, account="dave", amount=1), E.INSUFFICIENT_MARGIN),
    *_wrong_types(WITHDRAW, "amount", 1.0, False, "1", None),
    *_wrong_types(WITHDRAW, "account", 0, None, ["alice"]),
    *_wrong_types(WITHDRAW, "asset", None, {"USDC": 1}),
    # Transfer
    row("transfer-source-unknown", bad(TRANSFER, source="nobody"), E.UNKNOWN_ACCOUNT),
    row("transfer-destination-unknown", bad(TRANSFER, destination="nobody"), E.UNKNOWN_ACCOUNT),
    row("transfer-same-account", bad(TRANSFER, destination="alice"), E.SAME_ACCOUNT),
    row("transfer-asset-unknown", bad(TRANSFER, asset="ETH"), E.UNKNOWN_ASSET),
    row("transfer-amount-zero", bad(TRANSFER, amount=0), E.AMOUNT_NOT_POSITIVE),
    row("transfer-amount-negative", bad(TRANSFER, amount=-1), E.AMOUNT_NOT_POSITIVE),
    row(
        "transfer-amount-above-max", bad(TRANSFER, amount=amount_max_units + 1), E.AMOUNT_TOO_LARGE
    ),
    row("transfer-amount-2**80", bad(TRANSFER, amount=HUGE), E.AMOUNT_TOO_LARGE),
    row(
        "transfer-more-than-cash",
        bad(TRANSFER, source="carol", amount=10**12 + 1),
        E.INSUFFICIENT_FUNDS,
    ),
    row("transfer-in-margin-call", bad(TRANSFER, source="dave", amount=1), E.INSUFFICIENT_MARGIN),
    row(
        "transfer-to-full-balance",
        bad(TRANSFER, destination="whale", amount=1),
        E.BALANCE_LIMIT_EXCEEDED,
    ),
    *_wrong_types(TRANSFER, "amount", 2.5, True, "1", None),
    *_wrong_types(TRANSFER, "source", 1, None, ["alice"]),
    *_wrong_types(TRANSFER, "destination", 1, None, ["bob"]),
    *_wrong_types(TRANSFER, "asset", None, 0),
]

# -- trading ------------------------------------------------------------------

STP = SelfTradePrevention
IOC = TimeInForce.IOC
FOK = TimeInForce.FOK

PLACE_ROWS = [
    row("place-instrument-unknown", bad(PLACE, instrument="DOGE-PERP"), E.UNKNOWN_INSTRUMENT),
    row("place-instrument-empty", bad(PLACE, instrument=""), E.UNKNOWN_INSTRUMENT),
    row("place-instrument-lowercase", bad(PLACE, instrument="btc-perp"), E.UNKNOWN_INSTRUMENT),
    row("place-account-unknown", bad(PLACE, account="nobody"), E.UNKNOWN_ACCOUNT),
    row("place-size-zero", bad(PLACE, size=0), E.SIZE_NOT_POSITIVE),
    row("place-size-negative", bad(PLACE, size=-1), E.SIZE_NOT_POSITIVE),
    row("place-size-very-negative", bad(PLACE, size=-HUGE), E.SIZE_NOT_POSITIVE),
    row("place-size-above-instrument-max", bad(PLACE, size=SIZE_MAX + 1), E.SIZE_TOO_LARGE),
    row("place-size-above-tiny-max", bad(PLACE, instrument="BTC-TINY", size=11), E.SIZE_TOO_LARGE),
    row("place-size-u64-max", bad(PLACE, size=U64_MAX), E.SIZE_TOO_LARGE),
    row("place-size-2**80", bad(PLACE, size=HUGE), E.SIZE_TOO_LARGE),
    row("place-market-size-zero", bad(MARKET, size=0), E.SIZE_NOT_POSITIVE),
    row("place-limit-without-price", bad(PLACE, price=None), E.PRICE_REQUIRED),
    row("place-market-with-price", bad(MARKET, price=90_000 * USD), E.PRICE_NOT_ALLOWED),
    row("place-price-zero", bad(PLACE, price=0), E.PRICE_NOT_POSITIVE),
    row("place-price-negative", bad(PLACE, price=-TICK), E.PRICE_NOT_POSITIVE),
    row("place-price-above-max", bad(PLACE, price=price_max_units + TICK), E.PRICE_TOO_LARGE),
    row("place-price-u64-max", bad(PLACE, price=U64_MAX), E.PRICE_TOO_LARGE),
    row("place-price-2**80", bad(PLACE, price=HUGE), E.PRICE_TOO_LARGE),
    row("place-price-off-tick-by-one", bad(PLACE, price=90_000 * USD + 1), E.PRICE_OFF_TICK),
    row("place-price-half-tick", bad(PLACE, price=TICK // 2), E.PRICE_OFF_TICK),
    row(
        "place-option-price-off-option-tick",
        bad(PLACE, instrument=CALL, price=5_000 * USD + TICK),
        E.PRICE_OFF_TICK,
    ),
    row("place-market-gtc", bad(MARKET, time_in_force=TimeInForce.GTC), E.INVALID_ORDER_OPTIONS),
    row(
        "place-post-only-ioc",
        bad(PLACE, post_only=True, time_in_force=IOC),
        E.INVALID_ORDER_OPTIONS,
    ),
    row(
        "place-post-only-fok",
        bad(PLACE, post_only=True, time_in_force=FOK),
        E.INVALID_ORDER_OPTIONS,
    ),
    row("place-post-only-market", bad(MARKET, post_only=True), E.INVALID_ORDER_OPTIONS),
    row("place-reduce-only-gtc", bad(PLACE, reduce_only=True), E.INVALID_ORDER_OPTIONS),
    row("place-client-id-space", bad(PLACE, client_order_id="a b"), E.CLIENT_ORDER_ID_INVALID),
    row(
        "place-client-id-too-long", bad(PLACE, client_order_id="c" * 37), E.CLIENT_ORDER_ID_INVALID
    ),
    row(
        "place-client-id-non-ascii", bad(PLACE, client_order_id="ordré"), E.CLIENT_ORDER_ID_INVALID
    ),
    row("place-client-id-newline", bad(PLACE, client_order_id="x\n"), E.CLIENT_ORDER_ID_INVALID),
    row(
        "place-future-at-expiry",
        bad(PLACE, instrument="BTC-25DEC26"),
        E.INSTRUMENT_EXPIRED,
        DEC26_EXPIRY,
    ),
    row(
        "place-option-after-expiry",
        bad(PLACE, instrument=CALL, price=5_000 * USD),
        E.INSTRUMENT_EXPIRED,
        DEC26_EXPIRY + 1,
    ),
    row(
        "place-client-id-duplicate",
        bad(PLACE, client_order_id="alice-1"),
        E.DUPLICATE_CLIENT_ORDER_ID,
    ),
    row("place-open-orders-limit", bad(PLACE, account="carol"), E.OPEN_ORDERS_LIMIT),
    row("place-no-mark", bad(PLACE, instrument=UNMARKED_PUT, price=1_000 * USD), E.NO_MARK_PRICE),
    row("place-in-margin-call", bad(PLACE, account="dave"), E.ACCOUNT_BELOW_MAINTENANCE),
    row(
        "place-reduce-only-no-position",
        bad(PLACE, reduce_only=True, time_in_force=IOC),
        E.REDUCE_ONLY_WOULD_INCREASE,
    ),
    row(
        "place-reduce-only-same-side",
        bad(PLACE, account="dave", reduce_only=True, time_in_force=IOC),
        E.REDUCE_ONLY_WOULD_INCREASE,
    ),
    row(
        "place-reduce-only-larger-than-position",
        bad(PLACE, account="dave", side=Side.SELL, size=101, reduce_only=True, time_in_force=IOC),
        E.REDUCE_ONLY_WOULD_INCREASE,
    ),
    row(
        "place-position-limit",
        bad(PLACE, account="bob", instrument="BTC-TINY", side=Side.SELL, price=97_000 * USD),
        E.POSITION_LIMIT_EXCEEDED,
    ),
    row(
        "place-post-only-would-take",
        bad(PLACE, price=93_000 * USD, post_only=True),
        E.POST_ONLY_WOULD_TAKE,
    ),
    row(
        "place-insufficient-margin",
        bad(PLACE, account="carol", size=SIZE_MAX, price=93_000 * USD, time_in_force=IOC),
        E.INSUFFICIENT_MARGIN,
    ),
    row(
        "place-market-insufficient-margin",
        bad(MARKET, account="carol", size=SIZE_MAX),
        E.INSUFFICIENT_MARGIN,
    ),
    row(
        "place-fok-not-fillable",
        bad(PLACE, size=11, price=93_000 * USD, time_in_force=FOK),
        E.FOK_NOT_FILLABLE,
    ),
    row(
        "place-market-fok-not-fillable", bad(MARKET, size=11, time_in_force=FOK), E.FOK_NOT_FILLABLE
    ),
    row(
        "place-fok-blocked-by-self-trade",
        bad(PLACE, account="bob", size=10, price=93_000 * USD, time_in_force=FOK),
        E.FOK_NOT_FILLABLE,
    ),
    *_wrong_types(PLACE, "size", 1.0, 1.5, True, "1", None),
    *_wrong_types(PLACE, "price", 90_000.0 * USD, True, "90000000000"),
    *_wrong_types(PLACE, "side", "buy", None, 1),
    *_wrong_types(PLACE, "order_type", "limit", None),
    *_wrong_types(PLACE, "time_in_force", "gtc", None),
    *_wrong_types(PLACE, "self_trade_prevention", "cancel_taker", None),
    *_wrong_types(PLACE, "post_only", 1, 0, None, "false"),
    *_wrong_types(PLACE, "reduce_only", 1, 0, None),
    *_wrong_types(PLACE, "client_order_id", 5, 0, None, b"id"),
    *_wrong_types(PLACE, "account", 5, None, ["alice"]),
    *_wrong_types(PLACE, "instrument", None, 1, ["BTC-PERP"]),
]

CANCEL_ROWS = [
    row("cancel-account-unknown", bad(CANCEL, account="nobody"), E.UNKNOWN_ACCOUNT),
    row("cancel-both-ids", bad(CANCEL, client_order_id="alice-1"), E.INVALID_ORDER_OPTIONS),
    row("cancel-no-id", CancelOrder("alice"), E.UNKNOWN_ORDER),
    row("cancel-order-unknown", bad(CANCEL, order_id=999_999), E.UNKNOWN_ORDER),
    row("cancel-order-negative", bad(CANCEL, order_id=-ALICE_1), E.UNKNOWN_ORDER),
    row("cancel-order-2**80", bad(CANCEL, order_id=HUGE), E.UNKNOWN_ORDER),
    row("cancel-order-of-another-account", bad(CANCEL, order_id=BOB_1), E.UNKNOWN_ORDER),
    row("cancel-order-filled", bad(CANCEL, account="bob", order_id=FILLED), E.UNKNOWN_ORDER),
    row(
        "cancel-client-id-unknown",
        bad(CANCEL_BY_CLIENT_ID, client_order_id="nope"),
        E.UNKNOWN_ORDER,
    ),
    row(
        "cancel-client-id-of-another-account",
        bad(CANCEL_BY_CLIENT_ID, client_order_id="bob-1"),
        E.UNKNOWN_ORDER,
    ),
    *_wrong_types(CANCEL, "order_id", float(ALICE_1), True, str(ALICE_1), None),
    *_wrong_types(CANCEL_BY_CLIENT_ID, "client_order_id", None, 1, ["alice-1"]),
    *_wrong_types(CANCEL, "account", None, ["alice"]),
    # CancelAll
    row("cancel-all-account-unknown", bad(CANCEL_ALL, account="nobody"), E.UNKNOWN_ACCOUNT),
    row(
        "cancel-all-instrument-unknown",
        bad(CANCEL_ALL, instrument="DOGE-PERP"),
        E.UNKNOWN_INSTRUMENT,
    ),
    *_wrong_types(CANCEL_ALL, "account", None, 7, ["alice"]),
    *_wrong_types(CANCEL_ALL, "instrument", None, 0, ["BTC-PERP"]),
]

AMEND_ROWS = [
    row("amend-account-unknown", bad(AMEND, account="nobody"), E.UNKNOWN_ACCOUNT),
    row("amend-order-unknown", bad(AMEND, order_id=999_999), E.UNKNOWN_ORDER),
    row("amend-order-zero", bad(AMEND, order_id=0), E.UNKNOWN_ORDER),
    row("amend-order-2**80", bad(AMEND, order_id=HUGE), E.UNKNOWN_ORDER),
    row("amend-order-of-another-account", bad(AMEND, order_id=BOB_1), E.UNKNOWN_ORDER),
    row("amend-order-filled", bad(AMEND, account="bob", order_id=FILLED), E.UNKNOWN_ORDER),
    row(
        "amend-expired-instrument",
        AmendOrder("alice", ALICE_DEC, price=89_000 * USD),
        E.INSTRUMENT_EXPIRED,
        DEC26_EXPIRY,
    ),
    row("amend-size-zero", bad(AMEND, price=None, size=0), E.SIZE_NOT_POSITIVE),
    row("amend-size-negative", bad(AMEND, size=-5), E.SIZE_NOT_POSITIVE),
    row("amend-size-above-max", bad(AMEND, size=SIZE_MAX + 1), E.SIZE_TOO_LARGE),
    row("amend-size-above-tiny-max", AmendOrder("bob", BOB_TINY, size=11), E.SIZE_TOO_LARGE),
    row("amend-size-2**80", bad(AMEND, size=HUGE), E.SIZE_TOO_LARGE),
    row("amend-price-zero", bad(AMEND, price=0), E.PRICE_NOT_POSITIVE),
    row("amend-price-negative", bad(AMEND, price=-TICK), E.PRICE_NOT_POSITIVE),
    row("amend-price-above-max", bad(AMEND, price=price_max_units + TICK), E.PRICE_TOO_LARGE),
    row("amend-price-2**80", bad(AMEND, price=HUGE), E.PRICE_TOO_LARGE),
    row("amend-price-off-tick", bad(AMEND, price=90_500 * USD + 1), E.PRICE_OFF_TICK),
    row("amend-nothing", bad(AMEND, price=None), E.AMEND_NO_CHANGE),
    row("amend-same-price", bad(AMEND, price=91_000 * USD), E.AMEND_NO_CHANGE),
    row("amend-same-size", bad(AMEND, price=None, size=10), E.AMEND_NO_CHANGE),
    row("amend-same-price-and-size", bad(AMEND, price=91_000 * USD, size=10), E.AMEND_NO_CHANGE),
    row("amend-to-the-offer", bad(AMEND, price=93_000 * USD), E.AMEND_WOULD_TRADE),
    row("amend-through-the-offer", bad(AMEND, price=95_000 * USD, size=1), E.AMEND_WOULD_TRADE),
    row("amend-position-limit", AmendOrder("bob", BOB_TINY, size=6), E.POSITION_LIMIT_EXCEEDED),
    row(
        "amend-insufficient-margin",
        AmendOrder("carol", CAROL_0, size=SIZE_MAX),
        E.INSUFFICIENT_MARGIN,
    ),
    *_wrong_types(AMEND, "order_id", float(ALICE_1), True, None, str(ALICE_1)),
    *_wrong_types(AMEND, "price", 90_500.0 * USD, True, "90500000000"),
    *_wrong_types(AMEND, "size", 5.0, False, "5"),
    *_wrong_types(AMEND, "account", None, ["alice"]),
]

# -- market data --------------------------------------------------------------


ORACLE_ROWS = [
    row("oracle-index-unknown", bad(ORACLE, index="DOGE-USD"), E.UNKNOWN_INDEX),
    row("oracle-index-empty", bad(ORACLE, index=""), E.UNKNOWN_INDEX),
    row("oracle-index-lowercase", bad(ORACLE, index="btc-usd"), E.UNKNOWN_INDEX),
    row("oracle-index-is-an-instrument", bad(ORACLE, index="BTC-PERP"), E.UNKNOWN_INDEX),
    row("oracle-price-zero", bad(ORACLE, price=0), E.PRICE_NOT_POSITIVE),
    row("oracle-price-negative", bad(ORACLE, price=-1), E.PRICE_NOT_POSITIVE),
    row("oracle-price-above-max", bad(ORACLE, price=price_max_units + 1), E.PRICE_TOO_LARGE),
    row("oracle-price-u64-max", bad(ORACLE, price=U64_MAX), E.PRICE_TOO_LARGE),
    row("oracle-price-2**80", bad(ORACLE, price=HUGE), E.PRICE_TOO_LARGE),
    row("oracle-too-many-marks", marked(*[(CALL, 4_000 * USD)] * 5), E.INVALID_VALUE),
    row(
        "oracle-mark-unknown-instrument",
        marked(("BTC-1JAN27-1-C", 4_000 * USD)),
        E.UNKNOWN_INSTRUMENT,
    ),
    row("oracle-mark-for-perpetual", marked(("BTC-PERP", 92_000 * USD)), E.MARK_NOT_FOR_INDEX),
    row("oracle-mark-for-future", marked(("BTC-25DEC26", 92_000 * USD)), E.MARK_NOT_FOR_INDEX),
    row("oracle-mark-for-other-index", marked((ETH_CALL, 100 * USD)), E.MARK_NOT_FOR_INDEX),
    row("oracle-mark-twice", marked((CALL, 4_000 * USD), (CALL, 4_000 * USD)), E.DUPLICATE_MARK),
    row("oracle-mark-price-zero", marked((CALL, 0)), E.PRICE_NOT_POSITIVE),
    row("oracle-mark-price-negative", marked((CALL, -OPTION_TICK)), E.PRICE_NOT_POSITIVE),
    row(
        "oracle-mark-price-above-max",
        marked((CALL, price_max_units + OPTION_TICK)),
        E.PRICE_TOO_LARGE,
    ),
    row("oracle-mark-price-2**80", marked((CALL, HUGE)), E.PRICE_TOO_LARGE),
    row("oracle-mark-price-off-tick", marked((CALL, 4_000 * USD + TICK)), E.PRICE_OFF_TICK),
    row("oracle-mark-second-bad", marked((CALL, 4_000 * USD), (UNMARKED_PUT, 1)), E.PRICE_OFF_TICK),
    row("oracle-mark-price-float", marked((CALL, 4_000.0 * USD)), E.WRONG_TYPE),
    row("oracle-mark-price-bool", marked((CALL, True)), E.WRONG_TYPE),
    row("oracle-mark-price-str", marked((CALL, "4000000000")), E.WRONG_TYPE),
    row("oracle-mark-instrument-none", marked((None, 4_000 * USD)), E.WRONG_TYPE),  # type: ignore[arg-type]
    row("oracle-mark-instrument-list", marked(([CALL], 4_000 * USD)), E.WRONG_TYPE),  # type: ignore[arg-type]
    *_wrong_types(ORACLE, "price", 92_500.0 * USD, True, "92500000000", None),
    *_wrong_types(ORACLE, "index", None, 1, ["BTC-USD"]),
    *_wrong_types(ORACLE, "marks", None, "marks", ((CALL, 4_000 * USD),), (None,)),
]

# -- envelope -----------------------------------------------------------------

ENVELOPE_ROWS = [
    row("payload-not-a-payload-struct", MarkPrice(CALL, 4_000 * USD), E.WRONG_TYPE),
    row("payload-str", "deposit", E.WRONG_TYPE),
    row("payload-none", None, E.WRONG_TYPE),
    row(
        "payload-dict",
        {"type": "deposit", "account": "alice", "asset": "USDC", "amount": 1},
        E.WRONG_TYPE,
    ),
    row("payload-transaction", Transaction(DEPOSIT), E.WRONG_TYPE),
]

# -- precedence: a payload with two faults gets the code checked first --------

PRECEDENCE_ROWS = [
    row("first-type-then-value", bad(DEPOSIT, asset="BTC", amount=1.5), E.WRONG_TYPE),
    row(
        "first-type-then-unknown-instrument", bad(PLACE, instrument="DOGE", size=1.5), E.WRONG_TYPE
    ),
    row("deposit-asset-before-amount", bad(DEPOSIT, asset="BTC", amount=0), E.UNKNOWN_ASSET),
    row(
        "deposit-amount-before-account-id",
        bad(DEPOSIT, account="", amount=0),
        E.AMOUNT_NOT_POSITIVE,
    ),
    row("deposit-account-id-before-venue-full", bad(DEPOSIT, account="a b"), E.INVALID_ACCOUNT_ID),
    row(
        "withdraw-account-before-asset",
        bad(WITHDRAW, account="nobody", asset="BTC"),
        E.UNKNOWN_ACCOUNT,
    ),
    row("withdraw-asset-before-amount", bad(WITHDRAW, asset="BTC", amount=0), E.UNKNOWN_ASSET),
    row(
        "withdraw-amount-before-funds",
        bad(WITHDRAW, account="carol", amount=amount_max_units + 1),
        E.AMOUNT_TOO_LARGE,
    ),
    row(
        "withdraw-funds-before-margin",
        bad(WITHDRAW, account="dave", amount=2_000 * USD),
        E.INSUFFICIENT_FUNDS,
    ),
    row(
        "transfer-source-before-destination",
        bad(TRANSFER, source="x", destination="y"),
        E.UNKNOWN_ACCOUNT,
    ),
    row(
        "transfer-destination-before-same",
        bad(TRANSFER, source="x", destination="x"),
        E.UNKNOWN_ACCOUNT,
    ),
    row(
        "transfer-same-before-asset",
        bad(TRANSFER, destination="alice", asset="BTC"),
        E.SAME_ACCOUNT,
    ),
    row("transfer-asset-before-amount", bad(TRANSFER, asset="BTC", amount=-1), E.UNKNOWN_ASSET),
    row(
        "transfer-funds-before-balance-limit",
        bad(TRANSFER, source="carol", destination="whale", amount=10**12 + 1),
        E.INSUFFICIENT_FUNDS,
    ),
    row(
        "place-instrument-before-account",
        bad(PLACE, instrument="DOGE", account="nobody"),
        E.UNKNOWN_INSTRUMENT,
    ),
    row("place-account-before-size", bad(PLACE, account="nobody", size=0), E.UNKNOWN_ACCOUNT),
    row("place-size-before-price", bad(PLACE, size=0, price=1), E.SIZE_NOT_POSITIVE),
    row(
        "place-size-before-price-required",
        bad(PLACE, size=SIZE_MAX + 1, price=None),
        E.SIZE_TOO_LARGE,
    ),
    row(
        "place-price-not-allowed-before-options",
        bad(MARKET, price=TICK, time_in_force=TimeInForce.GTC),
        E.PRICE_NOT_ALLOWED,
    ),
    row(
        "place-price-before-options",
        bad(PLACE, price=1, post_only=True, time_in_force=IOC),
        E.PRICE_OFF_TICK,
    ),
    row(
        "place-too-large-before-off-tick", bad(PLACE, price=price_max_units + 1), E.PRICE_TOO_LARGE
    ),
    row(
        "place-options-before-client-id",
        bad(PLACE, reduce_only=True, client_order_id="a b"),
        E.INVALID_ORDER_OPTIONS,
    ),
    row(
        "place-client-id-before-expiry",
        bad(PLACE, instrument="BTC-25DEC26", client_order_id="a b"),
        E.CLIENT_ORDER_ID_INVALID,
        DEC26_EXPIRY,
    ),
    row(
        "place-expiry-before-duplicate",
        bad(PLACE, instrument="BTC-25DEC26", client_order_id="alice-1"),
        E.INSTRUMENT_EXPIRED,
        DEC26_EXPIRY,
    ),
    row(
        "place-duplicate-before-no-mark",
        bad(PLACE, instrument=UNMARKED_PUT, client_order_id="alice-1", price=OPTION_TICK),
        E.DUPLICATE_CLIENT_ORDER_ID,
    ),
    row(
        "place-open-orders-before-no-mark",
        bad(PLACE, account="carol", instrument=UNMARKED_PUT, price=OPTION_TICK),
        E.OPEN_ORDERS_LIMIT,
    ),
    row(
        "place-open-orders-only-for-gtc",
        bad(PLACE, account="carol", instrument=UNMARKED_PUT, price=OPTION_TICK, time_in_force=IOC),
        E.NO_MARK_PRICE,
    ),
    row(
        "place-no-mark-before-margin-call",
        bad(PLACE, account="dave", instrument=UNMARKED_PUT, price=OPTION_TICK),
        E.NO_MARK_PRICE,
    ),
    row(
        "place-margin-call-before-margin",
        bad(PLACE, account="dave", size=SIZE_MAX),
        E.ACCOUNT_BELOW_MAINTENANCE,
    ),
    row(
        "place-reduce-only-before-position-limit",
        bad(
            PLACE,
            account="bob",
            instrument="BTC-TINY",
            side=Side.SELL,
            reduce_only=True,
            time_in_force=IOC,
        ),
        E.REDUCE_ONLY_WOULD_INCREASE,
    ),
    row(
        "place-margin-before-fok",
        bad(PLACE, account="carol", size=SIZE_MAX, price=93_000 * USD, time_in_force=FOK),
        E.INSUFFICIENT_MARGIN,
    ),
    row(
        "cancel-account-before-both-ids",
        bad(CANCEL, account="nobody", client_order_id="x"),
        E.UNKNOWN_ACCOUNT,
    ),
    row(
        "cancel-both-ids-before-unknown",
        bad(CANCEL, order_id=999_999, client_order_id="x"),
        E.INVALID_ORDER_OPTIONS,
    ),
    row("cancel-all-account-before-instrument", CancelAll("nobody", "DOGE"), E.UNKNOWN_ACCOUNT),
    row(
        "amend-account-before-order",
        bad(AMEND, account="nobody", order_id=999_999),
        E.UNKNOWN_ACCOUNT,
    ),
    row("amend-order-before-size", bad(AMEND, order_id=999_999, size=0), E.UNKNOWN_ORDER),
    row(
        "amend-order-before-expiry",
        AmendOrder("bob", ALICE_DEC, size=0),
        E.UNKNOWN_ORDER,
        DEC26_EXPIRY,
    ),
    row(
        "amend-expiry-before-size",
        AmendOrder("alice", ALICE_DEC, size=0),
        E.INSTRUMENT_EXPIRED,
        DEC26_EXPIRY,
    ),
    row("amend-size-before-price", bad(AMEND, size=0, price=1), E.SIZE_NOT_POSITIVE),
    row("amend-price-before-no-change", bad(AMEND, price=1, size=10), E.PRICE_OFF_TICK),
    row(
        "amend-would-trade-before-margin",
        AmendOrder("carol", CAROL_0, price=93_000 * USD, size=SIZE_MAX),
        E.AMEND_WOULD_TRADE,
    ),
    row("oracle-index-before-price", bad(ORACLE, index="DOGE-USD", price=0), E.UNKNOWN_INDEX),
    row(
        "oracle-price-before-mark-count",
        bad(marked(*[(CALL, 0)] * 5), price=0),
        E.PRICE_NOT_POSITIVE,
    ),
    row("oracle-mark-count-before-marks", marked(*[("nope", 0)] * 5), E.INVALID_VALUE),
    row(
        "oracle-unknown-before-not-for-index",
        marked(("nope", 1), ("BTC-PERP", 1)),
        E.UNKNOWN_INSTRUMENT,
    ),
    row(
        "oracle-not-for-index-before-duplicate",
        marked(("BTC-PERP", 1), ("BTC-PERP", 1)),
        E.MARK_NOT_FOR_INDEX,
    ),
    row(
        "oracle-duplicate-before-mark-price",
        marked((CALL, 4_000 * USD), (CALL, 0)),
        E.DUPLICATE_MARK,
    ),
]

ALL_ROWS = [
    *COLLATERAL_ROWS,
    *PLACE_ROWS,
    *CANCEL_ROWS,
    *AMEND_ROWS,
    *ORACLE_ROWS,
    *ENVELOPE_ROWS,
    *PRECEDENCE_ROWS,
]


def assert_refused(
    venue: Venue, payload: object, code: ErrorCode, timestamp_ns: int | None
) -> Rejected:
    engine = venue.engine
    digest, head, seq = engine.digest(), engine.chain_head, engine.seq
    outcome = venue.apply(payload, timestamp_ns)
    assert isinstance(outcome, Rejected), f"accepted: {outcome}"
    assert (ErrorCode(outcome.code).name, outcome.message) == (code.name, outcome.message)
    assert outcome.seq == seq + 1 and outcome.message
    assert engine.digest() == digest, "a rejection changed the state"
    # The rejection itself is recorded: the sequence and the output chain move on.
    assert engine.seq == seq + 1
    assert engine.chain_head != head
    engine.check_invariants()
    return outcome


@pytest.mark.parametrize(("payload", "code", "timestamp_ns"), ALL_ROWS)
def test_bad_payload_is_refused_with_its_code(
    payload: object, code: ErrorCode, timestamp_ns: int | None
) -> None:
    venue = open_venue()
    assert_refused(venue, payload, code, timestamp_ns)
    # The engine is still healthy: the next valid transaction goes through.
    assert isinstance(venue.apply(DEPOSIT), Accepted)


def test_every_transaction_type_has_rows() -> None:
    covered = {type(p.values[0]) for p in ALL_ROWS}
    assert {
        Deposit,
        Withdraw,
        Transfer,
        PlaceOrder,
        CancelOrder,
        CancelAll,
        AmendOrder,
        OracleUpdate,
    } <= covered


def test_a_rejection_is_recorded_the_same_way_twice() -> None:
    """Refusals are deterministic: same venue, same bad input, same outcome and chain head."""
    first, second = open_venue(), open_venue()
    for payload in (bad(PLACE, size=0), bad(DEPOSIT, amount=1.5), bad(ORACLE, index="x")):
        assert first.apply(payload) == second.apply(payload)
    assert first.engine.chain_head == second.engine.chain_head


# -- sequencing and timestamps ------------------------------------------------


Shift = Any
"""A function of the engine's current value (seq or timestamp) giving the one to send."""


def srow(name: str, seq: Shift, timestamp: Shift, code: ErrorCode) -> Any:
    return pytest.param(seq, timestamp, code, id=name)


def _next(n: int) -> int:
    return n + 1


def _same(n: int) -> int:
    return n


SEQUENCING_ROWS = [
    srow("seq-gap", lambda n: n + 2, _next, E.SEQUENCE_OUT_OF_ORDER),
    srow("seq-repeated", _same, _next, E.SEQUENCE_OUT_OF_ORDER),
    srow("seq-back", lambda n: n - 1, _next, E.SEQUENCE_OUT_OF_ORDER),
    srow("seq-zero", lambda n: 0, _next, E.SEQUENCE_OUT_OF_ORDER),
    srow("seq-negative", lambda n: -1, _next, E.SEQUENCE_OUT_OF_ORDER),
    srow("seq-2**80", lambda n: HUGE, _next, E.SEQUENCE_OUT_OF_ORDER),
    srow("seq-float", lambda n: float(n + 1), _next, E.SEQUENCE_OUT_OF_ORDER),
    srow("seq-str", lambda n: str(n + 1), _next, E.SEQUENCE_OUT_OF_ORDER),
    srow("seq-none", lambda n: None, _next, E.SEQUENCE_OUT_OF_ORDER),
    srow("timestamp-back-1ns", _next, lambda t: t - 1, E.TIMESTAMP_REGRESSED),
    srow("timestamp-negative", _next, lambda t: -1, E.TIMESTAMP_REGRESSED),
    srow("timestamp-float", _next, lambda t: t + 0.5, E.TIMESTAMP_REGRESSED),
    srow("timestamp-str", _next, lambda t: str(t + 1), E.TIMESTAMP_REGRESSED),
    srow("timestamp-none", _next, lambda t: None, E.TIMESTAMP_REGRESSED),
    srow("seq-checked-before-timestamp", lambda n: n + 2, lambda t: t - 1, E.SEQUENCE_OUT_OF_ORDER),
]


def assert_unsequenced(engine: Engine, seq: object, timestamp: object, code: ErrorCode) -> None:
    """Sequencing faults are refused before anything else and leave no trace, chain head included."""
    before = (engine.digest(), engine.chain_head, engine.seq, engine.timestamp_ns)
    outcome = engine.apply(Sequenced(seq, timestamp, Transaction(DEPOSIT)))  # type: ignore[arg-type]
    assert isinstance(outcome, Rejected), f"accepted: {outcome}"
    assert ErrorCode(outcome.code).name == code.name, outcome.message
    assert (engine.digest(), engine.chain_head, engine.seq, engine.timestamp_ns) == before
    # Nothing was consumed: the right next transaction still goes through.
    good = Sequenced(engine.seq + 1, engine.timestamp_ns + 1, Transaction(DEPOSIT))
    assert isinstance(engine.apply(good), Accepted)


@pytest.mark.parametrize(("seq", "timestamp", "code"), SEQUENCING_ROWS)
def test_out_of_order_input_changes_nothing(seq: Shift, timestamp: Shift, code: ErrorCode) -> None:
    engine = open_venue().engine
    assert_unsequenced(engine, seq(engine.seq), timestamp(engine.timestamp_ns), code)


@pytest.mark.parametrize(
    ("seq", "timestamp", "code"),
    [
        pytest.param(True, T0, E.SEQUENCE_OUT_OF_ORDER, id="seq-true-equals-1"),
        pytest.param(1.0, T0, E.SEQUENCE_OUT_OF_ORDER, id="seq-float-1.0"),
        pytest.param(0, T0, E.SEQUENCE_OUT_OF_ORDER, id="seq-0"),
        pytest.param(2, T0, E.SEQUENCE_OUT_OF_ORDER, id="seq-2"),
        pytest.param(1, -1, E.TIMESTAMP_REGRESSED, id="timestamp-negative"),
        pytest.param(1, 0.0, E.TIMESTAMP_REGRESSED, id="timestamp-float-zero"),
        pytest.param(1, False, E.TIMESTAMP_REGRESSED, id="timestamp-false-equals-0"),
    ],
)
def test_out_of_order_input_at_genesis_changes_nothing(
    seq: object, timestamp: object, code: ErrorCode
) -> None:
    """At genesis `True == 1` and `0.0 == 0`: values equal to the right ones, of the wrong type."""
    engine = Engine()
    assert_unsequenced(engine, seq, timestamp, code)
    assert engine.chain_head != GENESIS_HEAD


def test_equal_timestamps_are_not_a_regression() -> None:
    venue = open_venue()
    engine = venue.engine
    outcome = engine.apply(Sequenced(engine.seq + 1, venue.now, Transaction(DEPOSIT)))
    assert isinstance(outcome, Accepted)


def test_a_timestamp_beyond_64_bits_is_refused() -> None:
    """A timestamp no journal can encode must not be accepted (and stop all later input)."""
    venue = open_venue()
    engine = venue.engine
    before = (engine.digest(), engine.chain_head, engine.seq, engine.timestamp_ns)
    outcome = engine.apply(Sequenced(engine.seq + 1, 2**64, Transaction(DEPOSIT)))
    assert isinstance(outcome, Rejected), f"accepted: {outcome}"
    assert outcome.code in (E.TIMESTAMP_REGRESSED, E.INVALID_VALUE)
    assert (engine.digest(), engine.chain_head, engine.seq, engine.timestamp_ns) == before


# -- the wire: JSON and msgpack bytes through the codec and into the engine ---

_MISSING = object()

WIRE_BASES: dict[str, dict[str, Any]] = {
    "deposit": {"type": "deposit", "account": "alice", "asset": "USDC", "amount": 1_000 * USD},
    "withdraw": {"type": "withdraw", "account": "alice", "asset": "USDC", "amount": 1_000 * USD},
    "transfer": {
        "type": "transfer",
        "source": "alice",
        "destination": "bob",
        "asset": "USDC",
        "amount": 1,
    },
    "place_order": {
        "type": "place_order",
        "account": "alice",
        "instrument": "BTC-PERP",
        "side": "buy",
        "size": 1,
        "price": 90_000 * USD,
    },
    "cancel_order": {"type": "cancel_order", "account": "alice", "order_id": ALICE_1},
    "cancel_all": {"type": "cancel_all", "account": "alice"},
    "amend_order": {"type": "amend_order", "account": "alice", "order_id": ALICE_1, "size": 5},
    "oracle_update": {
        "type": "oracle_update",
        "index": "BTC-USD",
        "price": 92_500 * USD,
        "marks": [{"instrument": CALL, "price": 4_000 * USD}],
    },
}


def wire(kind: str, envelope: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    payload = {**WIRE_BASES[kind], **changes}
    payload = {k: v for k, v in payload.items() if v is not _MISSING}
    document = {"payload": payload, **(envelope or {})}
    return {k: v for k, v in document.items() if v is not _MISSING}


def wrow(name: str, document: object, code: ErrorCode | None) -> Any:
    return pytest.param(document, code, id=name)


WIRE_ROWS = [
    # accepted as they are: the bases, for reference (code None)
    *[wrow(f"valid-{kind}", wire(kind), None) for kind in WIRE_BASES],
    # types
    wrow("amount-float", wire("deposit", amount=1.5), E.WRONG_TYPE),
    wrow("amount-integral-float", wire("deposit", amount=1000.0), E.WRONG_TYPE),
    wrow("amount-str", wire("deposit", amount="1000"), E.WRONG_TYPE),
    wrow("amount-bool", wire("deposit", amount=True), E.WRONG_TYPE),
    wrow("amount-null", wire("deposit", amount=None), E.WRONG_TYPE),
    wrow("amount-list", wire("deposit", amount=[1]), E.WRONG_TYPE),
    wrow("account-int", wire("withdraw", account=7), E.WRONG_TYPE),
    wrow("size-float", wire("place_order", size=1.5), E.WRONG_TYPE),
    wrow("size-bool", wire("place_order", size=True), E.WRONG_TYPE),
    wrow("size-str", wire("place_order", size="1"), E.WRONG_TYPE),
    wrow("price-float", wire("place_order", price=9e10), E.WRONG_TYPE),
    wrow("post-only-int", wire("place_order", post_only=1), E.WRONG_TYPE),
    wrow("client-id-int", wire("place_order", client_order_id=5), E.WRONG_TYPE),
    wrow("order-id-str", wire("cancel_order", order_id="1"), E.WRONG_TYPE),
    wrow("amend-size-float", wire("amend_order", size=5.0), E.WRONG_TYPE),
    wrow("marks-object", wire("oracle_update", marks={CALL: 1}), E.WRONG_TYPE),
    wrow("mark-as-array", wire("oracle_update", marks=[[CALL, 1]]), E.WRONG_TYPE),
    wrow(
        "mark-price-float",
        wire("oracle_update", marks=[{"instrument": CALL, "price": 1.0}]),
        E.WRONG_TYPE,
    ),
    wrow("payload-array", {"payload": ["deposit", "alice", "USDC", 1]}, E.WRONG_TYPE),
    wrow("payload-null", {"payload": None}, E.WRONG_TYPE),
    wrow("document-array", [WIRE_BASES["deposit"]], E.WRONG_TYPE),
    wrow("document-int", 5, E.WRONG_TYPE),
    wrow("nonce-float", wire("deposit", {"nonce": 1.5}), E.WRONG_TYPE),
    wrow("expiry-str", wire("deposit", {"expires_at_ns": "soon"}), E.WRONG_TYPE),
    # missing and unknown fields
    wrow("missing-amount", wire("deposit", amount=_MISSING), E.MISSING_FIELD),
    wrow("missing-account", wire("transfer", source=_MISSING), E.MISSING_FIELD),
    wrow("missing-size", wire("place_order", size=_MISSING), E.MISSING_FIELD),
    wrow("missing-side", wire("place_order", side=_MISSING), E.MISSING_FIELD),
    wrow("missing-amend-order-id", wire("amend_order", order_id=_MISSING), E.MISSING_FIELD),
    wrow("missing-index", wire("oracle_update", index=_MISSING), E.MISSING_FIELD),
    wrow(
        "missing-mark-price", wire("oracle_update", marks=[{"instrument": CALL}]), E.MISSING_FIELD
    ),
    wrow("missing-type", wire("deposit", type=_MISSING), E.MISSING_FIELD),
    wrow("missing-payload", {"nonce": 1}, E.MISSING_FIELD),
    wrow("unknown-payload-field", wire("deposit", memo="hi"), E.UNKNOWN_FIELD),
    wrow("field-of-another-type", wire("deposit", size=1), E.UNKNOWN_FIELD),
    wrow("unknown-order-field", wire("place_order", leverage=100), E.UNKNOWN_FIELD),
    wrow(
        "unknown-mark-field",
        wire("oracle_update", marks=[{"instrument": CALL, "price": 1, "iv": 5}]),
        E.UNKNOWN_FIELD,
    ),
    wrow("unknown-envelope-field", wire("deposit", {"priority": 1}), E.UNKNOWN_FIELD),
    # invalid values of enums and tags
    wrow("type-unknown", wire("deposit", type="mint"), E.INVALID_VALUE),
    wrow("type-case", wire("deposit", type="Deposit"), E.INVALID_VALUE),
    wrow("side-unknown", wire("place_order", side="long"), E.INVALID_VALUE),
    wrow("side-case", wire("place_order", side="BUY"), E.INVALID_VALUE),
    wrow("order-type-unknown", wire("place_order", order_type="stop"), E.INVALID_VALUE),
    wrow("time-in-force-unknown", wire("place_order", time_in_force="day"), E.INVALID_VALUE),
    wrow("stp-unknown", wire("place_order", self_trade_prevention="allow"), E.INVALID_VALUE),
    # decoded fine, then refused by the engine with the field's own code
    wrow("amount-negative", wire("deposit", amount=-1), E.AMOUNT_NOT_POSITIVE),
    wrow("amount-i64-min", wire("deposit", amount=-(2**63)), E.AMOUNT_NOT_POSITIVE),
    wrow("amount-u64-max", wire("deposit", amount=U64_MAX), E.AMOUNT_TOO_LARGE),
    wrow("size-zero", wire("place_order", size=0), E.SIZE_NOT_POSITIVE),
    wrow("size-u64-max", wire("place_order", size=U64_MAX), E.SIZE_TOO_LARGE),
    wrow("price-u64-max", wire("place_order", price=U64_MAX), E.PRICE_TOO_LARGE),
    wrow("price-off-tick", wire("place_order", price=90_000 * USD + 1), E.PRICE_OFF_TICK),
    wrow("price-null-limit", wire("place_order", price=None), E.PRICE_REQUIRED),
    wrow(
        "market-gtc", wire("place_order", price=None, order_type="market"), E.INVALID_ORDER_OPTIONS
    ),
    wrow("cancel-order-id-u64-max", wire("cancel_order", order_id=U64_MAX), E.UNKNOWN_ORDER),
    wrow("amend-size-u64-max", wire("amend_order", size=U64_MAX), E.SIZE_TOO_LARGE),
    wrow("oracle-price-u64-max", wire("oracle_update", price=U64_MAX), E.PRICE_TOO_LARGE),
    wrow(
        "mark-price-u64-max",
        wire("oracle_update", marks=[{"instrument": CALL, "price": U64_MAX}]),
        E.PRICE_TOO_LARGE,
    ),
    wrow("unknown-instrument", wire("place_order", instrument="DOGE-PERP"), E.UNKNOWN_INSTRUMENT),
]

JSON_ONLY_ROWS = [
    wrow("amount-10**30", wire("deposit", amount=10**30), E.AMOUNT_TOO_LARGE),
    wrow("amount-minus-10**30", wire("deposit", amount=-(10**30)), E.AMOUNT_NOT_POSITIVE),
    wrow("size-2**80", wire("place_order", size=HUGE), E.SIZE_TOO_LARGE),
    wrow("price-2**80", wire("place_order", price=HUGE), E.PRICE_TOO_LARGE),
    wrow("order-id-2**80", wire("cancel_order", order_id=HUGE), E.UNKNOWN_ORDER),
    wrow("signer-not-base64", wire("deposit", {"signer": "not base64!"}), E.INVALID_VALUE),
]

MSGPACK_ONLY_ROWS = [
    wrow("amount-bin", wire("deposit", amount=b"\x01"), E.WRONG_TYPE),
    wrow("amount-ext", wire("deposit", amount=msgspec.msgpack.Ext(1, b"\x01")), E.WRONG_TYPE),
    wrow("signer-str", wire("deposit", {"signer": "abc"}), E.WRONG_TYPE),
    wrow("key-int", {**wire("deposit"), 5: 1}, E.WRONG_TYPE),
]


def submit(venue: Venue, decoded: Transaction | Rejection) -> Rejection | Outcome:
    if isinstance(decoded, Rejection):
        return decoded
    return venue.apply(decoded.payload)


def check_wire(raw: bytes | str, decode: Any, code: ErrorCode | None) -> None:
    venue = open_venue()
    engine = venue.engine
    digest, head, seq = engine.digest(), engine.chain_head, engine.seq
    result = submit(venue, decode(raw))
    if code is None:
        assert isinstance(result, Accepted), result
        return
    assert isinstance(result, Rejection | Rejected), f"accepted: {result}"
    assert ErrorCode(result.code).name == code.name, result.message
    assert engine.digest() == digest
    if isinstance(result, Rejection):  # refused at the boundary: the engine never saw it
        assert (engine.chain_head, engine.seq) == (head, seq)


@pytest.mark.parametrize(("document", "code"), WIRE_ROWS + JSON_ONLY_ROWS)
def test_json_input_is_refused_with_its_code(document: object, code: ErrorCode | None) -> None:
    check_wire(json.dumps(document).encode(), decode_transaction_json, code)


@pytest.mark.parametrize(("document", "code"), WIRE_ROWS + MSGPACK_ONLY_ROWS)
def test_msgpack_input_is_refused_with_its_code(document: object, code: ErrorCode | None) -> None:
    check_wire(msgspec.msgpack.encode(document), decode_transaction, code)


_VALID_MSGPACK = msgspec.msgpack.encode(wire("deposit"))
_VALID_JSON = json.dumps(wire("deposit")).encode()

GARBAGE_JSON = [
    pytest.param(b"", id="empty"),
    pytest.param(b"{", id="unclosed"),
    pytest.param(b"not json", id="words"),
    pytest.param(b"\xff\xfe\x00", id="binary"),
    pytest.param(b"\xef\xbb\xbf" + _VALID_JSON, id="utf8-bom"),
    pytest.param(_VALID_JSON + b" x", id="trailing-bytes"),
    pytest.param(_VALID_JSON + _VALID_JSON, id="two-documents"),
    pytest.param(_VALID_JSON[:-5], id="truncated"),
    pytest.param(_VALID_JSON.replace(b"1000000000", b"NaN"), id="nan"),
    pytest.param(_VALID_JSON.replace(b"1000000000", b"01"), id="leading-zero"),
    pytest.param(_VALID_JSON.replace(b'"alice"', b"'alice'"), id="single-quotes"),
    pytest.param(_VALID_JSON.replace(b'"alice"', b'"\\ud800"'), id="lone-surrogate-escape"),
    pytest.param(_VALID_JSON.replace(b'"alice"', b'"\xff\xfe"'), id="invalid-utf8-in-string"),
    pytest.param(_VALID_JSON.replace(b'"alice"', b'"\xed\xa0\x80"'), id="utf8-encoded-surrogate"),
    pytest.param(_VALID_JSON.decode().replace("alice", "\ud800"), id="str-with-lone-surrogate"),
]

GARBAGE_MSGPACK = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\xc1", id="never-used-opcode"),
    pytest.param(b"\xc1\xc1\xc1\xc1", id="noise"),
    pytest.param(_VALID_MSGPACK[:-1], id="truncated"),
    pytest.param(_VALID_MSGPACK + b"\x00", id="trailing-bytes"),
    pytest.param(b"\xdf\xff\xff\xff\xff", id="map-header-claims-4g-entries"),
    pytest.param(b"\xdb\xff\xff\xff\xff", id="str-header-claims-4g-bytes"),
    pytest.param(
        _VALID_MSGPACK.replace(b"\xa5alice", b"\xa5\xff\xfe\xfd\xfc\xfb"), id="invalid-utf8-in-str"
    ),
    pytest.param(
        _VALID_MSGPACK.replace(b"\xa5alice", b"\xa5ali\xed\xa0"), id="truncated-utf8-in-str"
    ),
    pytest.param(_VALID_MSGPACK.replace(b"\xa4USDC", b"\xa4USD\xc3"), id="cut-multibyte-char"),
]


@pytest.mark.parametrize("raw", GARBAGE_JSON)
def test_garbage_json_is_malformed_encoding(raw: bytes | str) -> None:
    check_wire(raw, decode_transaction_json, E.MALFORMED_ENCODING)


@pytest.mark.parametrize("raw", GARBAGE_MSGPACK)
def test_garbage_msgpack_is_malformed_encoding(raw: bytes) -> None:
    check_wire(raw, decode_transaction, E.MALFORMED_ENCODING)


def test_decode_rejection_keeps_the_path_to_the_field() -> None:
    rejection = decode_transaction_json(
        json.dumps(wire("oracle_update", marks=[{"instrument": CALL, "price": 1.5}]))
    )
    assert isinstance(rejection, Rejection)
    assert rejection.code == E.WRONG_TYPE
    assert "$.payload.marks[0].price" in rejection.message


def test_an_order_in_an_expired_instrument_can_still_be_cancelled() -> None:
    venue = open_venue()
    outcome = venue.apply(CancelOrder("alice", order_id=ALICE_DEC), DEC26_EXPIRY + 1)
    assert isinstance(outcome, Accepted), outcome


@pytest.mark.parametrize(
    "close_out",
    [
        pytest.param(
            PlaceOrder(
                "dave",
                "BTC-PERP",
                Side.SELL,
                10,
                price=91_000 * USD,
                reduce_only=True,
                time_in_force=IOC,
            ),
            id="ioc-limit-below-mark",
        ),
        pytest.param(
            PlaceOrder(
                "dave",
                "BTC-PERP",
                Side.SELL,
                100,
                price=91_000 * USD,
                reduce_only=True,
                time_in_force=IOC,
            ),
            id="whole-position-ioc",
        ),
        pytest.param(
            PlaceOrder(
                "dave",
                "BTC-PERP",
                Side.SELL,
                10,
                order_type=OrderType.MARKET,
                time_in_force=IOC,
                reduce_only=True,
            ),
            id="market",
        ),
    ],
)
def test_an_account_in_a_margin_call_may_reduce_its_position(close_out: PlaceOrder) -> None:
    """Not a bad input: the one way out of a margin call must stay open.

    dave is long 100 lots in a margin call; selling 10 into alice's bid at 91,000
    (mark 92,000) reduces his risk, so no margin check may refuse it, whatever the
    worst-case price of the order (its limit, or the market order's collar).
    """
    venue = open_venue()
    outcome = venue.apply(close_out)
    assert isinstance(outcome, Accepted), outcome
    assert any(isinstance(event, TradeExecuted) for event in outcome.events)
    dave = venue.engine.account("dave")
    assert dave is not None
    traded = sum(e.size for e in outcome.events if isinstance(e, TradeExecuted))
    assert [p.size for p in dave.positions] == ([100 - traded] if traded < 100 else [])


def test_a_json_number_beyond_any_float_is_an_invalid_value() -> None:
    raw = _VALID_JSON.replace(b"1000000000", b"1e400")
    rejection = decode_transaction_json(raw)
    assert isinstance(rejection, Rejection)
    assert rejection.code == E.INVALID_VALUE
    assert "$.payload.amount" in rejection.message


@pytest.mark.parametrize(
    ("instrument", "levels", "code"),
    [
        pytest.param("DOGE-PERP", 10, E.UNKNOWN_INSTRUMENT, id="unknown-instrument"),
        pytest.param("BTC-PERP", 0, E.DEPTH_INVALID, id="zero"),
        pytest.param("BTC-PERP", -1, E.DEPTH_INVALID, id="negative"),
        pytest.param("BTC-PERP", 1_001, E.DEPTH_INVALID, id="above-max"),
        pytest.param("BTC-PERP", HUGE, E.DEPTH_INVALID, id="2**80"),
        pytest.param("BTC-PERP", 1.5, E.DEPTH_INVALID, id="float"),
        pytest.param("BTC-PERP", True, E.DEPTH_INVALID, id="bool"),
        pytest.param("BTC-PERP", "10", E.DEPTH_INVALID, id="str"),
    ],
)
def test_depth_query_refuses_bad_arguments(
    instrument: str, levels: object, code: ErrorCode
) -> None:
    """Not a transaction, but the same discipline: a code, never an exception."""
    engine = open_venue().engine
    digest = engine.digest()
    result = engine.depth(instrument, levels)  # type: ignore[arg-type]
    assert isinstance(result, Rejection), result
    assert result.code == code
    assert engine.digest() == digest
    assert not isinstance(engine.depth("BTC-PERP", 1_000), Rejection)
