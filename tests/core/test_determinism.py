"""Same journal, same state: fresh processes with different hash seeds agree byte for byte.

A seeded workload (about 21,000 transactions: deposits, oracle prices, resting, crossing
and market orders, cancels) is written to a file in its canonical msgpack encoding,
the way a journal holds it. Fresh Python processes, each with its own
`PYTHONHASHSEED`, decode that file, apply every transaction and print the state
digest and the output chain head; all of them, and this process, must agree. The
children also print `hash("clearhouse")`, which shows that their seeds really did
differ, so agreement is not an accident of one shared seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from clearhouse.bench.workload import generate_workload
from clearhouse.core import Accepted, Engine, Rejected, Sequenced, TradeExecuted, encode

CHILD = """
import json, sys
import msgspec
from clearhouse.core import Accepted, Engine, Sequenced, TradeExecuted

with open(sys.argv[1], "rb") as journal:
    log = msgspec.msgpack.decode(journal.read(), type=list[Sequenced])
engine = Engine()
trades = 0
for sequenced in log:
    outcome = engine.apply(sequenced)
    if type(outcome) is Accepted:
        trades += sum(type(event) is TradeExecuted for event in outcome.events)
engine.check_invariants()
print(json.dumps({
    "digest": engine.digest().hex(),
    "chain_head": engine.chain_head.hex(),
    "seq": engine.seq,
    "trades": trades,
    "hash_probe": hash("clearhouse"),
}))
"""

HASH_SEEDS = ("0", "12345", "random")


def replay(log: list[Sequenced]) -> tuple[Engine, int, int]:
    """Apply a log; return the engine, the number of trades and of rejections."""
    engine = Engine()
    trades = rejections = 0
    for sequenced in log:
        outcome = engine.apply(sequenced)
        if isinstance(outcome, Accepted):
            trades += sum(isinstance(event, TradeExecuted) for event in outcome.events)
        else:
            assert isinstance(outcome, Rejected)
            rejections += 1
    engine.check_invariants()
    return engine, trades, rejections


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Sequenced]]:
    workload = generate_workload(orders=20_000, seed=3)
    log = workload.setup + workload.orders
    path = tmp_path_factory.mktemp("journal") / "log.msgpack"
    path.write_bytes(encode(log))
    return path, log


def spawn(path: Path, hash_seed: str, *, pure: bool = False) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLEARHOUSE_PURE"}
    env["PYTHONHASHSEED"] = hash_seed
    if pure:
        env["CLEARHOUSE_PURE"] = "1"
    return subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", CHILD, str(path)],
        env=env,
        cwd=path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def collect(child: subprocess.Popen[str]) -> dict[str, object]:
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_journal_round_trips(journal: tuple[Path, list[Sequenced]]) -> None:
    path, log = journal
    decoded = msgspec.msgpack.decode(path.read_bytes(), type=list[Sequenced])
    assert decoded == log
    assert len(log) > 20_000
    assert [s.seq for s in decoded] == list(range(1, len(log) + 1))


def test_fresh_processes_with_different_hash_seeds_agree(
    journal: tuple[Path, list[Sequenced]],
) -> None:
    path, log = journal
    children = {seed: spawn(path, seed) for seed in HASH_SEEDS}
    children["0-pure"] = spawn(path, "0", pure=True)

    # Meanwhile, in this process: from the objects and from the journal's bytes.
    engine, trades, rejections = replay(log)
    from_bytes, _, _ = replay(msgspec.msgpack.decode(path.read_bytes(), type=list[Sequenced]))
    assert trades > 1_000, "the workload must really trade"
    assert rejections < len(log) // 2
    expected = {
        "digest": engine.digest().hex(),
        "chain_head": engine.chain_head.hex(),
        "seq": len(log),
        "trades": trades,
    }
    assert from_bytes.digest() == engine.digest()
    assert from_bytes.chain_head == engine.chain_head

    results = {name: collect(child) for name, child in children.items()}
    probes = {name: result.pop("hash_probe") for name, result in results.items()}
    for name, result in results.items():
        assert result == expected, f"PYTHONHASHSEED={name} diverged from this process"
    # The seeds reached the children and changed how they hash strings.
    assert probes["0"] != probes["12345"]
    assert probes["0"] == probes["0-pure"]


def test_the_comparison_can_fail(journal: tuple[Path, list[Sequenced]]) -> None:
    """Digest and chain head move with the log: a shorter log gives other values."""
    _, log = journal
    engine = Engine()
    for sequenced in log[:-100]:
        engine.apply(sequenced)
    digest_before, head_before = engine.digest(), engine.chain_head
    for sequenced in log[-100:]:
        engine.apply(sequenced)
    assert engine.digest() != digest_before
    assert engine.chain_head != head_before


def test_the_sweep_interval_is_not_part_of_the_state() -> None:
    from clearhouse.bench.workload import generate_workload
    from clearhouse.core import Engine, EngineConfig

    workload = generate_workload(orders=3_000, seed=5)
    engines = [
        Engine(config=EngineConfig(invariant_sweep_interval_txs=interval))
        for interval in (0, 7, 1_000)
    ]
    for engine in engines:
        for tx in workload.setup + workload.orders:
            engine.apply(tx)
    assert len({engine.digest() for engine in engines}) == 1
    assert len({engine.chain_head for engine in engines}) == 1
