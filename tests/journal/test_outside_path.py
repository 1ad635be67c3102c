"""Liveness of the whole outside path: nothing that comes from outside stops the venue.

Arbitrary JSON and msgpack values, valid transactions with one field mutated (integers
beyond 64 bits, negative ones, deep nesting, long strings and bytes, wrong types) and
transactions built in Python with values msgpack cannot encode go through the path a
client's bytes take: decode, verify, journal (a real SqliteJournal), apply. Each is
either refused at the boundary with one of its codes, or journaled; and after each
example the next good, signed transaction is still acknowledged: accepted, and durable
in the store. Every so often the journal is reopened from its store and must arrive
at the same state (replay reads back what was recorded).

One journal serves the whole run, so the state that bad input meets keeps growing.
`make fuzz` runs this with the "fuzz" hypothesis profile (tests/conftest.py).
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from submit_kit import BTC, USD, JournalVenue

from clearhouse.core import (
    Deposit,
    ErrorCode,
    PlaceOrder,
    Rejected,
    Rejection,
    Side,
    Transaction,
    decode_transaction,
    decode_transaction_json,
)
from clearhouse.testing import default_signer_name

E = ErrorCode
BOUNDARY_CODES = {
    E.MALFORMED_ENCODING,
    E.WRONG_TYPE,
    E.MISSING_FIELD,
    E.UNKNOWN_FIELD,
    E.INVALID_VALUE,
    E.VALUE_OUT_OF_RANGE,
    E.NESTING_TOO_DEEP,
    E.MESSAGE_TOO_LARGE,
}
RECOVER_EVERY = 150
"""Entries between two reopenings of the journal (each replays what came since)."""


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> JournalVenue:
    venue = JournalVenue(tmp_path_factory.mktemp("outside"))
    venue.set_up()
    return venue


# -- what comes from outside ---------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["deposit", "place_order", "payload", "type", "alice", "USDC"])
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
_msgpack_values = st.recursive(
    _scalars.filter(lambda v: not isinstance(v, int) or -(2**63) <= v < 2**64)
    | st.binary(max_size=40)
    | st.builds(msgspec.msgpack.Ext, st.integers(-128, 127), st.binary(max_size=8)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)


def _nested(depth: int) -> object:
    return functools.reduce(lambda inner, _: [inner], range(depth), 0)


_ints = st.sampled_from(
    [2**64, 2**64 - 1, 2**63, -(2**63), -(2**63) - 1, 2**80, 10**30, -(10**30), -1, 0]
) | st.integers(-(2**70), 2**70)
_long_text = st.builds(str.__mul__, st.characters(), st.integers(200, 3_000))
_long_bytes = st.builds(bytes.__mul__, st.binary(min_size=1, max_size=2), st.integers(30, 3_000))
_wrong = st.one_of(
    st.floats(),
    st.none(),
    st.booleans(),
    st.text(max_size=30),
    st.binary(max_size=80),
    st.integers(1, 30).map(_nested),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.lists(st.integers(), max_size=3),
)
_nasty = st.one_of(_ints, _long_text, _long_bytes, _wrong)


def _instead_of(value: object) -> st.SearchStrategy[object]:
    """Mostly a value of the field's own kind, so it gets past the types and into the
    engine's checks; sometimes any."""
    if isinstance(value, int) and not isinstance(value, bool):
        own = _ints
    elif isinstance(value, str):
        own = _long_text | st.text(max_size=30)
    elif isinstance(value, bytes):
        own = _long_bytes | st.binary(max_size=40)
    else:
        return _nasty
    return st.integers(0, 3).flatmap(lambda pick: _nasty if pick == 0 else own)


BASES: list[dict[str, Any]] = [
    {"type": "deposit", "account": "alice", "asset": "USDC", "amount": USD},
    {"type": "withdraw", "account": "bob", "asset": "USDC", "amount": USD},
    {"type": "transfer", "source": "alice", "destination": "bob", "asset": "USDC", "amount": 1},
    {
        "type": "place_order",
        "account": "alice",
        "instrument": "BTC-PERP",
        "side": "buy",
        "size": 1,
        "price": BTC - 5 * USD,
    },
    {"type": "cancel_order", "account": "alice", "order_id": 4},
    {"type": "amend_order", "account": "bob", "order_id": 5, "size": 1},
    {"type": "cancel_all", "account": "bob"},
    {
        "type": "oracle_update",
        "index": "BTC-USD",
        "price": BTC,
        "observed_ns": 0,
        "expiries": [{"expiry_ns": 1, "atm_vol_ppm": 500_000}],
    },
    {
        "type": "set_mmp",
        "account": "alice",
        "index": "BTC-USD",
        "window_ns": 1,
        "quantity_max": 1,
        "delta_max": 1,
    },
    {"type": "add_sub_key", "account": "bob", "public_key": b"k" * 32, "scope": "trade"},
    {"type": "liquidate", "account": "alice"},
    {"type": "funding_tick", "instrument": "BTC-PERP"},
    {"type": "propose", "action": {"action": "set_risk_params", "instrument": "BTC-PERP"}},
    {"type": "approve", "proposal_id": 1},
]
ENVELOPE = ("signer", "nonce", "expires_at_ns", "signature")


@st.composite
def _mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with one field replaced, added or removed."""
    payload = dict(draw(st.sampled_from(BASES)))
    document: dict[str, Any] = {"payload": payload}
    where = draw(st.sampled_from(["payload"] * 4 + ["envelope", "nested", "unknown", "drop"]))
    if where == "payload":
        field = draw(st.sampled_from(sorted(payload)))
        payload[field] = draw(_instead_of(payload[field]))
    elif where == "envelope":
        document[draw(st.sampled_from(ENVELOPE))] = draw(_nasty)
    elif where == "nested" and "expiries" in payload:
        quote = draw(st.sampled_from(["expiry_ns", "atm_vol_ppm", "skew_ppm", "basis"]))
        payload["expiries"] = [{**payload["expiries"][0], quote: draw(_instead_of(0))}]
    elif where == "nested" and "action" in payload:
        payload["action"] = {**payload["action"], "initial_margin_bps": draw(_instead_of(0))}
    elif where == "unknown":
        payload[draw(st.text(min_size=1, max_size=10))] = draw(_nasty)
    elif where == "drop":
        del payload[draw(st.sampled_from(sorted(payload)))]
    return document


def _json_bytes(document: object) -> bytes:
    def default(value: object) -> str:
        if isinstance(value, bytes):
            return base64.b64encode(value).decode()
        raise TypeError(type(value).__name__)

    return json.dumps(document, default=default).encode()


def _msgpack_bytes(document: object) -> bytes | None:
    try:
        return msgspec.msgpack.encode(document)
    except OverflowError:
        return None  # an integer msgpack cannot carry: JSON only


Wire = tuple[bytes, Callable[[bytes], Transaction | Rejection]]


@st.composite
def _wire(draw: st.DrawFn) -> Wire:
    kind = draw(
        st.sampled_from(["json", "msgpack", "deep"] + ["mutated-json", "mutated-msgpack"] * 3)
    )
    if kind == "json":
        return _json_bytes(draw(_json_values)), decode_transaction_json
    if kind == "msgpack":
        return msgspec.msgpack.encode(draw(_msgpack_values)), decode_transaction
    if kind == "deep":  # far too deep for any encoder to build
        depth = draw(st.integers(9, 50_000))
        body = b"[" * depth + b"]" * depth
        return b'{"payload":{"x":' + body + b',"type":"deposit"}}', decode_transaction_json
    document = draw(_mutated())
    packed = _msgpack_bytes(document) if kind == "mutated-msgpack" else None
    if packed is not None:
        return packed, decode_transaction
    return _json_bytes(document), decode_transaction_json


@st.composite
def _python_built(draw: st.DrawFn, venue: JournalVenue) -> Transaction:
    """A signed transaction whose payload is then changed in Python, past the codec."""
    payload = draw(
        st.sampled_from(
            [
                Deposit("alice", "USDC", USD),
                PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=BTC - 5 * USD),
            ]
        )
    )
    field = draw(st.sampled_from(payload.__struct_fields__))
    value = draw(_nasty | st.sampled_from([object(), "\ud800", (1, 2), {1, 2}]))
    signed = venue.sign(payload)
    return msgspec.structs.replace(
        signed, payload=msgspec.structs.replace(payload, **{field: value})
    )


# -- the property ----------------------------------------------------------------------


def _admitted(venue: JournalVenue, wire: Wire, resign: bool) -> Transaction | None:
    """The decoded transaction (signed by its usual key if `resign`), or None when the
    boundary refused it with one of its codes."""
    raw, decode = wire
    decoded = decode(raw)
    if isinstance(decoded, Rejection):
        assert decoded.code in BOUNDARY_CODES, decoded
        assert decoded.message
        event(f"refused when decoding: {decoded.code.name}")
        return None
    if resign:
        try:
            by = default_signer_name(decoded.payload)
        except ValueError:
            return decoded
        return venue.sign(decoded.payload, by)
    return decoded


@given(data=st.data())
def test_nothing_from_outside_stops_the_journal(venue: JournalVenue, data: st.DataObject) -> None:
    bad: list[Transaction] = []
    for wire in data.draw(st.lists(_wire(), min_size=1, max_size=4), label="wire"):
        resign = data.draw(st.integers(0, 3), label="resign") > 0  # mostly: to reach the handlers
        tx = _admitted(venue, wire, resign)
        if tx is not None:
            bad.append(tx)
    bad += data.draw(st.lists(_python_built(venue), max_size=2), label="python")
    journal = venue.journal
    together = data.draw(st.booleans(), label="one batch")
    receipts = journal.submit([*bad, venue.good()] if together else bad)
    if not together:
        receipts += journal.submit([venue.good()])
    assert len(receipts) == len(bad) + 1
    for receipt in receipts[:-1]:
        outcome = receipt.outcome
        code = outcome.code.name if isinstance(outcome, Rejected) else "accepted"
        event(f"{'journaled' if receipt.journaled else 'refused by the journal'}: {code}")
        if receipt.journaled:
            stored = next(journal.store.read(receipt.seq, receipt.seq + 1))
            assert stored.chain_head == receipt.chain_head
        else:
            assert isinstance(receipt.outcome, Rejected)
            assert receipt.outcome.code in BOUNDARY_CODES, receipt.outcome
    venue.assert_acknowledged(receipts[-1])
    assert journal.store.size() == journal.engine.seq
    if journal.engine.seq - venue.recovered_at >= RECOVER_EVERY:
        venue.assert_recovers()
        venue.journal.snapshot()
        venue.recovered_at = venue.journal.engine.seq


def test_the_journal_recovers_after_the_run(venue: JournalVenue) -> None:
    """Whatever the property left in this module's journal replays to the same state."""
    venue.assert_recovers()
    venue.assert_acknowledged(venue.journal.submit([venue.good()])[0])


def test_the_path_refuses_a_2_64_deposit_and_goes_on(tmp_path: Path) -> None:
    """The case that stopped the journal: a JSON deposit of 2^64 units."""
    venue = JournalVenue(tmp_path)
    venue.set_up()
    raw = b'{"payload":{"type":"deposit","account":"alice","asset":"USDC","amount":%d}}' % 2**64
    refused = decode_transaction_json(raw)
    assert isinstance(refused, Rejection) and refused.code == E.VALUE_OUT_OF_RANGE
    assert "$.payload.amount" in refused.message
    venue.assert_acknowledged(venue.journal.submit([venue.good()])[0])
