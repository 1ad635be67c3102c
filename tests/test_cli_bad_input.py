"""Every `clearhouse` command answers bad input with one line `error: ...`, exit 2.

The commands are found by walking the Typer app, so a new command is covered the
day it is added: it must have an entry in BAD_INPUT (the test fails without one),
every integer option must state both bounds (typer's `min=`/`max=`), and each
integer option and path option is driven with values beyond them (one below the
minimum, one above the maximum, 2^200, text), a folder that does not exist and a
folder where a file belongs (or a file where a folder belongs). The table adds each
command's own bad input: missing files, garbage content, bad names. Nothing here
runs a command to completion: every input is refused before work starts, so the
whole module takes seconds.
"""

from __future__ import annotations

import json
import os
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from clearhouse.cli import app
from clearhouse.journal import NoteVerifier
from clearhouse.testing import signer_for

runner = CliRunner()
HUGE = str(2**200)
PASSPHRASE_ENV = "CLEARHOUSE_BAD_INPUT_PASS"
OPERATOR_KEY = NoteVerifier("operator", signer_for("operator").public_key()).verifier_string()
"""A well-formed verifier key string (checked before any journal is opened)."""


@dataclass(frozen=True)
class Case:
    """A command's required arguments (they parse), to which an integer or a path
    option under test is added; and the command's own bad inputs, each a whole
    argument list with a text its error line must contain."""

    base: tuple[str, ...] = ()
    bad: tuple[tuple[tuple[str, ...], str], ...] = ()
    creates_directory: frozenset[str] = field(default_factory=frozenset)
    """Directory options that may name a folder not there yet (it is created)."""


# Placeholders, replaced per test by paths in tmp_path.
MISSING = "<missing>"  # a file in a folder that does not exist
FOLDER = "<folder>"  # an existing folder
GARBAGE = "<garbage>"  # an existing file of garbage bytes
DEEP = "<deep>"  # a JSON file nested 100,000 deep
DEEP_OPEN = "<deep-open>"  # 100,000 "[", never closed
DEEP_OBJECT = "<deep-object>"  # '{"a":' 100,000 times
HUGE_JSON = "<huge-json>"  # a genesis whose numbers are 2^200

JOURNAL = ("--journal", MISSING)
VERIFY = (*JOURNAL, "--operator-key", OPERATOR_KEY)
PASS = ("--passphrase-env", PASSPHRASE_ENV)
WEAK_KEY = "gov:governor:" + "00" * 32
"""A genesis key of small order."""
NOWHERE = ("--venue", "http://127.0.0.1:1")
"""A venue that does not answer: nothing listens on port 1."""
OWNER_KEY = ("carol", "--public-key", signer_for("carol").public_key().hex())

BAD_INPUT: dict[str, Case] = {
    "demo": Case(bad=((("--journal", GARBAGE + "/j.db"), "is not a folder"),)),
    "replay": Case(
        base=JOURNAL,
        bad=(
            (("--journal", FOLDER), "is not a file"),
            (("--journal", GARBAGE), "not a clearhouse journal"),
        ),
    ),
    "bench core": Case(),
    "bench margin": Case(),
    "bench verify": Case(),
    "bench journal": Case(),
    "bench pipeline": Case(),
    "bench serve": Case(),
    "keys new": Case(
        base=("desk-1", *PASS),
        bad=(
            (("desk-1", *PASS, "--keystore", GARBAGE + "/keys"), "keystore"),
            (("Not A Name", *PASS, "--keystore", FOLDER), "invalid_name"),
            (("desk-1", "--passphrase-env", "UNSET_VARIABLE_X"), "UNSET_VARIABLE_X"),
        ),
        creates_directory=frozenset({"--keystore"}),
    ),
    "keys list": Case(),
    "keys show": Case(base=("desk-1",), bad=((("desk-1", "--keystore", FOLDER), "key_not_found"),)),
    "keys rotate": Case(
        base=("desk-1", "desk-2", *PASS),
        bad=((("desk-1", "desk-2", *PASS, "--keystore", FOLDER), "key_not_found"),),
    ),
    "keys export-public": Case(
        base=("desk-1",), bad=((("../x", "--keystore", FOLDER), "invalid_name"),)
    ),
    "genesis new": Case(
        base=("--venue-id", "v", "--key", WEAK_KEY),
        bad=(
            (("--venue-id", "v", "--key", "no-colons", "--out", FOLDER + "/g.json"), "OWNER:ROLE"),
            (("--venue-id", "v", "--key", WEAK_KEY, "--out", FOLDER + "/g.json"), "small order"),
            (("--venue-id", "a b", "--key", WEAK_KEY, "--out", FOLDER + "/g.json"), "venue_id"),
        ),
    ),
    "genesis check": Case(
        bad=(
            ((GARBAGE,), "invalid genesis"),
            ((DEEP,), "invalid genesis"),
            ((HUGE_JSON,), "invalid genesis"),
        )
    ),
    "audit verify": Case(
        base=VERIFY,
        bad=(
            ((*JOURNAL, "--operator-key", "garbage"), "--operator-key"),
            (("--journal", GARBAGE, "--operator-key", OPERATOR_KEY), "not a clearhouse journal"),
            ((*VERIFY, "--checkpoint", DEEP_OBJECT), "nest more than 2 deep"),
            ((*VERIFY, "--checkpoint", DEEP), "not a signed checkpoint note"),
            ((*VERIFY, "--checkpoint", GARBAGE), "not a signed checkpoint note"),
            ((*VERIFY, "--genesis", DEEP), "--genesis"),
            ((*VERIFY, "--genesis", DEEP_OBJECT), "--genesis"),
        ),
    ),
    "audit prove": Case(
        base=(*JOURNAL, "--entry", "1"),
        bad=((("--journal", GARBAGE, "--entry", "1"), "not a clearhouse journal"),),
    ),
    "audit check-proof": Case(
        base=(MISSING, "--operator-key", OPERATOR_KEY),
        bad=(
            ((GARBAGE, "--operator-key", OPERATOR_KEY), "garbage.bin"),
            ((GARBAGE, "--operator-key", "x"), "--operator-key"),
            ((DEEP, "--operator-key", OPERATOR_KEY), "nest more than 2 deep"),
            ((DEEP_OPEN, "--operator-key", OPERATOR_KEY), "nest more than 2 deep"),
            ((DEEP_OBJECT, "--operator-key", OPERATOR_KEY), "nest more than 2 deep"),
        ),
    ),
    "audit query": Case(base=JOURNAL, bad=((("--journal", GARBAGE), "not a clearhouse journal"),)),
    "api-keys add": Case(
        base=("--account", "alice", "--data", FOLDER, "--venue", "http://127.0.0.1:1"),
        bad=(
            (("--account", "alice", "--data", FOLDER, "--scope", "everything"), "one of"),
            (
                ("--account", "alice", "--data", FOLDER, "--venue", "http://127.0.0.1:1"),
                "cannot reach",
            ),
            (("--account", "alice", "--data", GARBAGE), "data folder"),
            (("--account", "alice", "--data", FOLDER, "--allow-ip", "10.0.0.0/33"), "--allow-ip"),
            (("--account", "alice", "--data", FOLDER, "--orders-per-s", "0"), "--orders-per-s"),
            (
                ("--account", "alice", "--data", FOLDER, "--owner-key", "nobody"),
                "--keystore",
            ),
            (
                (
                    *("--account", "alice", "--data", FOLDER, "--owner-key", "nobody"),
                    *("--keystore", FOLDER, *PASS),
                ),
                "key_not_found",
            ),
        ),
    ),
    "api-keys revoke": Case(
        base=("0123abcd", "--data", FOLDER, "--venue", "http://127.0.0.1:1"),
        bad=(
            (("0123abcd", "--data", FOLDER), "no API client"),
            (("0123abcd", "--data", GARBAGE), "data folder"),
            (("0123abcd", "--data", FOLDER, "--keystore", GARBAGE), "--keystore"),
        ),
    ),
    "surveil explain": Case(
        base=("reject_rate/5", *JOURNAL),
        bad=(
            (("nope/5", *JOURNAL), "ALERT"),
            (("reject_rate/x", *JOURNAL), "ALERT"),
            (("reject_rate/5", *JOURNAL), "no journal"),
            (("reject_rate/5", "--journal", GARBAGE), "not a clearhouse journal"),
            (("reject_rate/5", *JOURNAL, "--links", GARBAGE), "--links"),
        ),
    ),
    "surveil eval": Case(),
    "bench surveil": Case(),
    "accounts add": Case(
        base=(*OWNER_KEY, *NOWHERE),
        bad=(
            (("carol", "--public-key", "xyz", *NOWHERE), "is not hex"),
            (("carol", "--public-key", "ab" * 31, *NOWHERE), "31 bytes"),
            (("carol", "--public-key", "00" * 32, *NOWHERE), "small order"),
            (("no owner", "--public-key", "ab" * 32, *NOWHERE), "OWNER"),
            (("carol", *NOWHERE), "--public-key/--new-key"),
            ((*OWNER_KEY, "--role", "governor"), "--role"),
            ((*OWNER_KEY, *NOWHERE), "cannot reach"),
            ((*OWNER_KEY, "--venue", "nowhere"), "cannot reach"),
            ((*OWNER_KEY, "--governor-key", "gov-1", "--keystore", FOLDER, *PASS), "key_not_found"),
            ((*OWNER_KEY, "--governor-key", "g", "--governor-key", "g"), "named twice"),
            (("carol", "--new-key", "Bad Name", "--keystore", FOLDER, *PASS), "invalid_name"),
        ),
    ),
    "accounts execute": Case(
        base=("1", *NOWHERE),
        bad=(
            (("1", *NOWHERE), "cannot reach"),
            (("1", "--governor-key", "gov-1", "--keystore", FOLDER, *PASS), "key_not_found"),
        ),
    ),
    "serve": Case(
        base=("--data", FOLDER, "--port", "0"),
        bad=(
            (("--journal", GARBAGE, "--port", "0"), "file is not a database"),
            (("--genesis", GARBAGE, "--keystore", FOLDER, *PASS), "invalid genesis"),
            (("--genesis", DEEP, "--keystore", FOLDER, *PASS), "invalid genesis"),
            (("--genesis", HUGE_JSON, "--keystore", FOLDER, *PASS), "invalid genesis"),
            (("--keystore", FOLDER, "--port", "0"), "--genesis"),
            (("--keeper-key", "k", "--port", "0"), "--genesis"),
            (("--host", "no-such-host.invalid", "--port", "0"), "cannot listen"),
            (("--tls-cert", GARBAGE), "--tls-key, or neither"),
            (("--tls-cert", GARBAGE, "--tls-key", GARBAGE), "not a usable certificate"),
            (("--respond", GARBAGE, "--no-surveillance"), "drop --no-surveillance"),
            (("--surveillance-key", "s", "--port", "0"), "--surveillance-key"),
        ),
        creates_directory=frozenset({"--data"}),
    ),
}


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(command path, command) for every leaf command under `command`."""
    children = getattr(command, "commands", None)
    if children is None:
        yield " ".join(path), command
        return
    for name, child in sorted(children.items()):
        yield from walk(child, (*path, name))


COMMANDS = dict(walk(typer.main.get_command(app)))


def base_types(param: Any) -> set[Any]:
    """The types an option's annotation allows, Optional and list[...] unwrapped."""
    found: set[Any] = set()
    pending = [param.type_descriptor.annotation]
    while pending:
        annotation = pending.pop()
        arguments = typing.get_args(annotation)
        if arguments:
            pending.extend(arguments)
        elif annotation is not type(None):
            found.add(annotation)
    return found


def int_options(command: Any) -> list[Any]:
    return [p for p in command.params if int in base_types(p)]


def path_options(command: Any) -> list[Any]:
    return [p for p in command.params if Path in base_types(p)]


def option_name(param: Any) -> str:
    longest: str = max(param.opts, key=len)
    return longest


@pytest.fixture
def places(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x00\xffnot what it should be\n" * 8)
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    deep_open = tmp_path / "deep-open.json"
    deep_open.write_bytes(b"[" * 100_000)
    deep_object = tmp_path / "deep-object.json"
    deep_object.write_bytes(b'{"a":' * 100_000)
    huge = tmp_path / "huge.json"
    document = {"venue_id": "v", "keys": [], "instruments": [], "config": {"accounts_max": 2**200}}
    huge.write_text(json.dumps(document))
    return {
        MISSING: str(tmp_path / "no-such-folder" / "file"),
        FOLDER: str(folder),
        GARBAGE: str(garbage),
        DEEP: str(deep),
        DEEP_OPEN: str(deep_open),
        DEEP_OBJECT: str(deep_object),
        HUGE_JSON: str(huge),
    }


def fill(args: tuple[str, ...], places: dict[str, str]) -> list[str]:
    filled = []
    for arg in args:
        value = arg
        for placeholder, path in places.items():
            value = value.replace(placeholder, path)
        filled.append(value)
    return filled


def refused(path: str, args: list[str], expected: str, code: int = 2) -> None:
    env = {PASSPHRASE_ENV: "a passphrase of some length", "COLUMNS": "200"}
    result = runner.invoke(app, [*path.split(), *args], env=env)
    shown = f"{path} {args}: exit {result.exit_code}\n{result.output}"
    assert result.exit_code == code, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    assert "Traceback" not in result.output, shown
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, shown
    assert lines[0].startswith("error: "), shown
    assert expected in lines[0], shown


def test_every_command_has_a_row_in_the_table() -> None:
    assert set(COMMANDS) == set(BAD_INPUT)
    assert len(COMMANDS) >= 17  # the walk reaches the sub-commands


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_integer_option_states_both_bounds(path: str) -> None:
    for param in int_options(COMMANDS[path]):
        assert param.min is not None, f"{path} {option_name(param)} has no min="
        assert param.max is not None, f"{path} {option_name(param)} has no max="


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_integers_beyond_their_bounds_are_refused(path: str, places: dict[str, str]) -> None:
    base = fill(BAD_INPUT[path].base, places)
    for param in int_options(COMMANDS[path]):
        name = option_name(param)
        for value in (param.min - 1, param.max + 1, HUGE, "-" + HUGE, "ten"):
            if param.param_type_name == "argument":
                # An integer argument leads its command's base; after `--` a negative
                # value is read as the argument, not as an option.
                refused(path, [*base[1:], "--", str(value)], param.metavar)
            else:
                refused(path, [*base, name, str(value)], name)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_paths_that_cannot_be_used_are_refused(path: str, places: dict[str, str]) -> None:
    case = BAD_INPUT[path]
    base = fill(case.base, places)
    for param in path_options(COMMANDS[path]):
        wants_folder = param.metavar == "DIR"
        bad = [places[GARBAGE]] if wants_folder else [places[FOLDER]]
        if not (wants_folder and option_name(param) in case.creates_directory):
            bad.append(places[MISSING])
        for value in bad:
            if param.param_type_name == "argument":
                args = [value if arg == places[MISSING] else arg for arg in base]
                args = args if value in args else [value, *base]
                named = os.path.dirname(value)  # the message names the path
            else:
                args = [*base, option_name(param), value]
                named = option_name(param)
            refused(path, args, named)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_each_commands_own_bad_input_is_refused(path: str, places: dict[str, str]) -> None:
    for args, expected in BAD_INPUT[path].bad:
        refused(path, fill(args, places), expected)


def test_an_unknown_option_or_command_is_one_line_too() -> None:
    refused("bench core", ["--no-such-option"], "--no-such-option")
    refused("bench", ["no-such-bench"], "no-such-bench")
    refused("genesis new", [], "Missing option")


def test_the_reported_cases_of_the_issue(places: dict[str, str]) -> None:
    """The inputs that once ended in a traceback or ran anyway, one by one."""
    missing = places[MISSING]
    refused("genesis check", [missing], "does not exist")
    refused("demo", ["--journal", missing], "does not exist")
    refused("replay", ["--journal", missing, "--json", missing], "does not exist")
    refused("bench core", ["--orders", "0"], "--orders")
    refused("bench core", ["--orders", "-5"], "--orders")
    refused("bench margin", ["--accounts", "-1"], "--accounts")
    refused(
        "audit verify",
        [*fill(BAD_INPUT["audit verify"].base, places), "--workers", HUGE],
        "--workers",
    )
    refused("keys list", ["--keystore", places[GARBAGE]], "is not a directory")
    key = "00" * 32
    refused(
        "genesis new",
        ["--venue-id", "v", "--key", f"g:governor:{key}", "--out", missing],
        "does not exist",
    )
    assert not os.path.exists(os.path.dirname(missing))


def test_a_file_system_failure_no_check_foresaw_is_one_line(
    places: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills while the genesis is written: exit 1, one line, no traceback."""

    def full(self: Path, data: bytes) -> int:
        raise OSError(28, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)
    out = places[FOLDER] + "/g.json"
    keys = [f"{g}:governor:{signer_for(g).public_key().hex()}" for g in ("gov-a", "gov-b")]
    args = ["--venue-id", "v", "--key", keys[0], "--key", keys[1], "--out", out]
    refused("genesis new", args, "No space left on device", code=1)


UNREACHABLE_POSTGRES = "postgresql://x@127.0.0.1:1/y"
"""Nothing listens on port 1: psycopg refuses with a hint on a second line."""


@pytest.mark.parametrize(
    "command",
    [
        ["replay"],
        ["audit", "query"],
        ["audit", "prove", "--entry", "1"],
        ["audit", "verify", "--operator-key", OPERATOR_KEY],
        ["serve", "--port", "0"],
    ],
)
def test_an_unreachable_postgresql_journal_is_one_line(command: list[str]) -> None:
    refused(" ".join(command[:2]), [*command[2:], "--journal", UNREACHABLE_POSTGRES], "cannot open")


def test_an_error_whose_text_spans_lines_is_joined_into_one(
    places: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import clearhouse.journal

    def refuse(url: str, **options: object) -> None:
        raise RuntimeError("connection failed: refused\n\tIs the server running?\n")

    monkeypatch.setattr(clearhouse.journal, "open_store", refuse)
    refused("audit query", ["--journal", UNREACHABLE_POSTGRES], "refused; Is the server running?")
