"""The journal's write path: one transaction's content never stops it.

A transaction the journal cannot record (it does not encode, or its bytes do not
decode) is refused on its own, unsequenced, with the boundary's code, and the rest of
its batch commits. What it records is what replay reads back, so a new start always
arrives at the same state. It stops only for a fault: a failed write, an engine fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec
import pytest
from submit_kit import USD, JournalVenue

from clearhouse.core import (
    Accepted,
    Deposit,
    EngineFault,
    ErrorCode,
    PlaceOrder,
    Rejected,
    Side,
    Transaction,
)
from clearhouse.journal import JournalEntry, JournalError
from clearhouse.journal.store import Node


@pytest.fixture
def venue(tmp_path: Path) -> JournalVenue:
    venue = JournalVenue(tmp_path)
    venue.set_up()
    return venue


def _unencodable(venue: JournalVenue) -> Transaction:
    """A deposit of 2^64 units, signed as it was before its amount was changed: a Python
    caller can build it, msgpack cannot encode it."""
    signed = venue.sign(Deposit("bob", "USDC", USD))
    return msgspec.structs.replace(signed, payload=Deposit("bob", "USDC", 2**64))


def test_a_batch_with_an_unencodable_transaction_commits_the_others(
    venue: JournalVenue,
) -> None:
    before = venue.journal.engine.seq
    batch = [venue.good(), _unencodable(venue), venue.good()]
    receipts = venue.journal.submit(batch)
    assert len(receipts) == 3
    first, refused, last = receipts
    venue.assert_acknowledged(first)
    venue.assert_acknowledged(last)
    assert (first.seq, last.seq) == (before + 1, before + 2)
    assert not refused.journaled
    assert (refused.seq, refused.leaf_index, refused.chain_head) == (0, -1, b"")
    assert isinstance(refused.outcome, Rejected)
    assert refused.outcome.code == ErrorCode.VALUE_OUT_OF_RANGE
    assert "$.payload.amount" in refused.outcome.message
    assert venue.journal.store.size() == before + 2
    # The journal goes on, and a new start replays what it recorded.
    venue.assert_acknowledged(venue.journal.submit([venue.good()])[0])
    venue.assert_recovers()
    venue.assert_acknowledged(venue.journal.submit([venue.good()])[0])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        pytest.param({"amount": object()}, ErrorCode.WRONG_TYPE, id="not-msgpack"),
        pytest.param({"amount": 1.5}, ErrorCode.WRONG_TYPE, id="float"),
        pytest.param({"account": "\ud800"}, ErrorCode.MALFORMED_ENCODING, id="lone-surrogate"),
        pytest.param({"account": "a" * 300}, ErrorCode.VALUE_OUT_OF_RANGE, id="long-string"),
        pytest.param({"amount": -(2**64)}, ErrorCode.VALUE_OUT_OF_RANGE, id="below-int64"),
    ],
)
def test_a_transaction_that_cannot_be_recorded_is_refused_alone(
    venue: JournalVenue, change: dict[str, object], code: ErrorCode
) -> None:
    bad = msgspec.structs.replace(
        venue.good(), payload=msgspec.structs.replace(Deposit("bob", "USDC", USD), **change)
    )
    refused, good = venue.journal.submit([bad, venue.good()])
    assert not refused.journaled
    assert isinstance(refused.outcome, Rejected) and refused.outcome.code == code
    venue.assert_acknowledged(good)
    venue.assert_recovers()


def test_what_is_applied_is_what_replay_reads(venue: JournalVenue) -> None:
    """A str where the side enum belongs: its bytes are the enum's, so it is journaled
    and applied as the order replay reads back, and a new start agrees. (Applied as
    built, it was a WRONG_TYPE rejection that replay re-executed as an order, and the
    journal refused to start.)"""
    order = PlaceOrder("alice", "BTC-PERP", "buy", 1, price=95_000 * USD)  # type: ignore[arg-type]
    (receipt,) = venue.journal.submit([venue.sign(order)])
    venue.assert_acknowledged(receipt)  # accepted: applied as the enum
    venue.assert_recovers()


def test_a_wrong_signature_is_still_journaled_as_a_rejection(venue: JournalVenue) -> None:
    forged = msgspec.structs.replace(venue.good(), signature=bytes(64))
    rejected, good = venue.journal.submit([forged, venue.good()])
    assert rejected.journaled
    assert isinstance(rejected.outcome, Rejected)
    assert rejected.outcome.code == ErrorCode.BAD_SIGNATURE
    venue.assert_acknowledged(good)
    venue.assert_recovers()


# -- what still stops the journal: faults ------------------------------------------


class _FailingStore:
    """The journal's store, but the next append fails as a full disk would."""

    def __init__(self, store: object) -> None:
        self._store = store

    def append(self, entries: Sequence[JournalEntry], nodes: Sequence[Node]) -> None:
        raise OSError("disk full")

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_a_failed_write_stops_the_journal(venue: JournalVenue) -> None:
    journal = venue.journal
    durable = (journal.engine.seq, journal.engine.digest(), journal.engine.chain_head)
    store = journal.store
    journal.store = _FailingStore(store)  # type: ignore[assignment]
    with pytest.raises(JournalError, match="OSError: disk full"):
        journal.submit([venue.good()])
    with pytest.raises(JournalError, match="journal stopped"):
        journal.submit([venue.good()])
    store.close()
    # The next start holds what was durable, and nothing more, and goes on.
    venue.journal = venue.open()
    again = venue.journal.engine
    assert (again.seq, again.digest(), again.chain_head) == durable
    venue.assert_acknowledged(venue.journal.submit([venue.good()])[0])


def test_an_engine_fault_stops_the_journal(venue: JournalVenue) -> None:
    """A handler that raises is a bug: the engine stops, and so does the journal."""

    def broken(*_: object) -> object:
        raise ZeroDivisionError("a bug")

    venue.journal.engine._handlers[Deposit] = broken  # type: ignore[attr-defined]
    with pytest.raises(JournalError, match="EngineFault") as raised:
        venue.journal.submit([venue.good()])
    assert isinstance(raised.value.__cause__, EngineFault)
    with pytest.raises(JournalError, match="journal stopped"):
        venue.journal.submit([venue.good()])


def test_a_failing_verifier_stops_nothing(venue: JournalVenue) -> None:
    """Verification runs before the engine moves: its failure is the caller's to
    retry, and the journal takes the next batch."""
    journal = venue.journal
    seq = journal.engine.seq

    def down(_txs: Sequence[Transaction]) -> list[bool]:
        raise RuntimeError("the verifier pool is closed")

    journal._verify = down  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="closed"):
        journal.submit([venue.good()])
    del journal._verify
    assert journal.engine.seq == seq
    receipt = journal.submit([venue.good()])[0]
    venue.assert_acknowledged(receipt)
    assert receipt.seq == seq + 1


def test_the_set_up_is_accepted(venue: JournalVenue) -> None:
    """The fixture's own transactions were all accepted (assert_acknowledged), and an
    order crossing the offer trades: the venue is live, not just journaling."""
    order = PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=100_005 * USD)
    (receipt,) = venue.journal.submit([venue.sign(order)])
    venue.assert_acknowledged(receipt)
    assert isinstance(receipt.outcome, Accepted)
    assert any(type(e).__name__ == "TradeExecuted" for e in receipt.outcome.events)
