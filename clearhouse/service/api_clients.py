"""API clients: a client id and secret, as Deribit clients authenticate, standing
for a scoped sub-key of one account that the venue holds and signs with.

Clients that sign their own transactions use the native API and give the venue
nothing secret. A Deribit-style client cannot sign: it proves itself with a
shared secret (`client_credentials`, or an HMAC of each request), and the venue
signs each of its transactions with the account's sub-key on its behalf. The
trade-off, stated plainly: whoever reads this store can act as these clients
within their sub-keys' scope (a trade sub-key places and cancels orders, never
withdraws or transfers); the record still attributes every such transaction to
the sub-key, and the account's owner can revoke it (RevokeSubKey) at any time.

The store is one JSON file, `api-clients.json` in the venue's data folder,
written atomically with mode 0600 by `clearhouse api-keys add` and read by the
venue when a client id it does not know yet first authenticates.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
import tempfile
import threading
from pathlib import Path

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearhouse.auth.signing import Ed25519Signer
from clearhouse.core.txs import SubKeyScope

STORE_NAME = "api-clients.json"
ORDERS_PER_S = 20.0
REQUESTS_PER_S = 50.0
BURST_S = 5.0
SCOPES = {"trade:read_write": SubKeyScope.TRADE, "account:read": SubKeyScope.READ}
"""Deribit's scopes a client may be given, and the sub-key scope each stands for."""


class ApiClient(msgspec.Struct, frozen=True):
    client_id: str
    client_secret: str
    account: str
    scope: str
    """A Deribit scope of `SCOPES`."""
    seed: str
    """The sub-key's private seed, base64."""
    public_key: str
    """The sub-key's public key, hex."""
    allowed_ips: tuple[str, ...] = ()
    """Addresses or networks (CIDR) the client may connect from; empty: any."""
    orders_per_s: float = ORDERS_PER_S
    """Matching-engine requests (buy, sell, edit, cancel...) a second, sustained;
    bursts up to `BURST_S` seconds' worth."""
    requests_per_s: float = REQUESTS_PER_S
    """Every other request a second, sustained, with the same bursts."""

    def allows(self, address: str) -> bool:
        if not self.allowed_ips:
            return True
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in ipaddress.ip_network(net, strict=False) for net in self.allowed_ips)

    def signer(self) -> Ed25519Signer:
        seed = base64.b64decode(self.seed)
        return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def may_trade(self) -> bool:
        return SCOPES[self.scope] is SubKeyScope.TRADE


_clients = msgspec.json.Decoder(list[ApiClient])


def new_client(
    account: str,
    scope: str,
    *,
    allowed_ips: tuple[str, ...] = (),
    orders_per_s: float = ORDERS_PER_S,
    requests_per_s: float = REQUESTS_PER_S,
) -> ApiClient:
    """A fresh client id, secret and sub-key for `account` (not yet registered)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    for network in allowed_ips:
        ipaddress.ip_network(network, strict=False)  # ValueError if it is not one
    seed = secrets.token_bytes(32)
    signer = Ed25519Signer(Ed25519PrivateKey.from_private_bytes(seed))
    return ApiClient(
        client_id=secrets.token_hex(8),
        client_secret=secrets.token_urlsafe(32),
        account=account,
        scope=scope,
        seed=base64.b64encode(seed).decode(),
        public_key=signer.public_key().hex(),
        allowed_ips=allowed_ips,
        orders_per_s=orders_per_s,
        requests_per_s=requests_per_s,
    )


class ApiClients:
    """The store, read again when a client id is not found and the file changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._clients: dict[str, ApiClient] = {}
        self._read_stamp: tuple[int, int] | None = None

    def get(self, client_id: str) -> ApiClient | None:
        """The client as the store holds it now: one removed is gone at once."""
        with self._lock:
            if self._changed():
                self._clients = {c.client_id: c for c in self._read()}
            return self._clients.get(client_id)

    def remove(self, client_id: str) -> ApiClient | None:
        """Take a client out of the store; the one removed, or None."""
        with self._lock:
            clients = self._read()
            kept = [c for c in clients if c.client_id != client_id]
            if len(kept) == len(clients):
                return None
            self._write(kept)
            return next(c for c in clients if c.client_id == client_id)

    def add(self, client: ApiClient) -> None:
        with self._lock:
            self._write([*self._read(), client])

    def _write(self, clients: list[ApiClient]) -> None:
        """Replace the store atomically (under the lock)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=self.path.parent, delete=False) as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(msgspec.json.format(msgspec.json.encode(clients)))
            file.flush()
            os.fsync(file.fileno())
        os.replace(file.name, self.path)
        self._clients = {c.client_id: c for c in clients}
        self._read_stamp = None

    def _changed(self) -> bool:
        try:
            found = self.path.stat()
        except FileNotFoundError:
            return False
        stamp = (found.st_ino, found.st_mtime_ns)  # a rewrite is a new file (os.replace)
        if stamp == self._read_stamp:
            return False
        self._read_stamp = stamp
        return True

    def _read(self) -> list[ApiClient]:
        try:
            return _clients.decode(self.path.read_bytes())
        except FileNotFoundError:
            return []
