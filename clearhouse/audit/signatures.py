"""Check 4, verdicts: every transaction signature verified again, a batch at a time.

The audit and replay read entries through a `Pipeline`: a batch of entries with
their decoded transactions and one verdict each from a `BatchVerifier`, the same
rule set the venue applied (clearhouse.auth.ed25519). With `overlap`, the next batch
is verified (on a `VerifierPool`) while the current one is re-executed. A verdict
is an input of re-execution: a transaction the venue accepted whose signature does
not verify now re-executes to a different outcome (check 5).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from clearhouse.audit.common import BATCH_ENTRIES, decode_tx
from clearhouse.audit.report import AuditReport
from clearhouse.auth.verifier import verify_transaction
from clearhouse.core import Transaction
from clearhouse.journal.entry import JournalEntry
from clearhouse.journal.store import StoreReadError

BatchVerifier = Callable[[str, Sequence[Transaction]], list[bool]]
"""`(venue id, transactions) -> one signature verdict each`, e.g. `VerifierPool.verify_batch`."""


def in_process_verifier(venue_id: str, txs: Sequence[Transaction]) -> list[bool]:
    """Verify every signature in this process (the right choice for short journals)."""
    return [verify_transaction(venue_id, tx) for tx in txs]


def count_verdict(report: AuditReport, verdict: bool) -> None:
    if verdict:
        report.signatures_valid += 1
    else:
        report.signatures_invalid += 1


class Pipeline:
    """Entries in batches with their decoded transactions and signature verdicts.

    With `overlap`, the next batch's signatures are verified (on a pool) while the
    caller processes the current one.
    """

    def __init__(
        self, venue_id: str, verify: BatchVerifier, overlap: bool, batch: int = BATCH_ENTRIES
    ) -> None:
        self._venue = venue_id
        self._verify = verify
        self._overlap = overlap
        self._batch = max(1, batch)

    def run(
        self, entries: Iterable[JournalEntry]
    ) -> Generator[tuple[list[JournalEntry], list[Transaction | str], list[bool]], None, None]:
        reader = iter(entries)
        executor = ThreadPoolExecutor(1, "audit-verify") if self._overlap else None
        pending: tuple[list[JournalEntry], list[Transaction | str], Future[list[bool]]] | None
        pending = None
        error: StoreReadError | None = None
        try:
            while error is None:
                chunk: list[JournalEntry] = []
                try:
                    for entry in itertools.islice(reader, self._batch):
                        chunk.append(entry)
                except StoreReadError as exc:
                    # The entries read before it are checked first: an earlier fault
                    # among them is the first fault.
                    error = exc
                if not chunk:
                    break
                txs = [decode_tx(entry.tx) for entry in chunk]
                good = [tx for tx in txs if isinstance(tx, Transaction)]
                future: Future[list[bool]]
                if executor is not None:
                    future = executor.submit(self._verify, self._venue, good)
                else:
                    future = Future()
                    future.set_result(self._verify(self._venue, good))
                if pending is not None:
                    yield self._resolve(*pending)
                pending = (chunk, txs, future)
            if pending is not None:
                yield self._resolve(*pending)
            if error is not None:
                raise error
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)

    @staticmethod
    def _resolve(
        chunk: list[JournalEntry], txs: list[Transaction | str], future: Future[list[bool]]
    ) -> tuple[list[JournalEntry], list[Transaction | str], list[bool]]:
        verdicts = iter(future.result())
        return chunk, txs, [next(verdicts) if isinstance(tx, Transaction) else False for tx in txs]
