"""`clearhouse keys export-public --operator-key` prints the key in the form `audit
verify --operator-key` takes: a journal checkpointed by a keystore key passes the audit
with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from clearhouse.auth.keystore import Keystore, ScryptParams
from clearhouse.cli import app
from clearhouse.core import Deposit
from clearhouse.journal import Journal, NoteVerifier, SqliteJournal
from clearhouse.testing import TestVenue, standard_genesis

FAST = ScryptParams(n=2**10, r=8, p=1)
PASSPHRASE = "correct horse battery staple 7f3a"
runner = CliRunner()


@pytest.fixture
def keystore(tmp_path: Path) -> Keystore:
    store = Keystore(tmp_path / "keys", scrypt=FAST)
    store.create("operator-1", PASSPHRASE)
    return store


def _export(store: Keystore, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["keys", "export-public", *args, "--keystore", str(store.path)])
    return result.exit_code, result.stdout, result.stderr


def test_the_exported_operator_key_audits_a_journal_the_key_checkpointed(
    keystore: Keystore, tmp_path: Path
) -> None:
    genesis = standard_genesis(["alice"])
    venue = TestVenue(genesis)
    path = tmp_path / "journal.db"
    journal = Journal(
        SqliteJournal(path),
        genesis,
        keystore.load_signer("operator-1", PASSPHRASE),
        "operator-1",
        clock=lambda: venue.now_ns,
    )
    venue.now_ns += 1_000_000
    journal.submit([venue.sign(Deposit("alice", "USDC", 5_000_000))])
    journal.checkpoint()
    journal.close()

    code, key, _ = _export(keystore, "operator-1", "--operator-key")
    assert code == 0
    verifier = NoteVerifier.from_verifier_string(key.strip())
    assert verifier.key_name == "operator-1"
    assert verifier.public_key.hex() == keystore.export_public("operator-1")
    audit = runner.invoke(
        app, ["audit", "verify", "--journal", str(path), "--operator-key", key.strip()]
    )
    assert audit.exit_code == 0, audit.output


def test_the_note_name_names_the_key_and_a_bad_one_is_one_error_line(
    keystore: Keystore,
) -> None:
    code, key, _ = _export(keystore, "operator-1", "--operator-key", "--note-name", "venue")
    assert code == 0
    assert key.startswith("venue+") and key.count("\n") == 1
    code, out, err = _export(keystore, "operator-1", "--operator-key", "--note-name", "a+b")
    assert (code, out) == (2, "")
    assert err.splitlines() == ["error: --note-name: invalid key name 'a+b': empty, spaces or '+'"]


def test_without_the_flag_export_public_still_prints_hex(keystore: Keystore) -> None:
    code, out, _ = _export(keystore, "operator-1")
    assert (code, out) == (0, keystore.export_public("operator-1") + "\n")


def test_a_note_name_without_the_flag_is_refused_not_dropped(keystore: Keystore) -> None:
    code, out, err = _export(keystore, "operator-1", "--note-name", "venue")
    assert (code, out) == (2, "")
    assert err.splitlines() == ["error: --note-name needs --operator-key"]
