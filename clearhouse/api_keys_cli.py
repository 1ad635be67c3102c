"""`clearhouse api-keys`: API clients of a running venue, for Deribit-style clients.

`add` makes a client id and secret for one account: a fresh sub-key is registered
with the account (AddSubKey, signed by the account owner's key and journaled like
any transaction), and the client is written to the venue's store
(`api-clients.json` in its `--data` folder), from which the venue signs for the
client. The secret is printed once. On the development venue the owner's demo key
signs; on a venue of your own, `--owner-key NAME` from the keystore.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import typer

from clearhouse.auth.signing import Signer
from clearhouse.client import VenueClient, VenueError
from clearhouse.core import AddSubKey
from clearhouse.core.authority import owner_of
from clearhouse.keys_cli import KeystoreDir, PassphraseEnv, open_keystore, read_passphrase
from clearhouse.service.api_clients import SCOPES, STORE_NAME, ApiClients, new_client

api_keys_app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="API clients (client id and secret) of a running venue, for Deribit-style clients.",
)


@api_keys_app.command("add")
def add(
    account: str = typer.Option(..., metavar="ACCOUNT", help="The account the client trades."),
    scope: str = typer.Option(
        "trade:read_write", help=f"What the client may do: {' or '.join(SCOPES)}."
    ),
    venue: str = typer.Option("http://127.0.0.1:8000", metavar="URL", help="The venue's URL."),
    data: Path = typer.Option(
        Path("clearhouse-data"), metavar="DIR", help="The venue's data folder (`serve --data`)."
    ),
    owner_key: str | None = typer.Option(
        None, metavar="NAME", help="The account owner's key (default: the dev venue's demo key)."
    ),
    keystore: KeystoreDir = None,
    passphrase_env: PassphraseEnv = None,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Register a sub-key for ACCOUNT and store a client id and secret standing for it."""
    if scope not in SCOPES:
        raise typer.BadParameter(f"one of {', '.join(SCOPES)}", param_hint="--scope")
    if not data.is_dir():
        raise typer.BadParameter(f"{data} is not the venue's data folder", param_hint="--data")
    if keystore is not None:
        open_keystore(keystore)  # a keystore named is checked, used or not
    client = new_client(account, scope)
    try:
        signer = _owner(venue, account, owner_key, keystore, passphrase_env)
        with VenueClient(venue, signer) as owner:
            public_key = bytes.fromhex(client.public_key)
            receipt = owner.submit(AddSubKey(account, public_key, SCOPES[scope]))
    except VenueError as exc:
        raise typer.BadParameter(f"the venue refused: {exc}", param_hint="--venue") from None
    except (OSError, httpx.HTTPError) as exc:
        raise typer.BadParameter(f"cannot reach {venue}: {exc}", param_hint="--venue") from None
    if not receipt.accepted:
        error = receipt.error
        reason = f"{error.name} ({error.code}): {error.message}" if error else receipt.status
        raise typer.BadParameter(f"the sub-key was refused: {reason}", param_hint="--account")
    ApiClients(data / STORE_NAME).add(client)
    shown = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "account": account,
        "scope": scope,
        "sub_key": client.public_key,
        "seq": receipt.seq,
    }
    if as_json:
        typer.echo(json.dumps(shown))
        return
    typer.echo(f"API client for {account} ({scope}), sub-key registered at seq {receipt.seq:,}")
    typer.echo(f"client_id      {client.client_id}")
    typer.echo(f"client_secret  {client.client_secret}   (shown once; keep it secret)")


def _owner(
    venue: str,
    account: str,
    owner_key: str | None,
    keystore: Path | None,
    passphrase_env: str | None,
) -> Signer:
    if owner_key is not None:
        store = open_keystore(keystore)
        return store.load_signer(owner_key, read_passphrase(passphrase_env, confirm=False))
    from clearhouse.serve_cli import DEV_VENUE_ID
    from clearhouse.testing import signer_for

    with VenueClient(venue) as reader:
        venue_id = reader.venue()["venue_id"]
    if venue_id != DEV_VENUE_ID:
        raise typer.BadParameter(
            f"{venue} is venue {venue_id!r}, not the development venue: give the owner's "
            "--owner-key",
            param_hint="--owner-key",
        )
    return signer_for(owner_of(account))
