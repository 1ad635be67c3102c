"""The boundary: canonical bytes in and out, with decoding errors as rejections.

The canonical encoding is msgpack via msgspec, fields in declaration order; it is
what is signed, hashed and journaled. JSON is accepted for people and tools. A
decoding failure maps to one error code per kind of fault, and keeps msgspec's
path to the field (`$.payload.size`) in the message.
"""

from __future__ import annotations

import msgspec

from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.outcomes import Outcome
from clearhouse.core.txs import Sequenced, Transaction

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
    return ErrorCode.INVALID_VALUE


def _decode(
    decoder: msgspec.msgpack.Decoder[Transaction] | msgspec.json.Decoder[Transaction], data: bytes
) -> Transaction | Rejection:
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        return Rejection(_classify(exc), str(exc))
    except (msgspec.DecodeError, UnicodeError) as exc:
        return Rejection(ErrorCode.MALFORMED_ENCODING, str(exc))


def decode_transaction(data: bytes) -> Transaction | Rejection:
    """Decode canonical (msgpack) bytes into a transaction, or say exactly why not."""
    return _decode(_tx_msgpack, data)


def decode_transaction_json(data: bytes | str) -> Transaction | Rejection:
    if isinstance(data, str):
        try:
            data = data.encode()
        except UnicodeError as exc:
            return Rejection(ErrorCode.MALFORMED_ENCODING, str(exc))
    return _decode(_tx_json, data)


def decode_sequenced(data: bytes) -> Sequenced:
    """Decode a journaled transaction; the journal only holds what was valid when written."""
    return _sequenced_msgpack.decode(data)


def decode_outcome(data: bytes) -> Outcome:
    return _outcome_msgpack.decode(data)
