"""`clearhouse demo` as a new user meets it: a kept journal, an audit command that
passes as printed, and a refusal, before any write, to add to an existing journal."""

from __future__ import annotations

import io
import shlex
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from clearhouse.cli import app
from clearhouse.demo import DemoError, program, run_demo

runner = CliRunner()


def _audit_command(output: str) -> list[str]:
    lines = [line for line in output.splitlines() if line.startswith("clearhouse audit verify ")]
    assert len(lines) == 1, output
    return shlex.split(lines[0])


def test_a_second_demo_into_the_same_journal_is_refused_and_leaves_it_byte_identical(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "demo.db"
    first = runner.invoke(app, ["demo", "--journal", str(journal)])
    assert first.exit_code == 0, first.output
    before = journal.read_bytes()
    second = runner.invoke(app, ["demo", "--journal", str(journal)])
    assert second.exit_code == 2
    assert second.stderr.splitlines() == [
        f"error: {journal} is not empty: the demo starts a new journal and never adds to "
        "an existing one; pass a new path or leave out --journal"
    ]
    assert "Traceback" not in second.output and second.stdout == ""
    assert journal.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.db"]


def test_the_demo_refuses_a_file_that_is_not_a_journal_without_touching_it(
    tmp_path: Path,
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a journal\n")
    result = runner.invoke(app, ["demo", "--journal", str(notes)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {notes} is not empty")
    assert notes.read_text() == "not a journal\n"


def test_the_demo_refuses_a_journal_in_a_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "demo.db"
    result = runner.invoke(app, ["demo", "--journal", str(target)])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ") and f"{target.parent} does not exist" in line
    assert not target.parent.exists()


def test_run_demo_itself_refuses_a_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "demo.db"
    with pytest.raises(DemoError, match=r"the folder .* does not exist"):
        run_demo(Console(file=io.StringIO()), target)
    assert not target.parent.exists()


def test_the_demo_keeps_its_journal_and_the_printed_audit_command_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "clearhouse-demo.db").stat().st_size > 0
    command = _audit_command(result.output)
    assert command[:5] == ["clearhouse", "audit", "verify", "--journal", "clearhouse-demo.db"]
    audit = runner.invoke(app, command[1:])
    assert audit.exit_code == 0, audit.output
    assert "OK: " in audit.output


def test_the_demo_run_twice_with_the_default_journal_picks_a_fresh_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo` twice: the second run keeps the first journal and writes a new one."""
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["demo"]).exit_code == 0
    before = (tmp_path / "clearhouse-demo.db").read_bytes()
    second = runner.invoke(app, ["demo"])
    assert second.exit_code == 0, second.output
    assert (tmp_path / "clearhouse-demo.db").read_bytes() == before
    assert _audit_command(second.output)[4] == "clearhouse-demo-2.db"
    audit = runner.invoke(app, _audit_command(second.output)[1:])
    assert audit.exit_code == 0, audit.output


def test_the_demo_speaks_in_usdc_and_names_the_receipt_by_seq_and_leaf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    output = runner.invoke(app, ["demo"]).output
    # The over-margin refusal quotes amounts in USDC, exactly, with separators.
    assert "equity 49,871.9985 USDC less worst-case fee 246.50 USDC is below initial" in (
        " ".join(output.split())
    )
    assert "accounts (USDC)" in output
    assert "insurance fund 113.60 USDC" in output
    assert "receipt for the trader's first fill, seq 18 (Merkle leaf index 17)" in output


def test_the_printed_command_is_one_the_users_shell_can_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / ".venv" / "bin" / "clearhouse"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the virtualenv is not activated
    assert program() == ".venv/bin/clearhouse"
    monkeypatch.setenv("PATH", f"{script.parent}:/usr/bin:/bin")  # it is
    assert program() == "clearhouse"
    monkeypatch.setattr(sys, "argv", ["pytest"])  # not started from the script
    assert program() == "clearhouse"
