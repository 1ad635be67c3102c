"""Authorization outside the core: what a signature covers, and how it is verified.

- `signing` builds the domain-separated message a transaction signature covers and
  signs it (`Signer`, `Ed25519Signer`, `sign_transaction`).
- `ed25519` is the one Ed25519 verification rule set (DESIGN rule 7): `verify`, and
  `rejection_reason` naming the first rule a signature breaks.
- `verifier` applies it to transactions, in-process or on every core (`VerifierPool`: worker processes; `VerifierThreads`:
  threads, since libsodium releases the global lock; `BatchVerifier` names both).
- `keystore` keeps private keys on disk, encrypted under a passphrase (`Keystore`).
- `pkcs11_signer` signs with a key that never leaves an HSM (`Pkcs11Signer`, `generate_key`).
"""

from clearhouse.auth.ed25519 import SignatureRejection, rejection_reason, verify
from clearhouse.auth.keystore import (
    KeyInfo,
    Keystore,
    KeystoreError,
    KeystoreErrorCode,
    ScryptParams,
    WrongPassphrase,
)
from clearhouse.auth.pkcs11_signer import HsmError, Pkcs11Signer, generate_key
from clearhouse.auth.signing import Ed25519Signer, Signer, sign_transaction, signing_bytes
from clearhouse.auth.verifier import (
    BatchVerifier,
    VerifierPool,
    VerifierThreads,
    verify_transaction,
)

__all__ = [
    "BatchVerifier",
    "Ed25519Signer",
    "HsmError",
    "KeyInfo",
    "Keystore",
    "KeystoreError",
    "KeystoreErrorCode",
    "Pkcs11Signer",
    "ScryptParams",
    "SignatureRejection",
    "Signer",
    "VerifierPool",
    "VerifierThreads",
    "WrongPassphrase",
    "generate_key",
    "rejection_reason",
    "sign_transaction",
    "signing_bytes",
    "verify",
    "verify_transaction",
]
