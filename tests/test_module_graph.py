"""Inside each package the imports point one way: no module depends, even only for
its type annotations, on a module that depends on it.

An import under `if TYPE_CHECKING:` counts: it runs only for mypy and mypyc, but two
modules that name each other's types cannot be read, typed or compiled apart. Types
that point at each other live in one module (core/ledger.py holds `Market`,
`Position` and `Account`); a helper that needs another's tables is given them
(`PortfolioMargin` gets the state's dicts, not the `State`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import clearhouse

ROOT = Path(clearhouse.__file__).parent
PACKAGES = ["core", "audit", "auth", "journal"]


def module_graph(package_dir: Path, package: str) -> dict[str, set[str]]:
    """Each module of the package to the sibling modules it imports, anywhere in it."""
    names = {path.stem for path in package_dir.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in sorted(package_dir.glob("*.py")):
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    targets |= _sibling(alias.name, (), package, names)
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if node.level:
                    module = f"{package}.{module}".rstrip(".")
                aliases = tuple(alias.name for alias in node.names)
                targets |= _sibling(module, aliases, package, names)
        targets.discard("")
        targets.discard(path.stem)
        graph[path.stem] = targets
    return graph


def _sibling(module: str, aliases: tuple[str, ...], package: str, names: set[str]) -> set[str]:
    if module == package:
        # `from package import x`: the submodule x, or a name the __init__ holds.
        return {alias if alias in names else "__init__" for alias in aliases} or {"__init__"}
    if module.startswith(package + "."):
        first = module[len(package) + 1 :].split(".", maxsplit=1)[0]
        return {first} if first in names else set()
    return set()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_inside_the_package_point_one_way(package: str) -> None:
    graph = module_graph(ROOT / package, f"clearhouse.{package}")
    assert len(graph) > 3
    assert cycles(graph) == []


def test_core_keeps_its_floors() -> None:
    """The two circles that were: ledger and market, portfolio and state."""
    graph = module_graph(ROOT / "core", "clearhouse.core")
    assert "ledger" not in graph["book"] and "market" not in graph["ledger"]
    assert graph["market"] == {"ledger"}
    assert "state" not in graph["portfolio"]
    assert "portfolio" in graph["state"]


def test_a_circle_through_type_checking_imports_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import B\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pkg.c import C\n"
    )
    (package / "c.py").write_text("from . import a\n")
    (package / "d.py").write_text("import pkg.a\nfrom pkg import a\n")
    graph = module_graph(package, "pkg")
    assert graph["b"] == {"c"} and graph["c"] == {"a"} and graph["d"] == {"a"}
    assert cycles(graph) == [["a", "b", "c"]]


def test_importing_from_the_package_init_is_a_circle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.a import A\n")
    (package / "a.py").write_text("from pkg import something\n")
    assert cycles(module_graph(package, "pkg")) == [["__init__", "a"]]
