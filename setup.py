"""Optional compilation of the core with mypyc, from the same typed source.

`pip install .` gives pure Python. `CLEARHOUSE_MYPYC=1 python setup.py build_ext
--inplace` (what `make compile` runs) compiles the hot modules next to their
sources; `clearhouse/_native.py` falls back to the sources whenever a compiled
module is older than its source or CLEARHOUSE_PURE=1 is set.
"""

from __future__ import annotations

import os

from setuptools import setup

# Modules holding msgspec Structs and Enums stay interpreted: mypyc compiles
# native classes, and these are defined by msgspec's metaclass.
COMPILED_MODULES = (
    "numbers",
    "book",
    "ledger",
    "market",
    "margin",
    "risk_arrays",
    "portfolio",
    "state",
    "checks",
    "shapes",
    "collateral",
    "market_data",
    "trading",
    "invariants",
    "engine",
    "authority",
    "keys",
    "controls",
    "mmp",
    "oracle_state",
    "settlement",
    "funding",
    "liquidation",
)


def _ext_modules() -> list[object]:
    if os.environ.get("CLEARHOUSE_MYPYC") != "1":
        return []
    from mypyc.build import mypycify

    paths = [f"clearhouse/core/{name}.py" for name in COMPILED_MODULES]
    return list(mypycify(paths, opt_level="3"))


setup(ext_modules=_ext_modules())
