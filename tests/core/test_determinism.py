"""Same journal, same state: fresh processes with different hash seeds agree byte for byte.

A seeded workload (about 21,000 transactions: deposits, oracle prices, resting, crossing
and market orders, cancels) is written to a file in its canonical msgpack encoding,
the way a journal holds it, beside its genesis (keys, roles, instruments, rules),
encoded the same way. Fresh Python processes, each with its own `PYTHONHASHSEED`,
decode both files, build the engine from that genesis, apply every transaction and
print the state digest and the output chain head; all of them, and this process,
must agree. The workload's transactions carry real signer keys and nonces but no
signatures (signature checking is measured on its own), so every replay passes the
verifier's verdict as valid, exactly as the benchmarks do. The
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
from clearhouse.core import (
    Accepted,
    Engine,
    EngineConfig,
    Genesis,
    Rejected,
    Sequenced,
    TradeExecuted,
    encode,
)

CHILD = """
import json, sys
import msgspec
from clearhouse.core import Accepted, Engine, Genesis, Sequenced, TradeExecuted

with open(sys.argv[1], "rb") as journal:
    log = msgspec.msgpack.decode(journal.read(), type=list[Sequenced])
with open(sys.argv[2], "rb") as genesis_file:
    genesis = msgspec.msgpack.decode(genesis_file.read(), type=Genesis)
engine = Engine(genesis)
trades = 0
for sequenced in log:
    outcome = engine.apply(sequenced, True)
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


Journal = tuple[Path, Path, Genesis, list[Sequenced]]
"""The log's file, the genesis's file, the genesis and the log."""


def replay(genesis: Genesis, log: list[Sequenced]) -> tuple[Engine, int, int]:
    """Apply a log; return the engine, the number of trades and of rejections."""
    engine = Engine(genesis)
    trades = rejections = 0
    for sequenced in log:
        outcome = engine.apply(sequenced, True)
        if isinstance(outcome, Accepted):
            trades += sum(isinstance(event, TradeExecuted) for event in outcome.events)
        else:
            assert isinstance(outcome, Rejected)
            rejections += 1
    engine.check_invariants()
    return engine, trades, rejections


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Journal:
    workload = generate_workload(orders=20_000, seed=3)
    log = workload.setup + workload.orders
    directory = tmp_path_factory.mktemp("journal")
    path = directory / "log.msgpack"
    path.write_bytes(encode(log))
    genesis_path = directory / "genesis.msgpack"
    genesis_path.write_bytes(encode(workload.genesis))
    return path, genesis_path, workload.genesis, log


def spawn(
    path: Path, genesis_path: Path, hash_seed: str, *, pure: bool = False
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "CLEARHOUSE_PURE"}
    env["PYTHONHASHSEED"] = hash_seed
    if pure:
        env["CLEARHOUSE_PURE"] = "1"
    return subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", CHILD, str(path), str(genesis_path)],
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


def test_the_journal_round_trips(journal: Journal) -> None:
    path, genesis_path, genesis, log = journal
    decoded = msgspec.msgpack.decode(path.read_bytes(), type=list[Sequenced])
    assert decoded == log
    assert msgspec.msgpack.decode(genesis_path.read_bytes(), type=Genesis) == genesis
    assert len(log) > 20_000
    assert [s.seq for s in decoded] == list(range(1, len(log) + 1))


def test_fresh_processes_with_different_hash_seeds_agree(journal: Journal) -> None:
    path, genesis_path, genesis, log = journal
    children = {seed: spawn(path, genesis_path, seed) for seed in HASH_SEEDS}
    children["0-pure"] = spawn(path, genesis_path, "0", pure=True)

    # Meanwhile, in this process: from the objects and from the journal's bytes.
    engine, trades, rejections = replay(genesis, log)
    from_bytes, _, _ = replay(
        msgspec.msgpack.decode(genesis_path.read_bytes(), type=Genesis),
        msgspec.msgpack.decode(path.read_bytes(), type=list[Sequenced]),
    )
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


def test_the_comparison_can_fail(journal: Journal) -> None:
    """Digest and chain head move with the log: a shorter log gives other values."""
    _, _, genesis, log = journal
    engine = Engine(genesis)
    for sequenced in log[:-100]:
        engine.apply(sequenced, True)
    digest_before, head_before = engine.digest(), engine.chain_head
    for sequenced in log[-100:]:
        engine.apply(sequenced, True)
    assert engine.digest() != digest_before
    assert engine.chain_head != head_before


def test_the_sweep_interval_is_not_part_of_the_state() -> None:
    """How often a replica sweeps its invariants is how it checks itself, not what it
    computes: genesis documents that differ only in the interval give one state."""
    workload = generate_workload(orders=3_000, seed=5)
    engines = [
        Engine(
            msgspec.structs.replace(
                workload.genesis,
                config=EngineConfig(invariant_sweep_interval_txs=interval),
            )
        )
        for interval in (0, 7, 1_000)
    ]
    for engine in engines:
        for tx in workload.setup + workload.orders:
            engine.apply(tx, True)
    assert len({engine.digest() for engine in engines}) == 1
    assert len({engine.chain_head for engine in engines}) == 1
