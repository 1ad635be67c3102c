"""`clearhouse serve`: run a venue behind its HTTP API.

With `--genesis FILE` the venue is the one that file defines, its checkpoints
signed by the operator key `--operator-key NAME` from the keystore (`clearhouse
keys new`), its keeper (settlements, funding, liquidations) signing with
`--keeper-key NAME` when given. With no `--genesis` it is a local development
venue: the default catalogue, traders alice and bob, makers maker-a and maker-b,
and demo keys derived from names, which anyone can recompute, so it says so.

The journal is `--journal URL` (a SQLite path or `sqlite:///...`, or
`postgresql://...`), by default `journal.db` in `--data`. Starting again on the
same journal recovers its state. SIGTERM or Ctrl-C stops taking connections,
answers the requests in flight, commits and acknowledges everything admitted, signs
a last checkpoint and exits 0.
"""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import typer

from clearhouse.auth.keystore import Keystore, KeystoreError
from clearhouse.auth.signing import Signer
from clearhouse.cli_params import WORKERS_MAX, input_file
from clearhouse.core import Genesis, GenesisError, decode_genesis_json, genesis_digest
from clearhouse.journal.store import NotAJournalError
from clearhouse.journal.urls import redact_password
from clearhouse.keys_cli import KeystoreDir, PassphraseEnv, open_keystore, read_passphrase

DEV_VENUE_ID = "clearhouse-dev"
DEV_OPERATOR = "venue-operator"
DEV_TRADERS = ("alice", "bob")
DEV_MAKERS = ("maker-a", "maker-b")
DEV_SURVEILLANCE = "surveillance"
"""The development venue's surveillance key (signs automatic responses)."""


def serve(
    genesis_file: Path | None = typer.Option(
        None,
        "--genesis",
        metavar="FILE",
        callback=input_file,
        help="The venue's genesis (`clearhouse genesis new`); none: a development venue.",
    ),
    keystore: KeystoreDir = None,
    operator_key: str = typer.Option("operator", metavar="NAME", help="Operator key's name."),
    keeper_key: str | None = typer.Option(
        None, metavar="NAME", help="Keeper key's name; without it no keeper runs."
    ),
    passphrase_env: PassphraseEnv = None,
    journal: str | None = typer.Option(
        None, metavar="URL", help="Journal: a SQLite path, sqlite:///PATH or postgresql://..."
    ),
    data: Path = typer.Option(
        Path("clearhouse-data"), metavar="DIR", help="Folder of the default SQLite journal."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on (0: any free)."),
    workers: int | None = typer.Option(
        None, min=0, max=WORKERS_MAX, help="Verifier processes (default: one per core; 0: none)."
    ),
    checkpoint_interval_s: float = typer.Option(
        1.0, min=0.05, max=3600, help="Seconds between signed checkpoints while entries arrive."
    ),
    in_flight_max: int = typer.Option(
        100_000,
        min=10,
        max=10_000_000,
        help="Transactions in flight at most; requests are answered BUSY from 80% of it.",
    ),
    tls_cert: Path | None = typer.Option(
        None, metavar="FILE", callback=input_file, help="Serve HTTPS: the certificate (PEM)."
    ),
    tls_key: Path | None = typer.Option(
        None, metavar="FILE", callback=input_file, help="The certificate's private key (PEM)."
    ),
    surveillance: bool = typer.Option(
        True,
        "--surveillance/--no-surveillance",
        help="Run the market-abuse detectors over the record as it grows (a process of "
        "their own; alerts in the journal's store, on /api/v1/alerts and the dashboard).",
    ),
    links: Path | None = typer.Option(
        None,
        metavar="FILE",
        callback=input_file,
        help='Ownership links for surveillance: {"groups": [["owner", ...], ...]}.',
    ),
    respond: Path | None = typer.Option(
        None,
        metavar="FILE",
        callback=input_file,
        help="Answer live alerts by signed KillSwitch and HaltMarket transactions, per "
        "detector and severity as FILE says (clearhouse/surveillance/responses.py).",
    ),
    surveillance_key: str | None = typer.Option(
        None, metavar="NAME", help="The surveillance key that signs responses (--respond)."
    ),
) -> None:
    """Run a venue behind its HTTP API (the native API v1; OpenAPI at /schema)."""
    import uvicorn

    from clearhouse.service import VenueRuntime, create_app
    from clearhouse.service.api_clients import STORE_NAME, ApiClients
    from clearhouse.surveillance.store import open_alert_store

    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("give both --tls-cert and --tls-key, or neither")
    tls = tls_cert is not None and tls_key is not None
    if tls_cert is not None and tls_key is not None:
        _check_tls(tls_cert, tls_key)
    store = open_keystore(keystore) if keystore is not None or genesis_file is not None else None
    keeper: Signer | None
    if genesis_file is None:
        if store is not None or keeper_key or passphrase_env:
            raise typer.BadParameter(
                "--keystore, --keeper-key and --passphrase-env serve a venue of your own: "
                "give its --genesis (without one, a development venue runs on demo keys)"
            )
        genesis, operator, name, keeper = _dev_venue()
    else:
        assert store is not None
        genesis = _read_genesis(genesis_file)
        passphrase = read_passphrase(passphrase_env, confirm=False)
        operator = _load(store, operator_key, passphrase, "--operator-key")
        keeper = _load(store, keeper_key, passphrase, "--keeper-key") if keeper_key else None
        name = operator_key
    if respond is not None and not surveillance:
        raise typer.BadParameter("--respond answers surveillance's alerts: drop --no-surveillance")
    if surveillance_key is not None:
        if store is None or respond is None:
            raise typer.BadParameter(
                "--surveillance-key signs the responses of a venue of your own: give "
                "--respond and the venue's --genesis and --keystore",
                param_hint="--surveillance-key",
            )
        _load(store, surveillance_key, passphrase, "--surveillance-key")  # checked here, used there
    url = journal or str(_data_folder(data) / "journal.db")
    listening = _listen(host, port)
    try:
        runtime = VenueRuntime.open(
            url,
            genesis,
            operator,
            name,
            workers=workers,
            keeper_signer=keeper,
            checkpoint_interval_s=checkpoint_interval_s,
            in_flight_max=in_flight_max,
        )
    except NotAJournalError as exc:
        listening.close()
        raise typer.BadParameter(
            f"{redact_password(url)} is not a clearhouse journal: {exc}", param_hint="--journal"
        ) from None
    except Exception as exc:  # a store that cannot be opened, a journal of another genesis
        listening.close()
        reason = " ".join(str(exc).split())
        raise typer.BadParameter(
            f"cannot open {redact_password(url)}: {reason}", param_hint="--journal"
        ) from None
    status = runtime.status()
    if genesis_file is None:
        typer.echo(
            "development venue: demo keys derived from names (public knowledge, never for "
            f"real money); traders {', '.join(DEV_TRADERS)}, makers {', '.join(DEV_MAKERS)}",
            err=True,
        )
    typer.echo(
        f"venue {genesis.venue_id} (genesis {genesis_digest(genesis).hex()[:16]}...), journal "
        f"{redact_password(url)} at seq {status['seq']:,}; operator key {status['operator_key']}",
        err=True,
    )
    clients = ApiClients(data / STORE_NAME)
    alerts = open_alert_store(url) if surveillance else None
    config = uvicorn.Config(
        create_app(runtime, api_clients=clients, alerts=alerts),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=30,
        lifespan="on",
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    server = uvicorn.Server(config)
    bound_host, bound_port = listening.getsockname()[:2]
    scheme = "https" if tls else "http"
    typer.echo(
        f"listening on {scheme}://{bound_host}:{bound_port} (Ctrl-C or SIGTERM to stop)",
        err=True,
    )
    stopped_by: list[int] = []
    # uvicorn drains, shuts the app down (the runtime commits and closes), restores
    # these handlers and raises the signal again: they note it, and the venue
    # exits 0, as a service stopped on purpose.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, lambda number, _frame: stopped_by.append(number))
    watcher = None
    if surveillance:
        responses = None
        if respond is not None:
            responses = [f"{scheme}://{bound_host}:{bound_port}", str(respond)]
            responses += ["--live-after-seq", str(status["seq"])]
            if surveillance_key is not None:
                responses += ["--surveillance-key", surveillance_key]
                responses += ["--keystore", str(keystore)] if keystore else []
                responses += ["--passphrase-env", passphrase_env] if passphrase_env else []
        watcher = _surveil(url, links, responses)
    try:
        server.run(sockets=[listening])
    finally:
        if watcher is not None:
            watcher.terminate()
            watcher.wait(timeout=30)
        if alerts is not None:
            alerts.close()
    typer.echo(
        f"stopped at seq {runtime.journal.durable_seq:,}, everything admitted durable", err=True
    )


def _surveil(url: str, links: Path | None, responses: list[str] | None) -> subprocess.Popen[bytes]:
    """`clearhouse surveil --follow` over the venue's journal, in a process of its own
    (it never competes with the sequencer for the interpreter); its alert lines go
    to the venue's standard error, and it exits when the venue does. `responses`:
    the venue's URL, the responses file and the key options, to answer alerts."""
    command = [sys.executable, "-c", "from clearhouse.cli import main; main()", "surveil"]
    command += ["--journal", url, "--follow"]
    if links is not None:
        command += ["--links", str(links)]
    if responses is not None:
        venue, rules, *key = responses
        command += ["--venue", venue, "--respond", rules, *key]
    return subprocess.Popen(command, stdout=sys.stderr, stdin=subprocess.DEVNULL)


def _check_tls(cert: Path, key: Path) -> None:
    """uvicorn's TLS settings, once the pair loads: a bad pair is refused here, in
    one line, rather than when the first client connects."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
        raise typer.BadParameter(
            f"{cert} and {key} are not a usable certificate and key: {reason}",
            param_hint="--tls-cert/--tls-key",
        ) from None


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that port 0 can be reported as bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as exc:
        listening.close()
        raise typer.BadParameter(
            f"cannot listen on {host}:{port}: {exc.strerror}", param_hint="--host/--port"
        ) from None
    listening.listen(2048)
    return listening


def _dev_venue() -> tuple[Genesis, Signer, str, Signer]:
    from clearhouse.testing import KEEPER, signer_for, standard_genesis

    genesis = standard_genesis(
        DEV_TRADERS,
        market_makers=DEV_MAKERS,
        venue_id=DEV_VENUE_ID,
        surveillance=(DEV_SURVEILLANCE,),
    )
    return genesis, signer_for(DEV_OPERATOR), DEV_OPERATOR, signer_for(KEEPER)


def _read_genesis(path: Path) -> Genesis:
    try:
        return decode_genesis_json(path.read_bytes())
    except OSError as exc:
        raise typer.BadParameter(f"{path}: {exc.strerror}", param_hint="--genesis") from None
    except GenesisError as exc:
        raise typer.BadParameter(f"invalid genesis {path}: {exc}", param_hint="--genesis") from None


def _load(store: Keystore, name: str, passphrase: str, option: str) -> Signer:
    try:
        return store.load_signer(name, passphrase)
    except KeystoreError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _data_folder(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise typer.BadParameter(f"{path} is not a folder", param_hint="--data")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise typer.BadParameter(f"{path}: {exc.strerror}", param_hint="--data") from None
    return path
