"""Keepers: the venue's automatic actions, submitted as signed transactions.

Settling an expiry, paying funding and liquidating an account are transactions
like any other, signed by a key holding the keeper role, so they are journaled,
replayed and attributed. A `Keeper` decides what is due from the engine's state
alone (the read-only queries `Engine.expired_unsettled`, `Engine.funding_due`,
`Engine.accounts_in_margin_call`) and the time it is given, then submits. One
`poll(now_ns)` runs these steps, each one batch, each reading the state the
previous left:

    1. settle     SettleExpiry for every future and option expired and not settled
    2. fund       FundingTick for every perpetual whose funding is due
    3. liquidate  Liquidate for every account in a margin call, read after 1 and 2
                  (settlement and funding move cash, and so margin calls)

and returns every transaction submitted with its outcome. A refusal is reported,
not retried within the poll. A refused SettleExpiry or FundingTick is not
submitted again for `retry_after_ns` (a minute by default): an expiry without a
settlement price yet is tried once a minute, not journaled as a refusal on every
poll. A Liquidate goes again on every poll while the margin call lasts. When nothing is
due, a poll submits nothing.

The sequencer stamps each transaction with its own time, never earlier than the
engine's last, so a transaction judged due at `now_ns` may still be refused as not
due when the keeper's clock runs ahead of the sequencer's.

The keeper signs through a `Client`: nonces go up by one per transaction, starting
above the highest the engine has accepted from its key, so a restarted keeper
carries on without reusing one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, NamedTuple

from clearhouse.auth.signing import Signer

if TYPE_CHECKING:
    from clearhouse.sequencer import Sequencer
from clearhouse.core import (
    Engine,
    FundingTick,
    Liquidate,
    Outcome,
    Payload,
    Rejected,
    SettleExpiry,
    Transaction,
)
from clearhouse.journal.journal import Journal
from clearhouse.venue import Client, LocalVenue

Clock = Callable[[], int]
Submit = Callable[[Sequence[Transaction]], list[Outcome]]
"""Sequences and applies a batch of signed transactions, returning each outcome."""


class Submission(NamedTuple):
    """One transaction a keeper submitted, and what the engine made of it."""

    tx: Transaction
    outcome: Outcome

    @property
    def payload(self) -> Payload:
        return self.tx.payload


class Keeper:
    def __init__(
        self,
        engine: Engine,
        submit: Submit,
        signer: Signer,
        venue_id: str,
        *,
        clock: Clock = time.time_ns,
        lifetime_ns: int = 60 * 10**9,
        retry_after_ns: int = 60 * 10**9,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.engine = engine
        self._lock: AbstractContextManager[object] = lock or nullcontext()
        """Held while the keeper reads the engine, never while it waits for outcomes."""
        self._submit = submit
        self._clock = clock
        self.retry_after_ns = retry_after_ns
        self._refused: dict[Payload, int] = {}
        """Payloads refused, with the time before which they are not submitted again."""
        self.client = Client(signer, venue_id, lifetime_ns)
        self.client.nonce = engine.nonce_high(signer.public_key())

    @classmethod
    def for_journal(
        cls, journal: Journal, signer: Signer, *, clock: Clock = time.time_ns
    ) -> Keeper:
        """A keeper whose transactions go through the journal's write path (durable
        before their outcome is read)."""

        def submit(txs: Sequence[Transaction]) -> list[Outcome]:
            return [receipt.outcome for receipt in journal.submit(txs)]

        return cls(journal.engine, submit, signer, journal.genesis.venue_id, clock=clock)

    @classmethod
    def for_sequencer(
        cls, sequencer: Sequencer, signer: Signer, *, clock: Clock = time.time_ns
    ) -> Keeper:
        """A keeper whose transactions are admitted by a running sequencer, among
        everyone else's, and read back once durable; it reads the engine under the
        journal's lock, since the sequencer applies on its own thread."""
        journal = sequencer.journal

        def submit(txs: Sequence[Transaction]) -> list[Outcome]:
            return [future.result().outcome for future in sequencer.submit_many(txs)]

        return cls(
            journal.engine, submit, signer, journal.genesis.venue_id, clock=clock, lock=journal.lock
        )

    @classmethod
    def for_venue(cls, venue: LocalVenue, signer: Signer, *, clock: Clock = time.time_ns) -> Keeper:
        """A keeper of an in-process venue without a journal."""

        def submit(txs: Sequence[Transaction]) -> list[Outcome]:
            return [venue.submit(tx) for tx in txs]

        return cls(venue.engine, submit, signer, venue.venue_id, clock=clock)

    def poll(self, now_ns: int | None = None) -> list[Submission]:
        """Submit whatever is due at `now_ns` (the keeper's clock if None); return the
        submissions in order, with their outcomes."""
        now = self._clock() if now_ns is None else now_ns
        engine = self.engine
        with self._lock:
            expired = [SettleExpiry(i) for i in engine.expired_unsettled(now)]
        submitted = self._send(expired, now)
        with self._lock:
            due = [FundingTick(i) for i in engine.funding_due(now)]
        submitted += self._send(due, now)
        with self._lock:
            called = [Liquidate(a) for a in engine.accounts_in_margin_call()]
        submitted += self._send(called, now)
        return submitted

    def _send(self, payloads: Sequence[Payload], now_ns: int) -> list[Submission]:
        refused = self._refused
        payloads = [p for p in payloads if refused.get(p, now_ns) <= now_ns]
        if not payloads:
            return []
        txs = [self.client.sign(payload, now_ns) for payload in payloads]
        outcomes = self._submit(txs)
        for payload, outcome in zip(payloads, outcomes, strict=True):
            # A margin call is never left waiting: Liquidate goes again every poll.
            if isinstance(outcome, Rejected) and not isinstance(payload, Liquidate):
                refused[payload] = now_ns + self.retry_after_ns
            else:
                refused.pop(payload, None)
        return [Submission(tx, outcome) for tx, outcome in zip(txs, outcomes, strict=True)]
