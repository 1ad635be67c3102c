"""Crash test of the sequencer: many concurrent clients, SIGKILL at random moments.

A child process (crash_sequencer_child.py) runs a Sequencer on a VerifierPool over
one SQLite journal, with one thread per client, each submitting its own stream of
pre-signed transactions and printing `ack <seq> <chain head> <tx id>` once the
transaction's future resolves (its durable receipt). How the clients interleave,
and so the seq each transaction gets, changes from run to run: a transaction is
known by its identity, the SHA-256 of its canonical bytes. The parent kills the
child and its verifier workers (one process group) with SIGKILL, aimed as in
test_crash.py: soon after the acks reach a random seq, at the first snapshot or
checkpoint write after it, or at a random time from spawn (start-up, recovery, the
pool's start included). A child on its way to a kill may submit only a few
hundred transactions beyond its target, then holds until killed: it journals
thousands a second, and a parent slowed by a busy machine must not find it
finished. After every kill the parent opens the journal and checks:

- every acknowledged transaction is in the journal exactly once, at the seq and
  with the chain head of its acknowledgement;
- the entries run contiguously from 1, each a transaction of the workload, none
  twice, each client's in the order of its stream (a prefix of it), all accepted,
  with the clock's timestamp of their seq; what was there at the last check is
  still there, unchanged;
- nothing is applied that is not journaled: recovery (the Journal constructor)
  succeeds and the recovered engine's digest and chain head equal a clean replay
  of every stored entry into a fresh Engine, signatures verified again, each
  entry's outcome and chain head re-derived; the tree holds one leaf per entry,
  every signed checkpoint is the tree's root at its size, and every new snapshot
  restores to the replayed state of its seq;
- the next child starts from the seq the record ends at, submits only what the
  journal does not hold, and the last one, left to finish, leaves every
  transaction of the workload in the journal exactly once.

The workload keeps the clients independent, so that any interleaving is accepted
in full: each client has its own perpetual on its own index, its own oracle and
custodian keys (so its nonces are its own) and its own accounts, and its cancels
name its own orders by client order id. The final digest differs between runs
(order ids and timestamps follow the seq); the checks are about the record.

CRASH_KILLS sets the number of kills (30 here, 300 in `make crash`); run with -s
for where the kills landed.
"""

from __future__ import annotations

import hashlib
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest

# The children and the checks of test_crash.py sit next to this file: pytest's default
# (prepend) import mode puts this directory on sys.path.
from crash_child import open_journal, timestamp_of
from crash_sequencer_child import StreamsWorkfile, tx_id
from test_crash import (
    ACK_KILL_DELAY_S,
    CHECKPOINT_EVERY,
    KILL_MODES,
    SNAPSHOT_EVERY,
    STALL_S,
    TIMED_KILL_S,
    WRITE_KILL_DELAY_S,
    Child,
    RecordingStore,
    Recovered,
    check_checkpoints,
    count_landing,
)

from clearhouse.auth.signing import Ed25519Signer, sign_transaction
from clearhouse.auth.verifier import verify_transactions
from clearhouse.core import (
    Accepted,
    CancelOrder,
    Deposit,
    Engine,
    Genesis,
    GenesisKey,
    OracleUpdate,
    OrderType,
    Payload,
    PlaceOrder,
    Rejected,
    Role,
    Sequenced,
    Side,
    TimeInForce,
    Transaction,
    make_genesis,
)
from clearhouse.core.catalogue import default_catalogue
from clearhouse.core.codec import decode_outcome, encode
from clearhouse.journal import Journal
from clearhouse.journal.journal import restore_snapshot
from clearhouse.testing import signer_for, standard_genesis

CHILD = Path(__file__).with_name("crash_sequencer_child.py")
KILLS = int(os.environ.get("CRASH_KILLS", "30"))
SEED = 20_250_612
CLIENTS = 6
ACCOUNTS_PER_CLIENT = 4
TXS_PER_CLIENT = 400
WORKERS = 2
BUDGET_MARGIN = 400
"""A child killed on its way to a target may submit this many beyond it (many
batches' worth) before it holds: the kill lands while it runs, not after it finished."""
PRICE = 100_000_000_000
"""Every client's index starts at 100,000 USDC (in micro-USDC), like BTC-PERP."""
DEPOSIT = 50_000_000_000
EXPIRES_AT_NS = 1_800 * 10**9
"""Every transaction's expiry: after any sequencer time the run reaches, within the
lifetime the engine allows."""

_tx_decoder = msgspec.msgpack.Decoder(Transaction)


# -- the workload: one independent stream per client ----------------------------------


def streams_genesis(clients: int, accounts: int) -> Genesis:
    """The standard venue with, per client, accounts, a perpetual on an index of its
    own, and a custodian and an oracle key of its own."""
    template = next(spec for spec in default_catalogue() if spec.id == "BTC-PERP")
    instruments = tuple(
        msgspec.structs.replace(template, id=f"C{c}-PERP", index=f"C{c}-USD")
        for c in range(clients)
    )
    traders = [f"c{c}-acct{a}" for c in range(clients) for a in range(accounts)]
    base = standard_genesis(traders, instruments=instruments)
    keys = [
        GenesisKey(signer_for(f"{role.value}-c{c}").public_key(), f"{role.value}-c{c}", (role,))
        for c in range(clients)
        for role in (Role.CUSTODIAN, Role.ORACLE)
    ]
    return make_genesis(
        base.venue_id, base.keys + tuple(keys), instruments, base.governance, base.config
    )


class StreamBuilder:
    """Builds one client's stream, keeping only what its own state accepts.

    Each candidate is applied to an engine that holds this client's stream alone;
    a rejected one (a cancel of an order filled meanwhile, a market order with no
    book) is left out and its nonce given to the next. The client's state is its
    own under any interleaving, so what it accepts here it accepts there. An oracle
    observation is stamped with the clock's time of its position in the stream: its
    seq in any interleaving is at least that."""

    def __init__(self, genesis: Genesis, client: int) -> None:
        self.genesis = genesis
        self.engine = Engine(genesis)
        self.txs: list[Transaction] = []
        self._signers: dict[str, Ed25519Signer] = {}
        self._nonces: Counter[str] = Counter()
        self.index = f"C{client}-USD"
        self.custodian = f"{Role.CUSTODIAN.value}-c{client}"
        self.oracle = f"{Role.ORACLE.value}-c{client}"

    def offer(self, payload: Payload, by: str) -> bool:
        signer = self._signers.get(by) or self._signers.setdefault(by, signer_for(by))
        tx = Transaction(payload, signer.public_key(), self._nonces[by] + 1, EXPIRES_AT_NS)
        seq = self.engine.seq + 1
        if isinstance(self.engine.apply(Sequenced(seq, timestamp_of(seq), tx), True), Rejected):
            return False
        self._nonces[by] += 1
        self.txs.append(sign_transaction(signer, self.genesis.venue_id, tx))
        return True

    def observe(self, price: int) -> bool:
        observed_ns = timestamp_of(len(self.txs) + 1)
        return self.offer(OracleUpdate(self.index, price, observed_ns), self.oracle)


def client_stream(
    genesis: Genesis, client: int, length: int, rng: random.Random
) -> list[Transaction]:
    """First a price and the deposits, then the bench workload's mix on its own
    market: resting limits behind the mid, cancels of them, marketable orders that
    trade against them, now and then a price move."""
    builder = StreamBuilder(genesis, client)
    instrument = f"C{client}-PERP"
    tick = next(spec.tick_size for spec in genesis.instruments if spec.id == instrument)
    accounts = [f"c{client}-acct{a}" for a in range(ACCOUNTS_PER_CLIENT)]
    mark = PRICE
    opened = [builder.observe(mark)]
    opened += [
        builder.offer(Deposit(account, genesis.config.settlement_asset, DEPOSIT), builder.custodian)
        for account in accounts
    ]
    assert all(opened), "the opening price and the deposits are accepted"
    resting: list[tuple[str, str]] = []
    while len(builder.txs) < length:
        draw = rng.random()
        if draw < 0.005:
            moved = mark + rng.randint(-5, 5) * tick
            if builder.observe(moved):
                mark = moved
            continue
        if draw < 0.25 and resting:
            account, order = resting.pop(rng.randrange(len(resting)))
            builder.offer(CancelOrder(account, client_order_id=order), account)
            continue
        account = rng.choice(accounts)
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        sign = 1 if side is Side.BUY else -1
        order = f"k{len(builder.txs) + 1}"
        size = rng.randint(1, 10)
        mid = mark // tick * tick
        if draw < 0.85:  # resting: one to twenty ticks behind the mid on its own side
            price = mid - sign * rng.randint(1, 20) * tick
            place = PlaceOrder(account, instrument, side, size, price=price, client_order_id=order)
            if builder.offer(place, account):
                resting.append((account, order))
        elif draw < 0.95:  # through the touch, what does not fill is cancelled
            price = mid + sign * rng.randint(1, 25) * tick
            builder.offer(
                PlaceOrder(
                    account, instrument, side, size, price=price, time_in_force=TimeInForce.IOC
                ),
                account,
            )
        else:
            builder.offer(
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
    return builder.txs


@dataclass(frozen=True)
class Workload:
    workfile: StreamsWorkfile
    path: Path
    """The workfile on disk, as the child reads it."""
    place: dict[bytes, tuple[int, int]]
    """Each transaction's identity -> (its client, its position in the client's stream)."""

    @property
    def total(self) -> int:
        return len(self.place)


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Workload:
    genesis = streams_genesis(CLIENTS, ACCOUNTS_PER_CLIENT)
    rng = random.Random(SEED)
    streams = [client_stream(genesis, c, TXS_PER_CLIENT, rng) for c in range(CLIENTS)]
    place = {
        tx_id(encode(tx)): (client, position)
        for client, stream in enumerate(streams)
        for position, tx in enumerate(stream)
    }
    assert len(place) == CLIENTS * TXS_PER_CLIENT  # each transaction once
    # Built one client at a time; taken a transaction from each client in turn, it is
    # accepted in full too.
    engine = Engine(genesis)
    interleaved = [stream[i] for i in range(TXS_PER_CLIENT) for stream in streams]
    verdicts = verify_transactions(genesis.venue_id, interleaved)
    for tx, valid in zip(interleaved, verdicts, strict=True):
        seq = engine.seq + 1
        outcome = engine.apply(Sequenced(seq, timestamp_of(seq), tx), valid)
        assert isinstance(outcome, Accepted), outcome
    workfile = StreamsWorkfile(genesis, streams)
    path = tmp_path_factory.mktemp("crash-sequencer") / "streams.msgpack"
    path.write_bytes(msgspec.msgpack.encode(workfile))
    return Workload(workfile, path, place)


# -- the child process ----------------------------------------------------------------


class SequencerChild(Child):
    """One run of crash_sequencer_child.py, in a process group of its own with its
    verifier workers, so that one SIGKILL takes them all (a worker outlives a killed
    parent otherwise). Reads its stdout as Child does; `acks` maps seq -> chain head,
    `position` is the highest seq acknowledged. With a `budget` it holds, alive,
    once it has submitted that many (`held`)."""

    def __init__(
        self, journal: Path, workload: Workload, log: Path, budget: int | None = None
    ) -> None:
        # Child's reading state, set up here for another command line.
        self._log_path = log
        self._log_start = log.stat().st_size if log.exists() else 0
        with log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(CHILD),
                    str(journal),
                    str(workload.path),
                    f"--seed={SEED}",
                    f"--snapshot-every={SNAPSHOT_EVERY}",
                    f"--checkpoint-every={CHECKPOINT_EVERY}",
                    f"--workers={WORKERS}",
                    *([] if budget is None else [f"--budget={budget}"]),
                ],
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        self.start_seq: int | None = None
        self.acks: dict[int, bytes] = {}
        self.acked: dict[bytes, int] = {}
        """Transaction identity -> the seq acknowledged for it."""
        self.position = 0
        self.held = False
        self.done: tuple[int, bytes, bytes] | None = None
        self.writes: list[tuple[str, int]] = []
        self.partial_lines = 0
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _take(self, line: bytes) -> None:
        if line.endswith(b"\n") and line.startswith(b"ack "):
            _, seq_text, head, ident = line.decode("ascii").split()
            seq = int(seq_text)
            assert self.start_seq is not None and seq > self.start_seq, line
            assert seq not in self.acks and bytes.fromhex(ident) not in self.acked, line
            self.acks[seq] = bytes.fromhex(head)
            self.acked[bytes.fromhex(ident)] = seq
            self.position = max(self.position, seq)
        elif line == b"held\n":
            self.held = True
        else:
            super()._take(line)  # start, snapshot, checkpoint, done, or a line cut short

    def wait_for(self, target_seq: int, seconds: float) -> bool:
        """As Child.wait_for, or until the child holds (its budget spent)."""
        return self._pump(lambda: self.position >= target_seq or self.held, seconds)

    def wait_for_write(self, seconds: float) -> bool:
        """As Child.wait_for_write, or until the child holds (its budget spent)."""
        count = len(self.writes)
        return self._pump(lambda: len(self.writes) > count or self.held, seconds)

    def __enter__(self) -> SequencerChild:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.alive():
            self._kill_group()
            self.proc.wait()

    def kill(self) -> bool:
        """SIGKILL the group (the child and its workers), then read every complete
        line. True if the child was still running."""
        killed = self.alive()
        if killed:
            self._kill_group()
        self.finish()
        return killed

    def _kill_group(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)

    def reap_workers(self) -> None:
        """After the child ended by itself: its workers must have ended with it."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return
        os.killpg(self.proc.pid, signal.SIGKILL)
        raise AssertionError("verifier workers outlived the child")


# -- checking the journal on disk -------------------------------------------------------


@dataclass
class Checker:
    """Opens the journal after each kill and checks the record."""

    path: Path
    workload: Workload
    acked: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)
    """Every acknowledgement any child printed: identity -> (seq, chain head)."""
    heads: list[bytes] = field(default_factory=list)
    """The chain heads of the record at the last check: it may only grow."""
    verdicts: dict[bytes, bool] = field(default_factory=dict)
    """Signature verdicts by identity: the same bytes get the same verdict."""
    seen_snapshots: set[tuple[int, bytes]] = field(default_factory=set)

    def take_acks(self, child: SequencerChild) -> None:
        for ident, seq in child.acked.items():
            ack = (seq, child.acks[seq])
            assert self.acked.setdefault(ident, ack) == ack, f"{ident.hex()} acknowledged twice"

    def check(self) -> Recovered:
        store = RecordingStore(self.path)
        journal = open_journal(store, self.workload.workfile.genesis, 0, 0)
        try:
            return self._check(store, journal)
        finally:
            journal.close()

    def _check(self, store: RecordingStore, journal: Journal) -> Recovered:
        genesis = self.workload.workfile.genesis
        read_by_recovery = list(store.snapshots_read)
        size = store.size()
        entries = list(store.read())
        # contiguous from 1, nothing half-written at the end, nothing rewritten
        assert [entry.seq for entry in entries] == list(range(1, size + 1))
        assert journal.engine.seq == size <= self.workload.total
        assert journal.tree.size == size
        assert [entry.chain_head for entry in entries[: len(self.heads)]] == self.heads, "rewritten"
        self.heads = [entry.chain_head for entry in entries]
        # each a workload transaction, none twice, each client's in its stream's order
        idents = [tx_id(entry.tx) for entry in entries]
        unknown = [
            entry.seq
            for entry, ident in zip(entries, idents, strict=True)
            if ident not in self.workload.place
        ]
        assert not unknown, f"seqs {unknown[:5]} hold no transaction of the workload"
        twice = [ident.hex() for ident, count in Counter(idents).items() if count > 1]
        assert not twice, f"journaled more than once: {twice[:3]}"
        positions: list[list[int]] = [[] for _ in self.workload.workfile.streams]
        for ident in idents:
            client, position = self.workload.place[ident]
            positions[client].append(position)
        for client, held in enumerate(positions):
            assert held == list(range(len(held))), (
                f"client {client}: not a prefix of its stream, in order"
            )
        for entry in entries:
            assert entry.timestamp_ns == timestamp_of(entry.seq)
            assert isinstance(decode_outcome(entry.outcome), Accepted), f"seq {entry.seq}: rejected"
        # every acknowledged transaction, where and as it was acknowledged
        where = {ident: entry.seq for ident, entry in zip(idents, entries, strict=True)}
        for ident, (seq, head) in self.acked.items():
            journaled_at = where.get(ident)
            assert journaled_at is not None, (
                f"acknowledged at seq {seq}, not in the journal of {size}"
            )
            assert journaled_at == seq, f"acknowledged at seq {seq}, journaled at {journaled_at}"
            assert entries[seq - 1].chain_head == head, f"seq {seq}: not the acknowledged head"
        # the recovered engine is a clean replay of the record, signatures verified again
        txs = [_tx_decoder.decode(entry.tx) for entry in entries]
        unverified = [
            (ident, tx) for ident, tx in zip(idents, txs, strict=True) if ident not in self.verdicts
        ]
        verdicts = verify_transactions(genesis.venue_id, [tx for _, tx in unverified])
        self.verdicts.update(
            (ident, valid) for (ident, _), valid in zip(unverified, verdicts, strict=True)
        )
        snapshots = dict(store.snapshots())
        fresh = {
            seq: data
            for seq, data in snapshots.items()
            if (seq, hashlib.sha256(data).digest()) not in self.seen_snapshots
        }
        replay_digests: dict[int, bytes] = {}
        engine = Engine(genesis)
        for entry, ident, tx in zip(entries, idents, txs, strict=True):
            outcome = engine.apply(
                Sequenced(entry.seq, entry.timestamp_ns, tx), self.verdicts[ident]
            )
            assert encode(outcome) == entry.outcome, f"seq {entry.seq}: another outcome on replay"
            assert engine.chain_head == entry.chain_head, f"seq {entry.seq}: another chain head"
            if entry.seq in fresh:
                replay_digests[entry.seq] = engine.digest()
        assert engine.chain_head == journal.engine.chain_head
        assert engine.digest() == journal.engine.digest(), "recovered state differs from replay"
        # the tree, the signed checkpoints and the snapshots
        checkpoints = check_checkpoints(journal, store, size)
        for seq, data in fresh.items():
            restored = restore_snapshot(genesis, data)
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


# -- the test ---------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkilled_sequencer_loses_no_acknowledged_transaction(
    workload: Workload, tmp_path: Path
) -> None:
    assert KILLS >= 1
    rng = random.Random(SEED)
    last_target = int(workload.total * 0.95)  # the child never finishes before the last kill
    targets = sorted(rng.randint(1, last_target) for _ in range(KILLS))
    path = tmp_path / "journal.sqlite"
    log = tmp_path / "child.log"
    checker = Checker(path, workload)
    stats: Counter[str] = Counter()
    size = 0
    for kill, target in enumerate(targets):
        (mode,) = rng.choices(list(KILL_MODES), list(KILL_MODES.values()))
        # never the whole rest: a child that finished could not be killed
        budget = min(max(target - size, 0) + BUDGET_MARGIN, workload.total - size - 1)
        with SequencerChild(path, workload, log, budget) as child:
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
        assert child.start_seq in (None, size), (
            f"kill {kill}: started at {child.start_seq}, not {size}"
        )
        checker.take_acks(child)
        recovered = checker.check()
        size = recovered.size
        count_landing(stats, mode, child, recovered)
        if child.held:
            stats["held at its budget"] += 1

    with SequencerChild(path, workload, log) as child:
        child.finish(timeout=300)
    assert child.proc.returncode == 0, child.stderr()
    child.reap_workers()
    assert child.done is not None, child.stderr()
    assert child.start_seq == size
    checker.take_acks(child)
    final = checker.check()
    assert final.size == workload.total
    assert child.done == (final.size, final.digest, checker.heads[-1])
    print(
        f"\nsequencer crash test: {KILLS} kills, {size} of {workload.total} entries at the last kill"
    )
    for what, count in sorted(stats.items()):
        print(f"  {what}: {count}")
