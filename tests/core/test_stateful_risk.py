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
  below zero;
- a settled instrument has no open interest, no order and no holder;
- every few steps the engine is snapshotted and restored: the restored engine has
  the same digest, and the next transaction applied to both gives the same outcome
  bytes and digests.

At the end of each run the recorded log, with each signature verified again, is
replayed into a fresh `Engine(genesis)`: every outcome matches byte for byte, and the
chain head and digest are the same.

`make test` runs the "default" hypothesis profile (tests/conftest.py), scaled down
here to keep the test to about half a minute; HYPOTHESIS_PROFILE=fuzz runs it at a
third of the fuzz profile's examples and its full step count.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Final

from hypothesis import event, note, settings
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
    ExpiryQuote,
    FundingPaid,
    FundingTick,
    Genesis,
    GenesisKey,
    HaltMarket,
    InstrumentSettled,
    KillSwitch,
    Liquidate,
    LiquidationFeeCharged,
    LossSocialized,
    MarginMode,
    MarkView,
    MMPTripped,
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
EXPIRIES: Final = {"BTC-USD": (EXPIRY,), "ETH-USD": ()}

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
"""Keeper passes before an account still in a margin call is a finding: a
liquidation can push a counterparty in (deleveraging, socialized loss), never back."""
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


class RiskMachine(RuleBasedStateMachine):
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
        if isinstance(outcome, Rejected):
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
        for quote in quotes:
            self.quotes[(index, by)] = quote
        if isinstance(outcome, Accepted):
            for e in outcome.events:
                if isinstance(e, CircuitBreakerTripped):
                    event("circuit breaker tripped")
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

    def settled(self) -> list[str]:
        return [row[0] for row in self.engine.canonical_state()["market_risk"] if row[9]]

    # -- set-up --------------------------------------------------------------------

    @initialize(
        breaker=st.booleans(),
        rate_limited=st.sampled_from([False, False, True]),
        sweep_every=st.sampled_from([0, 1, 5]),
        vol=st.integers(300_000, 1_200_000),
        deposits=st.lists(
            st.sampled_from([2_000, 10_000, 40_000, 150_000]),
            min_size=len(TRADERS),
            max_size=len(TRADERS),
        ),
    )
    def open_venue(
        self, breaker: bool, rate_limited: bool, sweep_every: int, vol: int, deposits: list[int]
    ) -> None:
        """Choose the rules, price both indices and fund every account."""
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
        self.send(Withdraw(account, "USDC", amount * USD))

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
        delta_max=st.sampled_from([10**5, 10**6, 10**8, 10**18]),
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
            st.integers(1, 120).map(lambda s: s * SECOND),
            st.integers(1, 90).map(lambda m: m * MINUTE),
            st.integers(1, 4).map(lambda h: h * HOUR),
        )
    )
    def wait(self, jump_ns: int) -> None:
        """Time passes with nothing sequenced."""
        before = self.venue.now_ns
        self.venue.now_ns += jump_ns
        if before < EXPIRY <= self.venue.now_ns:
            event("time passed the expiry")

    @rule(after_ns=st.sampled_from([0, SECOND, 10 * MINUTE]))
    def wait_for_expiry(self, after_ns: int) -> None:
        """Time runs to just past the expiry (if it is not there yet)."""
        self.venue.now_ns = max(self.venue.now_ns, EXPIRY + after_ns)

    @rule()
    def keeper(self) -> None:
        """Keeper passes until no account is in a margin call."""
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
        assert isinstance(outcome, Accepted)
        event(f"keeper {name}")
        for e in outcome.events:
            if isinstance(e, (PositionTakenOver, PositionDeleveraged, LossSocialized)):
                event(f"liquidation: {type(e).__name__}")
            elif isinstance(e, LiquidationFeeCharged):
                event("liquidation: through the book")
            elif isinstance(e, (InstrumentSettled, FundingPaid, MMPTripped)):
                event(type(e).__name__)
        if isinstance(payload, (SettleExpiry, FundingTick)):
            return

    # -- after every step ----------------------------------------------------------

    @invariant()
    def engine_keeps_its_invariants(self) -> None:
        engine = self.engine
        engine.check_invariants()
        totals = engine.totals()
        assert (
            totals["cash"] - totals["linear_cost"] + totals["fees"] + totals["pending_withdrawals"]
            == totals["deposits"] - totals["withdrawals"]
        ), f"collateral not conserved: {totals}"
        assert totals["socialized"] >= self.socialized, "socialized loss went down"
        self.socialized = totals["socialized"]
        assert totals["insurance_fund"] >= 0, f"insurance fund cash {totals['insurance_fund']}"
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
        assert replica.digest() == self.engine.digest()
        assert replica.chain_head == self.engine.chain_head


_ACTIVE = settings()
"""The active profile (tests/conftest.py): kept whole but for a third of its examples."""
RiskMachine.TestCase.settings = settings(_ACTIVE, max_examples=max(1, _ACTIVE.max_examples // 3))
TestRiskStateMachine = RiskMachine.TestCase
