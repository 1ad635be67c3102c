"""docs/errors.md and the code agree: every code, its number, its band, and the order
in which each handler checks.

- Every `ErrorCode` member has one row `| number | `NAME` | returned by | meaning |`
  in the band section of its number, and no row names a code the enum lacks.
- Numbers sit in their family's band, both in the doc and in the enum's own
  grouping (`# 2xxx collateral` comments in errors.py), and are never reused.
- The check order documented per transaction is the order of `ErrorCode.X`
  references in the handler's source, read top to bottom with the checks it calls
  (`check_amount`, `_check_margin`, ...) inlined where they are called. Handlers
  are flat runs of early returns, so source order is check order.
- "Returned by" names exactly the transactions whose checks contain the code.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import clearhouse.core
from clearhouse.core import ErrorCode

CORE_DIR = Path(clearhouse.core.__file__).parent
DOC = CORE_DIR.parent.parent / "docs" / "errors.md"
TRANSACTIONS = (
    "Deposit",
    "Withdraw",
    "Transfer",
    "PlaceOrder",
    "CancelOrder",
    "CancelAll",
    "AmendOrder",
    "OracleUpdate",
)
BANDS = {
    1: "envelope",
    2: "collateral",
    3: "trading",
    4: "risk",
    5: "controls",
    6: "governance",
    9: "engine",
}
ENVELOPE = "Every transaction"

_ROW = re.compile(r"^\| (\d+) \| `([A-Za-z_]+)` \| ([^|]*) \| (.+) \|$")
_BAND_HEADING = re.compile(r"^### (\d)xxx\b")
_ITEM = re.compile(r"^\d+\. `([A-Z_]+)` \((\d{4})\)")
_SCREAMING = re.compile(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`")


# -- reading the doc ----------------------------------------------------------


def code_rows(text: str) -> list[tuple[int, str, str, int | None]]:
    """(number, name, returned by, band of the section it sits in) for each code row."""
    rows = []
    band: int | None = None
    for line in text.splitlines():
        if heading := _BAND_HEADING.match(line):
            band = int(heading.group(1))
        elif line.startswith("## "):
            band = None
        elif row := _ROW.match(line):
            rows.append((int(row.group(1)), row.group(2), row.group(3).strip(), band))
    return rows


def check_orders(text: str) -> dict[str, list[tuple[str, int]]]:
    """Section title -> the (code, number) of each numbered item, in order."""
    _, _, part = text.partition("\n## Check order\n")
    orders: dict[str, list[tuple[str, int]]] = {}
    title = ""
    for line in part.splitlines():
        if line.startswith("### "):
            title = line[4:].split(" (")[0].strip()
            orders[title] = []
        elif item := _ITEM.match(line):
            orders[title].append((item.group(1), int(item.group(2))))
    return orders


def collapse(codes: list[str]) -> list[str]:
    """Drop consecutive repeats (two checks in a row with one code are one step)."""
    return [code for i, code in enumerate(codes) if i == 0 or codes[i - 1] != code]


# -- reading the code -------------------------------------------------------------


def _module_tree(name: str) -> ast.Module:
    return ast.parse((CORE_DIR / f"{name}.py").read_text(encoding="utf-8"))


class SourceIndex:
    """Module-level functions (and methods as Class.name) of the core, and imports."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str], ast.FunctionDef] = {}
        self.imports: dict[tuple[str, str], str] = {}
        for path in sorted(CORE_DIR.glob("*.py")):
            module = path.stem
            tree = _module_tree(module)
            for node in tree.body:
                if isinstance(node, ast.FunctionDef):
                    self.functions[module, node.name] = node
                elif isinstance(node, ast.ClassDef):
                    for item in node.body:
                        if isinstance(item, ast.FunctionDef):
                            self.functions[module, f"{node.name}.{item.name}"] = item
                elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "clearhouse.core."
                ):
                    for alias in node.names:
                        self.imports[module, alias.asname or alias.name] = node.module.rsplit(
                            ".", 1
                        )[1]  # type: ignore[union-attr]

    def resolve(self, module: str, func: ast.expr) -> tuple[str, str] | None:
        if not isinstance(func, ast.Name):
            return None
        if (module, func.id) in self.functions:
            return module, func.id
        home = self.imports.get((module, func.id))
        if home is not None and (home, func.id) in self.functions:
            return home, func.id
        return None

    def codes(self, module: str, name: str, _stack: tuple[tuple[str, str], ...] = ()) -> list[str]:
        """`ErrorCode.X` names in source order, calls to core functions inlined."""
        found: list[str] = []
        stack = (*_stack, (module, name))

        def visit(node: ast.AST) -> None:
            if isinstance(node, ast.Call):
                for argument in [*node.args, *(k.value for k in node.keywords)]:
                    visit(argument)
                target = self.resolve(module, node.func)
                if target is not None and target not in stack:
                    found.extend(self.codes(*target, _stack=stack))
                return
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ErrorCode"
            ):
                found.append(node.attr)
                return
            for child in ast.iter_child_nodes(node):
                visit(child)

        for statement in self.functions[module, name].body:
            visit(statement)
        return found


def handlers() -> dict[str, tuple[str, str]]:
    """Transaction name -> (module, function), read from `engine._handlers`."""
    function = SourceIndex().functions["engine", "_handlers"]
    returned = next(n for n in ast.walk(function) if isinstance(n, ast.Return))
    assert isinstance(returned.value, ast.Dict)
    table = {}
    for key, value in zip(returned.value.keys, returned.value.values, strict=True):
        assert isinstance(key, ast.Name) and isinstance(value, ast.Attribute)
        assert isinstance(value.value, ast.Name)
        table[key.id] = (value.value.id, value.attr)
    return table


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def source_orders() -> dict[str, list[str]]:
    """Per transaction (and the envelope) the codes its checks can return, in order."""
    index = SourceIndex()
    orders = {
        tx: collapse([c for c in index.codes(*where) if c != "WRONG_TYPE"])
        for tx, where in handlers().items()
    }
    orders[ENVELOPE] = collapse(index.codes("engine", "Engine.apply"))
    orders["decoding"] = sorted(
        set(
            index.codes("codec", "decode_transaction")
            + index.codes("codec", "decode_transaction_json")
        )
    )
    return orders


# -- the codes -----------------------------------------------------------------------


def test_every_code_is_documented_once_with_its_number(doc: str) -> None:
    documented = [(number, name) for number, name, _, _ in code_rows(doc)]
    assert sorted(documented) == sorted((code.value, code.name) for code in ErrorCode)
    assert len(documented) == len(set(documented))


def test_no_unknown_code_is_mentioned(doc: str) -> None:
    mentioned = set(_SCREAMING.findall(doc))
    assert mentioned - set(ErrorCode.__members__) == set()


def test_numbers_in_the_doc_are_in_their_band(doc: str) -> None:
    for number, name, _, band in code_rows(doc):
        assert band is not None, f"{name} is outside a band section"
        assert number // 1000 == band, f"{name} ({number}) sits in the {band}xxx section"
        assert 1000 <= number <= 9999


def test_numbers_in_the_enum_are_in_their_family_band() -> None:
    """errors.py groups members under `# Nxxx family` comments; each number fits its group."""
    band: int | None = None
    seen = 0
    for line in (CORE_DIR / "errors.py").read_text(encoding="utf-8").splitlines():
        if comment := re.match(r"^\s+# (\d)xxx (\w+)", line):
            band = int(comment.group(1))
            assert band in BANDS and comment.group(2).startswith(BANDS[band][:4])
        elif member := re.match(r"^\s+([A-Z_]+) = (\d+)$", line):
            assert band is not None, f"{member.group(1)} precedes any band comment"
            assert int(member.group(2)) // 1000 == band, member.group(1)
            seen += 1
    assert seen == len(ErrorCode)


def test_numbers_are_never_reused() -> None:
    values = [member.value for member in ErrorCode.__members__.values()]
    assert len(values) == len(set(values)), "an IntEnum alias hides a reused number"
    assert all(1000 <= value <= 9999 and value // 1000 in BANDS for value in values)


def test_doc_parsers_see_a_missing_and_an_unknown_code(doc: str) -> None:
    """The checks above can fail: drop a row and add a bogus one."""
    lines = [
        line
        for line in doc.splitlines()
        if "`UNKNOWN_ASSET`" not in line or not line.startswith("|")
    ]
    lines.append("| 3999 | `NOT_A_CODE` | PlaceOrder | made up |")
    rows = code_rows("\n".join(lines))
    names = {name for _, name, _, _ in rows}
    assert "UNKNOWN_ASSET" not in names and "NOT_A_CODE" in names
    assert set(_SCREAMING.findall("\n".join(lines))) - set(ErrorCode.__members__) == {"NOT_A_CODE"}


# -- check order -------------------------------------------------------------------


def test_check_order_is_documented_for_every_transaction(doc: str) -> None:
    orders = check_orders(doc)
    assert set(TRANSACTIONS) | {ENVELOPE} <= set(orders)
    assert set(handlers()) == set(TRANSACTIONS)
    for title, items in orders.items():
        for name, number in items:
            assert ErrorCode[name].value == number, f"{title}: {name} is {ErrorCode[name].value}"


@pytest.mark.parametrize("transaction", [*TRANSACTIONS, ENVELOPE])
def test_documented_check_order_follows_the_code(
    doc: str, source_orders: dict[str, list[str]], transaction: str
) -> None:
    documented = collapse([name for name, _ in check_orders(doc)[transaction]])
    assert documented == source_orders[transaction]


def test_source_order_reader_inlines_called_checks(source_orders: dict[str, list[str]]) -> None:
    """The reader sees through `check_amount` and `_check_debit` into their codes."""
    assert source_orders["Withdraw"] == [
        "UNKNOWN_ACCOUNT",
        "UNKNOWN_ASSET",
        "AMOUNT_NOT_POSITIVE",
        "AMOUNT_TOO_LARGE",
        "INSUFFICIENT_FUNDS",
        "INSUFFICIENT_MARGIN",
    ]
    assert source_orders[ENVELOPE][:2] == ["SEQUENCE_OUT_OF_ORDER", "TIMESTAMP_REGRESSED"]


# -- returned by ---------------------------------------------------------------------


def test_returned_by_matches_the_handlers(doc: str, source_orders: dict[str, list[str]]) -> None:
    every = set(TRANSACTIONS)
    for number, name, returned_by, _ in code_rows(doc):
        named = {tx for tx in TRANSACTIONS if re.search(rf"\b{tx}\b", returned_by)}
        if "every transaction" in returned_by:
            named |= every
        expected = {tx for tx in TRANSACTIONS if name in source_orders[tx]}
        if name in source_orders[ENVELOPE]:
            expected |= every
        assert named == expected, f"{number} {name}: doc says {sorted(named)}"
        assert ("decoding" in returned_by) == (name in source_orders["decoding"]), name
        anywhere = expected or name in source_orders["decoding"]
        assert (returned_by == "none") == (not anywhere), f"{number} {name}: {returned_by!r}"
