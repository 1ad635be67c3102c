"""The real engine driven by random transaction sequences, checked against a model.

A hypothesis `RuleBasedStateMachine` sends every kind of transaction, valid and
invalid, to one `Engine` listing four instruments (a perpetual, a future and a
call on BTC-USD; the ETH-USD perpetual) for up to eight accounts. Transactions are
really signed (by the custodian, the oracle or the account's owner) and verified.
Prices are drawn a few ticks around the mark or at resting orders, so orders cross,
fill partly, meet their own orders (self-trade prevention); blocks crossed at the
edge of the accounts' margin and index moves of up to 12% bring margin calls. Moves
of 30% are clamped to the oracle's bound, and moves that add up to more than the
circuit breaker's threshold within its window halt the index's markets, which a
risk officer's ResumeMarket (also drawn, with HaltMarket) reopens.

Beside the engine the test keeps a model written from the documented rules, not
from the engine's code: cash (deposits, withdrawals and transfers exactly; fills
from price, size and the fee schedule), positions and their cost basis, every open
order with its remaining size, marks, margin-call flags, fees, the collateral
totals, and standard margin (equity, initial and maintenance requirements, the
worst case of resting orders included), and the oracle: each index's accepted price
and history, each expiry's accepted quote, the source's last observation, halts.
Marks follow the documented rules: a perpetual at the index plus the book's capped
premium, the future at the index plus its expiry's basis (bounded again against the
index, which may have moved since the basis was quoted), the call at its Black-76
price (taken from `clearhouse.core.pricing`, the one Black-76 of the project, on the
model's forward, smile volatility and time to expiry). From the model each
transaction's outcome is predicted: the rejection code of every check but
fill-or-kill's match (margin refusals included, in the documented order), or else
the events one by one. After every step:

- `engine.check_invariants()` passes;
- a rejected transaction left `engine.digest()` as it was (and a sequencing fault
  left the chain head and sequence number too);
- the engine agrees with the model on accounts, cash, positions, open orders (ids,
  sizes, prices, depth), marks, index prices, halts, bases, the call's volatility
  and delta, open interest, margin, margin calls and totals, and collateral is
  conserved: deposits - withdrawals = cash - linear cost basis + fees (nothing here
  reaches the insurance fund or is socialized).

At the end of each run the recorded log is replayed into a fresh engine, every
signature verified again: every outcome must match byte for byte, and the digest
and the chain head must be the same.

`make test` runs the "default" hypothesis profile (tests/conftest.py); `make fuzz`
runs this file with HYPOTHESIS_PROFILE=fuzz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from clearhouse.auth.verifier import verify_transaction
from clearhouse.core import (
    Accepted,
    AccountOpened,
    AmendOrder,
    CancelAll,
    CancelOrder,
    CancelReason,
    CircuitBreakerTripped,
    Deposit,
    Deposited,
    Depth,
    Engine,
    EngineConfig,
    ErrorCode,
    Event,
    ExpiryQuote,
    ExpiryQuoted,
    HaltMarket,
    HaltReason,
    IndexClamped,
    IndexPriceUpdated,
    Instrument,
    Kind,
    MarginCallEnded,
    MarginCallStarted,
    MarketHalted,
    MarketResumed,
    MarkPriceUpdated,
    OracleObserved,
    OracleUpdate,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    OrderType,
    Outcome,
    PlaceOrder,
    Rejected,
    ResumeMarket,
    SelfTradePrevention,
    Sequenced,
    Side,
    TimeInForce,
    TradeExecuted,
    Transaction,
    Transfer,
    Transferred,
    Withdraw,
    Withdrawn,
    default_catalogue,
    encode,
)
from clearhouse.core.authority import owner_of
from clearhouse.core.catalogue import expiry_ns
from clearhouse.core.numbers import INT64_MAX, amount_max_units, balance_max_units, price_max_units
from clearhouse.core.pricing import greeks_from_units, price_ticks, round_half_up
from clearhouse.testing import ORACLE, TestVenue, standard_genesis

BTC_PERP = "BTC-PERP"
BTC_FUTURE = "BTC-25DEC26"
BTC_CALL = "BTC-25DEC26-100000-C"
ETH_PERP = "ETH-PERP"
LISTED = (BTC_PERP, BTC_FUTURE, BTC_CALL, ETH_PERP)
SPECS: dict[str, Instrument] = {spec.id: spec for spec in default_catalogue() if spec.id in LISTED}
INSTRUMENTS = tuple(SPECS.values())
"""In catalogue order, which is the order the engine marks them in."""
INDICES = ("BTC-USD", "ETH-USD")
UNLISTED = "DOGE-PERP"
USDC = "USDC"
USD = 10**6

CONFIG = EngineConfig(
    accounts_max=8,
    orders_per_account_max=10,
    client_order_id_len_max=36,
    invariant_sweep_interval_txs=3,
)
NAMES = ("ana", "ben", "cy", "dee", "eve", "fay", "gus", "hal", "ivy")
"""Nine names for at most eight accounts: the ninth deposit hits ACCOUNTS_LIMIT."""
NOBODY = "nobody"
"""Holds a key but is never deposited to, so never an account."""
GENESIS = standard_genesis((*NAMES, NOBODY), INSTRUMENTS, CONFIG)
BAD_NAMES = ("", "two words", "x" * 65, "caf\u00e9", "tab\there")

START_NS = 1_750_000_000 * 10**9
"""June 2025: every listed instrument is live for the whole run."""
GAP_NS = 10**9
"""Sequencer time between two transactions."""
FIRST_INDEX = {"BTC-USD": 100_000 * USD, "ETH-USD": 3_500 * USD}
FIRST_CALL_MARK = 8_000 * USD
"""Where call orders are drawn before the call has a mark (they are then refused)."""
DEC26 = expiry_ns(2026, 12, 25)
"""The expiry of the listed future and call."""
MAR27 = expiry_ns(2027, 3, 26)
"""An expiry of the catalogue with nothing listed on it here."""
EXPIRIES = {"BTC-USD": (DEC26,), "ETH-USD": ()}
BASIS_MAX_BPS = CONFIG.basis_max_bps
"""A basis is at most this fraction of the update's price, and marks bound a standing
one again against the index accepted since."""
VOL_MAX_PPM = 10_000_000
"""Documented bound of volatility inputs (1000 %)."""
CLIENT_IDS = ("",) * 9 + ("q1", "q2", "q3")
BAD_CLIENT_IDS = ("two words", "y" * 37, "caf\u00e9")


def tick_value(spec: Instrument) -> int:
    """Settlement units one lot gains per tick, from the contract terms."""
    return spec.tick_size * spec.contract_size * spec.lot_size // 10**spec.underlying_decimals


def is_linear(instrument: str) -> bool:
    return instrument != BTC_CALL


def ceil_bps(amount: int, bps: int) -> int:
    return -(-amount * bps // 10_000)


def name_ok(value: object, length_max: int) -> bool:
    """What the engine accepts as an account or client order id."""
    return (
        type(value) is str
        and 0 < len(value) <= length_max
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


def amount_code(amount: object) -> ErrorCode | None:
    if type(amount) is not int:
        return ErrorCode.WRONG_TYPE
    if amount <= 0:
        return ErrorCode.AMOUNT_NOT_POSITIVE
    if amount > amount_max_units:
        return ErrorCode.AMOUNT_TOO_LARGE
    return None


def size_code(size: object, size_max: int) -> ErrorCode | None:
    if type(size) is not int:
        return ErrorCode.WRONG_TYPE
    if size <= 0:
        return ErrorCode.SIZE_NOT_POSITIVE
    if size > size_max:
        return ErrorCode.SIZE_TOO_LARGE
    return None


def price_code(price: object, tick: int) -> ErrorCode | None:
    if type(price) is not int:
        return ErrorCode.WRONG_TYPE
    if price <= 0:
        return ErrorCode.PRICE_NOT_POSITIVE
    if price > price_max_units:
        return ErrorCode.PRICE_TOO_LARGE
    if price % tick:
        return ErrorCode.PRICE_OFF_TICK
    return None


OpenLots = tuple[bool, int, int]
"""An open order as (is_buy, price in ticks, lots)."""


@dataclass
class ModelOrder:
    order_id: int
    account: str
    instrument: str
    is_buy: bool
    price: int
    """Settlement units, as on the wire."""
    remaining: int
    client_order_id: str


@dataclass
class ModelPosition:
    qty: int = 0
    cost: int = 0
    """Ticks x lots of the lots still open: the average entry is cost / qty."""

    def fill(self, signed: int, price_ticks: int) -> int:
        """Apply a fill; return realized P&L in ticks x lots.

        Reducing releases the closed share of the cost basis, rounded down; closing
        all of it releases all of it; the part of a fill beyond flat opens anew.
        """
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            self.qty += signed
            self.cost += signed * price_ticks
            return 0
        closing = min(abs(signed), abs(self.qty))
        released = self.cost if closing == abs(self.qty) else self.cost * closing // abs(self.qty)
        direction = 1 if self.qty > 0 else -1
        realized = direction * closing * price_ticks - released
        self.qty += signed
        self.cost -= released
        if self.qty and (self.qty > 0) != (direction > 0):
            self.cost = self.qty * price_ticks
        return realized


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Every name and "nobody" hold a trader key; the custodian deposits, the oracle
        # prices; each transaction is really signed and verified.
        self.venue = TestVenue(GENESIS, start_ns=START_NS)
        self.engine = self.venue.engine
        self.log: list[tuple[Sequenced, bool]] = []
        """Every entry sent to the engine with the verifier's verdict on its signature."""
        self.outcomes: list[bytes] = []
        self.now = START_NS
        self.step_done = True
        # the model
        self.cash: dict[str, int] = {}
        self.margin_call: dict[str, bool] = {}
        self.orders: dict[int, ModelOrder] = {}
        self.positions: dict[tuple[str, str], ModelPosition] = {}
        self.index: dict[str, int] = {}
        self.marks: dict[str, int] = {}
        """Mark price in settlement units, per instrument the oracle has priced."""
        self.history: dict[str, list[tuple[int, int]]] = {}
        """Per index, every (sequencer time, accepted price)."""
        self.observed: dict[str, int] = {}
        """Per index, when the oracle source last observed it."""
        self.quotes: dict[int, ExpiryQuote] = {}
        """The accepted quote of each expiry."""
        self.basis: dict[str, int] = {}
        self.vol_delta: dict[str, tuple[int, int]] = {}
        """The call's smile volatility and delta (ppm) at its last pricing."""
        self.halted: dict[str, HaltReason] = {}
        self.deposits = 0
        self.withdrawals = 0
        self.fees = 0

    # -- sending -----------------------------------------------------------------

    def sign(self, payload: Any) -> Transaction:
        """Signed by the payload's usual signer (custodian, oracle or account owner)."""
        self.venue.now_ns = self.now
        return self.venue.sign(payload)

    def submit(self, sequenced: Sequenced, *, signed: bool = True) -> Outcome:
        # An unsigned entry (a payload of no transaction type) has no signature to verify.
        valid = signed and verify_transaction(GENESIS.venue_id, sequenced.tx)
        outcome = self.engine.apply(sequenced, valid)
        self.log.append((sequenced, valid))
        self.outcomes.append(encode(outcome))
        return outcome

    def send(self, payload: Any, *, gap_ns: int = GAP_NS, signed: bool = True) -> Outcome:
        """Apply one transaction; check digest stability on rejection and invariants."""
        self.step_done = False
        digest = self.engine.digest()
        head = self.engine.chain_head
        self.now += gap_ns
        tx = self.sign(payload) if signed else Transaction(payload, nonce=1, expires_at_ns=self.now)
        sequenced = Sequenced(self.engine.seq + 1, self.now, tx)
        note(f"seq {sequenced.seq}: {payload!r}")
        outcome = self.submit(sequenced, signed=signed)
        note(f"  -> {outcome!r}")
        assert outcome.seq == sequenced.seq
        assert self.engine.seq == sequenced.seq
        assert self.engine.chain_head != head
        if isinstance(outcome, Rejected):
            event(f"rejected {outcome.code.name}")
            assert self.engine.digest() == digest, (
                f"rejection {outcome.code.name} changed the state"
            )
        self.engine.check_invariants()
        self.step_done = True
        return outcome

    def expect_rejected(self, outcome: Outcome, code: ErrorCode) -> None:
        assert isinstance(outcome, Rejected), f"expected {code.name}, got {outcome!r}"
        assert outcome.code == code, (
            f"expected {code.name}, got {outcome.code.name}: {outcome.message}"
        )

    def review_margin_calls(self, events: list[Event], reviewed: set[str]) -> None:
        """Margin-call events must flip the flag of an account the transaction reviewed."""
        for e in events:
            if isinstance(e, MarginCallStarted):
                assert e.account in reviewed and not self.margin_call[e.account]
                assert e.equity < e.maintenance_margin
                self.margin_call[e.account] = True
                event("margin call started")
            elif isinstance(e, MarginCallEnded):
                assert e.account in reviewed and self.margin_call[e.account]
                assert e.equity >= e.maintenance_margin
                self.margin_call[e.account] = False
                event("margin call ended")
            else:
                raise AssertionError(f"unexpected event {e!r}")

    # -- model helpers -------------------------------------------------------------

    def mark_or_default(self, instrument: str) -> int:
        if instrument in self.marks:
            return self.marks[instrument]
        if instrument == BTC_CALL:
            return FIRST_CALL_MARK
        return FIRST_INDEX["ETH-USD" if instrument == ETH_PERP else "BTC-USD"]

    def open_orders(self, account: str, instrument: str = "") -> list[ModelOrder]:
        return [
            o
            for o in sorted(self.orders.values(), key=lambda o: o.order_id)
            if o.account == account and (not instrument or o.instrument == instrument)
        ]

    def best(self, instrument: str, is_buy: bool) -> int | None:
        prices = [
            o.price
            for o in self.orders.values()
            if o.instrument == instrument and o.is_buy == is_buy
        ]
        if not prices:
            return None
        return max(prices) if is_buy else min(prices)

    def crosses_book(self, instrument: str, is_buy: bool, price: int) -> bool:
        opposite = self.best(instrument, not is_buy)
        return opposite is not None and (opposite <= price if is_buy else opposite >= price)

    def position(self, account: str, instrument: str) -> ModelPosition:
        return self.positions.setdefault((account, instrument), ModelPosition())

    def qty(self, account: str, instrument: str) -> int:
        position = self.positions.get((account, instrument))
        return position.qty if position is not None else 0

    def resting(self, account: str, instrument: str, leave_out: int = 0) -> list[OpenLots]:
        """The account's open orders in one instrument as (is_buy, price ticks, lots)."""
        tick = SPECS[instrument].tick_size
        return [
            (o.is_buy, o.price // tick, o.remaining)
            for o in self.open_orders(account, instrument)
            if o.order_id != leave_out
        ]

    def requirement(
        self, account: str, instrument: str, orders: list[OpenLots]
    ) -> tuple[int, int, int]:
        """(equity part, initial, maintenance) of one instrument under standard margin.

        Written from the rules in clearhouse/core/margin.py's docstring: linear
        positions at the mark times a rate; a long option its premium value, a short
        one its premium value plus the larger of a share of the underlying less the
        out-of-the-money amount and a smaller floor share. Open orders: the largest
        position they could leave (nothing, all buys or all sells filled) plus the loss
        of the orders that would fill on the wrong side of the mark. Requirements
        round up.
        """
        position = self.positions.get((account, instrument), ModelPosition())
        qty = position.qty
        if qty == 0 and not orders:
            return 0, 0, 0
        spec = SPECS[instrument]
        value = tick_value(spec)
        mark = self.marks[instrument] // spec.tick_size
        open_buy = sum(lots for is_buy, _, lots in orders if is_buy)
        open_sell = sum(lots for is_buy, _, lots in orders if not is_buy)
        adverse = max(
            sum((p - mark) * lots for is_buy, p, lots in orders if is_buy and p > mark),
            sum((mark - p) * lots for is_buy, p, lots in orders if not is_buy and p < mark),
        )
        candidates = (qty, qty + open_buy, qty - open_sell)
        if is_linear(instrument):
            rate = mark * value
            initial = max(ceil_bps(abs(q) * rate, spec.initial_margin_bps) for q in candidates)
            maintenance = ceil_bps(abs(qty) * rate, spec.maintenance_margin_bps)
            return (mark * qty - position.cost) * value, initial + adverse * value, maintenance
        premium = mark * value
        index = self.index[spec.index]
        per_lot = spec.contract_size * spec.lot_size
        scale = 10**spec.underlying_decimals
        underlying = -(-index * per_lot // scale)
        out_of_money = max(0, spec.strike - index) * per_lot // scale  # the listed option is a call
        short_lot = premium + max(
            ceil_bps(underlying, spec.short_option_margin_bps) - out_of_money,
            ceil_bps(underlying, spec.short_option_floor_bps),
        )
        initial = max(q * premium if q >= 0 else -q * short_lot for q in candidates)
        maintenance = (
            -qty * (premium + ceil_bps(underlying, spec.short_option_maintenance_bps))
            if qty < 0
            else 0
        )
        return qty * premium, initial + adverse * value, maintenance

    def model_margin(self, account: str) -> tuple[int, int, int]:
        """(equity, initial margin, maintenance margin) of an account, from the model."""
        equity, initial, maintenance = self.cash[account], 0, 0
        for instrument in LISTED:
            part, init, maint = self.requirement(
                account, instrument, self.resting(account, instrument)
            )
            equity += part
            initial += init
            maintenance += maint
        return equity, initial, maintenance

    def unrealized_gains(self, account: str) -> int:
        """The gains cash may not leave against: each position's unrealized profit,
        never netted against another's loss; a long option's value is already held
        back by its requirement, so it is left out (docs/ARCHITECTURE.md, Margin)."""
        gains = 0
        for instrument in LISTED:
            position = self.positions.get((account, instrument), ModelPosition())
            if position.qty == 0 or (position.qty > 0 and not is_linear(instrument)):
                continue
            spec = SPECS[instrument]
            mark = self.marks[instrument] // spec.tick_size
            gains += max(0, (mark * position.qty - position.cost) * tick_value(spec))
        return gains

    def margin_refuses(
        self, account: str, instrument: str, order: OpenLots, post_only: bool, leave_out: int = 0
    ) -> bool:
        """Would the pre-trade check refuse this order (or amended order `leave_out`)?

        Refused when it raises the instrument's requirement and the account's equity,
        less the worst-case fee, would not cover its initial margin with the order's
        worst case in it. An order that can only shrink the position is never refused.
        """
        is_buy, price, lots = order
        others = self.resting(account, instrument, leave_out)
        qty = self.qty(account, instrument)
        open_buy = sum(q for b, _, q in others if b)
        open_sell = sum(q for b, _, q in others if not b)
        if qty and (qty + open_buy + lots <= 0 if is_buy else qty - open_sell - lots >= 0):
            return False
        before = self.requirement(account, instrument, others)[1]
        after = self.requirement(account, instrument, [*others, order])[1]
        if after <= before:
            return False
        spec = SPECS[instrument]
        fee = max(
            0,
            ceil_bps(
                price * lots * tick_value(spec),
                spec.maker_fee_bps if post_only else spec.taker_fee_bps,
            ),
        )
        equity, initial, _ = self.model_margin(account)
        current = self.requirement(account, instrument, self.resting(account, instrument))[1]
        return equity - fee < initial - current + after

    def model_fill(self, account: str, instrument: str, signed: int, price: int, fee: int) -> int:
        """Book one side of a fill in the model; return the realized P&L in units."""
        spec = SPECS[instrument]
        ticks = price // spec.tick_size
        realized = self.position(account, instrument).fill(signed, ticks) * tick_value(spec)
        if is_linear(instrument):
            self.cash[account] += realized - fee
        else:
            self.cash[account] += -signed * ticks * tick_value(spec) - fee
        self.fees += fee
        return realized

    # -- strategies that read the model ---------------------------------------------

    def draw_account(self, data: st.DataObject, *, known_bias: int = 6) -> str:
        opened = sorted(self.cash)
        if opened and data.draw(st.integers(0, known_bias)) > 0:
            return data.draw(st.sampled_from(opened), label="account")
        return data.draw(st.sampled_from([*NAMES, NOBODY]), label="account")

    def draw_amount(self, data: st.DataObject, balance: int) -> object:
        choices: list[st.SearchStrategy[object]] = [
            st.integers(1, 20_000 * USD),
            st.integers(1, 20_000 * USD),
            st.integers(1, 20_000 * USD),
            st.sampled_from([0, -1, -5 * USD, amount_max_units + 1, 2.5, True]),
        ]
        balance = min(balance, CONFIG.large_withdrawal_units)  # large ones are requests
        if balance > 0:
            choices.append(
                st.sampled_from([balance, balance + 1, max(1, balance // 2), max(1, balance // 10)])
            )
        return data.draw(st.one_of(choices), label="amount")

    def draw_asset(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from([USDC] * 20 + ["BTC", "usdc"]), label="asset")

    # -- set-up --------------------------------------------------------------------

    @initialize(data=st.data())
    def open_the_venue(self, data: st.DataObject) -> None:
        """Fund a few accounts and price both indices, so trading starts at once."""
        count = data.draw(st.integers(3, 6), label="funded accounts")
        for name in NAMES[:count]:
            amount = data.draw(st.integers(2_000, 60_000), label="funding USD") * USD
            outcome = self.send(Deposit(name, USDC, amount))
            assert isinstance(outcome, Accepted)
            assert outcome.events == [AccountOpened(name), Deposited(name, USDC, amount, amount)]
            self.cash[name] = amount
            self.margin_call[name] = False
            self.deposits += amount
        quotes = (
            (self.draw_quote(data, FIRST_INDEX["BTC-USD"]),)
            if data.draw(st.booleans(), label="quote the call")
            else ()
        )
        at = self.now + GAP_NS
        self.oracle(OracleUpdate("BTC-USD", FIRST_INDEX["BTC-USD"], at, quotes))
        self.oracle(OracleUpdate("ETH-USD", FIRST_INDEX["ETH-USD"], at + GAP_NS))

    # -- collateral ------------------------------------------------------------------

    @rule(data=st.data())
    def deposit(self, data: st.DataObject) -> None:
        account = data.draw(st.sampled_from([*NAMES, *NAMES, *BAD_NAMES]), label="account")
        amount = self.draw_amount(data, self.cash.get(account, 0))
        asset = self.draw_asset(data)
        outcome = self.send(Deposit(account, asset, amount))  # type: ignore[arg-type]
        code: ErrorCode | None = None
        if type(amount) is not int:
            code = ErrorCode.WRONG_TYPE
        elif asset != USDC:
            code = ErrorCode.UNKNOWN_ASSET
        elif (code := amount_code(amount)) is not None:
            pass
        elif account not in self.cash:
            if not name_ok(account, CONFIG.account_id_len_max):
                code = ErrorCode.INVALID_ACCOUNT_ID
            elif len(self.cash) >= CONFIG.accounts_max:
                code = ErrorCode.ACCOUNTS_LIMIT
        elif self.cash[account] + amount > balance_max_units:  # type: ignore[operator]
            code = ErrorCode.BALANCE_LIMIT_EXCEEDED
        if code is not None:
            self.expect_rejected(outcome, code)
            return
        assert isinstance(outcome, Accepted) and type(amount) is int
        opened = account not in self.cash
        if opened:
            self.cash[account] = 0
            self.margin_call[account] = False
        self.cash[account] += amount
        self.deposits += amount
        expected: list[Event] = [AccountOpened(account)] if opened else []
        expected.append(Deposited(account, USDC, amount, self.cash[account]))
        assert outcome.events[: len(expected)] == expected
        self.review_margin_calls(outcome.events[len(expected) :], {account})

    @rule(data=st.data())
    def withdraw(self, data: st.DataObject) -> None:
        account = self.draw_account(data)
        amount = self.draw_amount(data, self.cash.get(account, 0))
        asset = self.draw_asset(data)
        outcome = self.send(Withdraw(account, asset, amount))  # type: ignore[arg-type]
        if type(amount) is not int:
            self.expect_rejected(outcome, ErrorCode.WRONG_TYPE)
            return
        if account not in self.cash:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_ACCOUNT)
            return
        if asset != USDC:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_ASSET)
            return
        if (code := amount_code(amount)) is not None:
            self.expect_rejected(outcome, code)
            return
        assert type(amount) is int
        if amount > self.cash[account]:
            self.expect_rejected(outcome, ErrorCode.INSUFFICIENT_FUNDS)
            return
        equity, initial, _ = self.model_margin(account)
        if equity - amount < initial:
            self.expect_rejected(outcome, ErrorCode.INSUFFICIENT_MARGIN)
            return
        if equity - self.unrealized_gains(account) - amount < initial:
            self.expect_rejected(outcome, ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE)
            return
        assert isinstance(outcome, Accepted), outcome
        self.cash[account] -= amount
        self.withdrawals += amount
        assert outcome.events == [Withdrawn(account, USDC, amount, self.cash[account])]
        assert not self.margin_call[account]
        event("withdrawn")

    @rule(data=st.data())
    def transfer(self, data: st.DataObject) -> None:
        source = self.draw_account(data)
        destination = self.draw_account(data, known_bias=3)
        amount = self.draw_amount(data, self.cash.get(source, 0))
        asset = self.draw_asset(data)
        outcome = self.send(Transfer(source, destination, asset, amount))  # type: ignore[arg-type]
        code: ErrorCode | None = None
        if type(amount) is not int:
            code = ErrorCode.WRONG_TYPE
        elif source not in self.cash or destination not in self.cash:
            code = ErrorCode.UNKNOWN_ACCOUNT
        elif source == destination:
            code = ErrorCode.SAME_ACCOUNT
        elif asset != USDC:
            code = ErrorCode.UNKNOWN_ASSET
        elif (code := amount_code(amount)) is not None:
            pass
        elif amount > self.cash[source]:  # type: ignore[operator]
            code = ErrorCode.INSUFFICIENT_FUNDS
        if code is not None:
            self.expect_rejected(outcome, code)
            return
        assert type(amount) is int
        equity, initial, _ = self.model_margin(source)
        if equity - amount < initial:
            self.expect_rejected(outcome, ErrorCode.INSUFFICIENT_MARGIN)
            return
        if equity - self.unrealized_gains(source) - amount < initial:
            self.expect_rejected(outcome, ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE)
            return
        assert isinstance(outcome, Accepted), outcome
        self.cash[source] -= amount
        self.cash[destination] += amount
        assert outcome.events[0] == Transferred(source, destination, USDC, amount)
        self.review_margin_calls(outcome.events[1:], {destination})
        event("transferred")

    # -- orders ----------------------------------------------------------------------

    def draw_instrument(self, data: st.DataObject) -> str:
        return data.draw(
            st.sampled_from([BTC_PERP] * 6 + [BTC_FUTURE] * 2 + [BTC_CALL] * 2 + [ETH_PERP] * 3),
            label="instrument",
        )

    def draw_size(self, data: st.DataObject, account: str, instrument: str) -> int:
        """Mostly small; sometimes up to what the account's equity could carry, to build leverage."""
        view = self.engine.account(account)
        spec = SPECS[instrument]
        lot_value = self.mark_or_default(instrument) // spec.tick_size * tick_value(spec)
        capacity = 1
        if view is not None and view.equity > 0:
            capacity = max(1, view.equity * 10_000 // (lot_value * spec.initial_margin_bps))
        return data.draw(
            st.one_of(
                st.integers(1, 12),
                st.integers(1, 12),
                st.integers(min(max(1, capacity // 2), 100_000), min(capacity + 2, 100_000)),
            ),
            label="size",
        )

    def draw_order(
        self, data: st.DataObject, *, aggressive: bool, order_type: OrderType = OrderType.LIMIT
    ) -> PlaceOrder:
        """A well-formed order a few ticks from the mark (through it if `aggressive`)."""
        account = self.draw_account(data, known_bias=20)
        instrument = self.draw_instrument(data)
        spec = SPECS[instrument]
        qty = self.qty(account, instrument)
        reduce_only = qty != 0 and data.draw(st.integers(0, 5), label="reduce only") == 0
        if reduce_only:
            side = Side.SELL if qty > 0 else Side.BUY
            size = data.draw(st.integers(1, abs(qty) + 1), label="size")
        else:
            side = data.draw(st.sampled_from([Side.BUY, Side.SELL]), label="side")
            size = self.draw_size(data, account, instrument)
        is_buy = side is Side.BUY
        if order_type is OrderType.MARKET:
            price = None
            tif = data.draw(st.sampled_from([TimeInForce.IOC, TimeInForce.FOK]), label="tif")
        else:
            offset = data.draw(
                st.integers(0, 8) if aggressive else st.integers(-8, 2), label="ticks"
            )
            price = max(
                spec.tick_size,
                self.mark_or_default(instrument) + (offset if is_buy else -offset) * spec.tick_size,
            )
            if aggressive or reduce_only:
                tif = data.draw(
                    st.sampled_from([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
                    label="tif",
                )
            else:
                tif = TimeInForce.GTC
        if reduce_only and tif is TimeInForce.GTC:
            tif = TimeInForce.IOC
        post_only = (
            not reduce_only
            and tif is TimeInForce.GTC
            and order_type is OrderType.LIMIT
            and data.draw(st.integers(0, 4), label="post only") == 0
        )
        return PlaceOrder(
            account,
            instrument,
            side,
            size,
            price=price,
            order_type=order_type,
            time_in_force=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            client_order_id=data.draw(st.sampled_from(CLIENT_IDS), label="client order id"),
            self_trade_prevention=data.draw(
                st.sampled_from(list(SelfTradePrevention)), label="stp"
            ),
        )

    @rule(data=st.data())
    def place_passive(self, data: st.DataObject) -> None:
        self.place(self.draw_order(data, aggressive=False))

    @rule(data=st.data())
    def place_aggressive(self, data: st.DataObject) -> None:
        self.place(self.draw_order(data, aggressive=True))

    @rule(data=st.data())
    def place_market(self, data: st.DataObject) -> None:
        self.place(self.draw_order(data, aggressive=True, order_type=OrderType.MARKET))

    @rule(data=st.data())
    def quote(self, data: st.DataObject) -> None:
        """A market maker's two-sided quote around the mark: builds the depth takers meet."""
        account = self.draw_account(data, known_bias=20)
        instrument = self.draw_instrument(data)
        tick = SPECS[instrument].tick_size
        mark = self.mark_or_default(instrument)
        spread = data.draw(st.integers(0, 6), label="half spread")
        for side, price in ((Side.BUY, mark - spread * tick), (Side.SELL, mark + spread * tick)):
            self.place(
                PlaceOrder(
                    account,
                    instrument,
                    side,
                    self.draw_size(data, account, instrument),
                    price=max(tick, price),
                    post_only=data.draw(st.booleans(), label="post only"),
                    client_order_id=data.draw(st.sampled_from(CLIENT_IDS), label="client order id"),
                    self_trade_prevention=data.draw(
                        st.sampled_from(list(SelfTradePrevention)), label="stp"
                    ),
                )
            )

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def take(self, data: st.DataObject) -> None:
        """Trade against a resting order: mostly another account, sometimes its owner (self-trade)."""
        maker = data.draw(
            st.sampled_from(sorted(self.orders.values(), key=lambda o: o.order_id)), label="maker"
        )
        tick = SPECS[maker.instrument].tick_size
        others = [a for a in sorted(self.cash) if a != maker.account]
        if others and data.draw(st.integers(0, 3), label="self trade") > 0:
            account = data.draw(st.sampled_from(others), label="taker")
        else:
            account = maker.account
        is_buy = not maker.is_buy
        through = data.draw(st.integers(0, 3), label="ticks through") * tick
        qty = self.qty(account, maker.instrument)
        reduces = qty < 0 if is_buy else qty > 0
        reduce_only = reduces and data.draw(st.integers(0, 3), label="reduce only") == 0
        if reduce_only:
            size = data.draw(st.integers(1, abs(qty)), label="size")
        else:
            size = data.draw(
                st.one_of(st.integers(1, maker.remaining + 10), st.just(maker.remaining)),
                label="size",
            )
        order_type = data.draw(
            st.sampled_from([OrderType.LIMIT] * 5 + [OrderType.MARKET]), label="type"
        )
        tifs = [TimeInForce.IOC, TimeInForce.FOK]
        if order_type is OrderType.LIMIT and not reduce_only:
            tifs += [TimeInForce.GTC, TimeInForce.GTC]
        self.place(
            PlaceOrder(
                account,
                maker.instrument,
                Side.BUY if is_buy else Side.SELL,
                size,
                price=None
                if order_type is OrderType.MARKET
                else (maker.price + through if is_buy else max(tick, maker.price - through)),
                order_type=order_type,
                time_in_force=data.draw(st.sampled_from(tifs), label="tif"),
                reduce_only=reduce_only,
                client_order_id=data.draw(st.sampled_from(CLIENT_IDS), label="client order id"),
                self_trade_prevention=data.draw(
                    st.sampled_from(list(SelfTradePrevention)), label="stp"
                ),
            )
        )

    @precondition(lambda self: len(self.cash) >= 2)
    @rule(data=st.data())
    def lever_up(self, data: st.DataObject) -> None:
        """Two accounts cross a large block at the mark, each using most of its free margin,
        so the next big index move puts one of them in a margin call."""
        maker, taker = data.draw(st.permutations(sorted(self.cash)), label="accounts")[:2]
        instrument = data.draw(
            st.sampled_from([BTC_PERP, BTC_FUTURE, ETH_PERP]), label="instrument"
        )
        spec = SPECS[instrument]
        mark = self.mark_or_default(instrument)
        lot_margin = ceil_bps(mark // spec.tick_size * tick_value(spec), spec.initial_margin_bps)
        views = [self.engine.account(a) for a in (maker, taker)]
        size = min(max(1, v.available // lot_margin) if v is not None else 1 for v in views)
        size = max(1, size * data.draw(st.integers(50, 100), label="percent of capacity") // 100)
        side = data.draw(st.sampled_from([Side.BUY, Side.SELL]), label="maker side")
        other = Side.SELL if side is Side.BUY else Side.BUY
        self.place(PlaceOrder(maker, instrument, side, size, price=mark))
        self.place(
            PlaceOrder(taker, instrument, other, size, price=mark, time_in_force=TimeInForce.IOC)
        )

    @rule(data=st.data())
    def place_malformed(self, data: st.DataObject) -> None:
        """A good order with one field made wrong (or an option combination refused)."""
        tx = self.draw_order(data, aggressive=data.draw(st.booleans()))
        tick = SPECS[tx.instrument].tick_size
        mark = self.mark_or_default(tx.instrument)
        changes: dict[str, object] = data.draw(
            st.sampled_from(
                [
                    {"account": NOBODY},
                    {"instrument": UNLISTED},
                    {"size": 0},
                    {"size": -3},
                    {"size": SPECS[tx.instrument].order_size_max_lots + 1},
                    {"size": 2.0},
                    {"price": None},
                    {"price": 0},
                    {"price": -tick},
                    {"price": mark + 1},
                    {"price": mark + tick // 2},
                    {"price": price_max_units + tick},
                    {"price": float(mark)},
                    {"order_type": OrderType.MARKET},
                    {
                        "order_type": OrderType.MARKET,
                        "price": None,
                        "time_in_force": TimeInForce.GTC,
                    },
                    {"post_only": True, "time_in_force": TimeInForce.IOC},
                    {"post_only": True, "order_type": OrderType.MARKET, "price": None},
                    {"reduce_only": True, "time_in_force": TimeInForce.GTC},
                    {"reduce_only": True, "time_in_force": TimeInForce.IOC},
                    {"client_order_id": data.draw(st.sampled_from(BAD_CLIENT_IDS))},
                    {"time_in_force": "gtc"},
                    {"side": "buy"},
                    {"self_trade_prevention": "cancel_maker"},
                    {"post_only": 1},
                ]
            ),
            label="fault",
        )
        self.place(msgspec.structs.replace(tx, **changes))

    def predict_place(self, tx: PlaceOrder) -> ErrorCode | None:
        """The rejection code of the checks the model can decide, in the engine's order."""
        if (
            type(tx.side) is not Side
            or type(tx.size) is not int
            or (tx.price is not None and type(tx.price) is not int)
            or type(tx.order_type) is not OrderType
            or type(tx.time_in_force) is not TimeInForce
            or type(tx.post_only) is not bool
            or type(tx.reduce_only) is not bool
            or type(tx.client_order_id) is not str
            or type(tx.self_trade_prevention) is not SelfTradePrevention
        ):
            return ErrorCode.WRONG_TYPE  # every field's exact type is checked first
        if tx.instrument not in SPECS:
            return ErrorCode.UNKNOWN_INSTRUMENT
        if tx.account not in self.cash:
            return ErrorCode.UNKNOWN_ACCOUNT
        spec = SPECS[tx.instrument]
        if (code := size_code(tx.size, spec.order_size_max_lots)) is not None:
            return code
        is_market = tx.order_type is OrderType.MARKET
        if is_market:
            if tx.price is not None:
                return ErrorCode.PRICE_NOT_ALLOWED
        elif tx.price is None:
            return ErrorCode.PRICE_REQUIRED
        elif (code := price_code(tx.price, spec.tick_size)) is not None:
            return code
        tif = tx.time_in_force
        if is_market and tif is TimeInForce.GTC:
            return ErrorCode.INVALID_ORDER_OPTIONS
        if tx.post_only and (is_market or tif is not TimeInForce.GTC):
            return ErrorCode.INVALID_ORDER_OPTIONS
        if tx.reduce_only and tif is TimeInForce.GTC:
            return ErrorCode.INVALID_ORDER_OPTIONS
        if tx.client_order_id and not name_ok(tx.client_order_id, CONFIG.client_order_id_len_max):
            return ErrorCode.CLIENT_ORDER_ID_INVALID
        if tx.instrument in self.halted:
            return ErrorCode.MARKET_HALTED
        own = self.open_orders(tx.account)
        if tx.client_order_id and any(o.client_order_id == tx.client_order_id for o in own):
            return ErrorCode.DUPLICATE_CLIENT_ORDER_ID
        if tif is TimeInForce.GTC and len(own) >= CONFIG.orders_per_account_max:
            return ErrorCode.OPEN_ORDERS_LIMIT
        if tx.instrument not in self.marks:
            return ErrorCode.NO_MARK_PRICE
        if self.margin_call[tx.account] and not tx.reduce_only:
            return ErrorCode.ACCOUNT_BELOW_MAINTENANCE
        qty = self.qty(tx.account, tx.instrument)
        is_buy = tx.side is Side.BUY
        reduces = qty < 0 if is_buy else qty > 0
        if tx.reduce_only and (not reduces or tx.size > abs(qty)):
            return ErrorCode.REDUCE_ONLY_WOULD_INCREASE
        assert tx.price is None or isinstance(tx.price, int)
        if tx.price is not None and self.outside_band(tx.instrument, tx.price):
            return ErrorCode.PRICE_OUTSIDE_BAND
        if (
            tx.post_only
            and tx.price is not None
            and self.crosses_book(tx.instrument, is_buy, tx.price)
        ):
            return ErrorCode.POST_ONLY_WOULD_TAKE
        return None

    def outside_band(self, instrument: str, price: int) -> bool:
        """A limit price further from the mark than the band: a fraction of the mark for
        linear instruments, of the index price for options."""
        spec = SPECS[instrument]
        mark = self.marks[instrument] // spec.tick_size
        if is_linear(instrument):
            allowed = mark * spec.price_band_bps // 10_000
        else:
            allowed = self.index[spec.index] * spec.price_band_bps // 10_000 // spec.tick_size
        return abs(price // spec.tick_size - mark) > allowed

    def limit_price(self, tx: PlaceOrder) -> int:
        spec = SPECS[tx.instrument]
        if tx.price is not None:
            return tx.price
        mark = self.marks[tx.instrument] // spec.tick_size
        band = mark * spec.market_collar_bps // 10_000
        ticks = mark + band if tx.side is Side.BUY else max(1, mark - band)
        return ticks * spec.tick_size

    def place(self, tx: PlaceOrder) -> None:
        predicted = self.predict_place(tx)
        if predicted is None:
            limit = self.limit_price(tx) // SPECS[tx.instrument].tick_size
            order = (tx.side is Side.BUY, limit, tx.size)
            if self.margin_refuses(tx.account, tx.instrument, order, tx.post_only):
                predicted = ErrorCode.INSUFFICIENT_MARGIN
        outcome = self.send(tx)
        if predicted is not None:
            self.expect_rejected(outcome, predicted)
            return
        if isinstance(outcome, Rejected):
            # Only the match itself is left to refuse the order; the reference
            # matching test checks when.
            assert tx.time_in_force is TimeInForce.FOK, outcome
            self.expect_rejected(outcome, ErrorCode.FOK_NOT_FILLABLE)
            return
        self.check_fills(tx, outcome)

    def check_fills(self, tx: PlaceOrder, outcome: Accepted) -> None:
        """Walk the events of an accepted order, moving the model as they say."""
        spec = SPECS[tx.instrument]
        is_buy = tx.side is Side.BUY
        limit = self.limit_price(tx)
        order_id = outcome.seq
        events = outcome.events
        assert events[0] == OrderAccepted(
            order_id,
            tx.account,
            tx.instrument,
            tx.side,
            limit,
            tx.size,
            tx.order_type,
            tx.time_in_force,
            tx.post_only,
            tx.reduce_only,
            tx.client_order_id,
        )
        stp = tx.self_trade_prevention
        remaining = tx.size
        filled = 0
        qty_before = self.qty(tx.account, tx.instrument)
        reviewed = {tx.account}
        index = 1
        done = False
        decremented = False
        """A self-trade decrement was just reported; the taker's reduction must follow."""
        while index < len(events) and not done:
            e = events[index]
            taker_reduced = isinstance(e, OrderReduced) and e.order_id == order_id
            assert taker_reduced == decremented, (
                f"a decrement and the taker's reduction go together: {e!r}"
            )
            decremented = False
            if isinstance(e, TradeExecuted):
                maker = self.orders[e.maker_order_id]
                assert maker.account == e.maker_account != tx.account
                assert (maker.instrument, maker.is_buy) == (tx.instrument, not is_buy)
                assert e.price == maker.price and (e.price <= limit if is_buy else e.price >= limit)
                assert 0 < e.size <= min(maker.remaining, remaining)
                assert (e.instrument, e.taker_side, e.taker_order_id, e.taker_account) == (
                    tx.instrument,
                    tx.side,
                    order_id,
                    tx.account,
                )
                notional = e.price // spec.tick_size * e.size * tick_value(spec)
                assert e.taker_fee == ceil_bps(notional, spec.taker_fee_bps)
                assert e.maker_fee == ceil_bps(notional, spec.maker_fee_bps)
                signed = e.size if is_buy else -e.size
                assert e.taker_realized_pnl == self.model_fill(
                    tx.account, tx.instrument, signed, e.price, e.taker_fee
                )
                assert e.maker_realized_pnl == self.model_fill(
                    maker.account, tx.instrument, -signed, e.price, e.maker_fee
                )
                maker.remaining -= e.size
                remaining -= e.size
                filled += e.size
                assert (e.maker_remaining, e.taker_remaining) == (maker.remaining, remaining)
                if maker.remaining == 0:
                    del self.orders[maker.order_id]
                else:
                    event("partial fill of a maker")
                reviewed.add(maker.account)
                event(f"fill {tx.instrument}")
            elif isinstance(e, (OrderCancelled, OrderReduced)) and e.order_id != order_id:
                # Self-trade prevention on one of the taker's own resting orders.
                maker = self.orders[e.order_id]
                assert maker.account == tx.account and maker.instrument == tx.instrument
                assert maker.is_buy != is_buy and (
                    maker.price <= limit if is_buy else maker.price >= limit
                )
                assert e.reason is CancelReason.SELF_TRADE
                assert stp is not SelfTradePrevention.CANCEL_TAKER
                if isinstance(e, OrderCancelled):
                    assert e.remaining == maker.remaining
                    taken = maker.remaining
                    del self.orders[maker.order_id]
                else:
                    assert stp is SelfTradePrevention.DECREMENT_AND_CANCEL
                    assert 0 < e.remaining < maker.remaining
                    taken = maker.remaining - e.remaining
                    maker.remaining = e.remaining
                if stp is SelfTradePrevention.DECREMENT_AND_CANCEL:
                    assert taken <= remaining
                    remaining -= taken
                    decremented = True
                    event("self-trade decremented")
                else:
                    event(f"self-trade {stp.value}")
            elif isinstance(e, OrderReduced):
                # The taker itself decremented by self-trade prevention.
                assert stp is SelfTradePrevention.DECREMENT_AND_CANCEL
                assert e.reason is CancelReason.SELF_TRADE and e.remaining == remaining
            elif isinstance(e, OrderRested):
                assert e.order_id == order_id and tx.time_in_force is TimeInForce.GTC
                assert (e.price, e.remaining) == (limit, remaining) and remaining > 0
                self.orders[order_id] = ModelOrder(
                    order_id,
                    tx.account,
                    tx.instrument,
                    is_buy,
                    limit,
                    remaining,
                    tx.client_order_id,
                )
                remaining = 0
                done = True
                event("rested after a partial fill" if filled else "rested")
            elif isinstance(e, OrderCancelled):
                assert e.order_id == order_id and e.remaining == remaining > 0
                if e.reason is CancelReason.SELF_TRADE:
                    assert stp in (
                        SelfTradePrevention.CANCEL_TAKER,
                        SelfTradePrevention.CANCEL_BOTH,
                    )
                    event(f"self-trade {stp.value}")
                else:
                    assert e.reason is CancelReason.UNFILLED_IOC
                    assert tx.time_in_force is not TimeInForce.GTC
                remaining = 0
                done = True
            else:
                break
            index += 1
        assert not decremented, "the taker's reduction is missing after a decrement"
        assert remaining == 0, f"{remaining} lots of order {order_id} unaccounted for"
        self.review_margin_calls(events[index:], reviewed)
        if tx.time_in_force is TimeInForce.FOK:
            assert filled == tx.size
        if tx.post_only:
            assert filled == 0
        if tx.reduce_only:
            qty_after = self.qty(tx.account, tx.instrument)
            assert abs(qty_after) <= abs(qty_before) and qty_after * qty_before >= 0
        if filled and filled < tx.size:
            event("partial fill of a taker")

    # -- cancels and amendments --------------------------------------------------------

    def draw_order_id(self, data: st.DataObject) -> int:
        live = sorted(self.orders)
        if live and data.draw(st.integers(0, 4), label="live order") > 0:
            return data.draw(st.sampled_from(live), label="order id")
        return data.draw(st.integers(0, self.engine.seq + 2), label="order id")

    def owner_or_other(self, data: st.DataObject, order_id: int) -> str:
        order = self.orders.get(order_id)
        if order is not None and data.draw(st.integers(0, 5), label="owner") > 0:
            return order.account
        return self.draw_account(data)

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        how = data.draw(
            st.sampled_from(["id", "id", "client", "both", "neither"]), label="cancel by"
        )
        order_id = self.draw_order_id(data)
        account = self.owner_or_other(data, order_id)
        if how == "client":
            named = [o.client_order_id for o in self.open_orders(account) if o.client_order_id]
            client_order_id = data.draw(
                st.sampled_from([*named, *named, "q1", "nope"]), label="client id"
            )
            tx = CancelOrder(account, client_order_id=client_order_id)
        elif how == "both":
            tx = CancelOrder(account, order_id=order_id, client_order_id="q1")
        elif how == "neither":
            tx = CancelOrder(account)
        else:
            tx = CancelOrder(account, order_id=order_id)
        outcome = self.send(tx)
        if account not in self.cash:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_ACCOUNT)
            return
        if tx.order_id and tx.client_order_id:
            self.expect_rejected(outcome, ErrorCode.INVALID_ORDER_OPTIONS)
            return
        own = self.open_orders(account)
        if tx.order_id:
            target = next((o for o in own if o.order_id == tx.order_id), None)
        else:
            target = next(
                (o for o in own if o.client_order_id and o.client_order_id == tx.client_order_id),
                None,
            )
        if target is None:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_ORDER)
            return
        assert isinstance(outcome, Accepted)
        assert outcome.events == [
            OrderCancelled(
                target.order_id,
                account,
                target.instrument,
                target.remaining,
                CancelReason.REQUESTED,
            )
        ]
        del self.orders[target.order_id]
        event(f"cancelled by {how}")

    @rule(data=st.data())
    def cancel_all(self, data: st.DataObject) -> None:
        account = self.draw_account(data)
        instrument = data.draw(st.sampled_from(["", "", *LISTED, UNLISTED]), label="instrument")
        outcome = self.send(CancelAll(account, instrument))
        if account not in self.cash:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_ACCOUNT)
            return
        if instrument == UNLISTED:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_INSTRUMENT)
            return
        assert isinstance(outcome, Accepted)
        targets = self.open_orders(account, instrument)
        assert outcome.events == [
            OrderCancelled(o.order_id, account, o.instrument, o.remaining, CancelReason.CANCEL_ALL)
            for o in targets
        ]
        for order in targets:
            del self.orders[order.order_id]
        event(f"cancel all: {len(targets)} orders")

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        order_id = self.draw_order_id(data)
        account = self.owner_or_other(data, order_id)
        order = self.orders.get(order_id)
        spec = SPECS[order.instrument] if order is not None else SPECS[BTC_PERP]
        tick = spec.tick_size
        base_price = order.price if order is not None else self.mark_or_default(BTC_PERP)
        base_size = order.remaining if order is not None else 5
        price: object = data.draw(
            st.one_of(
                st.none(),
                st.integers(-4, 4).map(lambda k: max(tick, base_price + k * tick)),
                st.sampled_from([0, base_price + 1, float(base_price)]),
            ),
            label="price",
        )
        size: object = data.draw(
            st.one_of(
                st.none(),
                st.integers(max(1, base_size - 3), base_size + 3),
                st.sampled_from([0, -1, spec.order_size_max_lots + 1, 1.5]),
            ),
            label="size",
        )
        outcome = self.send(AmendOrder(account, order_id, price=price, size=size))  # type: ignore[arg-type]
        if type(price) not in (int, type(None)) or type(size) not in (int, type(None)):
            self.expect_rejected(outcome, ErrorCode.WRONG_TYPE)
            return
        if account not in self.cash:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_ACCOUNT)
            return
        if order is None or order.account != account:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_ORDER)
            return
        if size is not None and (code := size_code(size, spec.order_size_max_lots)) is not None:
            self.expect_rejected(outcome, code)
            return
        if price is not None and (code := price_code(price, tick)) is not None:
            self.expect_rejected(outcome, code)
            return
        if order.instrument in self.halted:
            self.expect_rejected(outcome, ErrorCode.MARKET_HALTED)
            return
        new_price = order.price if price is None else price
        new_size = order.remaining if size is None else size
        assert isinstance(new_price, int) and isinstance(new_size, int)
        if new_price != order.price and self.outside_band(order.instrument, new_price):
            self.expect_rejected(outcome, ErrorCode.PRICE_OUTSIDE_BAND)
            return
        if (new_price, new_size) == (order.price, order.remaining):
            self.expect_rejected(outcome, ErrorCode.AMEND_NO_CHANGE)
            return
        keeps_place = new_price == order.price and new_size < order.remaining
        if not keeps_place and self.crosses_book(order.instrument, order.is_buy, new_price):
            self.expect_rejected(outcome, ErrorCode.AMEND_WOULD_TRADE)
            return
        tick = SPECS[order.instrument].tick_size
        amended = (order.is_buy, new_price // tick, new_size)
        if not keeps_place and self.margin_refuses(
            account, order.instrument, amended, post_only=True, leave_out=order_id
        ):
            self.expect_rejected(outcome, ErrorCode.INSUFFICIENT_MARGIN)
            return
        assert isinstance(outcome, Accepted), outcome
        assert outcome.events == [OrderAmended(order_id, new_price, new_size, keeps_place)]
        order.price = new_price
        order.remaining = new_size
        event("amended, place kept" if keeps_place else "amended, to the back")

    # -- market data -------------------------------------------------------------------

    def draw_quote(self, data: st.DataObject, price: int) -> ExpiryQuote:
        """A well-formed quote of the listed expiry for an update at `price`: volatility,
        smile skew and a basis up to its bound (at which a fall of the index leaves it
        beyond the bound of the index then, so that marks bound it again)."""
        return ExpiryQuote(
            DEC26,
            data.draw(st.sampled_from([0, 5_000, 300_000, 600_000, 1_500_000]), label="atm vol"),
            data.draw(st.sampled_from([0, -200_000, 150_000]), label="skew"),
            price
            * data.draw(
                st.one_of(
                    st.integers(-200, 200),
                    st.sampled_from([-BASIS_MAX_BPS, BASIS_MAX_BPS]),
                ),
                label="basis bps",
            )
            // 10_000,
        )

    def draw_bad_quote(self, data: st.DataObject, price: int) -> ExpiryQuote:
        """A quote refused for one field; `price` is the update's (the basis is refused
        when it takes that price to a forward of zero, or beyond the largest price)."""
        good = self.draw_quote(data, price)
        changes: dict[str, object] = data.draw(
            st.sampled_from(
                [
                    {"expiry_ns": MAR27},
                    {"expiry_ns": DEC26 + 1},
                    {"expiry_ns": INT64_MAX + 1},
                    {"atm_vol_ppm": -1},
                    {"atm_vol_ppm": VOL_MAX_PPM + 1},
                    {"skew_ppm": -VOL_MAX_PPM - 1},
                    {"basis": -price},
                    {"basis": price * BASIS_MAX_BPS // 10_000 + 1},
                    {"basis": -(price * BASIS_MAX_BPS // 10_000) - 1},
                    {"basis": price_max_units},
                    {"basis": 1.5},
                ]
            ),
            label="bad quote",
        )
        return msgspec.structs.replace(good, **changes)

    @rule(data=st.data())
    def move_index(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from([*INDICES, *INDICES, *INDICES, "XRP-USD"]), label="index")
        current = self.index.get(index, FIRST_INDEX.get(index, USD))
        move_bps = data.draw(
            st.one_of(
                st.integers(-60, 60),
                st.integers(-900, 900),
                st.sampled_from([-1_200, -700, 700, 1_200]),
                st.sampled_from([-3_000, 3_000]),  # beyond the bound of one update
            ),
            label="move bps",
        )
        price: object = current + current * move_bps // 10_000 + data.draw(st.integers(-USD, USD))
        if data.draw(st.integers(0, 12), label="bad price") == 0:
            price = data.draw(st.sampled_from([0, -1, price_max_units + 1, float(current), True]))
        at = self.now + GAP_NS
        previous = self.observed.get(index, at - GAP_NS)
        observed: object = data.draw(
            st.one_of(
                st.just(at),
                st.just(at),
                st.integers(max(previous + 1, at - CONFIG.oracle_staleness_ns), at),
                st.sampled_from(
                    [
                        at + 1,
                        at - CONFIG.oracle_staleness_ns - 1,
                        previous,
                        previous - 1,
                        float(at),
                    ]
                ),
            ),
            label="observed",
        )
        quoted_at = price if type(price) is int and price > 0 else current
        quotes: list[ExpiryQuote] = []
        if index == "BTC-USD" and data.draw(st.booleans(), label="quote the call"):
            quotes.append(self.draw_quote(data, quoted_at))
        if data.draw(st.integers(0, 8), label="bad quote") == 0:
            if bool(quotes) and data.draw(st.booleans(), label="twice"):
                quotes.append(quotes[0])
            else:
                quotes.append(self.draw_bad_quote(data, quoted_at))
        elif data.draw(st.integers(0, 40), label="too many quotes") == 0:
            quotes = [self.draw_quote(data, quoted_at)] * (CONFIG.marks_per_update_max + 1)
        self.oracle(OracleUpdate(index, price, observed, tuple(quotes)))  # type: ignore[arg-type]

    def predict_oracle(self, tx: OracleUpdate, at: int) -> ErrorCode | None:
        """The rejection code of an update sequenced at `at`, in the documented order."""
        if type(tx.price) is not int or type(tx.observed_ns) is not int:
            return ErrorCode.WRONG_TYPE
        if any(
            type(v) is not int
            for q in tx.expiries
            for v in (q.expiry_ns, q.atm_vol_ppm, q.skew_ppm, q.basis)
        ):
            return ErrorCode.WRONG_TYPE  # the field types of every payload come first
        if tx.index not in INDICES:
            return ErrorCode.UNKNOWN_INDEX
        if tx.price <= 0:
            return ErrorCode.PRICE_NOT_POSITIVE
        if tx.price > price_max_units:
            return ErrorCode.PRICE_TOO_LARGE
        if tx.observed_ns > at:
            return ErrorCode.ORACLE_FROM_FUTURE
        if at - tx.observed_ns > CONFIG.oracle_staleness_ns:
            return ErrorCode.ORACLE_STALE
        if tx.index in self.observed and tx.observed_ns <= self.observed[tx.index]:
            return ErrorCode.ORACLE_OUT_OF_ORDER
        if len(tx.expiries) > CONFIG.marks_per_update_max:
            return ErrorCode.INVALID_VALUE
        seen: set[int] = set()
        for quote in tx.expiries:
            if any(
                abs(v) > INT64_MAX
                for v in (quote.expiry_ns, quote.atm_vol_ppm, quote.skew_ppm, quote.basis)
            ):
                return ErrorCode.WRONG_TYPE
            if quote.expiry_ns not in EXPIRIES[tx.index]:
                return ErrorCode.UNKNOWN_EXPIRY
            if quote.expiry_ns in seen:
                return ErrorCode.DUPLICATE_EXPIRY
            seen.add(quote.expiry_ns)
            if not 0 <= quote.atm_vol_ppm <= VOL_MAX_PPM or abs(quote.skew_ppm) > VOL_MAX_PPM:
                return ErrorCode.VOLATILITY_INVALID
            if (
                abs(quote.basis) * 10_000 > tx.price * BASIS_MAX_BPS
                or tx.price + quote.basis > price_max_units
            ):
                return ErrorCode.BASIS_INVALID
        return None

    def breaker_reference(self, index: str, at: int, price: int) -> int:
        """The oldest price in force within the breaker's window (the one in force at
        its start, then each accepted since) that `price` moved more than the
        threshold from; 0 if none."""
        start = at - CONFIG.circuit_breaker_window_ns
        history = self.history.get(index, [])
        before = [p for t, p in history if t <= start]
        in_force = before[-1:] + [p for t, p in history if t > start]
        for reference in in_force:
            if abs(price - reference) * 10_000 > reference * CONFIG.circuit_breaker_bps:
                return reference
        return 0

    def model_mark(self, spec: Instrument, index_price: int, at: int) -> int | None:
        """The mark (ticks) the documented rules give, None where there is none yet."""
        tick = spec.tick_size
        if spec.kind is Kind.PERPETUAL:
            index_ticks = max(1, (index_price + tick // 2) // tick)
            bid, ask = self.best(spec.id, True), self.best(spec.id, False)
            premium = 0
            if bid is not None and ask is not None:
                cap = index_ticks * CONFIG.perp_premium_cap_bps // 10_000
                premium = min(max((bid // tick + ask // tick) // 2 - index_ticks, -cap), cap)
            return max(1, index_ticks + premium)
        quote = self.quotes.get(spec.expiry_ns)
        bound = index_price * BASIS_MAX_BPS // 10_000
        self.basis[spec.id] = 0 if quote is None else min(max(quote.basis, -bound), bound)
        if quote is not None and self.basis[spec.id] != quote.basis:
            event("standing basis bounded")
        forward = index_price + self.basis[spec.id]
        if spec.kind is Kind.FUTURE:
            return max(1, (forward + tick // 2) // tick)
        if quote is None or quote.atm_vol_ppm == 0:
            return None
        smile = quote.atm_vol_ppm + quote.skew_ppm * (spec.strike - forward) // forward
        vol = max(CONFIG.vol_min_ppm, smile)
        left = max(0, spec.expiry_ns - at)
        greeks = greeks_from_units(forward, spec.strike, vol, left, True)
        self.vol_delta[spec.id] = (vol, round_half_up(greeks.delta.scaleb(6)))
        return max(1, price_ticks(forward, spec.strike, vol, left, True, tick))

    def oracle(self, tx: OracleUpdate) -> None:
        at = self.now + GAP_NS
        predicted = self.predict_oracle(tx, at)
        outcome = self.send(tx)
        if predicted is not None:
            self.expect_rejected(outcome, predicted)
            event(f"oracle refused: {predicted.name}")
            return
        assert isinstance(outcome, Accepted), outcome
        index = tx.index
        self.observed[index] = tx.observed_ns
        expected: list[Event] = [OracleObserved(index, ORACLE, tx.price, tx.observed_ns, 1)]
        accepted = tx.price
        last = self.index.get(index)
        if last is not None:
            bound = last * CONFIG.oracle_move_max_bps // 10_000
            accepted = min(max(tx.price, last - bound), last + bound)
            if accepted != tx.price:
                expected.append(IndexClamped(index, tx.price, accepted))
                event("index clamped")
        reference = self.breaker_reference(index, at, accepted)
        trading = [s.id for s in INSTRUMENTS if s.index == index and s.id not in self.halted]
        if reference and trading:  # the breaker trips where it has something to halt
            expected.append(
                CircuitBreakerTripped(index, reference, accepted, CONFIG.circuit_breaker_window_ns)
            )
            for instrument in trading:
                self.halted[instrument] = HaltReason.CIRCUIT_BREAKER
                expected.append(MarketHalted(instrument, HaltReason.CIRCUIT_BREAKER))
            event("circuit breaker tripped")
        self.history.setdefault(index, []).append((at, accepted))
        self.index[index] = accepted
        expected.append(IndexPriceUpdated(index, accepted))
        for quote in sorted(tx.expiries, key=lambda q: q.expiry_ns):
            if self.quotes.get(quote.expiry_ns) != quote:
                self.quotes[quote.expiry_ns] = quote
                expected.append(
                    ExpiryQuoted(
                        index, quote.expiry_ns, quote.atm_vol_ppm, quote.skew_ppm, quote.basis
                    )
                )
        for spec in INSTRUMENTS:
            if spec.index != index:
                continue
            ticks = self.model_mark(spec, accepted, at)
            if ticks is None:
                continue
            mark = ticks * spec.tick_size
            if self.marks.get(spec.id) != mark:
                expected.append(MarkPriceUpdated(spec.id, mark))
                self.marks[spec.id] = mark
                if spec.id == BTC_CALL:
                    event("call priced")
        assert outcome.events[: len(expected)] == expected
        holders = {
            account
            for (account, instrument), position in self.positions.items()
            if position.qty and SPECS[instrument].index == index
        }
        self.review_margin_calls(outcome.events[len(expected) :], holders)
        event("index moved")

    # -- controls ----------------------------------------------------------------------

    @rule(data=st.data())
    def halt_or_resume(self, data: st.DataObject) -> None:
        """A risk officer halts or resumes an instrument or a whole index (mostly resumes,
        so that what the circuit breaker halts trades again)."""
        resume = data.draw(st.integers(0, 3), label="resume") > 0
        instrument, index = data.draw(
            st.one_of(
                st.sampled_from(LISTED).map(lambda i: (i, "")),
                st.sampled_from(INDICES).map(lambda i: ("", i)),
                st.sampled_from([("", ""), (BTC_PERP, "BTC-USD"), (UNLISTED, ""), ("", "XRP-USD")]),
            ),
            label="target",
        )
        payload = (ResumeMarket if resume else HaltMarket)(instrument, index)
        outcome = self.send(payload)
        if bool(instrument) == bool(index):
            self.expect_rejected(outcome, ErrorCode.HALT_TARGET_INVALID)
            return
        if instrument and instrument not in SPECS:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_INSTRUMENT)
            return
        if index and index not in INDICES:
            self.expect_rejected(outcome, ErrorCode.UNKNOWN_INDEX)
            return
        targets = [instrument] if instrument else [s.id for s in INSTRUMENTS if s.index == index]
        expected: list[Event] = []
        for target in targets:
            if resume and target in self.halted:
                del self.halted[target]
                expected.append(MarketResumed(target))
            elif not resume and target not in self.halted:
                self.halted[target] = HaltReason.RISK_OFFICER
                expected.append(MarketHalted(target, HaltReason.RISK_OFFICER))
        if not expected:
            code = ErrorCode.MARKET_NOT_HALTED if resume else ErrorCode.MARKET_HALTED
            self.expect_rejected(outcome, code)
            return
        assert isinstance(outcome, Accepted), outcome
        assert outcome.events == expected
        event("resumed" if resume else "halted")

    # -- the envelope ------------------------------------------------------------------

    @rule(data=st.data())
    def envelope_fault(self, data: st.DataObject) -> None:
        """Sequencing faults are refused before the chain (nothing moves, not even the head);
        a payload of no transaction type, or a shared timestamp, is an ordinary step."""
        fault = data.draw(
            st.sampled_from(
                [
                    "seq gap",
                    "seq repeat",
                    "time regressed",
                    "same time",
                    "not a payload",
                    "forged",
                    "not the owner",
                ]
            ),
            label="fault",
        )
        if fault == "same time":
            self.expect_rejected(self.send(CancelAll(NOBODY), gap_ns=0), ErrorCode.UNKNOWN_ACCOUNT)
            return
        if fault in ("forged", "not the owner"):
            # Signed by someone else, or the signed bytes altered: refused before any
            # handler looks at the account, however good the payload.
            account = self.draw_account(data)
            payload = Withdraw(account, USDC, 1)
            self.now += 1
            if fault == "forged":
                tx = msgspec.structs.replace(self.sign(payload), payload=Withdraw(account, USDC, 2))
                code = ErrorCode.BAD_SIGNATURE
            else:
                self.venue.now_ns = self.now
                tx = self.venue.sign(payload, by="ana" if owner_of(account) != "ana" else "ben")
                code = ErrorCode.NOT_ACCOUNT_OWNER
            self.step_done = False
            digest = self.engine.digest()
            outcome = self.submit(Sequenced(self.engine.seq + 1, self.now, tx))
            self.expect_rejected(outcome, code)
            assert self.engine.digest() == digest
            self.step_done = True
            event(f"envelope: {fault}")
            return
        if fault == "not a payload":
            outcome = self.send(ExpiryQuote(DEC26), signed=False)
            self.expect_rejected(outcome, ErrorCode.WRONG_TYPE)
            return
        seq = self.engine.seq
        tx = self.sign(CancelAll(NOBODY))
        if fault == "seq gap":
            sequenced = Sequenced(seq + 2, self.now + 1, tx)
            code = ErrorCode.SEQUENCE_OUT_OF_ORDER
        elif fault == "seq repeat":
            sequenced = Sequenced(seq, self.now + 1, tx)
            code = ErrorCode.SEQUENCE_OUT_OF_ORDER
        else:
            sequenced = Sequenced(seq + 1, self.now - 1, tx)
            code = ErrorCode.TIMESTAMP_REGRESSED
        digest = self.engine.digest()
        head = self.engine.chain_head
        outcome = self.submit(sequenced)
        self.expect_rejected(outcome, code)
        assert (self.engine.seq, self.engine.chain_head, self.engine.digest()) == (
            seq,
            head,
            digest,
        )
        self.engine.check_invariants()
        event(f"envelope: {fault}")

    # -- after every step ----------------------------------------------------------------

    @invariant()
    def engine_agrees_with_model(self) -> None:
        engine = self.engine
        assert engine.account_ids() == sorted(self.cash)
        book_orders: dict[int, ModelOrder] = {}
        for market in engine.canonical_state()["markets"]:
            instrument, mark_ticks, long_interest, short_interest, bids, asks = market
            spec = SPECS[instrument]
            assert mark_ticks * spec.tick_size == self.marks.get(instrument, 0)
            quantities = [p.qty for (_, i), p in self.positions.items() if i == instrument]
            assert long_interest == short_interest == sum(q for q in quantities if q > 0)
            for is_buy, side in ((True, bids), (False, asks)):
                # (order id, account, price ticks, remaining, client order id, stp)
                for order_id, account, price, remaining, client_order_id, _ in side:
                    book_orders[order_id] = ModelOrder(
                        order_id,
                        account,
                        instrument,
                        is_buy,
                        price * spec.tick_size,
                        remaining,
                        client_order_id,
                    )
        assert book_orders == self.orders
        for account, cash in self.cash.items():
            view = engine.account(account)
            assert view is not None
            assert view.cash == cash
            assert view.in_margin_call == self.margin_call[account]
            assert view.open_orders == len(self.open_orders(account))
            held = {p.instrument: p.size for p in view.positions if p.size}
            assert held == {
                i: p.qty for (a, i), p in self.positions.items() if a == account and p.qty
            }
            for p in view.positions:
                own = self.open_orders(account, p.instrument)
                assert p.open_buy == sum(o.remaining for o in own if o.is_buy)
                assert p.open_sell == sum(o.remaining for o in own if not o.is_buy)
            equity, initial, maintenance = self.model_margin(account)
            assert (view.equity, view.initial_margin, view.maintenance_margin) == (
                equity,
                initial,
                maintenance,
            ), f"{account}: engine (equity, initial, maintenance) != model"
            assert self.margin_call[account] == (equity < maintenance)
        totals = engine.totals()
        linear_cost = sum(
            p.cost * tick_value(SPECS[i]) for (_, i), p in self.positions.items() if is_linear(i)
        )
        assert totals["deposits"] == self.deposits
        assert totals["withdrawals"] == self.withdrawals
        assert totals["fees"] == self.fees
        assert totals["cash"] == sum(self.cash.values())
        assert totals["linear_cost"] == linear_cost
        assert totals["insurance_fund"] == totals["socialized"] == 0
        assert (
            self.deposits - self.withdrawals
            == totals["cash"] - totals["linear_cost"] + totals["fees"]
        )
        state = engine.canonical_state()
        assert dict(state["index_prices"]) == self.index
        for instrument, halt, basis, vol, delta, *_ in state["market_risk"]:
            reason = self.halted.get(instrument)
            assert halt == (None if reason is None else reason.value), instrument
            if instrument in (BTC_FUTURE, BTC_CALL):
                assert basis == self.basis.get(instrument, 0), instrument
            if instrument == BTC_CALL:
                assert (vol, delta) == self.vol_delta.get(BTC_CALL, (0, 0))
        for instrument in LISTED:
            depth = engine.depth(instrument, 1000)
            assert isinstance(depth, Depth)
            assert depth.mark_price == self.marks.get(instrument, 0)
            for is_buy, levels in ((True, depth.bids), (False, depth.asks)):
                resting = [
                    o
                    for o in self.orders.values()
                    if o.instrument == instrument and o.is_buy == is_buy
                ]
                prices = sorted({o.price for o in resting}, reverse=is_buy)
                assert [(lv.price, lv.size, lv.orders) for lv in levels] == [
                    (
                        price,
                        sum(o.remaining for o in resting if o.price == price),
                        sum(1 for o in resting if o.price == price),
                    )
                    for price in prices
                ]

    def teardown(self) -> None:
        """Replay the log into a fresh engine: every outcome, the digest and the head agree.

        Halfway through, the replica is also snapshotted and restored, and the restored
        engine is fed the rest of the log beside it: the same future from the snapshot.
        """
        if not self.step_done:
            return  # the run already failed inside a step; its error is the report
        replica = Engine(GENESIS)
        restored: Engine | None = None
        halfway = len(self.log) // 2
        for index, ((sequenced, valid), recorded) in enumerate(
            zip(self.log, self.outcomes, strict=True)
        ):
            if index == halfway:
                blob = replica.snapshot()
                restored = Engine.restore(GENESIS, blob)
                assert restored.snapshot() == blob
                assert (restored.digest(), restored.chain_head, restored.seq) == (
                    replica.digest(),
                    replica.chain_head,
                    replica.seq,
                )
            # A replay verifies every signature again, by the same rule set.
            if valid:
                assert verify_transaction(GENESIS.venue_id, sequenced.tx)
            outcome = replica.apply(sequenced, valid)
            assert encode(outcome) == recorded, f"replay diverged at {sequenced!r}"
            if restored is not None:
                assert encode(restored.apply(sequenced, valid)) == recorded, (
                    f"the engine restored from a snapshot diverged at {sequenced!r}"
                )
        for engine in (replica, restored):
            assert engine is not None
            engine.check_invariants()
            assert engine.digest() == self.engine.digest()
            assert engine.chain_head == self.engine.chain_head
            assert engine.seq == self.engine.seq


TestEngineStateMachine = EngineMachine.TestCase
