"""Verify transaction signatures on every core.

Ed25519 verification is the gateway's most expensive step (tens of microseconds a
signature), and each signature is independent, so a batch is spread over worker
processes. The rule set is the one in `clearhouse.auth.ed25519`, applied by the
same function in every worker and in-process, so the pool and `verify_transaction`
agree by construction (and a test keeps them agreeing).

How a batch travels. From the sequencer and on recovery the parent already holds
each transaction's canonical bytes (what the journal records), so it sends those:
a worker decodes them, builds the signed message and verifies (`submit_encoded`,
`verify_encoded_batch`); the parent's share of the work is a slice of a list.
Handed transaction objects instead (`verify_batch`), the parent builds each transaction's signed message
(`signing_bytes`, a msgpack encode, about a microsecond) and sends workers plain
`(public key, message, signature)` byte triples, a chunk at a time, so no
transaction object is pickled and the per-chunk IPC cost is spread over
`chunk_txs` verifications. Chunks are submitted as they are built, so workers start
while the parent is still encoding; each worker answers with one byte per
transaction.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from types import TracebackType
from typing import Final, Protocol, Self

import msgspec

from clearhouse.auth.ed25519 import verify
from clearhouse.auth.signing import _signing_bytes, venue_domain
from clearhouse.core.txs import Transaction

CHUNK_TXS_MIN: Final = 64
CHUNK_TXS_MAX: Final = 1024
CHUNKS_PER_WORKER: Final = 4
"""A batch is cut into about this many chunks per worker (within the bounds above):
enough that a slow chunk does not leave the other workers idle at the end, few
enough that IPC stays a small fraction of the work."""

_Triple = tuple[bytes, bytes, bytes]


def verify_transaction(venue_id: str, tx: Transaction) -> bool:
    """Verify one transaction's signature in this process."""
    return verify(*_triple(venue_domain(venue_id), tx))


_UNSIGNABLE: Final[_Triple] = (b"", b"", b"")
"""Stands for a transaction no signature can cover (a field that does not encode,
such as an integer beyond 64 bits): an empty key fails the rule set's first check."""


def _triple(domain: bytes, tx: Transaction) -> _Triple:
    try:
        return (tx.signer, _signing_bytes(domain, tx), tx.signature)
    except (OverflowError, TypeError, ValueError):
        return _UNSIGNABLE


def _verify_triples(triples: list[_Triple]) -> bytes:
    """Worker side: one byte (1 valid, 0 not) per (public key, message, signature)."""
    return bytes(
        [verify(public_key, message, signature) for public_key, message, signature in triples]
    )


_tx_decoder = msgspec.msgpack.Decoder(Transaction)


def verify_encoded(domain: bytes, blobs: Sequence[bytes]) -> bytes:
    """One verdict byte per transaction given as its canonical bytes (1 valid, 0 not);
    bytes that do not decode to a transaction carry no valid signature.

    `domain` is `venue_domain(venue_id)`. The verdict is the one `verify_transaction`
    gives the decoded transaction, which is what the journal records and replays."""
    verdicts = bytearray(len(blobs))
    for index, blob in enumerate(blobs):
        try:
            tx = _tx_decoder.decode(blob)
        except msgspec.MsgspecError:
            continue
        verdicts[index] = verify(*_triple(domain, tx))
    return bytes(verdicts)


class _ClosedOnExit:
    """`with verifier:` closes it on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _ExecutorVerifier(_ClosedOnExit):
    """What both verifiers share: batches cut into chunks, each verified on the
    executor by the same functions as in process, verdicts back in order."""

    _closed_message = "the verifier is closed"

    def __init__(self, workers: int | None, executor: Executor) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._executor: Executor | None = executor

    def chunk_size(self, batch_txs: int) -> int:
        """How many transactions go to a worker at a time for a batch of this size."""
        raise NotImplementedError

    def verify_batch(self, venue_id: str, txs: Sequence[Transaction]) -> list[bool]:
        """One verdict per transaction, in order; same answers as `verify_transaction`.

        Raises ValueError for an invalid venue id, RuntimeError once closed.
        """
        executor = self._require_open()
        domain = venue_domain(venue_id)
        size = self.chunk_size(len(txs))
        futures: list[Future[bytes]] = []
        for start in range(0, len(txs), size):
            triples = [_triple(domain, tx) for tx in txs[start : start + size]]
            futures.append(executor.submit(_verify_triples, triples))
        verdicts: list[bool] = []
        for future in futures:
            verdicts.extend(byte == 1 for byte in future.result())
        return verdicts

    def submit_encoded(self, domain: bytes, blobs: Sequence[bytes]) -> Callable[[], bytes]:
        """Start verifying canonical transaction bytes and return at once; calling the
        result waits for the verdicts, one byte each (as `verify_encoded`). `domain`
        is `venue_domain(venue_id)`."""
        executor = self._require_open()
        size = self.chunk_size(len(blobs))
        futures = [
            executor.submit(verify_encoded, domain, blobs[start : start + size])
            for start in range(0, len(blobs), size)
        ]

        def verdicts() -> bytes:
            return b"".join(future.result() for future in futures)

        return verdicts

    def close(self) -> None:
        """Stop the workers, waiting for any batch in flight. Safe to call twice."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _require_open(self) -> Executor:
        if self._executor is None:
            raise RuntimeError(self._closed_message)
        return self._executor

    def __repr__(self) -> str:
        state = "closed" if self._executor is None else "open"
        return f"{type(self).__name__}(workers={self.workers}, {state})"


class VerifierPool(_ClosedOnExit):
    """Worker processes verifying transaction signatures in batches, each worker on
    a pipe of its own.

    A batch is cut into chunks (`chunk_size`), handed to the workers in turn; each
    worker answers its chunks in the order it got them, one verdict byte a
    transaction. There is no dispatcher thread between the caller and the workers:
    the thread that submits writes the chunks to the pipes, and the thread that
    waits reads the verdicts from them. In a process whose other threads compute,
    every hand-off from one thread to another costs up to the interpreter's switch
    interval (5 ms), and a sequencer acknowledging in a few milliseconds cannot
    spend two of them per batch on an executor's feeder and result threads.

    A worker that dies (killed, out of memory) fails the chunks it held, with
    RuntimeError; the pool starts a new worker in its place on the next batch. Use
    as a context manager, or call `close()`; a closed pool refuses work.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        chunk_txs: int | None = None,
        mp_context: BaseContext | None = None,
    ) -> None:
        """`workers` defaults to `os.cpu_count()`; `chunk_txs` fixes the chunk size
        (default: about `CHUNKS_PER_WORKER` chunks per worker, 64 to 1024 transactions);
        `mp_context` how workers start (default: the platform's)."""
        if workers is not None and workers < 1:
            raise ValueError("a verifier pool needs at least one worker")
        if chunk_txs is not None and chunk_txs < 1:
            raise ValueError("chunk_txs must be positive")
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.chunk_txs = chunk_txs
        self._context = mp_context if mp_context is not None else multiprocessing.get_context()
        self._lock = threading.Lock()
        """Guards the list of workers and the turn; each worker guards its own pipes."""
        self._turn = 0
        self._closed = False
        self._workers: list[_Worker] = []
        for _ in range(self.workers):
            self._workers.append(_Worker(self._context, self._workers))

    @property
    def pids(self) -> list[int]:
        """The process ids of the workers now running."""
        with self._lock:
            return [worker.pid for worker in self._workers]

    def warm_up(self) -> None:
        """Wait until every worker answers."""
        self._require_open()
        for wait in [self._send_to(worker, (_PING, b"", [])) for worker in self._live()]:
            wait()

    def chunk_size(self, batch_txs: int) -> int:
        """How many transactions go to a worker at a time for a batch of this size."""
        if self.chunk_txs is not None:
            return self.chunk_txs
        target = -(-batch_txs // (self.workers * CHUNKS_PER_WORKER))
        return max(CHUNK_TXS_MIN, min(CHUNK_TXS_MAX, target))

    def verify_batch(self, venue_id: str, txs: Sequence[Transaction]) -> list[bool]:
        """One verdict per transaction, in order; same answers as `verify_transaction`.

        Raises ValueError for an invalid venue id, RuntimeError once closed or when a
        worker dies with a chunk of this batch.
        """
        self._require_open()
        domain = venue_domain(venue_id)
        size = self.chunk_size(len(txs))
        waits = [
            self._send((_TRIPLES, b"", [_triple(domain, tx) for tx in txs[start : start + size]]))
            for start in range(0, len(txs), size)
        ]
        return [byte == 1 for wait in waits for byte in wait()]

    def submit_encoded(self, domain: bytes, blobs: Sequence[bytes]) -> Callable[[], bytes]:
        """Start verifying canonical transaction bytes and return at once; calling the
        result waits for the verdicts, one byte each (as `verify_encoded`). `domain`
        is `venue_domain(venue_id)`. The wait raises RuntimeError if a worker died
        with a chunk of the batch."""
        self._require_open()
        size = self.chunk_size(len(blobs))
        waits = [
            self._send((_ENCODED, domain, list(blobs[start : start + size])))
            for start in range(0, len(blobs), size)
        ]

        def verdicts() -> bytes:
            return b"".join(wait() for wait in waits)

        return verdicts

    def _send(self, request: _Request) -> Callable[[], bytes]:
        with self._lock:
            self._require_open()
            worker = self._workers[self._turn % len(self._workers)]
            self._turn += 1
            if worker.broken is not None:  # dead: a new one takes its place
                worker.stop()
                index = self._workers.index(worker)
                others = [other for other in self._workers if other is not worker]
                worker = _Worker(self._context, others)
                self._workers[index] = worker
        return self._send_to(worker, request)

    @staticmethod
    def _send_to(worker: _Worker, request: _Request) -> Callable[[], bytes]:
        number = worker.send(_request_encoder.encode(request))
        return lambda: worker.reply(number)

    def _live(self) -> list[_Worker]:
        with self._lock:
            return list(self._workers)

    def _require_open(self) -> None:
        if self._closed:
            raise RuntimeError("the verifier pool is closed")

    def close(self) -> None:
        """Stop the workers once they have answered what they hold. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
        for worker in workers:
            worker.stop()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"VerifierPool(workers={self.workers}, {state})"


_PING: Final = 0
_ENCODED: Final = 1
_TRIPLES: Final = 2
_STOP: Final = 3
_Request = tuple[int, bytes, list[bytes] | list[_Triple]]
_request_encoder = msgspec.msgpack.Encoder()
_request_decoder = msgspec.msgpack.Decoder()
_STOP_WAIT_S: Final = 10.0
"""How long `close` waits for a worker to finish what it holds before killing it."""


class _Worker:
    """One worker process and its two pipes: requests in, verdicts out, in order.

    Requests are numbered as they are written and replies as they are read, so
    several batches may be outstanding at once and waited for in any order, from
    any thread: whichever thread reads keeps the replies meant for others."""

    def __init__(self, context: BaseContext, others: list[_Worker]) -> None:
        requests_out, requests_in = context.Pipe(duplex=False)
        replies_out, replies_in = context.Pipe(duplex=False)
        # A forked worker inherits the parent's ends of every pipe made so far; it
        # closes them, so that each pipe's parent end is held by the parent alone
        # and a parent that dies is seen as the end of the requests.
        inherited = [end for other in others for end in (other.requests, other.replies)]
        self.process = context.Process(  # type: ignore[attr-defined]
            target=_serve,
            args=(requests_out, replies_in, [requests_in, replies_out, *inherited]),
            name="clearhouse-verifier",
            daemon=True,
        )
        self.process.start()
        requests_out.close()
        replies_in.close()
        self.requests: Connection = requests_in
        self.replies: Connection = replies_out
        self.pid = self.process.pid or 0
        self.broken: str | None = None
        self._send_lock = threading.Lock()
        self._reply_lock = threading.Lock()
        self._sent = 0
        self._read = 0
        self._kept: dict[int, bytes] = {}

    def send(self, message: bytes) -> int:
        with self._send_lock:
            if self.broken is not None:
                raise RuntimeError(self.broken)
            try:
                self.requests.send_bytes(message)
            except OSError as exc:
                self.broken = f"verifier worker {self.pid} stopped: {exc}"
                raise RuntimeError(self.broken) from exc
            self._sent += 1
            return self._sent

    def reply(self, number: int) -> bytes:
        with self._reply_lock:
            while number not in self._kept:
                if self.broken is not None:
                    raise RuntimeError(self.broken)
                try:
                    message = self.replies.recv_bytes()
                except (EOFError, OSError) as exc:
                    self.broken = f"verifier worker {self.pid} stopped: {exc or 'no answer'}"
                    raise RuntimeError(self.broken) from exc
                self._read += 1
                self._kept[self._read] = message
            return self._kept.pop(number)

    def stop(self) -> None:
        if self.broken is None:
            with contextlib.suppress(OSError):
                self.requests.send_bytes(_request_encoder.encode((_STOP, b"", [])))
        self.process.join(_STOP_WAIT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.requests.close()
        self.replies.close()
        self.broken = self.broken or "the verifier pool is closed"


def _serve(requests: Connection, replies: Connection, inherited: list[Connection]) -> None:
    """A worker's life: answer each request in turn until told to stop or the parent
    goes away."""
    for end in inherited:
        end.close()
    # Ctrl-C is for the parent, which drains and closes the pool in its own time.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            kind, domain, items = _request_decoder.decode(requests.recv_bytes())
        except EOFError:
            return
        if kind == _STOP:
            return
        if kind == _ENCODED:
            replies.send_bytes(verify_encoded(domain, items))
        elif kind == _TRIPLES:
            replies.send_bytes(_verify_triples(items))
        else:
            replies.send_bytes(b"")


class VerifierThreads(_ExecutorVerifier):
    """Transaction signatures verified on threads of this process.

    libsodium gives up Python's global lock while it evaluates the group equation,
    the bulk of a signature's cost, so threads verify in parallel on every core
    with no process boundary to cross: nothing is pickled, and a batch comes back
    in microseconds rather than the milliseconds a round trip to a worker process
    takes on a busy machine. What stays under the lock (decoding, the signed
    message, the rule set's byte checks, a few microseconds a transaction) is the
    price: a `VerifierPool` leaves all of it to other processes. Same verdicts as
    `verify_transaction`, by the same functions.
    """

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError("a verifier needs at least one thread")
        count = workers if workers is not None else (os.cpu_count() or 1)
        super().__init__(count, ThreadPoolExecutor(count, thread_name_prefix="verifier"))

    def warm_up(self) -> None:
        """Threads start on first use; nothing to wait for."""
        self._require_open()

    def chunk_size(self, batch_txs: int) -> int:
        """One chunk per thread, of at least 16: a thread costs no IPC to hand work."""
        return max(CHUNK_TXS_MIN // 4, -(-batch_txs // self.workers))


class BatchVerifier(Protocol):
    """What the journal, the sequencer and the audit take to verify batches: a
    `VerifierPool` (worker processes) or `VerifierThreads`."""

    workers: int

    def submit_encoded(self, domain: bytes, blobs: Sequence[bytes]) -> Callable[[], bytes]: ...

    def verify_batch(self, venue_id: str, txs: Sequence[Transaction]) -> list[bool]: ...


def verify_encoded_batch(
    venue_id: str, blobs: Sequence[bytes], pool: BatchVerifier | None = None
) -> list[bool]:
    """One verdict per canonical transaction: on the pool when given, else here."""
    domain = venue_domain(venue_id)
    verdicts = (
        verify_encoded(domain, blobs) if pool is None else pool.submit_encoded(domain, blobs)()
    )
    return [byte == 1 for byte in verdicts]


def verify_transactions(
    venue_id: str, txs: Sequence[Transaction], pool: BatchVerifier | None = None
) -> list[bool]:
    """One verdict per transaction: on the pool when given, else in this process."""
    if pool is None:
        return [verify_transaction(venue_id, tx) for tx in txs]
    return pool.verify_batch(venue_id, txs)
