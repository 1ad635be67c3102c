"""The PKCS#11 Ed25519 signer against a real software HSM (SoftHSM2).

Each test gets its own token in its own temporary directory: SoftHSM2 reads the
directory from SOFTHSM2_CONF when the library is initialized, and python-pkcs11
keeps one loaded library per process, so the `token` fixture re-initializes it
after pointing SOFTHSM2_CONF at the new directory, and finalizes it afterwards.

Environment policy (`_require`): without SoftHSM2, python-pkcs11 or pyca
cryptography these tests fail when CI=true and skip, with the reason, elsewhere.
`make test` installs SoftHSM2 when it runs as root.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    import pkcs11
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from clearhouse.auth import Signer
    from clearhouse.auth.pkcs11_signer import (
        MESSAGE_BYTES_MAX,
        MODULE_ENV,
        HsmError,
        Pkcs11Signer,
        find_module_path,
        generate_key,
    )
except ImportError as error:  # reported by _require, which skips or fails
    MISSING_IMPORT: str | None = error.name or str(error)
else:
    MISSING_IMPORT = None

PIN = "246810"
SO_PIN = "13579135"
KEY_LABEL = "sequencer"
MESSAGE = b"clearhouse: journal root 7f3a"


def _require(present: bool, reason: str) -> None:
    """Go on if present; else fail with `reason` under CI=true, skip with it elsewhere."""
    if present:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _require_python_side() -> None:
    _require(MISSING_IMPORT is None, f"no Python module {MISSING_IMPORT}: pip install -e '.[dev]'")


def _softhsm_module_path() -> str:
    try:
        return find_module_path()
    except HsmError as error:
        _require(False, str(error))
        raise


@dataclass(frozen=True)
class Token:
    module_path: str
    label: str
    pin: str


@pytest.fixture
def token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Token]:
    """A fresh, initialized SoftHSM2 token in tmp_path, with no keys on it."""
    _require_python_side()
    _require(
        shutil.which("softhsm2-util") is not None,
        "no softhsm2-util: run `make test` as root, or apt-get install softhsm2",
    )
    monkeypatch.delenv(MODULE_ENV, raising=False)  # these tests are about SoftHSM2
    module_path = _softhsm_module_path()
    token_directory = tmp_path / "tokens"
    token_directory.mkdir()
    config = tmp_path / "softhsm2.conf"
    config.write_text(
        f"directories.tokendir = {token_directory}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    monkeypatch.setenv("SOFTHSM2_CONF", str(config))
    label = f"test-{tmp_path.name}"[:32]
    init_token = ["softhsm2-util", "--init-token", "--free", "--label", label]
    subprocess.run(
        [*init_token, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
    )
    library = pkcs11.lib(module_path)
    library.reinitialize()  # read the new SOFTHSM2_CONF and see the new token
    yield Token(module_path, label, PIN)
    library.finalize()


@pytest.fixture
def public_key(token: Token) -> bytes:
    """The public key of a key pair generated on `token` under KEY_LABEL."""
    return generate_key(token.module_path, token.label, KEY_LABEL, token.pin)


def test_signature_from_the_hsm_verifies_with_pyca_cryptography(
    token: Token, public_key: bytes
) -> None:
    with Pkcs11Signer(token.module_path, token.label, KEY_LABEL, token.pin) as signer:
        assert isinstance(signer, Signer)
        assert repr(signer).endswith(f"public_key={public_key.hex()})")
        assert signer.public_key() == public_key
        signature = signer.sign(MESSAGE)
    assert len(public_key) == 32
    assert len(signature) == 64
    verifier = Ed25519PublicKey.from_public_bytes(public_key)
    verifier.verify(signature, MESSAGE)
    with pytest.raises(InvalidSignature):
        verifier.verify(signature, MESSAGE + b"!")


def test_signature_from_the_hsm_verifies_with_clearhouse_verify(
    token: Token, public_key: bytes
) -> None:
    if importlib.util.find_spec("clearhouse.auth.ed25519") is None:
        pytest.skip("clearhouse.auth.ed25519 is not there yet")
    from clearhouse.auth.ed25519 import verify

    with Pkcs11Signer(token.module_path, token.label, KEY_LABEL, token.pin) as signer:
        signature = signer.sign(MESSAGE)
    assert verify(public_key, MESSAGE, signature)
    assert not verify(public_key, MESSAGE + b"!", signature)


def test_signatures_are_deterministic_and_the_key_outlives_the_session(
    token: Token, public_key: bytes
) -> None:
    with Pkcs11Signer(token.module_path, token.label, KEY_LABEL, token.pin) as first:
        signature = first.sign(MESSAGE)
    with Pkcs11Signer(token.module_path, token.label, KEY_LABEL, token.pin) as second:
        assert second.public_key() == public_key
        assert second.sign(MESSAGE) == signature
        assert second.sign(b"") != signature


def test_private_key_is_sensitive_and_never_extractable(token: Token, public_key: bytes) -> None:
    attribute = pkcs11.Attribute
    hsm_token = pkcs11.lib(token.module_path).get_token(token_label=token.label)
    with hsm_token.open(user_pin=token.pin) as session:
        private_key = session.get_key(
            object_class=pkcs11.ObjectClass.PRIVATE_KEY,
            key_type=pkcs11.KeyType.EC_EDWARDS,
            label=KEY_LABEL,
        )
        assert private_key[attribute.TOKEN] is True
        assert private_key[attribute.SENSITIVE] is True
        assert private_key[attribute.ALWAYS_SENSITIVE] is True
        assert private_key[attribute.EXTRACTABLE] is False
        assert private_key[attribute.NEVER_EXTRACTABLE] is True
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            private_key[attribute.VALUE]
        with pytest.raises(pkcs11.exceptions.PKCS11Error):
            private_key[attribute.EXTRACTABLE] = True
        assert private_key[attribute.EXTRACTABLE] is False


def test_wrong_pin_is_an_hsm_error(token: Token, public_key: bytes) -> None:
    with pytest.raises(HsmError, match="wrong PIN"):
        Pkcs11Signer(token.module_path, token.label, KEY_LABEL, "000000")


def test_missing_key_token_and_module_are_hsm_errors(token: Token) -> None:
    with pytest.raises(HsmError, match="no Ed25519 private key labelled 'absent'"):
        Pkcs11Signer(token.module_path, token.label, "absent", token.pin)
    with pytest.raises(HsmError, match="no token labelled 'absent'"):
        Pkcs11Signer(token.module_path, "absent", KEY_LABEL, token.pin)
    with pytest.raises(HsmError, match=r"no PKCS#11 module at /nonexistent/libpkcs11\.so"):
        Pkcs11Signer("/nonexistent/libpkcs11.so", token.label, KEY_LABEL, token.pin)


def test_generate_key_refuses_a_label_in_use(token: Token, public_key: bytes) -> None:
    with pytest.raises(HsmError, match="already has an object labelled 'sequencer'"):
        generate_key(token.module_path, token.label, KEY_LABEL, token.pin)


def test_closed_signer_and_oversized_message_are_refused(token: Token, public_key: bytes) -> None:
    signer = Pkcs11Signer(token.module_path, token.label, KEY_LABEL, token.pin)
    with pytest.raises(HsmError, match="exceeds"):
        signer.sign(bytes(MESSAGE_BYTES_MAX + 1))
    signer.close()
    signer.close()
    with pytest.raises(HsmError, match="closed"):
        signer.sign(MESSAGE)


def test_module_path_comes_from_the_environment_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _require_python_side()
    module = tmp_path / "libvendor-pkcs11.so"
    module.write_bytes(b"")
    monkeypatch.setenv(MODULE_ENV, str(module))
    assert find_module_path() == str(module)
    monkeypatch.setenv(MODULE_ENV, str(tmp_path / "absent.so"))
    with pytest.raises(HsmError, match=MODULE_ENV):
        find_module_path()
