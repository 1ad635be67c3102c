"""What a transaction signature covers, and the signer's manners."""

from __future__ import annotations

import pickle

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

import clearhouse.auth
from clearhouse.auth import Ed25519Signer, Signer, sign_transaction, signing_bytes, verify
from clearhouse.core.codec import encode
from clearhouse.core.txs import Deposit, Transaction

SIGNATURE_API = [
    "Ed25519Signer",
    "SignatureRejection",
    "Signer",
    "VerifierPool",
    "rejection_reason",
    "sign_transaction",
    "signing_bytes",
    "verify",
    "verify_transaction",
]


def test_the_signature_names_are_public_and_all_is_sorted() -> None:
    """The package's full list is shared with the keystore and HSM modules; these are ours."""
    assert clearhouse.auth.__all__ == sorted(clearhouse.auth.__all__)
    for name in SIGNATURE_API:
        assert name in clearhouse.auth.__all__
        assert getattr(clearhouse.auth, name) is not None


def _deposit() -> Transaction:
    return Transaction(
        Deposit(account="alice", asset="USDC", amount=5), nonce=3, expires_at_ns=10**18
    )


def test_the_signed_message_is_domain_venue_tag_and_the_unsigned_envelope() -> None:
    tx = msgspec.structs.replace(_deposit(), signer=bytes(32), signature=b"x" * 64)
    message = signing_bytes("venue-a", tx)
    unsigned = msgspec.structs.replace(tx, signature=b"")
    assert message == b"clearhouse/tx/v1\x00venue-a\x00deposit\x00" + encode(unsigned)


def test_the_signed_message_ignores_the_signature_field_only() -> None:
    tx = _deposit()
    with_signature = msgspec.structs.replace(tx, signature=b"\x01" * 64)
    assert signing_bytes("v", tx) == signing_bytes("v", with_signature)
    assert signing_bytes("v", tx) != signing_bytes("w", tx)
    assert signing_bytes("v", tx) != signing_bytes("v", msgspec.structs.replace(tx, nonce=4))


@pytest.mark.parametrize("venue_id", ["", "x" * 65, "caf\u00e9", "a\x00b", None])
def test_a_venue_id_must_be_1_to_64_ascii_characters_without_nul(venue_id: object) -> None:
    with pytest.raises(ValueError, match="venue id"):
        signing_bytes(venue_id, _deposit())  # type: ignore[arg-type]


def test_the_longest_venue_id_is_allowed() -> None:
    assert b"\x00" + b"v" * 64 + b"\x00" in signing_bytes("v" * 64, _deposit())


def test_sign_transaction_fills_signer_and_a_signature_that_verifies() -> None:
    signer = Ed25519Signer.generate()
    assert isinstance(signer, Signer)
    signed = sign_transaction(signer, "venue-a", _deposit())
    assert signed.signer == signer.public_key() and len(signed.signer) == 32
    assert len(signed.signature) == 64
    assert signed.payload == _deposit().payload and signed.nonce == 3
    assert verify(signed.signer, signing_bytes("venue-a", signed), signed.signature)


def test_the_signer_never_shows_or_pickles_its_private_key() -> None:
    private_key = Ed25519PrivateKey.generate()
    raw = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    signer = Ed25519Signer(private_key)
    for text in (repr(signer), str(signer), f"{signer}"):
        assert raw.hex() not in text
        assert signer.public_key().hex() in text
    with pytest.raises(TypeError):
        pickle.dumps(signer)


class _ShortKeySigner:
    def public_key(self) -> bytes:
        return bytes(31)

    def sign(self, message: bytes) -> bytes:
        return bytes(64)


def test_a_signer_returning_a_malformed_key_is_refused() -> None:
    with pytest.raises(ValueError, match="public key"):
        sign_transaction(_ShortKeySigner(), "venue-a", _deposit())
