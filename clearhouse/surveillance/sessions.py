"""Labelled trading sessions: honest agents and known manipulators on the real engine.

No public labelled manipulation data exists, so the detectors are measured on
sessions generated here. A session is a seeded discrete-event run: each agent
says when it next wants to act; the driver wakes the earliest (ties in agent
order), moves the venue's clock there, and the agent submits signed transactions
through `SessionContext.submit`, each sequenced and applied by the real engine
(`clearhouse.testing.TestVenue`) and folded into a `MarketView` every agent can
read. A manipulator records what it did as a `Label` (detector, accounts,
instrument, time span) when it does it; honest agents record nothing. Everything
random comes from the session's seeded generator, so a seed is a session.

The steps of a session are exactly those a journal of it would hold, and
`write_journal` writes one, so `clearhouse surveil --journal` runs over it too.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from clearhouse.core import (
    Deposit,
    EngineConfig,
    Genesis,
    Instrument,
    Kind,
    Payload,
    Transaction,
)
from clearhouse.core.catalogue import default_catalogue
from clearhouse.core.instruments import validate_spec
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.steps import Step, step_of
from clearhouse.testing import CUSTODIAN, TestVenue, standard_genesis

START_NS = 1_700_000_000 * 10**9
SECOND_NS = 10**9
DEPOSIT_UNITS = 10_000_000 * 10**6
USD = 10**6
FUTURE_EXPIRY_NS = START_NS + 540 * SECOND_NS
"""The session future expires inside a ten-minute session, so it settles in it."""
SESSION_CONFIG = EngineConfig(rate_limit_messages=0, settlement_window_ns=120 * SECOND_NS)
"""No per-key rate limit (quote stuffers must be able to stuff) and a two-minute
settlement window, so a ten-minute session holds a whole close."""
INDEX_PRICES = {"BTC-USD": 100_000 * USD, "ETH-USD": 3_500 * USD, "SOL-USD": 150 * USD}


def session_instruments() -> tuple[Instrument, ...]:
    """BTC-PERP and ETH-PERP (deep), BTC-FUT (expires in the session) and SOL-PERP
    (thin: few quotes, the market a mark manipulator picks)."""
    catalogue = {spec.id: spec for spec in default_catalogue()}
    btc, eth = catalogue["BTC-PERP"], catalogue["ETH-PERP"]
    future = msgspec.structs.replace(
        btc, id="BTC-FUT", kind=Kind.FUTURE, expiry_ns=FUTURE_EXPIRY_NS
    )
    sol = msgspec.structs.replace(
        btc, id="SOL-PERP", index="SOL-USD", tick_size=10_000, contract_size=10**8
    )
    return tuple(validate_spec(s) for s in (btc, eth, future, sol))


@dataclass(frozen=True)
class Label:
    """One manipulative episode, as its agent performed it."""

    detector: str
    """The detector that should see it (spoofing, layering, wash_trading, ...)."""
    accounts: tuple[str, ...]
    instrument: str
    start_ns: int
    end_ns: int


class SessionContext:
    """What an agent acts through: the venue, the market as the record tells it, the
    session's random generator and its labels."""

    def __init__(self, venue: TestVenue, rng: random.Random) -> None:
        self.venue = venue
        self.market = MarketView(venue.genesis)
        self.rng = rng
        self.steps: list[Step] = []
        self.transactions: list[Transaction] = []
        self.labels: list[Label] = []

    @property
    def now_ns(self) -> int:
        return self.venue.now_ns

    def submit(self, payload: Payload, by: str | None = None) -> Step:
        """Sign (with `by`'s key, or the payload's usual signer), sequence and apply
        `payload` one microsecond after the last transaction; its step."""
        venue = self.venue
        tx = venue.sign(payload, by)
        outcome = venue.submit(tx, venue.now_ns + 1_000)
        step = step_of(venue.engine.seq, venue.now_ns, payload, tx.signer, outcome)
        self.market.apply(step)
        self.steps.append(step)
        self.transactions.append(tx)
        return step

    def label(self, detector: str, accounts: Sequence[str], instrument: str, start_ns: int) -> None:
        """Record an episode that began at `start_ns` and ends now."""
        self.labels.append(Label(detector, tuple(accounts), instrument, start_ns, self.now_ns))


class Agent(Protocol):
    owners: tuple[str, ...]
    """The owners whose keys the agent signs with (each gets a trading role)."""
    market_maker: bool
    """Whether its owners are market makers (MARKET_MAKER role) rather than traders.
    An agent may also name `oracle_sources`: further oracle keys it signs with."""

    def start(self, ctx: SessionContext) -> int | None:
        """Set up (funding is done); the first time to act, or None."""
        ...

    def act(self, ctx: SessionContext) -> int | None:
        """Act now; the next time to act, or None when done."""
        ...


@dataclass
class LabelledSession:
    seed: int
    genesis: Genesis
    steps: list[Step]
    labels: list[Label]
    transactions: list[Transaction] = field(repr=False)
    venue: TestVenue = field(repr=False)


def run_session(
    seed: int,
    agents: Callable[[random.Random], list[Agent]],
    *,
    duration_ns: int = 600 * SECOND_NS,
    instruments: tuple[Instrument, ...] | None = None,
    config: EngineConfig = SESSION_CONFIG,
) -> LabelledSession:
    """Run the agents `agents(rng)` for `duration_ns` of sequencer time from
    `START_NS`, every owner funded with `DEPOSIT_UNITS` first; on
    `session_instruments()` unless given others."""
    rng = random.Random(seed)
    population = agents(rng)
    traders = sorted({o for a in population if not a.market_maker for o in a.owners})
    makers = sorted({o for a in population if a.market_maker for o in a.owners})
    oracles = sorted({o for a in population for o in getattr(a, "oracle_sources", ())})
    genesis = standard_genesis(
        traders,
        instruments=instruments if instruments is not None else session_instruments(),
        config=config,
        market_makers=makers,
        oracles=oracles,
        venue_id=f"surveil-session-{seed}",
    )
    venue = TestVenue(genesis, start_ns=START_NS)
    ctx = SessionContext(venue, rng)
    for owner in [*traders, *makers]:
        ctx.submit(Deposit(owner, "USDC", DEPOSIT_UNITS), by=CUSTODIAN)
    end_ns = START_NS + duration_ns
    due: list[tuple[int, int]] = []
    for number, agent in enumerate(population):
        first = agent.start(ctx)
        if first is not None:
            heapq.heappush(due, (max(first, ctx.now_ns), number))
    while due:
        when, number = heapq.heappop(due)
        if when > end_ns:
            break
        if when > ctx.now_ns:
            venue.now_ns = when
        following = population[number].act(ctx)
        if following is not None:
            heapq.heappush(due, (max(following, ctx.now_ns + 1), number))
    return LabelledSession(seed, genesis, ctx.steps, ctx.labels, ctx.transactions, venue)


def write_journal(session: LabelledSession, url: str, batch: int = 1_000) -> None:
    """Journal the session's transactions at their session times into a new store at
    `url`: the journal's entries are the session's steps, its chain head the
    engine's, checkpoint signed by the demo operator key."""
    from clearhouse.journal import Journal, open_store
    from clearhouse.testing import signer_for

    stamps = iter([step.timestamp_ns for step in session.steps])
    store = open_store(url)
    journal = Journal(
        store, session.genesis, signer_for("operator"), "operator", clock=lambda: next(stamps)
    )
    try:
        for first in range(0, len(session.transactions), batch):
            journal.submit(session.transactions[first : first + batch])
        journal.checkpoint()
    finally:
        journal.close()
