"""Exact field types of every payload, checked before any handler reads a field.

Decoding already guarantees types for bytes from the wire. A caller that builds
payloads in Python can still put a float where an int belongs (msgspec does not
check on construction), and the compiled core would then fail on the first read
of that field. So `apply` compares each field's exact type with its declaration
first and rejects a mismatch as WRONG_TYPE, naming the field. Exact means exact:
`True` is not an int here, and a str subclass is not a str.
"""

from __future__ import annotations

import types
import typing
from enum import Enum

import msgspec
from msgspec.structs import astuple

from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.numbers import INT64_MAX
from clearhouse.core.txs import PAYLOAD_TYPES

FieldShape = tuple[str, tuple[type, ...], type | None]
"""Field name, allowed exact types, and for a tuple field the Struct type of its items."""


def _allowed(annotation: object) -> tuple[tuple[type, ...], type | None]:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        allowed: list[type] = []
        for arm in typing.get_args(annotation):
            allowed.extend(_allowed(arm)[0])
        return tuple(allowed), None
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        return (tuple,), item
    if annotation is None or annotation is types.NoneType:
        return (types.NoneType,), None
    if isinstance(annotation, type) and (
        annotation in (int, str, bool, bytes) or issubclass(annotation, (Enum, msgspec.Struct))
    ):
        return (annotation,), None
    raise TypeError(f"no shape rule for {annotation!r}")


def shape_of(cls: type) -> tuple[FieldShape, ...]:
    hints = typing.get_type_hints(cls)
    shape = []
    for name in cls.__struct_fields__:  # type: ignore[attr-defined]
        allowed, item = _allowed(hints[name])
        shape.append((name, allowed, item))
    return tuple(shape)


SHAPES: dict[type, tuple[FieldShape, ...]] = {cls: shape_of(cls) for cls in PAYLOAD_TYPES}
_ALLOWED: dict[type, tuple[tuple[type, ...], ...]] = {
    cls: tuple(allowed for _, allowed, _ in shape) for cls, shape in SHAPES.items()
}
_WITH_NESTED: frozenset[type] = frozenset(
    cls
    for cls, shape in SHAPES.items()
    if any(
        item is not None or any(issubclass(t, msgspec.Struct) for t in allowed)
        for _, allowed, item in shape
    )
)
_FIRST: dict[type, tuple[type, ...]] = {
    cls: tuple(types_allowed[0] for types_allowed in allowed) for cls, allowed in _ALLOWED.items()
}
"""Each field's first allowed type: the one the field nearly always holds, compared by
identity before the membership test over all of them."""
_NESTED_SHAPES: dict[type, tuple[FieldShape, ...]] = {}


def _nested_shape(cls: type) -> tuple[FieldShape, ...]:
    shape = _NESTED_SHAPES.get(cls)
    if shape is None:
        shape = _NESTED_SHAPES[cls] = shape_of(cls)
    return shape


def check_shape(payload: object) -> Rejection | None:
    kind = type(payload)
    allowed = _ALLOWED.get(kind)
    if allowed is None:
        return Rejection(ErrorCode.WRONG_TYPE, f"unknown transaction type {kind.__name__}")
    # The fast path: one C-level tuple of the field values, read by index against
    # the table (compiled, indexing a tuple is native; a zip is a generic iterator).
    values: tuple[object, ...] = astuple(payload)  # type: ignore[arg-type]
    first = _FIRST[kind]
    for i in range(len(first)):
        field_type = type(values[i])
        if field_type is not first[i] and field_type not in allowed[i]:
            return _check_fields(payload, SHAPES[kind], "$")
    if kind in _WITH_NESTED:
        return _check_fields(payload, SHAPES[kind], "$")
    return None


def _check_fields(value: object, shape: tuple[FieldShape, ...], path: str) -> Rejection | None:
    for name, allowed, item in shape:
        field = getattr(value, name)
        if type(field) not in allowed:
            expected = " or ".join(t.__name__ for t in allowed)
            return Rejection(
                ErrorCode.WRONG_TYPE,
                f"Expected `{expected}`, got `{type(field).__name__}` - at `{path}.{name}`",
            )
        if isinstance(field, msgspec.Struct):
            rejection = _check_fields(field, _nested_shape(type(field)), f"{path}.{name}")
            if rejection is not None:
                return rejection
        if item is not None:
            item_shape = _nested_shape(item)
            for index, element in enumerate(field):
                if type(element) is not item:
                    return Rejection(
                        ErrorCode.WRONG_TYPE,
                        f"Expected `{item.__name__}`, got `{type(element).__name__}` - at `{path}.{name}[{index}]`",
                    )
                rejection = _check_fields(element, item_shape, f"{path}.{name}[{index}]")
                if rejection is not None:
                    return rejection
    return None


_ENVELOPE: tuple[tuple[str, type], ...] = (
    ("signer", bytes),
    ("nonce", int),
    ("expires_at_ns", int),
    ("signature", bytes),
)


def check_envelope(
    signer: object, nonce: object, expires_at_ns: object, signature: object
) -> Rejection | None:
    """The envelope's own fields, before authorization reads them (the caller has
    taken them out of the Transaction in one `astuple`)."""
    if (
        type(signer) is bytes
        and type(signature) is bytes
        and type(nonce) is int
        and type(expires_at_ns) is int
        and 0 <= nonce <= INT64_MAX
        and 0 <= expires_at_ns <= INT64_MAX
    ):
        return None
    for (name, expected), value in zip(
        _ENVELOPE, (signer, nonce, expires_at_ns, signature), strict=True
    ):
        if type(value) is not expected:
            return Rejection(
                ErrorCode.WRONG_TYPE,
                f"Expected `{expected.__name__}`, got `{type(value).__name__}` - at `$.{name}`",
            )
    return Rejection(ErrorCode.INVALID_VALUE, f"nonce and expires_at_ns must be 0..{INT64_MAX}")
