"""The encrypted keystore and `clearhouse keys`, as an operator and an attacker see them.

Keys here are sealed with a cheap scrypt cost (n=2**10) so the suite stays fast; one
test checks that a keystore left alone uses the strong default.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from typer.testing import CliRunner

from clearhouse.auth import keystore as keystore_module
from clearhouse.auth.keystore import (
    DEFAULT_SCRYPT,
    Keystore,
    KeystoreError,
    KeystoreErrorCode,
    ScryptParams,
    WrongPassphrase,
)
from clearhouse.cli import app

FAST = ScryptParams(n=2**10, r=8, p=1)
PASSPHRASE = "correct horse battery staple 7f3a"
OTHER_PASSPHRASE = "not the passphrase"

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path) -> Keystore:
    return Keystore(tmp_path / "keys", scrypt=FAST)


def open_by_hand(path: Path, passphrase: str) -> bytes:
    """Decrypt a key file following only the format in keystore.py's docstring."""
    document = json.loads(path.read_text())
    kdf, cipher = document["kdf"], document["cipher"]
    key = Scrypt(
        salt=bytes.fromhex(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"]
    ).derive(passphrase.encode())
    name = document["name"].encode()
    associated_data = (
        b"clearhouse-keystore"
        + document["version"].to_bytes(2, "big")
        + bytes([len(name)])
        + name
        + bytes.fromhex(document["public_key"])
    )
    return AESGCM(key).decrypt(
        bytes.fromhex(cipher["nonce"]), bytes.fromhex(cipher["ciphertext"]), associated_data
    )


def assert_no_secret(seen: str | bytes, private_key: bytes) -> None:
    """Neither the private key (raw, hex either case) nor the passphrase is in `seen`."""
    if isinstance(seen, str):
        squeezed = "".join(seen.split())
        for text in (seen, squeezed):
            assert private_key.hex() not in text.lower()
            assert PASSPHRASE not in text
        assert "".join(PASSPHRASE.split()) not in squeezed
        return
    assert private_key not in seen
    assert private_key.hex().encode() not in seen.lower()
    assert PASSPHRASE.encode() not in seen


# -- round trip ---------------------------------------------------------------------


def test_a_created_key_opens_and_signs_for_its_public_key(store: Keystore) -> None:
    info = store.create("desk-1", PASSPHRASE)
    signer = store.load_signer("desk-1", PASSPHRASE)

    assert signer.public_key().hex() == info.public_key
    signature = signer.sign(b"place_order")
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(info.public_key)).verify(
        signature, b"place_order"
    )
    assert info == store.info("desk-1")
    assert store.list() == [info]
    assert store.export_public("desk-1") == info.public_key
    assert (info.algorithm, info.status, info.successor) == ("ed25519", "active", None)
    created = datetime.strptime(info.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)


def test_the_file_format_as_documented_opens_with_plain_cryptography(store: Keystore) -> None:
    info = store.create("desk-1", PASSPHRASE)
    path = store.key_path("desk-1")
    document = json.loads(path.read_text())

    assert list(document) == [
        "version",
        "name",
        "algorithm",
        "public_key",
        "created_at",
        "status",
        "successor",
        "kdf",
        "cipher",
    ]
    assert document["kdf"]["name"] == "scrypt"
    assert (document["kdf"]["n"], document["kdf"]["r"], document["kdf"]["p"]) == (2**10, 8, 1)
    assert len(bytes.fromhex(document["kdf"]["salt"])) == 16
    assert document["cipher"]["name"] == "AES-256-GCM"
    assert len(bytes.fromhex(document["cipher"]["nonce"])) == 12
    private_key = open_by_hand(path, PASSPHRASE)
    assert len(private_key) == 32
    signer = store.load_signer("desk-1", PASSPHRASE)
    assert signer.public_key().hex() == info.public_key


def test_two_keys_never_share_a_salt_or_nonce(store: Keystore) -> None:
    store.create("a", PASSPHRASE)
    store.create("b", PASSPHRASE)
    a, b = (json.loads(store.key_path(name).read_text()) for name in ("a", "b"))
    assert a["kdf"]["salt"] != b["kdf"]["salt"]
    assert a["cipher"]["nonce"] != b["cipher"]["nonce"]
    assert a["public_key"] != b["public_key"]


def test_a_keystore_left_alone_uses_the_strong_scrypt_default(tmp_path: Path) -> None:
    assert DEFAULT_SCRYPT.n >= 2**15
    assert (DEFAULT_SCRYPT.r, DEFAULT_SCRYPT.p) == (8, 1)
    Keystore(tmp_path / "keys").create("desk-1", PASSPHRASE)
    kdf = json.loads((tmp_path / "keys" / "desk-1.key.json").read_text())["kdf"]
    assert (kdf["n"], kdf["r"], kdf["p"]) == (DEFAULT_SCRYPT.n, 8, 1)


@pytest.mark.parametrize(
    ("n", "r", "p"),
    [(1000, 8, 1), (1, 8, 1), (2**21, 8, 1), (2**10, 0, 1), (2**10, 8, 0), (2**20, 16, 1)],
)
def test_scrypt_parameters_are_bounded(n: int, r: int, p: int) -> None:
    with pytest.raises(KeystoreError) as caught:
        ScryptParams(n=n, r=r, p=p)
    assert caught.value.code is KeystoreErrorCode.KDF_PARAMS_INVALID


# -- files on disk ------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: modes must come from the keystore, not from the umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("open_umask")
def test_the_key_file_is_0600_and_the_directory_0700(store: Keystore) -> None:
    store.create("desk-1", PASSPHRASE)
    store.rotate("desk-1", "desk-2", PASSPHRASE)

    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o700
    for name in ("desk-1", "desk-2"):
        assert stat.S_IMODE(os.stat(store.key_path(name)).st_mode) == 0o600
    assert sorted(os.listdir(store.path)) == ["desk-1.key.json", "desk-2.key.json"]


def test_a_key_readable_by_others_is_refused_for_signing(store: Keystore) -> None:
    store.create("desk-1", PASSPHRASE)
    store.key_path("desk-1").chmod(0o644)

    with pytest.raises(KeystoreError) as caught:
        store.load_signer("desk-1", PASSPHRASE)
    assert caught.value.code is KeystoreErrorCode.INSECURE_PERMISSIONS
    assert store.info("desk-1").name == "desk-1"


def test_a_directory_open_to_others_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    directory.mkdir(mode=0o700)
    directory.chmod(0o755)
    with pytest.raises(KeystoreError) as caught:
        Keystore(directory, scrypt=FAST).create("desk-1", PASSPHRASE)
    assert caught.value.code is KeystoreErrorCode.INSECURE_PERMISSIONS


# -- refusals -----------------------------------------------------------------------


def test_a_wrong_passphrase_is_refused(store: Keystore) -> None:
    store.create("desk-1", PASSPHRASE)
    with pytest.raises(WrongPassphrase) as caught:
        store.load_signer("desk-1", OTHER_PASSPHRASE)
    assert caught.value.code is KeystoreErrorCode.WRONG_PASSPHRASE
    assert OTHER_PASSPHRASE not in str(caught.value)


@pytest.mark.parametrize("name", ["", "Desk", ".hidden", "-x", "a/b", "../x", "a b", "a" * 65])
def test_a_bad_name_is_refused(store: Keystore, name: str) -> None:
    with pytest.raises(KeystoreError) as caught:
        store.create(name, PASSPHRASE)
    assert caught.value.code is KeystoreErrorCode.INVALID_NAME


def test_an_existing_key_is_never_overwritten(store: Keystore) -> None:
    first = store.create("desk-1", PASSPHRASE)
    with pytest.raises(KeystoreError) as caught:
        store.create("desk-1", PASSPHRASE)
    assert caught.value.code is KeystoreErrorCode.KEY_EXISTS
    assert store.info("desk-1") == first


def test_an_empty_passphrase_is_refused(store: Keystore) -> None:
    with pytest.raises(KeystoreError) as caught:
        store.create("desk-1", "")
    assert caught.value.code is KeystoreErrorCode.INVALID_PASSPHRASE


def test_a_missing_key_is_named(store: Keystore) -> None:
    assert store.list() == []
    with pytest.raises(KeystoreError) as caught:
        store.info("nobody")
    assert caught.value.code is KeystoreErrorCode.KEY_NOT_FOUND


# -- tampering ----------------------------------------------------------------------

Edit = Callable[[dict[str, Any], dict[str, Any]], None]


def flip_ciphertext_byte(document: dict[str, Any], _: dict[str, Any]) -> None:
    ciphertext = bytearray(bytes.fromhex(document["cipher"]["ciphertext"]))
    ciphertext[5] ^= 0x01
    document["cipher"]["ciphertext"] = ciphertext.hex()


def flip_tag_byte(document: dict[str, Any], _: dict[str, Any]) -> None:
    ciphertext = bytearray(bytes.fromhex(document["cipher"]["ciphertext"]))
    ciphertext[-1] ^= 0x80
    document["cipher"]["ciphertext"] = ciphertext.hex()


def take_other_public_key(document: dict[str, Any], other: dict[str, Any]) -> None:
    document["public_key"] = other["public_key"]


def take_other_ciphertext(document: dict[str, Any], other: dict[str, Any]) -> None:
    document["kdf"] = other["kdf"]
    document["cipher"] = other["cipher"]


def flip_salt_byte(document: dict[str, Any], _: dict[str, Any]) -> None:
    salt = bytearray(bytes.fromhex(document["kdf"]["salt"]))
    salt[0] ^= 0x01
    document["kdf"]["salt"] = salt.hex()


def flip_nonce_byte(document: dict[str, Any], _: dict[str, Any]) -> None:
    nonce = bytearray(bytes.fromhex(document["cipher"]["nonce"]))
    nonce[0] ^= 0x01
    document["cipher"]["nonce"] = nonce.hex()


def halve_scrypt_n(document: dict[str, Any], _: dict[str, Any]) -> None:
    document["kdf"]["n"] //= 2


@pytest.mark.parametrize(
    "edit",
    [
        flip_ciphertext_byte,
        flip_tag_byte,
        take_other_public_key,
        take_other_ciphertext,
        flip_salt_byte,
        flip_nonce_byte,
        halve_scrypt_n,
    ],
)
def test_an_edited_sealed_field_fails_to_open(store: Keystore, edit: Edit) -> None:
    store.create("desk-1", PASSPHRASE)
    store.create("desk-2", PASSPHRASE)
    path = store.key_path("desk-1")
    document = json.loads(path.read_text())
    edit(document, json.loads(store.key_path("desk-2").read_text()))
    path.write_text(json.dumps(document))

    with pytest.raises(WrongPassphrase):
        store.load_signer("desk-1", PASSPHRASE)


def test_an_edited_name_is_refused(store: Keystore) -> None:
    store.create("desk-1", PASSPHRASE)
    path = store.key_path("desk-1")
    document = json.loads(path.read_text())
    document["name"] = "desk-9"
    path.write_text(json.dumps(document))

    with pytest.raises(KeystoreError) as caught:
        store.load_signer("desk-1", PASSPHRASE)
    assert caught.value.code is KeystoreErrorCode.NAME_MISMATCH


def test_a_file_renamed_with_its_name_edited_fails_to_open(store: Keystore) -> None:
    store.create("desk-1", PASSPHRASE)
    document = json.loads(store.key_path("desk-1").read_text())
    document["name"] = "desk-9"
    fd = os.open(store.key_path("desk-9"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump(document, file)

    with pytest.raises(WrongPassphrase):
        store.load_signer("desk-9", PASSPHRASE)


@pytest.mark.parametrize(
    ("text", "code", "detail"),
    [
        ("{not json", KeystoreErrorCode.FILE_CORRUPT, "desk-1.key.json"),
        ('{"version": 2}', KeystoreErrorCode.UNSUPPORTED_VERSION, "version 2"),
        ("[]", KeystoreErrorCode.FILE_CORRUPT, "desk-1.key.json"),
    ],
)
def test_a_corrupt_file_is_named_with_a_stable_code(
    store: Keystore, text: str, code: KeystoreErrorCode, detail: str
) -> None:
    store.create("desk-1", PASSPHRASE)
    store.key_path("desk-1").write_text(text)

    for attempt in (lambda: store.info("desk-1"), lambda: store.load_signer("desk-1", PASSPHRASE)):
        with pytest.raises(KeystoreError) as caught:
            attempt()
        assert caught.value.code is code
        assert detail in caught.value.message


def corrupt_field(document: dict[str, Any]) -> None:
    document["kdf"]["salt"] = "abcd"


def add_field(document: dict[str, Any]) -> None:
    document["private_key"] = "00" * 32


def drop_field(document: dict[str, Any]) -> None:
    del document["cipher"]["nonce"]


def wrong_algorithm(document: dict[str, Any]) -> None:
    document["algorithm"] = "secp256k1"


def retired_without_successor(document: dict[str, Any]) -> None:
    document["status"] = "retired"


def absurd_scrypt_cost(document: dict[str, Any]) -> None:
    document["kdf"]["n"] = 2**40


@pytest.mark.parametrize(
    ("edit", "code", "detail"),
    [
        (corrupt_field, KeystoreErrorCode.FILE_CORRUPT, "$.kdf.salt"),
        (add_field, KeystoreErrorCode.FILE_CORRUPT, "private_key"),
        (drop_field, KeystoreErrorCode.FILE_CORRUPT, "nonce"),
        (wrong_algorithm, KeystoreErrorCode.FILE_CORRUPT, "$.algorithm"),
        (retired_without_successor, KeystoreErrorCode.FILE_CORRUPT, "$.successor"),
        (absurd_scrypt_cost, KeystoreErrorCode.KDF_PARAMS_INVALID, "scrypt n="),
    ],
)
def test_a_malformed_field_is_named(
    store: Keystore, edit: Callable[[dict[str, Any]], None], code: KeystoreErrorCode, detail: str
) -> None:
    store.create("desk-1", PASSPHRASE)
    path = store.key_path("desk-1")
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))

    with pytest.raises(KeystoreError) as caught:
        store.info("desk-1")
    assert caught.value.code is code
    assert detail in caught.value.message


# -- secrets stay secret ------------------------------------------------------------


def test_no_secret_in_the_file_or_any_repr(store: Keystore) -> None:
    info = store.create("desk-1", PASSPHRASE)
    private_key = open_by_hand(store.key_path("desk-1"), PASSPHRASE)
    signer = store.load_signer("desk-1", PASSPHRASE)

    assert_no_secret(store.key_path("desk-1").read_bytes(), private_key)
    for shown in (repr(signer), str(signer), repr(store), repr(info), str(info)):
        assert_no_secret(shown, private_key)
    assert info.public_key in repr(signer)
    with pytest.raises(WrongPassphrase) as caught:
        store.load_signer("desk-1", OTHER_PASSPHRASE)
    assert_no_secret(str(caught.value) + repr(caught.value), private_key)
    assert OTHER_PASSPHRASE not in str(caught.value) + repr(caught.value)


# -- rotation -----------------------------------------------------------------------


def test_rotation_retires_the_old_key_which_still_opens(store: Keystore) -> None:
    old = store.create("desk-1", PASSPHRASE)
    new = store.rotate("desk-1", "desk-2", PASSPHRASE)

    retired = store.info("desk-1")
    assert (retired.status, retired.successor) == ("retired", "desk-2")
    assert retired.public_key == old.public_key
    assert retired.created_at == old.created_at
    assert (new.name, new.status, new.successor) == ("desk-2", "active", None)
    assert new.public_key != old.public_key
    assert store.load_signer("desk-1", PASSPHRASE).public_key().hex() == old.public_key
    assert store.load_signer("desk-2", PASSPHRASE).public_key().hex() == new.public_key
    assert [info.name for info in store.list()] == ["desk-1", "desk-2"]


def test_a_rotation_that_cannot_happen_changes_nothing(store: Keystore) -> None:
    store.create("desk-1", PASSPHRASE)
    store.create("desk-3", PASSPHRASE)
    before = store.list()

    refusals: list[tuple[str, str, str, KeystoreErrorCode]] = [
        ("desk-1", "desk-2", OTHER_PASSPHRASE, KeystoreErrorCode.WRONG_PASSPHRASE),
        ("desk-1", "desk-3", PASSPHRASE, KeystoreErrorCode.KEY_EXISTS),
        ("desk-1", "desk-1", PASSPHRASE, KeystoreErrorCode.KEY_EXISTS),
        ("desk-1", "Desk-2", PASSPHRASE, KeystoreErrorCode.INVALID_NAME),
        ("nobody", "desk-2", PASSPHRASE, KeystoreErrorCode.KEY_NOT_FOUND),
    ]
    for name, new_name, passphrase, code in refusals:
        with pytest.raises(KeystoreError) as caught:
            store.rotate(name, new_name, passphrase)
        assert caught.value.code is code, (name, new_name)
    assert store.list() == before


def test_a_retired_key_is_not_rotated_again(store: Keystore) -> None:
    store.create("desk-1", PASSPHRASE)
    store.rotate("desk-1", "desk-2", PASSPHRASE)
    with pytest.raises(KeystoreError) as caught:
        store.rotate("desk-1", "desk-3", PASSPHRASE)
    assert caught.value.code is KeystoreErrorCode.KEY_RETIRED


# -- the command line ---------------------------------------------------------------


@pytest.fixture
def keys_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(keystore_module, "DEFAULT_SCRYPT", FAST)
    return tmp_path / "keys"


def keys(directory: Path, *args: str, **env: str) -> Any:
    environment = {"CLEARHOUSE_TEST_PASS": PASSPHRASE, "COLUMNS": "200", **env}
    return runner.invoke(app, ["keys", *args, "--keystore", str(directory)], env=environment)


def test_the_commands_create_list_show_rotate_and_export(keys_dir: Path) -> None:
    created = keys(keys_dir, "new", "desk-1", "--passphrase-env", "CLEARHOUSE_TEST_PASS")
    assert created.exit_code == 0, created.output
    exported = keys(keys_dir, "export-public", "desk-1")
    assert exported.exit_code == 0, exported.output
    info = Keystore(keys_dir).info("desk-1")
    assert exported.stdout == info.public_key + "\n"
    assert info.public_key in created.output

    rotated = keys(
        keys_dir, "rotate", "desk-1", "desk-2", "--passphrase-env", "CLEARHOUSE_TEST_PASS"
    )
    assert rotated.exit_code == 0, rotated.output
    listed = keys(keys_dir, "list")
    shown = keys(keys_dir, "show", "desk-1")
    assert listed.exit_code == shown.exit_code == 0
    for line, status in (("desk-1", "retired"), ("desk-2", "active")):
        row = next(row for row in listed.output.splitlines() if row.strip().startswith(line + " "))
        assert status in row
    assert "retired" in shown.output
    assert "desk-2" in shown.output
    assert info.public_key in shown.output

    private_key = open_by_hand(keys_dir / "desk-1.key.json", PASSPHRASE)
    for result in (created, exported, rotated, listed, shown):
        assert_no_secret(result.output, private_key)


def test_new_prompts_twice_without_echoing(keys_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["keys", "new", "desk-1", "--keystore", str(keys_dir)],
        input=f"{PASSPHRASE}\n{PASSPHRASE}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Passphrase" in result.output
    private_key = open_by_hand(keys_dir / "desk-1.key.json", PASSPHRASE)
    assert_no_secret(result.output, private_key)


def test_the_keystore_directory_comes_from_the_environment(keys_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["keys", "new", "desk-1", "--passphrase-env", "CLEARHOUSE_TEST_PASS"],
        env={"CLEARHOUSE_TEST_PASS": PASSPHRASE, "CLEARHOUSE_KEYSTORE": str(keys_dir)},
    )
    assert result.exit_code == 0, result.output
    assert (keys_dir / "desk-1.key.json").exists()


def test_command_errors_print_the_code_and_no_secret(keys_dir: Path) -> None:
    assert (
        keys(keys_dir, "new", "desk-1", "--passphrase-env", "CLEARHOUSE_TEST_PASS").exit_code == 0
    )
    wrong = keys(
        keys_dir,
        "rotate",
        "desk-1",
        "desk-2",
        "--passphrase-env",
        "WRONG_PASS",
        WRONG_PASS=OTHER_PASSPHRASE,
    )
    missing = keys(keys_dir, "show", "nobody")
    unset = keys(keys_dir, "new", "desk-3", "--passphrase-env", "CLEARHOUSE_TEST_UNSET")

    assert wrong.exit_code == 2
    assert wrong.stderr.startswith("error: [wrong_passphrase] ")
    assert OTHER_PASSPHRASE not in wrong.output
    assert missing.exit_code == 2
    assert missing.stderr.startswith("error: [key_not_found] ")
    assert unset.exit_code == 2
    assert "CLEARHOUSE_TEST_UNSET" in unset.output
    assert sorted(os.listdir(keys_dir)) == ["desk-1.key.json"]


def test_list_of_an_empty_keystore_says_so(keys_dir: Path) -> None:
    keys_dir.mkdir(mode=0o700)
    result = keys(keys_dir, "list")
    assert result.exit_code == 0
    assert "no keys in" in result.output


def test_a_keystore_that_is_not_a_directory_is_refused(keys_dir: Path) -> None:
    """Once a finding: a regular file given as the keystore listed as "no keys"."""
    for command in (("list",), ("show", "desk-1"), ("export-public", "desk-1")):
        missing = keys(keys_dir, *command)
        assert missing.exit_code == 2, missing.output
        assert missing.stderr.startswith("error: ") and "no keystore at" in missing.stderr
    keys_dir.write_text("not a keystore")
    for command in (
        ("list",),
        ("show", "desk-1"),
        ("new", "desk-1", "--passphrase-env", "CLEARHOUSE_TEST_PASS"),
    ):
        result = keys(keys_dir, *command)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: ") and "is not a directory" in result.stderr
        assert len(result.stderr.splitlines()) == 1
    with pytest.raises(KeystoreError) as caught:
        Keystore(keys_dir).scan()
    assert caught.value.code is KeystoreErrorCode.NOT_A_DIRECTORY


def test_a_keystore_under_a_file_cannot_be_created(keys_dir: Path) -> None:
    keys_dir.write_text("a file")
    with pytest.raises(KeystoreError) as caught:
        Keystore(keys_dir / "inner", scrypt=FAST).create("desk-1", PASSPHRASE)
    assert caught.value.code is KeystoreErrorCode.NOT_A_DIRECTORY


def test_one_corrupt_key_file_hides_no_other_key(keys_dir: Path) -> None:
    """Once a finding: one damaged file made `keys list` show nothing at all."""
    store = Keystore(keys_dir, scrypt=FAST)
    for name in ("desk-1", "desk-2", "desk-3"):
        store.create(name, PASSPHRASE)
    store.key_path("desk-2").write_text("{not json")

    scan = store.scan()
    assert [info.name for info in scan.keys] == ["desk-1", "desk-3"]
    assert [error.code for error in scan.unreadable] == [KeystoreErrorCode.FILE_CORRUPT]
    assert "desk-2.key.json" in scan.unreadable[0].message
    with pytest.raises(KeystoreError):
        store.list()

    result = keys(keys_dir, "list")
    assert result.exit_code == 1
    assert "desk-1" in result.stdout and "desk-3" in result.stdout
    assert result.stderr.startswith("error: [file_corrupt] desk-2.key.json")
    assert len(result.stderr.splitlines()) == 1
