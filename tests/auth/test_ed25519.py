"""The Ed25519 rule set accepts and rejects exactly what its docstring says.

Every adversarial vector here is built in this file with a small pure-Python Edwards
reference (below), rather than copied: a signature that satisfies the bare group
equation but breaks one rule shows the rule, not the library, is doing the
rejecting. Each vector names the rule it must fail (or None for valid), and the same
table is checked three ways: our `verify`, libsodium alone, and pyca `cryptography`
behind our encoding checks, so the rule set is shown to be library-independent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from clearhouse.auth import SignatureRejection, rejection_reason, verify
from clearhouse.auth.ed25519 import (
    FIELD_PRIME,
    GROUP_ORDER,
    SMALL_ORDER_ENCODINGS,
    _check_encodings,
    _equation_holds,
)

# -- a pure-Python Edwards25519 reference (tests only; slow, not constant time) --

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z
IDENTITY: Point = (0, 1, 1, 0)


def add(p1: Point, p2: Point) -> Point:
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * t1 * t2 * D % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def mul(scalar: int, point: Point) -> Point:
    result = IDENTITY
    while scalar:
        if scalar & 1:
            result = add(result, point)
        point = add(point, point)
        scalar >>= 1
    return result


def neg(point: Point) -> Point:
    x, y, z, t = point
    return (-x % P, y, z, -t % P)


def same(p1: Point, p2: Point) -> bool:
    return (p1[0] * p2[2] - p2[0] * p1[2]) % P == 0 and (p1[1] * p2[2] - p2[1] * p1[2]) % P == 0


def encode_point(point: Point) -> bytes:
    x, y, z, _ = point
    z_inv = pow(z, P - 2, P)
    x, y = x * z_inv % P, y * z_inv % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def x_from_y(y: int, sign: int) -> int | None:
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    return P - x if (x & 1) != sign and x else x


def decode_lenient(encoding: bytes) -> Point | None:
    """Decode as the most permissive verifiers do: y taken mod p, a sign bit on x = 0 ignored."""
    value = int.from_bytes(encoding, "little")
    y = (value & ((1 << 255) - 1)) % P
    x = x_from_y(y, value >> 255)
    return None if x is None else (x, y, 1, x * y % P)


BASE_Y = 4 * pow(5, P - 2, P) % P
BASE: Point = (x_from_y(BASE_Y, 0) or 0, BASE_Y, 1, (x_from_y(BASE_Y, 0) or 0) * BASE_Y % P)


def challenge(r: bytes, a: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + a + message).digest(), "little") % L


def equation_holds(public_key: bytes, message: bytes, signature: bytes, cofactor: int = 1) -> bool:
    """[c][S]B == [c]R + [c][k]A with lenient decoding and S unreduced: the bare equation."""
    a, r = decode_lenient(public_key), decode_lenient(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    k = challenge(signature[:32], public_key, message)
    return same(mul(cofactor, mul(s, BASE)), mul(cofactor, add(r, mul(k, a))))


def order(point: Point) -> int:
    return next(n for n in (1, 2, 4, 8, L, 2 * L, 4 * L, 8 * L) if same(mul(n, point), IDENTITY))


def scalar(label: str) -> int:
    return int.from_bytes(hashlib.sha512(label.encode()).digest(), "little") % L


def sign_with_scalar(a: int, public_key: bytes, message: bytes, nonce: int) -> bytes:
    """A Schnorr signature with secret scalar `a` over an arbitrary encoded key (which may
    be a mixed-order point aB + T): R = [nonce]B, S = nonce + k*a mod L."""
    r = encode_point(mul(nonce, BASE))
    s = (nonce + challenge(r, public_key, message) * a) % L
    return r + s.to_bytes(32, "little")


# -- the torsion constants ----------------------------------------------------------


def torsion_points() -> list[Point]:
    """[L]Q for curve points Q from small y: the prime-order part removed, only torsion left."""
    found: dict[bytes, Point] = {}
    for y in range(2, 60):
        for sign in (0, 1):
            q = decode_lenient((y | sign << 255).to_bytes(32, "little"))
            if q is not None:
                t = mul(L, q)
                found[encode_point(t)] = t
    return list(found.values())


def test_the_hard_coded_small_order_encodings_are_exactly_the_eight_torsion_points() -> None:
    points = torsion_points()
    assert {encode_point(t) for t in points} == SMALL_ORDER_ENCODINGS
    assert len(SMALL_ORDER_ENCODINGS) == 8
    assert sorted(order(t) for t in points) == [1, 2, 4, 4, 8, 8, 8, 8]
    for encoding in SMALL_ORDER_ENCODINGS:
        point = decode_lenient(encoding)
        assert point is not None and same(mul(8, point), IDENTITY)
        assert encode_point(point) == encoding  # canonical


def test_the_module_constants_are_the_curve_constants() -> None:
    assert FIELD_PRIME == P and GROUP_ORDER == L
    assert order(BASE) == L
    assert encode_point(BASE).hex() == "58" + "66" * 31


# -- the vectors ---------------------------------------------------------------------

RFC_8032 = [  # section 7.1, TESTs 1 to 3: (secret seed, public key, message, signature)
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555f"
        "b8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da08"
        "5ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18"
        "ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@dataclass(frozen=True)
class Vector:
    name: str
    public_key: bytes
    message: bytes
    signature: bytes
    expected: SignatureRejection | None
    bare_equation: bool | None = None
    """What the bare (lenient, cofactorless) equation says, where the case is about it."""


def _le(value: int) -> bytes:
    return value.to_bytes(32, "little")


def _message_with_challenge(public_key: bytes, r: bytes, accept: int, modulus: int) -> bytes:
    """A message whose challenge k for (R, A) is `accept` mod `modulus` (searched)."""
    counter = 0
    while True:
        message = b"search %d" % counter
        if challenge(r, public_key, message) % modulus == accept:
            return message
        counter += 1


def build_vectors() -> Iterator[Vector]:
    for number, (_, public_hex, message_hex, signature_hex) in enumerate(RFC_8032, 1):
        yield Vector(
            f"rfc8032 test {number}",
            bytes.fromhex(public_hex),
            bytes.fromhex(message_hex),
            bytes.fromhex(signature_hex),
            None,
            True,
        )

    a = scalar("honest key")
    key = encode_point(mul(a, BASE))
    message = b"clearhouse edge cases"
    good = sign_with_scalar(a, key, message, scalar("nonce 1"))
    r_good, s_good = good[:32], int.from_bytes(good[32:], "little")
    yield Vector("honest signature", key, message, good, None, True)
    yield Vector("wrong message", key, message + b"!", good, SignatureRejection.EQUATION, False)
    other_key = encode_point(mul(scalar("other key"), BASE))
    yield Vector("another key", other_key, message, good, SignatureRejection.EQUATION, False)

    # S: canonical means S < L. S + L is the classic malleation: the equation still holds.
    non_canonical = SignatureRejection.S_NON_CANONICAL
    yield Vector("S = L", key, message, r_good + _le(L), non_canonical)
    yield Vector("S + L", key, message, r_good + _le(s_good + L), non_canonical, True)
    yield Vector("S + 8L", key, message, r_good + _le(s_good + 8 * L), non_canonical, True)
    yield Vector("S = 2^256 - 1", key, message, r_good + b"\xff" * 32, non_canonical)
    yield Vector(
        "S = L - 1 passes rule 3", key, message, r_good + _le(L - 1), SignatureRejection.EQUATION
    )

    # Small-order keys, each with a signature the bare equation accepts: R = [r]B, S = r,
    # and a message whose k is a multiple of the key's order, so [k]A = 0.
    for index, torsion in enumerate(sorted(SMALL_ORDER_ENCODINGS)):
        t_order = order(decode_lenient(torsion) or IDENTITY)
        nonce = scalar(f"small key {index}")
        r = encode_point(mul(nonce, BASE))
        forged_message = _message_with_challenge(torsion, r, 0, t_order)
        yield Vector(
            f"small-order key {torsion.hex()[:8]} (order {t_order})",
            torsion,
            forged_message,
            r + _le(nonce),
            SignatureRejection.KEY_SMALL_ORDER,
            True,
        )

    # Small-order R. With R = identity and S = k*a the bare equation holds.
    identity = _le(1)
    s_forged = challenge(identity, key, message) * a % L
    yield Vector(
        "R = identity",
        key,
        message,
        identity + _le(s_forged),
        SignatureRejection.R_SMALL_ORDER,
        True,
    )
    for torsion in sorted(SMALL_ORDER_ENCODINGS):
        yield Vector(
            f"small-order R {torsion.hex()[:8]}",
            key,
            message,
            torsion + _le(s_good),
            SignatureRejection.R_SMALL_ORDER,
        )

    # Non-canonical keys: y >= p (all 19 values, both signs), and x = 0 with the sign bit.
    for offset in range(19):
        for sign in (0, 1):
            encoding = _le((P + offset) | sign << 255)
            yield Vector(
                f"key y = p + {offset}, sign {sign}",
                encoding,
                message,
                good,
                SignatureRejection.KEY_NON_CANONICAL,
            )
    for name, encoding in (
        ("key p + 1 (identity, y >= p)", _le(P + 1)),
        ("key identity with sign bit", _le(1 | 1 << 255)),
        ("key y = p - 1 with sign bit", _le(P - 1 | 1 << 255)),
    ):
        nonce = scalar("non-canonical key " + name)
        r = encode_point(mul(nonce, BASE))
        # These decode (leniently) to a point of order 1 or 2: make k even, so [k]A = 0.
        forged_message = _message_with_challenge(encoding, r, 0, 2)
        yield Vector(
            name + ", bare equation holds",
            encoding,
            forged_message,
            r + _le(nonce),
            SignatureRejection.KEY_NON_CANONICAL,
            True,
        )

    # Non-canonical R: encodings of the identity that are not its canonical one; with
    # S = k*a the bare equation holds, because R decodes leniently to the identity.
    for name, r in (("R = p + 1", _le(P + 1)), ("R identity with sign bit", _le(1 | 1 << 255))):
        s_forged = challenge(r, key, message) * a % L
        yield Vector(
            name, key, message, r + _le(s_forged), SignatureRejection.R_NON_CANONICAL, True
        )
    yield Vector(
        "R = p + 5", key, message, _le(P + 5) + _le(s_good), SignatureRejection.R_NON_CANONICAL
    )

    # Encodings that are canonical but not on the curve: rule 8 (decoding is part of it).
    off_curve = next(y for y in range(2, 100) if x_from_y(y, 0) is None)
    yield Vector("key off the curve", _le(off_curve), message, good, SignatureRejection.EQUATION)
    yield Vector(
        "R off the curve",
        key,
        message,
        _le(off_curve) + _le(s_good),
        SignatureRejection.EQUATION,
        False,
    )

    # Mixed-order key A = [a]B + T8: no rule of its own; the cofactorless equation decides.
    t8 = next(t for t in torsion_points() if order(t) == 8)
    mixed = encode_point(add(mul(a, BASE), t8))
    nonce = scalar("mixed nonce")
    r = encode_point(mul(nonce, BASE))
    k_multiple_of_8 = _message_with_challenge(mixed, r, 0, 8)
    k_not_multiple = _message_with_challenge(mixed, r, 3, 8)
    yield Vector(
        "mixed-order key, k = 0 mod 8: accepted",
        mixed,
        k_multiple_of_8,
        sign_with_scalar(a, mixed, k_multiple_of_8, nonce),
        None,
        True,
    )
    yield Vector(
        "mixed-order key, k = 3 mod 8: cofactored-only, rejected",
        mixed,
        k_not_multiple,
        sign_with_scalar(a, mixed, k_not_multiple, nonce),
        SignatureRejection.EQUATION,
        False,
    )
    # Mixed-order key and mixed-order R = [r]B - T8 whose torsion cancels when k = 1 mod 8.
    r_mixed = encode_point(add(mul(nonce, BASE), neg(t8)))
    cancelling = _message_with_challenge(mixed, r_mixed, 1, 8)
    s_mixed = (nonce + challenge(r_mixed, mixed, cancelling) * a) % L
    yield Vector(
        "mixed-order key and R, torsion cancels: accepted",
        mixed,
        cancelling,
        r_mixed + _le(s_mixed),
        None,
        True,
    )

    # Lengths and zeros.
    lengths = (
        ("signature truncated", key, good[:63], SignatureRejection.SIGNATURE_LENGTH),
        ("signature extended", key, good + b"\x00", SignatureRejection.SIGNATURE_LENGTH),
        ("signature empty", key, b"", SignatureRejection.SIGNATURE_LENGTH),
        ("key truncated", key[:31], good, SignatureRejection.KEY_LENGTH),
        ("key extended", key + b"\x00", good, SignatureRejection.KEY_LENGTH),
        ("key empty", b"", good, SignatureRejection.KEY_LENGTH),
        ("all-zero key", bytes(32), good, SignatureRejection.KEY_SMALL_ORDER),
        ("all-zero signature", key, bytes(64), SignatureRejection.R_SMALL_ORDER),
        ("all-zero key and signature", bytes(32), bytes(64), SignatureRejection.KEY_SMALL_ORDER),
    )
    for name, public_key, signature, expected in lengths:
        yield Vector(name, public_key, message, signature, expected)
    yield Vector(
        "all zero, empty message", bytes(32), b"", bytes(64), SignatureRejection.KEY_SMALL_ORDER
    )


VECTORS = list(build_vectors())


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_each_vector_is_accepted_or_rejected_by_the_rule_it_names(vector: Vector) -> None:
    assert rejection_reason(vector.public_key, vector.message, vector.signature) is vector.expected
    assert verify(vector.public_key, vector.message, vector.signature) is (vector.expected is None)
    if vector.bare_equation is not None:
        # The case is what it claims: the bare equation holds for the forgeries.
        bare = equation_holds(vector.public_key, vector.message, vector.signature)
        assert bare is vector.bare_equation


def test_the_mixed_order_key_that_is_rejected_passes_the_cofactored_equation() -> None:
    vector = next(v for v in VECTORS if v.name.startswith("mixed-order key, k = 3"))
    assert equation_holds(vector.public_key, vector.message, vector.signature, cofactor=8)


def _cryptography_equation(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


SIZED = [v for v in VECTORS if len(v.public_key) == 32 and len(v.signature) == 64]


@pytest.mark.parametrize("vector", SIZED, ids=[v.name for v in SIZED])
def test_libsodium_alone_agrees_with_the_rule_set(vector: Vector) -> None:
    """PyNaCl is fit for rule 8: on its own it already rejects what rules 3-7 reject."""
    accepted = _equation_holds(vector.public_key, vector.message, vector.signature)
    assert accepted is (vector.expected is None)


@pytest.mark.parametrize("vector", SIZED, ids=[v.name for v in SIZED])
def test_cryptography_behind_the_encoding_checks_agrees_with_the_rule_set(vector: Vector) -> None:
    """The rule set is library-independent: OpenSSL for rule 8 gives the same answers."""
    failed = _check_encodings(vector.public_key, vector.signature)
    accepted = failed is None and _cryptography_equation(
        vector.public_key, vector.message, vector.signature
    )
    assert accepted is (vector.expected is None)


@pytest.mark.parametrize("seed_hex,public_hex,message_hex,signature_hex", RFC_8032)
def test_rfc_8032_vectors_are_rederived_by_the_signer_library(
    seed_hex: str, public_hex: str, message_hex: str, signature_hex: str
) -> None:
    private_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert public_key.hex() == public_hex
    assert private_key.sign(bytes.fromhex(message_hex)).hex() == signature_hex


@pytest.mark.parametrize(
    "public_key,message,signature",
    [
        (None, b"", bytes(64)),
        ("d75a98", b"", bytes(64)),
        (bytes(32), "message", bytes(64)),
        (bytearray(32), b"", bytes(64)),
        (bytes(32), b"", memoryview(bytes(64))),
        (bytes(32), b"", 0),
    ],
)
def test_input_of_the_wrong_type_is_rejected_without_raising(
    public_key: object, message: object, signature: object
) -> None:
    assert rejection_reason(public_key, message, signature) is SignatureRejection.NOT_BYTES
    assert verify(public_key, message, signature) is False  # type: ignore[arg-type]


# -- no single-byte change is ever accepted ---------------------------------------------

_PRIVATE = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
_KEY = _PRIVATE.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
_MESSAGE = b"clearhouse/tx/v1\x00venue\x00place_order\x00" + bytes(range(48))
_SIGNATURE = _PRIVATE.sign(_MESSAGE)
_TRIPLE = _KEY + _MESSAGE + _SIGNATURE


def test_the_unmutated_triple_is_valid() -> None:
    assert verify(_KEY, _MESSAGE, _SIGNATURE)


@settings(max_examples=400)
@given(
    position=st.integers(min_value=0, max_value=len(_TRIPLE) - 1),
    delta=st.integers(min_value=1, max_value=255),
)
def test_changing_any_one_byte_of_key_message_or_signature_is_never_accepted(
    position: int, delta: int
) -> None:
    mutated = bytearray(_TRIPLE)
    mutated[position] = (mutated[position] + delta) % 256
    data = bytes(mutated)
    key = data[:32]
    message = data[32 : 32 + len(_MESSAGE)]
    signature = data[32 + len(_MESSAGE) :]
    assert not verify(key, message, signature)
