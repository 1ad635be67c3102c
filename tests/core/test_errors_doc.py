"""docs/errors.md and the code agree: every code, its number, its band, and the order
in which each handler checks.

- Every `ErrorCode` member has one row `| number | `NAME` | returned by | meaning |`
  in the band section of its number, and no row names a code the enum lacks.
- Numbers sit in their family's band, both in the doc and in the enum's own
  grouping (`# 2xxx collateral` comments in errors.py), and are never reused.
- The check order documented per transaction is the order of `ErrorCode.X`
  references in the handler's source, read top to bottom with the checks it calls
  (`check_amount`, `_check_margin`, ...) inlined where they are called. Handlers
  are flat runs of early returns, so source order is check order. The same holds
  for `Engine.apply` (the envelope), `authorize` (authorization) and each
  governance action's checks, read out of `_check_action`'s dispatch.
- Two calls are not inlined but documented once, as their own section, and
  referred to by an italic item (`8. *Authorization*`): `authorize` from
  `Engine.apply`, and `_check_action` from Propose and ExecuteProposal.
- "Returned by" names exactly the transactions whose checks contain the code:
  every transaction for the envelope's codes and authorization's, except the codes
  that only some types can reach (the rate limit's: `authority.RATE_LIMITED_TYPES`;
  an account owner's, a sub-key's size limit: read from `authority.PERMITTED` and
  `SUB_KEY_TRADE_TYPES`); Propose and ExecuteProposal for the actions' codes, with
  the actions named.
"""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path

import pytest

import clearhouse.core
from clearhouse.core import Action, ErrorCode
from clearhouse.core.authority import PERMITTED, RATE_LIMITED_TYPES, SUB_KEY_TRADE_TYPES
from clearhouse.service.errors import ServiceErrorCode

CORE_DIR = Path(clearhouse.core.__file__).parent
DOC = CORE_DIR.parent.parent / "docs" / "errors.md"
TRANSACTIONS = (
    "Deposit",
    "Withdraw",
    "Transfer",
    "CancelWithdrawal",
    "PlaceOrder",
    "CancelOrder",
    "CancelAll",
    "AmendOrder",
    "OracleUpdate",
    "Liquidate",
    "SettleExpiry",
    "FundingTick",
    "HaltMarket",
    "ResumeMarket",
    "KillSwitch",
    "SetMarginMode",
    "SetMMP",
    "ResetMMP",
    "AddSubKey",
    "RevokeSubKey",
    "RotateSubKey",
    "Propose",
    "Approve",
    "CancelProposal",
    "ExecuteProposal",
)
ACTIONS = (
    "ListInstrument",
    "SetRiskParams",
    "GrantRole",
    "RevokeRole",
    "RotateKey",
    "ApproveWithdrawal",
)
BANDS = {
    1: "envelope",
    2: "collateral",
    3: "trading",
    4: "risk",
    5: "controls",
    6: "governance",
    7: "service",
    9: "engine",
}
ENVELOPE = "Every transaction"
AUTHORIZATION = "Authorization"
GOVERNANCE_ACTIONS = "Governance actions"
SECTIONS = {
    # function called -> the section that documents it, in place of inlining
    ("authority", "authorize"): AUTHORIZATION,
    ("governance", "_check_action"): GOVERNANCE_ACTIONS,
}

_ROW = re.compile(r"^\| (\d+) \| `([A-Za-z_]+)` \| ([^|]*) \| (.+) \|$")
_BAND_HEADING = re.compile(r"^### (\d)xxx\b")
_ITEM = re.compile(r"^\d+\. (?:`([A-Z_]+)` \((\d{4})\)|\*([A-Z][A-Za-z ]+)\*)")
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


def section_item(title: str) -> str:
    """How an item standing for a whole section is read: `*Authorization*`."""
    return f"*{title}*"


def check_orders(text: str) -> dict[str, list[tuple[str, int | None]]]:
    """Section title -> the (code, number) of each numbered item, in order; an item
    standing for a section is (`*Title*`, None)."""
    _, _, part = text.partition("\n## Check order\n")
    orders: dict[str, list[tuple[str, int | None]]] = {}
    title = ""
    for line in part.splitlines():
        if line.startswith("### "):
            title = line[4:].split(" (")[0].strip()
            orders[title] = []
        elif item := _ITEM.match(line):
            if item.group(3):
                orders[title].append((section_item(item.group(3)), None))
            else:
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

    def codes(
        self,
        module: str,
        name: str,
        sections: dict[tuple[str, str], str] | None = None,
        _stack: tuple[tuple[str, str], ...] = (),
    ) -> list[str]:
        """`ErrorCode.X` names in source order, calls to core functions inlined, but
        calls to the functions in `sections` read as that section's item."""
        return self.codes_in(
            module, self.functions[module, name].body, sections, (*_stack, (module, name))
        )

    def codes_in(
        self,
        module: str,
        statements: list[ast.stmt],
        sections: dict[tuple[str, str], str] | None = None,
        stack: tuple[tuple[str, str], ...] = (),
    ) -> list[str]:
        found: list[str] = []
        sections = sections or {}

        def visit(node: ast.AST) -> None:
            if isinstance(node, ast.Call):
                for argument in [*node.args, *(k.value for k in node.keywords)]:
                    visit(argument)
                target = self.resolve(module, node.func)
                if target in sections:
                    found.append(section_item(sections[target]))  # type: ignore[index]
                elif target is not None and target not in stack:
                    found.extend(self.codes(*target, sections=sections, _stack=stack))
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

        for statement in statements:
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


def action_checks(index: SourceIndex) -> dict[str, list[str]]:
    """Action name -> its checks' codes, read from `_check_action`'s dispatch: each
    `if isinstance(action, X): return check(...)`, and the statements after the last
    of them for the one action left."""
    function = index.functions["governance", "_check_action"]
    checks: dict[str, list[str]] = {}
    rest: list[ast.stmt] = []
    for statement in function.body:
        test = statement.test if isinstance(statement, ast.If) else None
        if (
            isinstance(test, ast.Call)
            and isinstance(test.func, ast.Name)
            and test.func.id == "isinstance"
            and isinstance(test.args[1], ast.Name)
        ):
            assert isinstance(statement, ast.If) and not statement.orelse
            (returned,) = statement.body
            assert isinstance(returned, ast.Return) and isinstance(returned.value, ast.Call)
            target = index.resolve("governance", returned.value.func)
            assert target is not None, ast.unparse(returned)
            checks[test.args[1].id] = index.codes(*target)
        else:
            rest.append(statement)
    (left,) = set(ACTIONS) - set(checks)
    checks[left] = index.codes_in("governance", rest)
    return checks


def authorization_scope() -> dict[str, set[str]]:
    """Authorization codes that only some transaction types can reach: an account
    owner's (types naming an account, and the sub-keys' order types) and a sub-key's
    size limit (its order types that carry a size)."""
    with_account = {kind.__name__ for kind, (_, field) in PERMITTED.items() if field}
    trade = {kind.__name__ for kind in SUB_KEY_TRADE_TYPES}
    sized = {kind.__name__ for kind in SUB_KEY_TRADE_TYPES if "size" in kind.__struct_fields__}
    return {"NOT_ACCOUNT_OWNER": with_account | trade, "SUB_KEY_SIZE_LIMIT": sized}


def envelope_scope() -> dict[str, set[str]]:
    """Envelope codes that only some transaction types can reach: the rate limit's."""
    return {"RATE_LIMITED": {kind.__name__ for kind in RATE_LIMITED_TYPES}}


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def source_orders() -> dict[str, list[str]]:
    """Per transaction (and the envelope, authorization and each action) the codes its
    checks can return, in order."""
    index = SourceIndex()
    orders = {
        tx: collapse([c for c in index.codes(*where, sections=SECTIONS) if c != "WRONG_TYPE"])
        for tx, where in handlers().items()
    }
    orders[ENVELOPE] = collapse(index.codes("engine", "Engine.apply", sections=SECTIONS))
    orders[AUTHORIZATION] = collapse(index.codes("authority", "authorize"))
    for action, codes in action_checks(index).items():
        orders[action] = collapse(codes)
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
    codes = [*ErrorCode, *ServiceErrorCode]
    assert sorted(documented) == sorted((code.value, code.name) for code in codes)
    assert len(documented) == len(set(documented))


def test_no_unknown_code_is_mentioned(doc: str) -> None:
    mentioned = set(_SCREAMING.findall(doc))
    assert mentioned - set(ErrorCode.__members__) - set(ServiceErrorCode.__members__) == set()


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
    values += [member.value for member in ServiceErrorCode.__members__.values()]
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
    known = set(ErrorCode.__members__) | set(ServiceErrorCode.__members__)
    assert set(_SCREAMING.findall("\n".join(lines))) - known == {"NOT_A_CODE"}


# -- check order -------------------------------------------------------------------


def test_check_order_is_documented_for_every_transaction(doc: str) -> None:
    orders = check_orders(doc)
    assert set(TRANSACTIONS) | set(ACTIONS) | {ENVELOPE, AUTHORIZATION, GOVERNANCE_ACTIONS} <= set(
        orders
    )
    assert set(handlers()) == set(TRANSACTIONS)
    assert {kind.__name__ for kind in PERMITTED} == set(TRANSACTIONS)
    assert {kind.__name__ for kind in typing.get_args(Action)} == set(ACTIONS)
    for title, items in orders.items():
        for name, number in items:
            if number is None:  # an item standing for a section
                assert name.strip("*") in orders, f"{title}: {name} names no section"
            else:
                assert ErrorCode[name].value == number, (
                    f"{title}: {name} is {ErrorCode[name].value}"
                )


@pytest.mark.parametrize("transaction", [*TRANSACTIONS, ENVELOPE, AUTHORIZATION, *ACTIONS])
def test_documented_check_order_follows_the_code(
    doc: str, source_orders: dict[str, list[str]], transaction: str
) -> None:
    documented = collapse([name for name, _ in check_orders(doc)[transaction]])
    assert documented == source_orders[transaction]


def test_source_order_reader_inlines_called_checks(source_orders: dict[str, list[str]]) -> None:
    """The reader sees through `check_amount` and `_check_debit` into their codes, and
    through `check_envelope`, `check_shape` and `check_nonce`."""
    assert source_orders["Withdraw"] == [
        "UNKNOWN_ACCOUNT",
        "UNKNOWN_ASSET",
        "AMOUNT_NOT_POSITIVE",
        "AMOUNT_TOO_LARGE",
        "WITHDRAWALS_PENDING_LIMIT",
        "INSUFFICIENT_FUNDS",
        "INSUFFICIENT_MARGIN",
        "UNREALIZED_GAINS_NOT_WITHDRAWABLE",
    ]
    assert source_orders[ENVELOPE][:2] == ["SEQUENCE_OUT_OF_ORDER", "TIMESTAMP_REGRESSED"]
    assert source_orders[ENVELOPE][-4:] == [
        "INVALID_VALUE",
        "WRONG_TYPE",
        "*Authorization*",
        "RATE_LIMITED",
    ]
    assert source_orders[AUTHORIZATION][:3] == ["UNKNOWN_SIGNER", "KEY_REVOKED", "BAD_SIGNATURE"]
    assert "NONCE_TOO_OLD" in source_orders[AUTHORIZATION]


def test_sections_stand_in_for_their_calls(source_orders: dict[str, list[str]]) -> None:
    """authorize and _check_action are read once, as sections, not inlined where called."""
    assert source_orders["Propose"] == ["PROPOSALS_LIMIT", "*Governance actions*"]
    assert source_orders["ExecuteProposal"][-1] == "*Governance actions*"
    assert "UNKNOWN_SIGNER" not in source_orders[ENVELOPE]
    assert source_orders["ApproveWithdrawal"] == ["UNKNOWN_WITHDRAWAL"]
    assert source_orders["RotateKey"][0] == "UNKNOWN_KEY"
    inlined = collapse(SourceIndex().codes("engine", "Engine.apply"))
    at = inlined.index("UNKNOWN_SIGNER")
    end = at + len(source_orders[AUTHORIZATION])
    assert inlined[at:end] == source_orders[AUTHORIZATION]
    assert [*inlined[:at], "*Authorization*", *inlined[end:]] == source_orders[ENVELOPE]


# -- returned by ---------------------------------------------------------------------


SEQUENCER_CODES = {"BUSY"}
"""Answered by clearhouse/sequencer/ before a transaction is sequenced."""


def expand(source_orders: dict[str, list[str]], transaction: str) -> set[str]:
    """Every code a transaction's own checks can return, sections expanded (not the
    envelope's or authorization's, which every transaction shares)."""
    codes = set(source_orders[transaction])
    if section_item(GOVERNANCE_ACTIONS) in codes:
        for action in ACTIONS:
            codes |= set(source_orders[action])
    return codes


def test_returned_by_matches_the_handlers(doc: str, source_orders: dict[str, list[str]]) -> None:
    every = set(TRANSACTIONS)
    scoped = authorization_scope()
    envelope_scoped = envelope_scope()
    for number, name, returned_by, band in code_rows(doc):
        if band == 7:  # the service's answers to requests, not a transaction's checks
            continue
        named = {tx for tx in TRANSACTIONS if re.search(rf"\b{tx}\b", returned_by)}
        if "every transaction" in returned_by:
            named |= every
        expected = {tx for tx in TRANSACTIONS if name in expand(source_orders, tx)}
        if name in source_orders[ENVELOPE]:
            expected |= envelope_scoped.get(name, every)
        if name in source_orders[AUTHORIZATION]:
            expected |= scoped.get(name, every)
        assert named == expected, f"{number} {name}: doc says {sorted(named)}"
        actions = {a for a in ACTIONS if re.search(rf"\b{a}\b", returned_by)}
        assert actions == {a for a in ACTIONS if name in source_orders[a]}, f"{number} {name}"
        assert ("decoding" in returned_by) == (name in source_orders["decoding"]), name
        assert ("the sequencer" in returned_by) == (name in SEQUENCER_CODES), name
        anywhere = expected or name in source_orders["decoding"] or name in SEQUENCER_CODES
        assert (returned_by == "none") == (not anywhere), f"{number} {name}: {returned_by!r}"
