"""`clearhouse api-keys`: API clients of a running venue, for Deribit-style clients.

`add` makes a client id and secret for one account: a fresh sub-key is registered
with the account (AddSubKey, signed by the account owner's key and journaled like
any transaction), and the client is written to the venue's store
(`api-clients.json` in its `--data` folder), from which the venue signs for the
client. The secret is printed once. On the development venue the owner's demo key
signs; on a venue of your own, `--owner-key NAME` from the keystore. A client may
be held to addresses (`--allow-ip`) and request rates (`--orders-per-s`,
`--requests-per-s`).

`revoke` journals a RevokeSubKey for the client's sub-key (signed by the owner
likewise) and takes the client out of the store: its tokens are refused at once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import typer

from clearhouse.auth.keystore import KeystoreError
from clearhouse.auth.signing import Signer
from clearhouse.client import ApiReceipt, VenueClient, VenueError
from clearhouse.core import AddSubKey, RevokeSubKey
from clearhouse.core.authority import owner_of
from clearhouse.keys_cli import KeystoreDir, PassphraseEnv, open_keystore, read_passphrase
from clearhouse.service.api_clients import (
    ORDERS_PER_S,
    REQUESTS_PER_S,
    SCOPES,
    STORE_NAME,
    ApiClients,
    new_client,
)

REVOKE_ATTEMPTS = 5
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
    allow_ip: list[str] = typer.Option(
        [],
        "--allow-ip",
        metavar="ADDRESS",
        help="An address or network (CIDR) the client may connect from; repeat for more "
        "(default: any).",
    ),
    orders_per_s: float = typer.Option(
        ORDERS_PER_S, min=0.1, help="Order entries, amends and cancels a second."
    ),
    requests_per_s: float = typer.Option(
        REQUESTS_PER_S, min=0.1, help="Other requests (reads, auth, subscriptions) a second."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Register a sub-key for ACCOUNT and store a client id and secret standing for it."""
    if scope not in SCOPES:
        raise typer.BadParameter(f"one of {', '.join(SCOPES)}", param_hint="--scope")
    for network in allow_ip:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise typer.BadParameter(
                f"{network!r} is not an address or network", param_hint="--allow-ip"
            ) from None
    if not data.is_dir():
        raise typer.BadParameter(f"{data} is not the venue's data folder", param_hint="--data")
    if keystore is not None:
        open_keystore(keystore)  # a keystore named is checked, used or not
    client = new_client(
        account,
        scope,
        allowed_ips=tuple(allow_ip),
        orders_per_s=orders_per_s,
        requests_per_s=requests_per_s,
    )
    with _reaching(venue):
        signer = _owner(venue, account, owner_key, keystore, passphrase_env)
        with VenueClient(venue, signer) as owner:
            public_key = bytes.fromhex(client.public_key)
            receipt = owner.submit(AddSubKey(account, public_key, SCOPES[scope]))
    _accepted(receipt, "the sub-key", "--account")
    ApiClients(data / STORE_NAME).add(client)
    shown = {
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "account": account,
        "scope": scope,
        "sub_key": client.public_key,
        "seq": receipt.seq,
        "allowed_ips": list(client.allowed_ips),
        "orders_per_s": orders_per_s,
        "requests_per_s": requests_per_s,
    }
    if as_json:
        typer.echo(json.dumps(shown))
        return
    typer.echo(f"API client for {account} ({scope}), sub-key registered at seq {receipt.seq:,}")
    typer.echo(f"client_id      {client.client_id}")
    typer.echo(f"client_secret  {client.client_secret}   (shown once; keep it secret)")


@api_keys_app.command("revoke")
def revoke(
    client_id: str = typer.Argument(..., metavar="CLIENT_ID"),
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
    """Revoke CLIENT_ID: its sub-key is revoked (RevokeSubKey, journaled) and the client
    leaves the store, so its tokens and signatures are refused from now on."""
    if not data.is_dir():
        raise typer.BadParameter(f"{data} is not the venue's data folder", param_hint="--data")
    if keystore is not None:
        open_keystore(keystore)  # a keystore named is checked, used or not
    store = ApiClients(data / STORE_NAME)
    client = store.get(client_id)
    if client is None:
        raise typer.BadParameter(f"no API client {client_id!r} in {data}", param_hint="CLIENT_ID")
    with _reaching(venue):
        signer = _owner(venue, client.account, owner_key, keystore, passphrase_env)
        with VenueClient(venue, signer) as owner:
            public_key = bytes.fromhex(client.public_key)
            for _ in range(REVOKE_ATTEMPTS):
                # Void from the next seq: refused (INVALID_VALUE) only if others
                # were sequenced first, and then tried again from the new seq.
                void_from = owner.venue()["seq"] + 1
                receipt = owner.submit(RevokeSubKey(client.account, public_key, void_from))
                if (
                    receipt.accepted
                    or receipt.error is None
                    or receipt.error.name != "INVALID_VALUE"
                ):
                    break
    _accepted(receipt, "the revocation", "CLIENT_ID")
    store.remove(client_id)
    if as_json:
        typer.echo(json.dumps({"client_id": client_id, "seq": receipt.seq}))
        return
    typer.echo(f"API client {client_id} of {client.account} revoked at seq {receipt.seq:,}")


@contextlib.contextmanager
def _reaching(venue: str) -> Iterator[None]:
    """A venue that refuses a request or cannot be reached: one line, exit 2."""
    try:
        yield
    except VenueError as exc:
        raise typer.BadParameter(f"the venue refused: {exc}", param_hint="--venue") from None
    except (OSError, httpx.HTTPError) as exc:
        raise typer.BadParameter(f"cannot reach {venue}: {exc}", param_hint="--venue") from None


def _accepted(receipt: ApiReceipt, what: str, hint: str) -> None:
    if not receipt.accepted:
        error = receipt.error
        reason = f"{error.name} ({error.code}): {error.message}" if error else receipt.status
        raise typer.BadParameter(f"{what} was refused: {reason}", param_hint=hint)


def _owner(
    venue: str,
    account: str,
    owner_key: str | None,
    keystore: Path | None,
    passphrase_env: str | None,
) -> Signer:
    if owner_key is not None:
        store = open_keystore(keystore)
        try:
            return store.load_signer(owner_key, read_passphrase(passphrase_env, confirm=False))
        except KeystoreError as exc:
            raise typer.BadParameter(
                f"[{exc.code.value}] {exc.message}", param_hint="--owner-key"
            ) from None
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
