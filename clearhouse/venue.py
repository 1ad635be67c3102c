"""A venue in one process: every transaction through the same numbered steps.

    1. verify   the signature, by the one rule set (clearhouse.auth.ed25519), for this venue
    2. sequence the next sequence number and a timestamp that never goes backwards
    3. apply    Engine.apply with the verifier's verdict; the outcome is the receipt

The journal (durable append before the acknowledgement) slots in between steps 2
and 3 as it arrives; the sequencer and the verifier pool scale out behind the same
steps. `Client` is the other side: a key, a nonce counter and an expiry policy that
turn payloads into signed transactions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

from clearhouse.auth.signing import Signer, sign_transaction
from clearhouse.auth.verifier import VerifierPool, verify_transaction, verify_transactions
from clearhouse.core import Engine, Genesis, Outcome, Payload, Sequenced, Transaction

Clock = Callable[[], int]


class LocalVenue:
    def __init__(self, genesis: Genesis, clock: Clock = time.time_ns) -> None:
        self.genesis = genesis
        self.engine = Engine(genesis)
        self._clock = clock
        self._last_ns = 0

    @property
    def venue_id(self) -> str:
        return self.genesis.venue_id

    def submit(self, tx: Transaction) -> Outcome:
        # 1. verify
        signature_valid = verify_transaction(self.venue_id, tx)
        # 2. sequence
        now = max(self._clock(), self._last_ns)
        self._last_ns = now
        sequenced = Sequenced(self.engine.seq + 1, now, tx)
        # 3. apply
        return self.engine.apply(sequenced, signature_valid)

    def submit_batch(self, txs: Sequence[Transaction], pool: VerifierPool) -> list[Outcome]:
        """The same steps for a batch, with step 1 spread over the pool's processes."""
        # 1. verify (in parallel, before any of the batch is sequenced)
        verdicts = pool.verify_batch(self.venue_id, txs)
        outcomes = []
        for tx, signature_valid in zip(txs, verdicts, strict=True):
            # 2. sequence
            now = max(self._clock(), self._last_ns)
            self._last_ns = now
            sequenced = Sequenced(self.engine.seq + 1, now, tx)
            # 3. apply
            outcomes.append(self.engine.apply(sequenced, signature_valid))
        return outcomes

    def now_ns(self) -> int:
        return max(self._clock(), self._last_ns)


def replay(
    genesis: Genesis, log: Iterable[Sequenced], pool: VerifierPool | None = None, batch: int = 4_096
) -> Engine:
    """Rebuild an engine from a sequenced log, verifying every signature again.

    The log holds what the sequencer ordered, never a verdict: each signature is
    judged anew by the same rule set, so a tampered signature or a log moved to
    another venue replays to a different chain head.
    """
    engine = Engine(genesis)
    pending: list[Sequenced] = []

    def flush() -> None:
        verdicts = verify_transactions(genesis.venue_id, [entry.tx for entry in pending], pool)
        for entry, signature_valid in zip(pending, verdicts, strict=True):
            engine.apply(entry, signature_valid)
        pending.clear()

    for entry in log:
        pending.append(entry)
        if len(pending) >= batch:
            flush()
    flush()
    return engine


class Client:
    """Signs payloads for one key: strictly increasing nonces, a bounded lifetime."""

    def __init__(self, signer: Signer, venue_id: str, lifetime_ns: int = 60 * 10**9) -> None:
        self.signer = signer
        self.venue_id = venue_id
        self.lifetime_ns = lifetime_ns
        self.nonce = 0

    @property
    def public_key(self) -> bytes:
        return self.signer.public_key()

    def sign(self, payload: Payload, now_ns: int) -> Transaction:
        self.nonce += 1
        unsigned = Transaction(payload, nonce=self.nonce, expires_at_ns=now_ns + self.lifetime_ns)
        return sign_transaction(self.signer, self.venue_id, unsigned)
