"""The boundary's bounds: message size, nesting, integer range and field lengths, each
refused with its own code and the path to the field, and `canonical_transaction`, the
journal's admission of transactions built in Python.

The wire rows of tests/core/test_bad_input.py run the length and range bounds through
the engine as well; here are the bounds themselves and the nesting scanners, which are
compared with the depth of the decoded value.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearhouse.core import (
    Deposit,
    ErrorCode,
    ExpiryQuote,
    ListInstrument,
    OracleUpdate,
    PlaceOrder,
    Propose,
    Rejection,
    Side,
    Transaction,
    decode_transaction,
    decode_transaction_json,
    default_catalogue,
    encode,
)
from clearhouse.core.codec import (
    MESSAGE_BYTES_MAX,
    NESTING_DEPTH_MAX,
    canonical_transaction,
)
from clearhouse.core.nesting import json_deeper_than, msgpack_deeper_than

E = ErrorCode
DEPOSIT: dict[str, Any] = {
    "payload": {"type": "deposit", "account": "alice", "asset": "USDC", "amount": 10**9}
}


def _refused(result: Transaction | Rejection, code: ErrorCode, path: str | None = None) -> str:
    assert isinstance(result, Rejection), f"decoded: {result}"
    assert result.code == code, result.message
    if path is not None:
        assert f"`{path}`" in result.message, result.message
    return result.message


def _both(document: object) -> list[Transaction | Rejection]:
    return [
        decode_transaction_json(json.dumps(document).encode()),
        decode_transaction(msgspec.msgpack.encode(document)),
    ]


# -- message size ------------------------------------------------------------------


def test_a_message_over_the_size_bound_is_refused_unread() -> None:
    padded = json.dumps(DEPOSIT).encode()
    at_bound = padded + b" " * (MESSAGE_BYTES_MAX - len(padded))
    assert not isinstance(decode_transaction_json(at_bound), Rejection)
    message = _refused(decode_transaction_json(at_bound + b" "), E.MESSAGE_TOO_LARGE)
    assert str(MESSAGE_BYTES_MAX) in message
    # Unread: garbage beyond the bound gets the size's code, not the parser's.
    _refused(decode_transaction(b"\xc1" * (MESSAGE_BYTES_MAX + 1)), E.MESSAGE_TOO_LARGE)
    _refused(decode_transaction_json("x" * (MESSAGE_BYTES_MAX + 1)), E.MESSAGE_TOO_LARGE)


# -- nesting -----------------------------------------------------------------------


def _nested_json(depth: int, where: str) -> bytes:
    """A deposit with `depth` nested arrays in an unknown field (before the type tag,
    so msgspec skips it while it looks for the tag) or in the amount."""
    deep = b"[" * depth + b"]" * depth
    if where == "before-tag":
        return b'{"payload":{"x":' + deep + b',"type":"deposit"}}'
    return b'{"payload":{"type":"deposit","account":"a","asset":"USDC","amount":' + deep + b"}}"


def _nested_msgpack(depth: int, where: str) -> bytes:
    deep = b"\x91" * depth + b"\xc0"
    if where == "before-tag":
        return b"\x81\xa7payload\x82\xa1x" + deep + b"\xa4type\xa7deposit"
    head = msgspec.msgpack.encode({"type": "deposit", "account": "a", "asset": "USDC"})
    return b"\x81\xa7payload" + bytes([head[0] + 1]) + head[1:] + b"\xa6amount" + deep


@pytest.mark.parametrize("where", ["before-tag", "in-a-field"])
@pytest.mark.parametrize("encoding", ["json", "msgpack"])
def test_nesting_beyond_the_bound_is_refused_at_any_depth(encoding: str, where: str) -> None:
    """Two levels (document, payload) hold the nest: a nest of 6 stays within 8 and gets
    the schema's code; from 7 on, and however deep (no RecursionError escapes), the
    depth's code."""
    build, decode = (
        (_nested_json, decode_transaction_json)
        if encoding == "json"
        else (_nested_msgpack, decode_transaction)
    )
    within = decode(build(NESTING_DEPTH_MAX - 2, where))
    assert isinstance(within, Rejection)
    assert within.code in (E.UNKNOWN_FIELD, E.WRONG_TYPE), within
    for depth in (NESTING_DEPTH_MAX - 1, 1_000, 200_000):
        _refused(decode(build(depth, where)), E.NESTING_TOO_DEEP)


def test_brackets_inside_strings_are_not_nesting() -> None:
    document = json.dumps({**DEPOSIT, "memo": "[" * 50 + '\\"{' * 50}).encode()
    assert not json_deeper_than(document, NESTING_DEPTH_MAX)
    _refused(decode_transaction_json(document), E.UNKNOWN_FIELD)


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=40,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, [*value, *value.values()]), default=0)
    return 0


@given(_values, st.integers(0, 10))
def test_the_scanners_measure_the_depth_of_the_value(value: object, depth_max: int) -> None:
    deeper = _depth(value) > depth_max
    assert json_deeper_than(json.dumps(value).encode(), depth_max) == deeper
    packed = msgspec.msgpack.encode(value)
    assert msgpack_deeper_than(packed, depth_max) == deeper
    # Whatever follows a complete document is not part of its nesting.
    assert msgpack_deeper_than(packed + b"\x91" * 20, depth_max) == deeper


def test_the_msgpack_scanner_reads_every_item_kind() -> None:
    """Items of every size class between the arrays: the scanner steps over each."""
    items = [
        1.5,
        2**40,
        -(2**40),
        300,
        "s" * 40,
        "s" * 300,
        "s" * 70_000,
        b"b" * 300,
        b"b" * 70_000,
        msgspec.msgpack.Ext(1, b"x"),
        msgspec.msgpack.Ext(1, b"x" * 3),
        msgspec.msgpack.Ext(1, b"x" * 300),
        {"k": 1},
        list(range(20)),
    ]
    for item in items:
        shallow = msgspec.msgpack.encode([item, [[1]]])
        deep = msgspec.msgpack.encode([item, [[[[1]]]]])
        assert not msgpack_deeper_than(shallow, 3), item
        assert msgpack_deeper_than(deep, 3), item


# -- integer range -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "path"),
    [
        pytest.param(b'{"payload":{"type":"deposit","account":"a","asset":"USDC","amount":%d}}' % 2**64, "$.payload.amount", id="2**64"),
        pytest.param(b'{"payload":{"type":"deposit","account":"a","asset":"USDC","amount":%d}}' % (-(2**63) - 1), "$.payload.amount", id="-2**63-1"),
        pytest.param(b'{"payload":{"type":"cancel_all","account":"a"},"nonce":%d}' % 10**30, "$.nonce", id="nonce"),
        pytest.param(
            b'{"payload":{"type":"oracle_update","index":"BTC-USD","price":1,"observed_ns":1,'
            b'"expiries":[{"expiry_ns":1},{"expiry_ns":1,"basis":%d}]}}' % 2**70,
            "$.payload.expiries[1].basis",
            id="expiry-quote",
        ),
        pytest.param(b'{"payload":{"type":"deposit","account":"a","asset":"USDC","amount":1%s}}' % (b"0" * 5_000), "$.payload.amount", id="5000-digits"),
    ],
)  # fmt: skip
def test_an_integer_msgpack_cannot_carry_is_refused_with_its_path(
    document: bytes, path: str
) -> None:
    _refused(decode_transaction_json(document), E.VALUE_OUT_OF_RANGE, path)


def test_the_integers_msgpack_carries_are_decoded() -> None:
    for amount in (2**64 - 1, -(2**63)):
        decoded = decode_transaction_json(
            json.dumps({"payload": {**DEPOSIT["payload"], "amount": amount}})
        )
        assert isinstance(decoded, Transaction) and decoded.payload.amount == amount  # type: ignore[union-attr]


def test_an_instrument_spec_is_range_checked_too() -> None:
    spec = msgspec.to_builtins(default_catalogue()[0])
    document = {
        "payload": {
            "type": "propose",
            "action": {"action": "list_instrument", "instrument": {**spec, "tick_size": 2**64}},
        }
    }
    _refused(
        decode_transaction_json(json.dumps(document)),
        E.VALUE_OUT_OF_RANGE,
        "$.payload.action.instrument.tick_size",
    )


# -- lengths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        pytest.param({"payload": {**DEPOSIT["payload"], "account": "a" * 257}}, "$.payload.account", id="account"),
        pytest.param({"signer": b"k" * 33}, "$.signer", id="signer"),
        pytest.param({"signature": b"s" * 65}, "$.signature", id="signature"),
    ],
)  # fmt: skip
def test_a_field_beyond_its_length_is_refused_with_its_path(
    changes: dict[str, object], path: str
) -> None:
    document = {**DEPOSIT, **changes}
    _refused(decode_transaction(msgspec.msgpack.encode(document)), E.VALUE_OUT_OF_RANGE, path)


# -- canonical_transaction: the journal's admission --------------------------------


def _deposit(**changes: object) -> Transaction:
    payload = msgspec.structs.replace(Deposit("alice", "USDC", 10**9), **changes)
    return Transaction(payload, nonce=1, expires_at_ns=2)


def test_a_valid_transaction_is_admitted_as_its_own_bytes() -> None:
    tx = _deposit()
    admitted = canonical_transaction(tx)
    assert admitted == (encode(tx), tx)


@pytest.mark.parametrize(
    ("tx", "code", "path"),
    [
        pytest.param(_deposit(amount=2**64), E.VALUE_OUT_OF_RANGE, "$.payload.amount", id="2**64"),
        pytest.param(
            Transaction(OracleUpdate("BTC-USD", 1, 1, (ExpiryQuote(1, basis=-(2**70)),))),
            E.VALUE_OUT_OF_RANGE,
            "$.payload.expiries[0].basis",
            id="nested-int",
        ),
        pytest.param(_deposit(amount=object()), E.WRONG_TYPE, None, id="not-msgpack"),
        pytest.param(_deposit(amount=1.5), E.WRONG_TYPE, "$.payload.amount", id="float"),
        pytest.param(_deposit(account="\ud800"), E.MALFORMED_ENCODING, None, id="lone-surrogate"),
        pytest.param(_deposit(account="a" * 257), E.VALUE_OUT_OF_RANGE, "$.payload.account", id="long-str"),
        pytest.param(
            Transaction(Propose(ListInstrument(msgspec.structs.replace(default_catalogue()[0], tick_size=2**65)))),
            E.VALUE_OUT_OF_RANGE,
            "$.payload.action.instrument.tick_size",
            id="instrument-spec",
        ),
    ],
)  # fmt: skip
def test_a_transaction_the_journal_cannot_record_is_refused(
    tx: Transaction, code: ErrorCode, path: str | None
) -> None:
    admitted = canonical_transaction(tx)
    assert isinstance(admitted, Rejection), admitted
    _refused(admitted, code, path)


def test_a_value_that_contains_itself_is_too_deep() -> None:
    loop: list[object] = []
    loop.append(loop)
    tx = Transaction(OracleUpdate("BTC-USD", 1, 1, loop))  # type: ignore[arg-type]
    _refused(canonical_transaction(tx), E.NESTING_TOO_DEEP)


def test_what_is_admitted_is_what_replay_reads() -> None:
    """A str where an enum belongs encodes to the enum's bytes: the admitted
    transaction holds the enum, as the journal's bytes do when read back."""
    tx = Transaction(PlaceOrder("alice", "BTC-PERP", "buy", 1, price=10**11))  # type: ignore[arg-type]
    admitted = canonical_transaction(tx)
    assert not isinstance(admitted, Rejection)
    data, decoded = admitted
    assert decoded.payload.side is Side.BUY  # type: ignore[union-attr]
    assert decode_transaction(data) == decoded and encode(decoded) == data
