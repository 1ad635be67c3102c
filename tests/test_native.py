"""The compiled core and its pure-Python source are one program: same digest, same chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import clearhouse
from clearhouse._native import compiled_modules

SCRIPT = """
import json, clearhouse
from clearhouse.bench import run_core_bench
result = run_core_bench(20_000, 11, 5_000)
print(json.dumps({k: result[k] for k in ("core_build", "digest", "chain_head", "fills", "rejects")}))
"""


def run_bench(pure: bool) -> dict[str, object]:
    env = dict(os.environ)
    env.pop("CLEARHOUSE_PURE", None)
    if pure:
        env["CLEARHOUSE_PURE"] = "1"
    completed = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_pure_and_compiled_cores_agree_byte_for_byte() -> None:
    if not compiled_modules():
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs `make test`, which builds the compiled core: none found")
        pytest.skip("no compiled core here (run `make compile`)")
    pure = run_bench(pure=True)
    compiled = run_bench(pure=False)
    assert pure["core_build"] == "pure"
    assert compiled["core_build"] == "compiled"
    assert pure["fills"] and pure["fills"] == compiled["fills"]
    assert pure["digest"] == compiled["digest"]
    assert pure["chain_head"] == compiled["chain_head"]


def test_core_build_is_reported() -> None:
    assert clearhouse.CORE_BUILD in ("compiled", "pure")
