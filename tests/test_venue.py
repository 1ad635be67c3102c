"""The one-process venue: verify on the pool, sequence, apply; and replay that re-verifies."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import msgspec
import pytest

from clearhouse.auth import VerifierPool
from clearhouse.core import (
    Accepted,
    Deposit,
    ErrorCode,
    OracleUpdate,
    PlaceOrder,
    Rejected,
    Sequenced,
    Side,
    TradeExecuted,
)
from clearhouse.testing import CUSTODIAN, ORACLE, signer_for, standard_genesis
from clearhouse.venue import Client, LocalVenue, replay

GENESIS = standard_genesis(["alice", "bob"])
BTC = 100_000_000_000
START_NS = 1_700_000_000 * 10**9


def ticking_clock() -> Iterator[int]:
    return itertools.count(START_NS, 1_000)


@pytest.fixture(scope="module")
def pool() -> Iterator[VerifierPool]:
    with VerifierPool(workers=2) as verifier:
        yield verifier


def session() -> list[object]:
    """Signed at the clock's start, so that every venue sequences them identically
    (the oracle's observation time and the sequencing times are part of the state)."""
    clients = {
        name: Client(signer_for(name), GENESIS.venue_id)
        for name in (CUSTODIAN, ORACLE, "alice", "bob")
    }
    now = START_NS
    return [
        clients[CUSTODIAN].sign(Deposit("alice", "USDC", 10**10), now),
        clients[CUSTODIAN].sign(Deposit("bob", "USDC", 10**10), now),
        clients[ORACLE].sign(OracleUpdate("BTC-USD", BTC, now), now),
        clients["alice"].sign(PlaceOrder("alice", "BTC-PERP", Side.SELL, 10, price=BTC), now),
        clients["bob"].sign(PlaceOrder("bob", "BTC-PERP", Side.BUY, 10, price=BTC), now),
    ]


def test_a_batch_verified_on_the_pool_trades(pool: VerifierPool) -> None:
    clock = ticking_clock()
    venue = LocalVenue(GENESIS, clock=lambda: next(clock))
    outcomes = venue.submit_batch(session(), pool)  # type: ignore[arg-type]
    assert all(isinstance(o, Accepted) for o in outcomes)
    last = outcomes[-1]
    assert isinstance(last, Accepted)
    assert any(isinstance(e, TradeExecuted) for e in last.events)


def test_the_pool_and_the_single_path_agree_and_a_forgery_is_refused(pool: VerifierPool) -> None:
    clock_a, clock_b = ticking_clock(), ticking_clock()
    one = LocalVenue(GENESIS, clock=lambda: next(clock_a))
    many = LocalVenue(GENESIS, clock=lambda: next(clock_b))
    txs = session()
    forged = msgspec.structs.replace(txs[-1], signature=bytes(64))  # type: ignore[type-var]
    txs = [*txs[:-1], forged]
    single = [one.submit(tx) for tx in txs]  # type: ignore[arg-type]
    batched = many.submit_batch(txs, pool)  # type: ignore[arg-type]
    assert single == batched
    assert isinstance(batched[-1], Rejected) and batched[-1].code is ErrorCode.BAD_SIGNATURE
    assert one.engine.digest() == many.engine.digest()
    assert one.engine.chain_head == many.engine.chain_head


def test_replay_re_verifies_every_signature(pool: VerifierPool) -> None:
    clock = ticking_clock()
    venue = LocalVenue(GENESIS, clock=lambda: next(clock))
    log: list[Sequenced] = []
    for tx in session():
        venue.submit(tx)  # type: ignore[arg-type]
        log.append(Sequenced(venue.engine.seq, venue._last_ns, tx))  # type: ignore[arg-type]
    for verifier in (None, pool):
        rebuilt = replay(GENESIS, log, verifier)
        assert rebuilt.digest() == venue.engine.digest()
        assert rebuilt.chain_head == venue.engine.chain_head
    # A signature altered in the log: the replay judges it anew and diverges.
    tampered = list(log)
    bad_tx = msgspec.structs.replace(log[3].tx, signature=bytes(64))
    tampered[3] = msgspec.structs.replace(log[3], tx=bad_tx)
    diverged = replay(GENESIS, tampered, pool)
    assert diverged.chain_head != venue.engine.chain_head
    # And the same log presented as another venue's verifies nothing.
    other = standard_genesis(["alice", "bob"], venue_id="other-venue")
    assert replay(other, log).digest() != venue.engine.digest()
