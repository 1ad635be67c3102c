"""A short scripted session on the core, printed for people.

Two market makers quote BTC-PERP, a trader lifts the offer, the index drops, and an
order too large for the trader's collateral is refused. A second, highly leveraged
trader is caught by a deeper fall: the keeper sees the margin call and liquidates
it through the book, the fee going to the insurance fund. The summary shows
positions, equity, margin, an option's Black-76 mark and the state digest.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import groupby
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from clearhouse.core import (
    Accepted,
    CancelAll,
    Deposit,
    Depth,
    Engine,
    ExpiryQuote,
    Genesis,
    LiquidationStarted,
    MarkView,
    OracleUpdate,
    Outcome,
    Payload,
    PlaceOrder,
    Rejected,
    Side,
    TimeInForce,
    TradeExecuted,
)
from clearhouse.core.catalogue import USDC, USDC_DECIMALS, expiry_ns
from clearhouse.core.display import format_amount, format_units
from clearhouse.journal import (
    Journal,
    SqliteJournal,
    leaf_hash,
    parse_signed_checkpoint,
    verify_inclusion,
)
from clearhouse.keepers import Keeper
from clearhouse.sequencer import Sequencer
from clearhouse.testing import KEEPER, TestVenue, signer_for, standard_genesis

USD = 10**USDC_DECIMALS
TICK = 500_000
DEC26 = expiry_ns(2026, 12, 25)
OPTION = "BTC-25DEC26-100000-C"


def usd(units: int) -> str:
    """USDC units as people read them, e.g. "11,000.00"."""
    return format_units(units, USDC_DECIMALS)


def usdc(units: int) -> str:
    """USDC units with the asset named, e.g. "11,000.00 USDC"."""
    return format_amount(units, USDC_DECIMALS, USDC)


def script(now: Callable[[], int]) -> Iterator[tuple[str, Payload, str | None]]:
    """(caption, payload, signer name or None for the payload's usual signer); `now`
    is the clock the oracle's observations are stamped with."""
    yield "custodian credits the makers", Deposit("maker-a", "USDC", 2_000_000 * USD), None
    yield "", Deposit("maker-b", "USDC", 2_000_000 * USD), None
    yield "custodian credits the trader", Deposit("trader", "USDC", 50_000 * USD), None
    yield "trader signs a deposit to itself", Deposit("trader", "USDC", 10**6 * USD), "trader"
    quote = ExpiryQuote(DEC26, atm_vol_ppm=550_000, skew_ppm=-100_000, basis=400 * USD)
    yield (
        "oracle prices BTC-USD at 100,000",
        OracleUpdate("BTC-USD", 100_000 * USD, now(), (quote,)),
        None,
    )
    for maker, offset in (("maker-a", 0), ("maker-b", 1)):
        for level in range(3):
            ticks = (level + 1 + offset) * 20
            bid = PlaceOrder(maker, "BTC-PERP", Side.BUY, 200, price=100_000 * USD - ticks * TICK)
            ask = PlaceOrder(maker, "BTC-PERP", Side.SELL, 200, price=100_000 * USD + ticks * TICK)
            yield f"{maker} quotes", bid, None
            yield "", ask, None
    lift = PlaceOrder(
        "trader", "BTC-PERP", Side.BUY, 300, price=100_050 * USD, time_in_force=TimeInForce.IOC
    )
    yield "trader lifts the offer (IOC)", lift, None
    hit = PlaceOrder("trader", "BTC-PERP", Side.SELL, 100, price=99_900 * USD)
    yield "trader sells into the bid", hit, None
    yield "maker-a tries to cancel the trader's orders", CancelAll("trader"), "maker-a"
    yield (
        "custodian credits a second trader 3,000 USDC",
        Deposit("degen", "USDC", 3_000 * USD),
        None,
    )
    levered = PlaceOrder(
        "degen", "BTC-PERP", Side.BUY, 250, price=100_020 * USD, time_in_force=TimeInForce.IOC
    )
    yield "degen buys 0.25 BTC at 8x leverage", levered, None
    yield "oracle: BTC-USD falls to 98,500", OracleUpdate("BTC-USD", 98_500 * USD, now()), None
    too_big = PlaceOrder(
        "trader", "BTC-PERP", Side.BUY, 5_000, price=98_600 * USD, time_in_force=TimeInForce.IOC
    )
    yield "trader tries 5 BTC more: over margin", too_big, None
    yield "the makers pull their quotes", CancelAll("maker-a"), None
    yield "", CancelAll("maker-b"), None
    for price, size in ((90_900, 200), (90_800, 300)):
        bid = PlaceOrder("maker-a", "BTC-PERP", Side.BUY, size, price=price * USD)
        yield "maker-a bids lower" if size == 200 else "", bid, None
    yield "oracle: BTC-USD falls to 91,000", OracleUpdate("BTC-USD", 91_000 * USD, now()), None


def describe(outcome: Outcome) -> str:
    if isinstance(outcome, Rejected):
        return f"[red]rejected {outcome.code.name} ({outcome.code.value})[/red]: {escape(outcome.message)}"
    trades = [e for e in outcome.events if isinstance(e, TradeExecuted)]
    if trades and not isinstance(outcome.events[0], LiquidationStarted):
        lots = sum(t.size for t in trades)
        fills = f"{len(trades)} fill{'s' if len(trades) > 1 else ''}"
        return f"[green]accepted[/green]: {fills}, {lots} lots, last at {usd(trades[-1].price)}"
    counted = [
        (name, len(list(run))) for name, run in groupby(type(e).__name__ for e in outcome.events)
    ]
    names = [f"{name} x{count}" if count > 1 else name for name, count in counted]
    return f"[green]accepted[/green]: {', '.join(names)}"


OPERATOR = "venue-operator"
DEFAULT_JOURNAL = Path("clearhouse-demo.db")
"""Where the demo keeps its journal when not told: the working folder, under a fresh
name (`clearhouse-demo-2.db`, ...) when this one is taken, so a second run works."""
FRESH_NAMES_MAX = 1_000


class DemoError(Exception):
    """A journal path the demo cannot use; nothing was written."""


def claim_journal_path(requested: Path | None) -> Path:
    """The path the demo journals to: `requested`, refused unless it is new or empty
    (the demo starts a venue, it never appends to one), else a fresh default name."""
    if requested is not None:
        _check_new(requested)
        return requested
    stem, suffix = DEFAULT_JOURNAL.stem, DEFAULT_JOURNAL.suffix
    for number in range(1, FRESH_NAMES_MAX + 1):
        path = DEFAULT_JOURNAL if number == 1 else Path(f"{stem}-{number}{suffix}")
        try:
            # Creating the file claims the name, so two demos started at once differ.
            with path.open("x"):
                pass
        except FileExistsError:
            continue
        except OSError as exc:
            raise DemoError(f"cannot create {path}: {exc.strerror or exc}") from exc
        return path
    raise DemoError(
        f"{DEFAULT_JOURNAL} to {stem}-{FRESH_NAMES_MAX}{suffix} all exist: "
        "delete old demo journals or pass --journal"
    )


def _check_new(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        raise DemoError(f"cannot journal to {path}: the folder {folder} does not exist")
    if path.exists() and not path.is_file():
        raise DemoError(f"cannot journal to {path}: it is not a regular file")
    wal = path.with_name(path.name + "-wal")
    taken = [p for p in (path, wal) if p.is_file() and p.stat().st_size > 0]
    if taken:
        raise DemoError(
            f"{taken[0]} is not empty: the demo starts a new journal and never adds to "
            "an existing one; pass a new path or leave out --journal"
        )


def _open_journal(
    path: Path, genesis: Genesis, signing: TestVenue, checkpoint_every: int = 10_000
) -> Journal:
    """The demo's journal, signed by the demo operator, on the script's clock."""
    return Journal(
        SqliteJournal(path),
        genesis,
        signer_for(OPERATOR),
        OPERATOR,
        clock=lambda: signing.now_ns,
        checkpoint_every=checkpoint_every,
    )


def run_demo(console: Console | None = None, journal_path: Path | None = None) -> Engine:
    """Run the scripted session into a new journal (see `claim_journal_path`), which is
    kept; raises DemoError, before writing anything, if the path cannot be used."""
    console = console or Console()
    path = claim_journal_path(journal_path)
    genesis = standard_genesis(["trader", "degen"], market_makers=["maker-a", "maker-b"])
    signing = TestVenue(genesis)  # holds the demo keys and their nonces
    journal = _open_journal(path, genesis, signing, checkpoint_every=8)
    console.rule("clearhouse demo: one BTC-PERP session, journaled to SQLite")
    console.print(
        f"venue {genesis.venue_id}: {len(genesis.keys)} keys in genesis (demo keys derived "
        "from names: public knowledge, never for real money). Each transaction is signed, "
        f"verified, sequenced, applied and durably journaled in {path} by the sequencer before its "
        "receipt comes back. Amounts and prices are in USDC.",
        markup=False,
    )
    first_fill: tuple[int, int] | None = None  # (seq, leaf index) of the trader's first fill
    with Sequencer(journal) as sequencer:
        for caption, payload, signer in script(lambda: signing.now_ns):
            signing.now_ns += 1_000_000
            receipt = sequencer.submit(signing.sign(payload, signer)).result()
            outcome = receipt.outcome
            if (
                first_fill is None
                and isinstance(outcome, Accepted)
                and any(isinstance(e, TradeExecuted) for e in outcome.events)
            ):
                first_fill = (receipt.seq, receipt.leaf_index)
            if caption or isinstance(outcome, Rejected):
                label = caption or type(payload).__name__
                console.print(f"{receipt.seq:>3}  {label:<44} {describe(outcome)}")
        # The keeper watches the state: an account in a margin call gets a signed
        # Liquidate, sequenced and journaled like everything else.
        keeper = Keeper.for_sequencer(sequencer, signer_for(KEEPER), clock=lambda: signing.now_ns)
        signing.now_ns += 1_000_000
        for submission in keeper.poll():
            account = getattr(submission.payload, "account", "")
            label = f"keeper: {type(submission.payload).__name__} {account}"
            console.print(f"{journal.engine.seq:>3}  {label:<44} {describe(submission.outcome)}")
    engine = journal.engine
    engine.check_invariants()
    note = journal.checkpoint()
    # The script always trades; a missing fill would be a broken script, not bad input.
    assert first_fill is not None, "the demo script made no trade"
    _show_proof(console, journal, first_fill, note)
    digest, head = engine.digest(), engine.chain_head
    operator_key = journal.verifier().verifier_string()
    journal.close()
    reopened = _open_journal(path, genesis, signing)
    same = reopened.engine.digest() == digest and reopened.engine.chain_head == head
    console.print(
        f"reopened {path}: recovered {reopened.engine.seq} entries by re-executing "
        f"them; same digest and chain head: {'yes' if same else 'NO'}",
        markup=False,
    )
    reopened.close()
    table = Table(title="accounts (USDC)")
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
        table.add_column(column, justify="right", no_wrap=column == "account")
    for account_id in engine.account_ids():
        view = engine.account(account_id)
        assert view is not None
        position = next((p for p in view.positions if p.instrument == "BTC-PERP"), None)
        size = f"{position.size} lots" if position else "-"
        entry = _decimal_price(position.entry_price) if position and position.size else "-"
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
            "BTC-PERP depth (price x lots): bids "
            + (", ".join(f"{usd(level.price)} x {level.size}" for level in depth.bids) or "none")
            + " | asks "
            + (", ".join(f"{usd(level.price)} x {level.size}" for level in depth.asks) or "none")
        )
    option = engine.marks(OPTION)
    if isinstance(option, MarkView):
        vega = Decimal(option.vega) / USD
        console.print(
            f"{OPTION} marks at {usd(option.mark_price)} by Black-76: forward "
            f"{usd(option.forward)}, vol {option.vol_ppm / 10_000:.1f} %, "
            f"delta {Decimal(option.delta):.3f}, vega {vega:,.2f} per unit of vol"
        )
    console.print(f"insurance fund {usdc(engine.totals()['insurance_fund'])}")
    console.print(f"seq {engine.seq}  chain head {engine.chain_head.hex()}")
    console.print(f"state digest {engine.digest().hex()}")
    console.print(
        f"\nThe journal is kept in {path}. Anyone holding it and the operator's key can "
        "check every signature, checkpoint and outcome by re-executing it:",
        markup=False,
    )
    # One unbroken line, so it can be copied and run as printed.
    console.print(audit_command(path, operator_key), markup=False, highlight=False, soft_wrap=True)
    return engine


def audit_command(path: Path, operator_key: str) -> str:
    """The shell command that audits the demo's journal, runnable as printed."""
    return (
        f"{shlex.quote(program())} audit verify --journal {shlex.quote(str(path))} "
        f"--operator-key {shlex.quote(operator_key)}"
    )


def program() -> str:
    """How the user's shell runs this command: `clearhouse` when that name finds this
    script (or the demo was not started from one), else the script's own path, such
    as `.venv/bin/clearhouse` after `make demo` with the virtualenv not activated."""
    running = Path(sys.argv[0])
    if running.name != "clearhouse":
        return "clearhouse"
    found = shutil.which("clearhouse")
    if found is not None and Path(found).resolve() == running.resolve():
        return "clearhouse"
    try:
        return str(running.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(running.resolve())


def _decimal_price(text: str) -> str:
    """A decimal string of the core's views (e.g. "100015.550000") with separators."""
    whole, _, fraction = text.partition(".")
    return format_units(int(whole + fraction), len(fraction))


def _show_proof(console: Console, journal: Journal, fill: tuple[int, int], note: bytes) -> None:
    """Prove the trader's first fill is in the signed log, the way a client would."""
    seq, leaf = fill
    proof = journal.prove(leaf)
    checkpoint = parse_signed_checkpoint(proof.checkpoint, [journal.verifier()])
    included = verify_inclusion(
        leaf_hash(proof.entry), proof.leaf_index, proof.tree_size, proof.proof, checkpoint.root_hash
    )
    console.print(
        f"checkpoint signed by {journal.verifier().verifier_string()}:\n"
        + "\n".join("    " + line for line in note.decode().splitlines()),
        markup=False,
    )
    console.print(
        f"receipt for the trader's first fill, seq {seq} (Merkle leaf index {leaf}): "
        f"inclusion proof of {len(proof.proof)} hashes against tree size {proof.tree_size}: "
        f"{'verified' if included else 'FAILED'}"
    )
