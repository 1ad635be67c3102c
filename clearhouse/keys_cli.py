"""`clearhouse keys`: create, list, show, rotate and export keys in an encrypted keystore.

The keystore directory is `--keystore DIR`, else $CLEARHOUSE_KEYSTORE, else
~/.clearhouse/keys. A passphrase comes from the environment variable named by
`--passphrase-env VAR`, else from a hidden prompt (asked twice for `new`). Nothing
here prints a passphrase or a private key; `export-public` prints the public key's
hex and nothing else, for scripts, or with `--operator-key` the checkpoint verifier
key string `clearhouse audit verify --operator-key` takes.

A keystore error prints one line `error: [code] message` on standard error. The exit
status is 2 when what was asked cannot be done with what was given (a bad name, no
such key or keystore, a wrong passphrase), 1 when a key file is damaged or unsafe.
`list` lists every key that reads and names each file that does not (exit 1).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from clearhouse.auth.keystore import KeyInfo, Keystore

KEYSTORE_ENV = "CLEARHOUSE_KEYSTORE"

keys_app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Ed25519 signing keys in an encrypted keystore (scrypt + AES-256-GCM).",
)

KeystoreDir = Annotated[
    Path | None,
    typer.Option(
        "--keystore",
        envvar=KEYSTORE_ENV,
        metavar="DIR",
        show_default=False,
        help=f"Keystore directory (default: ${KEYSTORE_ENV}, else ~/.clearhouse/keys).",
    ),
]
PassphraseEnv = Annotated[
    str | None,
    typer.Option(
        "--passphrase-env",
        metavar="VAR",
        help="Read the passphrase from the environment variable VAR instead of prompting.",
    ),
]
KeyName = Annotated[
    str,
    typer.Argument(
        metavar="NAME",
        help="Key name: 1 to 64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit.",
    ),
]


@keys_app.command("new")
def new_key(
    name: KeyName, keystore: KeystoreDir = None, passphrase_env: PassphraseEnv = None
) -> None:
    """Generate a key and store it encrypted under a passphrase."""
    store = open_keystore(keystore, create=True)
    passphrase = read_passphrase(passphrase_env, confirm=True)
    with _keystore_errors():
        info = store.create(name, passphrase)
    _console().print(_info_table(info, store.key_path(info.name), title="new key"))


@keys_app.command("list")
def list_keys(keystore: KeystoreDir = None) -> None:
    """List the keys in the keystore."""
    store = open_keystore(keystore)
    with _keystore_errors():
        scan = store.scan()
    infos = scan.keys
    console = _console()
    for error in scan.unreadable:
        typer.echo(f"error: [{error.code.value}] {error.message}", err=True)
    if not infos:
        console.print(f"no keys in {store.path}", markup=False, highlight=False)
        if scan.unreadable:
            raise typer.Exit(1)
        return
    table = Table(title=Text(str(store.path)), box=box.SIMPLE_HEAD)
    table.add_column("name", overflow="fold")
    table.add_column("status")
    table.add_column("successor", overflow="fold")
    table.add_column("created (UTC)")
    table.add_column("public key", overflow="fold")
    for info in infos:
        table.add_row(
            info.name, info.status, info.successor or "", info.created_at, info.public_key
        )
    console.print(table)
    if scan.unreadable:
        raise typer.Exit(1)


@keys_app.command("show")
def show_key(name: KeyName, keystore: KeystoreDir = None) -> None:
    """Show one key's public facts."""
    store = open_keystore(keystore)
    with _keystore_errors():
        info = store.info(name)
    _console().print(_info_table(info, store.key_path(name), title=None))


@keys_app.command("rotate")
def rotate_key(
    name: KeyName,
    new_name: Annotated[
        str, typer.Argument(metavar="NEW_NAME", help="Name of the key that replaces NAME.")
    ],
    keystore: KeystoreDir = None,
    passphrase_env: PassphraseEnv = None,
) -> None:
    """Replace NAME with a new key under the same passphrase; NAME is kept, retired."""
    store = open_keystore(keystore)
    passphrase = read_passphrase(passphrase_env, confirm=False)
    with _keystore_errors():
        info = store.rotate(name, new_name, passphrase)
    console = _console()
    console.print(f"{name} retired, succeeded by {info.name}", markup=False)
    console.print(_info_table(info, store.key_path(info.name), title="new key"))


@keys_app.command("export-public")
def export_public(
    name: KeyName,
    keystore: KeystoreDir = None,
    operator_key: Annotated[
        bool,
        typer.Option(
            "--operator-key",
            help="Print the checkpoint verifier key string that `clearhouse audit verify "
            "--operator-key` takes (name+keyid+base64key) instead of hex.",
        ),
    ] = False,
    note_name: Annotated[
        str | None,
        typer.Option(
            "--note-name",
            metavar="TEXT",
            help="With --operator-key: the key name the venue signs its checkpoints "
            "under (default: NAME).",
        ),
    ] = None,
) -> None:
    """Print the public key as hex (or, with --operator-key, as a verifier key string)
    and nothing else."""
    if note_name is not None and not operator_key:
        # Without the flag the hex key is printed, which carries no name: a name given
        # for it would be silently dropped, and the caller left thinking it was used.
        typer.echo("error: --note-name needs --operator-key", err=True)
        raise typer.Exit(2)
    store = open_keystore(keystore)
    with _keystore_errors():
        public_key = store.export_public(name)
    if not operator_key:
        typer.echo(public_key)
        return
    from clearhouse.journal import NoteVerifier

    try:
        verifier = NoteVerifier(note_name or name, bytes.fromhex(public_key))
    except ValueError as exc:
        typer.echo(f"error: --note-name: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(verifier.verifier_string())


def open_keystore(directory: Path | None, *, create: bool = False) -> Keystore:
    """The keystore; it must be there already unless the command creates it."""
    from clearhouse.auth.keystore import Keystore

    if directory is None:
        directory = Path.home() / ".clearhouse" / "keys"
    directory = directory.expanduser()
    if directory.exists() and not directory.is_dir():
        raise typer.BadParameter(f"{directory} is not a directory", param_hint="--keystore")
    if not create and not directory.exists():
        raise typer.BadParameter(
            f"no keystore at {directory} (`clearhouse keys new NAME` creates one)",
            param_hint="--keystore",
        )
    return Keystore(directory)


def read_passphrase(variable: str | None, *, confirm: bool) -> str:
    if variable is None:
        answer: str = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm)
        return answer
    value = os.environ.get(variable)
    if value is None:
        raise typer.BadParameter(
            f"the environment variable {variable} is not set", param_hint="--passphrase-env"
        )
    return value


@contextlib.contextmanager
def _keystore_errors() -> Iterator[None]:
    from clearhouse.auth.keystore import KeystoreError

    try:
        yield
    except KeystoreError as error:
        typer.echo(f"error: [{error.code.value}] {error.message}", err=True)
        raise typer.Exit(1 if error.code in _DAMAGED else 2) from None


_DAMAGED: frozenset[str] = frozenset(
    {
        "file_corrupt",
        "unsupported_version",
        "name_mismatch",
        "kdf_params_invalid",
        "insecure_permissions",
        "public_key_mismatch",
        "too_many_keys",
    }
)
"""Keystore error codes that say a key file or the keystore itself is at fault."""


def _info_table(info: KeyInfo, path: Path, *, title: str | None) -> Table:
    table = Table(title=title, show_header=False, box=None, padding=(0, 1), pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("name", info.name)
    table.add_row("algorithm", info.algorithm)
    table.add_row("status", info.status)
    if info.successor is not None:
        table.add_row("successor", info.successor)
    table.add_row("created", info.created_at)
    table.add_row("public key", info.public_key)
    table.add_row("file", Text(str(path)))
    return table


def _console() -> Console:
    return Console(highlight=False)
