"""A journaled venue for the write-path tests: a real SqliteJournal in a folder,
deterministic keys, a clock that steps 1 us a reading, and a check that a receipt is
durable (its entry is in the store, with its chain head)."""

from __future__ import annotations

from pathlib import Path

from clearhouse.core import (
    Accepted,
    Deposit,
    OracleUpdate,
    Payload,
    PlaceOrder,
    Side,
    Transaction,
)
from clearhouse.journal import Journal, Receipt, SqliteJournal
from clearhouse.testing import default_signer_name, signer_for, standard_genesis
from clearhouse.venue import Client

START_NS = 1_700_000_000 * 10**9
USD = 10**6
BTC = 100_000 * USD
TRADERS = ("alice", "bob")
OPERATOR = "clearhouse-test-operator"


class JournalVenue:
    def __init__(self, folder: Path) -> None:
        self.genesis = standard_genesis(TRADERS)
        self.path = folder / "journal.db"
        self.now_ns = START_NS
        self.clients: dict[str, Client] = {}
        self.journal = self.open()
        self.recovered_at = 0
        """The seq at which the journal was last reopened and checked."""

    def _clock(self) -> int:
        self.now_ns += 1_000
        return self.now_ns

    def open(self) -> Journal:
        return Journal(
            SqliteJournal(self.path),
            self.genesis,
            signer_for("operator"),
            OPERATOR,
            clock=self._clock,
            snapshot_every=0,
            checkpoint_every=0,
        )

    def sign(self, payload: Payload, by: str | None = None) -> Transaction:
        name = by or default_signer_name(payload)
        client = self.clients.get(name)
        if client is None:
            client = self.clients[name] = Client(signer_for(name), self.genesis.venue_id)
        return client.sign(payload, self.now_ns)

    def set_up(self) -> None:
        """Two funded traders, an index price, a bid and an offer on BTC-PERP."""
        payloads: list[Payload] = [
            Deposit("alice", "USDC", 1_000_000 * USD),
            Deposit("bob", "USDC", 1_000_000 * USD),
            OracleUpdate("BTC-USD", BTC, self.now_ns),
            PlaceOrder("alice", "BTC-PERP", Side.BUY, 2, price=BTC - 500_000 * 10),
            PlaceOrder("bob", "BTC-PERP", Side.SELL, 2, price=BTC + 500_000 * 10),
        ]
        for receipt in self.journal.submit([self.sign(p) for p in payloads]):
            self.assert_acknowledged(receipt)

    def good(self) -> Transaction:
        """A transaction that must always be accepted: a small deposit."""
        return self.sign(Deposit("alice", "USDC", USD))

    def assert_acknowledged(self, receipt: Receipt) -> None:
        """Accepted, and durable: the store holds its entry, with its chain head."""
        assert receipt.journaled, receipt
        assert isinstance(receipt.outcome, Accepted), receipt.outcome
        assert receipt.leaf_index == receipt.seq - 1
        stored = next(self.journal.store.read(receipt.seq, receipt.seq + 1))
        assert (stored.seq, stored.chain_head) == (receipt.seq, receipt.chain_head)

    def assert_recovers(self) -> None:
        """A new start from the store arrives at the same state and chain head."""
        engine = self.journal.engine
        state = (engine.seq, engine.digest(), engine.chain_head, self.journal.tree.root())
        self.journal.close()
        self.journal = self.open()
        again = self.journal.engine
        assert (again.seq, again.digest(), again.chain_head, self.journal.tree.root()) == state
