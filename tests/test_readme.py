"""The README's example runs as written and trades."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text()
    block = text.split("```")[1]
    assert block.strip().splitlines()[:2] == [
        "make demo    # runs the main job on the embedded default (SQLite journal)",
        "make test    # passes the whole test suite",
    ]


def test_readme_states_its_prerequisites_right_after_the_two_commands() -> None:
    after_block = README.read_text().split("```")[2].strip()
    first = after_block.split("\n\n")[0]
    assert first.startswith("**Prerequisites.** Python 3.11")
    for needed in ("venv", "make", "PostgreSQL", "SoftHSM2", "clearhouse --version"):
        assert needed in first, needed


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_readme_example_trades_and_prints_digest_and_head() -> None:
    (code,) = [block for block in python_blocks() if "TestVenue" in block]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("TradeExecuted(") and "size=10" in lines[0]
    digest, head = lines[1].split()
    assert len(digest) == len(head) == 64
