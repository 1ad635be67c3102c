"""`clearhouse surveil`: the detectors over a journal, and what an alert cites.

    clearhouse surveil --journal URL [--follow] [--links FILE] [--detector NAME...]
                       [--jsonl FILE] [--webhook URL --dead-letter FILE] [--json]
    clearhouse surveil explain ALERT --journal URL [--levels N] [--json]
    clearhouse surveil eval --seeds N [--json]

`surveil` reads the journal from its first entry (a finished one; or, with
`--follow`, a live one, polled until interrupted), keeps every alert in the
journal's own store (`--no-store` leaves the store as it is) and prints them as a
table (`--json`: one object). `explain` shows, for each sequence number an alert
cites, the transaction and the book as it stood after it, the alert's accounts'
own orders marked. `eval` measures the detectors on labelled sessions.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from clearhouse.audit_cli import JournalUrl, opened_journal
from clearhouse.core import Genesis, Instrument, Side
from clearhouse.core.display import format_price, format_time
from clearhouse.journal import JournalStore
from clearhouse.keys_cli import KeystoreDir, PassphraseEnv, open_keystore, read_passphrase

surveil_app = typer.Typer(
    help="Market-abuse surveillance: detectors over a journal, alerts and their evidence.",
)
POLL_S = 0.5
EXPLAIN_LEVELS = 5


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    return typer.Exit(2)


def _links(path: Path | None) -> Any:
    from clearhouse.surveillance import Links

    if path is None:
        return Links()
    try:
        return Links.read(path)
    except ValueError as exc:
        raise _fail(f"--links: {exc}") from None


def _detectors(names: list[str]) -> Any:
    from clearhouse.surveillance.detectors import all_detectors

    try:
        return all_detectors(names or None)
    except ValueError as exc:
        raise _fail(f"--detector: {exc}") from None


@surveil_app.callback(invoke_without_command=True)
def surveil(
    ctx: typer.Context,
    journal: Annotated[
        str | None,
        typer.Option(
            "--journal",
            metavar="URL",
            help="The journal (sqlite:///..., a path, postgresql://...).",
        ),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep reading new entries until interrupted.")
    ] = False,
    links: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help='Ownership links: {"groups": [["owner", ...], ...]}.'),
    ] = None,
    detector: Annotated[
        list[str] | None,
        typer.Option("--detector", metavar="NAME", help="Run only these detectors (repeat)."),
    ] = None,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Keep alerts in the journal's store.")
    ] = True,
    jsonl: Annotated[
        Path | None,
        typer.Option("--jsonl", metavar="FILE", help="Also append each alert to FILE as JSON."),
    ] = None,
    webhook: Annotated[
        str | None, typer.Option(metavar="URL", help="Also POST each alert to URL.")
    ] = None,
    dead_letter: Annotated[
        Path,
        typer.Option(metavar="FILE", help="Alerts the webhook could not deliver."),
    ] = Path("alerts-dead-letter.jsonl"),
    respond: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="With --follow: answer live alerts by signed control transactions "
            "(KillSwitch, HaltMarket), per detector and severity as FILE says.",
        ),
    ] = None,
    venue: Annotated[
        str, typer.Option(metavar="URL", help="The venue the responses go to.")
    ] = "http://127.0.0.1:8000",
    surveillance_key: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="The surveillance key that signs responses (default: the development "
            "venue's demo key).",
        ),
    ] = None,
    keystore: KeystoreDir = None,
    passphrase_env: PassphraseEnv = None,
    live_after_seq: Annotated[
        int | None,
        typer.Option(
            metavar="SEQ",
            min=0,
            max=2**63 - 1,
            help="Answer (--respond) alerts raised after SEQ (default: the record's "
            "length when reading starts; what came before was answered then).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run the detectors over a journal and print the alerts."""
    if ctx.invoked_subcommand is not None:
        return
    if journal is None:
        raise _fail("--journal URL is required (or a command: explain, eval)")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise _fail(f"--webhook: {webhook!r} is not an http(s) URL")
    if jsonl is not None and jsonl.is_dir():
        raise _fail(f"--jsonl: {jsonl} is a folder")
    if jsonl is not None and not jsonl.parent.is_dir():
        raise _fail(f"--jsonl: no folder {jsonl.parent}")
    if webhook is not None and not dead_letter.parent.is_dir():
        raise _fail(f"--dead-letter: no folder {dead_letter.parent}")
    from clearhouse.surveillance import Surveillance
    from clearhouse.surveillance.sinks import JsonLinesSink, Sink, WebhookSink
    from clearhouse.surveillance.store import open_alert_store

    chosen_links, chosen = _links(links), _detectors(detector or [])
    if respond is not None and not follow:
        raise _fail("--respond answers live alerts: give --follow too")
    rules = _rules(respond, [d.name for d in chosen]) if respond is not None else []
    with opened_journal(journal) as source:
        genesis = _genesis(source)
        surveillance = Surveillance(genesis, chosen, chosen_links)
        responder = (
            _responder(venue, genesis, surveillance_key, keystore, passphrase_env, rules)
            if rules
            else None
        )
        sinks: list[Sink] = []
        if jsonl is not None:
            sinks.append(JsonLinesSink(jsonl))
        if webhook is not None:
            sinks.append(WebhookSink(webhook, dead_letter))
        try:
            alerts_store = open_alert_store(journal) if store else None
        except Exception as exc:
            raise _fail(f"cannot keep alerts in {journal}: {exc} (--no-store)") from None
        console = Console(width=160, highlight=False)
        found: list[Any] = []
        try:
            for alerts, live in _batches(source, surveillance, follow, live_after_seq):
                if alerts_store is not None:
                    alerts_store.add(alerts)
                for alert in alerts:
                    for sink in sinks:
                        sink.emit(alert)
                    if follow:
                        _print_live(console, alert, as_json)
                    if responder is not None and live:
                        for line in responder.answer(alert, surveillance.market.accounts):
                            console.print(line)
                if not follow:
                    found += alerts
        finally:
            for sink in sinks:
                sink.close()
            if alerts_store is not None:
                alerts_store.close()
            if responder is not None:
                responder.close()
    if follow:
        return
    if as_json:
        typer.echo(json.dumps(_summary(found, surveillance.seq, genesis)))
        return
    _print_table(console, found, genesis, surveillance.seq)


def _rules(path: Path, detectors: list[str]) -> Any:
    from clearhouse.surveillance.responses import read_rules

    try:
        return read_rules(path, detectors)
    except ValueError as exc:
        raise _fail(f"--respond: {exc}") from None


def _responder(
    venue: str,
    genesis: Genesis,
    key: str | None,
    keystore: Path | None,
    passphrase_env: str | None,
    rules: Any,
) -> Any:
    from clearhouse.auth.keystore import KeystoreError
    from clearhouse.surveillance.responses import Responder

    if key is None:
        from clearhouse.serve_cli import DEV_SURVEILLANCE, DEV_VENUE_ID
        from clearhouse.testing import signer_for

        if genesis.venue_id != DEV_VENUE_ID:
            raise _fail(
                f"--surveillance-key: the journal is venue {genesis.venue_id!r}, not the "
                "development venue: name the surveillance key that signs responses"
            )
        return Responder(venue, signer_for(DEV_SURVEILLANCE), rules)
    try:
        store = open_keystore(keystore)
        signer = store.load_signer(key, read_passphrase(passphrase_env, confirm=False))
    except KeystoreError as exc:
        raise _fail(f"--surveillance-key: [{exc.code.value}] {exc.message}") from None
    return Responder(venue, signer, rules)


def _genesis(store: JournalStore) -> Genesis:
    from clearhouse.audit.common import AuditError, load_genesis

    try:
        return load_genesis(store)
    except AuditError as exc:
        raise _fail(f"--journal: {exc}") from None


def _batches(
    store: JournalStore, surveillance: Any, follow: bool, live_after_seq: int | None
) -> Iterator[tuple[list[Any], bool]]:
    """The alerts of each step read, and whether the step is live: after
    `live_after_seq`, by default the record's length when reading starts. With
    `follow`, polling until SIGINT or SIGTERM."""
    from clearhouse.surveillance import journal_steps

    stopping: list[bool] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(True)

    parent = os.getppid()
    if follow:
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
    live_after = store.size() if live_after_seq is None else live_after_seq
    while True:
        for step in journal_steps(store, surveillance.seq):
            yield surveillance.observe(step), step.seq > live_after
            if stopping:
                return
        # Following a venue that started it, it ends with the venue, even a killed one.
        if not follow or stopping or os.getppid() != parent:
            return
        time.sleep(POLL_S)


def _row_fields(alert: Any) -> dict[str, Any]:
    from clearhouse.surveillance.alerts import alert_encoder

    fields: dict[str, Any] = json.loads(alert_encoder.encode(alert))
    return fields


def _summary(alerts: list[Any], last_seq: int, genesis: Genesis) -> dict[str, Any]:
    by_detector: dict[str, int] = {}
    for alert in alerts:
        by_detector[alert.detector] = by_detector.get(alert.detector, 0) + 1
    return {
        "venue_id": genesis.venue_id,
        "last_seq": last_seq,
        "alerts": [_row_fields(a) for a in alerts],
        "alerts_by_detector": dict(sorted(by_detector.items())),
    }


def _print_live(console: Console, alert: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_row_fields(alert)))
        return
    console.print(
        f"{format_time(alert.timestamp_ns)}  {alert.id}  {alert.severity.value} {alert.score}"
        f"  {', '.join(alert.accounts)}  {', '.join(alert.instruments)}  {alert.summary}"
    )


def _print_table(console: Console, alerts: list[Any], genesis: Genesis, last_seq: int) -> None:
    if not alerts:
        console.print(f"{genesis.venue_id}: no alerts in {last_seq:,} entries")
        return
    table = Table(title=f"{genesis.venue_id}: {len(alerts):,} alerts in {last_seq:,} entries")
    for column in (
        "alert",
        "when (UTC)",
        "severity",
        "score",
        "accounts",
        "instruments",
        "evidence",
        "what",
    ):
        table.add_column(column, overflow="fold")
    for alert in alerts:
        evidence = ", ".join(f"{seq:,}" for seq in alert.evidence[:4])
        if len(alert.evidence) > 4:
            evidence += f" … ({len(alert.evidence):,})"
        table.add_row(
            alert.id,
            format_time(alert.timestamp_ns).removesuffix(" UTC"),
            alert.severity.value,
            str(alert.score),
            ", ".join(alert.accounts),
            ", ".join(alert.instruments),
            evidence,
            alert.summary,
        )
    console.print(table)


# -- explain -----------------------------------------------------------------------------


@surveil_app.command("explain")
def explain(
    alert_id: Annotated[str, typer.Argument(metavar="ALERT", help="An alert id: DETECTOR/SEQ.")],
    journal: JournalUrl,
    levels: Annotated[
        int, typer.Option(min=1, max=50, help="Book levels shown each side.")
    ] = EXPLAIN_LEVELS,
    links: Annotated[Path | None, typer.Option(metavar="FILE", help="Ownership links.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show the evidence of ALERT: each cited transaction and the book after it."""
    from clearhouse.surveillance import MarketView, Surveillance, journal_steps
    from clearhouse.surveillance.detectors import detector_classes

    detector_name, _, seq_text = alert_id.rpartition("/")
    if detector_name not in detector_classes() or not seq_text.isdigit():
        raise _fail(f"ALERT: {alert_id!r} is not DETECTOR/SEQ with a known detector")
    chosen_links = _links(links)
    seq = int(seq_text)
    with opened_journal(journal) as source:
        genesis = _genesis(source)
        # The alert is recomputed from the record: the store's copy is not trusted.
        surveillance = Surveillance(genesis, _detectors([detector_name]), chosen_links)
        alert = None
        for step in journal_steps(source):
            if step.seq > seq:
                break
            alert = next((a for a in surveillance.observe(step) if a.id == alert_id), alert)
        if alert is None:
            raise _fail(f"ALERT: the journal raises no alert {alert_id}")
        cited = set(alert.evidence)
        market = MarketView(genesis)
        shown: list[dict[str, Any]] = []
        for step in journal_steps(source):
            if step.seq > alert.evidence[-1]:
                break
            market.apply(step)
            if step.seq in cited:
                shown.append(_evidence(step, market, alert, levels))
    if as_json:
        typer.echo(json.dumps({"alert": _row_fields(alert), "evidence": shown}))
        return
    console = Console(width=160, highlight=False)
    console.print(f"{alert.id}  {alert.severity.value} (score {alert.score})  {alert.summary}")
    console.print(
        f"accounts {', '.join(alert.accounts)}; instruments {', '.join(alert.instruments)}"
    )
    for item in shown:
        console.print(f"\nseq {item['seq']:,}  {item['time']}  {item['what']}")
        for instrument, book in item["books"].items():
            table = Table(title=instrument, show_edge=False)
            for column in ("bid (theirs)", "bid size", "bid", "ask", "ask size", "ask (theirs)"):
                table.add_column(column, justify="right")
            for bid, ask in zip(book["bids"], book["asks"], strict=True):
                table.add_row(
                    bid["theirs_text"],
                    bid["size_text"],
                    bid["price_text"],
                    ask["price_text"],
                    ask["size_text"],
                    ask["theirs_text"],
                )
            console.print(table)


def _evidence(step: Any, market: Any, alert: Any, levels: int) -> dict[str, Any]:
    books = {}
    for instrument in alert.instruments:
        spec = market.specs.get(instrument)
        if spec is None:
            continue
        books[instrument] = {
            "bids": _side(market, spec, Side.BUY, alert.accounts, levels),
            "asks": _side(market, spec, Side.SELL, alert.accounts, levels),
        }
    return {
        "seq": step.seq,
        "timestamp_ns": step.timestamp_ns,
        "time": format_time(step.timestamp_ns),
        "what": _what(step, market),
        "books": books,
    }


def _side(
    market: Any, spec: Instrument, side: Side, accounts: tuple[str, ...], levels: int
) -> list[dict[str, Any]]:
    depth = market.depth(spec.id, side)
    prices = sorted(depth, reverse=side is Side.BUY)[:levels]
    theirs: dict[int, int] = {}
    for order in market.orders.values():
        if order.instrument == spec.id and order.side is side and order.account in accounts:
            theirs[order.price] = theirs.get(order.price, 0) + order.remaining
    rows = [
        {
            "price": price,
            "size": depth[price],
            "theirs": theirs.get(price, 0),
            "price_text": format_price(price, spec),
            "size_text": f"{depth[price]:,}",
            "theirs_text": f"{theirs[price]:,}" if theirs.get(price) else "",
        }
        for price in prices
    ]
    blank = {
        "price": None,
        "size": 0,
        "theirs": 0,
        "price_text": "",
        "size_text": "",
        "theirs_text": "",
    }
    return rows + [blank] * (levels - len(rows))


def _what(step: Any, market: Any) -> str:
    from clearhouse.core import AmendOrder, CancelAll, CancelOrder, PlaceOrder

    payload = step.payload
    if isinstance(payload, PlaceOrder) and payload.instrument in market.specs:
        spec = market.specs[payload.instrument]
        price = format_price(payload.price, spec) if payload.price is not None else "market"
        text = (
            f"{payload.account} places {payload.side.value} {payload.size:,} {payload.instrument}"
            f" @ {price} ({payload.time_in_force.value})"
        )
    elif isinstance(payload, CancelOrder):
        text = f"{payload.account} cancels order {payload.order_id}"
    elif isinstance(payload, CancelAll):
        text = f"{payload.account} cancels all {payload.instrument or 'orders'}"
    elif isinstance(payload, AmendOrder):
        text = f"{payload.account} amends order {payload.order_id}"
    else:
        text = type(payload).__name__
    trades = [e for e in step.events if type(e).__name__ == "TradeExecuted"]
    if trades:
        text += f"; {len(trades)} fill(s)"
    if step.rejected is not None:
        text += f"; rejected {step.rejected.name}"
    return text


# -- eval --------------------------------------------------------------------------------


@surveil_app.command("eval")
def evaluate_command(
    seeds: Annotated[int, typer.Option(min=1, max=10_000, help="Sessions to generate.")] = 10,
    first_seed: Annotated[
        int, typer.Option(min=0, max=2**31, help="The first seed (seeds run consecutively).")
    ] = 1_000,
    minutes: Annotated[int, typer.Option(min=1, max=60, help="Length of each session.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Precision and recall of every detector on labelled sessions (honest agents,
    hard negatives and known manipulators)."""
    from clearhouse.surveillance.evaluation import evaluate

    scores = evaluate(range(first_seed, first_seed + seeds), duration_ns=minutes * 60 * 10**9)
    rows = {
        name: {
            "labels": s.labels,
            "found": s.found,
            "alerts": s.alerts,
            "true_alerts": s.true_alerts,
            "recall": round(s.recall, 4),
            "precision": round(s.precision, 4),
        }
        for name, s in sorted(scores.items())
    }
    summary = {
        "seeds": seeds,
        "first_seed": first_seed,
        "minutes": minutes,
        "detectors": rows,
        "min_recall": min((r["recall"] for r in rows.values()), default=1.0),
        "min_precision": min((r["precision"] for r in rows.values()), default=1.0),
    }
    if as_json:
        typer.echo(json.dumps(summary))
        return
    console = Console(width=120, highlight=False)
    table = Table(title=f"{seeds:,} sessions of {minutes} min from seed {first_seed:,}")
    for column in ("detector", "episodes", "found", "alerts", "true", "recall", "precision"):
        table.add_column(column, justify="right" if column != "detector" else "left")
    for name, row in rows.items():
        table.add_row(
            name,
            f"{row['labels']:,}",
            f"{row['found']:,}",
            f"{row['alerts']:,}",
            f"{row['true_alerts']:,}",
            f"{row['recall']:.3f}",
            f"{row['precision']:.3f}",
        )
    console.print(table)
    console.print(
        f"min recall {summary['min_recall']:.3f}, min precision {summary['min_precision']:.3f}"
    )
    sys.stdout.flush()
