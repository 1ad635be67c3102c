"""`clearhouse bench core`: the core's throughput and latency on a seeded workload."""

from __future__ import annotations

import time
from typing import Any

import msgspec

from clearhouse import CORE_BUILD
from clearhouse.bench.workload import GC_NOTE, frozen_heap, generate_workload, latency_figures
from clearhouse.core import Accepted, Engine, TradeExecuted


def run_core_bench(orders: int, seed: int, sweep_interval_txs: int = 0) -> dict[str, Any]:
    workload = generate_workload(orders, seed)
    genesis = msgspec.structs.replace(
        workload.genesis,
        config=msgspec.structs.replace(
            workload.genesis.config, invariant_sweep_interval_txs=sweep_interval_txs
        ),
    )
    engine = Engine(genesis)
    for tx in workload.setup:
        engine.apply(tx, True)
    apply = engine.apply
    clock = time.perf_counter_ns
    latencies = [0] * len(workload.orders)
    fills = rejects = 0
    with frozen_heap():
        started = clock()
        for i, tx in enumerate(workload.orders):
            t0 = clock()
            outcome = apply(tx, True)
            latencies[i] = clock() - t0
            if type(outcome) is Accepted:
                for event in outcome.events:
                    if type(event) is TradeExecuted:
                        fills += 1
            else:
                rejects += 1
        elapsed_ns = clock() - started
    sweep_started = clock()
    engine.check_invariants()
    final_sweep_ms = (clock() - sweep_started) / 1e6
    return {
        "benchmark": "core",
        "orders": len(latencies),
        "seed": seed,
        "accounts": workload.accounts,
        **latency_figures(latencies, elapsed_ns),
        "fills": fills,
        "rejects": rejects,
        "invariants": {
            "per_transaction": "conservation, open interest, uncrossed book, margin calls of touched accounts",
            "full_sweep_every_txs": sweep_interval_txs or None,
            "full_sweep": (
                f"every {sweep_interval_txs} transactions and at the end"
                if sweep_interval_txs
                else "at the end (timed separately)"
            ),
            "final_sweep_ms": round(final_sweep_ms, 1),
        },
        "core_build": CORE_BUILD,
        "gc": GC_NOTE,
        "signatures": "verified before sequencing (see `bench verify`); applied with the verdict",
        "digest": engine.digest().hex(),
        "chain_head": engine.chain_head.hex(),
    }
