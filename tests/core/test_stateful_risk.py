"""The risk engine driven by random sequences of market events, checked by its invariants.

A hypothesis `RuleBasedStateMachine` drives one real `Engine` through a `TestVenue`
listing BTC-PERP, the BTC-25DEC26 future, four BTC-25DEC26 options (the 95,000 and
100,000 calls, the 100,000 and 105,000 puts) and ETH-PERP. The run starts six hours
before the future and options expire, so time jumps of minutes to hours take them
through their settlement window to expiry and settlement. Five traders and a market
maker trade; two oracle sources price the indices (their median, with staleness);
every transaction is really signed and verified.

Each run picks its rules first: the circuit breaker on (15 % in five minutes) or off,
the per-key rate limit on (a few messages a second) or off, how often the engine
sweeps its invariants by itself. One update may move an index by up to 50 %
(`oracle_move_max_bps=5000`), so crashes of 20-45 % land whole; funding is hourly.

The rules send deposits (the insurance fund's too), withdrawals, limit and IOC orders
(prices drawn within the instrument's band around the mark, sizes up to where margin
refuses them), the market maker's post-only quotes, cancels and amendments, index
moves (small, large, crashes and rallies, from either source), new volatility, skew
and basis quotes for the expiry, the risk officer's halts and resumes, margin-mode
switches, kill switches (by owners and by the risk officer), market maker protection
(set and reset), time jumps, and keeper passes: `clearhouse.keepers.Keeper` itself,
submitting through this venue's sequencer, settles what has expired, pays funding
that is due and liquidates every account in a margin call, pass after pass until no
account is left in one.

Checked after every step:

- `engine.check_invariants()` (the full sweep) passes;
- collateral is conserved by `engine.totals()`: cash - linear cost + fees + pending
  withdrawals = deposits - withdrawals;
- a rejected transaction left `engine.digest()` as it was;
- an accepted Liquidate leaves its account out of a margin call (its positions
  close until equity covers maintenance, or all of them, and a flat account's
  deficit is covered), and a keeper's passes end with no account in a margin call;
  a SettleExpiry is never refused for want of a settlement price (an index price is
  in force from the first step) and a due FundingTick never as not due;
- the socialized loss total never decreases; the insurance fund's cash never goes
  below zero, nor its equity outside a margin call (which the keeper's passes end);
- a withdrawal is accepted exactly when the account's `available` (cash, and equity
  less every position's unrealized gain less initial margin) allows it;
- a settled instrument has no open interest, no order and no holder;
- every few steps the engine is snapshotted and restored: the restored engine has
  the same digest, and the next transaction applied to both gives the same outcome
  bytes and digests.

At the end of each run the recorded log, with each signature verified again, is
replayed into a fresh `Engine(genesis)`: every outcome matches byte for byte, and the
chain head and digest are the same.

The tests after the machine are what it found in the risk engine as first
committed, each minimised to a few transactions.

The machine runs under the active hypothesis profile (tests/conftest.py): "default"
for `make test`, HYPOTHESIS_PROFILE=fuzz for long runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Final

from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from clearhouse.auth.verifier import verify_transaction
from clearhouse.core import (
    Accepted,
    AmendOrder,
    CancelAll,
    CancelOrder,
    CircuitBreakerTripped,
    Deposit,
    Depth,
    Engine,
    EngineConfig,
    ErrorCode,
    Event,
    ExpiryQuote,
    FundingPaid,
    FundingTick,
    Genesis,
    GenesisKey,
    HaltMarket,
    IndexClamped,
    InstrumentSettled,
    KillSwitch,
    Liquidate,
    LiquidationFeeCharged,
    LossSocialized,
    MarginMode,
    MarkView,
    MMPTripped,
    OracleObserved,
    OracleUpdate,
    OrderType,
    Outcome,
    Payload,
    PlaceOrder,
    PositionDeleveraged,
    PositionTakenOver,
    Rejected,
    ResetMMP,
    ResumeMarket,
    Role,
    Sequenced,
    SetMarginMode,
    SetMMP,
    SettleExpiry,
    Side,
    TimeInForce,
    TradeExecuted,
    Transaction,
    Withdraw,
    default_catalogue,
    encode,
    make_genesis,
)
from clearhouse.core.catalogue import expiry_ns
from clearhouse.keepers import Keeper
from clearhouse.testing import (
    CUSTODIAN,
    GOVERNORS,
    KEEPER,
    ORACLE,
    RISK_OFFICER,
    VENUE_ID,
    TestVenue,
    signer_for,
    standard_genesis,
)

USD: Final = 10**6
SECOND: Final = 10**9
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE

EXPIRY: Final = expiry_ns(2026, 12, 25)
START_NS: Final = EXPIRY - 6 * HOUR
"""Six hours before the listed future and options expire."""

BTC_PERP: Final = "BTC-PERP"
BTC_FUTURE: Final = "BTC-25DEC26"
BTC_OPTIONS: Final = (
    "BTC-25DEC26-95000-C",
    "BTC-25DEC26-100000-C",
    "BTC-25DEC26-100000-P",
    "BTC-25DEC26-105000-P",
)
ETH_PERP: Final = "ETH-PERP"
LISTED: Final = (BTC_PERP, BTC_FUTURE, *BTC_OPTIONS, ETH_PERP)
INSTRUMENTS: Final = tuple(spec for spec in default_catalogue() if spec.id in LISTED)
SPECS: Final = {spec.id: spec for spec in INSTRUMENTS}
INDICES: Final = ("BTC-USD", "ETH-USD")
PERPETUAL: Final = {"BTC-USD": BTC_PERP, "ETH-USD": ETH_PERP}

TRADERS: Final = ("ana", "ben", "cy", "dee", "eve")
MAKER: Final = "mm"
ACCOUNTS: Final = (*TRADERS, MAKER)
ORACLE_B: Final = "oracle-b"
SOURCES: Final = (ORACLE, ORACLE_B)
INSURANCE: Final = EngineConfig().insurance_account

FIRST_INDEX: Final = {"BTC-USD": 100_000 * USD, "ETH-USD": 3_500 * USD}
INDEX_FLOOR: Final = {index: price // 5 for index, price in FIRST_INDEX.items()}
"""A move that would take the index below this is turned into a rally: a run stays in
prices where the instruments still mean something."""
INDEX_CEILING: Final = {index: price * 5 for index, price in FIRST_INDEX.items()}
FIRST_QUOTE: Final = ExpiryQuote(EXPIRY, 600_000, -100_000, 50 * USD)

TX_GAP_NS: Final = 50 * 10**6
"""Sequencer time between two transactions of a step."""
SNAPSHOT_EVERY: Final = 7
"""Steps between two snapshot round trips."""
KEEPER_PASSES_MAX: Final = 2 * len(ACCOUNTS) + 2
"""Keeper passes before an account still in a margin call is a finding. Each pass
liquidates every account then in one, and a liquidation can push others in (through
deleveraging or socialized loss), so a cascade takes a few passes, not more."""
LOTS: Final = (1, 1, 2, 3, 5, 10, 20, 50, 100, 250, 600)


@cache
def genesis_for(breaker: bool, rate_limited: bool, sweep_every: int) -> Genesis:
    """`testing.standard_genesis` with a second oracle source, under the chosen rules:
    the circuit breaker on (15 % in five minutes) or off, a per-key rate limit of four
    trading messages a second or none, the full invariant sweep every `sweep_every`
    transactions (0: only when the test asks)."""
    config = EngineConfig(
        oracle_move_max_bps=5_000,
        circuit_breaker_bps=1_500 if breaker else 0,
        rate_limit_messages=4 if rate_limited else 0,
        funding_interval_ns=HOUR,
        invariant_sweep_interval_txs=sweep_every,
    )
    roles = (
        *((governor, Role.GOVERNOR) for governor in GOVERNORS),
        (CUSTODIAN, Role.CUSTODIAN),
        (ORACLE, Role.ORACLE),
        (ORACLE_B, Role.ORACLE),
        (KEEPER, Role.KEEPER),
        (RISK_OFFICER, Role.RISK_OFFICER),
        *((trader, Role.TRADER) for trader in TRADERS),
        (MAKER, Role.MARKET_MAKER),
    )
    keys = tuple(GenesisKey(signer_for(name).public_key(), name, (role,)) for name, role in roles)
    return make_genesis(VENUE_ID, keys, INSTRUMENTS, None, config)


def count_events(events: list[Event]) -> None:
    """What the run reached, for --hypothesis-show-statistics."""
    for e in events:
        if isinstance(e, (PositionTakenOver, PositionDeleveraged, LossSocialized)):
            event(f"liquidation: {type(e).__name__}")
        elif isinstance(e, LiquidationFeeCharged):
            event("liquidation: through the book")
        elif isinstance(e, OracleObserved) and e.fresh_sources > 1:
            event("index from the median of two sources")
        elif isinstance(
            e, (CircuitBreakerTripped, IndexClamped, InstrumentSettled, FundingPaid, MMPTripped)
        ):
            event(type(e).__name__)


class RiskMachine(RuleBasedStateMachine):
    """One engine, its transaction log, and what the checks carry from step to step."""

    def __init__(self) -> None:
        super().__init__()
        self.genesis = genesis_for(False, False, 0)
        self.venue = TestVenue(self.genesis, start_ns=START_NS, step_ns=TX_GAP_NS)
        self.log: list[tuple[Sequenced, bool]] = []
        """Every entry sent to the engine with the verifier's verdict on its signature."""
        self.outcomes: list[bytes] = []
        self.shadow: Engine | None = None
        """An engine restored from a snapshot, waiting for the next transaction."""
        self.steps = 0
        self.socialized = 0
        self.quotes: dict[tuple[str, str], ExpiryQuote] = {}
        """The last expiry quote each (index, source) sent."""
        self.failed_in_step = False

    @property
    def engine(self) -> Engine:
        return self.venue.engine

    # -- sending -----------------------------------------------------------------

    def submit(self, tx: Transaction) -> Outcome:
        """Sequence `tx` at the venue's clock, apply it (and to the restored shadow, if
        one waits), and check what a single transaction must keep."""
        self.failed_in_step = True
        engine = self.engine
        valid = verify_transaction(self.genesis.venue_id, tx)
        sequenced = Sequenced(engine.seq + 1, self.venue.now_ns, tx)
        digest = engine.digest()
        head = engine.chain_head
        note(
            f"seq {sequenced.seq} t+{(sequenced.timestamp_ns - START_NS) // MINUTE}m: {tx.payload!r}"
        )
        outcome = engine.apply(sequenced, valid)
        note(f"  -> {outcome!r}")
        self.log.append((sequenced, valid))
        recorded = encode(outcome)
        self.outcomes.append(recorded)
        assert engine.seq == sequenced.seq and engine.chain_head != head
        if isinstance(outcome, Accepted):
            count_events(outcome.events)
        else:
            event(f"rejected {type(tx.payload).__name__} {outcome.code.name}")
            assert engine.digest() == digest, f"rejection {outcome.code.name} changed the state"
        if self.shadow is not None:
            # The engine restored from the last snapshot takes the same transaction.
            assert encode(self.shadow.apply(sequenced, valid)) == recorded, (
                "an engine restored from a snapshot decided the next transaction differently"
            )
            assert self.shadow.digest() == engine.digest()
            assert self.shadow.chain_head == engine.chain_head
            self.shadow = None
            event("snapshot: next transaction agreed")
        self.failed_in_step = False
        return outcome

    def send(self, payload: Payload, by: str | None = None) -> Outcome:
        self.venue.now_ns += TX_GAP_NS
        return self.submit(self.venue.sign(payload, by))

    def oracle(self, index: str, price: int, quotes: tuple[ExpiryQuote, ...], by: str) -> Outcome:
        self.venue.now_ns += TX_GAP_NS
        at = self.venue.now_ns
        outcome = self.submit(self.venue.sign(OracleUpdate(index, price, at, quotes), by))
        if isinstance(outcome, Accepted):
            for quote in quotes:
                self.quotes[(index, by)] = quote
        return outcome

    # -- reading -----------------------------------------------------------------

    def mark(self, instrument: str) -> int:
        """Mark in ticks (0 until priced)."""
        depth = self.engine.depth(instrument, 1)
        assert isinstance(depth, Depth)
        return depth.mark_price // SPECS[instrument].tick_size

    def index_price(self, index: str) -> int:
        # The perpetual's view: it carries no option greeks to compute.
        view = self.engine.marks(PERPETUAL[index])
        assert isinstance(view, MarkView)
        return view.index_price

    def band_ticks(self, instrument: str, mark: int) -> int:
        """How far from the mark (ticks) a limit price may lie."""
        spec = SPECS[instrument]
        if spec.is_option:
            return self.index_price(spec.index) * spec.price_band_bps // 10_000 // spec.tick_size
        return mark * spec.price_band_bps // 10_000

    def open_orders(self) -> list[tuple[int, str, str]]:
        """(order id, account, instrument) of every resting order, by order id."""
        orders = []
        for instrument, _, _, _, bids, asks in self.engine.canonical_state()["markets"]:
            for order_id, account, *_ in (*bids, *asks):
                orders.append((order_id, account, instrument))
        return sorted(orders)

    # -- set-up --------------------------------------------------------------------

    @initialize(
        breaker=st.booleans(),
        rate_limited=st.sampled_from([False, False, False, True]),
        sweep_every=st.sampled_from([0, 1, 5]),
        vol=st.integers(300_000, 1_200_000),
        deposits=st.lists(
            st.sampled_from([2_000, 10_000, 40_000, 150_000]),
            min_size=len(TRADERS),
            max_size=len(TRADERS),
        ),
        openings=st.lists(
            st.tuples(
                st.sampled_from(TRADERS),
                st.sampled_from(LISTED),
                st.booleans(),
                st.integers(30, 100),
            ),
            max_size=4,
        ),
    )
    def open_venue(
        self,
        breaker: bool,
        rate_limited: bool,
        sweep_every: int,
        vol: int,
        deposits: list[int],
        openings: list[tuple[str, str, bool, int]],
    ) -> None:
        """Choose the rules, price both indices, fund every account, and open a few
        leveraged positions against the market maker (so that most runs have
        something for a shock to put into a margin call)."""
        self.genesis = genesis_for(breaker, rate_limited, sweep_every)
        self.venue = TestVenue(self.genesis, start_ns=START_NS, step_ns=TX_GAP_NS)
        note(f"breaker {breaker}, rate limit {rate_limited}, sweep every {sweep_every}")
        quote = ExpiryQuote(EXPIRY, vol, FIRST_QUOTE.skew_ppm, FIRST_QUOTE.basis)
        assert isinstance(
            self.oracle("BTC-USD", FIRST_INDEX["BTC-USD"], (quote,), ORACLE), Accepted
        )
        assert isinstance(self.oracle("ETH-USD", FIRST_INDEX["ETH-USD"], (), ORACLE), Accepted)
        for trader, amount in zip(TRADERS, deposits, strict=True):
            assert isinstance(self.send(Deposit(trader, "USDC", amount * USD)), Accepted)
        assert isinstance(self.send(Deposit(MAKER, "USDC", 3_000_000 * USD)), Accepted)
        for trader, instrument, buys, use_pct in openings:
            self.cross(trader, MAKER, instrument, buys, use_pct, 0)

    # -- collateral ----------------------------------------------------------------

    @rule(
        account=st.sampled_from((*ACCOUNTS, INSURANCE)),
        amount=st.sampled_from([100, 1_000, 5_000, 50_000]),
    )
    def deposit(self, account: str, amount: int) -> None:
        """The custodian credits a trader, or tops up the insurance fund."""
        assert isinstance(self.send(Deposit(account, "USDC", amount * USD)), Accepted)

    @rule(account=st.sampled_from(TRADERS), amount=st.sampled_from([100, 1_000, 10_000]))
    def withdraw(self, account: str, amount: int) -> None:
        """Accepted exactly when the account's `available` allows it: its cash, and its
        equity less every position's unrealized gain less initial margin."""
        view = self.engine.account(account)
        assert view is not None
        outcome = self.send(Withdraw(account, "USDC", amount * USD))
        assert isinstance(outcome, Accepted) == (amount * USD <= view.available), (
            f"withdrawing {amount * USD} with {view.available} available: {outcome}"
        )
        if (
            isinstance(outcome, Rejected)
            and outcome.code is ErrorCode.UNREALIZED_GAINS_NOT_WITHDRAWABLE
        ):
            event("withdrawal refused: only unrealized gains would cover it")

    # -- trading -------------------------------------------------------------------

    @rule(
        account=st.sampled_from(ACCOUNTS),
        instrument=st.sampled_from(LISTED),
        is_buy=st.booleans(),
        lots=st.sampled_from(LOTS),
        band_pct=st.integers(-95, 95),
        tif=st.sampled_from([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC]),
        market_order=st.integers(0, 9),
        reduce_only=st.integers(0, 5),
    )
    def place(
        self,
        account: str,
        instrument: str,
        is_buy: bool,
        lots: int,
        band_pct: int,
        tif: TimeInForce,
        market_order: int,
        reduce_only: int,
    ) -> None:
        """A limit order priced `band_pct` % of the band from the mark (to the buyer's
        disadvantage when positive, so it crosses resting orders), sometimes reduce-only
        or a market order."""
        spec = SPECS[instrument]
        mark = self.mark(instrument)
        offset = self.band_ticks(instrument, mark) * band_pct // 100
        ticks = max(1, mark + offset if is_buy else mark - offset)
        side = Side.BUY if is_buy else Side.SELL
        order: PlaceOrder
        if market_order == 0:
            order = PlaceOrder(
                account,
                instrument,
                side,
                lots,
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.IOC,
            )
        elif reduce_only == 0:
            order = PlaceOrder(
                account,
                instrument,
                side,
                lots,
                price=ticks * spec.tick_size,
                time_in_force=TimeInForce.IOC,
                reduce_only=True,
            )
        else:
            order = PlaceOrder(
                account, instrument, side, lots, price=ticks * spec.tick_size, time_in_force=tif
            )
        outcome = self.send(order)
        if isinstance(outcome, Accepted):
            event(f"order accepted on {spec.kind.value}")

    @rule(
        taker=st.sampled_from(TRADERS),
        maker=st.sampled_from((MAKER, MAKER, *TRADERS)),
        instrument=st.sampled_from((BTC_PERP, BTC_PERP, BTC_FUTURE, *BTC_OPTIONS, ETH_PERP)),
        taker_buys=st.booleans(),
        use_pct=st.integers(5, 100),
        away_ticks=st.integers(-3, 3),
    )
    def trade(
        self,
        taker: str,
        maker: str,
        instrument: str,
        taker_buys: bool,
        use_pct: int,
        away_ticks: int,
    ) -> None:
        """A trader takes an order the market maker or another trader rests a few ticks
        from the mark (or its own: self-trade prevention)."""
        self.cross(taker, maker, instrument, taker_buys, use_pct, away_ticks)

    @rule(
        taker=st.sampled_from(TRADERS),
        instrument=st.sampled_from(LISTED),
        taker_buys=st.booleans(),
        use_pct=st.integers(50, 100),
    )
    def trade_with_maker(self, taker: str, instrument: str, taker_buys: bool, use_pct: int) -> None:
        """A trader takes most of what its margin allows from the market maker at the mark."""
        self.cross(taker, MAKER, instrument, taker_buys, use_pct, 0)

    def cross(
        self,
        taker: str,
        maker: str,
        instrument: str,
        taker_buys: bool,
        use_pct: int,
        away_ticks: int,
    ) -> None:
        """`maker` rests an order near the mark and `taker` takes it, for about `use_pct` %
        of what the taker's free margin carries: leveraged positions that a crash
        puts into a margin call (or beyond bankruptcy)."""
        spec = SPECS[instrument]
        view = self.engine.account(taker)
        assert view is not None
        index_price = self.index_price(spec.index)
        per_lot_value = index_price * spec.contract_size * spec.lot_size
        per_lot_value //= 10**spec.underlying_decimals
        # Initial margin per lot, about: 10 % of the notional, 15 % for a short option.
        per_lot = max(1, per_lot_value * (15 if spec.is_option else 10) // 100)
        lots = max(1, max(0, view.available) * use_pct // 100 // per_lot)
        ticks = max(1, self.mark(instrument) + away_ticks) * spec.tick_size
        maker_side, taker_side = (Side.SELL, Side.BUY) if taker_buys else (Side.BUY, Side.SELL)
        self.send(PlaceOrder(maker, instrument, maker_side, lots, price=ticks))
        outcome = self.send(
            PlaceOrder(
                taker, instrument, taker_side, lots, price=ticks, time_in_force=TimeInForce.IOC
            )
        )
        if isinstance(outcome, Accepted) and any(
            isinstance(e, TradeExecuted) for e in outcome.events
        ):
            event(f"traded {spec.kind.value}")

    @rule(
        instrument=st.sampled_from(LISTED),
        spread_pct=st.integers(1, 30),
        lots=st.sampled_from([1, 5, 20, 50]),
    )
    def quote(self, instrument: str, spread_pct: int, lots: int) -> None:
        """The market maker rests a post-only bid and offer `spread_pct` % of the band
        either side of the mark."""
        spec = SPECS[instrument]
        mark = self.mark(instrument)
        half = max(1, self.band_ticks(instrument, mark) * spread_pct // 100)
        for side, ticks in ((Side.BUY, mark - half), (Side.SELL, mark + half)):
            self.send(
                PlaceOrder(
                    MAKER,
                    instrument,
                    side,
                    lots,
                    price=max(1, ticks) * spec.tick_size,
                    post_only=True,
                )
            )

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        """Cancel one resting order, amend one, or cancel all of an account's."""
        orders = self.open_orders()
        choice = data.draw(st.integers(0, 3), label="cancel kind")
        if not orders or choice == 0:
            account = data.draw(st.sampled_from(ACCOUNTS), label="account")
            self.send(CancelAll(account))
            return
        order_id, account, _ = data.draw(st.sampled_from(orders), label="order")
        if choice == 1:
            lots = data.draw(st.sampled_from(LOTS), label="lots")
            self.send(AmendOrder(account, order_id, size=lots))
            return
        self.send(CancelOrder(account, order_id))

    # -- market data ---------------------------------------------------------------

    @rule(
        index=st.sampled_from(INDICES),
        move_bps=st.one_of(
            st.integers(-200, 200),
            st.integers(-1_500, 1_500),
            st.integers(-4_500, -2_000),
            st.integers(2_000, 4_500),
            st.just(-7_000),
        ),
        source=st.sampled_from(SOURCES),
    )
    def move_index(self, index: str, move_bps: int, source: str) -> None:
        """One source reports the index moved: small, large, a crash or a rally of
        20-45 %, or a 70 % fall that the move bound clamps."""
        last = self.index_price(index) or FIRST_INDEX[index]
        price = last + last * move_bps // 10_000
        if price < INDEX_FLOOR[index] or price > INDEX_CEILING[index]:
            price = last - last * move_bps // 20_000
        quotes: tuple[ExpiryQuote, ...] = ()
        last_quote = self.quotes.get((index, source))
        if last_quote is not None:
            # Resent with the basis kept within the bound of the new price.
            bound = price // 10
            basis = min(max(last_quote.basis, -bound), bound)
            quotes = (ExpiryQuote(EXPIRY, last_quote.atm_vol_ppm, last_quote.skew_ppm, basis),)
        self.oracle(index, price, quotes, source)
        event(f"index move {'crash' if move_bps <= -2_000 else 'move'}")

    @rule(
        atm_vol=st.integers(50_000, 3_000_000),
        skew=st.integers(-500_000, 500_000),
        basis_bps=st.integers(-1_500, 1_500),
        source=st.sampled_from(SOURCES),
    )
    def quote_expiry(self, atm_vol: int, skew: int, basis_bps: int, source: str) -> None:
        """New volatility, skew and basis for the options' and future's expiry."""
        price = self.index_price("BTC-USD")
        basis = price * basis_bps // 10_000
        self.oracle("BTC-USD", price, (ExpiryQuote(EXPIRY, atm_vol, skew, basis),), source)

    # -- controls ------------------------------------------------------------------

    @rule(
        resume=st.sampled_from([True, True, True, False]),
        where=st.sampled_from([*((i, "") for i in LISTED), *(("", i) for i in INDICES)]),
    )
    def halt_or_resume(self, resume: bool, where: tuple[str, str]) -> None:
        """The risk officer resumes (mostly: what the breaker halted trades again) or halts."""
        instrument, index = where
        payload = (ResumeMarket if resume else HaltMarket)(instrument, index)
        if isinstance(self.send(payload), Accepted):
            event("resumed" if resume else "halted")

    @rule(account=st.sampled_from(ACCOUNTS), portfolio=st.booleans())
    def margin_mode(self, account: str, portfolio: bool) -> None:
        mode = MarginMode.PORTFOLIO if portfolio else MarginMode.STANDARD
        if isinstance(self.send(SetMarginMode(account, mode)), Accepted):
            event(f"margin mode {mode.value}")

    @rule(account=st.sampled_from(ACCOUNTS), engaged=st.booleans(), officer=st.booleans())
    def kill_switch(self, account: str, engaged: bool, officer: bool) -> None:
        outcome = self.send(KillSwitch(account, engaged), by=RISK_OFFICER if officer else None)
        if isinstance(outcome, Accepted):
            event("kill switch set")

    @rule(
        account=st.sampled_from([MAKER, MAKER, *TRADERS]),
        index=st.sampled_from(INDICES),
        window_ns=st.sampled_from([SECOND, MINUTE, HOUR]),
        quantity_max=st.sampled_from([1, 10, 100, 1_000]),
        # Millionths of the underlying: 0.001 BTC or 0.1 ETH, 0.1 BTC or 10 ETH, never.
        delta_max=st.sampled_from([1_000, 100_000, 10**7, 10**12]),
        reset=st.integers(0, 2),
    )
    def mmp(
        self,
        account: str,
        index: str,
        window_ns: int,
        quantity_max: int,
        delta_max: int,
        reset: int,
    ) -> None:
        """Set market maker protection, or reset it (one time in three)."""
        if reset == 0:
            self.send(ResetMMP(account, index))
        else:
            self.send(SetMMP(account, index, window_ns, quantity_max, delta_max))

    # -- time and keepers ----------------------------------------------------------

    @rule(
        jump_ns=st.one_of(
            st.integers(1, 120).map(lambda seconds: seconds * SECOND),
            st.integers(1, 120).map(lambda seconds: seconds * SECOND),
            st.integers(1, 90).map(lambda minutes: minutes * MINUTE),
            st.integers(1, 90).map(lambda minutes: minutes * MINUTE),
            st.integers(1, 4).map(lambda hours: hours * HOUR),
        ),
        to_expiry=st.integers(0, 9),
    )
    def wait(self, jump_ns: int, to_expiry: int) -> None:
        """Time passes with nothing sequenced: seconds, minutes or hours, or (one time
        in ten) to just past the expiry if it is still ahead."""
        before = self.venue.now_ns
        self.venue.now_ns += jump_ns
        if to_expiry == 0:
            self.venue.now_ns = max(self.venue.now_ns, EXPIRY + jump_ns % MINUTE)
        if before < EXPIRY <= self.venue.now_ns:
            event("time passed the expiry")

    @rule()
    def keeper(self) -> None:
        """Keeper passes until no account is in a margin call."""
        self.keeper_passes()

    @rule(
        index=st.sampled_from(INDICES),
        move_bps=st.one_of(st.integers(-4_500, -1_000), st.integers(1_000, 4_500)),
        source=st.sampled_from(SOURCES),
    )
    def shock_then_keeper(self, index: str, move_bps: int, source: str) -> None:
        """The index falls or rises 10-45 % (longs, then shorts, in trouble) and the
        keeper comes straight after."""
        self.move_index(index, move_bps, source)
        self.keeper_passes()

    def keeper_passes(self) -> None:
        keeper = Keeper(
            self.engine,
            self.keeper_submit,
            signer_for(KEEPER),
            self.genesis.venue_id,
            clock=lambda: self.venue.now_ns,
        )
        for _ in range(KEEPER_PASSES_MAX):
            submitted = keeper.poll(self.venue.now_ns)
            for submission in submitted:
                self.check_keeper_outcome(submission.payload, submission.outcome)
            if not self.engine.accounts_in_margin_call():
                return
        raise AssertionError(
            f"still in a margin call after {KEEPER_PASSES_MAX} keeper passes: "
            f"{self.engine.accounts_in_margin_call()}"
        )

    def keeper_submit(self, txs: Sequence[Transaction]) -> list[Outcome]:
        outcomes = []
        for tx in txs:
            self.venue.now_ns += TX_GAP_NS
            outcome = self.submit(tx)
            if isinstance(tx.payload, Liquidate) and isinstance(outcome, Accepted):
                # Right after its own liquidation: later ones in the batch may deleverage it.
                view = self.engine.account(tx.payload.account)
                assert view is not None
                assert not view.in_margin_call, (
                    f"{tx.payload.account} is still in a margin call after an accepted Liquidate: "
                    f"equity {view.equity}, maintenance {view.maintenance_margin}"
                )
            outcomes.append(outcome)
        return outcomes

    def check_keeper_outcome(self, payload: Payload, outcome: Outcome) -> None:
        name = type(payload).__name__
        if isinstance(outcome, Rejected):
            # A later Liquidate of the batch may find its account already out of its margin
            # call (an earlier one deleveraged it, or socialized loss moved it).
            assert isinstance(payload, Liquidate) and outcome.code is ErrorCode.NOT_LIQUIDATABLE, (
                f"keeper's {name} refused: {outcome.code.name} {outcome.message}"
            )
            return
        event(f"keeper {name}")

    # -- after every step ----------------------------------------------------------

    @invariant()
    def engine_keeps_its_invariants(self) -> None:
        engine = self.engine
        self.failed_in_step = True  # if the sweep stops the engine, there is no replay
        engine.check_invariants()
        self.failed_in_step = False
        if engine.accounts_in_margin_call():
            event("an account is in a margin call")
        totals = engine.totals()
        assert (
            totals["cash"] - totals["linear_cost"] + totals["fees"] + totals["pending_withdrawals"]
            == totals["deposits"] - totals["withdrawals"]
        ), f"collateral not conserved: {totals}"
        assert totals["socialized"] >= self.socialized, "socialized loss went down"
        self.socialized = totals["socialized"]
        assert totals["insurance_fund"] >= 0, f"insurance fund cash {totals['insurance_fund']}"
        fund = engine.account(INSURANCE)
        if fund is not None:
            # Never silently negative: below zero, its margin call is open (and the
            # keeper's next pass liquidates it).
            assert fund.equity >= 0 or fund.in_margin_call, f"insurance fund equity {fund.equity}"
            if fund.in_margin_call:
                event("the insurance fund in a margin call")
        state = engine.canonical_state()
        settled = {row[0] for row in state["market_risk"] if row[9]}
        for instrument, _, long_interest, short_interest, bids, asks in state["markets"]:
            if instrument in settled:
                assert (long_interest, short_interest, bids, asks) == (0, 0, [], []), instrument
        for account, _, _, _, positions, _ in state["accounts"]:
            for instrument, qty, *_ in positions:
                assert not (instrument in settled and qty), f"{account} holds settled {instrument}"

    @invariant()
    def snapshot_round_trip(self) -> None:
        """Every few steps: restore a snapshot; it must match now and on the next step."""
        self.steps += 1
        if self.steps % SNAPSHOT_EVERY:
            return
        blob = self.engine.snapshot()
        restored = Engine.restore(self.genesis, blob)
        assert restored.snapshot() == blob
        assert restored.digest() == self.engine.digest()
        assert (restored.chain_head, restored.seq) == (self.engine.chain_head, self.engine.seq)
        restored.check_invariants()
        self.shadow = restored

    def teardown(self) -> None:
        """Replay the log into a fresh engine, every signature verified again: the same
        outcomes, chain head and digest."""
        if self.failed_in_step or not self.log:
            return  # the run failed inside a step: its error is the report
        replica = Engine(self.genesis)
        for (sequenced, valid), recorded in zip(self.log, self.outcomes, strict=True):
            assert verify_transaction(self.genesis.venue_id, sequenced.tx) == valid
            assert encode(replica.apply(sequenced, valid)) == recorded, (
                f"replay diverged at seq {sequenced.seq}"
            )
        replica.check_invariants()
        event(f"run of {len(self.log) // 50 * 50}+ transactions")
        assert replica.digest() == self.engine.digest()
        assert replica.chain_head == self.engine.chain_head


TestRiskStateMachine = RiskMachine.TestCase


# -- what the machine found, minimised ------------------------------------------------------
#
# Each of these failed on the risk engine as first committed (0f7f1b6), found by the
# machine above, and passes since the fixes that followed.


def test_mmp_on_a_large_eth_fill_keeps_the_engine_running() -> None:
    """A market maker with MMP on ETH-USD sells 1,000 lots (10 ETH, 35,000 USD) of
    ETH-PERP: the taker's order fills and the engine carries on. (Delta once counted
    in wei: -10**19 did not fit the 64-bit MMPTripped event, and the engine stopped.)"""
    specs = tuple(spec for spec in default_catalogue() if spec.id == ETH_PERP)
    venue = TestVenue(standard_genesis(("taker",), specs, market_makers=(MAKER,)))
    assert isinstance(venue.oracle("ETH-USD", 3_500 * USD), Accepted)
    for account in (MAKER, "taker"):
        assert isinstance(venue.apply(Deposit(account, "USDC", 100_000 * USD)), Accepted)
    assert isinstance(venue.apply(SetMMP(MAKER, "ETH-USD", MINUTE, 10**6, 10**6)), Accepted)
    offer = PlaceOrder(MAKER, ETH_PERP, Side.SELL, 1_000, price=3_500 * USD)
    assert isinstance(venue.apply(offer), Accepted)
    bid = PlaceOrder(
        "taker", ETH_PERP, Side.BUY, 1_000, price=3_500 * USD, time_in_force=TimeInForce.IOC
    )
    outcome = venue.apply(bid)
    assert isinstance(outcome, Accepted)
    assert any(isinstance(e, TradeExecuted) for e in outcome.events)
    assert any(isinstance(e, MMPTripped) for e in outcome.events)
    venue.engine.check_invariants()
    restored = Engine.restore(venue.genesis, venue.engine.snapshot())
    assert restored.digest() == venue.engine.digest()


def assert_fund_solvent(venue: TestVenue) -> None:
    """The insurance fund's cash is not below zero, and the engine's own sweep agrees."""
    totals = venue.engine.totals()
    assert totals["insurance_fund"] >= 0, totals
    venue.engine.check_invariants()


def test_liquidating_long_options_leaves_the_insurance_fund_solvent() -> None:
    """A portfolio-margined trader, long 6 puts and 156 BTC-PERP lots on 2,000 USD, is
    liquidated after a 10 % fall with an empty book and an empty fund. (The fund once
    took the puts over as well, paying their 600 USD premium from no cash.)"""
    put = "BTC-25DEC26-100000-P"
    specs = tuple(spec for spec in default_catalogue() if spec.id in (BTC_PERP, put))
    genesis = standard_genesis(("ana",), specs, market_makers=(MAKER,))
    venue = TestVenue(genesis, start_ns=START_NS)
    quote = (ExpiryQuote(EXPIRY, 300_000, 0, 0),)
    assert isinstance(venue.oracle("BTC-USD", 100_000 * USD, quote), Accepted)
    assert isinstance(venue.apply(Deposit(MAKER, "USDC", 1_000_000 * USD)), Accepted)
    assert isinstance(venue.apply(Deposit("ana", "USDC", 2_000 * USD)), Accepted)
    assert isinstance(venue.apply(SetMarginMode("ana", MarginMode.PORTFOLIO)), Accepted)
    for instrument, lots, price in ((put, 6, 315 * USD), (BTC_PERP, 156, 100_000 * USD)):
        offer = PlaceOrder(MAKER, instrument, Side.SELL, lots, price=price)
        assert isinstance(venue.apply(offer), Accepted)
        take = PlaceOrder(
            "ana", instrument, Side.BUY, lots, price=price, time_in_force=TimeInForce.IOC
        )
        assert isinstance(venue.apply(take), Accepted)
    assert isinstance(venue.oracle("BTC-USD", 90_000 * USD, quote), Accepted)
    outcome = venue.apply(Liquidate("ana"))
    assert isinstance(outcome, Accepted)
    view = venue.engine.account("ana")
    assert view is not None and not view.in_margin_call
    assert_fund_solvent(venue)


def test_the_insurance_fund_paying_funding_stays_solvent() -> None:
    """The fund takes over a long perpetual at its bankruptcy price (its cash untouched),
    then the perpetual trades at a premium for an hour and longs pay funding. (The fund
    once paid it from no cash and was left at -129 USD.)"""
    config = EngineConfig(rate_limit_messages=0, funding_interval_ns=HOUR)
    specs = tuple(spec for spec in default_catalogue() if spec.id == BTC_PERP)
    venue = TestVenue(standard_genesis(("ana",), specs, config, market_makers=(MAKER,)))
    assert isinstance(venue.oracle("BTC-USD", 100_000 * USD), Accepted)
    assert isinstance(venue.apply(Deposit(MAKER, "USDC", 1_000_000 * USD)), Accepted)
    assert isinstance(venue.apply(Deposit("ana", "USDC", 2_000 * USD)), Accepted)
    offer = PlaceOrder(MAKER, BTC_PERP, Side.SELL, 190, price=100_000 * USD)
    assert isinstance(venue.apply(offer), Accepted)
    take = PlaceOrder(
        "ana", BTC_PERP, Side.BUY, 190, price=100_000 * USD, time_in_force=TimeInForce.IOC
    )
    assert isinstance(venue.apply(take), Accepted)
    assert isinstance(venue.oracle("BTC-USD", 90_000 * USD), Accepted)
    outcome = venue.apply(Liquidate("ana"))
    assert isinstance(outcome, Accepted)
    assert [e.size for e in outcome.events if isinstance(e, PositionTakenOver)] == [190]
    # A bid and an offer above the index: the perpetual marks at a premium.
    for side, price in ((Side.BUY, 90_500), (Side.SELL, 91_000)):
        quote = PlaceOrder(MAKER, BTC_PERP, side, 1, price=price * USD)
        assert isinstance(venue.apply(quote), Accepted)
    assert isinstance(venue.oracle("BTC-USD", 90_000 * USD), Accepted)
    funding = venue.apply(FundingTick(BTC_PERP), at_ns=venue.now_ns + HOUR)
    assert isinstance(funding, Accepted)
    paid = [e for e in funding.events if isinstance(e, FundingPaid)]
    assert paid and paid[0].rate_ppm > 0  # longs paid: the fund among them
    assert_fund_solvent(venue)


def test_the_insurance_fund_settling_at_a_loss_stays_solvent() -> None:
    """The fund takes over a trader's 4 short 105,000 puts after a 20 % fall (receiving
    their premium, 2,200 USD), the index halves again before expiry, and the puts settle
    2,600 USD in the money. (The fund was once left flat at -400 USD, a state the
    invariant sweep forbids: the engine stopped.)"""
    put = "BTC-25DEC26-105000-P"
    specs = tuple(spec for spec in default_catalogue() if spec.id == put)
    config = EngineConfig(rate_limit_messages=0, oracle_move_max_bps=5_000)
    genesis = standard_genesis(("ana",), specs, config, market_makers=(MAKER,))
    venue = TestVenue(genesis, start_ns=START_NS)
    quote = (ExpiryQuote(EXPIRY, 300_000, 0, 0),)
    assert isinstance(venue.oracle("BTC-USD", 100_000 * USD, quote), Accepted)
    assert isinstance(venue.apply(Deposit(MAKER, "USDC", 1_000_000 * USD)), Accepted)
    assert isinstance(venue.apply(Deposit("ana", "USDC", 2_000 * USD)), Accepted)
    bid = PlaceOrder(MAKER, put, Side.BUY, 4, price=5_000 * USD)
    assert isinstance(venue.apply(bid), Accepted)
    sell = PlaceOrder("ana", put, Side.SELL, 4, price=5_000 * USD, time_in_force=TimeInForce.IOC)
    assert isinstance(venue.apply(sell), Accepted)
    assert isinstance(venue.oracle("BTC-USD", 80_000 * USD, quote), Accepted)
    outcome = venue.apply(Liquidate("ana"))
    assert isinstance(outcome, Accepted)
    taken = [(e.instrument, e.size) for e in outcome.events if isinstance(e, PositionTakenOver)]
    assert taken == [(put, -4)]
    assert isinstance(venue.oracle("BTC-USD", 40_000 * USD, quote), Accepted)
    assert isinstance(venue.apply(SettleExpiry(put), at_ns=EXPIRY), Accepted)
    assert_fund_solvent(venue)
