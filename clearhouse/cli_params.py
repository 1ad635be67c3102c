"""Checks shared by every `clearhouse` command's options: one way to refuse a value.

An integer option states its range with typer's `min=`/`max=` (the bounds below);
a path option names one of the callbacks below. Either way a bad value raises
`typer.BadParameter` before the command does any work, and the root command
(`clearhouse/cli.py`) prints it as one line, `error: ...`, with exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import typer

INT64_MAX: Final = 2**63 - 1
"""The largest sequence number, timestamp or seed an option takes."""

WORKERS_MAX: Final = 256
"""The most worker processes any command starts."""


def _stdout(path: Path) -> bool:
    return str(path) == "-"


def input_file(path: Path | None) -> Path | None:
    """A file to read: it exists and is a regular file."""
    if path is None:
        return None
    if not path.exists():
        raise typer.BadParameter(f"{path} does not exist")
    if not path.is_file():
        raise typer.BadParameter(f"{path} is not a file")
    return path


def input_files(paths: list[Path] | None) -> list[Path] | None:
    """Files to read, for a repeatable option: each as `input_file`."""
    for path in paths or ():
        input_file(path)
    return paths


def output_file(path: Path | None) -> Path | None:
    """A file to write ('-' is standard output where the option says so): its folder
    exists, and it is not itself a folder."""
    if path is None or _stdout(path):
        return path
    folder = path.parent
    if not folder.is_dir():
        reason = "does not exist" if not folder.exists() else "is not a folder"
        raise typer.BadParameter(f"the folder {folder} {reason}")
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder")
    return path
