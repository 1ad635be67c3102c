"""The oracle: sources and their median, staleness, the move bound, the circuit
breaker, and the marks the accepted inputs give (Black-76 for options)."""

from __future__ import annotations

import msgspec
import pytest

from clearhouse.core import (
    Accepted,
    CancelAll,
    CircuitBreakerTripped,
    Deposit,
    EngineConfig,
    ErrorCode,
    ExpiryQuote,
    ExpiryQuoted,
    GenesisKey,
    HaltMarket,
    HaltReason,
    IndexClamped,
    IndexPriceUpdated,
    MarketHalted,
    MarketResumed,
    MarkPriceUpdated,
    OracleObserved,
    OracleUpdate,
    PlaceOrder,
    Rejected,
    Rejection,
    ResumeMarket,
    Role,
    Side,
    make_genesis,
)
from clearhouse.core.catalogue import expiry_ns
from clearhouse.core.pricing import price_ticks
from clearhouse.testing import TestVenue, signer_for, standard_genesis

USD = 1_000_000
SECOND = 10**9
DEC26 = expiry_ns(2026, 12, 25)
SOURCES = ("oracle", "oracle-b", "oracle-c")


def venue(config: EngineConfig | None = None, traders: tuple[str, ...] = ("alice",)) -> TestVenue:
    """A venue with three oracle sources (three owners) and the surveillance desk."""
    base = standard_genesis(traders, config=config or EngineConfig(rate_limit_messages=0))
    extra = (
        *(GenesisKey(signer_for(name).public_key(), name, (Role.ORACLE,)) for name in SOURCES[1:]),
        GenesisKey(signer_for("surveillance").public_key(), "surveillance", (Role.SURVEILLANCE,)),
    )
    genesis = make_genesis(
        base.venue_id, base.keys + extra, base.instruments, base.governance, base.config
    )
    return TestVenue(genesis, step_ns=SECOND)


def events_of(outcome: object) -> list[object]:
    assert isinstance(outcome, Accepted), outcome
    return list(outcome.events)


def rejected(v: TestVenue, payload: object, code: ErrorCode, by: str = "oracle") -> None:
    before = v.engine.digest()
    outcome = v.apply(payload, by=by)  # type: ignore[arg-type]
    assert isinstance(outcome, Rejected), outcome
    assert outcome.code is code, outcome
    assert v.engine.digest() == before


def index_price(v: TestVenue, index: str = "BTC-USD") -> int:
    prices: dict[str, int] = dict(v.engine.canonical_state()["index_prices"])
    return prices.get(index, 0)


def test_the_index_is_the_median_of_fresh_sources_once_enough_report() -> None:
    v = venue(EngineConfig(rate_limit_messages=0, oracle_sources_min=2))
    first = events_of(v.oracle("BTC-USD", 100_000 * USD))
    assert first == [OracleObserved("BTC-USD", "oracle", 100_000 * USD, v.now_ns, 1)]
    assert index_price(v) == 0  # one source is not enough

    second = events_of(v.oracle("BTC-USD", 101_000 * USD, by="oracle-b"))
    assert IndexPriceUpdated("BTC-USD", 100_500 * USD) in second  # mean of the middle two
    third = events_of(v.oracle("BTC-USD", 130_000 * USD, by="oracle-c"))
    assert (
        IndexPriceUpdated("BTC-USD", 101_000 * USD) in third
    )  # one wild source moves nothing much
    assert index_price(v) == 101_000 * USD


def test_a_stale_source_leaves_the_median() -> None:
    v = venue(EngineConfig(rate_limit_messages=0, oracle_sources_min=2))
    v.oracle("BTC-USD", 100_000 * USD)
    v.oracle("BTC-USD", 102_000 * USD, by="oracle-b")
    # 61 s later "oracle" is stale: only oracle-b and oracle-c are fresh.
    v.now_ns += 61 * SECOND
    events = events_of(v.oracle("BTC-USD", 104_000 * USD, by="oracle-c"))
    observed = events[0]
    assert isinstance(observed, OracleObserved) and observed.fresh_sources == 1
    assert index_price(v) == 101_000 * USD  # one fresh source < 2: the index waits
    events = events_of(v.oracle("BTC-USD", 103_000 * USD, by="oracle-b"))
    assert IndexPriceUpdated("BTC-USD", 103_500 * USD) in events


def test_observations_from_the_future_stale_or_out_of_order_are_refused() -> None:
    v = venue()
    v.oracle("BTC-USD", 100_000 * USD)
    now = v.now_ns + SECOND
    v.now_ns = now - SECOND
    future = OracleUpdate("BTC-USD", 100_000 * USD, now + 1)
    before = v.engine.digest()
    outcome = v.apply(future, at_ns=now)
    assert isinstance(outcome, Rejected) and outcome.code is ErrorCode.ORACLE_FROM_FUTURE
    stale = OracleUpdate("BTC-USD", 100_000 * USD, now - 61 * SECOND)
    outcome = v.apply(stale, at_ns=now)
    assert isinstance(outcome, Rejected) and outcome.code is ErrorCode.ORACLE_STALE
    replayed = OracleUpdate("BTC-USD", 100_000 * USD, now - 2 * SECOND)  # before the last one
    outcome = v.apply(replayed, at_ns=now)
    assert isinstance(outcome, Rejected) and outcome.code is ErrorCode.ORACLE_OUT_OF_ORDER
    assert v.engine.digest() == before
    # Exactly at the staleness bound is still fresh (another source: no order to keep).
    edge = OracleUpdate("BTC-USD", 100_100 * USD, now - 60 * SECOND)
    assert isinstance(v.apply(edge, by="oracle-b", at_ns=now), Accepted)


def test_a_move_beyond_the_bound_is_clamped() -> None:
    v = venue(EngineConfig(rate_limit_messages=0, circuit_breaker_bps=0))
    v.oracle("BTC-USD", 100_000 * USD)
    events = events_of(v.oracle("BTC-USD", 60_000 * USD))
    assert IndexClamped("BTC-USD", 60_000 * USD, 75_000 * USD) in events
    assert index_price(v) == 75_000 * USD
    perp = v.engine.depth("BTC-PERP")
    assert not isinstance(perp, Rejection) and perp.mark_price == 75_000 * USD


def test_the_circuit_breaker_halts_the_index_until_a_risk_officer_resumes() -> None:
    v = venue()
    v.apply(Deposit("alice", "USDC", 1_000_000 * USD))
    v.oracle("BTC-USD", 100_000 * USD)
    v.oracle("ETH-USD", 3_500 * USD)
    order = PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=95_000 * USD)
    assert isinstance(v.apply(order), Accepted)
    assert not any(
        isinstance(e, CircuitBreakerTripped) for e in events_of(v.oracle("BTC-USD", 92_000 * USD))
    )
    # 92k -> 84k is 8.7 %, but 100k -> 84k within five minutes is 16 %: over 15 %.
    events = events_of(v.oracle("BTC-USD", 84_000 * USD))
    assert CircuitBreakerTripped("BTC-USD", 100_000 * USD, 84_000 * USD, 300 * SECOND) in events
    halted = [e.instrument for e in events if isinstance(e, MarketHalted)]
    assert "BTC-PERP" in halted and not any(i.startswith("ETH") for i in halted)
    assert all(
        e.reason is HaltReason.CIRCUIT_BREAKER for e in events if isinstance(e, MarketHalted)
    )
    # The index itself was accepted: marks follow it.
    assert IndexPriceUpdated("BTC-USD", 84_000 * USD) in events

    rejected(
        v,
        PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=84_000 * USD),
        ErrorCode.MARKET_HALTED,
        by="alice",
    )
    assert isinstance(
        v.apply(PlaceOrder("alice", "ETH-PERP", Side.BUY, 1, price=3_500 * USD)), Accepted
    )
    # Cancelling is never halted.
    assert isinstance(v.apply(CancelAll("alice", "BTC-PERP")), Accepted)
    # Only a risk officer resumes: not the oracle, not surveillance, not a trader.
    for who in ("oracle", "surveillance", "alice"):
        rejected(v, ResumeMarket(index="BTC-USD"), ErrorCode.ROLE_FORBIDDEN, by=who)
    resumed = events_of(v.apply(ResumeMarket(index="BTC-USD"), by="risk-officer"))
    assert MarketResumed("BTC-PERP") in resumed
    assert isinstance(
        v.apply(PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=84_000 * USD)), Accepted
    )


def test_a_slow_slide_outside_the_window_does_not_trip() -> None:
    v = venue()
    v.oracle("BTC-USD", 100_000 * USD)
    price = 100_000 * USD
    for step in range(1, 8):
        # 5 % every 200 s: a 300 s window never spans more than two steps (9.75 %).
        v.now_ns += 200 * SECOND
        price = price * 95 // 100
        events = events_of(v.oracle("BTC-USD", price))
        assert not any(isinstance(e, CircuitBreakerTripped) for e in events), step
    assert index_price(v) == price  # 30 % down in all, never halted


def test_halts_by_instrument_or_index_and_who_may_halt() -> None:
    v = venue()
    rejected(v, HaltMarket(), ErrorCode.HALT_TARGET_INVALID, by="risk-officer")
    rejected(
        v,
        HaltMarket(instrument="BTC-PERP", index="BTC-USD"),
        ErrorCode.HALT_TARGET_INVALID,
        by="risk-officer",
    )
    rejected(v, HaltMarket(instrument="NOPE"), ErrorCode.UNKNOWN_INSTRUMENT, by="risk-officer")
    rejected(v, HaltMarket(index="NOPE"), ErrorCode.UNKNOWN_INDEX, by="risk-officer")
    rejected(v, HaltMarket(instrument="BTC-PERP"), ErrorCode.ROLE_FORBIDDEN, by="alice")
    events = events_of(v.apply(HaltMarket(instrument="BTC-PERP"), by="surveillance"))
    assert events == [MarketHalted("BTC-PERP", HaltReason.SURVEILLANCE)]
    rejected(v, HaltMarket(instrument="BTC-PERP"), ErrorCode.MARKET_HALTED, by="risk-officer")
    rejected(v, ResumeMarket(instrument="ETH-PERP"), ErrorCode.MARKET_NOT_HALTED, by="risk-officer")
    assert events_of(v.apply(ResumeMarket(instrument="BTC-PERP"), by="risk-officer")) == [
        MarketResumed("BTC-PERP")
    ]


def test_option_marks_are_black_76_on_the_forward_with_the_smile() -> None:
    v = venue()
    quote = ExpiryQuote(DEC26, atm_vol_ppm=600_000, skew_ppm=-200_000, basis=1_000 * USD)
    events = events_of(v.oracle("BTC-USD", 100_000 * USD, (quote,)))
    marks = {e.instrument: e.price for e in events if isinstance(e, MarkPriceUpdated)}
    forward = 101_000 * USD
    t_ns = DEC26 - v.now_ns
    for strike, kind in ((90_000, "C"), (110_000, "P"), (100_000, "C")):
        strike_units = strike * USD
        vol = 600_000 + (-200_000) * (strike_units - forward) // forward
        expected = price_ticks(forward, strike_units, vol, t_ns, kind == "C", 5 * USD)
        assert marks[f"BTC-25DEC26-{strike}-{kind}"] == expected * 5 * USD
    # The future on that expiry marks at index plus basis; the other expiry has no
    # quote, so its options stay unpriced.
    assert marks["BTC-25DEC26"] == 101_000 * USD
    assert "BTC-26MAR27-100000-C" not in marks
    assert ExpiryQuoted("BTC-USD", DEC26, 600_000, -200_000, 1_000 * USD) in events


def test_expiry_quotes_take_the_median_of_fresh_sources() -> None:
    v = venue()
    for name, vol in zip(SOURCES, (500_000, 900_000, 600_000), strict=True):
        v.oracle("BTC-USD", 100_000 * USD, (ExpiryQuote(DEC26, vol),), by=name)
    state = v.engine.canonical_state()
    oracles = {o[0]: o for o in state["oracles"]}
    accepted = oracles["BTC-USD"][4]
    assert [q["atm_vol_ppm"] for q in accepted] == [600_000]


def test_a_perpetual_marks_at_the_index_plus_the_capped_book_premium() -> None:
    v = venue(traders=("alice", "bob"))
    for who in ("alice", "bob"):
        v.apply(Deposit(who, "USDC", 10_000_000 * USD))
    v.oracle("BTC-USD", 100_000 * USD)
    v.apply(PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=100_200 * USD))
    v.apply(PlaceOrder("bob", "BTC-PERP", Side.SELL, 1, price=100_400 * USD))
    events = events_of(v.oracle("BTC-USD", 100_000 * USD))
    assert MarkPriceUpdated("BTC-PERP", 100_300 * USD) in events  # mid 100,300: +0.3 %
    v.apply(CancelAll("alice"))
    v.apply(CancelAll("bob"))
    v.apply(PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=103_000 * USD))
    v.apply(PlaceOrder("bob", "BTC-PERP", Side.SELL, 1, price=104_000 * USD))
    events = events_of(v.oracle("BTC-USD", 100_000 * USD))
    assert MarkPriceUpdated("BTC-PERP", 101_000 * USD) in events  # capped at +1 %


def test_an_update_reviews_only_holders_on_its_index() -> None:
    v = venue(traders=("alice", "bob", "carol"))
    for who in ("alice", "bob", "carol"):
        v.apply(Deposit(who, "USDC", 20_000 * USD))
    v.oracle("BTC-USD", 100_000 * USD)
    v.oracle("ETH-USD", 3_500 * USD)
    v.apply(PlaceOrder("alice", "ETH-PERP", Side.SELL, 100, price=3_500 * USD))
    v.apply(PlaceOrder("carol", "ETH-PERP", Side.BUY, 100, price=3_500 * USD))
    v.apply(PlaceOrder("bob", "BTC-PERP", Side.SELL, 1_000, price=100_000 * USD))
    v.apply(PlaceOrder("alice", "BTC-PERP", Side.BUY, 1_000, price=100_000 * USD))
    events = events_of(v.oracle("BTC-USD", 120_000 * USD))
    called = [e.account for e in events if type(e).__name__ == "MarginCallStarted"]
    assert called == ["bob"]  # carol holds only ETH: not reviewed, not named
    assert v.engine.account("bob").in_margin_call  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("quote", "code"),
    [
        (ExpiryQuote(DEC26 + 1, 500_000), ErrorCode.UNKNOWN_EXPIRY),
        (ExpiryQuote(DEC26, -1), ErrorCode.VOLATILITY_INVALID),
        (ExpiryQuote(DEC26, 500_000, skew_ppm=10**8), ErrorCode.VOLATILITY_INVALID),
        (ExpiryQuote(DEC26, 500_000, basis=-100_000 * USD), ErrorCode.BASIS_INVALID),
    ],
)
def test_bad_expiry_quotes_are_refused(quote: ExpiryQuote, code: ErrorCode) -> None:
    v = venue()
    v.now_ns += SECOND
    rejected(v, OracleUpdate("BTC-USD", 100_000 * USD, v.now_ns + SECOND, (quote,)), code)


def test_the_oracle_state_survives_a_snapshot() -> None:
    from clearhouse.core import Engine

    v = venue(EngineConfig(rate_limit_messages=0, oracle_sources_min=2))
    v.oracle("BTC-USD", 100_000 * USD, (ExpiryQuote(DEC26, 500_000, 0, 100 * USD),))
    v.oracle("BTC-USD", 100_500 * USD, (ExpiryQuote(DEC26, 520_000),), by="oracle-b")
    restored = Engine.restore(v.genesis, v.engine.snapshot())
    assert restored.digest() == v.engine.digest()
    # The restored engine goes on exactly as the original does.
    nxt = OracleUpdate("BTC-USD", 101_000 * USD, v.now_ns + SECOND)
    tx = v.sign(nxt, "oracle-c")
    from clearhouse.core import Sequenced

    seq = Sequenced(v.engine.seq + 1, v.now_ns + SECOND, tx)
    a = v.engine.apply(seq, True)
    b = restored.apply(seq, True)
    assert msgspec.msgpack.encode(a) == msgspec.msgpack.encode(b)
    assert restored.digest() == v.engine.digest()


def test_the_mark_view_gives_the_greeks_of_the_mark_inputs() -> None:
    from clearhouse.core.pricing import greeks_from_units

    v = venue()
    v.oracle("BTC-USD", 100_000 * USD, (ExpiryQuote(DEC26, 600_000, 0, 500 * USD),))
    view = v.engine.marks("BTC-25DEC26-105000-C")
    assert not isinstance(view, Rejection)
    greeks = greeks_from_units(100_500 * USD, 105_000 * USD, 600_000, DEC26 - v.now_ns, True)
    assert (view.forward, view.vol_ppm) == (100_500 * USD, 600_000)
    assert (view.delta, view.gamma, view.vega, view.theta) == tuple(
        str(x) for x in (greeks.delta, greeks.gamma, greeks.vega, greeks.theta)
    )
    assert 0 < float(view.delta) < 1
    perp = v.engine.marks("BTC-PERP")
    assert not isinstance(perp, Rejection) and perp.delta == "" and perp.mark_price == 100_000 * USD
    assert isinstance(v.engine.marks("NOPE"), Rejection)
