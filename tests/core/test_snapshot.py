"""A restored snapshot is the engine it was taken from: same digest, same future."""

from __future__ import annotations

import msgspec
import pytest

from clearhouse.bench.workload import generate_workload
from clearhouse.core import (
    AddSubKey,
    Approve,
    ApproveWithdrawal,
    CancelOrder,
    Deposit,
    Engine,
    GrantRole,
    OracleUpdate,
    PlaceOrder,
    Propose,
    Role,
    SetRiskParams,
    Side,
    SubKeyScope,
    Withdraw,
)
from clearhouse.core.snapshot import SnapshotError
from clearhouse.testing import TestVenue, signer_for, standard_genesis

WORKLOAD = generate_workload(orders=6_000, seed=21)


def replay(engine: Engine, entries: list) -> None:  # type: ignore[type-arg]
    for entry in entries:
        engine.apply(entry, True)


@pytest.mark.parametrize("cut", [0, 1, 1_500, 4_999, 6_000])
def test_a_restored_engine_continues_exactly_like_the_original(cut: int) -> None:
    log = WORKLOAD.setup + WORKLOAD.orders
    split = len(WORKLOAD.setup) + cut
    original = Engine(WORKLOAD.genesis)
    replay(original, log[:split])
    restored = Engine.restore(WORKLOAD.genesis, original.snapshot())
    assert restored.digest() == original.digest()
    assert (restored.seq, restored.chain_head) == (original.seq, original.chain_head)
    replay(original, log[split:])
    replay(restored, log[split:])
    assert restored.digest() == original.digest()
    assert restored.chain_head == original.chain_head
    restored.check_invariants()


def test_authority_proposals_sub_keys_and_pending_withdrawals_survive() -> None:
    genesis = standard_genesis(["alice", "bob"])
    venue = TestVenue(genesis)
    for payload in (
        Deposit("alice", "USDC", 3 * 10**12),
        Deposit("bob", "USDC", 10**10),
        OracleUpdate("BTC-USD", 100_000_000_000, observed_ns=venue.now_ns),  # before sequencing
        PlaceOrder("bob", "BTC-PERP", Side.BUY, 5, price=99_000_000_000),
        PlaceOrder("bob", "BTC-PERP", Side.BUY, 5, price=99_000_000_000, client_order_id="b2"),
        PlaceOrder("alice", "BTC-PERP", Side.SELL, 7, price=99_000_000_000),
        AddSubKey("alice", signer_for("alice-bot").public_key(), SubKeyScope.TRADE, 3),
        Withdraw("alice", "USDC", 2 * 10**12),
        Propose(SetRiskParams("BTC-PERP", initial_margin_bps=1_200)),
    ):
        assert not hasattr(venue.apply(payload), "code")
    request_id = venue.engine.seq - 1
    payout = venue.apply(Propose(ApproveWithdrawal(request_id)), by="gov-b").seq
    venue.apply(Approve(payout), by="gov-c")
    grant = venue.apply(Propose(GrantRole(signer_for("mm").public_key(), "mm", Role.MARKET_MAKER)))
    snapshot = venue.engine.snapshot()
    restored = Engine.restore(genesis, snapshot)
    assert restored.digest() == venue.engine.digest()
    # The same signed future on both: a sub-key order, a cancel, an approval, the payout.
    future = [
        venue.sign(
            PlaceOrder("alice", "BTC-PERP", Side.SELL, 3, price=99_000_000_000), "alice-bot"
        ),
        venue.sign(CancelOrder("bob", client_order_id="b2")),
        venue.sign(Approve(grant.seq), "gov-c"),
    ]
    twin = TestVenue(genesis)
    twin.engine = restored
    twin.now_ns = venue.now_ns
    for tx in future:
        assert venue.submit(tx) == twin.submit(tx)
    later = venue.now_ns + genesis.governance.timelock_ns
    from clearhouse.core import ExecuteProposal

    execute = venue.sign(ExecuteProposal(payout), "gov-a")
    assert venue.submit(execute, at_ns=later) == twin.submit(execute, at_ns=later)
    assert venue.engine.digest() == twin.engine.digest()
    assert venue.engine.chain_head == twin.engine.chain_head


def test_a_damaged_or_foreign_snapshot_is_refused() -> None:
    engine = Engine(WORKLOAD.genesis)
    replay(engine, WORKLOAD.setup + WORKLOAD.orders[:500])
    data = engine.snapshot()
    with pytest.raises(SnapshotError):
        Engine.restore(WORKLOAD.genesis, data[:-10])
    with pytest.raises(SnapshotError, match="another genesis"):
        Engine.restore(standard_genesis(["x"]), data)
    snapshot = msgspec.msgpack.decode(data)
    snapshot["accounts"][0][1] += 1  # a balance that no longer adds up
    with pytest.raises(SnapshotError, match="does not restore"):
        Engine.restore(WORKLOAD.genesis, msgspec.msgpack.encode(snapshot))
