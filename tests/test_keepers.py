"""The keeper against a journaled venue (SQLite): it liquidates, pays funding and
settles expiries when they fall due, signs with its own key, and is quiet otherwise.

The venue lists BTC-PERP, the BTC-25DEC26 future and its 100,000 call; funding is
hourly. The story starts two hours before the expiry (08:00 UTC, 25 December 2026):
alice is long the future, the call and the perpetual; bob is short the future and
the call; erin, with 101 USD, is short the perpetual; carol's quotes give the
perpetual a premium.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from clearhouse.core import (
    Accepted,
    Deposit,
    EngineConfig,
    ErrorCode,
    ExpiryQuote,
    FundingTick,
    Liquidate,
    OracleUpdate,
    Outcome,
    Payload,
    PlaceOrder,
    Side,
    Transaction,
    default_catalogue,
)
from clearhouse.core.catalogue import expiry_ns
from clearhouse.core.codec import encode
from clearhouse.journal.journal import Journal
from clearhouse.journal.sqlite_store import SqliteJournal
from clearhouse.keepers import Keeper, Submission
from clearhouse.sequencer import Sequencer
from clearhouse.testing import CUSTODIAN, KEEPER, ORACLE, signer_for, standard_genesis
from clearhouse.venue import Client, LocalVenue

USD = 10**6
MINUTE = 60 * 10**9
HOUR = 60 * MINUTE
EXPIRY = expiry_ns(2026, 12, 25)
START = EXPIRY - 2 * HOUR
PERP, FUTURE, CALL = "BTC-PERP", "BTC-25DEC26", "BTC-25DEC26-100000-C"
INSTRUMENTS = tuple(spec for spec in default_catalogue() if spec.id in (PERP, FUTURE, CALL))
CONFIG = EngineConfig(rate_limit_messages=0, funding_interval_ns=HOUR)
GENESIS = standard_genesis(("alice", "bob", "carol", "erin"), INSTRUMENTS, CONFIG)
QUOTE = (ExpiryQuote(EXPIRY, 500_000, 0, 0),)
KEEPER_KEY = signer_for(KEEPER).public_key()


class Clock:
    def __init__(self, now_ns: int) -> None:
        self.now_ns = now_ns

    def __call__(self) -> int:
        return self.now_ns


class Venue:
    """A journaled venue on a controlled clock, with a client per participant."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = Clock(START)
        self.journal = self._open()
        self.clients: dict[str, Client] = {}

    def _open(self) -> Journal:
        return Journal(
            SqliteJournal(self.path),
            GENESIS,
            signer_for("operator"),
            "operator",
            clock=self.clock,
        )

    def reopen(self) -> None:
        self.journal.close()
        self.journal = self._open()

    def keeper(self) -> Keeper:
        return Keeper.for_journal(self.journal, signer_for(KEEPER), clock=self.clock)

    def at(self, ns: int) -> None:
        self.clock.now_ns = ns

    def submit(self, payload: Payload, by: str) -> Outcome:
        client = self.clients.setdefault(by, Client(signer_for(by), GENESIS.venue_id))
        (receipt,) = self.journal.submit([client.sign(payload, self.clock.now_ns)])
        assert isinstance(receipt.outcome, Accepted), receipt.outcome
        return receipt.outcome

    def index(self, price_usd: int) -> None:
        now = self.clock.now_ns
        self.submit(OracleUpdate("BTC-USD", price_usd * USD, now, QUOTE), ORACLE)

    def order(self, account: str, instrument: str, side: Side, size: int, price_usd: int) -> None:
        self.submit(PlaceOrder(account, instrument, side, size, price=price_usd * USD), account)

    def in_margin_call(self, account: str) -> bool:
        view = self.journal.engine.account(account)
        assert view is not None
        return view.in_margin_call


def opened(path: Path) -> Venue:
    venue = Venue(path)
    for account, amount in (("alice", 10**6), ("bob", 10**6), ("carol", 10**6), ("erin", 101)):
        venue.submit(Deposit(account, "USDC", amount * USD), CUSTODIAN)
    venue.index(100_000)  # the perpetual's first mark: funding counts from START
    for instrument, size, price in ((FUTURE, 10, 100_000), (CALL, 2, 2_000)):
        venue.order("bob", instrument, Side.SELL, size, price)
        venue.order("alice", instrument, Side.BUY, size, price)
    venue.order("erin", PERP, Side.SELL, 10, 100_000)
    venue.order("alice", PERP, Side.BUY, 10, 100_000)
    venue.order("carol", PERP, Side.BUY, 1, 100_401)
    venue.order("carol", PERP, Side.SELL, 1, 100_600)
    return venue


def kinds(submissions: list[Submission]) -> list[tuple[str, str, str]]:
    """(transaction type, target, outcome) of each submission."""
    out = []
    for submission in submissions:
        payload = submission.payload
        target = payload.account if isinstance(payload, Liquidate) else payload.instrument  # type: ignore[union-attr]
        verdict = "accepted" if isinstance(submission.outcome, Accepted) else "rejected"
        out.append((type(payload).__name__, target, verdict))
    return out


def assert_journaled_by_the_keeper(venue: Venue, submissions: list[Submission]) -> None:
    """Each submission is in the journal as it was signed, with its outcome, signed by
    the keeper's key."""
    decode = msgspec.msgpack.Decoder(Transaction).decode
    for submission in submissions:
        seq = submission.outcome.seq
        (entry,) = venue.journal.store.read(seq, seq + 1)
        tx = decode(entry.tx)
        assert tx == submission.tx and tx.signer == KEEPER_KEY
        assert entry.outcome == encode(submission.outcome)


def test_the_keeper_settles_funds_and_liquidates_when_due_and_not_otherwise(
    tmp_path: Path,
) -> None:
    venue = opened(tmp_path / "journal.db")
    keeper = venue.keeper()
    venue.at(START + MINUTE)
    assert keeper.poll() == []

    # The index jumps 10 %: erin's short loses most of her 101 USD.
    venue.at(START + 10 * MINUTE)
    venue.index(110_000)
    assert venue.in_margin_call("erin")
    liquidation = keeper.poll()
    assert kinds(liquidation) == [("Liquidate", "erin", "accepted")]
    assert not venue.in_margin_call("erin")

    # An hour after the perpetual's first mark, its funding is due.
    venue.at(START + HOUR)
    funding = keeper.poll()
    assert kinds(funding)[0] == ("FundingTick", PERP, "accepted")

    # Past the expiry (the index in force over the whole window), both dated
    # instruments settle; the perpetual's next funding falls due at the same time.
    venue.at(EXPIRY - 20 * MINUTE)
    venue.index(110_000)
    venue.at(EXPIRY + MINUTE)
    expiry = keeper.poll()
    assert kinds(expiry)[:3] == [
        ("SettleExpiry", FUTURE, "accepted"),
        ("SettleExpiry", CALL, "accepted"),
        ("FundingTick", PERP, "accepted"),
    ]
    view = venue.journal.engine.account("alice")
    assert view is not None and [p.instrument for p in view.positions] == [PERP]

    assert keeper.poll() == []  # nothing due: nothing submitted
    assert_journaled_by_the_keeper(venue, liquidation + funding + expiry)

    # The record re-executes to the same state, keeper transactions included, and a
    # restarted keeper signs on from above the nonces its key has used.
    digest = venue.journal.engine.digest()
    venue.reopen()
    assert venue.journal.engine.digest() == digest
    venue.at(EXPIRY + MINUTE + HOUR)
    restarted = venue.keeper()
    later = restarted.poll()
    assert kinds(later)[0] == ("FundingTick", PERP, "accepted")
    assert later[0].tx.nonce > expiry[-1].tx.nonce
    assert_journaled_by_the_keeper(venue, later)
    venue.journal.close()


def test_an_expiry_without_a_settlement_price_is_submitted_again_after_a_while() -> None:
    clock = Clock(EXPIRY + MINUTE)
    venue = LocalVenue(GENESIS, clock=clock)
    keeper = Keeper.for_venue(venue, signer_for(KEEPER), clock=clock)
    first = keeper.poll()
    # No index price was ever in force: nothing to settle at, nothing to fund.
    assert kinds(first) == [
        ("SettleExpiry", FUTURE, "rejected"),
        ("SettleExpiry", CALL, "rejected"),
    ]
    assert {s.outcome.code for s in first} == {ErrorCode.NO_SETTLEMENT_PRICE}  # type: ignore[union-attr]
    # Not again at once: a refusal waits `retry_after_ns` before it is tried again.
    assert keeper.poll() == []
    clock.now_ns += keeper.retry_after_ns
    second = keeper.poll()
    assert [s.tx.payload for s in second] == [s.tx.payload for s in first]
    assert second[0].tx.nonce > first[-1].tx.nonce


@pytest.mark.parametrize("signer", ["alice", ORACLE])
def test_only_a_keeper_key_gets_its_transactions_through(signer: str) -> None:
    clock = Clock(START)
    venue = LocalVenue(GENESIS, clock=clock)
    keeper = Keeper.for_venue(venue, signer_for(signer), clock=clock)
    clock.now_ns = EXPIRY + MINUTE
    (outcome,) = {s.outcome.code for s in keeper.poll()}  # type: ignore[union-attr]
    assert outcome is ErrorCode.ROLE_FORBIDDEN
    assert FundingTick(PERP) not in [s.payload for s in keeper.poll()]  # never marked


def test_a_keeper_on_a_running_sequencer_liquidates_amid_other_traffic(tmp_path: Path) -> None:
    venue = opened(tmp_path / "journal.db")
    venue.at(START + 10 * MINUTE)
    now = venue.clock.now_ns
    custodian = venue.clients[CUSTODIAN]
    traffic = [custodian.sign(Deposit("carol", "USDC", USD), now) for _ in range(200)]
    with Sequencer(venue.journal) as sequencer:
        oracle = venue.clients[ORACLE]
        jump = oracle.sign(OracleUpdate("BTC-USD", 110_000 * USD, now, QUOTE), now)
        assert isinstance(sequencer.submit(jump).result().outcome, Accepted)
        others = sequencer.submit_many(traffic)  # in flight while the keeper reads and sends
        keeper = Keeper.for_sequencer(sequencer, signer_for(KEEPER), clock=venue.clock)
        liquidation = keeper.poll()
        assert all(isinstance(f.result().outcome, Accepted) for f in others)
    assert kinds(liquidation) == [("Liquidate", "erin", "accepted")]
    assert not venue.in_margin_call("erin")
    assert_journaled_by_the_keeper(venue, liquidation)
    venue.journal.close()
