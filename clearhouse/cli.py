"""The `clearhouse` command."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from clearhouse.audit_cli import audit_app, replay_command
from clearhouse.genesis_cli import genesis_app
from clearhouse.keys_cli import keys_app

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="clearhouse: a deterministic clearing engine."
)
bench_app = typer.Typer(no_args_is_help=True, help="Reproducible benchmarks that print JSON.")
app.add_typer(bench_app, name="bench")
app.add_typer(keys_app, name="keys")
app.add_typer(genesis_app, name="genesis")
app.add_typer(audit_app, name="audit")
app.command("replay")(replay_command)


@app.command()
def demo(
    journal: Path | None = typer.Option(
        None, help="Keep the SQLite journal at this path (default: a temporary file)."
    ),
) -> None:
    """Run a short scripted session, journaled to SQLite, and print a summary."""
    from clearhouse.demo import run_demo

    run_demo(Console(width=120), journal)


@bench_app.command("core")
def bench_core(
    orders: int = typer.Option(1_000_000, help="Transactions in the timed workload."),
    seed: int = typer.Option(7, help="Workload seed."),
    sweep_every: int = typer.Option(
        0, help="Also run the full invariant sweep every N transactions (0: at the end only)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Replay a seeded mixed workload through Engine.apply on one core."""
    from clearhouse.bench import run_core_bench

    result = run_core_bench(orders, seed, sweep_every)
    if as_json:
        typer.echo(json.dumps(result))
        return
    console = Console()
    for key, value in result.items():
        console.print(f"{key:>12}: {value}")


@bench_app.command("margin")
def bench_margin(
    accounts: int = typer.Option(100_000, help="Portfolio-margin accounts holding options."),
    seed: int = typer.Option(7, help="Seed of the positions each account takes."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Re-margin every portfolio account after one oracle update (200 options, one index)."""
    from clearhouse.bench.margin_bench import run_margin_bench

    result = run_margin_bench(accounts, seed)
    if as_json:
        typer.echo(json.dumps(result))
        return
    console = Console()
    for key, value in result.items():
        console.print(f"{key:>22}: {value}")


@bench_app.command("verify")
def bench_verify(
    count: int = typer.Option(20_000, help="Signed transactions verified by each method."),
    workers: int = typer.Option(0, help="Pool worker processes (0: one per core)."),
    chunk_txs: int = typer.Option(0, help="Transactions per worker chunk (0: automatic)."),
    repeat: int = typer.Option(3, help="Timed runs per figure; the best is reported."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Ed25519 transaction verification: one core in-process vs the VerifierPool."""
    from clearhouse.bench.verify_bench import run_verify_bench

    result = run_verify_bench(count, workers or None, chunk_txs or None, repeat)
    if as_json:
        typer.echo(json.dumps(result))
        return
    console = Console()
    for key, value in result.items():
        console.print(f"{key:>26}: {value}")


@bench_app.command("journal")
def bench_journal(
    postgres: str = typer.Option(
        "postgresql://postgres@127.0.0.1:5432/test", help="PostgreSQL URL ('' to skip)."
    ),
    leaves: int = typer.Option(1_000_000, help="Merkle leaves for the proof figures."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Durable appends per backend, inclusion proofs at a million leaves, replay speed."""
    from clearhouse.bench.journal_bench import run_journal_bench

    result = run_journal_bench(postgres or None, leaves)
    if as_json:
        typer.echo(json.dumps(result))
        return
    console = Console()
    for key, value in result.items():
        if key != "merkle":
            console.print(f"{key:>32}: {value}")


def main() -> None:
    app()
