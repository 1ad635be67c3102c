"""Ed25519 signing with a key that never leaves an HSM, through PKCS#11.

The private key is created on the token as sensitive and non-extractable, so the
host only ever holds a handle to it: `sign` sends the message to the HSM and gets
the 64-byte signature back (pure Ed25519, `CKM_EDDSA` with no parameters).

    public_key = generate_key(module_path, "clearhouse", "sequencer", pin)
    with Pkcs11Signer(module_path, "clearhouse", "sequencer", pin) as signer:
        signature = signer.sign(message)

Every failure is an `HsmError` whose message names what was missing or refused:
the module, the token, the PIN or the key. A signer holds one PKCS#11 session:
use it from one thread at a time.

The module is any PKCS#11 library; `find_module_path` returns the one named by
CLEARHOUSE_PKCS11_MODULE, or else SoftHSM2's where the system installed it.
"""

from __future__ import annotations

import glob
import os
import subprocess
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    AttributeValueInvalid,
    DomainParamsInvalid,
    GeneralError,
    MultipleObjectsReturned,
    MultipleTokensReturned,
    NoSuchKey,
    NoSuchToken,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    PKCS11Error,
)
from pkcs11.util.ec import encode_named_curve_parameters

if TYPE_CHECKING:
    from clearhouse.auth.signing import Signer

__all__ = [
    "MESSAGE_BYTES_MAX",
    "MODULE_ENV",
    "PUBLIC_KEY_BYTES",
    "SIGNATURE_BYTES",
    "HsmError",
    "Pkcs11Signer",
    "find_module_path",
    "generate_key",
]

MODULE_ENV: Final = "CLEARHOUSE_PKCS11_MODULE"
PUBLIC_KEY_BYTES: Final = 32
SIGNATURE_BYTES: Final = 64
# Pure Ed25519 hashes the whole message inside the HSM in one call: bound it.
MESSAGE_BYTES_MAX: Final = 1 << 20

# Where distributions install SoftHSM2's module, most common first.
_SOFTHSM_MODULE_PATTERNS: Final = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/*/softhsm/libsofthsm2.so",
    "/usr/lib64/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)
_SOFTHSM_PACKAGES: Final = ("libsofthsm2", "softhsm2")

# CKA_EC_PARAMS for edwards25519: the RFC 8410 OID 1.3.101.112, which SoftHSM2
# accepts, then the PKCS#11 3.0 PrintableString "edwards25519" that other HSMs want.
_ED25519_PARAMS: Final = (
    encode_named_curve_parameters("1.3.101.112"),
    b"\x13\x0c" + b"edwards25519",
)
# DER OCTET STRING header of a 32-byte CKA_EC_POINT.
_EC_POINT_HEADER: Final = bytes((0x04, PUBLIC_KEY_BYTES))


class HsmError(Exception):
    """The HSM could not be reached, refused us, or lacks the key."""


def find_module_path() -> str:
    """The PKCS#11 module to load: CLEARHOUSE_PKCS11_MODULE, else SoftHSM2's."""
    override = os.environ.get(MODULE_ENV)
    if override:
        if not os.path.isfile(override):
            raise HsmError(f"{MODULE_ENV}={override}: no such file")
        return override
    for pattern in _SOFTHSM_MODULE_PATTERNS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    found_by_dpkg = _softhsm_module_from_dpkg()
    if found_by_dpkg is not None:
        return found_by_dpkg
    raise HsmError(
        f"no PKCS#11 module: install SoftHSM2 (apt-get install softhsm2) or set {MODULE_ENV}"
    )


def generate_key(module_path: str, token_label: str, key_label: str, pin: str) -> bytes:
    """Create an Ed25519 key pair on the token; return the raw 32-byte public key.

    The private key is a token object, sensitive and never extractable. A label
    already in use on the token is refused, so that the key stays unambiguous.
    """
    token = _open_token(module_path, token_label)
    with _login(token, token_label, pin, rw=True) as session:
        if _label_in_use(session, key_label):
            raise HsmError(f"token {token_label!r} already has an object labelled {key_label!r}")
        failures: list[str] = []
        for params in _ED25519_PARAMS:
            try:
                public, _private = session.generate_keypair(
                    KeyType.EC_EDWARDS,
                    mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                    store=True,
                    label=key_label,
                    public_template={
                        Attribute.EC_PARAMS: params,
                        Attribute.TOKEN: True,
                        Attribute.VERIFY: True,
                    },
                    private_template={
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                        Attribute.SIGN: True,
                    },
                )
            except (GeneralError, AttributeValueInvalid, DomainParamsInvalid) as error:
                failures.append(type(error).__name__)
                continue
            except PKCS11Error as error:
                raise HsmError(f"cannot generate an Ed25519 key: {error!r}") from error
            return _raw_public_key(public[Attribute.EC_POINT])
        raise HsmError(f"token {token_label!r} refused the edwards25519 curve: {failures}")


class Pkcs11Signer:
    """Sign with the Ed25519 key labelled `key_label` on the token `token_label`."""

    def __init__(self, module_path: str, token_label: str, key_label: str, pin: str) -> None:
        token = _open_token(module_path, token_label)
        self._session: pkcs11.Session | None = _login(token, token_label, pin, rw=False)
        try:
            private_key = _find_key(self._session, ObjectClass.PRIVATE_KEY, key_label)
            assert isinstance(private_key, pkcs11.SignMixin), type(private_key)
            self._private_key = private_key
            public_key = _find_key(self._session, ObjectClass.PUBLIC_KEY, key_label)
            self._public_key = _raw_public_key(public_key[Attribute.EC_POINT])
        except BaseException:
            self.close()
            raise
        self.token_label = token_label
        self.key_label = key_label

    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self._public_key

    def sign(self, message: bytes) -> bytes:
        """The 64-byte pure Ed25519 signature of `message`, made inside the HSM."""
        if self._session is None:
            raise HsmError("the signer is closed")
        if len(message) > MESSAGE_BYTES_MAX:
            raise HsmError(f"message of {len(message)} bytes exceeds {MESSAGE_BYTES_MAX}")
        try:
            signature = self._private_key.sign(message, mechanism=Mechanism.EDDSA)
        except PKCS11Error as error:
            raise HsmError(f"the HSM refused to sign: {error!r}") from error
        if len(signature) != SIGNATURE_BYTES:
            raise HsmError(f"the HSM returned a {len(signature)}-byte signature")
        return bytes(signature)

    def close(self) -> None:
        """Close the session (the token logs out with its last one); twice is harmless."""
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def __repr__(self) -> str:
        return (
            f"Pkcs11Signer(token_label={self.token_label!r}, key_label={self.key_label!r}, "
            f"public_key={self._public_key.hex()})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


if TYPE_CHECKING:

    def _is_a_signer(signer: Pkcs11Signer) -> Signer:
        """Checked by mypy: a Pkcs11Signer is a `Signer` wherever one is asked for."""
        return signer


def _open_token(module_path: str, token_label: str) -> pkcs11.Token:
    if not os.path.isfile(module_path):
        raise HsmError(f"no PKCS#11 module at {module_path}")
    try:
        library = pkcs11.lib(module_path)
    except PKCS11Error as error:
        raise HsmError(f"cannot load the PKCS#11 module {module_path}: {error}") from error
    try:
        return library.get_token(token_label=token_label)
    except NoSuchToken as error:
        raise HsmError(f"no token labelled {token_label!r} in {module_path}") from error
    except MultipleTokensReturned as error:
        raise HsmError(f"more than one token labelled {token_label!r}") from error
    except PKCS11Error as error:
        raise HsmError(f"cannot list the tokens of {module_path}: {error!r}") from error


def _login(token: pkcs11.Token, token_label: str, pin: str, *, rw: bool) -> pkcs11.Session:
    try:
        return token.open(user_pin=pin, rw=rw)
    except (PinIncorrect, PinInvalid, PinLenRange) as error:
        raise HsmError(f"wrong PIN for token {token_label!r}") from error
    except PinLocked as error:
        raise HsmError(f"the PIN of token {token_label!r} is locked") from error
    except PKCS11Error as error:
        raise HsmError(f"cannot log in to token {token_label!r}: {error!r}") from error


def _label_in_use(session: pkcs11.Session, key_label: str) -> bool:
    try:
        return any(True for _ in session.get_objects({Attribute.LABEL: key_label}))
    except PKCS11Error as error:
        raise HsmError(f"cannot search the token for {key_label!r}: {error!r}") from error


def _find_key(session: pkcs11.Session, object_class: ObjectClass, key_label: str) -> pkcs11.Key:
    kind = "private" if object_class == ObjectClass.PRIVATE_KEY else "public"
    try:
        return session.get_key(
            object_class=object_class, key_type=KeyType.EC_EDWARDS, label=key_label
        )
    except NoSuchKey as error:
        raise HsmError(f"no Ed25519 {kind} key labelled {key_label!r}") from error
    except MultipleObjectsReturned as error:
        raise HsmError(f"more than one Ed25519 {kind} key labelled {key_label!r}") from error
    except PKCS11Error as error:
        raise HsmError(f"cannot find the {kind} key {key_label!r}: {error!r}") from error


def _raw_public_key(ec_point: bytes) -> bytes:
    """CKA_EC_POINT is a DER OCTET STRING of the 32 bytes; some HSMs give them bare."""
    point = bytes(ec_point)
    if len(point) == PUBLIC_KEY_BYTES:
        return point
    if len(point) == 2 + PUBLIC_KEY_BYTES and point[:2] == _EC_POINT_HEADER:
        return point[2:]
    raise HsmError(f"CKA_EC_POINT is not a 32-byte Ed25519 key: {point.hex()}")


def _softhsm_module_from_dpkg() -> str | None:
    """The module path from the Debian packages' file lists, if dpkg knows them."""
    try:
        listing = subprocess.run(
            ["dpkg", "-L", *_SOFTHSM_PACKAGES],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in listing.splitlines():
        if line.endswith("/libsofthsm2.so") and os.path.isfile(line):
            return line
    return None
