"""The process the crash test kills: journals a pre-signed workload into SQLite.

    python tests/journal/crash_child.py JOURNAL WORKFILE [--seed N] [--snapshot-every N]
        [--checkpoint-every N]

It opens the journal at JOURNAL (recovering whatever a killed predecessor left),
then submits the transactions of WORKFILE that the journal does not hold yet:
transaction k (1-based) is submitted only if seq k is not in the journal, so a run
resumes exactly where the durable record ends. Batches vary in size (seeded by the
seed and the position the run starts from, so every run is reproducible).

On stdout, flushed after every write, one line each:

    start <seq>                 after recovery: the journal holds seq 1..<seq>
    ack <seq> <chain head hex>  per transaction, only once `submit` has returned,
                                that is after the batch's durable commit
    snapshot <seq>              a snapshot (or checkpoint of <size> entries) is about
    checkpoint <size>           to be written: lets the parent aim a kill at the write
    done <seq> <digest hex> <chain head hex>   the whole workload is in the journal

The clock is deterministic (a function of the sequence number, the same one the
bench workload uses), so any interrupted run ends in the same state as an
uninterrupted one.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec

from clearhouse.bench.workload import TIMESTEP_NS
from clearhouse.core import Genesis, Transaction
from clearhouse.journal import Journal, SqliteJournal
from clearhouse.journal.store import JournalStore
from clearhouse.testing import signer_for

OPERATOR = "crash-operator"
"""The checkpoint key's name; its key is `signer_for(OPERATOR)`."""
BASE_NS = 1_000_000_000
"""The bench workload's clock: transaction `seq` is sequenced at BASE_NS + seq * TIMESTEP_NS."""


class Workfile(msgspec.Struct, frozen=True):
    """The genesis and the signed transactions, in the order they must be journaled."""

    genesis: Genesis
    txs: list[Transaction]


def timestamp_of(seq: int) -> int:
    return BASE_NS + seq * TIMESTEP_NS


class SeqClock:
    """A clock that reads the journal's next sequence number: deterministic, resumable."""

    def __init__(self) -> None:
        self.journal: Journal | None = None

    def __call__(self) -> int:
        if self.journal is None:
            raise RuntimeError("the clock was read before the journal opened")
        return timestamp_of(self.journal.engine.seq + 1)


def open_journal(
    store: JournalStore, genesis: Genesis, snapshot_every: int, checkpoint_every: int
) -> Journal:
    """The journal over `store`, recovered, with the deterministic clock attached."""
    clock = SeqClock()
    journal = Journal(
        store,
        genesis,
        signer_for(OPERATOR),
        OPERATOR,
        clock=clock,
        snapshot_every=snapshot_every,
        checkpoint_every=checkpoint_every,
    )
    clock.journal = journal
    return journal


def batch_size(rng: random.Random) -> int:
    """Mostly small batches, some single transactions, some large group commits."""
    draw = rng.random()
    if draw < 0.2:
        return 1
    if draw < 0.8:
        return rng.randint(2, 32)
    return rng.randint(33, 160)


class Output:
    """stdout, flushed after every write: a line the parent reads was really written."""

    def write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()


class AnnouncingStore(SqliteJournal):
    """The SQLite store, announcing each snapshot and checkpoint write before it starts."""

    def __init__(self, path: Path, out: Output) -> None:
        super().__init__(path)
        self._out = out

    def save_snapshot(self, seq: int, data: bytes) -> None:
        self._out.write(f"snapshot {seq}\n")
        super().save_snapshot(seq, data)

    def save_checkpoint(self, size: int, note: bytes) -> None:
        self._out.write(f"checkpoint {size}\n")
        super().save_checkpoint(size, note)


def run(
    journal_path: Path,
    workfile: Workfile,
    seed: int,
    snapshot_every: int,
    checkpoint_every: int,
    out: Output,
) -> None:
    journal = open_journal(
        AnnouncingStore(journal_path, out), workfile.genesis, snapshot_every, checkpoint_every
    )
    txs = workfile.txs
    done = journal.engine.seq
    out.write(f"start {done}\n")
    rng = random.Random(f"{seed}:{done}")
    while done < len(txs):
        batch = txs[done : done + batch_size(rng)]
        receipts = journal.submit(batch)
        seqs = [receipt.seq for receipt in receipts]
        if seqs != list(range(done + 1, done + len(batch) + 1)):
            raise RuntimeError(f"submitted after seq {done}, receipts for {seqs}")
        out.write("".join(f"ack {r.seq} {r.chain_head.hex()}\n" for r in receipts))
        done += len(batch)
    engine = journal.engine
    out.write(f"done {engine.seq} {engine.digest().hex()} {engine.chain_head.hex()}\n")
    journal.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("journal", type=Path)
    parser.add_argument("workfile", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--snapshot-every", type=int, default=37)
    parser.add_argument("--checkpoint-every", type=int, default=23)
    args = parser.parse_args(argv)
    workfile = msgspec.msgpack.decode(args.workfile.read_bytes(), type=Workfile)
    run(args.journal, workfile, args.seed, args.snapshot_every, args.checkpoint_every, Output())
    return 0


if __name__ == "__main__":
    sys.exit(main())
