"""What a transaction signature covers, and signing with an Ed25519 key.

The signed message is domain-separated, so a signature is valid for one purpose,
one venue and one transaction type only:

    b"clearhouse/tx/v1\\x00"
    + venue_id, ASCII, 1 to 64 characters, no NUL
    + b"\\x00"
    + the payload's type tag, ASCII (e.g. b"place_order")
    + b"\\x00"
    + encode(tx with signature = b"")      # canonical msgpack of the whole envelope

The envelope encoding already names the payload type and carries the signer's key,
the nonce and the expiry, so all of them are signed. The domain prefix keeps
transaction signatures apart from every other thing clearhouse signs (checkpoints,
for one), the venue id keeps a signature for one venue from being replayed on
another, and the tag in clear lets a hardware signer or an auditor see what kind of
transaction a signature is for without decoding msgpack. Bumping `v1` is how the
format would change.

`Signer` is the one interface for keys: an in-memory `Ed25519Signer` here, an HSM
signer elsewhere. `sign_transaction` fills the envelope's signer and signature.
"""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from clearhouse.core.codec import encode
from clearhouse.core.txs import Transaction

DOMAIN: Final = b"clearhouse/tx/v1\x00"
"""The prefix of every transaction's signed message; the version names the format."""

VENUE_ID_CHARS_MAX: Final = 64

_PUBLIC_KEY_BYTES: Final = 32
_SIGNATURE_BYTES: Final = 64


def venue_domain(venue_id: str) -> bytes:
    """The fixed prefix of every signed message for one venue: domain, venue id, NUL.

    Raises ValueError unless the venue id is 1 to 64 ASCII characters without NUL.
    """
    if not isinstance(venue_id, str) or not 1 <= len(venue_id) <= VENUE_ID_CHARS_MAX:
        raise ValueError(f"venue id must be 1 to {VENUE_ID_CHARS_MAX} characters")
    if not venue_id.isascii() or "\x00" in venue_id:
        raise ValueError("venue id must be ASCII without NUL")
    return DOMAIN + venue_id.encode("ascii") + b"\x00"


def payload_tag(tx: Transaction) -> bytes:
    """The payload's msgspec tag (the value of its `type` field), as ASCII bytes."""
    tag = type(tx.payload).__struct_config__.tag
    if not isinstance(tag, str) or not tag.isascii() or "\x00" in tag:
        raise ValueError(f"payload {type(tx.payload).__name__} has no ASCII type tag")
    return tag.encode("ascii")


def signing_bytes(venue_id: str, tx: Transaction) -> bytes:
    """The message a transaction's signature covers (see the module docstring)."""
    return _signing_bytes(venue_domain(venue_id), tx)


def _signing_bytes(domain: bytes, tx: Transaction) -> bytes:
    """`signing_bytes` with the venue prefix already built and checked (for batches)."""
    unsigned = msgspec.structs.replace(tx, signature=b"")
    return domain + payload_tag(tx) + b"\x00" + encode(unsigned)


@runtime_checkable
class Signer(Protocol):
    """An Ed25519 key that can sign: in memory, or in a token that never lets it out."""

    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `message`."""
        ...


class Ed25519Signer:
    """An in-memory Ed25519 key (pyca `cryptography`). Its repr shows the public key only."""

    __slots__ = ("_private_key", "_public_key")

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise TypeError("Ed25519Signer needs an Ed25519PrivateKey")
        self._private_key = private_key
        self._public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A fresh key from the operating system's random source."""
        return cls(Ed25519PrivateKey.generate())

    def public_key(self) -> bytes:
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)

    def __repr__(self) -> str:
        return f"Ed25519Signer(public_key={self._public_key.hex()})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Ed25519Signer holds a private key and is not picklable")


def sign_transaction(signer: Signer, venue_id: str, tx: Transaction) -> Transaction:
    """`tx` with `signer` set to the signer's public key and `signature` filled in."""
    public_key = signer.public_key()
    if len(public_key) != _PUBLIC_KEY_BYTES:
        raise ValueError(f"signer returned a {len(public_key)}-byte public key, expected 32")
    unsigned = msgspec.structs.replace(tx, signer=public_key, signature=b"")
    signature = signer.sign(signing_bytes(venue_id, unsigned))
    if len(signature) != _SIGNATURE_BYTES:
        raise ValueError(f"signer returned a {len(signature)}-byte signature, expected 64")
    return msgspec.structs.replace(unsigned, signature=signature)


def auth_message(venue_id: str, timestamp_ns: int) -> bytes:
    """What a client signs to prove its key on a connection (the WebSocket API's
    `auth`): bound to this venue and a moment, so it cannot be replayed at another
    venue or later, and domain-separated from every transaction's signing bytes."""
    stamp = timestamp_ns.to_bytes(8, "big")
    return b"clearhouse/ws-auth/v1\x00" + venue_id.encode() + b"\x00" + stamp
