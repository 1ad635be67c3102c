"""`clearhouse bench surveil`: the detectors' throughput against the core's, in one run.

The core benchmark's seeded workload is applied by `Engine.apply` (timed: the
core's transactions per second), and the steps it produced (each transaction with
its events) are then fed to every detector through `Surveillance` (timed: steps
and events per second). Surveillance keeps up with a venue when its step rate is
at least the rate transactions are sequenced; the target is half the bare core's
rate, itself several times what the durable path sequences. Each half runs
`repeats` times; the figures are the median, with min and max.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from clearhouse.bench.workload import frozen_heap, generate_workload
from clearhouse.core import Engine
from clearhouse.surveillance import Surveillance, step_of
from clearhouse.surveillance.detectors import all_detectors


def run_surveil_bench(orders: int, seed: int, repeats: int = 3) -> dict[str, Any]:
    workload = generate_workload(orders, seed)
    core_rates: list[float] = []
    surveil_rates: list[float] = []
    events = 0
    alerts = 0
    for _ in range(repeats):
        engine = Engine(workload.genesis)
        setup_steps = [
            step_of(s.seq, s.timestamp_ns, s.tx.payload, s.tx.signer, engine.apply(s, True))
            for s in workload.setup
        ]
        apply = engine.apply
        with frozen_heap():
            started = time.perf_counter_ns()
            outcomes = [apply(s, True) for s in workload.orders]
            core_rates.append(len(outcomes) / ((time.perf_counter_ns() - started) / 1e9))
        steps = [
            step_of(s.seq, s.timestamp_ns, s.tx.payload, s.tx.signer, outcome)
            for s, outcome in zip(workload.orders, outcomes, strict=True)
        ]
        events = sum(len(step.events) for step in steps)
        surveillance = Surveillance(workload.genesis, all_detectors())
        for step in setup_steps:
            surveillance.observe(step)
        observe = surveillance.observe
        with frozen_heap():
            started = time.perf_counter_ns()
            alerts = sum(len(observe(step)) for step in steps)
            surveil_rates.append(len(steps) / ((time.perf_counter_ns() - started) / 1e9))
    core = statistics.median(core_rates)
    surveil = statistics.median(surveil_rates)
    return {
        "benchmark": "surveil",
        "orders": orders,
        "seed": seed,
        "repeats": repeats,
        "detectors": [d.name for d in all_detectors()],
        "core_tx_per_s": round(core),
        "core_tx_per_s_min_max": [round(min(core_rates)), round(max(core_rates))],
        "steps_per_s": round(surveil),
        "steps_per_s_min_max": [round(min(surveil_rates)), round(max(surveil_rates))],
        "events_per_s": round(surveil * events / len(workload.orders)),
        "events_per_step": round(events / len(workload.orders), 2),
        "ratio": round(surveil / core, 3),
        "target_ratio": 0.5,
        "alerts": alerts,
    }
