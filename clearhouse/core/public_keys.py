"""Which Ed25519 public keys may be registered: those a signature can verify under.

`clearhouse.auth.ed25519` states the rule set every signature is verified by. A key
that breaks one of its key rules fails every verification, whatever is signed, so
registering it (in the genesis, by AddSubKey or RotateSubKey, by governance's
GrantRole or RotateKey) would hand out a role nobody can use, or let an operator
believe a key is live when it is not. The core imports nothing outside itself, so
the key rules are restated here in integer arithmetic; tests/auth/test_public_key_rules.py
checks that the two agree on every edge-case vector of the verifier's tests.

A 32-byte key is refused, in this order, when it is:

1. not a canonical encoding: its y (the low 255 bits, little-endian) is not below
   p = 2^255 - 19, or x = 0 (y = 1 or y = p - 1) with the sign bit set
   (the verifier's rule 4, `KEY_NON_CANONICAL`);
2. one of the 8 points of small order (rule 5, `KEY_SMALL_ORDER`);
3. not a point of the curve: no x satisfies -x^2 + y^2 = 1 + d x^2 y^2 for its y,
   so it does not decode (the decoding half of rule 8).

A key of mixed order (a prime-order point plus a torsion point) passes: it verifies
a signature about once in eight messages, and telling it apart costs a scalar
multiplication the verifier does not make either.
"""

from __future__ import annotations

from typing import Final

KEY_BYTES: Final = 32
FIELD_PRIME: Final = 2**255 - 19
"""p: the prime of the field the curve is defined over."""

_CURVE_D: Final = -121665 * pow(121666, FIELD_PRIME - 2, FIELD_PRIME) % FIELD_PRIME
"""d = -121665/121666, the curve constant of edwards25519."""

_Y_MASK: Final = (1 << 255) - 1

SMALL_ORDER_ENCODINGS: Final = frozenset(
    bytes.fromhex(encoding)
    for encoding in (
        "0100000000000000000000000000000000000000000000000000000000000000",  # order 1
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  # order 2
        "0000000000000000000000000000000000000000000000000000000000000000",  # order 4
        "0000000000000000000000000000000000000000000000000000000000000080",  # order 4
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  # order 8
    )
)
"""Canonical encodings of the 8 points of order dividing 8 (used only for membership)."""

NON_CANONICAL: Final = "non_canonical"
SMALL_ORDER: Final = "small_order"
OFF_CURVE: Final = "off_curve"

_REASONS: Final = {
    NON_CANONICAL: "is not a canonical encoding of a point",
    SMALL_ORDER: "is a point of small order",
    OFF_CURVE: "is not a point of the curve",
}


def weak_key_kind(public_key: bytes) -> str | None:
    """Which rule a 32-byte key breaks (NON_CANONICAL, SMALL_ORDER, OFF_CURVE), or None."""
    value = int.from_bytes(public_key, "little")
    y = value & _Y_MASK
    if y >= FIELD_PRIME or (value >> 255 and (y == 1 or y == FIELD_PRIME - 1)):
        return NON_CANONICAL
    if public_key in SMALL_ORDER_ENCODINGS:
        return SMALL_ORDER
    # x^2 = (y^2 - 1) / (d y^2 + 1); the denominator never vanishes (d is not a square),
    # and a quotient is a square exactly when the product is: Euler's criterion on it.
    numerator = (y * y - 1) % FIELD_PRIME
    denominator = (_CURVE_D * y * y + 1) % FIELD_PRIME
    product = numerator * denominator % FIELD_PRIME
    if product and pow(product, (FIELD_PRIME - 1) // 2, FIELD_PRIME) != 1:
        return OFF_CURVE
    return None


def weak_key_problem(public_key: bytes) -> str | None:
    """A sentence saying why no signature by this 32-byte key can verify, or None."""
    kind = weak_key_kind(public_key)
    if kind is None:
        return None
    return f"the public key {public_key.hex()} {_REASONS[kind]}: no signature by it can verify"
