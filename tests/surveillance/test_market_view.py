"""The market surveillance rebuilds from the record is the engine's market: books,
marks and positions agree with the engine's own at every point checked."""

from __future__ import annotations

from pathlib import Path

from clearhouse.core import Depth, Side
from clearhouse.journal import open_store
from clearhouse.surveillance import journal_steps
from clearhouse.surveillance.agents.honest import honest_population
from clearhouse.surveillance.market import MarketView
from clearhouse.surveillance.sessions import SECOND_NS, SessionContext, run_session, write_journal
from clearhouse.testing import TestVenue


def engine_levels(venue: TestVenue, instrument: str, side: Side) -> dict[int, int]:
    depth = venue.engine.depth(instrument, 1_000)
    assert isinstance(depth, Depth)
    levels = depth.bids if side is Side.BUY else depth.asks
    return {level.price: level.size for level in levels}


class Checker:
    """An agent that, every half second, compares the session's market view with
    the engine."""

    owners: tuple[str, ...] = ()
    market_maker = False
    checks = 0

    def start(self, ctx: SessionContext) -> int:
        return ctx.now_ns + SECOND_NS

    def act(self, ctx: SessionContext) -> int:
        market: MarketView = ctx.market
        for instrument in market.specs:
            for side in (Side.BUY, Side.SELL):
                assert market.depth(instrument, side) == engine_levels(ctx.venue, instrument, side)
        for account_id in {a for a, _ in market.positions}:
            view = ctx.venue.engine.account(account_id)
            assert view is not None
            held = {p.instrument: p.size for p in view.positions if p.size}
            mine = {i: s for (a, i), s in market.positions.items() if a == account_id}
            assert mine == held, account_id
        Checker.checks += 1
        return ctx.now_ns + SECOND_NS // 2


def test_books_and_positions_match_the_engine_throughout_a_session() -> None:
    Checker.checks = 0
    session = run_session(
        7, lambda rng: [*honest_population(rng), Checker()], duration_ns=60 * SECOND_NS
    )
    assert Checker.checks >= 100
    trades = sum(1 for s in session.steps for e in s.events if type(e).__name__ == "TradeExecuted")
    assert trades > 20  # the check saw a market that trades, not an idle one


def test_a_session_is_its_seed() -> None:
    def run(seed: int) -> list[tuple[int, int, bytes]]:
        session = run_session(seed, honest_population, duration_ns=20 * SECOND_NS)
        return [(s.seq, s.timestamp_ns, s.signer) for s in session.steps]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_touch_before_is_the_book_as_the_step_found_it() -> None:
    session = run_session(5, honest_population, duration_ns=10 * SECOND_NS)
    replay = MarketView(session.genesis)
    for step in session.steps:
        before = {i: replay.touch(i) for i in replay.specs}
        replay.apply(step)
        for instrument, touch in replay.touch_before.items():
            assert touch == before[instrument]


def test_a_sessions_journal_holds_exactly_its_steps(tmp_path: Path) -> None:
    session = run_session(9, honest_population, duration_ns=15 * SECOND_NS)
    url = f"sqlite:///{tmp_path / 'session.db'}"
    write_journal(session, url)
    store = open_store(url, read_only=True)
    try:
        assert list(journal_steps(store)) == session.steps
        assert next(iter(journal_steps(store, 100))) == session.steps[100]
    finally:
        store.close()
