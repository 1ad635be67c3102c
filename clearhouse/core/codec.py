"""The boundary: canonical bytes in and out, with decoding errors as rejections.

The canonical encoding is msgpack via msgspec, fields in declaration order; it is
what is signed, hashed and journaled. JSON is accepted for people and tools. A
decoding failure maps to one error code per kind of fault, and keeps msgspec's
path to the field (`$.payload.size`) in the message.

What comes from outside is bounded before anything trusts it, checked in this
order: the message's size (`MESSAGE_BYTES_MAX`), its nesting (`NESTING_DEPTH_MAX`),
then msgspec's one pass over the document (types, fields, and the declared lengths
of strings and bytes in core/txs.py), then every integer within what the canonical
encoding carries (-2^63..2^64-1). So everything decoded can be encoded, journaled
and replayed; ranges and existence are the engine's checks, each with its own code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.nesting import json_deeper_than, msgpack_deeper_than
from clearhouse.core.outcomes import Outcome
from clearhouse.core.txs import Sequenced, Transaction

MESSAGE_BYTES_MAX: Final = 1 << 20
"""A transaction's document, JSON or msgpack, is at most 1 MiB: room for an oracle
update carrying the most expiry quotes a genesis may allow (4,096), pretty-printed."""
NESTING_DEPTH_MAX: Final = 8
"""Arrays and objects inside one another; a transaction needs four (envelope,
payload, governance action, instrument spec; or expiry quotes and one quote)."""
INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**64 - 1
"""The integers msgpack carries: int64 and uint64."""

_msgpack_encoder = msgspec.msgpack.Encoder()
_tx_msgpack = msgspec.msgpack.Decoder(Transaction)
_tx_json = msgspec.json.Decoder(Transaction)
_sequenced_msgpack = msgspec.msgpack.Decoder(Sequenced)
_outcome_msgpack: msgspec.msgpack.Decoder[Outcome] = msgspec.msgpack.Decoder(Outcome)


def encode(value: object) -> bytes:
    """Canonical bytes of a transaction, sequenced transaction or outcome."""
    return _msgpack_encoder.encode(value)


def _classify(error: msgspec.ValidationError) -> ErrorCode:
    message = str(error)
    if message.startswith("Object missing required field"):
        return ErrorCode.MISSING_FIELD
    if message.startswith("Object contains unknown field"):
        return ErrorCode.UNKNOWN_FIELD
    if message.startswith("Expected `") and "`, got `" in message:
        return ErrorCode.WRONG_TYPE
    if message.startswith("Expected `") and " of length <= " in message:
        return ErrorCode.VALUE_OUT_OF_RANGE  # a declared maximum length (core/txs.py)
    if message.startswith("Integer value out of range"):
        return ErrorCode.VALUE_OUT_OF_RANGE  # more digits than Python converts
    return ErrorCode.INVALID_VALUE


def _decode(
    decoder: msgspec.msgpack.Decoder[Transaction] | msgspec.json.Decoder[Transaction],
    data: bytes,
    deeper_than: Callable[[bytes, int], bool],
) -> Transaction | Rejection:
    if len(data) > MESSAGE_BYTES_MAX:
        return Rejection(
            ErrorCode.MESSAGE_TOO_LARGE,
            f"the message is {len(data)} bytes, more than {MESSAGE_BYTES_MAX}",
        )
    try:
        return decoder.decode(data)
    except RecursionError:
        # Only nesting far beyond the bound exhausts the stack (msgspec skips a
        # nested value while it looks for a union's tag).
        return _too_deep()
    except msgspec.ValidationError as exc:
        refused = Rejection(_classify(exc), str(exc))
    except (msgspec.DecodeError, UnicodeError) as exc:
        refused = Rejection(ErrorCode.MALFORMED_ENCODING, str(exc))
    # A document that decodes nests no deeper than the schema, so the depth is
    # measured only here, and it takes precedence as if checked first.
    return _too_deep() if deeper_than(data, NESTING_DEPTH_MAX) else refused


def _too_deep() -> Rejection:
    return Rejection(
        ErrorCode.NESTING_TOO_DEEP,
        f"arrays and objects nest more than {NESTING_DEPTH_MAX} deep",
    )


def _out_of_range(value: object, path: str = "$") -> str | None:
    """The path of the first integer msgpack cannot carry, fields in declaration order."""
    if isinstance(value, int):
        return None if INT_MIN <= value <= INT_MAX else path
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            found = _out_of_range(getattr(value, name), f"{path}.{name}")
            if found is not None:
                return found
    elif isinstance(value, tuple | list):
        for index, item in enumerate(value):
            found = _out_of_range(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _range_rejection(value: object) -> Rejection:
    try:
        path = _out_of_range(value)
    except RecursionError:
        path = None
    return Rejection(
        ErrorCode.VALUE_OUT_OF_RANGE,
        f"Expected `int` in {INT_MIN}..{INT_MAX} (what msgpack carries) - at `{path or '$'}`",
    )


def decode_transaction(data: bytes) -> Transaction | Rejection:
    """Decode canonical (msgpack) bytes into a transaction, or say exactly why not.

    msgpack cannot carry an integer out of range, so there is nothing to check after.
    """
    return _decode(_tx_msgpack, data, msgpack_deeper_than)


def decode_transaction_json(data: bytes | str) -> Transaction | Rejection:
    if isinstance(data, str):
        try:
            data = data.encode()
        except UnicodeError as exc:
            return Rejection(ErrorCode.MALFORMED_ENCODING, str(exc))
    decoded = _decode(_tx_json, data, json_deeper_than)
    if isinstance(decoded, Rejection):
        return decoded
    try:
        _msgpack_encoder.encode(decoded)
    except OverflowError:
        return _range_rejection(decoded)
    return decoded


def canonical_transaction(tx: Transaction) -> tuple[bytes, Transaction] | Rejection:
    """A transaction built in Python as the journal records it: its canonical bytes,
    and the transaction those bytes decode to, the one replay will apply; or why it
    cannot be recorded.

    msgspec does not check a Struct built in Python, so the bytes are decoded again
    with every boundary check: what is applied is exactly what replay reads back,
    and a value that does not encode (an integer beyond 64 bits, an object that is
    not a msgpack value, a lone surrogate) is refused instead of stopping the write.
    """
    try:
        data = _msgpack_encoder.encode(tx)
    except OverflowError:
        return _range_rejection(tx)
    except RecursionError:
        return _too_deep()
    except UnicodeError as exc:
        return Rejection(ErrorCode.MALFORMED_ENCODING, f"does not encode: {exc}")
    except (TypeError, ValueError) as exc:
        return Rejection(ErrorCode.WRONG_TYPE, f"does not encode: {exc}")
    decoded = decode_transaction(data)
    if isinstance(decoded, Rejection):
        return decoded
    return data, decoded


def decode_sequenced(data: bytes) -> Sequenced:
    """Decode a journaled transaction; the journal only holds what was valid when written."""
    return _sequenced_msgpack.decode(data)


def decode_outcome(data: bytes) -> Outcome:
    return _outcome_msgpack.decode(data)
