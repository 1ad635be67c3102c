"""The `clearhouse` command.

Bad input never ends in a traceback: every option states its bounds
(`clearhouse/cli_params.py`), and a usage error, a bad option value or a missing
file is one line on standard error, `error: ...`, with exit status 2 (`OneLineErrors`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperGroup

from clearhouse.accounts_cli import accounts_app
from clearhouse.api_keys_cli import api_keys_app
from clearhouse.audit_cli import audit_app, replay_command
from clearhouse.cli_params import INT64_MAX, WORKERS_MAX, output_file
from clearhouse.genesis_cli import genesis_app
from clearhouse.keys_cli import keys_app
from clearhouse.serve_cli import serve
from clearhouse.surveil_cli import surveil_app


class OneLineErrors(TyperGroup):
    """The root command: click's usage errors (unknown option, bad or missing value,
    refused by a bound) as one line `error: ...` and exit status 2, instead of
    click's multi-line usage box. A file-system error no check foresaw is one line
    too (exit status 1); any other exception is a bug and keeps its traceback."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as exc:
            typer.echo(exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except typer.TyperException as exc:
            typer.echo(f"error: {_one_line(exc.format_message())}", err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            typer.echo(f"error:{where} {exc.strerror or exc}", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def _one_line(message: str) -> str:
    return " ".join(message.split())


app = typer.Typer(
    cls=OneLineErrors,
    no_args_is_help=True,
    add_completion=False,
    help="clearhouse: a deterministic clearing engine.",
)
bench_app = typer.Typer(no_args_is_help=True, help="Reproducible benchmarks that print JSON.")
app.add_typer(bench_app, name="bench")
app.add_typer(keys_app, name="keys")
app.add_typer(genesis_app, name="genesis")
app.add_typer(audit_app, name="audit")
app.command("serve")(serve)
app.add_typer(api_keys_app, name="api-keys")
app.add_typer(accounts_app, name="accounts")
app.add_typer(surveil_app, name="surveil")
app.command("replay")(replay_command)


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib import metadata

    from clearhouse import __version__

    try:
        version = metadata.version("clearhouse")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        version = __version__
    typer.echo(f"clearhouse {version}")
    raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """clearhouse: a deterministic clearing engine."""


@app.command()
def demo(
    journal: Path | None = typer.Option(
        None,
        callback=output_file,
        help="Journal to this new SQLite file (default: ./clearhouse-demo.db, or "
        "./clearhouse-demo-N.db when taken). An existing non-empty file is refused.",
    ),
) -> None:
    """Run a short scripted session into a new SQLite journal, which is kept, and print a
    summary and the command that audits the journal."""
    from clearhouse.demo import DemoError, run_demo

    try:
        run_demo(Console(width=132), journal)
    except DemoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@bench_app.command("core")
def bench_core(
    orders: int = typer.Option(
        1_000_000, min=1, max=100_000_000, help="Transactions in the timed workload."
    ),
    seed: int = typer.Option(7, min=0, max=INT64_MAX, help="Workload seed."),
    sweep_every: int = typer.Option(
        0,
        min=0,
        max=1_000_000_000,
        help="Also run the full invariant sweep every N transactions (0: at the end only).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Replay a seeded mixed workload through Engine.apply on one core."""
    from clearhouse.bench import run_core_bench

    result = run_core_bench(orders, seed, sweep_every)
    _show(result, as_json, width=12)


@bench_app.command("surveil")
def bench_surveil(
    orders: int = typer.Option(
        200_000, min=1_000, max=10_000_000, help="Transactions in the workload."
    ),
    seed: int = typer.Option(7, min=0, max=INT64_MAX, help="Workload seed."),
    repeats: int = typer.Option(3, min=1, max=100, help="Runs of each half; the median shown."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Every detector over the core benchmark's workload, against the core itself."""
    from clearhouse.bench.surveil_bench import run_surveil_bench

    _show(run_surveil_bench(orders, seed, repeats), as_json, width=12)


@bench_app.command("margin")
def bench_margin(
    accounts: int = typer.Option(
        100_000, min=1, max=10_000_000, help="Portfolio-margin accounts holding options."
    ),
    seed: int = typer.Option(
        7, min=0, max=INT64_MAX, help="Seed of the positions each account takes."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Re-margin every portfolio account after one oracle update (200 options, one index)."""
    from clearhouse.bench.margin_bench import run_margin_bench

    result = run_margin_bench(accounts, seed)
    _show(result, as_json, width=22)


@bench_app.command("verify")
def bench_verify(
    count: int = typer.Option(
        20_000, min=1, max=10_000_000, help="Signed transactions verified by each method."
    ),
    workers: int = typer.Option(
        0, min=0, max=WORKERS_MAX, help="Pool worker processes (0: one per core)."
    ),
    chunk_txs: int = typer.Option(
        0, min=0, max=1_000_000, help="Transactions per worker chunk (0: automatic)."
    ),
    repeat: int = typer.Option(
        3, min=1, max=100, help="Timed runs per figure; the best is reported."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Ed25519 transaction verification: one core in-process vs the VerifierPool."""
    from clearhouse.bench.verify_bench import run_verify_bench

    result = run_verify_bench(count, workers or None, chunk_txs or None, repeat)
    _show(result, as_json, width=26)


@bench_app.command("journal")
def bench_journal(
    postgres: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL URL ('' to skip)."
    ),
    leaves: int = typer.Option(
        1_000_000, min=2, max=100_000_000, help="Merkle leaves for the proof figures."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Durable appends per backend, inclusion proofs at a million leaves, replay speed."""
    from clearhouse.bench.journal_bench import run_journal_bench

    result = run_journal_bench(postgres or None, leaves)
    if result.get("postgres_skipped"):
        typer.echo(f"note: PostgreSQL skipped: {result['postgres_skipped']}", err=True)
    _show(result, as_json, width=32, hidden=("merkle",))


class VerifierKind(StrEnum):
    PROCESSES = "processes"
    THREADS = "threads"


@bench_app.command("pipeline")
def bench_pipeline(
    orders: int = typer.Option(
        20_000, min=100, max=10_000_000, help="Signed orders through the durable path."
    ),
    seed: int = typer.Option(7, min=0, max=INT64_MAX, help="Workload seed."),
    workers: int = typer.Option(
        0, min=0, max=WORKERS_MAX, help="Verifier pool processes (0: one per core)."
    ),
    repeat: int = typer.Option(3, min=1, max=100, help="Timed runs per rate (min/median/max)."),
    postgres: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL URL ('' to skip)."
    ),
    verifier: VerifierKind = typer.Option(
        VerifierKind.PROCESSES, help="Verify on worker processes or on threads."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Signed orders end to end (verify, sequence, journal durably, apply, acknowledge)
    beside the verifier pool's raw rate, and durable-ack latency at half load."""
    from clearhouse.bench.pipeline_bench import run_pipeline_bench

    result = run_pipeline_bench(
        orders, seed, workers or None, repeat, postgres or None, verifier.value
    )
    if result.get("postgres_skipped"):
        typer.echo(f"note: PostgreSQL skipped: {result['postgres_skipped']}", err=True)
    _show(result, as_json, width=32)


@bench_app.command("serve")
def bench_serve(
    orders: int = typer.Option(
        20_000, min=100, max=10_000_000, help="Signed orders sent to the venue in each mode."
    ),
    seed: int = typer.Option(7, min=0, max=INT64_MAX, help="Workload seed."),
    clients: int = typer.Option(2, min=1, max=WORKERS_MAX, help="Load generator processes."),
    connections: int = typer.Option(
        4, min=1, max=1_000, help="WebSocket connections per load generator."
    ),
    frame_orders: int = typer.Option(50, min=1, max=1_000, help="Orders per WebSocket frame."),
    frames_in_flight: int = typer.Option(
        4, min=1, max=1_000, help="Frames awaiting receipts per connection."
    ),
    rest_concurrency: int = typer.Option(
        8, min=1, max=1_000, help="REST requests in flight per load generator."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Signed orders over loopback into a served venue (WebSocket, then REST), from
    load generators in their own processes, beside the in-process pipeline."""
    from clearhouse.bench.serve_bench import run_serve_bench

    result = run_serve_bench(
        orders, seed, clients, connections, frame_orders, frames_in_flight, rest_concurrency
    )
    _show(result, as_json, width=32)


def _show(
    result: dict[str, Any], as_json: bool, *, width: int, hidden: tuple[str, ...] = ()
) -> None:
    """A benchmark's figures: one JSON object, or a line per figure for people."""
    if as_json:
        typer.echo(json.dumps(result))
        return
    console = Console()
    for key, value in result.items():
        if key not in hidden:
            console.print(f"{key:>{width}}: {value}")


def main() -> None:
    app()
