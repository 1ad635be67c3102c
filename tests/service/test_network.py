"""Network safety of a served venue: TLS when given a certificate, and load shed
with BUSY before the sequencer's queue is full."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from litestar.testing import TestClient
from served import Server

from clearhouse.core import Deposit, ErrorCode
from clearhouse.core.codec import encode
from clearhouse.journal import Journal, SqliteJournal
from clearhouse.service import ApiError, VenueRuntime, create_app
from clearhouse.testing import CUSTODIAN, signer_for, standard_genesis
from clearhouse.venue import Client


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_a_venue_given_a_certificate_serves_https_only(serve: type[Server], tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server = serve(tmp_path / "venue", "--tls-cert", str(cert), "--tls-key", str(key))
    assert server.url.startswith("https://")
    trusted = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(base_url=server.url, verify=trusted) as client:
        assert client.get("/api/v1/venue").json()["venue_id"] == "clearhouse-dev"
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.url.replace("https://", "http://") + "/health", timeout=5)


class _GatedStore(SqliteJournal):
    """Commits wait at a gate: what is admitted stays in flight."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.gate = threading.Event()
        self.gate.set()

    def append(self, *args: object) -> None:  # type: ignore[override]
        self.gate.wait()
        super().append(*args)  # type: ignore[arg-type]


def test_requests_are_shed_with_busy_before_the_queue_is_full(tmp_path: Path) -> None:
    genesis = standard_genesis(["alice"])
    store = _GatedStore(tmp_path / "journal.db")
    journal = Journal(store, genesis, signer_for("operator"), "operator")
    reader = SqliteJournal(tmp_path / "journal.db", read_only=True)
    runtime = VenueRuntime(journal, reader, in_flight_max=10)
    assert runtime.shed_at == 8
    custody = Client(signer_for(CUSTODIAN), genesis.venue_id)
    deposits = [custody.sign(Deposit("alice", "USDC", 10**6), 10**18 - 10**12) for _ in range(9)]
    with TestClient(create_app(runtime)) as http:
        store.gate.clear()
        held = runtime.submit_many(deposits[:8])  # in flight, waiting at the gate
        with pytest.raises(ApiError) as busy:
            runtime.submit_many(deposits[8:])
        assert busy.value.code is ErrorCode.BUSY
        answer = http.post(
            "/api/v1/transactions",
            content=encode(deposits[8]),
            headers={"content-type": "application/msgpack"},
        )
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert answer.json()["error"]["name"] == "BUSY"
        store.gate.set()
        assert all(ticket.result(timeout=30).journaled for ticket in held)
        again = http.post(
            "/api/v1/transactions",
            content=encode(deposits[8]),
            headers={"content-type": "application/msgpack"},
        )
        assert again.status_code == 200 and again.json()["seq"] == 9


def test_a_read_waits_until_what_it_shows_is_durable(tmp_path: Path) -> None:
    genesis = standard_genesis(["alice"])
    store = _GatedStore(tmp_path / "journal.db")
    journal = Journal(store, genesis, signer_for("operator"), "operator")
    reader = SqliteJournal(tmp_path / "journal.db", read_only=True)
    runtime = VenueRuntime(journal, reader)
    custody = Client(signer_for(CUSTODIAN), genesis.venue_id)
    deposit = custody.sign(Deposit("alice", "USDC", 10**6), time.time_ns())
    with TestClient(create_app(runtime)):
        store.gate.clear()
        try:
            (ticket,) = runtime.submit_many([deposit])
            deadline = time.monotonic() + 30
            while runtime.status()["seq"] < 1 and time.monotonic() < deadline:
                time.sleep(0.01)  # applied, and held before the disk
            answers: list[object] = []
            read = threading.Thread(target=lambda: answers.append(runtime.account("alice")))
            read.start()
            read.join(timeout=0.5)
            assert read.is_alive() and answers == []  # alice is only in the engine yet
        finally:
            store.gate.set()
        read.join(timeout=30)
        assert ticket.result(timeout=30).journaled
        (view,) = answers
        assert view.cash == 10**6  # type: ignore[attr-defined]
