"""The per-type field table of `check_shape` against the field-by-field reference.

`check_shape` compares a payload's field values, taken in one tuple, with a table
built from the declarations; on any mismatch it reports through `_check_fields`,
which reads the fields by name. These tests build every flat payload type in Python
(msgspec does not check types on construction), put one wrong value in each field
in turn, and require the refusal to name that field, exactly as the reference does.
"""

from __future__ import annotations

import types
from enum import Enum

import msgspec
import pytest

from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.shapes import _WITH_NESTED, SHAPES, _check_fields, check_envelope, check_shape
from clearhouse.core.txs import PAYLOAD_TYPES

SAMPLES: dict[type, object] = {
    int: 0,
    str: "",
    bool: False,
    bytes: b"",
    types.NoneType: None,
}
WRONG: tuple[object, ...] = (0.5, True, "1", b"1", None, 1, [], (), 2**70)


class Text(str):
    """A str subclass: not a str under the exact rule."""


def sample(kind: type) -> object:
    if issubclass(kind, Enum):
        return next(iter(kind))
    return SAMPLES[kind]


def valid(kind: type) -> msgspec.Struct:
    values = {name: sample(allowed[0]) for name, allowed, _ in SHAPES[kind]}
    return kind(**values)  # type: ignore[no-any-return]


FLAT = [kind for kind in PAYLOAD_TYPES if kind not in _WITH_NESTED]


@pytest.mark.parametrize("kind", FLAT, ids=lambda kind: kind.__name__)
def test_each_flat_payload_built_right_passes(kind: type) -> None:
    assert check_shape(valid(kind)) is None


@pytest.mark.parametrize("kind", FLAT, ids=lambda kind: kind.__name__)
def test_a_wrong_type_in_any_field_is_refused_naming_that_field(kind: type) -> None:
    base = valid(kind)
    checked = 0
    for name, allowed, _ in SHAPES[kind]:
        for wrong in (*WRONG, Text("x")):
            if type(wrong) in allowed:
                continue
            payload = msgspec.structs.replace(base, **{name: wrong})
            rejection = check_shape(payload)
            assert rejection == _check_fields(payload, SHAPES[kind], "$")
            assert isinstance(rejection, Rejection)
            assert rejection.code is ErrorCode.WRONG_TYPE
            assert rejection.message.endswith(f" - at `$.{name}`")
            assert f"got `{type(wrong).__name__}`" in rejection.message
            checked += 1
    assert checked >= len(SHAPES[kind])


@pytest.mark.parametrize("kind", FLAT, ids=lambda kind: kind.__name__)
def test_every_allowed_type_of_a_field_passes(kind: type) -> None:
    """A field declared `int | None` takes either: the table's first type is only
    compared first, not the only one allowed."""
    base = valid(kind)
    for name, allowed, _ in SHAPES[kind]:
        for other in allowed[1:]:
            payload = msgspec.structs.replace(base, **{name: sample(other)})
            assert check_shape(payload) is None, (name, other)


def test_the_first_wrong_field_is_the_one_named() -> None:
    kind = FLAT[0]
    names = [name for name, _, _ in SHAPES[kind]]
    payload = msgspec.structs.replace(valid(kind), **{names[-1]: 0.5, names[0]: 0.5})
    rejection = check_shape(payload)
    assert isinstance(rejection, Rejection)
    assert rejection.message.endswith(f" - at `$.{names[0]}`")


def test_something_not_a_payload_is_refused() -> None:
    assert check_shape(Text("deposit")) == Rejection(
        ErrorCode.WRONG_TYPE, "unknown transaction type Text"
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((b"k", 1, 1, b"s"), None),
        ((None, 1, 1, b"s"), "Expected `bytes`, got `NoneType` - at `$.signer`"),
        ((b"k", True, 1, b"s"), "Expected `int`, got `bool` - at `$.nonce`"),
        ((b"k", 1, 1.0, b"s"), "Expected `int`, got `float` - at `$.expires_at_ns`"),
        ((b"k", 1, 1, "s"), "Expected `bytes`, got `str` - at `$.signature`"),
        ((b"k", -1, "x", b"s"), "Expected `int`, got `str` - at `$.expires_at_ns`"),
        ((b"k", 2**63, 1, b"s"), "nonce and expires_at_ns must be 0..9223372036854775807"),
        ((b"k", 1, -1, b"s"), "nonce and expires_at_ns must be 0..9223372036854775807"),
    ],
)
def test_the_envelope_fields_in_order(
    fields: tuple[object, object, object, object], message: str | None
) -> None:
    rejection = check_envelope(*fields)
    if message is None:
        assert rejection is None
    else:
        assert rejection is not None
        assert rejection.message == message
