"""A short scripted session on the core, printed for people.

Two market makers quote BTC-PERP, a trader lifts the offer, the index drops, and an
order too large for the trader's collateral is refused. The summary shows
positions, equity, margin and the state digest.
"""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import Console
from rich.table import Table

from clearhouse.core import (
    Accepted,
    Deposit,
    Depth,
    Engine,
    OracleUpdate,
    Outcome,
    Payload,
    PlaceOrder,
    Rejected,
    Sequenced,
    Side,
    TimeInForce,
    TradeExecuted,
    Transaction,
)

USD = 1_000_000


def usd(units: int) -> str:
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), USD)
    return f"{sign}{whole:,}.{fraction // 10_000:02d}"


def script() -> Iterator[tuple[str, Payload]]:
    yield "custodian credits the makers and the trader", Deposit("maker-a", "USDC", 2_000_000 * USD)
    yield "", Deposit("maker-b", "USDC", 2_000_000 * USD)
    yield "", Deposit("trader", "USDC", 50_000 * USD)
    yield "oracle prices BTC-USD at 100,000", OracleUpdate("BTC-USD", 100_000 * USD)
    for maker, offset in (("maker-a", 0), ("maker-b", 1)):
        for level in range(3):
            ticks = (level + 1 + offset) * 20
            yield (
                f"{maker} quotes",
                PlaceOrder(maker, "BTC-PERP", Side.BUY, 200, price=100_000 * USD - ticks * 500_000),
            )
            yield (
                "",
                PlaceOrder(
                    maker, "BTC-PERP", Side.SELL, 200, price=100_000 * USD + ticks * 500_000
                ),
            )
    yield (
        "trader lifts the offer (IOC)",
        PlaceOrder(
            "trader", "BTC-PERP", Side.BUY, 300, price=100_050 * USD, time_in_force=TimeInForce.IOC
        ),
    )
    yield (
        "trader sells into the bid",
        PlaceOrder("trader", "BTC-PERP", Side.SELL, 100, price=99_900 * USD),
    )
    yield "oracle: BTC-USD falls to 98,500", OracleUpdate("BTC-USD", 98_500 * USD)
    yield (
        "trader tries 5 BTC more: over margin",
        PlaceOrder(
            "trader", "BTC-PERP", Side.BUY, 5_000, price=98_600 * USD, time_in_force=TimeInForce.IOC
        ),
    )


def describe(outcome: Outcome) -> str:
    if isinstance(outcome, Rejected):
        return f"[red]rejected {outcome.code.name} ({outcome.code.value})[/red]: {outcome.message}"
    trades = [e for e in outcome.events if isinstance(e, TradeExecuted)]
    if trades:
        lots = sum(t.size for t in trades)
        return f"[green]accepted[/green]: {len(trades)} fills, {lots} lots, last at {usd(trades[-1].price)}"
    return f"[green]accepted[/green]: {', '.join(type(e).__name__ for e in outcome.events)}"


def run_demo(console: Console | None = None) -> Engine:
    console = console or Console()
    engine = Engine()
    console.rule("clearhouse demo: one BTC-PERP session on the core")
    for seq, (caption, payload) in enumerate(script(), start=1):
        outcome = engine.apply(
            Sequenced(seq, 1_700_000_000_000_000_000 + seq * 1_000_000, Transaction(payload))
        )
        if caption or isinstance(outcome, Rejected):
            console.print(f"{seq:>3}  {caption or type(payload).__name__:<44} {describe(outcome)}")
        elif isinstance(outcome, Accepted):
            continue
    engine.check_invariants()

    table = Table(title="accounts (USD)")
    for column in (
        "account",
        "position BTC-PERP",
        "entry",
        "cash",
        "equity",
        "initial margin",
        "maintenance",
        "margin call",
    ):
        table.add_column(column, justify="right")
    for account_id in engine.account_ids():
        view = engine.account(account_id)
        assert view is not None
        position = next((p for p in view.positions if p.instrument == "BTC-PERP"), None)
        size = f"{position.size} lots" if position else "-"
        entry = position.entry_price if position and position.size else "-"
        table.add_row(
            account_id,
            size,
            entry,
            usd(view.cash),
            usd(view.equity),
            usd(view.initial_margin),
            usd(view.maintenance_margin),
            "yes" if view.in_margin_call else "no",
        )
    console.print(table)
    depth = engine.depth("BTC-PERP", 3)
    if isinstance(depth, Depth):
        console.print(
            "BTC-PERP depth: bids "
            + ", ".join(f"{usd(level.price)} x {level.size}" for level in depth.bids)
            + " | asks "
            + ", ".join(f"{usd(level.price)} x {level.size}" for level in depth.asks)
        )
    console.print(f"seq {engine.seq}  chain head {engine.chain_head.hex()}")
    console.print(f"state digest {engine.digest().hex()}")
    return engine
