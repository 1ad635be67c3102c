"""Bad input, field by field: every malformed or out-of-range field of every
transaction is refused with its own error code, and the state is exactly as before.

Each table row is a payload (or the bytes of one on the wire) and the code it must
get. Every row runs against a fresh copy of one small venue (`clearhouse.testing`:
deterministic keys, real Ed25519 signatures, a controlled clock):

- alice and bob are rich market makers; alice bids BTC-PERP (client id
  "alice-1"), bob offers it ("bob-1") and holds two offers in BTC-TINY, a
  perpetual whose order and position limits are 10 lots, so his position there
  could already reach -10;
- carol has 1M USD and as many open orders as the venue allows (4);
- dave bought 100 lots at 100,000 and the index fell to 92,000: he is in a margin
  call;
- the oracle quoted the BTC 25 Dec 2026 expiry (a 7.108 % volatility, no skew, no
  basis), so its options have Black-76 marks (the 100,000 call about 2,500 after the
  fall); nothing else of the 2027 expiry or of ETH options has a mark. Each oracle
  update was observed when it was sequenced;
- whale holds the largest balance an account may hold;
- ex-trader has an account and a trade sub-key, "ex-trader-bot", but lost the
  trader role;
- the venue holds its maximum of 6 accounts and takes at most 4 expiry quotes per
  update; "nobody" is a trader with a key but no account; a key may have at most 10
  orders and amendments accepted per second;
- alice's account has two live sub-keys, the most it may have: "alice-bot" (trade,
  at most 20 lots an order) and "alice-reader" (read); "alice-old" was revoked.
  bob's account has one, "bob-bot". alice's nonces start at 100;
- alice has two large withdrawals pending (R_LIVE, R_LIVE_2), the most an account
  may have, and cancelled a third (R_CANCELLED); bob has one pending (R_BOB);
- governance is 2 of the governor owners, with a 1 s timelock and 10 s approvals:
  gov-c lost the governor role, gov-a gained a second governor key ("gov-a2") and
  the keeper's key was rotated to "keeper-2" (all by executed proposals), so gov-a
  and gov-b are the only governor owners. Five proposals are open: P_WITHDRAW
  (approves R_CANCELLED, approved before alice cancelled it), P_GRANT (a role for a
  key bob has since made his sub-key, approved), P_OPEN (a risk change with only its
  proposer's approval), P_BY_B (proposed by gov-b, approved by gov-a) and P_READY
  (a listing proposed by gov-a, approved by gov-b, executable from READY_AT).

Payloads are built in Python with `replace(valid, field=bad)` (msgspec does not
check types on construction, so a float or a bool gets as far as `apply`), signed
by the key that may sign them and verified like any other, and valid versions of
every transaction are shown to be accepted in the same venue, so each row fails for
the one reason it names. Envelope and authorization rows change the envelope
instead: the signer, the signature, the nonce, the expiry.

The set-up is applied once, with real signatures, and its log replayed into a new
engine for each row (client nonces and the clock carried over), which keeps the
whole table fast.

A payload msgpack cannot encode (an integer beyond 64 bits, or something that is
not a payload at all) cannot be signed: no signature can cover it. Those rows reach
the engine with a well-formed envelope of the right key and the verifier's verdict
given as valid, which shows the engine's own checks refuse them; that the verifier
refuses such transactions too is tested on its own below.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest

from clearhouse.auth import sign_transaction, verify_transaction
from clearhouse.core import (
    Accepted,
    AddSubKey,
    AmendOrder,
    Approve,
    ApproveWithdrawal,
    CancelAll,
    CancelOrder,
    CancelProposal,
    Deposit,
    EngineConfig,
    ErrorCode,
    ExecuteProposal,
    ExpiryQuote,
    FundingTick,
    GovernanceRules,
    GrantRole,
    HaltMarket,
    Instrument,
    KillSwitch,
    Kind,
    Liquidate,
    ListInstrument,
    MarginMode,
    OracleUpdate,
    OrderType,
    Outcome,
    Payload,
    PlaceOrder,
    Propose,
    Rejected,
    Rejection,
    ResetMMP,
    ResumeMarket,
    RevokeRole,
    RevokeSubKey,
    Role,
    RotateKey,
    RotateSubKey,
    SelfTradePrevention,
    Sequenced,
    SetMarginMode,
    SetMMP,
    SetRiskParams,
    SettleExpiry,
    Side,
    SubKeyScope,
    TimeInForce,
    TradeExecuted,
    Transaction,
    Transfer,
    Withdraw,
    decode_transaction,
    decode_transaction_json,
    default_catalogue,
    encode,
    genesis_digest,
)
from clearhouse.core.catalogue import expiry_ns
from clearhouse.core.numbers import (
    INT64_MAX,
    amount_max_units,
    balance_max_units,
    position_max_lots,
    price_max_units,
    size_max_lots,
)
from clearhouse.core.txs import PAYLOAD_TYPES, CancelWithdrawal
from clearhouse.testing import TestVenue, default_signer_name, signer_for, standard_genesis

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
"""An option of the quoted expiry: it has a mark."""
UNMARKED_PUT = "BTC-26MAR27-90000-P"
ETH_CALL = "ETH-25DEC26-3500-C"
DEC26_EXPIRY = expiry_ns(2026, 12, 25)
MAR27_EXPIRY = expiry_ns(2027, 3, 26)
SETUP_VOL_PPM = 71_080
"""Black-76 prices the 100,000 call at 5,000 USD at this volatility and index 100,000."""
VOL_MAX_PPM = 10_000_000
"""The largest volatility (and |skew|) an expiry quote may carry: 1000 %."""
LIFETIME = 60 * 10**9
"""How long a test client's transactions live (`clearhouse.venue.Client`)."""
BOT_SIZE_MAX = 20
"""alice-bot's per-order size limit, in lots."""
ALICE_FIRST_NONCE = 100

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
NEW_SPEC = msgspec.structs.replace(TINY, id="BTC-SMALL")
"""A valid instrument that is not listed."""
CONFIG = EngineConfig(
    accounts_max=6,
    orders_per_account_max=4,
    marks_per_update_max=4,
    sub_keys_per_account_max=2,
    pending_withdrawals_per_account_max=2,
    rate_limit_messages=10,
)
STALENESS = CONFIG.oracle_staleness_ns
LARGE = CONFIG.large_withdrawal_units + 1
"""The smallest withdrawal that is a request for governance to approve."""
RULES = GovernanceRules(
    threshold=2, timelock_ns=10**9, approval_ttl_ns=10 * 10**9, proposals_open_max=6
)
GENESIS = standard_genesis(
    ("carol", "dave", "whale", "nobody", "ex-trader"),
    instruments=(*default_catalogue(), TINY),
    config=CONFIG,
    governance=RULES,
    market_makers=("alice", "bob"),
)
VENUE_ID = GENESIS.venue_id
UNSIGNABLE = b"\x01" * 64
"""The signature bytes of a transaction no signature can cover."""


def pk(name: str) -> bytes:
    """The public key of a test key, registered or not."""
    return signer_for(name).public_key()


Override = Any
"""An envelope field's value, or a function of the value it would otherwise have."""


@dataclass
class Venue:
    test_venue: TestVenue
    named: dict[str, int]
    """Order ids, proposal ids and times by name."""
    log: list[Sequenced] = field(default_factory=list)

    @property
    def engine(self) -> Any:
        return self.test_venue.engine

    @property
    def now(self) -> int:
        """Timestamp of the last transaction applied."""
        return self.test_venue.now_ns

    def transaction(
        self, payload: Any, by: str | None, envelope: dict[str, Override]
    ) -> tuple[Transaction, bool]:
        """A transaction from `by` (the payload's usual signer by default), and whether
        it is signed: the envelope fields in `envelope` are set before signing, except
        signer, signature and `tampered` (a dict of fields), which replace the signed
        ones; `venue_id` signs for another venue."""
        client = self.test_venue.client(by or default_signer_name(payload))
        client.nonce += 1
        values: dict[str, object] = {
            "nonce": client.nonce,
            "expires_at_ns": self.now + client.lifetime_ns,
        }
        for name, value in values.items():
            if name in envelope:
                given = envelope[name]
                values[name] = given(value) if callable(given) else given
        tx = Transaction(payload, nonce=values["nonce"], expires_at_ns=values["expires_at_ns"])  # type: ignore[arg-type]
        signed = type(payload) in PAYLOAD_TYPES and _encodable(tx)
        if signed:
            tx = sign_transaction(client.signer, envelope.get("venue_id", VENUE_ID), tx)
        else:
            tx = msgspec.structs.replace(tx, signer=client.public_key, signature=UNSIGNABLE)
        after: dict[str, object] = dict(envelope.get("tampered", {}))
        for name in ("signer", "signature"):
            if name in envelope:
                given = envelope[name]
                after[name] = given(getattr(tx, name)) if callable(given) else given
        return msgspec.structs.replace(tx, **after), signed

    def submit(self, tx: Transaction, signed: bool = True, at_ns: int | None = None) -> Outcome:
        """Verify (a signed transaction), sequence and apply, as `TestVenue.submit` does."""
        if at_ns is not None:
            self.test_venue.now_ns = at_ns
        valid = _verify(tx) if signed else True
        sequenced = Sequenced(self.engine.seq + 1, self.now, tx)
        self.log.append(sequenced)
        return self.engine.apply(sequenced, valid)  # type: ignore[no-any-return]

    def apply(
        self, payload: Any, at_ns: int | None = None, by: str | None = None, **envelope: Override
    ) -> Outcome:
        venue = self.test_venue
        venue.now_ns = venue.now_ns + venue.step_ns if at_ns is None else at_ns
        tx, signed = self.transaction(payload, by, envelope)
        return self.submit(tx, signed)


def _encodable(tx: Transaction) -> bool:
    try:
        encode(tx)
    except OverflowError:  # an integer beyond 64 bits
        return False
    return True


def _beyond_64_bits(value: object) -> bool:
    if type(value) is int:
        return not -(2**63) <= value <= U64_MAX
    if isinstance(value, dict):
        return any(_beyond_64_bits(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_beyond_64_bits(item) for item in value)
    return False


def _verify(tx: Transaction) -> bool:
    return verify_transaction(VENUE_ID, tx)


def _record_setup() -> Venue:
    venue = Venue(TestVenue(GENESIS), {})

    def setup(
        payload: Payload, name: str = "", by: str | None = None, at_ns: int | None = None
    ) -> None:
        outcome = venue.apply(payload, at_ns, by)
        assert isinstance(outcome, Accepted), (payload, outcome)
        if name:
            venue.named[name] = outcome.seq
            venue.named[f"{name}@"] = venue.now

    venue.test_venue.client("alice").nonce = ALICE_FIRST_NONCE - 1
    for account, amount in (("alice", 10**15), ("bob", 10**15), ("carol", 10**12)):
        setup(Deposit(account, "USDC", amount))
    setup(Deposit("dave", "USDC", 1_100 * USD))
    for _ in range(balance_max_units // amount_max_units):
        setup(Deposit("whale", "USDC", amount_max_units))
    setup(Deposit("ex-trader", "USDC", 1_000 * USD))
    setup(AddSubKey("ex-trader", pk("ex-trader-bot"), SubKeyScope.TRADE))

    # Governance: gov-c loses the governor role, gov-a gains a second governor key,
    # the keeper's key is rotated, ex-trader loses the trader role.
    changes = {
        "s-revoke": RevokeRole(pk("gov-c"), Role.GOVERNOR),
        "s-second-key": GrantRole(pk("gov-a2"), "gov-a", Role.GOVERNOR),
        "s-rotate": RotateKey(pk("keeper"), pk("keeper-2")),
        "s-ex-trader": RevokeRole(pk("ex-trader"), Role.TRADER),
    }
    for name, action in changes.items():
        setup(Propose(action), name)
        setup(Approve(venue.named[name]), by="gov-b")
    setup(Propose(SetRiskParams("BTC-TINY", position_max_lots=20)), "s-cancelled")
    setup(CancelProposal(venue.named["s-cancelled"]), by="gov-b")
    venue.test_venue.now_ns += RULES.timelock_ns
    for name in changes:
        setup(ExecuteProposal(venue.named[name]), by="gov-b")

    # Large withdrawals: requests held aside for governance.
    setup(Withdraw("alice", "USDC", LARGE), "r-cancelled")
    setup(Propose(ApproveWithdrawal(venue.named["r-cancelled"])), "p-withdraw")
    setup(Approve(venue.named["p-withdraw"]), by="gov-b")
    setup(CancelWithdrawal("alice", venue.named["r-cancelled"]))
    setup(Withdraw("alice", "USDC", LARGE), "r-live")
    setup(Withdraw("alice", "USDC", LARGE + 1), "r-live-2")
    setup(Withdraw("bob", "USDC", LARGE), "r-bob")

    # Sub-keys.
    setup(AddSubKey("alice", pk("alice-bot"), SubKeyScope.TRADE, BOT_SIZE_MAX))
    setup(AddSubKey("alice", pk("alice-old"), SubKeyScope.TRADE))
    setup(RevokeSubKey("alice", pk("alice-old"), venue.engine.seq + 1))
    setup(AddSubKey("alice", pk("alice-reader"), SubKeyScope.READ))
    setup(Propose(GrantRole(pk("bob-bot"), "bob", Role.TRADER)), "p-grant")
    setup(Approve(venue.named["p-grant"]), by="gov-b")
    setup(AddSubKey("bob", pk("bob-bot"), SubKeyScope.TRADE))

    def observed_now(index: str, price: int, *quotes: ExpiryQuote) -> OracleUpdate:
        """An update observed at the time it is about to be sequenced."""
        return OracleUpdate(index, price, venue.now + venue.test_venue.step_ns, quotes)

    setup(observed_now("BTC-USD", 100_000 * USD, ExpiryQuote(DEC26_EXPIRY, SETUP_VOL_PPM)))
    setup(observed_now("ETH-USD", 3_500 * USD), "eth-observed")
    setup(PlaceOrder("bob", "BTC-PERP", Side.SELL, 100, price=100_000 * USD), "bob-filled")
    setup(
        PlaceOrder(
            "dave", "BTC-PERP", Side.BUY, 100, price=100_000 * USD, time_in_force=TimeInForce.IOC
        )
    )
    setup(observed_now("BTC-USD", 92_000 * USD), "btc-observed")
    call = venue.engine.depth(CALL)
    venue.named["call-mark"] = call.mark_price
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
        setup(PlaceOrder("carol", "BTC-PERP", Side.BUY, 1, price=(85_000 + i) * USD), f"carol-{i}")

    setup(Propose(SetRiskParams("BTC-TINY", position_max_lots=20)), "p-open", by="gov-b")
    setup(Propose(SetRiskParams("BTC-TINY", position_max_lots=30)), "p-by-b", by="gov-b")
    setup(Approve(venue.named["p-by-b"]))
    setup(Propose(ListInstrument(NEW_SPEC)), "p-ready")
    setup(Approve(venue.named["p-ready"]), by="gov-b")
    return venue


@functools.cache
def _setup() -> tuple[tuple[Sequenced, ...], dict[str, int], dict[str, int], int]:
    """The set-up's log, names, client nonces and clock, built once with real signatures."""
    venue = _record_setup()
    nonces = {name: client.nonce for name, client in venue.test_venue.clients.items()}
    return tuple(venue.log), dict(venue.named), nonces, venue.now


def open_venue() -> Venue:
    """A fresh copy of the venue: the recorded set-up replayed into a new engine."""
    log, named, nonces, now = _setup()
    venue = Venue(TestVenue(GENESIS), dict(named))
    for sequenced in log:
        assert isinstance(venue.engine.apply(sequenced, True), Accepted)
    venue.test_venue.now_ns = now
    for name, nonce in nonces.items():
        venue.test_venue.client(name).nonce = nonce
    return venue


_LOG, NAMED, _NONCES, SETUP_END = _setup()
SETUP_SEQ = len(_LOG)
"""The sequence number of the set-up's last transaction; a row is SETUP_SEQ + 1."""
ALICE_NONCE = _NONCES["alice"]
"""The highest nonce alice's key has used."""
ALICE_1 = NAMED["alice-1"]
BOB_1 = NAMED["bob-1"]
BOB_TINY = NAMED["bob-tiny-1"]
CAROL_0 = NAMED["carol-0"]
ALICE_DEC = NAMED["alice-dec"]
FILLED = NAMED["bob-filled"]
S_REVOKE = NAMED["s-revoke"]
"""Executed: no longer open."""
S_CANCELLED = NAMED["s-cancelled"]
P_WITHDRAW = NAMED["p-withdraw"]
P_BY_B = NAMED["p-by-b"]
R_CANCELLED = NAMED["r-cancelled"]
R_LIVE = NAMED["r-live"]
R_LIVE_2 = NAMED["r-live-2"]
R_BOB = NAMED["r-bob"]
P_GRANT = NAMED["p-grant"]
P_OPEN = NAMED["p-open"]
P_READY = NAMED["p-ready"]
READY_AT = NAMED["p-ready@"] + RULES.timelock_ns
"""When P_READY (and every other open proposal, all older) may first be executed."""
OPEN_EXPIRES_AT = NAMED["p-open@"] + RULES.approval_ttl_ns
"""The last moment P_OPEN is open."""
READY_EXPIRES_AT = NAMED["p-ready@"] + RULES.approval_ttl_ns
FAR = INT64_MAX
NEW_KEY = pk("fresh")
"""A key nobody has registered."""
SMALL_ORDER_KEY = bytes(32)
"""The point (0, 0)'s encoding, of order 4: no signature by it can verify."""
NON_CANONICAL_KEY = b"\xff" * 31 + b"\x7f"
"""y = 2^255 - 1, beyond the field prime: not a canonical encoding."""
OFF_CURVE_KEY = (2).to_bytes(32, "little")
"""y = 2: no x puts it on the curve."""
NEXT = SETUP_END + 1_000
"""The timestamp of a row with no transaction before it (the venue's clock steps 1 us)."""
LATER = NEXT + 2 * STALENESS
"""A row's timestamp long after the last oracle observations."""
BTC_OBSERVED = NAMED["btc-observed@"]
"""When the oracle last observed BTC-USD (as it was sequenced)."""
CALL_MARK = NAMED["call-mark"]
MARK = 92_000 * USD
"""BTC-PERP's mark: the index, the book being empty when it fell to 92,000."""
BAND = MARK // 10
"""The price band: 10 % of the mark either side (`price_band_bps`)."""
OPTION_BAND = MARK // 10
"""An option's band: 10 % of the index price either side of its mark."""
FRESH_WINDOW = (LATER // 10**9 + 1) * 10**9
"""The start of a rate-limit window (one second) nobody has sent anything in."""
UNPRICED = msgspec.structs.replace(
    TINY, id="SOL-SOON", kind=Kind.FUTURE, index="SOL-USD", expiry_ns=NEXT + 3 * 10**9
)
"""A future on an index no oracle prices, expiring three seconds after the set-up."""


def test_the_venue_is_what_the_rows_assume() -> None:
    venue = open_venue()
    engine = venue.engine
    assert engine.account_ids() == ["alice", "bob", "carol", "dave", "ex-trader", "whale"]
    assert len(engine.account_ids()) == CONFIG.accounts_max
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
    assert venue.test_venue.client("alice").lifetime_ns == LIFETIME
    state = engine.canonical_state()
    keys = {key[0]: key for key in state["keys"]}
    void = {public_key for public_key, key in keys.items() if key[6]}
    assert void == {pk("keeper"), pk("alice-old")}
    assert keys[pk("alice")][7] == ALICE_NONCE
    # Nonces below the window exist, alice's first is still inside it, and the window's
    # oldest nonce is unused.
    assert ALICE_FIRST_NONCE > 64 and ALICE_NONCE - 63 < ALICE_FIRST_NONCE
    assert keys[pk("gov-c")][2] == 0, "gov-c holds no role"
    assert keys[pk("ex-trader")][2] == 0, "ex-trader holds no role"
    assert keys[pk("gov-a2")][1] == "gov-a"
    assert keys[pk("ex-trader-bot")][3] == "ex-trader"
    assert {p[0] for p in state["proposals"]} == {P_WITHDRAW, P_GRANT, P_OPEN, P_BY_B, P_READY}
    assert [(r[0], r[1]) for r in state["pending_withdrawals"]] == [
        (R_LIVE, "alice"),
        (R_LIVE_2, "alice"),
        (R_BOB, "bob"),
    ]
    assert SETUP_END < READY_AT < OPEN_EXPIRES_AT < READY_EXPIRES_AT < DEC26_EXPIRY
    assert depth.mark_price == MARK
    assert 0 < CALL_MARK < 5_000 * USD
    unmarked = engine.depth(UNMARKED_PUT)
    assert not isinstance(unmarked, Rejection) and unmarked.mark_price == 0
    # Every key's orders of the set-up leave room in the rate limit for the rows'.
    assert all(key[10] <= CONFIG.rate_limit_messages // 2 for key in keys.values())
    engine.check_invariants()


def bad(base: Any, **changes: object) -> Any:
    """`base` with some fields replaced, types unchecked (as a Python caller may do)."""
    return msgspec.structs.replace(base, **changes)


def quoted(*quotes: object) -> OracleUpdate:
    """ORACLE with these expiry quotes."""
    return bad(ORACLE, expiries=quotes)  # type: ignore[no-any-return]


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
QUOTE = ExpiryQuote(DEC26_EXPIRY, 80_000, -50_000, 100 * USD)
ORACLE = OracleUpdate("BTC-USD", 92_500 * USD, SETUP_END, (QUOTE,))
"""Observed at the set-up's last moment: after the last BTC-USD observation, before (and
within the staleness of) a row's own timestamp."""
HALT = HaltMarket("BTC-PERP")
RESUME = ResumeMarket("BTC-PERP")
KILL = KillSwitch("alice")
RELEASE = KillSwitch("alice", engaged=False)
MARGIN_MODE = SetMarginMode("carol", MarginMode.PORTFOLIO)
SET_MMP = SetMMP("alice", "BTC-USD", 10**9, 1, 10**12)
"""At most 1 lot of maker fills a second: alice's bid trips it on a fill of 2."""
RESET_MMP = ResetMMP("alice", "BTC-USD")
KEEPER = "keeper-2"
"""The keeper's key since the set-up rotated it."""
LIQUIDATE = Liquidate("dave")
SETTLE = SettleExpiry("BTC-25DEC26")
FUNDING = FundingTick("BTC-PERP")
FUNDING_DUE = SETUP_END + CONFIG.funding_interval_ns
"""A time funding is due: an interval after the perpetual's first mark (in the set-up)."""
HIT_ALICE = PlaceOrder(
    "bob", "BTC-PERP", Side.SELL, 2, price=91_000 * USD, time_in_force=TimeInForce.IOC
)
"""bob sells 2 into alice's bid: 2 lots of maker fills for alice."""
IOC_BID = PlaceOrder(
    "alice", "BTC-PERP", Side.BUY, 1, price=90_000 * USD, time_in_force=TimeInForce.IOC
)
"""An order of alice's that never trades nor rests, counted by the rate limit all the same."""
ADD_KEY = AddSubKey("bob", NEW_KEY, SubKeyScope.TRADE, 5)
REVOKE_KEY = RevokeSubKey("alice", pk("alice-bot"), FAR)
ROTATE_KEY = RotateSubKey("alice", pk("alice-bot"), NEW_KEY, SETUP_SEQ + 1)
"""alice's account is at its sub-key limit: the old key is void at once."""
LIST = ListInstrument(NEW_SPEC)
RISK = SetRiskParams("BTC-TINY", position_max_lots=20)
GRANT = GrantRole(NEW_KEY, "erin", Role.TRADER)
REVOKE_ROLE = RevokeRole(pk("carol"), Role.TRADER)
ROTATE_MASTER = RotateKey(pk("carol"), NEW_KEY)
APPROVE_WITHDRAWAL = ApproveWithdrawal(R_LIVE)
CANCEL_WITHDRAWAL = CancelWithdrawal("alice", R_LIVE)
APPROVE = Approve(P_OPEN)
CANCEL_PROPOSAL = CancelProposal(P_OPEN)
EXECUTE = ExecuteProposal(P_READY)


Before = tuple[Any, str | None, int | None]
"""A payload, its signer (None: the usual one) and its timestamp (None: the next tick)."""


def first(payload: Any, by: str | None = None, at_ns: int | None = None) -> Before:
    return payload, by, at_ns


LIST_UNPRICED = (
    first(Propose(ListInstrument(UNPRICED)), at_ns=NEXT),
    first(Approve(SETUP_SEQ + 1), "gov-b", NEXT + 1_000),
    first(ExecuteProposal(SETUP_SEQ + 1), at_ns=NEXT + RULES.timelock_ns + 2_000),
)
"""Governance lists UNPRICED (the proposal is the first transaction after the set-up)."""
WINDOW_FULL = tuple(
    first(IOC_BID, at_ns=FRESH_WINDOW + k * 1_000) for k in range(CONFIG.rate_limit_messages)
)
"""alice's key sends as many orders as the rate limit allows in one window."""
AFTER_WINDOW_FULL = FRESH_WINDOW + CONFIG.rate_limit_messages * 1_000
"""Still in that window."""


@dataclass(frozen=True)
class Row:
    payload: object
    code: ErrorCode | None
    """None: the transaction is accepted."""
    at_ns: int | None = None
    by: str | None = None
    envelope: dict[str, Override] = field(default_factory=dict)
    before: tuple[Before, ...] = ()
    """Transactions applied, and accepted, first."""


def row(
    name: str,
    payload: object,
    code: ErrorCode | None,
    timestamp_ns: int | None = None,
    *,
    by: str | None = None,
    before: tuple[Before, ...] = (),
    **envelope: Override,
) -> Any:
    return pytest.param(Row(payload, code, timestamp_ns, by, envelope, before), id=name)


def ok(name: str, payload: object, timestamp_ns: int | None = None, **kwargs: Any) -> Any:
    return row(name, payload, None, timestamp_ns, **kwargs)


def run_before(venue: Venue, case: Row) -> None:
    for payload, by, at_ns in case.before:
        outcome = venue.apply(payload, at_ns, by)
        assert isinstance(outcome, Accepted), (payload, outcome)


def run(venue: Venue, case: Row) -> Outcome:
    run_before(venue, case)
    return venue.apply(case.payload, case.at_ns, case.by, **case.envelope)


BASELINES = [
    ok("Deposit", DEPOSIT),
    ok("Withdraw", WITHDRAW),
    ok("Withdraw-large-is-a-request", bad(WITHDRAW, account="bob", amount=LARGE)),
    ok("CancelWithdrawal", CANCEL_WITHDRAWAL),
    ok("Transfer", TRANSFER),
    ok("PlaceOrder", PLACE),
    ok("PlaceOrder-market", MARKET),
    ok("PlaceOrder-option", PlaceOrder("alice", CALL, Side.BUY, 1, price=5_000 * USD)),
    ok("PlaceOrder-tiny", PlaceOrder("bob", "BTC-TINY", Side.BUY, 10, price=90_000 * USD)),
    ok("CancelOrder", CANCEL),
    ok("CancelOrder-by-client-id", CANCEL_BY_CLIENT_ID),
    ok("CancelAll", CANCEL_ALL),
    ok("CancelAll-every-instrument", CancelAll("carol")),
    ok("AmendOrder", AMEND),
    ok("AmendOrder-size", AmendOrder("alice", ALICE_1, size=20)),
    ok("OracleUpdate", OracleUpdate("ETH-USD", 3_400 * USD, SETUP_END)),
    ok("OracleUpdate-expiries", ORACLE),
    ok("HaltMarket", HALT),
    ok("HaltMarket-index", HaltMarket(index="ETH-USD")),
    ok("ResumeMarket", RESUME, before=(first(HALT),)),
    ok("ResumeMarket-index", ResumeMarket(index="BTC-USD"), before=(first(HALT),)),
    ok("KillSwitch", KILL),
    ok("KillSwitch-release", RELEASE, before=(first(KILL),)),
    ok("KillSwitch-by-risk-officer", bad(KILL, account="bob"), by="risk-officer"),
    ok("SetMarginMode", MARGIN_MODE),
    ok("SetMMP", SET_MMP),
    ok("ResetMMP", RESET_MMP, before=(first(SET_MMP),)),
    ok("Liquidate", LIQUIDATE, by=KEEPER),
    ok("SettleExpiry", SETTLE, DEC26_EXPIRY, by=KEEPER),
    ok("FundingTick", FUNDING, FUNDING_DUE, by=KEEPER),
    ok("AddSubKey", ADD_KEY),
    ok("RevokeSubKey", REVOKE_KEY),
    ok("RotateSubKey", ROTATE_KEY),
    ok("Propose-ListInstrument", Propose(LIST)),
    ok("Propose-SetRiskParams", Propose(RISK)),
    ok("Propose-GrantRole", Propose(GRANT)),
    ok("Propose-RevokeRole", Propose(REVOKE_ROLE)),
    ok("Propose-RotateKey", Propose(ROTATE_MASTER)),
    ok("Propose-ApproveWithdrawal", Propose(APPROVE_WITHDRAWAL)),
    ok("Approve", APPROVE),
    ok("CancelProposal", CANCEL_PROPOSAL),
    ok("ExecuteProposal", EXECUTE, READY_AT),
]

# The largest values each limit allows are accepted: the rows just above them are
# refused for the limit, not for something else.
BOUNDARIES = [
    ok("deposit-amount-max", bad(DEPOSIT, amount=amount_max_units)),
    ok("deposit-amount-1", bad(DEPOSIT, amount=1)),
    ok(
        "withdraw-amount-at-large-withdrawal-limit",
        bad(WITHDRAW, account="whale", amount=CONFIG.large_withdrawal_units),
    ),
    ok("withdraw-amount-max", bad(WITHDRAW, account="whale", amount=amount_max_units)),
    ok(
        "withdraw-at-the-pending-limit-is-paid-if-small",
        bad(WITHDRAW, amount=CONFIG.large_withdrawal_units),
    ),
    ok("place-size-max", bad(PLACE, size=SIZE_MAX)),
    ok("place-at-the-band-low-edge", bad(PLACE, price=MARK - BAND)),
    ok("place-sell-at-the-band-high-edge", bad(PLACE, side=Side.SELL, price=MARK + BAND)),
    ok(
        "place-option-at-its-band-high-edge",
        PlaceOrder("alice", CALL, Side.SELL, 1, price=CALL_MARK + OPTION_BAND),
    ),
    ok("place-market-order-is-not-banded", bad(MARKET, side=Side.SELL)),
    ok("place-client-id-36-chars", bad(PLACE, client_order_id="c" * 36)),
    ok("place-client-id-punctuation", bad(PLACE, client_order_id="~!#$%&()*+,-./:;<=>?@[]^_{|}")),
    ok("place-client-id-of-another-account", bad(PLACE, client_order_id="bob-1")),
    ok("place-future-1ns-before-expiry", bad(PLACE, instrument="BTC-25DEC26"), DEC26_EXPIRY - 1),
    ok("amend-tiny-at-position-limit", AmendOrder("bob", BOB_TINY, size=5, price=94_000 * USD)),
    ok("amend-to-the-band-low-edge", bad(AMEND, price=MARK - BAND)),
    ok(
        "amend-size-of-an-order-the-band-left-behind",
        AmendOrder("alice", ALICE_1, size=5),
        before=(first(OracleUpdate("BTC-USD", 103_000 * USD, NEXT), at_ns=NEXT),),
    ),
    ok("oracle-price-max-is-clamped", bad(ORACLE, price=price_max_units, expiries=())),
    ok("oracle-price-1-off-any-grid-is-clamped", bad(ORACLE, price=1, expiries=())),
    ok("oracle-observed-as-sequenced", bad(ORACLE, observed_ns=NEXT), NEXT),
    ok("oracle-observed-at-the-staleness-limit", bad(ORACLE, observed_ns=LATER - STALENESS), LATER),
    ok("oracle-observed-just-after-the-last", bad(ORACLE, observed_ns=BTC_OBSERVED + 1)),
    ok("oracle-every-expiry-of-the-index", quoted(QUOTE, bad(QUOTE, expiry_ns=MAR27_EXPIRY))),
    ok("oracle-no-expiry", quoted()),
    ok("oracle-vol-zero", quoted(bad(QUOTE, atm_vol_ppm=0, skew_ppm=0))),
    ok(
        "oracle-vol-and-skew-max", quoted(bad(QUOTE, atm_vol_ppm=VOL_MAX_PPM, skew_ppm=VOL_MAX_PPM))
    ),
    ok("oracle-skew-min", quoted(bad(QUOTE, skew_ppm=-VOL_MAX_PPM))),
    ok(
        "oracle-basis-at-its-lower-bound",
        quoted(bad(QUOTE, basis=-(ORACLE.price * 2_000 // 10_000))),
    ),
    ok(
        "oracle-basis-at-its-upper-bound",
        quoted(bad(QUOTE, basis=ORACLE.price * 2_000 // 10_000)),
    ),
    # controls
    ok(
        "resume-every-halted-market-of-an-index",
        ResumeMarket(index="BTC-USD"),
        before=(first(HaltMarket(index="BTC-USD")),),
    ),
    ok("halt-the-rest-of-an-index", HaltMarket(index="BTC-USD"), before=(first(HALT),)),
    ok("kill-switch-officer-over-owner", KILL, by="risk-officer", before=(first(KILL),)),
    ok(
        "kill-switch-officer-releases",
        RELEASE,
        by="risk-officer",
        before=(first(KILL, by="risk-officer"),),
    ),
    ok("mmp-window-max", bad(SET_MMP, window_ns=86_400 * 10**9)),
    ok("mmp-limits-max", bad(SET_MMP, quantity_max=INT64_MAX, delta_max=INT64_MAX)),
    ok("mmp-set-again-keeps-its-trip", SET_MMP, before=(first(SET_MMP), first(HIT_ALICE))),
    ok("reset-mmp-untripped", RESET_MMP, before=(first(SET_MMP),)),
    ok("settle-after-expiry", SETTLE, DEC26_EXPIRY + 1, by=KEEPER),
    ok("settle-an-option", SettleExpiry(CALL), DEC26_EXPIRY, by=KEEPER),
    ok(
        "funding-long-after-due",
        FUNDING,
        FUNDING_DUE + 10 * CONFIG.funding_interval_ns,
        by=KEEPER,
    ),
    # the rate limit: a fresh window takes as many orders and amendments as the limit
    ok(
        "rate-limit-last-order-of-the-window",
        PLACE,
        FRESH_WINDOW + CONFIG.rate_limit_messages * 1_000,
        before=tuple(
            first(IOC_BID, at_ns=FRESH_WINDOW + k * 1_000)
            for k in range(CONFIG.rate_limit_messages - 1)
        ),
    ),
    ok("rate-limit-is-per-key", PLACE, AFTER_WINDOW_FULL, by="alice-bot", before=WINDOW_FULL),
    ok("rate-limit-spares-cancels", CANCEL, AFTER_WINDOW_FULL, before=WINDOW_FULL),
    ok("rate-limit-spares-kill-switches", KILL, AFTER_WINDOW_FULL, before=WINDOW_FULL),
    ok(
        "rate-limit-window-starts-anew",
        PLACE,
        FRESH_WINDOW + 10**9,
        before=tuple(
            first(IOC_BID, at_ns=FRESH_WINDOW + k * 1_000)
            for k in range(CONFIG.rate_limit_messages)
        ),
    ),
    # envelope and authorization
    ok("expires-now", PLACE, expires_at_ns=lambda e: e - LIFETIME),
    ok(
        "expires-at-lifetime-max",
        PLACE,
        expires_at_ns=lambda e: e - LIFETIME + CONFIG.tx_lifetime_ns_max,
    ),
    ok("nonce-oldest-in-window", PLACE, nonce=ALICE_NONCE - 63),
    ok("nonce-far-ahead", PLACE, nonce=ALICE_NONCE + 1_000),
    ok("nonce-max", PLACE, nonce=INT64_MAX),
    ok("sub-key-at-size-limit", bad(PLACE, size=BOT_SIZE_MAX), by="alice-bot"),
    ok("sub-key-cancels", CANCEL, by="alice-bot"),
    ok("sub-key-amends", AMEND, by="alice-bot"),
    ok("sub-key-cancels-all", CANCEL_ALL, by="alice-bot"),
    ok("sub-key-engages-the-kill-switch", KILL, by="alice-bot"),
    ok("sub-key-sets-mmp", SET_MMP, by="alice-bot"),
    ok("sub-key-resets-mmp", RESET_MMP, by="alice-bot", before=(first(SET_MMP),)),
    ok("master-key-has-no-size-limit", bad(PLACE, size=BOT_SIZE_MAX + 1)),
    ok(
        "sub-key-void-from-the-next-seq",
        bad(PLACE, size=1),
        by="alice-bot",
        before=(first(RevokeSubKey("alice", pk("alice-bot"), SETUP_SEQ + 3)),),
    ),
    # keys
    ok("add-sub-key-size-limit-max", bad(ADD_KEY, order_size_max=size_max_lots)),
    ok("add-sub-key-read", bad(ADD_KEY, scope=SubKeyScope.READ)),
    ok("revoke-sub-key-from-this-seq", bad(REVOKE_KEY, void_from_seq=SETUP_SEQ + 1)),
    ok("revoke-sub-key-already-revoked", bad(REVOKE_KEY, public_key=pk("alice-old"))),
    ok(
        "rotate-sub-key-with-room-keeps-the-old-key",
        RotateSubKey("bob", pk("bob-bot"), NEW_KEY, FAR),
    ),
    # governance
    ok("propose-the-last-open-proposal-allowed", Propose(LIST)),
    ok("risk-position-limit-equals-order-limit", Propose(bad(RISK, position_max_lots=10))),
    ok("risk-position-limit-max", Propose(bad(RISK, position_max_lots=position_max_lots))),
    ok("grant-owner-48-chars", Propose(bad(GRANT, owner="o" * 48))),
    ok("grant-second-role-of-a-key", Propose(GrantRole(pk("carol"), "carol", Role.MARKET_MAKER))),
    ok("grant-existing-owner-new-key", Propose(bad(GRANT, owner="carol"))),
    ok("rotate-governor-key", Propose(RotateKey(pk("gov-b"), NEW_KEY))),
    ok(
        "grant-another-governor-key-to-a-governor",
        Propose(GrantRole(NEW_KEY, "gov-b", Role.GOVERNOR)),
    ),
    ok("revoke-second-governor-key", Propose(RevokeRole(pk("gov-a2"), Role.GOVERNOR))),
    ok(
        "revoke-governor-key-of-an-owner-with-another",
        Propose(RevokeRole(pk("gov-a"), Role.GOVERNOR)),
    ),
    ok("approve-withdrawal-of-another-request", Propose(ApproveWithdrawal(R_BOB))),
    ok("approve-with-a-second-governor-key", APPROVE, by="gov-a2"),
    ok("approve-at-the-last-moment", APPROVE, OPEN_EXPIRES_AT),
    ok("cancel-expired-proposal", CANCEL_PROPOSAL, OPEN_EXPIRES_AT + 1),
    ok("execute-at-the-last-moment", EXECUTE, READY_EXPIRES_AT),
]


def _wrong_types(base: Any, field: str, *values: object, by: str | None = None) -> list[Any]:
    """Rows giving `field` values of the wrong type, signed by `base`'s usual signer."""
    return [
        row(
            f"{type(base).__name__}-{field}-{type(v).__name__}-{v!r:.12}",
            bad(base, **{field: v}),
            E.WRONG_TYPE,
            by=by or default_signer_name(base),
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
    row("withdraw-asset-unknown", bad(WITHDRAW, asset="BTC"), E.UNKNOWN_ASSET),
    row("withdraw-amount-zero", bad(WITHDRAW, amount=0), E.AMOUNT_NOT_POSITIVE),
    row("withdraw-amount-negative", bad(WITHDRAW, amount=-1_000 * USD), E.AMOUNT_NOT_POSITIVE),
    row(
        "withdraw-amount-above-max", bad(WITHDRAW, amount=amount_max_units + 1), E.AMOUNT_TOO_LARGE
    ),
    row("withdraw-amount-2**80", bad(WITHDRAW, amount=HUGE), E.AMOUNT_TOO_LARGE),
    row(
        "withdraw-large-over-the-pending-limit",
        bad(WITHDRAW, amount=LARGE),
        E.WITHDRAWALS_PENDING_LIMIT,
    ),
    row(
        "withdraw-large-more-than-cash",
        bad(WITHDRAW, account="carol", amount=LARGE),
        E.INSUFFICIENT_FUNDS,
    ),
    row(
        "withdraw-more-than-cash",
        bad(WITHDRAW, account="dave", amount=CONFIG.large_withdrawal_units),
        E.INSUFFICIENT_FUNDS,
    ),
    row(
        "withdraw-all-cash-margin-held",
        bad(WITHDRAW, account="carol", amount=10**12),
        E.INSUFFICIENT_MARGIN,
    ),
    row("withdraw-in-margin-call", bad(WITHDRAW, account="dave", amount=1), E.INSUFFICIENT_MARGIN),
    row(
        # bob: cash 10^15 less his pending request; initial margin 1,104 USD (short 100
        # BTC-PERP lots and 10 more offered, 10 offered in BTC-TINY, 10 % at 92,000).
        # One unit more than leaves that covered is covered only by his short's gain.
        "withdraw-covered-only-by-unrealized-gains",
        bad(WITHDRAW, account="bob", amount=10**15 - LARGE - 1_104 * USD + 1),
        E.UNREALIZED_GAINS_NOT_WITHDRAWABLE,
    ),
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
    # CancelWithdrawal
    row(
        "cancel-withdrawal-account-unknown",
        bad(CANCEL_WITHDRAWAL, account="nobody"),
        E.UNKNOWN_ACCOUNT,
    ),
    row(
        "cancel-withdrawal-unknown-request",
        bad(CANCEL_WITHDRAWAL, request_id=999_999),
        E.UNKNOWN_WITHDRAWAL,
    ),
    row(
        "cancel-withdrawal-cancelled-request",
        bad(CANCEL_WITHDRAWAL, request_id=R_CANCELLED),
        E.UNKNOWN_WITHDRAWAL,
    ),
    row(
        "cancel-withdrawal-of-another-account",
        bad(CANCEL_WITHDRAWAL, request_id=R_BOB),
        E.UNKNOWN_WITHDRAWAL,
    ),
    row(
        "cancel-withdrawal-seq-of-an-order",
        bad(CANCEL_WITHDRAWAL, request_id=ALICE_1),
        E.UNKNOWN_WITHDRAWAL,
    ),
    row(
        "cancel-withdrawal-request-2**80",
        bad(CANCEL_WITHDRAWAL, request_id=HUGE),
        E.UNKNOWN_WITHDRAWAL,
    ),
    row(
        "cancel-withdrawal-account-before-request",
        CancelWithdrawal("nobody", 999_999),
        E.UNKNOWN_ACCOUNT,
    ),
    *_wrong_types(CANCEL_WITHDRAWAL, "request_id", str(R_LIVE), float(R_LIVE), True, None),
    *_wrong_types(CANCEL_WITHDRAWAL, "account", None, ["alice"]),
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
    row("place-halted", PLACE, E.MARKET_HALTED, before=(first(HALT),)),
    row("place-halted-index", PLACE, E.MARKET_HALTED, before=(first(HaltMarket(index="BTC-USD")),)),
    row(
        "place-halted-by-the-circuit-breaker",
        PLACE,
        E.MARKET_HALTED,
        before=(first(OracleUpdate("BTC-USD", 78_000 * USD, NEXT), at_ns=NEXT),),
    ),
    row("place-killed", PLACE, E.ACCOUNT_KILLED, before=(first(KILL),)),
    row(
        "place-killed-by-the-risk-officer",
        PLACE,
        E.ACCOUNT_KILLED,
        before=(first(KILL, by="risk-officer"),),
    ),
    row("place-mmp-tripped", PLACE, E.MMP_TRIPPED, before=(first(SET_MMP), first(HIT_ALICE))),
    row(
        "place-mmp-tripped-on-another-instrument-of-the-index",
        bad(PLACE, instrument="BTC-25DEC26"),
        E.MMP_TRIPPED,
        before=(first(SET_MMP), first(HIT_ALICE)),
    ),
    row("place-below-the-band", bad(PLACE, price=MARK - BAND - TICK), E.PRICE_OUTSIDE_BAND),
    row(
        "place-sell-above-the-band",
        bad(PLACE, side=Side.SELL, price=MARK + BAND + TICK),
        E.PRICE_OUTSIDE_BAND,
    ),
    row(
        "place-price-max-is-outside-the-band",
        bad(PLACE, price=price_max_units),
        E.PRICE_OUTSIDE_BAND,
    ),
    row("place-one-tick-is-outside-the-band", bad(PLACE, price=TICK), E.PRICE_OUTSIDE_BAND),
    row(
        "place-option-above-its-band",
        PlaceOrder("alice", CALL, Side.SELL, 1, price=CALL_MARK + OPTION_BAND + OPTION_TICK),
        E.PRICE_OUTSIDE_BAND,
    ),
    row(
        "place-after-the-band-moved",
        bad(PLACE, price=91_000 * USD),
        E.PRICE_OUTSIDE_BAND,
        before=(first(OracleUpdate("BTC-USD", 103_000 * USD, NEXT), at_ns=NEXT),),
    ),
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
    row("amend-halted", AMEND, E.MARKET_HALTED, before=(first(HALT),)),
    row("amend-size-halted", bad(AMEND, price=None), E.MARKET_HALTED, before=(first(HALT),)),
    # The kill switch cancels the account's orders and refuses new ones: a killed
    # account has no order to amend.
    row("amend-killed", AMEND, E.UNKNOWN_ORDER, before=(first(KILL),)),
    row("amend-below-the-band", bad(AMEND, price=MARK - BAND - TICK), E.PRICE_OUTSIDE_BAND),
    row(
        "amend-price-of-an-order-the-band-left-behind",
        bad(AMEND, price=91_000 * USD + TICK),
        E.PRICE_OUTSIDE_BAND,
        before=(first(OracleUpdate("BTC-USD", 103_000 * USD, NEXT), at_ns=NEXT),),
    ),
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
    # when the source observed the price
    row(
        "oracle-observed-after-its-sequencing",
        bad(ORACLE, observed_ns=NEXT + 1),
        E.ORACLE_FROM_FUTURE,
        NEXT,
    ),
    row("oracle-observed-int64-max", bad(ORACLE, observed_ns=INT64_MAX), E.ORACLE_FROM_FUTURE),
    row("oracle-observed-u64-max", bad(ORACLE, observed_ns=U64_MAX), E.ORACLE_FROM_FUTURE),
    row("oracle-observed-2**80", bad(ORACLE, observed_ns=HUGE), E.ORACLE_FROM_FUTURE),
    row(
        "oracle-observed-1ns-too-long-ago",
        bad(ORACLE, observed_ns=LATER - STALENESS - 1),
        E.ORACLE_STALE,
        LATER,
    ),
    row("oracle-observed-at-zero", bad(ORACLE, observed_ns=0), E.ORACLE_STALE),
    row("oracle-observed-negative", bad(ORACLE, observed_ns=-HUGE), E.ORACLE_STALE),
    row(
        "oracle-observed-as-the-last",
        bad(ORACLE, observed_ns=BTC_OBSERVED),
        E.ORACLE_OUT_OF_ORDER,
    ),
    row(
        "oracle-observed-before-the-last",
        bad(ORACLE, observed_ns=BTC_OBSERVED - 1),
        E.ORACLE_OUT_OF_ORDER,
    ),
    row(
        "oracle-observed-before-the-last-of-this-index",
        OracleUpdate("ETH-USD", 3_400 * USD, NAMED["eth-observed@"]),
        E.ORACLE_OUT_OF_ORDER,
    ),
    # the expiries' quotes
    row("oracle-too-many-expiries", quoted(*[QUOTE] * 5), E.INVALID_VALUE),
    row("oracle-expiry-unknown", quoted(bad(QUOTE, expiry_ns=DEC26_EXPIRY + 1)), E.UNKNOWN_EXPIRY),
    row("oracle-expiry-zero", quoted(bad(QUOTE, expiry_ns=0)), E.UNKNOWN_EXPIRY),
    row(
        "oracle-expiry-of-another-index",
        OracleUpdate("ETH-USD", 3_400 * USD, SETUP_END, (bad(QUOTE, expiry_ns=T0),)),
        E.UNKNOWN_EXPIRY,
    ),
    row("oracle-expiry-twice", quoted(QUOTE, QUOTE), E.DUPLICATE_EXPIRY),
    row(
        "oracle-expiry-twice-with-other-values",
        quoted(QUOTE, bad(QUOTE, atm_vol_ppm=1)),
        E.DUPLICATE_EXPIRY,
    ),
    row("oracle-vol-negative", quoted(bad(QUOTE, atm_vol_ppm=-1)), E.VOLATILITY_INVALID),
    row(
        "oracle-vol-above-max",
        quoted(bad(QUOTE, atm_vol_ppm=VOL_MAX_PPM + 1)),
        E.VOLATILITY_INVALID,
    ),
    row(
        "oracle-skew-above-max", quoted(bad(QUOTE, skew_ppm=VOL_MAX_PPM + 1)), E.VOLATILITY_INVALID
    ),
    row(
        "oracle-skew-below-min",
        quoted(bad(QUOTE, skew_ppm=-VOL_MAX_PPM - 1)),
        E.VOLATILITY_INVALID,
    ),
    row(
        "oracle-second-quote-bad",
        quoted(QUOTE, ExpiryQuote(MAR27_EXPIRY, -1)),
        E.VOLATILITY_INVALID,
    ),
    row("oracle-basis-to-a-zero-forward", quoted(bad(QUOTE, basis=-ORACLE.price)), E.BASIS_INVALID),
    row(
        "oracle-basis-to-a-negative-forward",
        quoted(bad(QUOTE, basis=-ORACLE.price - 1)),
        E.BASIS_INVALID,
    ),
    row(
        "oracle-basis-beyond-the-largest-price",
        quoted(bad(QUOTE, basis=price_max_units - ORACLE.price + 1)),
        E.BASIS_INVALID,
    ),
    # a quote's integers are 64-bit
    row("oracle-expiry-u64-max", quoted(bad(QUOTE, expiry_ns=U64_MAX)), E.WRONG_TYPE),
    row("oracle-vol-2**63", quoted(bad(QUOTE, atm_vol_ppm=INT64_MAX + 1)), E.WRONG_TYPE),
    row("oracle-skew-minus-2**63", quoted(bad(QUOTE, skew_ppm=-(2**63))), E.WRONG_TYPE),
    row("oracle-basis-2**80", quoted(bad(QUOTE, basis=HUGE)), E.WRONG_TYPE),
    row("oracle-vol-float", quoted(bad(QUOTE, atm_vol_ppm=0.5)), E.WRONG_TYPE),
    row("oracle-vol-bool", quoted(bad(QUOTE, atm_vol_ppm=True)), E.WRONG_TYPE),
    row("oracle-skew-str", quoted(bad(QUOTE, skew_ppm="0")), E.WRONG_TYPE),
    row("oracle-basis-none", quoted(bad(QUOTE, basis=None)), E.WRONG_TYPE),
    row("oracle-expiry-float", quoted(bad(QUOTE, expiry_ns=float(DEC26_EXPIRY))), E.WRONG_TYPE),
    row("oracle-quote-as-tuple", quoted((DEC26_EXPIRY, 80_000, 0, 0)), E.WRONG_TYPE),
    row("oracle-quote-none", quoted(None), E.WRONG_TYPE),
    *_wrong_types(ORACLE, "price", 92_500.0 * USD, True, "92500000000", None),
    *_wrong_types(ORACLE, "index", None, 1, ["BTC-USD"]),
    *_wrong_types(ORACLE, "observed_ns", float(SETUP_END), True, str(SETUP_END), None),
    *_wrong_types(ORACLE, "expiries", None, "expiries", [QUOTE], QUOTE),
]

# -- controls: halts, kill switches, margin mode, market maker protection -----

CONTROL_ROWS = [
    # HaltMarket
    row("halt-instrument-and-index", HaltMarket("BTC-PERP", "BTC-USD"), E.HALT_TARGET_INVALID),
    row("halt-no-target", HaltMarket(), E.HALT_TARGET_INVALID),
    row("halt-instrument-unknown", HaltMarket("DOGE-PERP"), E.UNKNOWN_INSTRUMENT),
    row("halt-index-unknown", HaltMarket(index="DOGE-USD"), E.UNKNOWN_INDEX),
    row("halt-index-given-as-instrument", HaltMarket("BTC-USD"), E.UNKNOWN_INSTRUMENT),
    row("halt-halted", HALT, E.MARKET_HALTED, before=(first(HALT),)),
    row(
        "halt-halted-index",
        HaltMarket(index="ETH-USD"),
        E.MARKET_HALTED,
        before=(first(HaltMarket(index="ETH-USD")),),
    ),
    *_wrong_types(HALT, "instrument", None, 1, ["BTC-PERP"]),
    *_wrong_types(HaltMarket(index="BTC-USD"), "index", None, 1),
    # ResumeMarket
    row("resume-trading-market", RESUME, E.MARKET_NOT_HALTED),
    row("resume-trading-index", ResumeMarket(index="ETH-USD"), E.MARKET_NOT_HALTED),
    row("resume-instrument-and-index", ResumeMarket("BTC-PERP", "BTC-USD"), E.HALT_TARGET_INVALID),
    row("resume-no-target", ResumeMarket(), E.HALT_TARGET_INVALID),
    row("resume-instrument-unknown", ResumeMarket("DOGE-PERP"), E.UNKNOWN_INSTRUMENT),
    row("resume-index-unknown", ResumeMarket(index="DOGE-USD"), E.UNKNOWN_INDEX),
    row(
        "resume-resumed",
        RESUME,
        E.MARKET_NOT_HALTED,
        before=(first(HALT), first(RESUME)),
    ),
    *_wrong_types(RESUME, "instrument", None, 0),
    # KillSwitch
    row("kill-account-unknown", bad(KILL, account="nobody"), E.UNKNOWN_ACCOUNT),
    row("kill-released-switch-released", RELEASE, E.KILL_SWITCH_UNCHANGED),
    row("kill-engaged-switch-engaged", KILL, E.KILL_SWITCH_UNCHANGED, before=(first(KILL),)),
    row(
        "kill-officer-engages-its-own-again",
        KILL,
        E.KILL_SWITCH_UNCHANGED,
        by="risk-officer",
        before=(first(KILL, by="risk-officer"),),
    ),
    row(
        "kill-owner-releases-the-officers",
        RELEASE,
        E.KILL_SWITCH_HELD,
        before=(first(KILL, by="risk-officer"),),
    ),
    row(
        "kill-owner-releases-what-the-officer-took-over",
        RELEASE,
        E.KILL_SWITCH_HELD,
        before=(first(KILL), first(KILL, by="risk-officer")),
    ),
    *_wrong_types(KILL, "engaged", 1, 0, None, "true"),
    *_wrong_types(KILL, "account", None, ["alice"]),
    # SetMarginMode
    row("margin-mode-account-unknown", bad(MARGIN_MODE, account="nobody"), E.UNKNOWN_ACCOUNT),
    row(
        "margin-mode-unchanged",
        bad(MARGIN_MODE, mode=MarginMode.STANDARD),
        E.MARGIN_MODE_UNCHANGED,
    ),
    row(
        "margin-mode-back-unchanged",
        MARGIN_MODE,
        E.MARGIN_MODE_UNCHANGED,
        before=(first(MARGIN_MODE),),
    ),
    *_wrong_types(MARGIN_MODE, "mode", "portfolio", None, 1),
    *_wrong_types(MARGIN_MODE, "account", None, 5),
    # SetMMP
    row("mmp-account-unknown", bad(SET_MMP, account="nobody"), E.UNKNOWN_ACCOUNT),
    row("mmp-index-unknown", bad(SET_MMP, index="DOGE-USD"), E.UNKNOWN_INDEX),
    row("mmp-index-is-an-instrument", bad(SET_MMP, index="BTC-PERP"), E.UNKNOWN_INDEX),
    row("mmp-window-zero", bad(SET_MMP, window_ns=0), E.MMP_INVALID),
    row("mmp-window-negative", bad(SET_MMP, window_ns=-1), E.MMP_INVALID),
    row("mmp-window-above-a-day", bad(SET_MMP, window_ns=86_400 * 10**9 + 1), E.MMP_INVALID),
    row("mmp-quantity-zero", bad(SET_MMP, quantity_max=0), E.MMP_INVALID),
    row("mmp-quantity-u64-max", bad(SET_MMP, quantity_max=U64_MAX), E.MMP_INVALID),
    row("mmp-delta-negative", bad(SET_MMP, delta_max=-1), E.MMP_INVALID),
    row("mmp-delta-2**80", bad(SET_MMP, delta_max=HUGE), E.MMP_INVALID),
    *_wrong_types(SET_MMP, "window_ns", 1.5, True, None),
    *_wrong_types(SET_MMP, "quantity_max", 1.0, "1"),
    *_wrong_types(SET_MMP, "delta_max", None, False),
    *_wrong_types(SET_MMP, "index", None, 1),
    # ResetMMP
    row("reset-mmp-account-unknown", bad(RESET_MMP, account="nobody"), E.UNKNOWN_ACCOUNT),
    row("reset-mmp-not-set", RESET_MMP, E.MMP_NOT_SET),
    row(
        "reset-mmp-of-another-index",
        bad(RESET_MMP, index="ETH-USD"),
        E.MMP_NOT_SET,
        before=(first(SET_MMP),),
    ),
    *_wrong_types(RESET_MMP, "index", None, 1),
]

# -- the risk lifecycle: liquidation, settlement, funding ---------------------

LIFECYCLE_ROWS = [
    # Liquidate
    row(
        "liquidate-account-unknown", bad(LIQUIDATE, account="nobody"), E.UNKNOWN_ACCOUNT, by=KEEPER
    ),
    row(
        "liquidate-healthy-account", bad(LIQUIDATE, account="alice"), E.NOT_LIQUIDATABLE, by=KEEPER
    ),
    row(
        "liquidate-account-without-positions",
        bad(LIQUIDATE, account="whale"),
        E.NOT_LIQUIDATABLE,
        by=KEEPER,
    ),
    *_wrong_types(LIQUIDATE, "account", None, 1, by=KEEPER),
    # SettleExpiry
    row(
        "settle-instrument-unknown",
        bad(SETTLE, instrument="BTC-1JAN27"),
        E.UNKNOWN_INSTRUMENT,
        by=KEEPER,
    ),
    row(
        "settle-perpetual",
        bad(SETTLE, instrument="BTC-PERP"),
        E.NOT_EXPIRING,
        DEC26_EXPIRY,
        by=KEEPER,
    ),
    row("settle-before-expiry", SETTLE, E.NOT_EXPIRED, DEC26_EXPIRY - 1, by=KEEPER),
    row("settle-long-before-expiry", SETTLE, E.NOT_EXPIRED, by=KEEPER),
    row(
        "settle-twice",
        SETTLE,
        E.ALREADY_SETTLED,
        DEC26_EXPIRY + 1,
        by=KEEPER,
        before=(first(SETTLE, KEEPER, DEC26_EXPIRY),),
    ),
    row(
        "settle-an-index-never-priced",
        SettleExpiry(UNPRICED.id),
        E.NO_SETTLEMENT_PRICE,
        UNPRICED.expiry_ns,
        by=KEEPER,
        before=LIST_UNPRICED,
    ),
    *_wrong_types(SETTLE, "instrument", None, 1, by=KEEPER),
    # FundingTick
    row(
        "funding-instrument-unknown",
        bad(FUNDING, instrument="DOGE-PERP"),
        E.UNKNOWN_INSTRUMENT,
        by=KEEPER,
    ),
    row(
        "funding-future",
        bad(FUNDING, instrument="BTC-25DEC26"),
        E.NOT_A_PERPETUAL,
        FUNDING_DUE,
        by=KEEPER,
    ),
    row("funding-option", bad(FUNDING, instrument=CALL), E.NOT_A_PERPETUAL, FUNDING_DUE, by=KEEPER),
    row(
        "funding-perpetual-never-marked",
        bad(FUNDING, instrument=NEW_SPEC.id),
        E.NO_MARK_PRICE,
        FUNDING_DUE,
        by=KEEPER,
        before=(first(EXECUTE, at_ns=READY_AT),),
    ),
    row("funding-not-due", FUNDING, E.FUNDING_NOT_DUE, by=KEEPER),
    row(
        "funding-paid-and-not-due-again",
        FUNDING,
        E.FUNDING_NOT_DUE,
        FUNDING_DUE + 1,
        by=KEEPER,
        before=(first(FUNDING, KEEPER, FUNDING_DUE),),
    ),
    *_wrong_types(FUNDING, "instrument", None, 1, by=KEEPER),
]

# -- the payload itself -------------------------------------------------------

PAYLOAD_ROWS = [
    row("payload-not-a-payload-struct", QUOTE, E.WRONG_TYPE, by="custody"),
    row("payload-action", LIST, E.WRONG_TYPE, by="gov-a"),
    row("payload-str", "deposit", E.WRONG_TYPE, by="custody"),
    row("payload-none", None, E.WRONG_TYPE, by="custody"),
    row(
        "payload-dict",
        {"type": "deposit", "account": "alice", "asset": "USDC", "amount": 1},
        E.WRONG_TYPE,
        by="custody",
    ),
    row("payload-transaction", Transaction(DEPOSIT), E.WRONG_TYPE, by="custody"),
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
        "withdraw-amount-before-pending-limit",
        bad(WITHDRAW, amount=amount_max_units + 1),
        E.AMOUNT_TOO_LARGE,
    ),
    row(
        "withdraw-pending-limit-before-funds",
        bad(WITHDRAW, amount=amount_max_units),
        E.WITHDRAWALS_PENDING_LIMIT,
    ),
    row(
        "withdraw-funds-before-margin",
        bad(WITHDRAW, account="dave", amount=2_000 * USD),
        E.INSUFFICIENT_FUNDS,
    ),
    row(
        "transfer-source-before-destination",
        bad(TRANSFER, source="nobody", destination="y"),
        E.UNKNOWN_ACCOUNT,
    ),
    row(
        "transfer-destination-before-same",
        bad(TRANSFER, source="nobody", destination="nobody"),
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
        "place-expiry-before-halted",
        bad(PLACE, instrument="BTC-25DEC26"),
        E.INSTRUMENT_EXPIRED,
        DEC26_EXPIRY,
        before=(first(HaltMarket(index="BTC-USD")),),
    ),
    row(
        "place-client-id-before-halted",
        bad(PLACE, client_order_id="a b"),
        E.CLIENT_ORDER_ID_INVALID,
        before=(first(HALT),),
    ),
    row(
        "place-halted-before-killed",
        PLACE,
        E.MARKET_HALTED,
        before=(first(HALT), first(KILL)),
    ),
    row(
        "place-killed-before-mmp",
        PLACE,
        E.ACCOUNT_KILLED,
        before=(first(SET_MMP), first(HIT_ALICE), first(KILL)),
    ),
    row(
        "place-mmp-before-duplicate",
        bad(PLACE, client_order_id="eth-1"),
        E.MMP_TRIPPED,
        before=(
            first(SET_MMP),
            first(
                PlaceOrder(
                    "alice", "ETH-PERP", Side.BUY, 1, price=3_400 * USD, client_order_id="eth-1"
                )
            ),
            first(HIT_ALICE),
        ),
    ),
    row(
        "place-halted-before-duplicate",
        bad(PLACE, client_order_id="alice-1"),
        E.MARKET_HALTED,
        before=(first(HALT),),
    ),
    row(
        "place-margin-call-before-band",
        bad(PLACE, account="dave", price=TICK),
        E.ACCOUNT_BELOW_MAINTENANCE,
    ),
    row(
        "place-reduce-only-before-band",
        bad(PLACE, account="dave", price=TICK, reduce_only=True, time_in_force=IOC),
        E.REDUCE_ONLY_WOULD_INCREASE,
    ),
    row(
        "place-band-before-position-limit",
        bad(PLACE, account="bob", instrument="BTC-TINY", side=Side.SELL, price=MARK + BAND + TICK),
        E.PRICE_OUTSIDE_BAND,
    ),
    row(
        "place-band-before-post-only",
        bad(PLACE, price=MARK + BAND + TICK, post_only=True),
        E.PRICE_OUTSIDE_BAND,
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
        "amend-expiry-before-halted",
        AmendOrder("alice", ALICE_DEC, price=89_000 * USD),
        E.INSTRUMENT_EXPIRED,
        DEC26_EXPIRY,
        before=(first(HaltMarket(index="BTC-USD")),),
    ),
    row("amend-price-before-halted", bad(AMEND, price=1), E.PRICE_OFF_TICK, before=(first(HALT),)),
    row("amend-halted-before-band", bad(AMEND, price=TICK), E.MARKET_HALTED, before=(first(HALT),)),
    row(
        "amend-band-before-would-trade", bad(AMEND, price=MARK + BAND + TICK), E.PRICE_OUTSIDE_BAND
    ),
    row(
        "amend-band-before-margin",
        AmendOrder("carol", CAROL_0, price=TICK, size=SIZE_MAX),
        E.PRICE_OUTSIDE_BAND,
    ),
    row(
        "amend-would-trade-before-margin",
        AmendOrder("carol", CAROL_0, price=93_000 * USD, size=SIZE_MAX),
        E.AMEND_WOULD_TRADE,
    ),
    row("oracle-index-before-price", bad(ORACLE, index="DOGE-USD", price=0), E.UNKNOWN_INDEX),
    row(
        "oracle-price-before-observation",
        bad(ORACLE, price=0, observed_ns=INT64_MAX),
        E.PRICE_NOT_POSITIVE,
    ),
    row(
        "oracle-stale-before-out-of-order",
        bad(ORACLE, observed_ns=BTC_OBSERVED),
        E.ORACLE_STALE,
        BTC_OBSERVED + STALENESS + 1,
    ),
    row(
        "oracle-observation-before-expiry-count",
        bad(quoted(*[QUOTE] * 5), observed_ns=BTC_OBSERVED),
        E.ORACLE_OUT_OF_ORDER,
    ),
    row(
        "oracle-expiry-count-before-quotes",
        quoted(*[bad(QUOTE, expiry_ns=1)] * 5),
        E.INVALID_VALUE,
    ),
    row(
        "oracle-64-bits-before-unknown-expiry",
        quoted(bad(QUOTE, expiry_ns=1, basis=-(2**63))),
        E.WRONG_TYPE,
    ),
    row(
        "oracle-unknown-expiry-before-duplicate",
        quoted(QUOTE, bad(QUOTE, expiry_ns=1), QUOTE),
        E.UNKNOWN_EXPIRY,
    ),
    row(
        "oracle-duplicate-before-volatility",
        quoted(QUOTE, bad(QUOTE, atm_vol_ppm=-1)),
        E.DUPLICATE_EXPIRY,
    ),
    row(
        "oracle-volatility-before-basis",
        quoted(bad(QUOTE, atm_vol_ppm=-1, basis=-ORACLE.price)),
        E.VOLATILITY_INVALID,
    ),
    row(
        "oracle-quotes-in-their-order",
        quoted(bad(QUOTE, basis=-ORACLE.price), ExpiryQuote(MAR27_EXPIRY, -1)),
        E.BASIS_INVALID,
    ),
]


# -- the envelope: signer, nonce, expiry, signature ----------------------------


def flip(signature: bytes) -> bytes:
    return bytes([signature[0] ^ 1]) + signature[1:]


def expires_in(offset_ns: int) -> Callable[[int], int]:
    """An expiry `offset_ns` after the transaction's own timestamp."""
    return lambda default: default - LIFETIME + offset_ns


RATE_LIMIT_ROWS = [
    row("rate-limited-order", PLACE, E.RATE_LIMITED, AFTER_WINDOW_FULL, before=WINDOW_FULL),
    row("rate-limited-amendment", AMEND, E.RATE_LIMITED, AFTER_WINDOW_FULL, before=WINDOW_FULL),
    row(
        "rate-limited-at-the-window-end",
        PLACE,
        E.RATE_LIMITED,
        FRESH_WINDOW + 10**9 - 1,
        before=WINDOW_FULL,
    ),
    row(
        "rate-limit-counts-amendments",
        PLACE,
        E.RATE_LIMITED,
        AFTER_WINDOW_FULL,
        before=tuple(
            first(AmendOrder("alice", ALICE_1, size=11 + k), at_ns=FRESH_WINDOW + k * 1_000)
            for k in range(CONFIG.rate_limit_messages)
        ),
    ),
    row(
        "rate-limit-before-the-handler",
        bad(PLACE, size=0),
        E.RATE_LIMITED,
        AFTER_WINDOW_FULL,
        before=WINDOW_FULL,
    ),
    row(
        "rate-limit-after-authorization",
        PLACE,
        E.BAD_SIGNATURE,
        AFTER_WINDOW_FULL,
        before=WINDOW_FULL,
        signature=flip,
    ),
]

ENVELOPE_ROWS = [
    *[
        row(f"signer-{name}", DEPOSIT, E.WRONG_TYPE, signer=value)
        for name, value in (
            ("none", None),
            ("str", pk("custody").hex()),
            ("int", 5),
            ("bytearray", bytearray(pk("custody"))),
            ("list", [pk("custody")]),
        )
    ],
    *[
        row(f"nonce-{name}", DEPOSIT, E.WRONG_TYPE, nonce=value)
        for name, value in (("float", 1.0), ("bool", True), ("str", "1"), ("none", None))
    ],
    *[
        row(f"nonce-{name}", DEPOSIT, E.INVALID_VALUE, nonce=value)
        for name, value in (
            ("negative", -1),
            ("2**63", INT64_MAX + 1),
            ("u64-max", U64_MAX),
            ("2**80", HUGE),
            ("minus-2**80", -HUGE),
        )
    ],
    *[
        row(f"expiry-{name}", DEPOSIT, E.WRONG_TYPE, expires_at_ns=value)
        for name, value in (("float", float(DEC26_EXPIRY)), ("bool", True), ("none", None))
    ],
    row("expiry-str", DEPOSIT, E.WRONG_TYPE, expires_at_ns="soon"),
    *[
        row(f"expiry-{name}", DEPOSIT, E.INVALID_VALUE, expires_at_ns=value)
        for name, value in (("negative", -1), ("2**63", INT64_MAX + 1), ("2**80", HUGE))
    ],
    *[
        row(f"signature-{name}", DEPOSIT, E.WRONG_TYPE, signature=value)
        for name, value in (
            ("none", None),
            ("str", "signature"),
            ("int", 0),
            ("bytearray", bytearray(64)),
            ("list", [bytes(64)]),
        )
    ],
    # Every field's type first, then the ranges.
    row("signer-type-before-nonce-range", DEPOSIT, E.WRONG_TYPE, signer=None, nonce=-1),
    row("expiry-type-before-nonce-range", DEPOSIT, E.WRONG_TYPE, nonce=-1, expires_at_ns="x"),
    row("signature-type-before-expiry-range", DEPOSIT, E.WRONG_TYPE, expires_at_ns=-1, signature=0),
    row("nonce-range-with-expiry-range", DEPOSIT, E.INVALID_VALUE, nonce=-1, expires_at_ns=-1),
    row("envelope-before-payload", bad(DEPOSIT, amount=1.5), E.INVALID_VALUE, nonce=INT64_MAX + 1),
    row("payload-before-authorization", bad(PLACE, size=1.5), E.WRONG_TYPE, by="mallory"),
    row(
        "envelope-before-authorization",
        PLACE,
        E.WRONG_TYPE,
        by="mallory",
        signature=None,
    ),
]

# -- authorization -------------------------------------------------------------


AUTHORIZATION_ROWS = [
    # who signs
    row("signer-unregistered", PLACE, E.UNKNOWN_SIGNER, by="mallory"),
    row("signer-empty", PLACE, E.UNKNOWN_SIGNER, signer=b""),
    row("signer-31-bytes", PLACE, E.UNKNOWN_SIGNER, signer=lambda key: key[:31]),
    row("signer-revoked-sub-key", PLACE, E.KEY_REVOKED, by="alice-old"),
    row("signer-rotated-out-master-key", DEPOSIT, E.KEY_REVOKED, by="keeper"),
    row(
        "signer-sub-key-void-from-this-seq",
        PLACE,
        E.KEY_REVOKED,
        by="alice-bot",
        before=(first(RevokeSubKey("alice", pk("alice-bot"), SETUP_SEQ + 2)),),
    ),
    row(
        "signer-rotated-sub-key",
        PLACE,
        E.KEY_REVOKED,
        by="alice-bot",
        before=(first(ROTATE_KEY),),
    ),
    # the signature
    row("signature-bit-flipped", PLACE, E.BAD_SIGNATURE, signature=flip),
    row("signature-zeros", PLACE, E.BAD_SIGNATURE, signature=bytes(64)),
    row("signature-empty", PLACE, E.BAD_SIGNATURE, signature=b""),
    row("signature-63-bytes", PLACE, E.BAD_SIGNATURE, signature=lambda s: s[:63]),
    row("signature-for-another-venue", PLACE, E.BAD_SIGNATURE, venue_id="another-venue"),
    row("signature-by-another-key", PLACE, E.BAD_SIGNATURE, signer=pk("bob")),
    row(
        "signature-of-another-payload",
        PLACE,
        E.BAD_SIGNATURE,
        tampered={"payload": bad(PLACE, size=2)},
    ),
    row("signature-of-another-nonce", PLACE, E.BAD_SIGNATURE, tampered={"nonce": ALICE_NONCE + 7}),
    row(
        "signature-of-another-expiry",
        PLACE,
        E.BAD_SIGNATURE,
        tampered={"expires_at_ns": SETUP_END + LIFETIME},
    ),
    # the expiry
    row("expired-1ns-ago", PLACE, E.EXPIRED, expires_at_ns=expires_in(-1)),
    row("expired-at-zero", PLACE, E.EXPIRED, expires_at_ns=0),
    row(
        "expiry-beyond-lifetime-max",
        PLACE,
        E.EXPIRY_TOO_FAR,
        expires_at_ns=expires_in(CONFIG.tx_lifetime_ns_max + 1),
    ),
    row("expiry-int64-max", PLACE, E.EXPIRY_TOO_FAR, expires_at_ns=INT64_MAX),
    # the nonce
    row("nonce-zero", PLACE, E.NONCE_INVALID, nonce=0),
    row("nonce-below-the-window", PLACE, E.NONCE_TOO_OLD, nonce=ALICE_NONCE - 64),
    row("nonce-one", PLACE, E.NONCE_TOO_OLD, nonce=1),
    row("nonce-highest-used", PLACE, E.NONCE_REUSED, nonce=ALICE_NONCE),
    row("nonce-first-used", PLACE, E.NONCE_REUSED, nonce=ALICE_FIRST_NONCE),
    row(
        "nonce-used-by-the-previous-transaction",
        bad(PLACE, size=2),
        E.NONCE_REUSED,
        nonce=ALICE_NONCE + 1,
        before=(first(PLACE),),
    ),
    # the role
    row("trader-deposits", DEPOSIT, E.ROLE_FORBIDDEN, by="alice"),
    row("trader-publishes-prices", ORACLE, E.ROLE_FORBIDDEN, by="alice"),
    row("trader-proposes", Propose(LIST), E.ROLE_FORBIDDEN, by="alice"),
    row("trader-approves", APPROVE, E.ROLE_FORBIDDEN, by="carol"),
    row("custodian-withdraws", WITHDRAW, E.ROLE_FORBIDDEN, by="custody"),
    row("custodian-places", PLACE, E.ROLE_FORBIDDEN, by="custody"),
    row("oracle-places", PLACE, E.ROLE_FORBIDDEN, by="oracle"),
    row("oracle-deposits", DEPOSIT, E.ROLE_FORBIDDEN, by="oracle"),
    row("governor-places", PLACE, E.ROLE_FORBIDDEN, by="gov-a"),
    row("governor-deposits", DEPOSIT, E.ROLE_FORBIDDEN, by="gov-a"),
    row("governor-adds-a-sub-key", ADD_KEY, E.ROLE_FORBIDDEN, by="gov-a"),
    row("former-governor-approves", APPROVE, E.ROLE_FORBIDDEN, by="gov-c"),
    row("keeper-cancels", CANCEL, E.ROLE_FORBIDDEN, by="keeper-2"),
    row("keeper-executes", EXECUTE, E.ROLE_FORBIDDEN, READY_AT, by="keeper-2"),
    row("trade-sub-key-withdraws", WITHDRAW, E.ROLE_FORBIDDEN, by="alice-bot"),
    row("trade-sub-key-transfers", TRANSFER, E.ROLE_FORBIDDEN, by="alice-bot"),
    row("trade-sub-key-deposits", DEPOSIT, E.ROLE_FORBIDDEN, by="alice-bot"),
    row(
        "trade-sub-key-adds-a-sub-key",
        bad(ADD_KEY, account="alice"),
        E.ROLE_FORBIDDEN,
        by="alice-bot",
    ),
    row("trade-sub-key-revokes-itself", REVOKE_KEY, E.ROLE_FORBIDDEN, by="alice-bot"),
    row("trade-sub-key-proposes", Propose(LIST), E.ROLE_FORBIDDEN, by="alice-bot"),
    row("trade-sub-key-cancels-a-withdrawal", CANCEL_WITHDRAWAL, E.ROLE_FORBIDDEN, by="alice-bot"),
    row(
        "master-key-of-an-owner-without-trading-role",
        bad(PLACE, account="ex-trader"),
        E.ROLE_FORBIDDEN,
        by="ex-trader",
    ),
    row(
        "sub-key-of-an-owner-without-trading-role",
        bad(PLACE, account="ex-trader"),
        E.ROLE_FORBIDDEN,
        by="ex-trader-bot",
    ),
    row("read-sub-key-places", PLACE, E.ROLE_FORBIDDEN, by="alice-reader"),
    row("read-sub-key-kills", KILL, E.ROLE_FORBIDDEN, by="alice-reader"),
    row(
        "trade-sub-key-sets-margin-mode",
        bad(MARGIN_MODE, account="alice"),
        E.ROLE_FORBIDDEN,
        by="alice-bot",
    ),
    row("trader-halts", HALT, E.ROLE_FORBIDDEN, by="alice"),
    row("oracle-halts", HALT, E.ROLE_FORBIDDEN, by="oracle"),
    row("trader-resumes", RESUME, E.ROLE_FORBIDDEN, by="alice", before=(first(HALT),)),
    row("keeper-resumes", RESUME, E.ROLE_FORBIDDEN, by=KEEPER, before=(first(HALT),)),
    row("governor-resumes", RESUME, E.ROLE_FORBIDDEN, by="gov-a", before=(first(HALT),)),
    row("risk-officer-places", PLACE, E.ROLE_FORBIDDEN, by="risk-officer"),
    row("risk-officer-sets-margin-mode", MARGIN_MODE, E.ROLE_FORBIDDEN, by="risk-officer"),
    row("risk-officer-sets-mmp", SET_MMP, E.ROLE_FORBIDDEN, by="risk-officer"),
    row("risk-officer-liquidates", LIQUIDATE, E.ROLE_FORBIDDEN, by="risk-officer"),
    row("trader-liquidates", LIQUIDATE, E.ROLE_FORBIDDEN, by="alice"),
    row("trader-settles", SETTLE, E.ROLE_FORBIDDEN, DEC26_EXPIRY, by="alice"),
    row("oracle-ticks-funding", FUNDING, E.ROLE_FORBIDDEN, FUNDING_DUE, by="oracle"),
    row("read-sub-key-cancels", CANCEL, E.ROLE_FORBIDDEN, by="alice-reader"),
    # the account
    row(
        "withdraw-from-another-owner", bad(WITHDRAW, account="bob"), E.NOT_ACCOUNT_OWNER, by="alice"
    ),
    row(
        "withdraw-from-a-name-that-only-starts-alike",
        bad(WITHDRAW, account="alicex"),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row("withdraw-account-empty", bad(WITHDRAW, account=""), E.NOT_ACCOUNT_OWNER, by="alice"),
    row(
        "withdraw-account-of-a-colon",
        bad(WITHDRAW, account=":alice"),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row(
        "master-key-may-act-for-its-sub-accounts",
        bad(WITHDRAW, account="alice:hedge"),
        E.UNKNOWN_ACCOUNT,
    ),
    row(
        "transfer-from-another-owner",
        Transfer("bob", "alice", "USDC", 1),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row("place-for-another-owner", bad(PLACE, account="bob"), E.NOT_ACCOUNT_OWNER, by="alice"),
    row(
        "cancel-for-another-owner",
        CancelOrder("bob", order_id=BOB_1),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row("cancel-all-for-another-owner", CancelAll("bob"), E.NOT_ACCOUNT_OWNER, by="alice"),
    row(
        "amend-for-another-owner",
        AmendOrder("bob", BOB_1, size=5),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row("add-sub-key-for-another-owner", ADD_KEY, E.NOT_ACCOUNT_OWNER, by="alice"),
    row("kill-switch-of-another-owner", bad(KILL, account="bob"), E.NOT_ACCOUNT_OWNER, by="alice"),
    row("margin-mode-of-another-owner", MARGIN_MODE, E.NOT_ACCOUNT_OWNER, by="alice"),
    row("mmp-of-another-owner", bad(SET_MMP, account="bob"), E.NOT_ACCOUNT_OWNER, by="alice"),
    row(
        "reset-mmp-of-another-owner",
        bad(RESET_MMP, account="bob"),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row(
        "cancel-withdrawal-of-another-owner",
        CancelWithdrawal("bob", R_BOB),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row(
        "revoke-sub-key-of-another-owner",
        RevokeSubKey("bob", pk("bob-bot"), FAR),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row(
        "rotate-sub-key-of-another-owner",
        RotateSubKey("bob", pk("bob-bot"), NEW_KEY, FAR),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row(
        "sub-key-places-for-another-owner",
        bad(PLACE, account="bob"),
        E.NOT_ACCOUNT_OWNER,
        by="alice-bot",
    ),
    row(
        "sub-key-places-for-a-sub-account",
        bad(PLACE, account="alice:hedge"),
        E.NOT_ACCOUNT_OWNER,
        by="alice-bot",
    ),
    row("sub-key-cancels-for-another-owner", CANCEL, E.NOT_ACCOUNT_OWNER, by="bob-bot"),
    # the sub-key's size limit
    row(
        "sub-key-places-above-its-size-limit",
        bad(PLACE, size=BOT_SIZE_MAX + 1),
        E.SUB_KEY_SIZE_LIMIT,
        by="alice-bot",
    ),
    row(
        "sub-key-amends-above-its-size-limit",
        AmendOrder("alice", ALICE_1, size=BOT_SIZE_MAX + 1),
        E.SUB_KEY_SIZE_LIMIT,
        by="alice-bot",
    ),
    # precedence
    row(
        "unknown-signer-before-signature",
        PLACE,
        E.UNKNOWN_SIGNER,
        by="mallory",
        signature=bytes(64),
    ),
    row("revoked-before-signature", PLACE, E.KEY_REVOKED, by="alice-old", signature=bytes(64)),
    row("revoked-before-role", DEPOSIT, E.KEY_REVOKED, by="alice-old"),
    row("signature-before-expiry", PLACE, E.BAD_SIGNATURE, signature=bytes(64), expires_at_ns=0),
    row("expired-before-nonce", PLACE, E.EXPIRED, expires_at_ns=0, nonce=0),
    row("expiry-too-far-before-nonce", PLACE, E.EXPIRY_TOO_FAR, expires_at_ns=INT64_MAX, nonce=0),
    row("nonce-before-role", DEPOSIT, E.NONCE_INVALID, by="alice", nonce=0),
    row("nonce-reused-before-role", DEPOSIT, E.NONCE_REUSED, by="alice", nonce=ALICE_NONCE),
    row("role-before-owner", bad(PLACE, account="bob"), E.ROLE_FORBIDDEN, by="alice-reader"),
    row(
        "sub-key-owner-before-size-limit",
        bad(PLACE, account="bob", size=BOT_SIZE_MAX + 1),
        E.NOT_ACCOUNT_OWNER,
        by="alice-bot",
    ),
    row(
        "size-limit-before-the-handler",
        bad(PLACE, size=SIZE_MAX + 1),
        E.SUB_KEY_SIZE_LIMIT,
        by="alice-bot",
    ),
    row(
        "owner-before-the-handler",
        bad(WITHDRAW, account="bob", amount=0),
        E.NOT_ACCOUNT_OWNER,
        by="alice",
    ),
    row("authorization-before-the-handler", bad(PLACE, size=0), E.UNKNOWN_SIGNER, by="mallory"),
]

# -- keys -----------------------------------------------------------------------

KEY_ROWS = [
    # AddSubKey (bob's account has one sub-key, alice's the most it may have)
    row("add-sub-key-account-unknown", bad(ADD_KEY, account="bob:hedge"), E.UNKNOWN_ACCOUNT),
    row("add-sub-key-key-31-bytes", bad(ADD_KEY, public_key=NEW_KEY[:31]), E.INVALID_KEY),
    row("add-sub-key-key-33-bytes", bad(ADD_KEY, public_key=NEW_KEY + b"\x00"), E.INVALID_KEY),
    row("add-sub-key-key-empty", bad(ADD_KEY, public_key=b""), E.INVALID_KEY),
    row("add-sub-key-key-64-bytes", bad(ADD_KEY, public_key=NEW_KEY * 2), E.INVALID_KEY),
    row("add-sub-key-small-order", bad(ADD_KEY, public_key=SMALL_ORDER_KEY), E.WEAK_PUBLIC_KEY),
    row("add-sub-key-non-canonical", bad(ADD_KEY, public_key=NON_CANONICAL_KEY), E.WEAK_PUBLIC_KEY),
    row("add-sub-key-off-curve", bad(ADD_KEY, public_key=OFF_CURVE_KEY), E.WEAK_PUBLIC_KEY),
    row("add-sub-key-own-master-key", bad(ADD_KEY, public_key=pk("bob")), E.KEY_EXISTS),
    row("add-sub-key-another-owners-key", bad(ADD_KEY, public_key=pk("alice")), E.KEY_EXISTS),
    row("add-sub-key-governor-key", bad(ADD_KEY, public_key=pk("gov-a")), E.KEY_EXISTS),
    row("add-sub-key-own-sub-key", bad(ADD_KEY, public_key=pk("bob-bot")), E.KEY_EXISTS),
    row("add-sub-key-another-sub-key", bad(ADD_KEY, public_key=pk("alice-bot")), E.KEY_EXISTS),
    row("add-sub-key-revoked-key", bad(ADD_KEY, public_key=pk("alice-old")), E.KEY_EXISTS),
    row("add-sub-key-rotated-out-key", bad(ADD_KEY, public_key=pk("keeper")), E.KEY_EXISTS),
    row("add-sub-key-size-limit-negative", bad(ADD_KEY, order_size_max=-1), E.INVALID_VALUE),
    row(
        "add-sub-key-size-limit-above-max",
        bad(ADD_KEY, order_size_max=size_max_lots + 1),
        E.INVALID_VALUE,
    ),
    row("add-sub-key-size-limit-2**80", bad(ADD_KEY, order_size_max=HUGE), E.INVALID_VALUE),
    row("add-sub-key-account-at-its-limit", bad(ADD_KEY, account="alice"), E.INVALID_VALUE),
    row(
        "add-sub-key-account-before-key",
        bad(ADD_KEY, account="bob:hedge", public_key=b""),
        E.UNKNOWN_ACCOUNT,
    ),
    row(
        "add-sub-key-key-length-before-size",
        bad(ADD_KEY, public_key=b"", order_size_max=-1),
        E.INVALID_KEY,
    ),
    row(
        "add-sub-key-exists-before-size",
        bad(ADD_KEY, public_key=pk("alice"), order_size_max=-1),
        E.KEY_EXISTS,
    ),
    row(
        "add-sub-key-exists-before-account-limit",
        bad(ADD_KEY, account="alice", public_key=pk("bob")),
        E.KEY_EXISTS,
    ),
    *_wrong_types(ADD_KEY, "public_key", NEW_KEY.hex(), bytearray(NEW_KEY), None, [NEW_KEY]),
    *_wrong_types(ADD_KEY, "scope", "trade", None, 1),
    *_wrong_types(ADD_KEY, "order_size_max", 1.5, 5.0, True, None, "5"),
    *_wrong_types(ADD_KEY, "account", None, 5, ["bob"]),
    # RevokeSubKey
    row("revoke-sub-key-unregistered", bad(REVOKE_KEY, public_key=NEW_KEY), E.UNKNOWN_KEY),
    row("revoke-sub-key-master-key", bad(REVOKE_KEY, public_key=pk("alice")), E.UNKNOWN_KEY),
    row(
        "revoke-sub-key-of-another-account",
        bad(REVOKE_KEY, public_key=pk("bob-bot")),
        E.UNKNOWN_KEY,
    ),
    row(
        "revoke-sub-key-named-for-a-sub-account",
        bad(REVOKE_KEY, account="alice:hedge"),
        E.UNKNOWN_KEY,
    ),
    row("revoke-sub-key-31-bytes", bad(REVOKE_KEY, public_key=pk("alice-bot")[:31]), E.UNKNOWN_KEY),
    row(
        "revoke-sub-key-void-from-the-past",
        bad(REVOKE_KEY, void_from_seq=SETUP_SEQ),
        E.INVALID_VALUE,
    ),
    row("revoke-sub-key-void-from-zero", bad(REVOKE_KEY, void_from_seq=0), E.INVALID_VALUE),
    row("revoke-sub-key-void-from-negative", bad(REVOKE_KEY, void_from_seq=-1), E.INVALID_VALUE),
    row(
        "revoke-sub-key-void-from-2**63",
        bad(REVOKE_KEY, void_from_seq=INT64_MAX + 1),
        E.INVALID_VALUE,
    ),
    row("revoke-sub-key-void-from-2**80", bad(REVOKE_KEY, void_from_seq=HUGE), E.INVALID_VALUE),
    row(
        "revoke-sub-key-unknown-before-void-from",
        bad(REVOKE_KEY, public_key=NEW_KEY, void_from_seq=0),
        E.UNKNOWN_KEY,
    ),
    *_wrong_types(REVOKE_KEY, "public_key", pk("alice-bot").hex(), None, bytearray(32)),
    *_wrong_types(REVOKE_KEY, "void_from_seq", float(FAR), True, None, "1"),
    *_wrong_types(REVOKE_KEY, "account", None, ["alice"]),
    # RotateSubKey
    row("rotate-sub-key-unregistered", bad(ROTATE_KEY, public_key=pk("stranger")), E.UNKNOWN_KEY),
    row("rotate-sub-key-master-key", bad(ROTATE_KEY, public_key=pk("alice")), E.UNKNOWN_KEY),
    row(
        "rotate-sub-key-of-another-account",
        bad(ROTATE_KEY, public_key=pk("bob-bot")),
        E.UNKNOWN_KEY,
    ),
    row("rotate-sub-key-revoked", bad(ROTATE_KEY, public_key=pk("alice-old")), E.KEY_REVOKED),
    row(
        "rotate-sub-key-void-from-this-seq",
        ROTATE_KEY,
        E.KEY_REVOKED,
        before=(first(RevokeSubKey("alice", pk("alice-bot"), SETUP_SEQ + 2)),),
    ),
    row(
        "rotate-sub-key-revoked-for-later",
        bad(ROTATE_KEY, void_from_seq=SETUP_SEQ + 2),
        E.KEY_REVOKED,
        before=(first(RevokeSubKey("alice", pk("alice-bot"), FAR)),),
    ),
    row(
        "rotate-sub-key-at-the-limit-keeping-the-old-key",
        bad(ROTATE_KEY, void_from_seq=SETUP_SEQ + 2),
        E.INVALID_VALUE,
    ),
    row(
        "rotate-sub-key-new-key-31-bytes",
        bad(ROTATE_KEY, new_public_key=NEW_KEY[:31]),
        E.INVALID_KEY,
    ),
    row("rotate-sub-key-new-key-empty", bad(ROTATE_KEY, new_public_key=b""), E.INVALID_KEY),
    row(
        "rotate-sub-key-new-key-small-order",
        bad(ROTATE_KEY, new_public_key=SMALL_ORDER_KEY),
        E.WEAK_PUBLIC_KEY,
    ),
    row(
        "rotate-sub-key-new-key-off-curve",
        bad(ROTATE_KEY, new_public_key=OFF_CURVE_KEY),
        E.WEAK_PUBLIC_KEY,
    ),
    row("rotate-sub-key-to-itself", bad(ROTATE_KEY, new_public_key=pk("alice-bot")), E.KEY_EXISTS),
    row("rotate-sub-key-to-a-master-key", bad(ROTATE_KEY, new_public_key=pk("bob")), E.KEY_EXISTS),
    row(
        "rotate-sub-key-to-a-revoked-key",
        bad(ROTATE_KEY, new_public_key=pk("alice-old")),
        E.KEY_EXISTS,
    ),
    row(
        "rotate-sub-key-void-from-the-past",
        bad(ROTATE_KEY, void_from_seq=SETUP_SEQ),
        E.INVALID_VALUE,
    ),
    row(
        "rotate-sub-key-void-from-2**63",
        bad(ROTATE_KEY, void_from_seq=INT64_MAX + 1),
        E.INVALID_VALUE,
    ),
    row(
        "rotate-sub-key-revoked-before-new-key",
        bad(ROTATE_KEY, public_key=pk("alice-old"), new_public_key=b""),
        E.KEY_REVOKED,
    ),
    row(
        "rotate-sub-key-unknown-before-new-key",
        bad(ROTATE_KEY, public_key=pk("stranger"), new_public_key=b""),
        E.UNKNOWN_KEY,
    ),
    row(
        "rotate-sub-key-new-key-before-void-from",
        bad(ROTATE_KEY, new_public_key=b"", void_from_seq=0),
        E.INVALID_KEY,
    ),
    row(
        "rotate-sub-key-exists-before-void-from",
        bad(ROTATE_KEY, new_public_key=pk("bob"), void_from_seq=0),
        E.KEY_EXISTS,
    ),
    *_wrong_types(ROTATE_KEY, "new_public_key", None, NEW_KEY.hex(), bytearray(NEW_KEY)),
    *_wrong_types(ROTATE_KEY, "public_key", None, 0),
    *_wrong_types(ROTATE_KEY, "void_from_seq", 1.5, False, None),
]

# -- governance -------------------------------------------------------------------


def proposed(name: str, action: object, code: ErrorCode, **kwargs: Any) -> Any:
    return row(name, Propose(action), code, **kwargs)  # type: ignore[arg-type]


def _wrong_action_types(base: Any, field: str, *values: object) -> list[Any]:
    return [
        proposed(
            f"{type(base).__name__}-{field}-{type(v).__name__}-{v!r:.12}",
            bad(base, **{field: v}),
            E.WRONG_TYPE,
        )
        for v in values
    ]


def listing(**changes: object) -> ListInstrument:
    return ListInstrument(bad(NEW_SPEC, **changes))


GOVERNANCE_ROWS = [
    # Propose
    row(
        "propose-over-the-open-proposals-limit",
        Propose(RISK),
        E.PROPOSALS_LIMIT,
        before=(first(Propose(LIST)),),
    ),
    row(
        "propose-limit-before-the-action",
        Propose(bad(RISK, instrument="DOGE-PERP")),
        E.PROPOSALS_LIMIT,
        before=(first(Propose(LIST)),),
    ),
    *_wrong_types(Propose(LIST), "action", None, "list_instrument", DEPOSIT, NEW_SPEC, APPROVE),
    # ListInstrument
    proposed("list-listed-instrument", ListInstrument(TINY), E.INSTRUMENT_EXISTS),
    proposed(
        "list-catalogue-instrument", ListInstrument(default_catalogue()[0]), E.INSTRUMENT_EXISTS
    ),
    proposed("list-other-settlement-asset", listing(settlement_asset="USDT"), E.INVALID_ACTION),
    proposed("list-id-empty", listing(id=""), E.INSTRUMENT_NAME_INVALID),
    proposed("list-id-too-long", listing(id="X" * 49), E.INSTRUMENT_NAME_INVALID),
    proposed("list-id-with-a-space", listing(id="BTC SMALL"), E.INSTRUMENT_NAME_INVALID),
    proposed("list-id-zero-width-space", listing(id="BTC-\u200bSMALL"), E.INSTRUMENT_NAME_INVALID),
    proposed("list-id-lower-case", listing(id="btc-small"), E.INSTRUMENT_NAME_INVALID),
    proposed("list-id-leading-dash", listing(id="-BTC"), E.INSTRUMENT_NAME_INVALID),
    proposed("list-index-with-a-space", listing(index="BTC USD"), E.INSTRUMENT_NAME_INVALID),
    proposed(
        "list-name-before-listed",
        ListInstrument(bad(TINY, index="btc-usd")),
        E.INSTRUMENT_NAME_INVALID,
    ),
    proposed("list-tick-zero", listing(tick_size=0), E.INVALID_ACTION),
    proposed("list-tick-value-fractional", listing(tick_size=1), E.INVALID_ACTION),
    proposed(
        "list-maintenance-above-initial", listing(maintenance_margin_bps=2_000), E.INVALID_ACTION
    ),
    proposed("list-perpetual-with-expiry", listing(expiry_ns=DEC26_EXPIRY), E.INVALID_ACTION),
    proposed(
        "list-order-limit-above-max",
        listing(order_size_max_lots=size_max_lots + 1, position_max_lots=position_max_lots),
        E.INVALID_ACTION,
    ),
    proposed(
        "list-position-limit-above-max",
        listing(position_max_lots=position_max_lots + 1),
        E.INVALID_ACTION,
    ),
    proposed(
        "list-exists-before-settlement-asset",
        ListInstrument(bad(TINY, settlement_asset="USDT")),
        E.INSTRUMENT_EXISTS,
    ),
    proposed(
        "list-exists-before-spec", ListInstrument(bad(TINY, tick_size=0)), E.INSTRUMENT_EXISTS
    ),
    *_wrong_action_types(LIST, "instrument", None, "BTC-SMALL", TINY.__struct_fields__),
    proposed("list-tick-float", listing(tick_size=0.5), E.WRONG_TYPE),
    proposed("list-kind-str", listing(kind="perpetual"), E.WRONG_TYPE),
    proposed("list-option-type-str", listing(option_type="call"), E.WRONG_TYPE),
    proposed("list-id-none", listing(id=None), E.WRONG_TYPE),
    # SetRiskParams
    proposed("risk-unknown-instrument", bad(RISK, instrument="DOGE-PERP"), E.UNKNOWN_INSTRUMENT),
    proposed("risk-instrument-empty", bad(RISK, instrument=""), E.UNKNOWN_INSTRUMENT),
    proposed("risk-initial-margin-zero", bad(RISK, initial_margin_bps=0), E.INVALID_ACTION),
    proposed("risk-initial-above-100%", bad(RISK, initial_margin_bps=10_001), E.INVALID_ACTION),
    proposed(
        "risk-maintenance-above-initial", bad(RISK, maintenance_margin_bps=1_001), E.INVALID_ACTION
    ),
    proposed(
        "risk-option-floor-above-option-margin",
        bad(RISK, short_option_floor_bps=2_000),
        E.INVALID_ACTION,
    ),
    proposed("risk-order-limit-zero", bad(RISK, order_size_max_lots=0), E.INVALID_ACTION),
    proposed("risk-position-below-order-limit", bad(RISK, position_max_lots=9), E.INVALID_ACTION),
    proposed(
        "risk-position-limit-above-max",
        bad(RISK, position_max_lots=position_max_lots + 1),
        E.INVALID_ACTION,
    ),
    proposed(
        "risk-unknown-before-invalid",
        bad(RISK, instrument="DOGE-PERP", initial_margin_bps=0),
        E.UNKNOWN_INSTRUMENT,
    ),
    *_wrong_action_types(RISK, "initial_margin_bps", 1.5, "1000", True),
    *_wrong_action_types(RISK, "position_max_lots", 20.0, False),
    *_wrong_action_types(RISK, "instrument", None, ["BTC-TINY"]),
    # GrantRole
    proposed("grant-key-31-bytes", bad(GRANT, public_key=NEW_KEY[:31]), E.INVALID_KEY),
    proposed("grant-key-empty", bad(GRANT, public_key=b""), E.INVALID_KEY),
    proposed("grant-key-small-order", bad(GRANT, public_key=SMALL_ORDER_KEY), E.WEAK_PUBLIC_KEY),
    proposed(
        "grant-key-non-canonical", bad(GRANT, public_key=NON_CANONICAL_KEY), E.WEAK_PUBLIC_KEY
    ),
    proposed("grant-owner-empty", bad(GRANT, owner=""), E.INVALID_ACTION),
    proposed("grant-owner-space", bad(GRANT, owner="two words"), E.INVALID_ACTION),
    proposed("grant-owner-colon", bad(GRANT, owner="alice:hedge"), E.INVALID_ACTION),
    proposed("grant-owner-non-ascii", bad(GRANT, owner="zoë"), E.INVALID_ACTION),
    proposed("grant-owner-too-long", bad(GRANT, owner="o" * 49), E.INVALID_ACTION),
    proposed(
        "grant-to-a-sub-key", GrantRole(pk("alice-bot"), "alice", Role.TRADER), E.INVALID_ACTION
    ),
    proposed("grant-to-a-void-key", GrantRole(pk("keeper"), "keeper", Role.KEEPER), E.KEY_REVOKED),
    proposed(
        "grant-key-of-another-owner", GrantRole(pk("bob"), "alice", Role.TRADER), E.INVALID_ACTION
    ),
    proposed(
        "grant-role-already-held", GrantRole(pk("carol"), "carol", Role.TRADER), E.INVALID_ACTION
    ),
    proposed(
        "grant-incompatible-on-one-key",
        GrantRole(pk("carol"), "carol", Role.ORACLE),
        E.ROLES_INCOMPATIBLE,
    ),
    proposed(
        "grant-incompatible-for-the-owner",
        GrantRole(NEW_KEY, "alice", Role.CUSTODIAN),
        E.ROLES_INCOMPATIBLE,
    ),
    proposed(
        "grant-governor-to-a-trader",
        GrantRole(NEW_KEY, "carol", Role.GOVERNOR),
        E.ROLES_INCOMPATIBLE,
    ),
    proposed(
        "grant-trading-to-a-governor",
        GrantRole(NEW_KEY, "gov-a", Role.TRADER),
        E.ROLES_INCOMPATIBLE,
    ),
    proposed("grant-key-before-owner", GrantRole(b"", "", Role.TRADER), E.INVALID_KEY),
    proposed(
        "grant-owner-before-key-record",
        GrantRole(pk("keeper"), "", Role.KEEPER),
        E.INVALID_ACTION,
    ),
    proposed(
        "grant-sub-key-before-void",
        GrantRole(pk("alice-old"), "alice", Role.TRADER),
        E.INVALID_ACTION,
    ),
    proposed(
        "grant-void-before-owner-match",
        GrantRole(pk("keeper"), "alice", Role.TRADER),
        E.KEY_REVOKED,
    ),
    proposed(
        "grant-governor-role-already-held",
        GrantRole(pk("gov-a"), "gov-a", Role.GOVERNOR),
        E.INVALID_ACTION,
    ),
    *_wrong_action_types(GRANT, "public_key", NEW_KEY.hex(), None),
    *_wrong_action_types(GRANT, "owner", None, 5),
    *_wrong_action_types(GRANT, "role", "trader", None),
    # RevokeRole
    proposed("revoke-role-unregistered-key", RevokeRole(NEW_KEY, Role.TRADER), E.UNKNOWN_KEY),
    proposed("revoke-role-of-a-sub-key", RevokeRole(pk("alice-bot"), Role.TRADER), E.UNKNOWN_KEY),
    proposed("revoke-role-not-held", RevokeRole(pk("alice"), Role.TRADER), E.INVALID_ACTION),
    proposed(
        "revoke-role-already-revoked", RevokeRole(pk("gov-c"), Role.GOVERNOR), E.INVALID_ACTION
    ),
    proposed(
        "revoke-governor-below-threshold",
        RevokeRole(pk("gov-b"), Role.GOVERNOR),
        E.QUORUM_WOULD_BREAK,
        before=(
            first(Propose(RevokeRole(pk("gov-a2"), Role.GOVERNOR))),
            first(Approve(SETUP_SEQ + 1), by="gov-b"),
            first(ExecuteProposal(SETUP_SEQ + 1), "gov-b", SETUP_END + RULES.timelock_ns + 3_000),
        ),
    ),
    proposed(
        "revoke-own-governor-role-below-threshold",
        RevokeRole(pk("gov-a"), Role.GOVERNOR),
        E.QUORUM_WOULD_BREAK,
        before=(
            first(Propose(RevokeRole(pk("gov-a2"), Role.GOVERNOR))),
            first(Approve(SETUP_SEQ + 1), by="gov-b"),
            first(ExecuteProposal(SETUP_SEQ + 1), "gov-b", SETUP_END + RULES.timelock_ns + 3_000),
        ),
    ),
    # gov-a holds two governor keys: three keys, but two owners, which is the threshold.
    proposed(
        "revoke-governor-of-the-other-owner",
        RevokeRole(pk("gov-b"), Role.GOVERNOR),
        E.QUORUM_WOULD_BREAK,
    ),
    proposed("revoke-role-unknown-before-role", RevokeRole(NEW_KEY, Role.GOVERNOR), E.UNKNOWN_KEY),
    *_wrong_action_types(REVOKE_ROLE, "public_key", None, pk("carol").hex()),
    *_wrong_action_types(REVOKE_ROLE, "role", "trader", 1),
    # RotateKey
    proposed("rotate-unregistered-key", RotateKey(pk("stranger"), NEW_KEY), E.UNKNOWN_KEY),
    proposed("rotate-a-sub-key", RotateKey(pk("alice-bot"), NEW_KEY), E.UNKNOWN_KEY),
    proposed("rotate-a-void-key", RotateKey(pk("keeper"), NEW_KEY), E.KEY_REVOKED),
    proposed("rotate-to-31-bytes", RotateKey(pk("carol"), NEW_KEY[:31]), E.INVALID_KEY),
    proposed("rotate-to-empty", RotateKey(pk("carol"), b""), E.INVALID_KEY),
    proposed("rotate-to-small-order", RotateKey(pk("carol"), SMALL_ORDER_KEY), E.WEAK_PUBLIC_KEY),
    proposed("rotate-to-off-curve", RotateKey(pk("carol"), OFF_CURVE_KEY), E.WEAK_PUBLIC_KEY),
    proposed("rotate-to-a-registered-key", RotateKey(pk("carol"), pk("bob")), E.KEY_EXISTS),
    proposed("rotate-to-itself", RotateKey(pk("carol"), pk("carol")), E.KEY_EXISTS),
    proposed("rotate-to-a-void-key", RotateKey(pk("carol"), pk("keeper")), E.KEY_EXISTS),
    proposed("rotate-to-a-sub-key", RotateKey(pk("carol"), pk("alice-bot")), E.KEY_EXISTS),
    proposed("rotate-unknown-before-new-key", RotateKey(pk("stranger"), b""), E.UNKNOWN_KEY),
    proposed("rotate-void-before-new-key", RotateKey(pk("keeper"), b""), E.KEY_REVOKED),
    *_wrong_action_types(ROTATE_MASTER, "new_public_key", None, NEW_KEY.hex()),
    *_wrong_action_types(ROTATE_MASTER, "public_key", None, bytearray(32)),
    # ApproveWithdrawal
    proposed(
        "approve-withdrawal-unknown-request",
        ApproveWithdrawal(999_999),
        E.UNKNOWN_WITHDRAWAL,
    ),
    proposed(
        "approve-withdrawal-cancelled-request",
        ApproveWithdrawal(R_CANCELLED),
        E.UNKNOWN_WITHDRAWAL,
    ),
    proposed(
        "approve-withdrawal-seq-of-an-order",
        ApproveWithdrawal(ALICE_1),
        E.UNKNOWN_WITHDRAWAL,
    ),
    proposed("approve-withdrawal-request-zero", ApproveWithdrawal(0), E.UNKNOWN_WITHDRAWAL),
    proposed("approve-withdrawal-request-2**80", ApproveWithdrawal(HUGE), E.UNKNOWN_WITHDRAWAL),
    *_wrong_action_types(APPROVE_WITHDRAWAL, "request_id", str(R_LIVE), float(R_LIVE), None),
    # Approve
    row("approve-unknown-proposal", Approve(999_999), E.UNKNOWN_PROPOSAL),
    row("approve-proposal-zero", Approve(0), E.UNKNOWN_PROPOSAL),
    row("approve-proposal-negative", Approve(-P_OPEN), E.UNKNOWN_PROPOSAL),
    row("approve-proposal-2**80", Approve(HUGE), E.UNKNOWN_PROPOSAL),
    row("approve-seq-of-an-order", Approve(ALICE_1), E.UNKNOWN_PROPOSAL),
    row("approve-executed-proposal", Approve(S_REVOKE), E.UNKNOWN_PROPOSAL),
    row("approve-cancelled-proposal", Approve(S_CANCELLED), E.UNKNOWN_PROPOSAL),
    row("approve-expired-proposal", APPROVE, E.PROPOSAL_EXPIRED, OPEN_EXPIRES_AT + 1),
    row("approve-own-proposal", APPROVE, E.PROPOSER_CANNOT_APPROVE, by="gov-b"),
    row("approve-twice", Approve(P_READY), E.ALREADY_APPROVED, by="gov-b"),
    row(
        "approve-by-the-proposers-other-key",
        Approve(P_READY),
        E.PROPOSER_CANNOT_APPROVE,
        by="gov-a2",
    ),
    row("approve-by-an-approvers-other-key", Approve(P_BY_B), E.ALREADY_APPROVED, by="gov-a2"),
    row(
        "approve-expired-before-proposer",
        APPROVE,
        E.PROPOSAL_EXPIRED,
        OPEN_EXPIRES_AT + 1,
        by="gov-b",
    ),
    row(
        "approve-proposer-before-already-approved",
        Approve(P_READY),
        E.PROPOSER_CANNOT_APPROVE,
        by="gov-a",
    ),
    *_wrong_types(APPROVE, "proposal_id", str(P_OPEN), float(P_OPEN), True, None),
    # CancelProposal
    row("cancel-unknown-proposal", CancelProposal(999_999), E.UNKNOWN_PROPOSAL),
    row("cancel-executed-proposal", CancelProposal(S_REVOKE), E.UNKNOWN_PROPOSAL),
    row("cancel-cancelled-proposal", CancelProposal(S_CANCELLED), E.UNKNOWN_PROPOSAL),
    row("cancel-proposal-2**80", CancelProposal(HUGE), E.UNKNOWN_PROPOSAL),
    *_wrong_types(CANCEL_PROPOSAL, "proposal_id", str(P_OPEN), float(P_OPEN), None),
    # ExecuteProposal
    row("execute-unknown-proposal", ExecuteProposal(999_999), E.UNKNOWN_PROPOSAL, READY_AT),
    row("execute-executed-proposal", ExecuteProposal(S_REVOKE), E.UNKNOWN_PROPOSAL, READY_AT),
    row("execute-cancelled-proposal", ExecuteProposal(S_CANCELLED), E.UNKNOWN_PROPOSAL, READY_AT),
    row("execute-expired-proposal", EXECUTE, E.PROPOSAL_EXPIRED, READY_EXPIRES_AT + 1),
    row("execute-with-one-approval", ExecuteProposal(P_OPEN), E.APPROVALS_INSUFFICIENT, READY_AT),
    row("execute-before-the-timelock", EXECUTE, E.TIMELOCK_NOT_ELAPSED),
    row("execute-1ns-before-the-timelock", EXECUTE, E.TIMELOCK_NOT_ELAPSED, READY_AT - 1),
    row(
        "execute-rechecks-the-withdrawal",
        ExecuteProposal(P_WITHDRAW),
        E.UNKNOWN_WITHDRAWAL,
        READY_AT,
    ),
    row("execute-rechecks-the-grant", ExecuteProposal(P_GRANT), E.INVALID_ACTION, READY_AT),
    row(
        "execute-expired-before-approvals",
        ExecuteProposal(P_OPEN),
        E.PROPOSAL_EXPIRED,
        OPEN_EXPIRES_AT + 1,
    ),
    row("execute-approvals-before-timelock", ExecuteProposal(P_OPEN), E.APPROVALS_INSUFFICIENT),
    row("execute-timelock-before-action", ExecuteProposal(P_WITHDRAW), E.TIMELOCK_NOT_ELAPSED),
    *_wrong_types(EXECUTE, "proposal_id", str(P_READY), float(P_READY), False),
]


ALL_ROWS = [
    *COLLATERAL_ROWS,
    *PLACE_ROWS,
    *CANCEL_ROWS,
    *AMEND_ROWS,
    *ORACLE_ROWS,
    *CONTROL_ROWS,
    *LIFECYCLE_ROWS,
    *PAYLOAD_ROWS,
    *PRECEDENCE_ROWS,
    *RATE_LIMIT_ROWS,
    *ENVELOPE_ROWS,
    *AUTHORIZATION_ROWS,
    *KEY_ROWS,
    *GOVERNANCE_ROWS,
]


@pytest.mark.parametrize("case", BOUNDARIES)
def test_values_at_their_limit_are_accepted(case: Row) -> None:
    venue = open_venue()
    outcome = run(venue, case)
    assert isinstance(outcome, Accepted), outcome
    venue.engine.check_invariants()


@pytest.mark.parametrize("case", BASELINES)
def test_valid_baseline_is_accepted(case: Row) -> None:
    venue = open_venue()
    before = venue.engine.digest()
    outcome = run(venue, case)
    assert isinstance(outcome, Accepted), outcome
    assert outcome.events
    assert venue.engine.digest() != before
    venue.engine.check_invariants()


def assert_refused(venue: Venue, case: Row) -> Rejected:
    engine = venue.engine
    run_before(venue, case)
    digest, head, seq = engine.digest(), engine.chain_head, engine.seq
    outcome = venue.apply(case.payload, case.at_ns, case.by, **case.envelope)
    assert isinstance(outcome, Rejected), f"accepted: {outcome}"
    assert case.code is not None
    assert (ErrorCode(outcome.code).name, outcome.message) == (case.code.name, outcome.message)
    assert outcome.seq == seq + 1 and outcome.message
    assert engine.digest() == digest, "a rejection changed the state"
    # The rejection itself is recorded: the sequence and the output chain move on.
    assert engine.seq == seq + 1
    assert engine.chain_head != head
    engine.check_invariants()
    return outcome


@pytest.mark.parametrize("case", ALL_ROWS)
def test_bad_input_is_refused_with_its_code(case: Row) -> None:
    venue = open_venue()
    assert_refused(venue, case)
    # The engine is still healthy: the next valid transaction goes through.
    assert isinstance(venue.apply(DEPOSIT), Accepted)


def test_rows_are_signed_unless_nothing_can_sign_them() -> None:
    """Only payloads msgpack cannot encode reach the engine unsigned (see the docstring)."""
    venue = open_venue()
    unsigned = []
    for param in [*ALL_ROWS, *BOUNDARIES, *BASELINES]:
        case: Row = param.values[0]
        tx, signed = venue.transaction(case.payload, case.by, case.envelope)
        if not signed:
            unsigned.append(param.id)
            assert type(case.payload) not in PAYLOAD_TYPES or _beyond_64_bits(
                msgspec.to_builtins(tx)
            ), param.id
    assert len(unsigned) < len(ALL_ROWS) // 10, unsigned


def test_every_transaction_type_and_action_has_rows() -> None:
    payloads = [p.values[0].payload for p in ALL_ROWS]
    assert set(PAYLOAD_TYPES) <= {type(p) for p in payloads}
    actions = {type(p.action) for p in payloads if isinstance(p, Propose)}
    assert {
        ListInstrument,
        SetRiskParams,
        GrantRole,
        RevokeRole,
        RotateKey,
        ApproveWithdrawal,
    } <= actions
    assert set(PAYLOAD_TYPES) <= {type(p.values[0].payload) for p in BASELINES}


def test_every_code_a_transaction_can_get_has_a_row() -> None:
    """Each rejection code is exercised here, except those no transaction returns."""
    covered = {p.values[0].code for p in ALL_ROWS}
    never = {
        E.MALFORMED_ENCODING,  # decoding only: the wire tests below
        E.MISSING_FIELD,
        E.UNKNOWN_FIELD,
        E.VALUE_OUT_OF_RANGE,
        E.NESTING_TOO_DEEP,
        E.MESSAGE_TOO_LARGE,
        E.SEQUENCE_OUT_OF_ORDER,  # sequencing: the tests below
        E.TIMESTAMP_REGRESSED,
        E.BUSY,  # the sequencer's back pressure: tests/sequencer/
        E.SIZE_OFF_LOT,  # reserved
        E.DEPTH_INVALID,  # a query, not a transaction
        E.INVARIANT_VIOLATION,  # a fault, never a rejection
    }
    assert set(ErrorCode) - never - covered == set()


def test_a_rejection_is_recorded_the_same_way_twice() -> None:
    """Refusals are deterministic: same venue, same bad input, same outcome and chain head."""
    first, second = open_venue(), open_venue()
    for payload in (bad(PLACE, size=0), bad(DEPOSIT, amount=1.5), bad(ORACLE, index="x")):
        assert first.apply(payload) == second.apply(payload)
    assert first.engine.chain_head == second.engine.chain_head


def test_a_rejected_transaction_does_not_use_its_nonce() -> None:
    """A rejection changes no state, nonces included: the corrected transaction reuses it."""
    venue = open_venue()
    nonce = ALICE_NONCE + 1
    refused = venue.apply(bad(PLACE, size=0), nonce=nonce)
    assert isinstance(refused, Rejected) and refused.code == E.SIZE_NOT_POSITIVE
    assert isinstance(venue.apply(PLACE, nonce=nonce), Accepted)
    again = venue.apply(bad(PLACE, size=2), nonce=nonce)
    assert isinstance(again, Rejected) and again.code == E.NONCE_REUSED


def test_only_accepted_orders_count_against_the_rate_limit() -> None:
    """A refused order uses none of the key's rate: the window's last place is still free."""
    venue = open_venue()
    for payload, _, at_ns in WINDOW_FULL[:-1]:
        assert isinstance(venue.apply(payload, at_ns), Accepted)
    refused = venue.apply(bad(IOC_BID, size=0))
    assert isinstance(refused, Rejected) and refused.code == E.SIZE_NOT_POSITIVE
    assert isinstance(venue.apply(IOC_BID), Accepted)
    limited = venue.apply(IOC_BID)
    assert isinstance(limited, Rejected) and limited.code == E.RATE_LIMITED
    assert venue.now < FRESH_WINDOW + 10**9


def test_a_basis_beyond_its_bound_of_the_index_is_refused() -> None:
    """A basis that would leave a forward near zero is refused on arrival (more than
    `basis_max_bps`, 20 %, of the update's price), and the state is unchanged."""
    venue = open_venue()
    price = 92_000 * USD
    before = venue.engine.digest()
    outcome = venue.apply(
        OracleUpdate("BTC-USD", price, NEXT, (bad(QUOTE, basis=1 - price),)), NEXT
    )
    assert isinstance(outcome, Rejected) and outcome.code == E.BASIS_INVALID
    assert venue.engine.digest() == before


def test_a_standing_basis_is_bounded_again_when_the_index_falls() -> None:
    """A basis at its bound stands; the index then falls by the 25 % a single update may
    move it. Marks bound the standing basis against the index now accepted, so the
    forward stays positive and well inside it, and the engine goes on."""
    venue = open_venue()
    price = 92_000 * USD
    quote = bad(QUOTE, basis=-(price * 2_000 // 10_000))
    assert isinstance(venue.apply(OracleUpdate("BTC-USD", price, NEXT, (quote,)), NEXT), Accepted)
    after = NEXT + 1_000
    outcome = venue.apply(OracleUpdate("BTC-USD", price // 4, after), after)
    assert isinstance(outcome, Accepted)
    view = venue.engine.marks("BTC-25DEC26")
    assert not isinstance(view, Rejection)
    index = view.index_price
    assert index == price * 3 // 4  # clamped to the 25 % bound
    assert view.forward == index - index * 2_000 // 10_000
    venue.engine.check_invariants()


def test_a_transaction_no_signature_can_cover_is_a_bad_signature() -> None:
    """An integer beyond 64 bits has no canonical encoding, so no signature covers it (JSON
    can still carry one). The verifier says no, without raising, and the engine refuses the
    transaction as BAD_SIGNATURE before its checks of the field would."""
    venue = open_venue()
    client = venue.test_venue.client("custody")
    client.nonce += 1
    tx = Transaction(
        bad(DEPOSIT, amount=HUGE), pk("custody"), client.nonce, venue.now + LIFETIME, UNSIGNABLE
    )
    assert verify_transaction(VENUE_ID, tx) is False
    engine = venue.engine
    digest = engine.digest()
    outcome = venue.test_venue.submit(tx)
    assert isinstance(outcome, Rejected) and outcome.code == E.BAD_SIGNATURE, outcome
    assert engine.digest() == digest


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


def signed_deposit(venue: Venue) -> Transaction:
    """A valid deposit, signed now; the verifier's verdict on it is True."""
    tx, signed = venue.transaction(DEPOSIT, None, {})
    assert signed and _verify(tx)
    return tx


def assert_unsequenced(venue: Venue, seq: object, timestamp: object, code: ErrorCode) -> None:
    """Sequencing faults are refused before anything else and leave no trace, chain head included."""
    engine = venue.engine
    tx = signed_deposit(venue)
    before = (engine.digest(), engine.chain_head, engine.seq, engine.timestamp_ns)
    outcome = engine.apply(Sequenced(seq, timestamp, tx), True)  # type: ignore[arg-type]
    assert isinstance(outcome, Rejected), f"accepted: {outcome}"
    assert ErrorCode(outcome.code).name == code.name, outcome.message
    assert (engine.digest(), engine.chain_head, engine.seq, engine.timestamp_ns) == before
    # Nothing was consumed, the nonce included: the same transaction, rightly sequenced,
    # still goes through.
    good = Sequenced(engine.seq + 1, max(engine.timestamp_ns, venue.now), tx)
    assert isinstance(engine.apply(good, True), Accepted)


@pytest.mark.parametrize(("seq", "timestamp", "code"), SEQUENCING_ROWS)
def test_out_of_order_input_changes_nothing(seq: Shift, timestamp: Shift, code: ErrorCode) -> None:
    venue = open_venue()
    engine = venue.engine
    assert_unsequenced(venue, seq(engine.seq), timestamp(engine.timestamp_ns), code)


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
    venue = Venue(TestVenue(GENESIS), {})
    assert venue.engine.seq == 0 and venue.engine.timestamp_ns == 0
    assert_unsequenced(venue, seq, timestamp, code)
    assert venue.engine.chain_head != genesis_digest(GENESIS)  # head(0)


def test_equal_timestamps_are_not_a_regression() -> None:
    venue = open_venue()
    engine = venue.engine
    tx = signed_deposit(venue)
    outcome = engine.apply(Sequenced(engine.seq + 1, venue.now, tx), True)
    assert isinstance(outcome, Accepted)


def test_a_timestamp_beyond_64_bits_is_refused() -> None:
    """A timestamp no journal can encode must not be accepted (and stop all later input)."""
    venue = open_venue()
    engine = venue.engine
    tx = signed_deposit(venue)
    before = (engine.digest(), engine.chain_head, engine.seq, engine.timestamp_ns)
    outcome = engine.apply(Sequenced(engine.seq + 1, 2**64, tx), True)
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
        "observed_ns": SETUP_END,
        "expiries": [{"expiry_ns": DEC26_EXPIRY, "atm_vol_ppm": 80_000}],
    },
    "add_sub_key": {
        "type": "add_sub_key",
        "account": "bob",
        "public_key": NEW_KEY,
        "scope": "trade",
        "order_size_max": 5,
    },
    "rotate_sub_key": {
        "type": "rotate_sub_key",
        "account": "bob",
        "public_key": pk("bob-bot"),
        "new_public_key": NEW_KEY,
        "void_from_seq": FAR,
    },
    "propose": {
        "type": "propose",
        "action": {
            "action": "grant_role",
            "public_key": NEW_KEY,
            "owner": "erin",
            "role": "trader",
        },
    },
    "approve": {"type": "approve", "proposal_id": P_OPEN},
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
    wrow("expiries-object", wire("oracle_update", expiries={DEC26_EXPIRY: 1}), E.WRONG_TYPE),
    wrow(
        "expiry-quote-as-array", wire("oracle_update", expiries=[[DEC26_EXPIRY, 1]]), E.WRONG_TYPE
    ),
    wrow("observed-float", wire("oracle_update", observed_ns=float(SETUP_END)), E.WRONG_TYPE),
    wrow(
        "vol-float",
        wire("oracle_update", expiries=[{"expiry_ns": DEC26_EXPIRY, "atm_vol_ppm": 1.0}]),
        E.WRONG_TYPE,
    ),
    wrow("public-key-int", wire("add_sub_key", public_key=5), E.WRONG_TYPE),
    wrow("order-size-max-float", wire("add_sub_key", order_size_max=5.0), E.WRONG_TYPE),
    wrow("void-from-seq-str", wire("rotate_sub_key", void_from_seq="1"), E.WRONG_TYPE),
    wrow("action-str", wire("propose", action="grant_role"), E.WRONG_TYPE),
    wrow("proposal-id-str", wire("approve", proposal_id=str(P_OPEN)), E.WRONG_TYPE),
    wrow("payload-array", {"payload": ["deposit", "alice", "USDC", 1]}, E.WRONG_TYPE),
    wrow("payload-null", {"payload": None}, E.WRONG_TYPE),
    wrow("document-array", [WIRE_BASES["deposit"]], E.WRONG_TYPE),
    wrow("document-int", 5, E.WRONG_TYPE),
    wrow("nonce-float", wire("deposit", {"nonce": 1.5}), E.WRONG_TYPE),
    wrow("nonce-str", wire("deposit", {"nonce": "1"}), E.WRONG_TYPE),
    wrow("expiry-str", wire("deposit", {"expires_at_ns": "soon"}), E.WRONG_TYPE),
    wrow("signature-int", wire("deposit", {"signature": 5}), E.WRONG_TYPE),
    # missing and unknown fields
    wrow("missing-amount", wire("deposit", amount=_MISSING), E.MISSING_FIELD),
    wrow("missing-account", wire("transfer", source=_MISSING), E.MISSING_FIELD),
    wrow("missing-size", wire("place_order", size=_MISSING), E.MISSING_FIELD),
    wrow("missing-side", wire("place_order", side=_MISSING), E.MISSING_FIELD),
    wrow("missing-amend-order-id", wire("amend_order", order_id=_MISSING), E.MISSING_FIELD),
    wrow("missing-index", wire("oracle_update", index=_MISSING), E.MISSING_FIELD),
    wrow(
        "missing-expiry-ns", wire("oracle_update", expiries=[{"atm_vol_ppm": 1}]), E.MISSING_FIELD
    ),
    wrow("missing-observed", wire("oracle_update", observed_ns=_MISSING), E.MISSING_FIELD),
    wrow("missing-scope", wire("add_sub_key", scope=_MISSING), E.MISSING_FIELD),
    wrow("missing-void-from-seq", wire("rotate_sub_key", void_from_seq=_MISSING), E.MISSING_FIELD),
    wrow(
        "missing-action-owner",
        wire("propose", action={"action": "grant_role", "public_key": NEW_KEY, "role": "trader"}),
        E.MISSING_FIELD,
    ),
    wrow("missing-action-tag", wire("propose", action={"proposal_id": 1}), E.MISSING_FIELD),
    wrow("missing-type", wire("deposit", type=_MISSING), E.MISSING_FIELD),
    wrow("missing-payload", {"nonce": 1}, E.MISSING_FIELD),
    wrow("unknown-payload-field", wire("deposit", memo="hi"), E.UNKNOWN_FIELD),
    wrow("field-of-another-type", wire("deposit", size=1), E.UNKNOWN_FIELD),
    wrow("unknown-order-field", wire("place_order", leverage=100), E.UNKNOWN_FIELD),
    wrow(
        "unknown-expiry-quote-field",
        wire("oracle_update", expiries=[{"expiry_ns": DEC26_EXPIRY, "iv": 5}]),
        E.UNKNOWN_FIELD,
    ),
    wrow("marks-are-no-field-any-more", wire("oracle_update", marks=[]), E.UNKNOWN_FIELD),
    wrow(
        "unknown-action-field",
        wire(
            "propose",
            action={
                "action": "grant_role",
                "public_key": NEW_KEY,
                "owner": "erin",
                "role": "trader",
                "expires": 1,
            },
        ),
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
    wrow("scope-unknown", wire("add_sub_key", scope="admin"), E.INVALID_VALUE),
    wrow(
        "action-unknown",
        wire("propose", action={"action": "mint", "account": "alice"}),
        E.INVALID_VALUE,
    ),
    wrow(
        "role-unknown",
        wire(
            "propose",
            action={"action": "grant_role", "public_key": NEW_KEY, "owner": "erin", "role": "root"},
        ),
        E.INVALID_VALUE,
    ),
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
        "quote-expiry-u64-max",
        wire("oracle_update", expiries=[{"expiry_ns": U64_MAX}]),
        E.WRONG_TYPE,
    ),
    wrow("observed-u64-max", wire("oracle_update", observed_ns=U64_MAX), E.ORACLE_FROM_FUTURE),
    wrow("observed-zero", wire("oracle_update", observed_ns=0), E.ORACLE_STALE),
    wrow(
        "vol-negative",
        wire("oracle_update", expiries=[{"expiry_ns": DEC26_EXPIRY, "atm_vol_ppm": -1}]),
        E.VOLATILITY_INVALID,
    ),
    wrow("unknown-instrument", wire("place_order", instrument="DOGE-PERP"), E.UNKNOWN_INSTRUMENT),
    wrow("public-key-short", wire("add_sub_key", public_key=NEW_KEY[:31]), E.INVALID_KEY),
    wrow("public-key-registered", wire("add_sub_key", public_key=pk("bob")), E.KEY_EXISTS),
    wrow("void-from-seq-u64-max", wire("rotate_sub_key", void_from_seq=U64_MAX), E.INVALID_VALUE),
    wrow("proposal-unknown", wire("approve", proposal_id=U64_MAX), E.UNKNOWN_PROPOSAL),
    wrow(
        "action-key-short",
        wire(
            "propose",
            action={"action": "rotate_key", "public_key": pk("carol"), "new_public_key": b"k"},
        ),
        E.INVALID_KEY,
    ),
    wrow("nonce-negative", wire("deposit", {"nonce": -1}), E.INVALID_VALUE),
    wrow("nonce-2**63", wire("deposit", {"nonce": 2**63}), E.INVALID_VALUE),
    wrow("nonce-zero", wire("deposit", {"nonce": 0}), E.NONCE_INVALID),
    wrow("expiry-zero", wire("deposit", {"expires_at_ns": 0}), E.EXPIRED),
    wrow("expiry-u64-max", wire("deposit", {"expires_at_ns": U64_MAX}), E.INVALID_VALUE),
    wrow("signer-short", wire("deposit", {"signer": pk("custody")[:31]}), E.UNKNOWN_SIGNER),
    wrow("signature-short", wire("deposit", {"signature": b"\x00" * 63}), E.BAD_SIGNATURE),
    # sizes beyond the declared bounds (core/txs.py) are refused when decoding
    wrow(
        "client-id-256-chars",
        wire("place_order", client_order_id="c" * 256),
        E.CLIENT_ORDER_ID_INVALID,
    ),
    wrow("account-257-chars", wire("withdraw", account="a" * 257), E.VALUE_OUT_OF_RANGE),
    wrow("asset-257-chars", wire("deposit", asset="U" * 257), E.VALUE_OUT_OF_RANGE),
    wrow(
        "client-id-257-chars",
        wire("place_order", client_order_id="c" * 257),
        E.VALUE_OUT_OF_RANGE,
    ),
    wrow("index-257-chars", wire("oracle_update", index="I" * 257), E.VALUE_OUT_OF_RANGE),
    wrow(
        "action-owner-257-chars",
        wire(
            "propose",
            action={
                "action": "grant_role",
                "public_key": NEW_KEY,
                "owner": "o" * 257,
                "role": "trader",
            },
        ),
        E.VALUE_OUT_OF_RANGE,
    ),
    wrow(
        "signer-33-bytes",
        wire("deposit", {"signer": pk("custody") + b"\x00"}),
        E.VALUE_OUT_OF_RANGE,
    ),
    wrow("signer-1-mib", wire("deposit", {"signer": b"k" * 500_000}), E.VALUE_OUT_OF_RANGE),
    wrow("signature-65-bytes", wire("deposit", {"signature": b"\x00" * 65}), E.VALUE_OUT_OF_RANGE),
    wrow(
        "public-key-33-bytes",
        wire("add_sub_key", public_key=NEW_KEY + b"\x00"),
        E.VALUE_OUT_OF_RANGE,
    ),
    wrow(
        "new-public-key-33-bytes",
        wire("rotate_sub_key", new_public_key=NEW_KEY + b"\x00"),
        E.VALUE_OUT_OF_RANGE,
    ),
]

JSON_ONLY_ROWS = [
    # integers msgpack cannot carry (-2^63..2^64-1) are refused when decoding: nothing
    # could encode, sign or journal them
    wrow("amount-10**30", wire("deposit", amount=10**30), E.VALUE_OUT_OF_RANGE),
    wrow("amount-minus-10**30", wire("deposit", amount=-(10**30)), E.VALUE_OUT_OF_RANGE),
    wrow("amount-2**64", wire("deposit", amount=U64_MAX + 1), E.VALUE_OUT_OF_RANGE),
    wrow("amount-minus-2**63-1", wire("deposit", amount=-(2**63) - 1), E.VALUE_OUT_OF_RANGE),
    wrow("size-2**80", wire("place_order", size=HUGE), E.VALUE_OUT_OF_RANGE),
    wrow("price-2**80", wire("place_order", price=HUGE), E.VALUE_OUT_OF_RANGE),
    wrow("order-id-2**80", wire("cancel_order", order_id=HUGE), E.VALUE_OUT_OF_RANGE),
    wrow("nonce-2**80", wire("deposit", {"nonce": HUGE}), E.VALUE_OUT_OF_RANGE),
    wrow(
        "quote-vol-2**80",
        wire("oracle_update", expiries=[{"expiry_ns": DEC26_EXPIRY, "atm_vol_ppm": HUGE}]),
        E.VALUE_OUT_OF_RANGE,
    ),
    wrow("signer-not-base64", wire("deposit", {"signer": "not base64!"}), E.INVALID_VALUE),
    wrow("public-key-not-base64", wire("add_sub_key", public_key="not base64!"), E.INVALID_VALUE),
]

MSGPACK_ONLY_ROWS = [
    wrow("amount-bin", wire("deposit", amount=b"\x01"), E.WRONG_TYPE),
    wrow("amount-ext", wire("deposit", amount=msgspec.msgpack.Ext(1, b"\x01")), E.WRONG_TYPE),
    wrow("signer-str", wire("deposit", {"signer": "abc"}), E.WRONG_TYPE),
    wrow("public-key-str", wire("add_sub_key", public_key=NEW_KEY.hex()), E.WRONG_TYPE),
    wrow("key-int", {**wire("deposit"), 5: 1}, E.WRONG_TYPE),
]

_ENVELOPE_FIELDS = ("signer", "nonce", "expires_at_ns", "signature")


def submit(venue: Venue, decoded: Transaction | Rejection, document: object) -> Rejection | Outcome:
    """Sign the decoded transaction with its payload's usual key and submit it; envelope
    fields the document gives are kept as decoded (set before signing, but for signer
    and signature, which replace the signed ones)."""
    if isinstance(decoded, Rejection):
        return decoded
    given = document if isinstance(document, dict) else {}
    envelope = {name: getattr(decoded, name) for name in _ENVELOPE_FIELDS if name in given}
    return venue.apply(decoded.payload, **envelope)


def _json(document: object) -> bytes:
    """JSON, with bytes as base64 (the way msgspec reads them)."""

    def default(value: object) -> str:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        raise TypeError(type(value).__name__)

    return json.dumps(document, default=default).encode()


def check_wire(
    raw: bytes | str, decode: Any, code: ErrorCode | None, document: object = None
) -> None:
    venue = open_venue()
    engine = venue.engine
    digest, head, seq = engine.digest(), engine.chain_head, engine.seq
    result = submit(venue, decode(raw), document)
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
    check_wire(_json(document), decode_transaction_json, code, document)


@pytest.mark.parametrize(("document", "code"), WIRE_ROWS + MSGPACK_ONLY_ROWS)
def test_msgpack_input_is_refused_with_its_code(document: object, code: ErrorCode | None) -> None:
    check_wire(msgspec.msgpack.encode(document), decode_transaction, code, document)


_VALID_MSGPACK = msgspec.msgpack.encode(wire("deposit"))
_VALID_JSON = _json(wire("deposit"))

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
        _json(wire("oracle_update", expiries=[{"expiry_ns": DEC26_EXPIRY, "basis": 1.5}]))
    )
    assert isinstance(rejection, Rejection)
    assert rejection.code == E.WRONG_TYPE
    assert "$.payload.expiries[0].basis" in rejection.message


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
