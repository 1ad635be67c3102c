"""The core's key-registration rules agree with the verifier's rule set, key by key.

`clearhouse.core.public_keys` restates, in the core's own integer arithmetic, the key
rules of `clearhouse.auth.ed25519` (which the core may not import). Every key of the
verifier's edge-case vectors, the torsion points, every non-canonical encoding and a
spread of random bytes is put to both: the core refuses a key exactly when the
verifier refuses every signature by it for the key's own sake.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.signing import SigningKey
from test_ed25519 import BASE, P, add, build_vectors, decode_lenient, encode_point, mul, scalar

from clearhouse.auth import SignatureRejection, rejection_reason
from clearhouse.auth.ed25519 import FIELD_PRIME, SMALL_ORDER_ENCODINGS
from clearhouse.core import public_keys
from clearhouse.core.public_keys import (
    NON_CANONICAL,
    OFF_CURVE,
    SMALL_ORDER,
    weak_key_kind,
    weak_key_problem,
)

_KEY_RULES = {
    SignatureRejection.KEY_NON_CANONICAL: NON_CANONICAL,
    SignatureRejection.KEY_SMALL_ORDER: SMALL_ORDER,
}

# A signature that passes every rule about itself (S canonical, R = [n]B canonical and
# of large order), so whatever the verifier says next is about the key.
_R = encode_point(mul(scalar("probe nonce"), BASE))
_PROBE = _R + (12345).to_bytes(32, "little")


def verifier_says(public_key: bytes) -> str | None:
    """What the verifier's rule set makes of the key alone: the key rule it breaks,
    OFF_CURVE if the key never decodes (rule 8 fails for every signature), else None."""
    reason = rejection_reason(public_key, b"probe", _PROBE)
    if reason in _KEY_RULES:
        return _KEY_RULES[reason]  # type: ignore[index]
    assert reason in (SignatureRejection.EQUATION, None), reason
    # Canonical and of large order: it decodes exactly when a curve point has this y.
    return OFF_CURVE if decode_lenient(public_key) is None else None


def edge_case_keys() -> list[bytes]:
    keys = {vector.public_key for vector in build_vectors() if len(vector.public_key) == 32}
    keys |= SMALL_ORDER_ENCODINGS
    for offset in range(19):  # every y >= p, both signs
        for sign in (0, 1):
            keys.add(((FIELD_PRIME + offset) | sign << 255).to_bytes(32, "little"))
    for y in (1, FIELD_PRIME - 1):  # x = 0 with the sign bit set
        keys.add((y | 1 << 255).to_bytes(32, "little"))
    for y in range(0, 40):  # small y, both signs: on and off the curve
        for sign in (0, 1):
            keys.add((y | sign << 255).to_bytes(32, "little"))
    return sorted(keys)


def test_the_core_restates_the_verifiers_constants() -> None:
    assert public_keys.FIELD_PRIME == FIELD_PRIME == P
    assert public_keys.SMALL_ORDER_ENCODINGS == SMALL_ORDER_ENCODINGS


@pytest.mark.parametrize("public_key", edge_case_keys(), ids=lambda key: key.hex()[:12])
def test_the_core_refuses_a_key_exactly_as_the_verifier_does(public_key: bytes) -> None:
    assert weak_key_kind(public_key) == verifier_says(public_key)


def test_the_edge_cases_reach_every_rule() -> None:
    """The table above cannot pass vacuously: each kind of refusal and acceptance occurs."""
    kinds = {weak_key_kind(key) for key in edge_case_keys()}
    assert kinds == {NON_CANONICAL, SMALL_ORDER, OFF_CURVE, None}


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_random_bytes_are_judged_alike(public_key: bytes) -> None:
    assert weak_key_kind(public_key) == verifier_says(public_key)


def test_honest_and_mixed_order_keys_are_accepted() -> None:
    """A key from a secret scalar verifies; so, about once in eight, does a key of mixed
    order, which is why registration lets it through like the verifier does."""
    for label in ("a", "b", "c"):
        honest = encode_point(mul(scalar(label), BASE))
        assert weak_key_kind(honest) is None
        assert crypto_core_ed25519_is_valid_point(honest)
        torsion = decode_lenient(sorted(SMALL_ORDER_ENCODINGS)[-1])
        assert torsion is not None
        mixed = encode_point(add(mul(scalar(label), BASE), torsion))
        assert weak_key_kind(mixed) is None
        assert not crypto_core_ed25519_is_valid_point(mixed)  # libsodium's stricter check


def test_a_key_libsodium_calls_valid_is_never_refused() -> None:
    for counter in range(200):
        seed = hashlib.sha256(b"%d" % counter).digest()
        public_key = bytes(SigningKey(seed).verify_key)
        assert weak_key_kind(public_key) is None


def test_the_problem_names_the_key_and_why() -> None:
    problem = weak_key_problem(bytes(32))
    assert problem is not None
    assert "small order" in problem and "00" * 32 in problem
    assert weak_key_problem(encode_point(BASE)) is None
