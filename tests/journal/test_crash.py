"""Crash test: a journaling process killed with SIGKILL at random moments loses nothing.

A child process (crash_child.py) journals a long, seeded, pre-signed workload into
one SQLite file, resuming where the record ends, and prints each transaction's seq
and chain head once `submit` has returned (after the durable commit). The parent
kills it with SIGKILL at seeded moments, aimed three ways: soon after the acks reach
a random target seq (a random delay of a few milliseconds, so the kill lands
anywhere in the next batch: verify, apply, commit); at the first snapshot or
checkpoint write after the target (the child announces each write just before it
starts); or after a random short time from spawn (which also lands in start-up and
recovery). After every kill the parent opens the journal and checks:

- every acknowledged seq is there, with the acknowledged chain head;
- the entries run contiguously from 1, and they are the workload's transactions in
  order, each once, with the chain heads of an uninterrupted reference execution;
- recovery (the Journal constructor: newest restorable snapshot + re-execution of
  the tail) succeeds, and the recovered engine's digest and chain head equal those
  of a clean replay of every stored entry into a fresh Engine;
- the Merkle tree holds one leaf per entry and every signed checkpoint is the
  tree's root at its size; every new snapshot restores to the state and chain head
  of its seq.

Twice in the run the snapshots are damaged on disk (bytes overwritten in the SQLite
file): first the newest one (recovery must fall back to an older one), then all of
them (recovery must start from genesis); both recoveries must reach the same digest.
At the end the child finishes the workload and the final digest must equal the one
of an uninterrupted child run and of the reference execution.

CRASH_KILLS sets the number of kills (30 here, 300 in `make crash`); run with -s for
where the kills landed.

The last two tests damage a snapshot so that it still decodes (its chain head, or a
mark price): recovery must not trust it (see the
reasons): remove the marks when the journal checks its snapshots against the record.
"""

from __future__ import annotations

import hashlib
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest

# crash_child.py sits next to this file: pytest's default (prepend) import mode puts
# this directory on sys.path, and the child runs it as a script.
from crash_child import Workfile, open_journal, timestamp_of

from clearhouse.auth.signing import Ed25519Signer, sign_transaction
from clearhouse.bench.workload import generate_workload
from clearhouse.core import Engine, Sequenced, Transaction
from clearhouse.core.codec import encode
from clearhouse.core.snapshot import SnapshotError
from clearhouse.core.snapshot import decode as decode_snapshot
from clearhouse.journal import Journal, JournalStore, SqliteJournal, parse_signed_checkpoint
from clearhouse.journal.journal import restore_snapshot
from clearhouse.testing import default_signer_name, signer_for

CHILD = Path(__file__).with_name("crash_child.py")
KILLS = int(os.environ.get("CRASH_KILLS", "30"))
SEED = 20_250_611
ORDERS = 6_000
ACCOUNTS = 40
SNAPSHOT_EVERY = 37
CHECKPOINT_EVERY = 23
KILL_MODES = {"ack": 2, "write": 1, "timed": 1}
"""How kills are aimed (relative weights): soon after the ack of a random target seq; at the
first snapshot or checkpoint write after it; after a random time from spawn."""
TIMED_KILL_S = 0.5
ACK_KILL_DELAY_S = 0.006
"""Up to this long after the target ack: about one batch's verify, apply and commit."""
WRITE_KILL_DELAY_S = 0.002
"""Up to this long after a write is announced: about one snapshot's insert and commit."""
STALL_S = 60.0
"""A child that makes no progress for this long is stuck, not slow."""
SNAPSHOT_HEAD = 96
"""Bytes from a snapshot blob's start: version, genesis digest, seq, timestamp: unique."""

_tx_decoder = msgspec.msgpack.Decoder(Transaction)


# -- the workload and its uninterrupted reference execution ---------------------------


@dataclass(frozen=True)
class Reference:
    workfile: Workfile
    path: Path
    """The workfile on disk, as the child reads it."""
    tx_bytes: list[bytes]
    """The canonical bytes of transaction seq k at index k - 1."""
    outcomes: list[bytes]
    heads: list[bytes]
    digest: bytes
    """The engine's digest after the whole workload."""

    @property
    def total(self) -> int:
        return len(self.tx_bytes)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    workload = generate_workload(ORDERS, SEED, accounts=ACCOUNTS)
    genesis = workload.genesis
    signers: dict[str, Ed25519Signer] = {}
    signed: list[Transaction] = []
    engine = Engine(genesis)
    outcomes: list[bytes] = []
    heads: list[bytes] = []
    for sequenced in workload.setup + workload.orders:
        assert sequenced.timestamp_ns == timestamp_of(sequenced.seq)
        name = default_signer_name(sequenced.tx.payload)  # custody, oracle or the account
        signer = signers.get(name) or signers.setdefault(name, signer_for(name))
        assert signer.public_key() == sequenced.tx.signer
        tx = sign_transaction(signer, genesis.venue_id, sequenced.tx)
        signed.append(tx)
        outcome = engine.apply(Sequenced(sequenced.seq, sequenced.timestamp_ns, tx), True)
        outcomes.append(encode(outcome))
        heads.append(engine.chain_head)
    workfile = Workfile(genesis, signed)
    path = tmp_path_factory.mktemp("crash") / "workload.msgpack"
    path.write_bytes(msgspec.msgpack.encode(workfile))
    return Reference(
        workfile, path, [encode(tx) for tx in signed], outcomes, heads, engine.digest()
    )


# -- the child process ----------------------------------------------------------------


class Child:
    """One run of crash_child.py, its stdout read line by line on a thread."""

    def __init__(self, journal: Path, reference: Reference, log: Path) -> None:
        self._log_path = log
        self._log_start = log.stat().st_size if log.exists() else 0
        with log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(CHILD),
                    str(journal),
                    str(reference.path),
                    f"--seed={SEED}",
                    f"--snapshot-every={SNAPSHOT_EVERY}",
                    f"--checkpoint-every={CHECKPOINT_EVERY}",
                ],
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        self.start_seq: int | None = None
        self.acks: dict[int, bytes] = {}
        self.position = 0
        """The last seq the child reported in the journal (at start, then acknowledged)."""
        self.done: tuple[int, bytes, bytes] | None = None
        self.writes: list[tuple[str, int]] = []
        """The snapshot and checkpoint writes announced: ("snapshot", seq), ("checkpoint", size)."""
        self.partial_lines = 0
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _take(self, line: bytes) -> None:
        if not line.endswith(b"\n"):
            self.partial_lines += 1  # cut by the kill: never a complete acknowledgement
            return
        kind, *fields = line.decode("ascii").split()
        if kind == "ack":
            seq, head = int(fields[0]), bytes.fromhex(fields[1])
            assert self.start_seq is not None and seq == self.position + 1, line
            self.acks[seq] = head
            self.position = seq
        elif kind == "start":
            self.start_seq = self.position = int(fields[0])
        elif kind in ("snapshot", "checkpoint"):
            self.writes.append((kind, int(fields[0])))
        elif kind == "done":
            self.done = (int(fields[0]), bytes.fromhex(fields[1]), bytes.fromhex(fields[2]))
        else:
            raise AssertionError(f"unexpected line from the child: {line!r}")

    def wait_for(self, target_seq: int, seconds: float) -> bool:
        """Read lines until an ack reaches target_seq, `seconds` pass, or stdout closes."""
        return self._pump(lambda: self.position >= target_seq, seconds)

    def wait_for_write(self, seconds: float) -> bool:
        """Read lines until the child announces its next snapshot or checkpoint write."""
        count = len(self.writes)
        return self._pump(lambda: len(self.writes) > count, seconds)

    def _pump(self, reached: Callable[[], bool], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self._eof and not reached():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                self._eof = True
            else:
                self._take(line)
        return reached()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.alive():  # a failed check must not leave a child writing to a full pipe
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> bool:
        """SIGKILL (if still running), then every complete line it wrote. True if killed."""
        killed = self.alive()
        if killed:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.finish()
        return killed

    def finish(self, timeout: float | None = None) -> None:
        self.proc.wait(timeout)
        self._reader.join()
        while not self._eof:
            line = self._lines.get()
            if line is None:
                self._eof = True
            else:
                self._take(line)
        assert self.proc.stdout is not None
        self.proc.stdout.close()

    def stderr(self) -> str:
        with self._log_path.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode(errors="replace")


# -- checking the journal on disk -------------------------------------------------------


class RecordingStore(SqliteJournal):
    """The SQLite store, remembering which snapshots recovery read (newest first)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.snapshots_read: list[int] = []

    def snapshots(self) -> Iterator[tuple[int, bytes]]:
        for seq, data in super().snapshots():
            self.snapshots_read.append(seq)
            yield seq, data


@dataclass
class Checker:
    """Opens the journal after each kill and checks it against the reference."""

    path: Path
    reference: Reference
    acked: dict[int, bytes] = field(default_factory=dict)
    """Every acknowledgement any child printed: seq -> chain head."""
    seen_snapshots: set[tuple[int, bytes]] = field(default_factory=set)
    """(seq, SHA-256 of the bytes) of snapshots already checked, or damaged by the test."""
    damaged: set[tuple[int, bytes]] = field(default_factory=set)
    """(seq, SHA-256 of the bytes) of the snapshots damaged by the test."""

    def check(self) -> Recovered:
        store = RecordingStore(self.path)
        journal = open_journal(store, self.reference.workfile.genesis, 0, 0)
        try:
            return self._check(store, journal)
        finally:
            journal.close()

    def _check(self, store: RecordingStore, journal: Journal) -> Recovered:
        ref = self.reference
        read_by_recovery = list(store.snapshots_read)
        size = store.size()
        entries = list(store.read())
        # contiguous from 1: nothing missing, nothing half-written at the end
        assert [entry.seq for entry in entries] == list(range(1, size + 1))
        assert journal.engine.seq == size <= ref.total
        assert journal.tree.size == size
        lost = [seq for seq in self.acked if seq > size]
        assert not lost, f"acknowledged seqs {lost[:5]}... not in the journal of {size}"
        for seq, head in self.acked.items():
            assert entries[seq - 1].chain_head == head, f"seq {seq}: not the acknowledged head"
        # the workload's transactions, in order, each once, executed as the reference did
        for entry in entries:
            index = entry.seq - 1
            assert entry.tx == ref.tx_bytes[index], f"seq {entry.seq}: another transaction"
            assert entry.timestamp_ns == timestamp_of(entry.seq)
            assert entry.outcome == ref.outcomes[index], f"seq {entry.seq}: another outcome"
            assert entry.chain_head == ref.heads[index], f"seq {entry.seq}: another chain head"
        # the recovered engine is a clean replay of the record
        snapshots = {seq: data for seq, data in store.snapshots()}
        fresh = {
            seq: data
            for seq, data in snapshots.items()
            if (seq, hashlib.sha256(data).digest()) not in self.seen_snapshots
        }
        replay_digests: dict[int, bytes] = {}
        engine = Engine(ref.workfile.genesis)
        for entry in entries:
            tx = _tx_decoder.decode(entry.tx)
            outcome = engine.apply(Sequenced(entry.seq, entry.timestamp_ns, tx), True)
            assert encode(outcome) == entry.outcome
            if entry.seq in fresh:
                replay_digests[entry.seq] = engine.digest()
        assert engine.chain_head == journal.engine.chain_head
        assert engine.digest() == journal.engine.digest(), "recovered state differs from replay"
        # the tree and the signed checkpoints
        checkpoints = check_checkpoints(journal, store, size)
        # every snapshot not checked before restores to the state of its seq
        for seq, data in fresh.items():
            restored = restore_snapshot(ref.workfile.genesis, data)
            assert restored.seq == seq <= size
            assert restored.chain_head == entries[seq - 1].chain_head
            assert restored.digest() == replay_digests[seq], f"snapshot {seq}: another state"
            self.seen_snapshots.add((seq, hashlib.sha256(data).digest()))
        return Recovered(
            size,
            journal.engine.digest(),
            read_by_recovery,
            sorted(snapshots, reverse=True),
            checkpoints[-1][0] if checkpoints else 0,
        )

    def damage_snapshots(self, seqs: list[int]) -> None:
        """Overwrite the start of each snapshot's blob in the SQLite file itself (those
        not damaged yet)."""
        for suffix in ("-wal", "-shm"):  # the last connection closed: all in the main file
            side = self.path.with_name(self.path.name + suffix)
            assert not side.exists() or side.stat().st_size == 0
        with sqlite3.connect(self.path) as db:
            rows = {int(s): bytes(d) for s, d in db.execute("SELECT seq, data FROM snapshots")}
        db.close()
        seqs = [s for s in seqs if (s, hashlib.sha256(rows[s]).digest()) not in self.damaged]
        raw = bytearray(self.path.read_bytes())
        for seq in seqs:
            head = rows[seq][:SNAPSHOT_HEAD]
            at = raw.find(head)
            assert at >= 0 and raw.find(head, at + 1) < 0, f"snapshot {seq} not found once"
            raw[at : at + len(head)] = b"\xff" * len(head)
        self.path.write_bytes(raw)
        with sqlite3.connect(self.path) as db:
            damaged = {int(s): bytes(d) for s, d in db.execute("SELECT seq, data FROM snapshots")}
        db.close()
        for seq in seqs:
            assert damaged[seq] != rows[seq]
            with pytest.raises(SnapshotError):
                restore_snapshot(self.reference.workfile.genesis, damaged[seq])
            self.damaged.add((seq, hashlib.sha256(damaged[seq]).digest()))
            self.seen_snapshots.add((seq, hashlib.sha256(damaged[seq]).digest()))


@dataclass(frozen=True)
class Recovered:
    size: int
    digest: bytes
    snapshots_read: list[int]
    """The snapshots recovery read, newest first: the last one read is the one it used."""
    snapshots: list[int]
    """Every stored snapshot's seq, newest first."""
    last_checkpoint: int


# -- the tests -------------------------------------------------------------------------


def run_to_the_end(path: Path, reference: Reference, log: Path) -> Child:
    """A child run left to finish the workload."""
    with Child(path, reference, log) as child:
        child.finish(timeout=300)
    assert child.proc.returncode == 0, child.stderr()
    assert child.done is not None, child.stderr()
    return child


def check_checkpoints(journal: Journal, store: JournalStore, size: int) -> list[tuple[int, bytes]]:
    """Every stored checkpoint is signed by the operator for this log, within the
    record, and is the tree's root at its size; returns them, oldest first."""
    verifier = journal.verifier()
    checkpoints = store.checkpoints()
    for cp_size, note in checkpoints:
        cp = parse_signed_checkpoint(note, [verifier], origin=journal.origin)
        assert cp.size == cp_size <= size
        assert cp.root_hash == journal.tree.root(cp_size), f"checkpoint {cp_size}: bad root"
    return checkpoints


def count_landing(stats: Counter[str], mode: str, child: Child, recovered: Recovered) -> None:
    """Tally where a kill landed, for the run's summary (shown with -s)."""
    stats[f"aimed: {mode}"] += 1
    if child.start_seq is None:
        stats["landed in start-up or recovery"] += 1
    elif recovered.size > child.position:
        stats["landed between commit and ack"] += 1
    if child.partial_lines:
        stats["cut an ack line short"] += 1
    if mode == "write" and child.writes:
        kind, at = child.writes[-1]
        stored = (
            at in recovered.snapshots if kind == "snapshot" else at == recovered.last_checkpoint
        )
        stats[f"landed in a {kind} write ({'stored' if stored else 'not stored'})"] += 1


@pytest.mark.slow
def test_sigkilled_journal_loses_no_acknowledged_entry(
    reference: Reference, tmp_path: Path
) -> None:
    assert KILLS >= 1
    clean = run_to_the_end(tmp_path / "clean.sqlite", reference, tmp_path / "clean.log").done
    assert clean == (reference.total, reference.digest, reference.heads[-1])

    rng = random.Random(SEED)
    last_target = int(reference.total * 0.95)  # the child never finishes before the last kill
    targets = sorted(rng.randint(1, last_target) for _ in range(KILLS))
    damage_newest_at, damage_all_at = KILLS // 3, 2 * KILLS // 3
    path = tmp_path / "journal.sqlite"
    log = tmp_path / "child.log"
    checker = Checker(path, reference)
    stats: Counter[str] = Counter()
    size = 0
    for kill, target in enumerate(targets):
        (mode,) = rng.choices(list(KILL_MODES), list(KILL_MODES.values()))
        with Child(path, reference, log) as child:
            if mode == "timed":
                child.wait_for(target, rng.uniform(0, TIMED_KILL_S))
            else:
                reached = child.wait_for(target, STALL_S)
                if mode == "write":
                    reached = reached and child.wait_for_write(STALL_S)
                assert reached or not child.alive(), "the child stalled"
                delay = WRITE_KILL_DELAY_S if mode == "write" else ACK_KILL_DELAY_S
                time.sleep(rng.uniform(0, delay))
            killed = child.kill()
        assert killed and child.done is None, f"kill {kill}: the child exited by itself\n" + (
            child.stderr()
        )
        checker.acked.update(child.acks)
        recovered = checker.check()
        assert recovered.size >= size, "the journal shrank"
        size = recovered.size
        count_landing(stats, mode, child, recovered)

        if kill == damage_newest_at:
            assert len(recovered.snapshots) >= 2, "no older snapshot to fall back to"
            newest, older = recovered.snapshots[:2]
            checker.damage_snapshots([newest])
            fallback = checker.check()
            assert fallback.snapshots_read == [newest, older]  # skipped the damaged one
            assert fallback.digest == recovered.digest
        elif kill == damage_all_at:
            assert recovered.snapshots, "no snapshot to damage"
            checker.damage_snapshots(recovered.snapshots)
            fallback = checker.check()
            assert fallback.snapshots_read == recovered.snapshots  # none restored: genesis
            assert fallback.digest == recovered.digest

    child = run_to_the_end(path, reference, log)
    checker.acked.update(child.acks)
    assert child.done == clean
    final = checker.check()
    assert final.size == reference.total
    assert final.digest == reference.digest == clean[1]
    print(f"\ncrash test: {KILLS} kills, {size} of {reference.total} entries at the last kill")
    for what, count in sorted(stats.items()):
        print(f"  {what}: {count}")


# -- snapshot damage that decodes: the journal must not trust it ---------------------------


def _journal_with_snapshots(reference: Reference, path: Path, count: int) -> None:
    store = SqliteJournal(path)
    journal = open_journal(store, reference.workfile.genesis, 100, 50)
    txs = reference.workfile.txs[:count]
    for start in range(0, count, 25):
        journal.submit(txs[start : start + 25])
    journal.close()


def _clean_replay(reference: Reference, path: Path) -> Engine:
    store = SqliteJournal(path)
    engine = Engine(reference.workfile.genesis)
    for entry in store.read():
        engine.apply(Sequenced(entry.seq, entry.timestamp_ns, _tx_decoder.decode(entry.tx)), True)
    store.close()
    return engine


def _rewrite_in_newest_snapshot(path: Path, old: bytes, new: bytes) -> int:
    """Replace `old` with `new` inside the newest snapshot's blob, in the file itself."""
    assert len(old) == len(new)
    with sqlite3.connect(path) as db:
        seq, data = db.execute("SELECT seq, data FROM snapshots ORDER BY seq DESC").fetchone()
    db.close()
    data = bytes(data)
    raw = bytearray(path.read_bytes())
    start = raw.find(data[:SNAPSHOT_HEAD])
    at = raw.find(old, start)
    assert start >= 0 and at >= 0
    raw[at : at + len(old)] = new
    path.write_bytes(raw)
    with sqlite3.connect(path) as db:
        (damaged,) = db.execute("SELECT data FROM snapshots WHERE seq = ?", (seq,)).fetchone()
    db.close()
    at = data.find(old)
    assert bytes(damaged) == data[:at] + new + data[at + len(old) :]  # that blob, that spot
    return int(seq)


def test_snapshot_with_a_damaged_chain_head_is_skipped(
    reference: Reference, tmp_path: Path
) -> None:
    path = tmp_path / "journal.sqlite"
    _journal_with_snapshots(reference, path, 620)
    with sqlite3.connect(path) as db:
        (data,) = db.execute("SELECT data FROM snapshots ORDER BY seq DESC").fetchone()
    db.close()
    head = decode_snapshot(bytes(data)[32:]).chain_head
    key = msgspec.msgpack.encode("chain_head") + b"\xc4\x20"  # the key, then bin 8 of 32 bytes
    _rewrite_in_newest_snapshot(path, key + head, key + bytes([head[0] ^ 1]) + head[1:])

    journal = open_journal(SqliteJournal(path), reference.workfile.genesis, 0, 0)
    try:
        clean = _clean_replay(reference, path)
        assert journal.engine.chain_head == clean.chain_head
        assert journal.engine.digest() == clean.digest()
    finally:
        journal.close()


def test_snapshot_with_damaged_state_is_not_restored(reference: Reference, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    _journal_with_snapshots(reference, path, 620)
    with sqlite3.connect(path) as db:
        (data,) = db.execute("SELECT data FROM snapshots ORDER BY seq DESC").fetchone()
    db.close()
    market = decode_snapshot(bytes(data)[32:]).markets[0]
    spec = msgspec.msgpack.encode(market.spec)
    moved = market.mark + market.spec.tick_size  # one tick: same msgpack length
    _rewrite_in_newest_snapshot(
        path, spec + msgspec.msgpack.encode(market.mark), spec + msgspec.msgpack.encode(moved)
    )

    journal = open_journal(SqliteJournal(path), reference.workfile.genesis, 0, 0)
    try:
        clean = _clean_replay(reference, path)
        assert journal.engine.chain_head == clean.chain_head  # the tail re-executed the same
        assert journal.engine.digest() == clean.digest(), "recovered a state the record never had"
    finally:
        journal.close()
