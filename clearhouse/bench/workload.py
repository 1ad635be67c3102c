"""A seeded, mixed order-flow workload for the core.

About 60% resting limit orders a few ticks from the touch, 25% cancels of orders
placed earlier, 15% marketable orders (IOC limits through the touch and market
orders), with an occasional oracle move, over a set of funded accounts. The same
seed always yields the same transactions.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from clearhouse.core import (
    CancelOrder,
    Deposit,
    Genesis,
    OracleUpdate,
    OrderType,
    Payload,
    PlaceOrder,
    Sequenced,
    Side,
    TimeInForce,
    Transaction,
)
from clearhouse.testing import CUSTODIAN, ORACLE, signer_for, standard_genesis

INSTRUMENTS = (
    ("BTC-PERP", "BTC-USD", 100_000_000_000, 500_000),
    ("ETH-PERP", "ETH-USD", 3_500_000_000, 50_000),
)
TIMESTEP_NS = 50_000


@dataclass(frozen=True)
class Workload:
    """Sequenced transactions from real keys, unsigned: the signature check is
    measured on its own (`clearhouse bench verify`), so these are applied with the
    verifier's verdict given as valid."""

    genesis: Genesis
    setup: list[Sequenced]
    """Deposits and first prices: applied before timing starts."""
    orders: list[Sequenced]
    seed: int
    accounts: int


def generate_workload(orders: int, seed: int, accounts: int = 1_000) -> Workload:
    rng = random.Random(seed)
    names = [f"acct{i:05d}" for i in range(accounts)]
    genesis = standard_genesis(names)
    public_keys = {name: signer_for(name).public_key() for name in (*names, CUSTODIAN, ORACLE)}
    nonces = dict.fromkeys(public_keys, 0)
    seq = 0
    now = 1_000_000_000

    def wrap(payload: Payload, signer: str) -> Sequenced:
        nonlocal seq, now
        seq += 1
        now += TIMESTEP_NS
        nonces[signer] += 1
        tx = Transaction(payload, public_keys[signer], nonces[signer], now + 60 * 10**9)
        return Sequenced(seq, now, tx)

    setup = [wrap(Deposit(name, "USDC", 50_000_000_000), CUSTODIAN) for name in names]
    marks = {index: price for _, index, price, _ in INSTRUMENTS}
    setup += [
        wrap(OracleUpdate(index, price, now + TIMESTEP_NS), ORACLE)
        for index, price in marks.items()
    ]

    resting: list[tuple[str, int]] = []
    flow: list[Sequenced] = []
    for _ in range(orders):
        draw = rng.random()
        if draw < 0.0005:
            instrument, index, _, tick = rng.choice(INSTRUMENTS)
            marks[index] += rng.randint(-5, 5) * tick
            flow.append(wrap(OracleUpdate(index, marks[index], now + TIMESTEP_NS), ORACLE))
            continue
        if draw < 0.25 and resting:
            slot = rng.randrange(len(resting))
            resting[slot], resting[-1] = resting[-1], resting[slot]
            account, order_id = resting.pop()
            flow.append(wrap(CancelOrder(account, order_id=order_id), account))
            continue
        instrument, index, _, tick = rng.choice(INSTRUMENTS)
        mid = marks[index] // tick * tick
        account = rng.choice(names)
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        size = rng.randint(1, 10)
        if draw < 0.85:
            # Resting: between one and twenty ticks behind the mid on its own side.
            offset = rng.randint(1, 20) * tick
            price = mid - offset if side is Side.BUY else mid + offset
            tx = wrap(PlaceOrder(account, instrument, side, size, price=price), account)
            resting.append((account, tx.seq))
        elif draw < 0.95:
            offset = rng.randint(1, 25) * tick
            price = mid + offset if side is Side.BUY else mid - offset
            tx = wrap(
                PlaceOrder(
                    account, instrument, side, size, price=price, time_in_force=TimeInForce.IOC
                ),
                account,
            )
        else:
            tx = wrap(
                PlaceOrder(
                    account,
                    instrument,
                    side,
                    size,
                    order_type=OrderType.MARKET,
                    time_in_force=TimeInForce.IOC,
                ),
                account,
            )
        flow.append(tx)
    return Workload(genesis, setup, flow, seed, accounts)


GC_NOTE = "gc.freeze() before timing: the pre-built workload is not rescanned by the collector"


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Move everything allocated so far out of the collector's reach while timing.

    A million pre-built transactions would otherwise be rescanned by every full
    collection and show up as pauses that belong to the harness, not the engine.
    Objects created while timing (the engine's own state) are still collected.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def latency_figures(latencies: list[int], elapsed_ns: int) -> dict[str, float]:
    """Throughput and latency percentiles of a timed run (latencies in ns, sorted here)."""
    latencies.sort()
    count = len(latencies)
    return {
        "tx_per_s": round(count / (elapsed_ns / 1e9)),
        "p50_us": round(latencies[count // 2] / 1e3, 2),
        "p99_us": round(latencies[min(count - 1, count * 99 // 100)] / 1e3, 2),
        "max_us": round(latencies[-1] / 1e3, 2),
    }
