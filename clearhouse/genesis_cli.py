"""`clearhouse genesis`: write and check the document a venue starts from."""

from __future__ import annotations

from pathlib import Path

import msgspec
import typer

from clearhouse.cli_params import input_file, output_file
from clearhouse.core import (
    GenesisError,
    GenesisKey,
    GovernanceRules,
    Role,
    decode_genesis_json,
    genesis_digest,
    make_genesis,
)
from clearhouse.core.genesis import GOVERNANCE_BOUNDS, Genesis

_SECOND_NS = 10**9
_TIMELOCK_S_MAX = GOVERNANCE_BOUNDS["timelock_ns"][1] // _SECOND_NS
_TTL_S_MAX = GOVERNANCE_BOUNDS["approval_ttl_ns"][1] // _SECOND_NS

genesis_app = typer.Typer(no_args_is_help=True, help="Write and check genesis documents.")


def encode_genesis_json(genesis: Genesis) -> bytes:
    """Pretty JSON with public keys as hex (the form `decode_genesis_json` reads)."""
    raw = msgspec.to_builtins(genesis)
    for key, source in zip(raw["keys"], genesis.keys, strict=True):
        key["public_key"] = source.public_key.hex()
    return msgspec.json.format(msgspec.json.encode(raw), indent=2) + b"\n"


def _parse_key(text: str) -> GenesisKey:
    try:
        owner, roles, public_key = text.split(":")
        return GenesisKey(
            bytes.fromhex(public_key), owner, tuple(Role(r) for r in roles.split(",") if r)
        )
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r}: expected OWNER:ROLE[,ROLE...]:HEXKEY ({exc})") from exc


@genesis_app.command("new")
def new(
    venue_id: str = typer.Option(..., help="The venue id every signature is bound to."),
    key: list[str] = typer.Option(..., help="OWNER:ROLE[,ROLE...]:HEXKEY, repeatable."),
    threshold: int = typer.Option(
        2,
        min=GOVERNANCE_BOUNDS["threshold"][0],
        max=GOVERNANCE_BOUNDS["threshold"][1],
        help="Governor approvals that execute a proposal.",
    ),
    timelock_s: int = typer.Option(
        86_400, min=0, max=_TIMELOCK_S_MAX, help="Seconds from proposal to earliest execution."
    ),
    approval_ttl_s: int = typer.Option(
        7 * 86_400, min=1, max=_TTL_S_MAX, help="Seconds an approval counts."
    ),
    out: Path = typer.Option(..., callback=output_file, help="Where to write the genesis JSON."),
) -> None:
    """Write a genesis with the default catalogue, refusing unsafe ones."""
    rules = GovernanceRules(threshold, timelock_s * _SECOND_NS, approval_ttl_s * _SECOND_NS)
    try:
        genesis = make_genesis(venue_id, tuple(_parse_key(k) for k in key), governance=rules)
    except GenesisError as exc:
        typer.echo(f"error: refused: {exc}", err=True)
        raise typer.Exit(2) from None
    out.write_bytes(encode_genesis_json(genesis))
    typer.echo(genesis_digest(genesis).hex())


@genesis_app.command("check")
def check(path: Path = typer.Argument(..., metavar="FILE", callback=input_file)) -> None:
    """Validate a genesis file and print its digest (part of every state digest)."""
    try:
        genesis = decode_genesis_json(path.read_bytes())
    except GenesisError as exc:
        typer.echo(f"error: invalid genesis {path}: {exc}", err=True)
        raise typer.Exit(2) from None
    governors = sum(1 for k in genesis.keys if Role.GOVERNOR in k.roles)
    typer.echo(
        f"venue {genesis.venue_id}: {len(genesis.keys)} keys, {governors} governors "
        f"({genesis.governance.threshold} to act), {len(genesis.instruments)} instruments"
    )
    typer.echo(genesis_digest(genesis).hex())
