"""`clearhouse bench margin`: portfolio re-margining after one oracle update.

A venue with 200 options on one index (four expiries, 25 strikes, calls and puts)
and its perpetual. Every account is in portfolio mode and holds three option
positions, built through real transactions applied by `Engine.apply` (deposits,
SetMarginMode, then pairs of accounts crossing: one rests a limit order at the
mark, the other takes it), keyed by one trading owner whose sub-accounts they are,
with the signature verdict given as valid (signatures are measured by `bench
verify`). Then ONE OracleUpdate moves the index by 2 % and is timed: it re-marks
the 200 options, recomputes their risk arrays, every account's risk vector, and
reviews every account's margin call.

`risk_array_seconds` is the cost of the arrays alone, timed apart on the state
after the update by computing the index's arrays again (a pure function: the
state is not changed). The full invariant sweep runs after the update, untimed: it
recomputes every account's vector and compares.
"""

from __future__ import annotations

import random
import time
from typing import Any

from clearhouse import CORE_BUILD
from clearhouse.bench.workload import GC_NOTE, frozen_heap
from clearhouse.core import (
    Accepted,
    Deposit,
    Engine,
    EngineConfig,
    ExpiryQuote,
    Genesis,
    Instrument,
    Kind,
    MarginCallStarted,
    MarginMode,
    OptionType,
    OracleUpdate,
    Payload,
    PlaceOrder,
    Sequenced,
    SetMarginMode,
    Side,
    TimeInForce,
    Transaction,
)
from clearhouse.core.catalogue import USDC, USDC_DECIMALS, expiry_code, expiry_ns
from clearhouse.core.risk_arrays import OptionValues, risk_array
from clearhouse.testing import CUSTODIAN, ORACLE, signer_for, standard_genesis

INDEX = "BTC-USD"
OWNER = "fund"
USD = 10**USDC_DECIMALS
INDEX_PRICE = 100_000 * USD
MOVE_BPS = 200
"""The timed update moves the index by this much."""
START_NS = expiry_ns(2026, 9, 1, 0)
EXPIRIES = ((2026, 9, 25), (2026, 10, 30), (2026, 11, 27), (2026, 12, 25))
STRIKES = tuple(70_000 + 2_500 * i for i in range(25))
LEGS = 3
"""Option positions per account."""
DEPOSIT = 1_000_000 * USD
STEP_NS = 1_000


def bench_instruments() -> tuple[Instrument, ...]:
    """BTC-PERP and 200 BTC options (4 expiries x 25 strikes x call/put)."""
    common: dict[str, Any] = dict(
        index=INDEX,
        settlement_asset=USDC,
        settlement_decimals=USDC_DECIMALS,
        underlying_decimals=8,
        lot_size=1,
    )
    specs = [
        Instrument(
            id="BTC-PERP",
            kind=Kind.PERPETUAL,
            tick_size=500_000,
            contract_size=100_000,
            **common,
        )
    ]
    for year, month, day in EXPIRIES:
        for strike in STRIKES:
            for option_type in (OptionType.CALL, OptionType.PUT):
                letter = "C" if option_type is OptionType.CALL else "P"
                specs.append(
                    Instrument(
                        id=f"BTC-{expiry_code(year, month, day)}-{strike}-{letter}",
                        kind=Kind.OPTION,
                        tick_size=5_000_000,
                        contract_size=1_000_000,
                        expiry_ns=expiry_ns(year, month, day),
                        strike=strike * USD,
                        option_type=option_type,
                        taker_fee_bps=3,
                        **common,
                    )
                )
    return tuple(specs)


class _Sequencer:
    """Sequenced, unsigned transactions from real keys with their nonces."""

    def __init__(self, engine: Engine, names: tuple[str, ...]) -> None:
        self.engine = engine
        self.keys = {name: signer_for(name).public_key() for name in names}
        self.nonces = dict.fromkeys(names, 0)
        self.seq = 0
        self.now = START_NS

    def apply(self, payload: Payload, signer: str) -> Accepted:
        self.seq += 1
        self.now += STEP_NS
        self.nonces[signer] += 1
        tx = Transaction(payload, self.keys[signer], self.nonces[signer], self.now + 10**9)
        outcome = self.engine.apply(Sequenced(self.seq, self.now, tx), True)
        if type(outcome) is not Accepted:
            raise RuntimeError(f"set-up transaction refused: {outcome}")
        return outcome


def _quotes(index_price: int) -> tuple[ExpiryQuote, ...]:
    return tuple(
        ExpiryQuote(expiry_ns(*e), 550_000 + 20_000 * i, -150_000, 50 * USD * (i + 1))
        for i, e in enumerate(EXPIRIES)
    )


def build(accounts: int, seed: int) -> tuple[Genesis, Engine, _Sequencer]:
    """The venue with `accounts` portfolio accounts holding options (even count)."""
    genesis = standard_genesis(
        (OWNER,),
        bench_instruments(),
        EngineConfig(rate_limit_messages=0, invariant_sweep_interval_txs=0),
    )
    engine = Engine(genesis)
    sequencer = _Sequencer(engine, (OWNER, CUSTODIAN, ORACLE))
    sequencer.apply(
        OracleUpdate(INDEX, INDEX_PRICE, sequencer.now + STEP_NS, _quotes(INDEX_PRICE)), ORACLE
    )
    options = [spec for spec in genesis.instruments if spec.kind is Kind.OPTION]
    rng = random.Random(seed)
    names = [f"{OWNER}:{i:06d}" for i in range(accounts)]
    for name in names:
        sequencer.apply(Deposit(name, USDC, DEPOSIT), CUSTODIAN)
        sequencer.apply(SetMarginMode(name, MarginMode.PORTFOLIO), OWNER)
    view = engine.depth
    for maker, taker in zip(names[::2], names[1::2], strict=True):
        for spec in rng.sample(options, LEGS):
            depth = view(spec.id, 1)
            price = depth.mark_price  # type: ignore[union-attr]
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            size = rng.randint(1, 5)
            sequencer.apply(PlaceOrder(maker, spec.id, side, size, price=price), OWNER)
            sequencer.apply(
                PlaceOrder(
                    taker,
                    spec.id,
                    Side.SELL if side is Side.BUY else Side.BUY,
                    size,
                    price=price,
                    time_in_force=TimeInForce.IOC,
                ),
                OWNER,
            )
    return genesis, engine, sequencer


def run_margin_bench(accounts: int = 100_000, seed: int = 7) -> dict[str, Any]:
    accounts += accounts % 2
    clock = time.perf_counter
    started = clock()
    _, engine, sequencer = build(accounts, seed)
    build_seconds = clock() - started
    state = engine._state  # the bench reads the statistics the engine keeps beside its state
    portfolio = state.portfolio_margin
    moved = INDEX_PRICE + INDEX_PRICE * MOVE_BPS // 10_000
    sequencer.seq += 1
    sequencer.now += STEP_NS
    sequencer.nonces[ORACLE] += 1
    update = Sequenced(
        sequencer.seq,
        sequencer.now,
        Transaction(
            OracleUpdate(INDEX, moved, sequencer.now, _quotes(moved)),
            sequencer.keys[ORACLE],
            sequencer.nonces[ORACLE],
            sequencer.now + 10**9,
        ),
    )
    vectors_before = portfolio.vectors_recomputed
    arrays_before = portfolio.arrays_computed
    with frozen_heap():
        t0 = clock()
        outcome = engine.apply(update, True)
        seconds = clock() - t0
    if type(outcome) is not Accepted:
        raise RuntimeError(f"the timed oracle update was refused: {outcome}")
    remargined = portfolio.vectors_recomputed - vectors_before
    oracle = state.oracles[INDEX]
    markets = state.index_markets[INDEX]
    t0 = clock()
    values: OptionValues = {}
    for market in markets:
        risk_array(
            market,
            oracle.price,
            oracle.updated_ns,
            portfolio.scenario_list,
            portfolio.params,
            values,
        )
    risk_array_seconds = clock() - t0
    t0 = clock()
    engine.check_invariants()  # vectors included: each equals a fresh recomputation
    final_sweep_seconds = clock() - t0
    options = sum(1 for market in markets if not market.is_linear)
    # Below 100,000 accounts the figure for 100,000 is extrapolated: the arrays are a
    # fixed cost, the rest grows with the accounts.
    per_account = max(0.0, seconds - risk_array_seconds) / max(1, remargined)
    seconds_100k = seconds if remargined == 100_000 else risk_array_seconds + per_account * 100_000
    return {
        "benchmark": "margin",
        "accounts": remargined,
        "instruments": options,
        "scenarios": portfolio.count,
        "positions_per_account": LEGS,
        "seconds_100k": round(seconds_100k, 4),
        "seconds_100k_extrapolated": remargined != 100_000,
        "accounts_per_s": round(remargined / seconds),
        "update_seconds": round(seconds, 4),
        "risk_array_seconds": round(risk_array_seconds, 4),
        "arrays_computed": portfolio.arrays_computed - arrays_before,
        "margin_calls": sum(1 for e in outcome.events if type(e) is MarginCallStarted),
        "final_sweep_seconds": round(final_sweep_seconds, 2),
        "build_seconds": round(build_seconds, 1),
        "set_up": "real transactions through Engine.apply (signature verdict given)",
        "build": CORE_BUILD,
        "gc": GC_NOTE,
        "seed": seed,
        "digest": engine.digest().hex(),
    }
