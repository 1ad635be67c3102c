"""`make demo` on a fresh machine says what it installs and builds, and a failed mypyc
build says why. The Makefile's recipes run in a scratch copy with a stand-in Python,
so nothing is installed and the working tree's compiled core is left alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _scratch(tmp_path: Path, python: str) -> Path:
    """A copy of the Makefile with its inputs, set up as after `pip install`, whose
    .venv/bin/python is the shell script `python`."""
    for name in ("Makefile", "setup.py", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "clearhouse" / "core").mkdir(parents=True)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    fake = bin_dir / "python"
    fake.write_text("#!/bin/sh\n" + python)
    fake.chmod(0o755)
    (tmp_path / ".venv" / ".installed").touch()  # newer than pyproject.toml: installed
    return tmp_path


def _make(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_failed_mypyc_build_prints_the_end_of_its_log_and_falls_back(tmp_path: Path) -> None:
    scratch = _scratch(
        tmp_path,
        'echo "building clearhouse/core/book.py"\necho "error: mypyc says no" >&2\nexit 1\n',
    )
    result = _make(scratch, "compile")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "==> compiling the core with mypyc" in out
    assert "mypyc build failed: running the pure-Python core" in out
    assert "    error: mypyc says no" in out  # why, from the log
    assert (scratch / ".venv" / "mypyc-build.log").read_text().endswith("error: mypyc says no\n")
    assert (scratch / "clearhouse" / "core" / ".compiled").exists()


def test_the_install_step_says_what_it_installs_before_it_runs_pip(tmp_path: Path) -> None:
    scratch = _scratch(tmp_path, "exit 0\n")
    (scratch / ".venv" / ".installed").unlink()
    result = _make(scratch, "--dry-run", ".venv/.installed")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    install = next(i for i, line in enumerate(lines) if "pip install --quiet -e" in line)
    announced = [i for i, line in enumerate(lines) if line.startswith('echo "==> installing')]
    assert announced and announced[0] < install
    venv = next(i for i, line in enumerate(lines) if line.startswith('echo "==> creating'))
    assert venv < announced[0]


def test_a_successful_mypyc_build_says_nothing_of_failure(tmp_path: Path) -> None:
    scratch = _scratch(
        tmp_path,
        'echo "building clearhouse/core/book.py"\ntouch "book__mypyc.so"\nexit 0\n',
    )
    result = _make(scratch, "compile")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "==> compiling the core with mypyc" in result.stdout
    assert "failed" not in result.stdout + result.stderr
    assert (scratch / "clearhouse" / "core" / "book__mypyc.so").exists()
    assert (scratch / "clearhouse" / "core" / ".compiled").exists()
