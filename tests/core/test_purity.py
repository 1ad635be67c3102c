"""The core stays pure: a tidy scan of clearhouse/core/ with `ast`.

Determinism is checked, not trusted (STYLE 12). Every .py file of the core is parsed
and refused, naming file, line and what to use instead, if it:

- imports a clock, randomness, the OS, the network, threads or processes, uuid,
  numpy or float math (`time`, `datetime`, `random`, `secrets`, `os`, `sys`,
  `socket`, `threading`, `multiprocessing`, `concurrent`, `asyncio`,
  `subprocess`, `uuid`, `numpy`, `math`), or imports dynamically (`importlib`,
  `__import__`), which would hide any of them from this scan;
- imports anything of clearhouse outside clearhouse.core (dependencies point inwards);
- writes a float literal, calls `float()`, or divides with `/` (true division
  makes a float even from two ints);
- iterates a set or frozenset built on the spot (`for x in set(...)`, `{...}` or a
  set comprehension, in a loop, a comprehension, or `list()`/`tuple()`/`enumerate()`/
  `iter()`/`zip()`), whose order depends on the hash seed for str and bytes;
- calls `hash()` (seeded per process for str and bytes) or `id()` (a memory address).

A set that was stored in a variable first is beyond a syntactic scan; the
two-process determinism test (test_determinism.py) covers what this one cannot see.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import clearhouse.core

CORE_DIR = Path(clearhouse.core.__file__).parent
PACKAGE = "clearhouse"
CORE_PACKAGE = "clearhouse.core"

_NO_IO = "nothing: the core does no I/O; the shell does it and submits a transaction"
_NO_CONCURRENCY = "nothing: `Engine.apply` is synchronous; parallelism lives in the shell"
_NO_RANDOMNESS = "inputs carried by the transaction (randomness belongs to the shell)"
_INTEGER_MATH = "integer arithmetic (`//`, `numbers.ceil_div`, `numbers.bps_of_ceil`) or `decimal` with the fixed context"

FORBIDDEN_MODULES: dict[str, str] = {
    "time": "the sequencer's timestamp (`Sequenced.timestamp_ns`, passed to every handler)",
    "datetime": "integer nanoseconds; `catalogue.days_from_civil` for calendar dates",
    "random": _NO_RANDOMNESS,
    "secrets": _NO_RANDOMNESS,
    "os": _NO_IO + " (configuration comes in `EngineConfig`)",
    "sys": _NO_IO + " (configuration comes in `EngineConfig`)",
    "socket": _NO_IO,
    "subprocess": _NO_IO,
    "threading": _NO_CONCURRENCY,
    "multiprocessing": _NO_CONCURRENCY,
    "concurrent": _NO_CONCURRENCY,
    "asyncio": _NO_CONCURRENCY,
    "uuid": "ids derived from the sequence number or carried by the transaction",
    "numpy": _INTEGER_MATH,
    "math": _INTEGER_MATH,
    "importlib": "a plain top-level import, so this scan can see it",
}

_ORDERED = "a list, a dict (insertion-ordered) or `sorted(...)`"
_SET_CONSUMERS = frozenset({"list", "tuple", "enumerate", "iter", "zip"})


@dataclass(frozen=True, order=True)
class Violation:
    path: str
    line: int
    rule: str
    use_instead: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule} -> use {self.use_instead}"


def _is_set_expression(node: ast.expr) -> bool:
    if isinstance(node, ast.Set | ast.SetComp):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("set", "frozenset")
    )


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, module: str) -> None:
        self.path = path
        self.module = module
        """Dotted name of the scanned module, to resolve relative imports."""
        self.violations: list[Violation] = []

    def report(self, node: ast.AST, rule: str, use_instead: str) -> None:
        self.violations.append(Violation(self.path, getattr(node, "lineno", 0), rule, use_instead))

    # -- imports ---------------------------------------------------------------

    def _check_module(self, node: ast.AST, name: str) -> None:
        top = name.split(".", 1)[0]
        if top in FORBIDDEN_MODULES:
            self.report(node, f"import of {name}", FORBIDDEN_MODULES[top])
        elif top == PACKAGE and name != CORE_PACKAGE and not name.startswith(CORE_PACKAGE + "."):
            self.report(
                node,
                f"import of {name} from outside the core",
                "only clearhouse.core.* (dependencies point inwards: the shell uses the core)",
            )

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            parts = self.module.split(".")
            base = parts[: len(parts) - node.level]
            name = ".".join(base + ([node.module] if node.module else []))
        else:
            name = node.module or ""
        if name == PACKAGE:
            for alias in node.names:  # `from clearhouse import core`, `... import cli`
                self._check_module(node, f"{PACKAGE}.{alias.name}")
        else:
            self._check_module(node, name)

    # -- floats ------------------------------------------------------------------

    def visit_Constant(self, node: ast.Constant) -> None:
        if type(node.value) in (float, complex):
            self.report(
                node,
                f"float literal {node.value!r}",
                "an integer in named units (Units, Ticks, Lots, bps)",
            )

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Div):
            self.report(node, "true division `/`", _INTEGER_MATH)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, ast.Div):
            self.report(node, "true division `/=`", _INTEGER_MATH)
        self.generic_visit(node)

    # -- calls -------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id == "float":
                self.report(node, "call to float()", _INTEGER_MATH)
            elif func.id == "hash":
                self.report(
                    node,
                    "call to hash() (seeded per process)",
                    "hashlib.sha256 over canonical bytes (`codec.encode`)",
                )
            elif func.id == "id":
                self.report(
                    node, "call to id() (a memory address)", "a stable key: order id, account id"
                )
            elif func.id == "__import__":
                self.report(node, "dynamic import __import__()", FORBIDDEN_MODULES["importlib"])
            elif func.id in _SET_CONSUMERS and any(_is_set_expression(a) for a in node.args):
                self.report(node, f"{func.id}() over a set (hash-seed order)", _ORDERED)
        self.generic_visit(node)

    # -- iteration ---------------------------------------------------------------

    def _check_iteration(self, node: ast.AST, iterable: ast.expr) -> None:
        if _is_set_expression(iterable):
            self.report(node, "iteration over a set (hash-seed order)", _ORDERED)

    def visit_For(self, node: ast.For) -> None:
        self._check_iteration(node, node.iter)
        self.generic_visit(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self._check_iteration(node, node.iter)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._check_iteration(node.iter, node.iter)
        self.generic_visit(node)


def scan_source(source: str, path: str, module: str = "clearhouse.core.snippet") -> list[Violation]:
    scanner = _Scanner(path, module)
    scanner.visit(ast.parse(source, filename=path))
    return sorted(scanner.violations)


def scan_core(core_dir: Path = CORE_DIR) -> tuple[list[Path], list[Violation]]:
    files = sorted(core_dir.rglob("*.py"))
    violations: list[Violation] = []
    for file in files:
        relative = file.relative_to(core_dir.parent.parent)
        module = ".".join(relative.with_suffix("").parts)  # a package is `pkg.__init__`
        violations += scan_source(file.read_text(encoding="utf-8"), str(relative), module)
    return files, violations


# -- the tidy test ---------------------------------------------------------------


def test_core_is_pure() -> None:
    files, violations = scan_core()
    names = {file.name for file in files}
    assert {"engine.py", "trading.py", "collateral.py", "market_data.py", "codec.py"} <= names
    assert len(files) >= 15
    assert not violations, "the core must stay pure:\n" + "\n".join(map(str, violations))


# -- the scanner can fail ----------------------------------------------------------

BAD = textwrap.dedent(
    """\
    import time
    import datetime as dt
    import os.path
    from random import randrange
    import secrets, sys
    import socket
    import threading
    from multiprocessing import Pool
    import asyncio
    from subprocess import run
    import uuid
    import numpy as np
    from math import sqrt
    from clearhouse.journal import store
    from clearhouse import cli
    from .. import sim
    import clearhouse.service.api
    half = 0.5
    ratio = float(3)
    share = 3 / 4
    share /= 2
    for name in {"b", "a"}:
        pass
    for name in set(names):
        pass
    squares = [n for n in frozenset(numbers)]
    ordered = list({n for n in numbers})
    key = hash("account")
    where = id(order)
    mod = __import__("os")
    import importlib
    """
)

EXPECTED_BAD = [
    (1, "import of time"),
    (2, "import of datetime"),
    (3, "import of os.path"),
    (4, "import of random"),
    (5, "import of secrets"),
    (5, "import of sys"),
    (6, "import of socket"),
    (7, "import of threading"),
    (8, "import of multiprocessing"),
    (9, "import of asyncio"),
    (10, "import of subprocess"),
    (11, "import of uuid"),
    (12, "import of numpy"),
    (13, "import of math"),
    (14, "import of clearhouse.journal from outside the core"),
    (15, "import of clearhouse.cli from outside the core"),
    (16, "import of clearhouse.sim from outside the core"),
    (17, "import of clearhouse.service.api from outside the core"),
    (18, "float literal 0.5"),
    (19, "call to float()"),
    (20, "true division `/`"),
    (21, "true division `/=`"),
    (22, "iteration over a set (hash-seed order)"),
    (24, "iteration over a set (hash-seed order)"),
    (26, "iteration over a set (hash-seed order)"),
    (27, "list() over a set (hash-seed order)"),
    (28, "call to hash() (seeded per process)"),
    (29, "call to id() (a memory address)"),
    (30, "dynamic import __import__()"),
    (31, "import of importlib"),
]


def test_scanner_reports_every_violation_in_a_bad_snippet() -> None:
    violations = scan_source(BAD, "bad.py")
    assert sorted((v.line, v.rule) for v in violations) == sorted(EXPECTED_BAD)
    for violation in violations:
        assert violation.path == "bad.py"
        assert violation.use_instead
        assert str(violation).startswith(f"bad.py:{violation.line}: ")
        assert " -> use " in str(violation)


def test_scanner_names_the_replacement() -> None:
    by_rule = {v.rule: v.use_instead for v in scan_source(BAD, "bad.py")}
    assert "timestamp_ns" in by_rule["import of time"]
    assert "decimal" in by_rule["import of math"]
    assert "sorted" in by_rule["iteration over a set (hash-seed order)"]
    assert "sha256" in by_rule["call to hash() (seeded per process)"]
    assert "clearhouse.core" in by_rule["import of clearhouse.cli from outside the core"]


def test_scanner_accepts_what_the_core_may_do() -> None:
    good = textwrap.dedent(
        """\
        from __future__ import annotations
        import hashlib
        from bisect import insort
        from collections import deque
        from decimal import Decimal, localcontext
        from clearhouse.core.errors import ErrorCode
        from clearhouse.core import txs
        from . import book
        from .numbers import ceil_div
        import clearhouse.core.numbers
        for name in sorted({"b", "a"}):
            pass
        for key, value in {"a": 1}.items():
            pass
        members = sorted(set(names))
        seen = {n for n in names}
        if name in {"a", "b"}:
            pass
        size = 7 // 2
        price = "1.5"
        digest = hashlib.sha256(b"state").digest()
        hashed = value.hash()
        floor = -(-7 // 2)
        """
    )
    assert scan_source(good, "good.py", "clearhouse.core.good") == []


def test_relative_imports_resolve_against_the_module() -> None:
    source = "from .. import sim\nfrom ..journal import store\nfrom . import book\n"
    violations = scan_source(source, "x.py", "clearhouse.core.x")
    assert [(v.line, v.rule) for v in violations] == [
        (1, "import of clearhouse.sim from outside the core"),
        (2, "import of clearhouse.journal from outside the core"),
    ]


def test_scan_core_finds_a_violation_planted_in_a_copy(tmp_path: Path) -> None:
    core = tmp_path / "clearhouse" / "core"
    core.mkdir(parents=True)
    (core / "__init__.py").write_text('"""A pure core."""\n')
    (core / "engine.py").write_text("x = 1\n\n\ndef f():\n    return hash(x) + 0.5\n")
    files, violations = scan_core(core)
    assert [f.name for f in files] == ["__init__.py", "engine.py"]
    assert [str(v) for v in violations] == [
        "clearhouse/core/engine.py:5: call to hash() (seeded per process)"
        " -> use hashlib.sha256 over canonical bytes (`codec.encode`)",
        "clearhouse/core/engine.py:5: float literal 0.5"
        " -> use an integer in named units (Units, Ticks, Lots, bps)",
    ]
