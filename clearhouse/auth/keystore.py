"""An encrypted keystore for Ed25519 signing keys: a directory with one JSON file per key.

This is the shell, not the core: it reads the wall clock, the file system and the
operating system's randomness, and the core never imports it.

## A key file

`<name>.key.json`, mode 0600, in a directory of mode 0700 owned by the user:

    {
      "version": 1,
      "name": "desk-1",
      "algorithm": "ed25519",
      "public_key": "<64 hex digits>",
      "created_at": "2026-11-01T12:00:00Z",
      "status": "active",
      "successor": null,
      "kdf": {"name": "scrypt", "n": 131072, "r": 8, "p": 1, "salt": "<32 hex digits>"},
      "cipher": {"name": "AES-256-GCM", "nonce": "<24 hex digits>", "ciphertext": "<96 hex>"}
    }

The 32-byte private key is sealed with AES-256-GCM under a 32-byte key that scrypt
derives from the passphrase (Unicode NFC, UTF-8) and a random 16-byte salt; the nonce
is a random 12 bytes; the ciphertext is the sealed key followed by the 16-byte tag.
The associated data is

    b"clearhouse-keystore" ‖ version (2 bytes, big-endian) ‖ len(name) (1 byte) ‖ name ‖ public key

so a ciphertext moved into another file, or a file whose name, public key, salt or
KDF parameters were edited, fails to open. `status` and `successor` are not sealed:
they are bookkeeping that rotation rewrites without the passphrase being needed to
read them, and editing them cannot change which key signs.

A rotation writes a new key, then rewrites the old file with `"status": "retired"`
and `"successor": "<new name>"`; the old key still opens with its passphrase.

## Errors

    KeystoreError          .code is a KeystoreErrorCode, .message a sentence for people
     └── WrongPassphrase   the passphrase did not open the key (or a sealed field was edited)

No message, `repr` or log line carries a passphrase or private key. Python cannot
wipe `bytes`, so the derived key and the raw private key live in memory until they
are collected; keep signers short-lived in long-running processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import stat
import unicodedata
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final, Literal, TypeAlias

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from clearhouse.auth.signing import Ed25519Signer

FORMAT_VERSION: Final = 1
KEY_FILE_SUFFIX: Final = ".key.json"
KEY_FILE_BYTES_MAX: Final = 16_384
KEYS_MAX: Final = 10_000
PASSPHRASE_CHARS_MAX: Final = 1_024
NAME_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")

SALT_BYTES: Final = 16
NONCE_BYTES: Final = 12
PUBLIC_KEY_BYTES: Final = 32
PRIVATE_KEY_BYTES: Final = 32
TAG_BYTES: Final = 16
DERIVED_KEY_BYTES: Final = 32

SCRYPT_N_MAX: Final = 2**20
SCRYPT_R_MAX: Final = 16
SCRYPT_P_MAX: Final = 4
SCRYPT_MEMORY_BYTES_MAX: Final = 256 * 2**20

_AAD_DOMAIN: Final = b"clearhouse-keystore"

Status: TypeAlias = Literal["active", "retired"]


class KeystoreErrorCode(StrEnum):
    """Why a keystore operation failed. Values are stable: scripts may match on them."""

    INVALID_NAME = "invalid_name"
    INVALID_PASSPHRASE = "invalid_passphrase"
    KEY_NOT_FOUND = "key_not_found"
    KEY_EXISTS = "key_exists"
    KEY_RETIRED = "key_retired"
    FILE_CORRUPT = "file_corrupt"
    UNSUPPORTED_VERSION = "unsupported_version"
    NAME_MISMATCH = "name_mismatch"
    KDF_PARAMS_INVALID = "kdf_params_invalid"
    INSECURE_PERMISSIONS = "insecure_permissions"
    TOO_MANY_KEYS = "too_many_keys"
    NOT_A_DIRECTORY = "not_a_directory"
    WRONG_PASSPHRASE = "wrong_passphrase"
    PUBLIC_KEY_MISMATCH = "public_key_mismatch"


class KeystoreError(Exception):
    """A keystore operation failed; `code` says why, `message` says it to people."""

    def __init__(self, code: KeystoreErrorCode, message: str) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message


class WrongPassphrase(KeystoreError):
    """The passphrase did not open the key.

    AES-GCM cannot tell a wrong passphrase from an edited salt, name, public key or
    ciphertext: each one fails the same authentication tag.
    """

    def __init__(self, name: str) -> None:
        super().__init__(
            KeystoreErrorCode.WRONG_PASSPHRASE,
            f"key {name!r}: wrong passphrase, or the key file was altered",
        )


def _scrypt_problem(n: int, r: int, p: int) -> str | None:
    if n < 2 or n > SCRYPT_N_MAX or n & (n - 1):
        return f"scrypt n={n} must be a power of two from 2 to {SCRYPT_N_MAX}"
    if not 1 <= r <= SCRYPT_R_MAX:
        return f"scrypt r={r} must be from 1 to {SCRYPT_R_MAX}"
    if not 1 <= p <= SCRYPT_P_MAX:
        return f"scrypt p={p} must be from 1 to {SCRYPT_P_MAX}"
    if 128 * n * r > SCRYPT_MEMORY_BYTES_MAX:
        return f"scrypt n={n}, r={r} needs more than {SCRYPT_MEMORY_BYTES_MAX} bytes"
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt's cost: n (a power of two), r and p, each bounded so a key file cannot
    ask for unbounded memory or time."""

    n: int = 2**17
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        problem = _scrypt_problem(self.n, self.r, self.p)
        if problem is not None:
            raise KeystoreError(KeystoreErrorCode.KDF_PARAMS_INVALID, problem)


DEFAULT_SCRYPT: Final = ScryptParams()
"""The cost every new key gets: n=2**17, r=8, p=1 (128 MiB, about half a second)."""


class KeyInfo(msgspec.Struct, frozen=True):
    """The public facts about one key: everything in its file except the sealed secret."""

    name: str
    algorithm: str
    public_key: str
    """Hex, 64 digits."""
    created_at: str
    """ISO 8601, UTC, to the second: `2026-11-01T12:00:00Z`."""
    status: Status
    successor: str | None
    """The key that replaced this one, once it is retired."""


KeyInfos: TypeAlias = list[KeyInfo]


@dataclasses.dataclass(frozen=True, slots=True)
class KeyScan:
    """Every key file of a keystore: the keys that read, and for each file that does
    not, the error naming it. One damaged file hides no other key."""

    keys: KeyInfos
    unreadable: list[KeystoreError]


class Keystore:
    """A directory of encrypted key files.

    `scrypt` sets the cost for keys this instance creates; leave it alone outside
    tests. Opening a key always uses the parameters stored in its file.
    """

    def __init__(self, path: str | os.PathLike[str], *, scrypt: ScryptParams | None = None) -> None:
        self._path = Path(path)
        self._scrypt = DEFAULT_SCRYPT if scrypt is None else scrypt

    def __repr__(self) -> str:
        return f"Keystore({str(self._path)!r})"

    @property
    def path(self) -> Path:
        return self._path

    def key_path(self, name: str) -> Path:
        """Where the key called `name` lives (whether or not it exists)."""
        _check_name(name)
        return self._path / f"{name}{KEY_FILE_SUFFIX}"

    def create(self, name: str, passphrase: str) -> KeyInfo:
        """Generate a key, seal it under `passphrase` and write its file."""
        path = self.key_path(name)
        secret = _passphrase_bytes(passphrase)
        self._ensure_directory()
        if os.path.lexists(path):
            raise KeystoreError(KeystoreErrorCode.KEY_EXISTS, f"key {name!r} already exists")
        record = _seal(name, Ed25519PrivateKey.generate(), secret, self._scrypt, _now())
        _write_atomically(path, _encode(record), replace=False)
        return record.info

    def list(self) -> KeyInfos:
        """Every key in the directory, sorted by name; the first unreadable key file
        raises its error (`scan` reads past it)."""
        scan = self.scan()
        if scan.unreadable:
            raise scan.unreadable[0]
        return scan.keys

    def scan(self) -> KeyScan:
        """Every key file in the directory, sorted by name: those that read, and an
        error for each that does not. Files whose names are not `<valid name>.key.json`
        are not keys and are passed over. No directory there is an empty keystore; a
        path that is something else is refused (NOT_A_DIRECTORY)."""
        if not self._path.exists():
            return KeyScan([], [])
        if not self._path.is_dir():
            raise KeystoreError(
                KeystoreErrorCode.NOT_A_DIRECTORY, f"{self._path} is not a directory"
            )
        names = sorted(
            entry.name.removesuffix(KEY_FILE_SUFFIX)
            for entry in self._path.iterdir()
            if entry.name.endswith(KEY_FILE_SUFFIX)
            and NAME_PATTERN.fullmatch(entry.name.removesuffix(KEY_FILE_SUFFIX))
        )
        if len(names) > KEYS_MAX:
            raise KeystoreError(
                KeystoreErrorCode.TOO_MANY_KEYS,
                f"{self._path} holds {len(names)} keys, more than {KEYS_MAX}",
            )
        keys: KeyInfos = []
        unreadable: list[KeystoreError] = []
        for name in names:
            try:
                keys.append(self._read(name, private=False).info)
            except KeystoreError as error:
                unreadable.append(error)
        return KeyScan(keys, unreadable)

    def info(self, name: str) -> KeyInfo:
        return self._read(name, private=False).info

    def export_public(self, name: str) -> str:
        """The public key as 64 hex digits."""
        return self._read(name, private=False).info.public_key

    def load_signer(self, name: str, passphrase: str) -> Ed25519Signer:
        """Open the key with its passphrase. A retired key still opens."""
        self._check_directory()
        record = self._read(name, private=True)
        return Ed25519Signer(_open(record, _passphrase_bytes(passphrase)))

    def rotate(self, name: str, new_name: str, passphrase: str) -> KeyInfo:
        """Replace an active key: create `new_name` under the same passphrase, then
        mark `name` retired with `new_name` as its successor."""
        new_path = self.key_path(new_name)
        self._check_directory()
        record = self._read(name, private=True)
        if record.info.status == "retired":
            raise KeystoreError(
                KeystoreErrorCode.KEY_RETIRED,
                f"key {name!r} is already retired (successor {record.info.successor!r})",
            )
        if os.path.lexists(new_path):
            raise KeystoreError(KeystoreErrorCode.KEY_EXISTS, f"key {new_name!r} already exists")
        _open(record, _passphrase_bytes(passphrase))
        new_info = self.create(new_name, passphrase)
        retired_info = msgspec.structs.replace(record.info, status="retired", successor=new_name)
        retired = dataclasses.replace(record, info=retired_info)
        _write_atomically(self.key_path(name), _encode(retired), replace=True)
        return new_info

    def _ensure_directory(self) -> None:
        if not self._path.exists():
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileExistsError):
                    os.mkdir(self._path, 0o700)
            except OSError as exc:  # a parent that is a file, or not ours to write
                raise KeystoreError(
                    KeystoreErrorCode.NOT_A_DIRECTORY,
                    f"cannot create the keystore {self._path}: {exc.strerror}",
                ) from None
        self._check_directory()

    def _check_directory(self) -> None:
        """The directory must be a real directory, ours, and closed to everyone else."""
        try:
            st = os.lstat(self._path)
        except FileNotFoundError:
            raise KeystoreError(
                KeystoreErrorCode.KEY_NOT_FOUND, f"no keystore at {self._path}"
            ) from None
        if not stat.S_ISDIR(st.st_mode):
            raise KeystoreError(
                KeystoreErrorCode.INSECURE_PERMISSIONS,
                f"{self._path} is not a directory (a symbolic link is refused)",
            )
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise KeystoreError(
                KeystoreErrorCode.INSECURE_PERMISSIONS,
                f"{self._path} must be owned by this user with mode 0700"
                f" (it has {stat.S_IMODE(st.st_mode):04o}): chmod 700 {self._path}",
            )

    def _read(self, name: str, *, private: bool) -> _KeyRecord:
        path = self.key_path(name)
        return _decode(name, _read_bytes(name, path, private=private))


# ---------------------------------------------------------------------------------
# The file: strict decoding at the boundary, a typed record inside.


class _Kdf(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Literal["scrypt"]
    n: int
    r: int
    p: int
    salt: str


class _Cipher(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Literal["AES-256-GCM"]
    nonce: str
    ciphertext: str


class _KeyFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    name: str
    algorithm: Literal["ed25519"]
    public_key: str
    created_at: str
    status: Status
    successor: str | None
    kdf: _Kdf
    cipher: _Cipher


class _VersionOnly(msgspec.Struct, frozen=True):
    version: int


@dataclasses.dataclass(frozen=True, slots=True, repr=False)
class _KeyRecord:
    """One key file, decoded and checked. Holds the sealed key, never the open one."""

    info: KeyInfo
    public_key: bytes
    scrypt: ScryptParams
    salt: bytes
    nonce: bytes
    ciphertext: bytes


def _read_bytes(name: str, path: Path, *, private: bool) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeystoreError(KeystoreErrorCode.KEY_NOT_FOUND, f"no key {name!r}") from None
    except OSError as exc:
        raise KeystoreError(
            KeystoreErrorCode.FILE_CORRUPT, f"{path.name}: cannot open ({exc.strerror})"
        ) from None
    with os.fdopen(fd, "rb") as file:
        st = os.fstat(file.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise KeystoreError(KeystoreErrorCode.FILE_CORRUPT, f"{path.name}: not a regular file")
        if private and (st.st_uid != os.geteuid() or st.st_mode & 0o077):
            raise KeystoreError(
                KeystoreErrorCode.INSECURE_PERMISSIONS,
                f"{path.name} must be owned by this user with mode 0600"
                f" (it has {stat.S_IMODE(st.st_mode):04o})",
            )
        data = file.read(KEY_FILE_BYTES_MAX + 1)
    if len(data) > KEY_FILE_BYTES_MAX:
        raise KeystoreError(
            KeystoreErrorCode.FILE_CORRUPT, f"{path.name}: larger than {KEY_FILE_BYTES_MAX} bytes"
        )
    return data


def _decode(name: str, data: bytes) -> _KeyRecord:
    """Check one key file in a fixed order: shape of the version, the version, the
    full shape, the name, then each field's content."""
    where = f"{name}{KEY_FILE_SUFFIX}"
    try:
        version = msgspec.json.decode(data, type=_VersionOnly).version
    except msgspec.DecodeError as exc:
        raise _corrupt(where, str(exc)) from None
    if version != FORMAT_VERSION:
        raise KeystoreError(
            KeystoreErrorCode.UNSUPPORTED_VERSION,
            f"{where}: format version {version}, this build reads {FORMAT_VERSION}",
        )
    try:
        file = msgspec.json.decode(data, type=_KeyFile)
    except msgspec.DecodeError as exc:
        raise _corrupt(where, str(exc)) from None
    if file.name != name:
        raise KeystoreError(
            KeystoreErrorCode.NAME_MISMATCH, f"{where}: holds the key named {file.name!r}"
        )
    public_key = _hex_field(where, "$.public_key", file.public_key, PUBLIC_KEY_BYTES)
    salt = _hex_field(where, "$.kdf.salt", file.kdf.salt, SALT_BYTES)
    nonce = _hex_field(where, "$.cipher.nonce", file.cipher.nonce, NONCE_BYTES)
    ciphertext = _hex_field(
        where, "$.cipher.ciphertext", file.cipher.ciphertext, PRIVATE_KEY_BYTES + TAG_BYTES
    )
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
        datetime.strptime(file.created_at, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise _corrupt(where, "$.public_key or $.created_at is not valid") from None
    retired = file.status == "retired"
    successor_ok = (
        file.successor is not None and bool(NAME_PATTERN.fullmatch(file.successor))
        if retired
        else file.successor is None
    )
    if not successor_ok:
        raise _corrupt(where, "$.successor must name a key exactly when the status is retired")
    info = KeyInfo(
        name=file.name,
        algorithm=file.algorithm,
        public_key=public_key.hex(),
        created_at=file.created_at,
        status=file.status,
        successor=file.successor,
    )
    kdf = ScryptParams(n=file.kdf.n, r=file.kdf.r, p=file.kdf.p)
    return _KeyRecord(info, public_key, kdf, salt, nonce, ciphertext)


def _encode(record: _KeyRecord) -> bytes:
    file = _KeyFile(
        version=FORMAT_VERSION,
        name=record.info.name,
        algorithm="ed25519",
        public_key=record.public_key.hex(),
        created_at=record.info.created_at,
        status=record.info.status,
        successor=record.info.successor,
        kdf=_Kdf(
            name="scrypt",
            n=record.scrypt.n,
            r=record.scrypt.r,
            p=record.scrypt.p,
            salt=record.salt.hex(),
        ),
        cipher=_Cipher(
            name="AES-256-GCM", nonce=record.nonce.hex(), ciphertext=record.ciphertext.hex()
        ),
    )
    return msgspec.json.format(msgspec.json.encode(file), indent=2) + b"\n"


def _hex_field(where: str, field: str, text: str, size: int) -> bytes:
    if len(text) != 2 * size or text != text.lower():
        raise _corrupt(where, f"{field} must be {2 * size} lowercase hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise _corrupt(where, f"{field} must be {2 * size} lowercase hex digits") from None


def _corrupt(where: str, detail: str) -> KeystoreError:
    return KeystoreError(KeystoreErrorCode.FILE_CORRUPT, f"{where}: {detail}")


# ---------------------------------------------------------------------------------
# Sealing and opening.


def _seal(
    name: str, private_key: Ed25519PrivateKey, passphrase: bytes, kdf: ScryptParams, created: str
) -> _KeyRecord:
    public_key = private_key.public_key().public_bytes_raw()
    salt = secrets.token_bytes(SALT_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    cipher = AESGCM(_derive(passphrase, salt, kdf))
    ciphertext = cipher.encrypt(
        nonce, private_key.private_bytes_raw(), _associated_data(name, public_key)
    )
    info = KeyInfo(
        name=name,
        algorithm="ed25519",
        public_key=public_key.hex(),
        created_at=created,
        status="active",
        successor=None,
    )
    return _KeyRecord(info, public_key, kdf, salt, nonce, ciphertext)


def _open(record: _KeyRecord, passphrase: bytes) -> Ed25519PrivateKey:
    cipher = AESGCM(_derive(passphrase, record.salt, record.scrypt))
    aad = _associated_data(record.info.name, record.public_key)
    try:
        raw = cipher.decrypt(record.nonce, record.ciphertext, aad)
    except InvalidTag:
        raise WrongPassphrase(record.info.name) from None
    private_key = Ed25519PrivateKey.from_private_bytes(raw)
    if private_key.public_key().public_bytes_raw() != record.public_key:
        raise KeystoreError(
            KeystoreErrorCode.PUBLIC_KEY_MISMATCH,
            f"key {record.info.name!r}: the sealed private key does not match its public key",
        )
    return private_key


def _derive(passphrase: bytes, salt: bytes, kdf: ScryptParams) -> bytes:
    return Scrypt(salt=salt, length=DERIVED_KEY_BYTES, n=kdf.n, r=kdf.r, p=kdf.p).derive(passphrase)


def _associated_data(name: str, public_key: bytes) -> bytes:
    encoded = name.encode("ascii")
    return b"".join(
        (
            _AAD_DOMAIN,
            FORMAT_VERSION.to_bytes(2, "big"),
            len(encoded).to_bytes(1, "big"),
            encoded,
            public_key,
        )
    )


# ---------------------------------------------------------------------------------
# Small pure checks and the one atomic write.


def _check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise KeystoreError(
            KeystoreErrorCode.INVALID_NAME,
            f"key name {name!r} must match [a-z0-9][a-z0-9._-]{{0,63}}",
        )


def _passphrase_bytes(passphrase: str) -> bytes:
    if not passphrase:
        raise KeystoreError(KeystoreErrorCode.INVALID_PASSPHRASE, "the passphrase is empty")
    if len(passphrase) > PASSPHRASE_CHARS_MAX:
        raise KeystoreError(
            KeystoreErrorCode.INVALID_PASSPHRASE,
            f"the passphrase is longer than {PASSPHRASE_CHARS_MAX} characters",
        )
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_atomically(path: Path, data: bytes, *, replace: bool) -> None:
    """Write a temporary file beside `path` (mode 0600 from its creation), fsync it,
    then move it into place and fsync the directory. Without `replace` an existing
    file is never overwritten: the move is a hard link, which fails if `path` exists."""
    directory = path.parent
    temporary = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise KeystoreError(
                    KeystoreErrorCode.KEY_EXISTS,
                    f"key {path.name.removesuffix(KEY_FILE_SUFFIX)!r} already exists",
                ) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory_fd)
    finally:
        os.close(directory_fd)
