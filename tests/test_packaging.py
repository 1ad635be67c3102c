"""pyproject.toml states its license the SPDX way, so installing prints no
setuptools deprecation banners, and requires a setuptools that reads it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())


def _setuptools_min(requirements: list[str]) -> tuple[int, ...]:
    [spec] = [r for r in requirements if re.match(r"setuptools\b", r)]
    found = re.search(r">=\s*([\d.]+)", spec)
    assert found is not None, spec
    return tuple(int(part) for part in found.group(1).split("."))


def test_the_license_is_an_spdx_expression_not_a_table() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"


def test_every_setuptools_that_reads_the_project_understands_the_expression() -> None:
    # setuptools 77 is the first to accept `license` as an SPDX string; the build
    # backend and the dev extra (setup.py of `make compile`) both read it.
    assert _setuptools_min(PYPROJECT["build-system"]["requires"]) >= (77,)
    assert _setuptools_min(PYPROJECT["project"]["optional-dependencies"]["dev"]) >= (77,)
