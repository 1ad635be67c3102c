"""`clearhouse --version` prints the installed package's version."""

from __future__ import annotations

from importlib import metadata

from typer.testing import CliRunner

import clearhouse
from clearhouse.cli import app

runner = CliRunner()


def test_version_prints_the_package_version_and_exits_0() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"clearhouse {metadata.version('clearhouse')}\n"
    assert metadata.version("clearhouse") == clearhouse.__version__  # one version, in step


def test_commands_still_run_after_the_version_option() -> None:
    result = runner.invoke(app, ["keys", "--help"])
    assert result.exit_code == 0 and "export-public" in result.output
