"""Attacks on the risk engine: oracle manipulation, and keys reaching for controls or
lifecycle transactions they do not hold. Each is refused with its own code, or, where
the attack is a valid transaction, bounded by the rule it runs into; a refusal leaves
the digest unchanged."""

from __future__ import annotations

import pytest

from clearhouse.core import (
    Accepted,
    Deposit,
    EngineConfig,
    ErrorCode,
    FundingTick,
    GenesisKey,
    HaltMarket,
    IndexPriceUpdated,
    KillSwitch,
    Liquidate,
    OracleUpdate,
    Payload,
    PlaceOrder,
    Rejected,
    ResumeMarket,
    Role,
    SettleExpiry,
    Side,
    make_genesis,
)
from clearhouse.testing import TestVenue, signer_for, standard_genesis

USD = 1_000_000
SECOND = 10**9


def venue(config: EngineConfig | None = None) -> TestVenue:
    """Two independent oracle owners, and a second key of the first owner."""
    base = standard_genesis(
        ["alice", "bob"], config=config or EngineConfig(rate_limit_messages=0, oracle_sources_min=2)
    )
    extra = (
        GenesisKey(signer_for("oracle-b").public_key(), "oracle-b", (Role.ORACLE,)),
        GenesisKey(signer_for("oracle-spare").public_key(), "oracle", (Role.ORACLE,)),
    )
    genesis = make_genesis(
        base.venue_id, base.keys + extra, base.instruments, base.governance, base.config
    )
    v = TestVenue(genesis, step_ns=SECOND)
    for who in ("alice", "bob"):
        v.apply(Deposit(who, "USDC", 1_000_000 * USD))
    return v


def index_of(v: TestVenue) -> int:
    prices: dict[str, int] = dict(v.engine.canonical_state()["index_prices"])
    return prices.get("BTC-USD", 0)


def refused(v: TestVenue, payload: Payload, by: str, code: ErrorCode) -> None:
    before = v.engine.digest()
    outcome = v.apply(payload, by=by)
    assert isinstance(outcome, Rejected), outcome
    assert outcome.code is code, outcome
    assert v.engine.digest() == before


def test_one_owner_with_two_oracle_keys_is_one_source() -> None:
    """A compromised owner signing with both of its keys still counts once: with a
    quorum of two sources, it alone never moves the index."""
    v = venue()
    v.oracle("BTC-USD", 100_000 * USD)
    events = v.oracle("BTC-USD", 150_000 * USD, by="oracle-spare")
    assert isinstance(events, Accepted)
    assert not any(isinstance(e, IndexPriceUpdated) for e in events.events)
    assert index_of(v) == 0
    v.oracle("BTC-USD", 100_000 * USD, by="oracle-b")
    assert index_of(v) == 125_000 * USD  # the median of two: the owner's latest and oracle-b


def test_a_rogue_source_moves_the_index_at_most_the_bound_per_update() -> None:
    v = venue(EngineConfig(rate_limit_messages=0, circuit_breaker_bps=0))
    v.oracle("BTC-USD", 100_000 * USD)
    expected = 100_000 * USD
    for _ in range(3):
        v.oracle("BTC-USD", 1 * USD)  # a source gone mad, or bought
        expected -= expected * 2_500 // 10_000
        assert index_of(v) == expected  # 25 % at most, each time
    assert expected == 42_187_500_000


def test_with_the_breaker_on_a_rogue_move_halts_trading_before_anyone_trades_on_it() -> None:
    v = venue(EngineConfig(rate_limit_messages=0))
    v.oracle("BTC-USD", 100_000 * USD)
    outcome = v.oracle("BTC-USD", 1 * USD)
    assert isinstance(outcome, Accepted)
    assert index_of(v) == 75_000 * USD
    refused(
        v,
        PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=75_000 * USD),
        "alice",
        ErrorCode.MARKET_HALTED,
    )


def test_a_captured_oracle_update_cannot_be_replayed_later() -> None:
    """The same signed bytes again are a reused nonce; re-signed with an old observation
    time they are stale or out of order."""
    v = venue(EngineConfig(rate_limit_messages=0))
    observed = v.now_ns + SECOND
    tx = v.sign(OracleUpdate("BTC-USD", 100_000 * USD, observed))
    assert isinstance(v.submit(tx, at_ns=observed), Accepted)
    before = v.engine.digest()
    again = v.submit(tx, at_ns=observed + SECOND)
    assert isinstance(again, Rejected) and again.code is ErrorCode.NONCE_REUSED
    late = v.apply(OracleUpdate("BTC-USD", 90_000 * USD, observed), at_ns=observed + 2 * SECOND)
    assert isinstance(late, Rejected) and late.code is ErrorCode.ORACLE_OUT_OF_ORDER
    v.now_ns = observed + 120 * SECOND
    stale = v.apply(OracleUpdate("BTC-USD", 90_000 * USD, observed + SECOND), at_ns=v.now_ns)
    assert isinstance(stale, Rejected) and stale.code is ErrorCode.ORACLE_STALE
    assert v.engine.digest() == before


@pytest.mark.parametrize(
    ("payload", "by"),
    [
        (Liquidate("bob"), "alice"),  # a trader liquidating a rival
        (Liquidate("bob"), "oracle"),
        (SettleExpiry("BTC-25DEC26"), "alice"),
        (FundingTick("BTC-PERP"), "risk-officer"),
        (HaltMarket(instrument="BTC-PERP"), "alice"),  # halting to trap a counterparty
        (HaltMarket(index="BTC-USD"), "keeper"),
        (ResumeMarket(index="BTC-USD"), "oracle"),
        (ResumeMarket(index="BTC-USD"), "gov-a"),
        (OracleUpdate("BTC-USD", 1, 1), "keeper"),
        (PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=100_000 * USD), "risk-officer"),
    ],
)
def test_controls_and_lifecycle_need_their_role(payload: Payload, by: str) -> None:
    v = venue()
    refused(v, payload, by, ErrorCode.ROLE_FORBIDDEN)


def test_an_owner_cannot_switch_off_another_accounts_kill_switch_nor_its_own_once_held() -> None:
    v = venue()
    refused(v, KillSwitch("bob", engaged=True), "alice", ErrorCode.NOT_ACCOUNT_OWNER)
    assert isinstance(v.apply(KillSwitch("alice"), by="risk-officer"), Accepted)
    refused(v, KillSwitch("alice", engaged=False), "alice", ErrorCode.KILL_SWITCH_HELD)
