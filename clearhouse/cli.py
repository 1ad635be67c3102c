"""The `clearhouse` command."""

from __future__ import annotations

import json

import typer
from rich.console import Console

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="clearhouse: a deterministic clearing engine."
)
bench_app = typer.Typer(no_args_is_help=True, help="Reproducible benchmarks that print JSON.")
app.add_typer(bench_app, name="bench")


@app.command()
def demo() -> None:
    """Run a short scripted trading session on the core and print a summary."""
    from clearhouse.demo import run_demo

    run_demo(Console(width=120))


@bench_app.command("core")
def bench_core(
    orders: int = typer.Option(1_000_000, help="Transactions in the timed workload."),
    seed: int = typer.Option(7, help="Workload seed."),
    sweep_every: int = typer.Option(
        100_000, help="Full invariant sweep every N transactions (0: only at the end)."
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


def main() -> None:
    app()
