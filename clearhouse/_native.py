"""Choose between the mypyc-compiled core and its pure-Python source.

Both come from one typed source and must give the same digest. A compiled module
is used only while it is at least as new as its source, so an edited source is
never shadowed by a stale build; CLEARHOUSE_PURE=1 forces the source everywhere.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

_CORE = Path(__file__).parent / "core"


class _SourceFirstFinder(importlib.abc.MetaPathFinder):
    """Load `clearhouse.core.<name>` from its .py file for the listed names."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        source = _CORE / (fullname.rsplit(".", 1)[1] + ".py")
        return importlib.util.spec_from_file_location(fullname, source)


_SHARED_MARK = "__mypyc"


def _extensions() -> list[Path]:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return sorted(path for path in _CORE.iterdir() if path.name.endswith(suffixes))


def compiled_modules() -> dict[str, Path]:
    """Compiled core modules by name (the shared runtime library excluded)."""
    return {
        path.name.split(".", 1)[0]: path for path in _extensions() if _SHARED_MARK not in path.name
    }


def _load_shared_library() -> None:
    """mypyc's shared library is a top-level module; load it from beside the core."""
    for path in _extensions():
        name = path.name.split(".", 1)[0]
        if name.endswith(_SHARED_MARK) and name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)


def choose_core() -> str:
    """Install the source-first finder where needed; return 'compiled', 'pure' or 'mixed'."""
    compiled = compiled_modules()
    if not compiled:
        return "pure"
    if os.environ.get("CLEARHOUSE_PURE") == "1":
        stale = set(compiled)
    else:
        stale = {
            name
            for name, path in compiled.items()
            if (_CORE / f"{name}.py").stat().st_mtime > path.stat().st_mtime
        }
        if stale:
            warnings.warn(
                f"compiled core modules older than their source, using the source: "
                f"{', '.join(sorted(stale))} (run `make compile`)",
                stacklevel=2,
            )
    if not stale:
        _load_shared_library()
        return "compiled"
    # mypyc modules call each other natively, so the whole core goes to source together.
    sys.meta_path.insert(0, _SourceFirstFinder(frozenset(f"clearhouse.core.{n}" for n in compiled)))
    return "pure"
