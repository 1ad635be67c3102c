"""No single-byte change to a signed transaction yields a transaction the venue accepts.

Valid signed transactions of several kinds (an order, a withdrawal, a deposit, a
price update, a governance proposal) are encoded canonically (`codec.encode`); one
byte at any position is set to any other value; the bytes are decoded at the
boundary (`codec.decode_transaction`: undecodable bytes are rejected there, which
is fine) and whatever decodes is submitted, its signature verified for real.

Two venues are built identically. On `fresh`, none of the originals has been
applied, so each would be accepted there: a mutation that decodes to a different
transaction must still be refused, by authentication (signer, signature, envelope
types), with the state digest unchanged. A mutation may also decode to the very
transaction that was signed (msgpack has several encodings of one integer: a
uint64 marker turned into int64 decodes to the same value); that is not a new
transaction but the signed one again, so it goes to `used`, where the originals
have been accepted, and must be refused as a replay. Either way a mutation is never
accepted.

The signature bytes and the signer's key bytes are also mutated directly in the
decoded envelope.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from security_kit import (
    BID,
    accept_tx,
    bid,
    build_venue,
    craft,
    with_fields,
)

from clearhouse.core import (
    Deposit,
    ErrorCode,
    OracleUpdate,
    Propose,
    Rejected,
    Rejection,
    Role,
    Transaction,
    Withdraw,
)
from clearhouse.core.codec import decode_transaction, encode
from clearhouse.core.txs import GrantRole
from clearhouse.testing import TestVenue, signer_for

E = ErrorCode

DECODING_CODES = frozenset(
    {
        E.MALFORMED_ENCODING,
        E.WRONG_TYPE,
        E.MISSING_FIELD,
        E.UNKNOWN_FIELD,
        E.INVALID_VALUE,
        E.VALUE_OUT_OF_RANGE,  # a length byte flipped: a signer or signature too long
        E.NESTING_TOO_DEEP,
    }
)
AUTHENTICATION_CODES = frozenset(
    {
        E.BAD_SIGNATURE,  # anything signed changed, or the signature itself
        E.UNKNOWN_SIGNER,  # the signer's key changed
        E.WRONG_TYPE,  # envelope field types, checked before authorization
        E.INVALID_VALUE,  # an envelope integer outside 0..2^63-1
    }
)
"""A forged transaction stops at authentication, never at a later business check."""


class Scene(NamedTuple):
    fresh: TestVenue
    used: TestVenue
    originals: tuple[Transaction, ...]
    encodings: tuple[bytes, ...]
    fresh_digest: bytes


@functools.cache
def scene() -> Scene:
    """Built once: rejections change no state, so every example may share the venues."""
    fresh, used = build_venue(), build_venue()
    assert fresh.engine.digest() == used.engine.digest()
    originals = (
        craft(fresh, bid("alice", size=3, price=BID, client_order_id="c-1"), "alice"),
        craft(fresh, Withdraw("bob", "USDC", 123_456_789), "bob"),
        craft(fresh, Deposit("ali", "USDC", 10**12), "custody"),
        craft(fresh, OracleUpdate("BTC-USD", 101_234_567_890, fresh.now_ns), "oracle"),
        craft(
            fresh,
            Propose(GrantRole(signer_for("newmm").public_key(), "newmm", Role.MARKET_MAKER)),
            "gov-a",
        ),
    )
    used.now_ns = fresh.now_ns
    for tx in originals:
        accept_tx(used, tx)
    encodings = tuple(encode(tx) for tx in originals)
    for tx, data in zip(originals, encodings, strict=True):
        assert decode_transaction(data) == tx
    return Scene(fresh, used, originals, encodings, fresh.engine.digest())


def never_accepted(venue: TestVenue, tx: Transaction, codes: frozenset[ErrorCode]) -> Rejected:
    before = venue.engine.digest()
    outcome = venue.submit(tx)
    assert isinstance(outcome, Rejected), f"a mutated transaction was accepted: {outcome}"
    assert outcome.code in codes, outcome
    assert venue.engine.digest() == before
    return outcome


def check_mutation(index: int, position: int, value: int) -> None:
    s = scene()
    original, data = s.originals[index], s.encodings[index]
    assert data[position] != value
    mutated = data[:position] + bytes([value]) + data[position + 1 :]
    decoded = decode_transaction(mutated)
    if isinstance(decoded, Rejection):
        assert decoded.code in DECODING_CODES, decoded
        return
    if decoded == original:
        # The signed transaction itself, in a non-canonical encoding: only a replay.
        assert encode(decoded) == data
        never_accepted(s.used, decoded, frozenset({E.NONCE_REUSED}))
    else:
        never_accepted(s.fresh, decoded, AUTHENTICATION_CODES)
    assert s.fresh.engine.digest() == s.fresh_digest


@st.composite
def byte_mutations(draw: st.DrawFn) -> tuple[int, int, int]:
    index = draw(st.integers(0, len(scene().originals) - 1))
    data = scene().encodings[index]
    position = draw(st.integers(0, len(data) - 1))
    value = draw(st.integers(0, 255).filter(lambda v: v != data[position]))
    return index, position, value


@settings(max_examples=500)
@given(byte_mutations())
def test_a_single_mutated_byte_is_never_accepted(mutation: tuple[int, int, int]) -> None:
    check_mutation(*mutation)


def test_every_byte_position_flipped_is_never_accepted() -> None:
    """Every position of every original, with a few values each: no position is missed."""
    s = scene()
    for index, data in enumerate(s.encodings):
        for position, byte in enumerate(data):
            for value in {byte ^ 0x01, byte ^ 0x80, byte ^ 0xFF, (byte + 1) % 256}:
                check_mutation(index, position, value)
    s.fresh.engine.check_invariants()
    s.used.engine.check_invariants()


def test_a_non_canonical_integer_encoding_is_the_signed_transaction_itself() -> None:
    """uint64 -> int64 marker on the expiry: same value, same transaction, a replay at most."""
    s = scene()
    data = s.encodings[1]
    expiry = msgspec.msgpack.encode(s.originals[1].expires_at_ns)
    assert expiry[0] == 0xCF
    position = data.index(expiry)
    mutated = data[:position] + b"\xd3" + data[position + 1 :]
    assert mutated != data
    assert decode_transaction(mutated) == s.originals[1]
    check_mutation(1, position, 0xD3)


@settings(max_examples=200)
@given(
    index=st.integers(0, 4),
    changes=st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_a_mutated_signature_is_never_accepted(index: int, changes: list[tuple[int, int]]) -> None:
    s = scene()
    original = s.originals[index]
    signature = bytearray(original.signature)
    for position, value in changes:
        signature[position] = value
    if bytes(signature) == original.signature:
        return
    mutated = with_fields(original, signature=bytes(signature))
    never_accepted(s.fresh, mutated, frozenset({E.BAD_SIGNATURE}))
    assert s.fresh.engine.digest() == s.fresh_digest


@settings(max_examples=200)
@given(
    index=st.integers(0, 4),
    changes=st.lists(st.tuples(st.integers(0, 31), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_a_mutated_signer_key_is_never_accepted(index: int, changes: list[tuple[int, int]]) -> None:
    s = scene()
    original = s.originals[index]
    signer = bytearray(original.signer)
    for position, value in changes:
        signer[position] = value
    if bytes(signer) == original.signer:
        return
    mutated = with_fields(original, signer=bytes(signer))
    never_accepted(s.fresh, mutated, frozenset({E.UNKNOWN_SIGNER}))
    assert s.fresh.engine.digest() == s.fresh_digest


@settings(max_examples=100)
@given(index=st.integers(0, 4), other=st.integers(0, 4))
def test_a_signature_swapped_between_transactions_is_never_accepted(index: int, other: int) -> None:
    s = scene()
    if index == other:
        return
    original = s.originals[index]
    swapped = with_fields(original, signature=s.originals[other].signature)
    never_accepted(s.fresh, swapped, frozenset({E.BAD_SIGNATURE}))


def test_the_originals_are_accepted_on_a_venue_like_fresh() -> None:
    """The control: unmutated, every original is accepted (as it was on `used`)."""
    s = scene()
    twin = build_venue()
    twin.now_ns = s.fresh.now_ns
    assert twin.engine.digest() == s.fresh_digest
    for data in s.encodings:
        decoded = decode_transaction(data)
        assert not isinstance(decoded, Rejection)
        accept_tx(twin, decoded)
