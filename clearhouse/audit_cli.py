"""`clearhouse audit` and `clearhouse replay`: check a journal from its own record.

    clearhouse audit verify --journal URL --operator-key KEY   every check, first fault exactly
    clearhouse audit prove --journal URL --entry SEQ [--out F] an inclusion proof as JSON
    clearhouse audit check-proof FILE --operator-key KEY       check that proof offline
    clearhouse audit query --journal URL [filters] [--json]    entries by account, order, ...
    clearhouse replay --journal URL --to SEQ [--json FILE]     the state as it was at SEQ

A journal URL is `sqlite:///path`, a plain path, or `postgresql://...`; the journal is
only read, and opened so that it cannot be written (SQLite `mode=ro`, PostgreSQL
read-only transactions). KEY is the operator's checkpoint verifier key string
(`name+keyid+base64key`, as `NoteVerifier.verifier_string()` prints it).

Exit status: 0 when everything checks out; 1 when the journal, proof or replay shows a
fault (the message names the entry), a stored value cannot be read (one line naming
the entry or the damaged page) and a stored genesis that does not decode included;
2 when the input cannot be used at all (no such journal, a file that is not a
journal, a malformed key, an unreadable file or one nested too deep, a held
checkpoint that is not a signed note, a seq the journal does not hold). An error is
one line: a message that spans lines (a driver's hint, say) is joined into one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from clearhouse.cli_params import (
    INT64_MAX,
    WORKERS_MAX,
    input_file,
    input_files,
    output_file,
)

if TYPE_CHECKING:
    from clearhouse.audit import AuditReport, BatchVerifier
    from clearhouse.core import Engine, Genesis
    from clearhouse.journal import JournalStore, NoteVerifier

PROGRESS_MIN_ENTRIES: Final = 10_000
"""Journals at least this long get a progress bar (on standard error)."""

POOL_MIN_ENTRIES: Final = 20_000
"""With `--workers 0`, journals at least this long verify signatures on a process pool."""

audit_app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Audit a journal: verify it end to end, prove entries, check proofs, query.",
)

JournalUrl = Annotated[
    str,
    typer.Option(
        "--journal",
        metavar="URL",
        show_default=False,
        help="The journal: sqlite:///path/to/journal.db, a path, or postgresql://...",
    ),
]
OperatorKey = Annotated[
    str,
    typer.Option(
        "--operator-key",
        metavar="KEY",
        show_default=False,
        help="The operator's checkpoint verifier key string (name+keyid+base64key).",
    ),
]
Workers = Annotated[
    int,
    typer.Option(
        "--workers",
        min=0,
        max=WORKERS_MAX,
        help="Signature verification processes: 0 picks (a pool of one per core for long "
        f"journals, from {POOL_MIN_ENTRIES:,} entries), 1 verifies in this process.",
    ),
]


def _out() -> Console:
    console = Console(soft_wrap=True, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160  # piped: tables whole rather than folded to 80 columns
    return console


def _one_line(text: str) -> str:
    """`text` on one line: drivers put hints on lines of their own (psycopg's "Is the
    server running on that host ...?"), and an error is one line."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _fail(message: str, code: int) -> typer.Exit:
    message = _one_line(message)
    if code == 2:  # input that cannot be used: the one-line form every command shares
        message = f"error: {message}"
    Console(stderr=True, soft_wrap=True, highlight=False).print(Text(message, style="red"))
    return typer.Exit(code)


def _genesis_fault(exc: Exception) -> typer.Exit:
    """The stored genesis does not decode or starts no engine: the journal is damaged,
    the same fault line as `audit verify` gives."""
    return _fail(f"FAULT [genesis] genesis: {exc}", 1)


def _operator(text: str) -> NoteVerifier:
    from clearhouse.journal import NoteVerifier

    try:
        return NoteVerifier.from_verifier_string(text.strip())
    except ValueError as exc:
        raise _fail(f"--operator-key: {exc}", 2) from exc


def _sqlite_path(url: str) -> str | None:
    """The file a SQLite journal URL names (as `open_store` reads it), None for others."""
    if url.startswith(("postgresql://", "postgres://")):
        return None
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        return "/" + path if not path.startswith((".", "/", "~")) else path
    if url.startswith("sqlite://"):
        return None  # open_store refuses it with its own message
    return url


@contextlib.contextmanager
def opened_journal(url: str) -> Iterator[JournalStore]:
    """The journal store, opened read-only; exit 2 if there is no journal there, 1 (one
    line naming the entry or page) if what it stores cannot be read."""
    from clearhouse.journal import open_store
    from clearhouse.journal.store import NotAJournalError, StoreReadError
    from clearhouse.journal.urls import redact_password

    path = _sqlite_path(url)
    shown = redact_password(url)
    if path is not None and not Path(path).is_file():
        raise _fail(f"no journal at {shown}: {path} is not a file", 2)
    try:
        store = open_store(url, read_only=True)
    except NotAJournalError as exc:
        raise _fail(f"{shown} is not a clearhouse journal: {exc}", 2) from exc
    except StoreReadError as exc:
        raise _fail(f"FAULT the journal cannot be read: {exc}", 1) from exc
    except Exception as exc:
        raise _fail(f"cannot open the journal {shown}: {exc}", 2) from exc
    try:
        if store.load_genesis() is None:
            raise _fail(f"{shown} is not a clearhouse journal: it holds no genesis", 2)
        yield store
    except (StoreReadError, sqlite3.DatabaseError) as exc:
        # Raised wherever a command reads: a damaged page or a value of the wrong type.
        raise _fail(f"FAULT the journal cannot be read: {exc}", 1) from exc
    finally:
        store.close()


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on standard error for long work, else None."""
    if total < PROGRESS_MIN_ENTRIES:
        yield None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda count: progress.advance(task, count)


@contextlib.contextmanager
def _verifier(workers: int, entries: int) -> Iterator[tuple[BatchVerifier, bool, str]]:
    """(verify, overlap, description): a pool for long journals, else in this process."""
    from clearhouse.audit import in_process_verifier

    count = workers or (os.cpu_count() or 1)
    if workers == 1 or (workers == 0 and (entries < POOL_MIN_ENTRIES or count == 1)):
        yield in_process_verifier, False, "in process"
        return
    from clearhouse.auth import VerifierPool

    with VerifierPool(count) as pool:
        yield pool.verify_batch, True, f"on a pool of {count} processes"


def _write_json(path: Path | None, value: Any) -> None:
    text = json.dumps(value, indent=2) + "\n"
    if path is None or str(path) == "-":
        sys.stdout.write(text)
    else:
        path.write_text(text)


# -- verify ------------------------------------------------------------------------------


@audit_app.command("verify")
def verify(
    journal: JournalUrl,
    operator_key: OperatorKey,
    workers: Workers = 0,
    genesis: Annotated[
        Path | None,
        typer.Option(
            "--genesis",
            metavar="FILE",
            callback=input_file,
            help="Also require the journal's genesis to be this genesis JSON.",
        ),
    ] = None,
    checkpoints: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            metavar="FILE",
            callback=input_files,
            help="A signed checkpoint note held from elsewhere (or a proof file from "
            "`audit prove`, whose checkpoint is taken): the journal must contain it "
            "(repeatable).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the whole journal; report the first fault exactly (exit 1), else exit 0.

    Checks: seqs 1, 2, ... without gaps and timestamps that never go back; every chain
    head = SHA-256(previous head || outcome); a Merkle tree rebuilt from the entries
    matches every signed checkpoint's root and every stored node; every checkpoint is
    signed by the operator key and consistent with the one before; every signature is
    verified again and every entry re-executed from the journal's genesis to its
    recorded outcome and chain head; snapshots restore to the re-executed state. The
    chain starts from the stored genesis's digest, so an edited genesis is a fault.
    Each --checkpoint must be signed by the operator key, within the journal's size,
    and have the journal's root at its size: a journal rolled back behind a
    checkpoint someone holds fails.
    """
    from clearhouse.audit import audit_journal

    operator = _operator(operator_key)
    expected = _read_genesis(genesis) if genesis is not None else None
    held = [(str(path), _read_checkpoint(path)) for path in checkpoints or ()]
    with opened_journal(journal) as store:
        size = store.size()
        with (
            _verifier(workers, size) as (verify_batch, overlap, how),
            _progress(size, "verifying") as progress,
        ):
            try:
                report = audit_journal(
                    store,
                    operator,
                    verify=verify_batch,
                    overlap=overlap,
                    progress=progress,
                    expected_genesis=expected,
                    held_checkpoints=held,
                )
            except Exception as exc:  # a store that cannot even be read is a fault too
                raise _fail(
                    f"FAULT the journal cannot be read: {type(exc).__name__}: {exc}", 1
                ) from exc
    if as_json:
        _write_json(None, report.to_json())
    else:
        _print_report(report, how)
    if report.fault is not None:
        raise typer.Exit(1)


def _read_checkpoint(path: Path) -> bytes:
    """The signed note in FILE: the file itself, or the checkpoint of a proof file.

    Blank lines after its last signature line are dropped (`trim_held_note`). A file
    that is not a signed checkpoint note at all is the auditor's input, refused here
    (exit 2); a note that is one but not the operator's, or not of this log, is a
    fault the audit reports."""
    from clearhouse.audit import ProofError, proof_from_json
    from clearhouse.audit.checkpoints import malformed_note, trim_held_note

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(f"--checkpoint {path}: {exc}", 2) from exc
    note = data
    if data.lstrip().startswith(b"{"):
        try:
            note = proof_from_json(data).checkpoint
        except ProofError as exc:
            raise _fail(f"--checkpoint {path}: {exc}", 2) from exc
    note = trim_held_note(note)
    problem = malformed_note(note)
    if problem is not None:
        raise _fail(f"--checkpoint {path}: not a signed checkpoint note: {problem}", 2)
    return note


def _read_genesis(path: Path) -> Genesis:
    import msgspec

    from clearhouse.core import GenesisError, decode_genesis_json

    try:
        return decode_genesis_json(path.read_bytes())
    except (OSError, GenesisError, msgspec.DecodeError, ValueError) as exc:
        raise _fail(f"--genesis {path}: {exc}", 2) from exc


def _print_report(report: AuditReport, how: str) -> None:
    from clearhouse.audit import format_ns

    console = _out()
    console.print(Text(f"audit of the journal of {report.origin}", style="bold"))
    rows = [
        ("genesis digest", report.genesis_digest.hex()),
        (
            "entries" if report.ok else "sound entries",
            f"{report.entries:,} (accepted {report.accepted:,}, rejected {report.rejected:,})",
        ),
        (
            "signatures",
            f"{report.signatures_valid + report.signatures_invalid:,} re-verified {how}: "
            f"{report.signatures_valid:,} valid, {report.signatures_invalid:,} invalid",
        ),
        (
            "checkpoints",
            f"{report.checkpoints} of {report.checkpoints_stored} verified, the last at tree size "
            f"{report.last_checkpoint_size:,}",
        ),
        ("snapshots", f"{report.snapshots} restored and matched"),
    ]
    if report.held_checkpoints:
        rows.append(("held checkpoints", f"{report.held_checkpoints} found in the journal"))
    if report.entries:
        rows.append(
            (
                "time",
                f"{format_ns(report.first_timestamp_ns)} .. {format_ns(report.last_timestamp_ns)}",
            )
        )
    if report.fault is None:
        rows += [
            ("merkle root", report.root.hex()),
            ("chain head", report.chain_head.hex()),
            ("state digest", report.digest.hex()),
        ]
    rows.append(("took", f"{report.seconds:.2f} s"))
    for name, value in rows:
        console.print(Text(f"{name:>16}  {value}"))
    for warning in report.warnings:
        console.print(Text(f"warning: {_one_line(warning)}", style="yellow"))
    if report.grew_to is not None:
        console.print(
            Text(
                f"note: the journal grew to {report.grew_to:,} entries during the audit; "
                f"the first {report.entries:,} were audited"
            )
        )
    if report.fault is not None:
        fault = f"FAULT [{report.fault.check}] {report.fault.message}"
        console.print(Text(_one_line(fault), style="red"))
        return
    if report.unsigned_entries:
        console.print(
            Text(
                f"note: the last {report.unsigned_entries:,} entries are checked but not yet "
                "covered by a signed checkpoint"
            )
        )
    console.print(Text(f"OK: {report.entries:,} entries verified", style="green"))


# -- proofs ------------------------------------------------------------------------------


@audit_app.command("prove")
def prove(
    journal: JournalUrl,
    entry: Annotated[
        int,
        typer.Option(
            "--entry",
            metavar="SEQ",
            min=1,
            max=INT64_MAX,
            show_default=False,
            help="The entry's sequence number (its leaf index is SEQ - 1).",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            callback=output_file,
            help="Write the proof here (default: stdout).",
        ),
    ] = None,
) -> None:
    """Write an inclusion proof of one entry against the latest signed checkpoint, as JSON.

    Needs no key: the proof is built from the stored entry, Merkle nodes and signed
    note, and checked against the note's root before it is written.
    """
    from clearhouse.audit import AuditError, build_inclusion_proof, proof_to_json

    with opened_journal(journal) as store:
        try:
            proof = build_inclusion_proof(store, entry)
        except AuditError as exc:
            raise _fail(f"cannot prove entry {entry}: {exc}", 1) from exc
    _write_json(out, proof_to_json(proof))
    if out is not None and str(out) != "-":
        Console(stderr=True, highlight=False).print(
            f"wrote an inclusion proof of entry {entry} against tree size "
            f"{proof.tree_size:,} to {out}"
        )


@audit_app.command("check-proof")
def check_proof(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A proof written by `prove`.")],
    operator_key: OperatorKey,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check an inclusion proof offline: the checkpoint signature, the leaf, the path.

    Prints the entry's seq, transaction type, outcome and fills, and exits 0; exits 1
    with the reason if the proof does not check out.
    """
    from clearhouse.audit import (
        ProofError,
        check_inclusion_proof,
        describe_fill,
        describe_outcome,
        describe_payload,
        fills_of,
        format_ns,
        payload_type,
        plain,
        proof_from_json,
    )

    operator = _operator(operator_key)
    try:
        text = file.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc}", 2) from exc
    try:
        proof = proof_from_json(text)
    except ProofError as exc:
        raise _fail(f"{file}: {exc}", 2) from exc
    try:
        checked = check_inclusion_proof(proof, operator)
    except ProofError as exc:
        if as_json:
            _write_json(None, {"ok": False, "reason": str(exc)})
        raise _fail(f"proof FAILED: {exc}", 1) from exc
    entry, tx, outcome = checked.entry, checked.tx, checked.outcome
    if as_json:
        _write_json(
            None,
            {
                "ok": True,
                "origin": checked.checkpoint.origin,
                "tree_size": checked.checkpoint.size,
                "leaf_index": proof.leaf_index,
                "seq": entry.seq,
                "timestamp_ns": entry.timestamp_ns,
                "type": payload_type(tx),
                "signature_valid": checked.signature_valid,
                "tx": plain(tx),
                "outcome": plain(outcome),
                "chain_head": entry.chain_head.hex(),
            },
        )
        return
    signature = {True: "valid", False: "INVALID", None: "not checked (unknown venue)"}
    console = _out()
    console.print(
        Text(
            f"proof OK: entry seq {entry.seq} (leaf {proof.leaf_index}) is in the log "
            f"{checked.checkpoint.origin} at tree size {checked.checkpoint.size:,}, whose "
            f"checkpoint is signed by {operator.key_name}+{operator.key_id:08x}",
            style="green",
        )
    )
    lines = [
        ("seq", str(entry.seq)),
        ("time", f"{format_ns(entry.timestamp_ns)} ({entry.timestamp_ns})"),
        ("type", payload_type(tx)),
        ("transaction", describe_payload(tx)),
        ("signer", tx.signer.hex()),
        ("signature", signature[checked.signature_valid]),
        ("outcome", describe_outcome(outcome)),
    ]
    lines += [("fill", describe_fill(trade)) for trade in fills_of(outcome)]
    lines.append(("chain head", entry.chain_head.hex()))
    for name, value in lines:
        console.print(Text(f"{name:>12}  {value}"))


# -- query -------------------------------------------------------------------------------


@audit_app.command("query")
def query(
    journal: JournalUrl,
    account: Annotated[
        str | None, typer.Option(help="Entries naming this account (payload or events).")
    ] = None,
    instrument: Annotated[
        str | None, typer.Option(help="Entries naming this instrument (payload or events).")
    ] = None,
    order_id: Annotated[
        int | None,
        typer.Option(
            "--order-id",
            min=0,
            max=INT64_MAX,
            help="Entries whose events name this order id.",
        ),
    ] = None,
    from_ns: Annotated[
        int | None,
        typer.Option(
            "--from-ns",
            metavar="T",
            min=0,
            max=INT64_MAX,
            help="Sequencer time at or after T (Unix ns).",
        ),
    ] = None,
    to_ns: Annotated[
        int | None,
        typer.Option(
            "--to-ns", metavar="T", min=0, max=INT64_MAX, help="Sequencer time before T (Unix ns)."
        ),
    ] = None,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type", metavar="TYPE", help="Transaction type, e.g. place_order (repeatable)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """List the entries that match every filter given, as a table or JSON lines."""
    from clearhouse.audit import (
        AuditError,
        JournalQuery,
        QueryFilter,
        describe_outcome,
        describe_payload,
        format_ns,
    )

    criteria = QueryFilter(account, instrument, order_id, from_ns, to_ns, frozenset(types or ()))
    with opened_journal(journal) as store:
        units = _venue_units(store)
        try:
            search = JournalQuery(store, criteria)
        except AuditError as exc:
            raise _fail(f"--type: {exc}", 2) from exc
        with _progress(store.size(), "searching") as progress:
            matches = list(search.run(progress))
    if as_json:
        for match in matches:
            sys.stdout.write(json.dumps({**match.to_json(), "units": units.to_json()}) + "\n")
    else:
        table = Table(box=box.SIMPLE_HEAD, title=f"{len(matches):,} of {search.scanned:,} entries")
        table.add_column("seq", justify="right", no_wrap=True)
        table.add_column("time (UTC)", overflow="fold")
        table.add_column("type", overflow="fold")
        table.add_column("transaction", overflow="fold", ratio=3)
        table.add_column("outcome", overflow="fold", ratio=2)
        for match in matches:
            table.add_row(
                str(match.entry.seq),
                format_ns(match.entry.timestamp_ns),
                match.type,
                Text(units.payload(describe_payload(match.tx))),
                Text(describe_outcome(match.outcome)),
            )
        _out().print(table)
    if search.undecodable:
        shown = ", ".join(str(seq) for seq in search.undecodable[:10])
        skipped = (
            "1 entry does not decode and was skipped"
            if len(search.undecodable) == 1
            else f"{len(search.undecodable)} entries do not decode and were skipped"
        )
        Console(stderr=True, highlight=False).print(
            Text(
                f"warning: {skipped} (seq {shown}); run `clearhouse audit verify`",
                style="yellow",
            )
        )


# -- replay ------------------------------------------------------------------------------


def replay_command(
    journal: JournalUrl,
    to: Annotated[
        int | None,
        typer.Option(
            "--to",
            metavar="SEQ",
            min=0,
            max=INT64_MAX,
            show_default=False,
            help="Replay to this seq (default: the end).",
        ),
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            metavar="FILE",
            callback=output_file,
            help="Write the state (engine.canonical_state(), bytes as hex) as JSON; - for stdout.",
        ),
    ] = None,
    from_genesis: Annotated[
        bool, typer.Option("--from-genesis", help="Ignore snapshots: re-execute every entry.")
    ] = False,
    workers: Workers = 0,
) -> None:
    """Rebuild the state as it was at a sequence number and summarize or export it.

    Starts from the newest snapshot at or before SEQ, then re-executes the entries
    after it, verifying each signature again and comparing each outcome and chain
    head with the record (exit 1 naming the entry on a difference).
    """
    from clearhouse.audit import AuditError, plain, plan_replay, run_replay
    from clearhouse.audit.common import StoredGenesisError

    with opened_journal(journal) as store:
        try:
            plan = plan_replay(store, to, use_snapshots=not from_genesis)
        except StoredGenesisError as exc:
            raise _genesis_fault(exc) from exc
        except AuditError as exc:  # "cannot replay to seq 999: the journal holds seq 1..30"
            raise _fail(str(exc), 2) from exc
        with (
            _verifier(workers, plan.remaining) as (verify_batch, overlap, how),
            _progress(plan.remaining, "replaying") as progress,
        ):
            try:
                result = run_replay(
                    store, plan, verify=verify_batch, overlap=overlap, progress=progress
                )
            except AuditError as exc:
                raise _fail(f"FAULT replay failed: {exc}", 1) from exc
    engine = result.engine
    units = _Units.of(plan.genesis)
    started = (
        "the genesis"
        if result.snapshot_seq is None
        else f"the snapshot at seq {result.snapshot_seq}"
    )
    if json_out is not None:
        _write_json(
            json_out,
            {
                "seq": engine.seq,
                "timestamp_ns": engine.timestamp_ns,
                "chain_head": engine.chain_head.hex(),
                "digest": engine.digest().hex(),
                "state": plain(engine.canonical_state()),
                "units": units.to_json(),
            },
        )
        if str(json_out) != "-":
            Console(stderr=True, highlight=False).print(
                f"replayed to seq {engine.seq} from {started}; state written to {json_out}"
            )
        return
    console = _out()
    for skipped in result.skipped_snapshots:
        console.print(Text(f"warning: {_one_line(skipped)}", style="yellow"))
    console.print(
        Text(
            f"replayed to seq {engine.seq} from {started}: {result.reexecuted:,} entries "
            f"re-executed, signatures re-verified {how}"
        )
    )
    _print_state(console, engine, units)


def _print_state(console: Console, engine: Engine, units: _Units) -> None:
    from clearhouse.audit import format_ns

    table = Table(box=box.SIMPLE_HEAD, title=f"accounts at seq {engine.seq} ({units.name})")
    for column in ("account", "cash", "equity", "initial margin", "maintenance", "orders"):
        justify: Literal["left", "right"] = "left" if column == "account" else "right"
        table.add_column(column, justify=justify, overflow="fold")
    table.add_column("positions (lots)", overflow="fold")
    for account_id in engine.account_ids():
        view = engine.account(account_id)
        if view is None:
            continue
        positions = ", ".join(f"{p.instrument} {p.size:+d}" for p in view.positions if p.size)
        table.add_row(
            account_id,
            units.figure(view.cash),
            units.figure(view.equity),
            units.figure(view.initial_margin),
            units.figure(view.maintenance_margin),
            str(view.open_orders),
            positions or "-",
        )
    console.print(table)
    totals = ", ".join(f"{name} {units.figure(value)}" for name, value in engine.totals().items())
    console.print(Text(f"totals ({units.name}): {totals}"))
    if engine.seq:
        console.print(Text(f"time {format_ns(engine.timestamp_ns)}"))
    console.print(Text(f"seq {engine.seq}  chain head {engine.chain_head.hex()}"))
    console.print(Text(f"state digest {engine.digest().hex()}"))


# -- units of human and JSON output --------------------------------------------------------


class _Units:
    """How a venue's integers read. People get amounts and prices in the settlement
    asset with separators ("11,000.00 USDC", "100,000.00"); `--json` keeps the raw
    integers and names their unit in a "units" object (docs/ARCHITECTURE.md)."""

    # A payload field holding an amount of collateral, or a price per whole underlying.
    _FIELD = re.compile(r"(?<![\w.])(amount|price)=(-?\d+)(?=\s|$)")

    def __init__(self, asset: str, decimals: int | None) -> None:
        self.asset = asset
        self.decimals = decimals
        self.name = asset if decimals is not None else f"minor units of {asset}"

    @classmethod
    def of(cls, genesis: Genesis) -> _Units:
        from clearhouse.core.display import settlement_decimals

        asset = genesis.config.settlement_asset
        return cls(asset, settlement_decimals(genesis.instruments, asset))

    def figure(self, units: int) -> str:
        """An amount or price without the asset (the column or line names it)."""
        from clearhouse.core.display import format_units

        return f"{units:,}" if self.decimals is None else format_units(units, self.decimals)

    def amount(self, units: int) -> str:
        if self.decimals is None:
            return f"{units:,} {self.name}"
        return f"{self.figure(units)} {self.asset}"

    def payload(self, described: str) -> str:
        """`describe_payload`'s text with its amount and price fields in the asset."""

        def shown(match: re.Match[str]) -> str:
            value = int(match.group(2))
            text = self.amount(value) if match.group(1) == "amount" else self.figure(value)
            return f"{match.group(1)}={text}"

        return self._FIELD.sub(shown, described)

    def to_json(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "decimals": self.decimals,
            "amounts": f"integer minor units of {self.asset} (10**-decimals {self.asset})",
            "prices": f"integer minor units of {self.asset} per whole unit of the underlying",
            "sizes": "integer lots of the instrument",
        }


def _venue_units(store: JournalStore) -> _Units:
    from clearhouse.audit import AuditError, load_genesis

    try:
        return _Units.of(load_genesis(store))
    except AuditError as exc:  # `opened_journal` found a genesis: it is there but damaged
        raise _genesis_fault(exc) from exc
