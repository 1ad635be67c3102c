"""`clearhouse accounts`: let a new account owner trade on a running venue.

An owner trades once one of its keys holds a trading role, and only governance
grants roles. `add` proposes GrantRole(key, owner, role), signed by one governor
key, has each further governor key approve it, and executes it once the venue's
timelock has passed. Each step is a signed transaction, journaled like any other.
While the timelock runs, `add` prints the time it ends and the `execute
PROPOSAL_ID` command that finishes the grant. On the development venue the demo
governor keys sign. On a venue of your own, give each governor's `--governor-key
NAME` from the keystore, as many as the venue's threshold.

Everything that can be checked before a transaction is sent is checked first: the
key (32 bytes of hex, not of small order), the owner's name, the governor keys in
the keystore, that the venue is reachable, and that enough governors are given for
its threshold. A failure is one line `error: ...` with exit status 2, and nothing
is sent. Once the proposal is journaled, a refusal names the proposal, so that an
operator can finish it.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from clearhouse.auth.keystore import Keystore, KeystoreError
from clearhouse.auth.signing import Signer
from clearhouse.cli_params import INT64_MAX
from clearhouse.client import ApiReceipt, VenueClient, VenueError
from clearhouse.core import Approve, ExecuteProposal, GrantRole, Payload, Propose, Role
from clearhouse.core.display import format_time
from clearhouse.core.genesis import OWNER_LEN_MAX, is_valid_name
from clearhouse.core.public_keys import weak_key_problem
from clearhouse.keys_cli import KeystoreDir, PassphraseEnv, open_keystore, read_passphrase

DEFAULT_VENUE = "http://127.0.0.1:8000"
PUBLIC_KEY_BYTES = 32

accounts_app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Account owners of a running venue: grant a key a trading role by governance.",
)


class TradingRole(StrEnum):
    TRADER = "trader"
    MARKET_MAKER = "market_maker"


Venue = Annotated[str, typer.Option(metavar="URL", help="The venue's URL.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
Governors = list[tuple[str, Signer]]
"""Governor keys by name, the proposer first."""


@accounts_app.command("add")
def add(
    owner: Annotated[str, typer.Argument(metavar="OWNER", help="The account owner.")],
    public_key: Annotated[
        str | None,
        typer.Option(metavar="HEX", help="The owner's Ed25519 public key (64 hex digits)."),
    ] = None,
    new_key: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Instead: create the owner's key in the keystore."),
    ] = None,
    role: Annotated[TradingRole, typer.Option(help="The role the key gets.")] = (
        TradingRole.TRADER
    ),
    venue: Venue = DEFAULT_VENUE,
    governor_key: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME",
            help="A governor's key, repeated up to the venue's threshold; the first "
            "proposes (default on the development venue: its demo governor keys).",
        ),
    ] = None,
    keystore: KeystoreDir = None,
    passphrase_env: PassphraseEnv = None,
    as_json: AsJson = False,
) -> None:
    """Grant a key of OWNER a trading role: propose, approve, and execute once the
    timelock allows."""
    if not is_valid_name(owner, OWNER_LEN_MAX):
        raise typer.BadParameter(
            f"{owner!r}: 1 to {OWNER_LEN_MAX} printable ASCII characters, no space or ':'",
            param_hint="OWNER",
        )
    if (public_key is None) == (new_key is None):
        raise typer.BadParameter("give one of them", param_hint="--public-key/--new-key")
    key = _public_key(public_key) if public_key is not None else None
    names = governor_key or []
    if len(set(names)) != len(names):
        raise typer.BadParameter("a key named twice approves once", param_hint="--governor-key")
    wants_store = keystore is not None or bool(names) or new_key is not None
    store = open_keystore(keystore, create=new_key is not None) if wants_store else None
    if store is not None and new_key is not None:
        _check_new_key(store, new_key)
    passphrase = (
        read_passphrase(passphrase_env, confirm=new_key is not None) if names or new_key else ""
    )
    governors = _load_governors(store, names, passphrase)
    status = _read_venue(venue)
    governors = governors or _demo_governors(venue, status)
    rules: dict[str, int] = status["governance"]
    if len(governors) < rules["threshold"]:
        raise typer.BadParameter(
            f"{venue} needs {rules['threshold']} governors to act, {len(governors)} given",
            param_hint="--governor-key",
        )
    if key is None:
        assert store is not None and new_key is not None
        key = _create_key(store, new_key, passphrase)
    shown = _grant(venue, governors, GrantRole(key, owner, Role(role.value)), rules, as_json)
    if as_json:
        typer.echo(json.dumps(shown))
    elif shown["executed_seq"] is None:
        hint = _execute_hint(shown["proposal_id"], venue, names[:1], keystore, passphrase_env)
        typer.echo(
            f"the timelock runs until {format_time(shown['executable_from_ns'])}; from then "
            f"until {format_time(shown['expires_ns'])} finish with: {hint}"
        )


@accounts_app.command("execute")
def execute(
    proposal_id: Annotated[
        int,
        typer.Argument(
            metavar="PROPOSAL_ID",
            min=1,
            max=INT64_MAX,
            help="The proposal (the seq of its Propose).",
        ),
    ],
    venue: Venue = DEFAULT_VENUE,
    governor_key: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            help="A governor's key (default on the development venue: a demo governor key).",
        ),
    ] = None,
    keystore: KeystoreDir = None,
    passphrase_env: PassphraseEnv = None,
    as_json: AsJson = False,
) -> None:
    """Execute an approved proposal once its timelock has passed (what `add` leaves
    open while the timelock runs)."""
    store = open_keystore(keystore) if keystore is not None or governor_key else None
    names = [governor_key] if governor_key else []
    passphrase = read_passphrase(passphrase_env, confirm=False) if names else ""
    governors = _load_governors(store, names, passphrase)
    status = _read_venue(venue)
    _, signer = (governors or _demo_governors(venue, status))[0]
    receipt = _submit(
        venue,
        signer,
        ExecuteProposal(proposal_id),
        f"the venue refused to execute proposal {proposal_id}",
    )
    granted = _event(receipt, "role_granted")
    shown: dict[str, Any] = {"proposal_id": proposal_id, "executed_seq": receipt.seq}
    if granted is not None:
        key = base64.b64decode(granted["public_key"]).hex()
        shown |= {"owner": granted["owner"], "public_key": key, "role": granted["role"]}
    if as_json:
        typer.echo(json.dumps(shown))
    elif granted is not None:
        typer.echo(f"executed at seq {receipt.seq:,}: {_may_trade(granted['owner'], key)}")
    else:
        typer.echo(f"executed proposal {proposal_id} at seq {receipt.seq:,}")


def _grant(
    venue: str, governors: Governors, grant: GrantRole, rules: dict[str, int], as_json: bool
) -> dict[str, Any]:
    """Propose, approve with every further governor, and execute if the timelock has
    passed by the venue's clock. What was done, as `--json` shows it: with the
    proposal's window, from the end of the timelock to when it expires."""

    def say(line: str) -> None:
        if not as_json:
            typer.echo(line)

    (_, proposer), *approvers = governors
    proposed = _submit(venue, proposer, Propose(grant), "the venue refused the proposal")
    proposal_id = proposed.seq
    opened = _event(proposed, "proposal_opened")
    assert opened is not None, proposed.events
    executable_from_ns = int(opened["executable_from_ns"])
    proposed_ns = executable_from_ns - rules["timelock_ns"]
    key = grant.public_key.hex()
    say(
        f"proposed at seq {proposal_id:,}: {grant.role.value} for {grant.owner}, "
        f"key {_short(key)} (proposal {proposal_id})"
    )
    approved_seqs = []
    for name, approver in approvers:
        refused = f"proposal {proposal_id} stays open: the venue refused {name}'s approval"
        receipt = _submit(venue, approver, Approve(proposal_id), refused)
        approvals = (_event(receipt, "proposal_approved") or {}).get("approvals")
        say(f"approved at seq {receipt.seq:,} by {name} ({approvals} of {rules['threshold']})")
        approved_seqs.append(receipt.seq)
    executed_seq = None
    if executable_from_ns <= int(_read_venue(venue)["timestamp_ns"]):
        (_, executor), *_ = governors
        refused = f"proposal {proposal_id} stays open: the venue refused to execute it"
        receipt = _submit(venue, executor, ExecuteProposal(proposal_id), refused)
        say(f"executed at seq {receipt.seq:,}: {_may_trade(grant.owner, key)}")
        executed_seq = receipt.seq
    return {
        "owner": grant.owner,
        "public_key": key,
        "role": grant.role.value,
        "proposal_id": proposal_id,
        "proposed_seq": proposal_id,
        "approved_seqs": approved_seqs,
        "executed_seq": executed_seq,
        "executable_from_ns": executable_from_ns,
        "expires_ns": proposed_ns + rules["approval_ttl_ns"],
    }


def _public_key(text: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not hex", param_hint="--public-key") from None
    if len(key) != PUBLIC_KEY_BYTES:
        raise typer.BadParameter(
            f"{len(key)} bytes; an Ed25519 public key is {PUBLIC_KEY_BYTES} (64 hex digits)",
            param_hint="--public-key",
        )
    if (problem := weak_key_problem(key)) is not None:
        raise typer.BadParameter(problem, param_hint="--public-key")
    return key


def _check_new_key(store: Keystore, name: str) -> None:
    """Refuse a bad or taken name before anything is sent."""
    try:
        taken = store.key_path(name).exists()
    except KeystoreError as exc:
        raise typer.BadParameter(
            f"[{exc.code.value}] {exc.message}", param_hint="--new-key"
        ) from None
    if taken:
        raise typer.BadParameter(
            f"{name!r} is in the keystore already: give its --public-key "
            f"(`clearhouse keys export-public {name}`)",
            param_hint="--new-key",
        )


def _create_key(store: Keystore, name: str, passphrase: str) -> bytes:
    try:
        return bytes.fromhex(store.create(name, passphrase).public_key)
    except KeystoreError as exc:
        raise typer.BadParameter(
            f"[{exc.code.value}] {exc.message}", param_hint="--new-key"
        ) from None


def _load_governors(store: Keystore | None, names: list[str], passphrase: str) -> Governors:
    governors: Governors = []
    for name in names:
        assert store is not None
        try:
            governors.append((name, store.load_signer(name, passphrase)))
        except KeystoreError as exc:
            raise typer.BadParameter(
                f"[{exc.code.value}] {exc.message}", param_hint="--governor-key"
            ) from None
    return governors


def _demo_governors(venue: str, status: dict[str, Any]) -> Governors:
    """The development venue's demo governor keys; any other venue needs real ones."""
    from clearhouse.serve_cli import DEV_VENUE_ID
    from clearhouse.testing import GOVERNORS, signer_for

    venue_id = status["venue_id"]
    if venue_id != DEV_VENUE_ID:
        raise typer.BadParameter(
            f"{venue} is venue {venue_id!r}, not the development venue: give its governors' "
            "keys from the keystore",
            param_hint="--governor-key",
        )
    threshold = int(status["governance"]["threshold"])
    return [(name, signer_for(name)) for name in GOVERNORS[:threshold]]


@contextlib.contextmanager
def _reaching(venue: str) -> Iterator[None]:
    """A venue that cannot be reached, or that refuses the request itself, as one line."""
    try:
        yield
    except VenueError as exc:
        raise typer.BadParameter(f"the venue refused: {exc}", param_hint="--venue") from None
    except (OSError, httpx.HTTPError, httpx.InvalidURL) as exc:
        raise typer.BadParameter(f"cannot reach {venue}: {exc}", param_hint="--venue") from None


def _read_venue(venue: str) -> dict[str, Any]:
    with _reaching(venue), VenueClient(venue) as reader:
        status = reader.venue()
    if not isinstance(status.get("governance"), dict):
        raise typer.BadParameter(
            f"{venue} does not state its governance rules: not a clearhouse venue, or an older one",
            param_hint="--venue",
        )
    return status


def _submit(venue: str, signer: Signer, payload: Payload, refused: str) -> ApiReceipt:
    """The receipt of an accepted transaction. A refusal ends the command with the
    line `refused` (which says what stands), the seq and the venue's code."""
    with _reaching(venue), VenueClient(venue, signer) as client:
        receipt = client.submit(payload)
    if not receipt.accepted:
        error = receipt.error
        reason = f"{error.name} ({error.code}): {error.message}" if error else receipt.status
        typer.echo(f"error: {refused} (seq {receipt.seq:,}): {reason}", err=True)
        raise typer.Exit(2)
    return receipt


def _event(receipt: ApiReceipt, kind: str) -> dict[str, Any] | None:
    return next((event for event in receipt.events if event.get("event") == kind), None)


def _execute_hint(
    proposal_id: int,
    venue: str,
    names: list[str],
    keystore: Path | None,
    passphrase_env: str | None,
) -> str:
    """The `execute` command that finishes the grant, with the options `add` was given."""
    words = ["clearhouse accounts execute", str(proposal_id)]
    if venue != DEFAULT_VENUE:
        words += ["--venue", venue]
    for name in names:
        words += ["--governor-key", name]
    if keystore is not None:
        words += ["--keystore", str(keystore)]
    if passphrase_env is not None:
        words += ["--passphrase-env", passphrase_env]
    return " ".join(words)


def _may_trade(owner: str, key_hex: str) -> str:
    return f"{owner} may now trade with key {_short(key_hex)}"


def _short(key_hex: str) -> str:
    return key_hex[:8] + "…"
