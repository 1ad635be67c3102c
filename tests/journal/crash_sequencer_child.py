"""The process the sequencer crash test kills: many clients journal through one Sequencer.

    python tests/journal/crash_sequencer_child.py JOURNAL WORKFILE [--seed N]
        [--snapshot-every N] [--checkpoint-every N] [--workers N] [--budget N]

It starts a VerifierPool of `--workers` processes, opens the journal at JOURNAL
(recovering whatever a killed predecessor left) and starts a Sequencer on both.
Then one thread per client stream of WORKFILE submits, in the stream's order, the
transactions of its stream the journal does not hold yet, recognised by identity
(`tx_id`: the SHA-256 of the canonical bytes), since the seq a transaction gets
depends on how the clients interleave. Each client submits in chunks of varying
size (seeded by the seed, the client and the position it resumes from) and waits
for each future in turn, so several clients' chunks meet in the sequencer's
batches and group commits.

With `--budget N` the clients together submit at most N transactions, then the
process holds (prints `held` and waits to be killed) instead of finishing: it
journals thousands a second, so a parent slowed by a busy machine could otherwise
find it finished when its kill was meant to land in the middle.

On stdout, one whole line per write (the clients share it):

    start <seq>                 after recovery: the journal holds seq 1..<seq>
    ack <seq> <chain head hex> <tx id hex>
                                once the transaction's future has resolved with its
                                receipt, that is after the durable commit
    snapshot <seq>              a snapshot (or checkpoint of <size> entries) is about
    checkpoint <size>           to be written (crash_child.AnnouncingStore)
    held                        the budget is spent, what it covered acknowledged
    done <seq> <digest hex> <chain head hex>   every stream is in the journal

The clock is crash_child's: a function of the sequence number.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import msgspec

# crash_child.py sits next to this file, which runs as a script: its folder is on sys.path.
from crash_child import AnnouncingStore, Output, batch_size, open_journal

from clearhouse.auth.verifier import VerifierPool
from clearhouse.core import Genesis, Transaction
from clearhouse.core.codec import encode
from clearhouse.sequencer import Sequencer


class StreamsWorkfile(msgspec.Struct, frozen=True):
    """The genesis and one stream of signed transactions per client."""

    genesis: Genesis
    streams: list[list[Transaction]]


def tx_id(canonical: bytes) -> bytes:
    """A transaction's identity: the SHA-256 of its canonical bytes (what the journal holds)."""
    return hashlib.sha256(canonical).digest()


class SharedOutput(Output):
    """Output for several threads: each write is one or more whole lines, never mixed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            super().write(text)


class Budget:
    """How many transactions the clients may still submit, shared; None: no limit."""

    def __init__(self, count: int | None) -> None:
        self._lock = threading.Lock()
        self._left = count

    def take(self, wanted: int) -> int:
        """As many of `wanted` as the budget still grants, taken from it."""
        with self._lock:
            if self._left is None:
                return wanted
            granted = min(wanted, self._left)
            self._left -= granted
            return granted


class ClientThread(threading.Thread):
    """One client: submits what is left of its stream, in order, in chunks."""

    def __init__(
        self,
        number: int,
        sequencer: Sequencer,
        txs: list[Transaction],
        rng: random.Random,
        budget: Budget,
        out: Output,
    ) -> None:
        super().__init__(name=f"client-{number}")
        self.sequencer = sequencer
        self.txs = txs
        self.rng = rng
        self.budget = budget
        self.out = out
        self.error: BaseException | None = None
        self.finished = False
        """Its whole stream acknowledged (not stopped by the budget)."""

    def run(self) -> None:
        try:
            self._submit_all()
        except BaseException as exc:  # reported by the main thread, which exits non-zero
            self.error = exc

    def _submit_all(self) -> None:
        txs = self.txs
        at = 0
        while at < len(txs):
            chunk = txs[at : at + self.budget.take(batch_size(self.rng))]
            if not chunk:
                return
            futures = self.sequencer.submit_many(chunk)
            for tx, future in zip(chunk, futures, strict=True):
                receipt = future.result()
                if not receipt.journaled:
                    raise RuntimeError(f"{self.name}: not journaled: {receipt.outcome}")
                ident = tx_id(encode(tx)).hex()
                self.out.write(f"ack {receipt.seq} {receipt.chain_head.hex()} {ident}\n")
            at += len(chunk)
        self.finished = True


def run(
    journal_path: Path,
    workfile: StreamsWorkfile,
    seed: int,
    snapshot_every: int,
    checkpoint_every: int,
    workers: int,
    budget: Budget,
    out: Output,
) -> None:
    # The pool forks its workers before the journal opens its database and before any
    # other thread runs: a forked child inherits neither.
    with VerifierPool(workers) as pool:
        pool.warm_up()
        journal = open_journal(
            AnnouncingStore(journal_path, out), workfile.genesis, snapshot_every, checkpoint_every
        )
        journaled = {tx_id(entry.tx) for entry in journal.store.read()}
        out.write(f"start {journal.engine.seq}\n")
        sequencer = Sequencer(journal, pool=pool).start()
        clients = []
        for number, stream in enumerate(workfile.streams):
            left = [tx for tx in stream if tx_id(encode(tx)) not in journaled]
            rng = random.Random(f"{seed}:{number}:{len(stream) - len(left)}")
            clients.append(ClientThread(number, sequencer, left, rng, budget, out))
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        errors = [client for client in clients if client.error is not None]
        if not errors and not all(client.finished for client in clients):
            out.write("held\n")
            threading.Event().wait()  # until the kill
        sequencer.close()
        for client in errors:
            raise RuntimeError(f"{client.name} failed") from client.error
    with journal.lock:
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
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--budget", type=int, default=None)
    args = parser.parse_args(argv)
    workfile = msgspec.msgpack.decode(args.workfile.read_bytes(), type=StreamsWorkfile)
    run(
        args.journal,
        workfile,
        args.seed,
        args.snapshot_every,
        args.checkpoint_every,
        args.workers,
        Budget(args.budget),
        SharedOutput(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
