"""`clearhouse genesis new|check` as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from clearhouse.cli import app
from clearhouse.core import Engine, decode_genesis_json, genesis_digest
from clearhouse.testing import signer_for

runner = CliRunner()


def key(owner: str, roles: str) -> str:
    return f"{owner}:{roles}:{signer_for(owner).public_key().hex()}"


def test_new_writes_a_genesis_that_check_and_the_engine_accept(tmp_path: Path) -> None:
    out = tmp_path / "genesis.json"
    keys = [key("gov-a", "governor"), key("gov-b", "governor"), key("custody", "custodian")]
    args = ["genesis", "new", "--venue-id", "venue-1", "--out", str(out)]
    for k in keys:
        args += ["--key", k]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    genesis = decode_genesis_json(out.read_bytes())
    assert result.output.strip() == genesis_digest(genesis).hex()
    assert genesis.keys[2].public_key == signer_for("custody").public_key()
    checked = runner.invoke(app, ["genesis", "check", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "2 governors (2 to act)" in checked.output
    assert genesis_digest(genesis).hex() in checked.output
    assert (
        Engine(genesis).digest()
        != Engine(decode_genesis_json(out.read_bytes().replace(b"venue-1", b"venue-2"))).digest()
    )


def test_new_refuses_a_single_governor_or_incompatible_roles(tmp_path: Path) -> None:
    out = tmp_path / "genesis.json"
    lone = runner.invoke(
        app,
        ["genesis", "new", "--venue-id", "v", "--out", str(out), "--key", key("gov-a", "governor")],
    )
    assert lone.exit_code == 2
    assert "threshold" in lone.output or "governors" in lone.output
    mixed = runner.invoke(
        app,
        [
            "genesis", "new", "--venue-id", "v", "--out", str(out),
            "--key", key("gov-a", "governor"), "--key", key("gov-b", "governor"),
            "--key", key("desk", "trader,custodian"),
        ],
    )  # fmt: skip
    assert mixed.exit_code == 2
    assert "custodian" in mixed.output
    assert not out.exists()


def test_check_refuses_a_tampered_file(tmp_path: Path) -> None:
    out = tmp_path / "genesis.json"
    out.write_bytes(b'{"venue_id": "v", "keys": [], "instruments": []}')
    result = runner.invoke(app, ["genesis", "check", str(out)])
    assert result.exit_code == 2
    assert "invalid genesis" in result.output
