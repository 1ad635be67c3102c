"""Checkpoints as C2SP tlog-checkpoint signed notes: format, verification, refusals.

Known-answer vectors come from golang.org/x/mod/sumdb/note (note_test.go: the
PeterNeumann key with its seed, a note it signed, the EnochRoot verifier and
signature) and transparency-dev/formats (log/note_test.go: the "Log" key with its
seed, and a real sum.golang.org checkpoint with that log's verifier key). The byte-for-
byte checkpoint example is built by hand from the specs, with pyca/cryptography for the
signature and hashlib for the key id, independently of the module under test.
"""

from __future__ import annotations

import base64
import hashlib

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from clearhouse.auth.signing import Ed25519Signer
from clearhouse.journal.checkpoint import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    CheckpointErrorCode,
    CheckpointSigner,
    NoteVerifier,
    checkpoint_body,
    key_id,
    note_signature_line,
    open_note,
    parse_checkpoint_body,
    parse_signed_checkpoint,
    sign_checkpoint,
    sign_note,
    time_extension,
)

EM_DASH = "\u2014".encode()

# golang.org/x/mod/sumdb/note note_test.go
PETER_SKEY_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # 0x01 || seed
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
PETER_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
).encode()
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oO"
    "TGwnWLox33WWd1RvMc+QQ=\n"
).encode()

# transparency-dev/formats log/note_test.go
LOG_SKEY_B64 = "AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ"  # 0x01 || seed
LOG_VKEY = "Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs"
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_NOTE = (
    "go.sum database tree\n"
    "6476701\n"
    "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n"
    "\n"
    "\u2014 sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nP"
    "RYfvimWEPWL+o3GeoWwOoAw=\n"
).encode()

ORIGIN = "example.com/clearhouse/venue-1"


def signer_from_skey(skey_b64: str) -> Ed25519Signer:
    raw = base64.b64decode(skey_b64)
    assert raw[0] == 0x01 and len(raw) == 33
    return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(raw[1:]))


def signer_from_seed(byte: int) -> Ed25519Signer:
    return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(bytes([byte]) * 32))


def rfc6962_root(entries: list[bytes]) -> bytes:
    """RFC 6962 Merkle tree hash, written out from the RFC for the tests."""
    if not entries:
        return hashlib.sha256(b"").digest()
    if len(entries) == 1:
        return hashlib.sha256(b"\x00" + entries[0]).digest()
    split = 1
    while split * 2 < len(entries):
        split *= 2
    left, right = rfc6962_root(entries[:split]), rfc6962_root(entries[split:])
    return hashlib.sha256(b"\x01" + left + right).digest()


LOG_SIGNER = signer_from_skey(LOG_SKEY_B64)
LOG_VERIFIER = NoteVerifier(ORIGIN, LOG_SIGNER.public_key())
WITNESS_SIGNER = signer_from_seed(7)
WITNESS_VERIFIER = NoteVerifier("witness.example/w1", WITNESS_SIGNER.public_key())
STRANGER_SIGNER = signer_from_seed(9)

ROOT4 = rfc6962_root([b"a", b"b", b"c", b"d"])
EXAMPLE_CP = Checkpoint(ORIGIN, 4, ROOT4, ("clearhouse-time-ns 1700000000000000000",))
EXAMPLE_NOTE = (
    "example.com/clearhouse/venue-1\n"
    "4\n"
    "MzdqO9Y+mZNwioTd/mworli4NQXdH+1xG9kk7FpiOfA=\n"
    "clearhouse-time-ns 1700000000000000000\n"
    "\n"
    "\u2014 example.com/clearhouse/venue-1 HIs1oddoBX3guN17hNc5IPhkxLbyRdvR4A3Txzg7dwYUqV1Ck"
    "MbUN/nV7jbvFg0lNUBHMKzE7b16yzwkff7uOikCBQI=\n"
).encode()


def code_of(excinfo: pytest.ExceptionInfo[CheckpointError]) -> str:
    return excinfo.value.code.value


# --- format, byte for byte --------------------------------------------------------------


def test_key_id_is_sha256_of_name_newline_type_key_by_hand() -> None:
    public_key = LOG_SIGNER.public_key()
    digest = hashlib.sha256(ORIGIN.encode() + b"\x0a" + b"\x01" + public_key).digest()
    assert key_id(ORIGIN, public_key) == int.from_bytes(digest[:4], "big")
    assert LOG_VERIFIER.key_id == 0x1C8B35A1


@pytest.mark.parametrize("vkey", [PETER_VKEY, ENOCH_VKEY, LOG_VKEY, SUMDB_VKEY])
def test_go_verifier_key_strings_parse_and_print_back(vkey: str) -> None:
    verifier = NoteVerifier.from_verifier_string(vkey)
    name, hex_id, _ = vkey.split("+", 2)
    assert verifier.key_name == name
    assert verifier.key_id == int(hex_id, 16)  # the Go key hash agrees with ours
    assert verifier.verifier_string() == vkey


def test_go_signer_seeds_match_their_verifier_keys() -> None:
    peter = NoteVerifier.from_verifier_string(PETER_VKEY)
    assert signer_from_skey(PETER_SKEY_B64).public_key() == peter.public_key
    log = NoteVerifier.from_verifier_string(LOG_VKEY)
    assert LOG_SIGNER.public_key() == log.public_key
    assert NoteVerifier("Log", LOG_SIGNER.public_key()).key_id == 0x2271C621


def test_sign_note_matches_go_vector_byte_for_byte() -> None:
    note = sign_note(PETER_TEXT, signer_from_skey(PETER_SKEY_B64), "PeterNeumann")
    assert note == PETER_TEXT + b"\n" + PETER_SIG


def test_open_note_go_vector_one_known_one_unknown() -> None:
    note = PETER_TEXT + b"\n" + PETER_SIG + ENOCH_SIG
    peter = NoteVerifier.from_verifier_string(PETER_VKEY)
    enoch = NoteVerifier.from_verifier_string(ENOCH_VKEY)
    opened = open_note(note, [peter])
    assert opened.text == PETER_TEXT
    assert opened.signed_by == (peter,)
    assert open_note(note, [peter, enoch]).signed_by == (peter, enoch)
    assert open_note(note, [enoch]).signed_by == (enoch,)
    with pytest.raises(CheckpointError) as excinfo:
        open_note(note, [])
    assert code_of(excinfo) == "unknown_key"


def test_real_sum_golang_org_checkpoint_parses() -> None:
    verifier = NoteVerifier.from_verifier_string(SUMDB_VKEY)
    cp = parse_signed_checkpoint(SUMDB_NOTE, [verifier], origin="go.sum database tree")
    assert cp.origin == "go.sum database tree"
    assert cp.size == 6476701
    assert cp.root_hash == base64.b64decode("mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=")
    assert cp.extensions == ()
    assert cp.time_ns is None
    assert checkpoint_body(cp) == SUMDB_NOTE[: SUMDB_NOTE.index(b"\n\n") + 1]


def test_checkpoint_note_byte_for_byte_built_by_hand_from_the_spec() -> None:
    body = (
        ORIGIN.encode()
        + b"\n"
        + b"4\n"
        + base64.b64encode(ROOT4)
        + b"\n"
        + b"clearhouse-time-ns 1700000000000000000\n"
    )
    seed = base64.b64decode(LOG_SKEY_B64)[1:]
    key = Ed25519PrivateKey.from_private_bytes(seed)
    signature = key.sign(body)  # Ed25519 is deterministic
    public_key = LOG_SIGNER.public_key()
    key_id_bytes = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + public_key).digest()[:4]
    by_hand = (
        body
        + b"\n"
        + EM_DASH
        + b" "
        + ORIGIN.encode()
        + b" "
        + base64.b64encode(key_id_bytes + signature)
        + b"\n"
    )
    assert by_hand == EXAMPLE_NOTE
    assert checkpoint_body(EXAMPLE_CP) == body
    assert sign_checkpoint(EXAMPLE_CP, LOG_SIGNER, ORIGIN) == EXAMPLE_NOTE
    assert parse_signed_checkpoint(EXAMPLE_NOTE, [LOG_VERIFIER]) == EXAMPLE_CP
    assert LOG_VERIFIER.verifier_string() == (
        "example.com/clearhouse/venue-1+1c8b35a1+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs"
    )


def test_body_without_extensions_is_exactly_three_lines() -> None:
    cp = Checkpoint("Log", 0, hashlib.sha256(b"").digest())
    assert checkpoint_body(cp) == b"Log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert parse_checkpoint_body(checkpoint_body(cp)) == cp


def test_signature_line_carries_the_go_log_key_id() -> None:
    cp = Checkpoint("Log", 42, ROOT4)
    note = sign_checkpoint(cp, LOG_SIGNER, "Log")
    line = note.split(b"\n\n")[1]
    assert line.startswith(EM_DASH + b" Log ")
    assert line.endswith(b"\n")
    raw = base64.b64decode(line[len(EM_DASH + b" Log ") : -1])
    assert raw[:4] == bytes.fromhex("2271c621")
    assert len(raw) == 4 + 64
    assert parse_signed_checkpoint(note, [NoteVerifier.from_verifier_string(LOG_VKEY)]) == cp


# --- round trips -------------------------------------------------------------------------

_line_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda s: s == s.strip() and not s.startswith("clearhouse-time-ns"))


@given(
    origin=_line_text,
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line_text, max_size=4),
    time_ns=st.none() | st.integers(min_value=0, max_value=2**63 - 1),
)
def test_round_trip(
    origin: str, size: int, root: bytes, extensions: list[str], time_ns: int | None
) -> None:
    lines = tuple(extensions) if time_ns is None else (time_extension(time_ns), *extensions)
    cp = Checkpoint(origin, size, root, lines)
    note = sign_checkpoint(cp, LOG_SIGNER, ORIGIN)
    assert parse_signed_checkpoint(note, [LOG_VERIFIER], origin=origin) == cp
    assert parse_checkpoint_body(checkpoint_body(cp)) == cp
    assert cp.time_ns == time_ns


def test_time_extension() -> None:
    assert time_extension(0) == "clearhouse-time-ns 0"
    assert EXAMPLE_CP.time_ns == 1_700_000_000_000_000_000
    assert Checkpoint(ORIGIN, 1, ROOT4, ("other", time_extension(5))).time_ns == 5
    for bad in (-1, 2**63, True, 1.5):
        with pytest.raises(ValueError):
            time_extension(bad)  # type: ignore[arg-type]


def test_checkpoint_is_msgspec_storable() -> None:
    for encoder, decoder in (
        (msgspec.json.encode, msgspec.json.Decoder(Checkpoint)),
        (msgspec.msgpack.encode, msgspec.msgpack.Decoder(Checkpoint)),
    ):
        assert decoder.decode(encoder(EXAMPLE_CP)) == EXAMPLE_CP
    bad = msgspec.json.encode({"origin": ORIGIN, "size": 1, "root_hash": "AAAA"})
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(bad, type=Checkpoint)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("", 1, ROOT4), "origin"),
        (("a b ", 1, ROOT4), "whitespace"),
        ((" a", 1, ROOT4), "whitespace"),
        (("a\nb", 1, ROOT4), "control"),
        (("a\x00", 1, ROOT4), "control"),
        (("a\ud800", 1, ROOT4), "UTF-8"),
        ((ORIGIN, -1, ROOT4), "size"),
        ((ORIGIN, 2**64, ROOT4), "size"),
        ((ORIGIN, True, ROOT4), "size"),
        ((ORIGIN, 1, ROOT4[:31]), "root hash"),
        ((ORIGIN, 1, ROOT4 + b"\x00"), "root hash"),
        ((ORIGIN, 1, ROOT4, ("",)), "empty"),
        ((ORIGIN, 1, ROOT4, ("x ",)), "whitespace"),
        ((ORIGIN, 1, ROOT4, ["x"]), "tuple"),
        ((ORIGIN, 1, ROOT4, ("clearhouse-time-ns 01",)), "clearhouse-time-ns"),
        ((ORIGIN, 1, ROOT4, ("clearhouse-time-ns",)), "clearhouse-time-ns"),
        ((ORIGIN, 1, ROOT4, ("clearhouse-time-ns 1", "clearhouse-time-ns 1")), "at most one"),
    ],
)
def test_checkpoint_refuses_what_the_format_cannot_carry(
    args: tuple[object, ...], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        Checkpoint(*args)  # type: ignore[arg-type]


# --- several signatures ------------------------------------------------------------------


def cosigned(cp: Checkpoint, *signers: tuple[Ed25519Signer, str]) -> bytes:
    body = checkpoint_body(cp)
    lines = b"".join(note_signature_line(body, signer, name) for signer, name in signers)
    return body + b"\n" + lines


def test_one_known_one_unknown_signature_is_accepted() -> None:
    note = cosigned(EXAMPLE_CP, (LOG_SIGNER, ORIGIN), (STRANGER_SIGNER, "stranger.example"))
    assert parse_signed_checkpoint(note, [LOG_VERIFIER]) == EXAMPLE_CP
    note = cosigned(EXAMPLE_CP, (STRANGER_SIGNER, "stranger.example"), (LOG_SIGNER, ORIGIN))
    assert parse_signed_checkpoint(note, [LOG_VERIFIER]) == EXAMPLE_CP


def test_log_and_witness_signatures_both_verify() -> None:
    note = cosigned(EXAMPLE_CP, (LOG_SIGNER, ORIGIN), (WITNESS_SIGNER, "witness.example/w1"))
    opened = open_note(note, [LOG_VERIFIER, WITNESS_VERIFIER])
    assert opened.signed_by == (LOG_VERIFIER, WITNESS_VERIFIER)
    assert parse_signed_checkpoint(note, [WITNESS_VERIFIER]) == EXAMPLE_CP


def test_only_unknown_keys_is_unknown_key() -> None:
    note = cosigned(EXAMPLE_CP, (STRANGER_SIGNER, "stranger.example"), (WITNESS_SIGNER, "w"))
    with pytest.raises(CheckpointError) as excinfo:
        parse_signed_checkpoint(note, [LOG_VERIFIER])
    assert code_of(excinfo) == "unknown_key"


def test_same_name_other_key_is_an_unknown_key_not_a_bad_signature() -> None:
    # The spec: ignore signatures that share a name or an id, but not both, with a known key.
    note = cosigned(EXAMPLE_CP, (STRANGER_SIGNER, ORIGIN))
    with pytest.raises(CheckpointError) as excinfo:
        parse_signed_checkpoint(note, [LOG_VERIFIER])
    assert code_of(excinfo) == "unknown_key"
    note = cosigned(EXAMPLE_CP, (LOG_SIGNER, "another.name"))
    with pytest.raises(CheckpointError) as excinfo:
        parse_signed_checkpoint(note, [LOG_VERIFIER])
    assert code_of(excinfo) == "unknown_key"


def test_a_bad_known_signature_rejects_the_note_even_beside_a_good_one() -> None:
    good = sign_checkpoint(EXAMPLE_CP, LOG_SIGNER, ORIGIN)
    name = b"witness.example/w1"
    line = note_signature_line(checkpoint_body(EXAMPLE_CP), WITNESS_SIGNER, name.decode())
    raw = base64.b64decode(line[len(EM_DASH) + len(name) + 2 : -1])
    flipped = raw[:10] + bytes([raw[10] ^ 1]) + raw[11:]
    for payload in (flipped, raw[:5]):  # a flipped bit; a 1-byte signature
        bad_line = EM_DASH + b" " + name + b" " + base64.b64encode(payload) + b"\n"
        with pytest.raises(CheckpointError) as excinfo:
            parse_signed_checkpoint(good + bad_line, [LOG_VERIFIER, WITNESS_VERIFIER])
        assert code_of(excinfo) == "bad_signature"
        # A reader that does not know the witness ignores the line.
        assert parse_signed_checkpoint(good + bad_line, [LOG_VERIFIER]) == EXAMPLE_CP


def test_no_signature_line() -> None:
    with pytest.raises(CheckpointError) as excinfo:
        parse_signed_checkpoint(checkpoint_body(EXAMPLE_CP) + b"\n", [LOG_VERIFIER])
    assert code_of(excinfo) == "no_signature"


def test_wrong_origin() -> None:
    with pytest.raises(CheckpointError) as excinfo:
        parse_signed_checkpoint(EXAMPLE_NOTE, [LOG_VERIFIER], origin="example.com/other")
    assert code_of(excinfo) == "wrong_origin"


def test_ambiguous_verifiers() -> None:
    # Two different keys can share a name and a 32-bit id only by a crafted collision; make
    # the index see one by passing a verifier whose key_id is forced.
    class Forced(NoteVerifier, frozen=True):
        @property
        def key_id(self) -> int:
            return LOG_VERIFIER.key_id

    twin = Forced(ORIGIN, WITNESS_SIGNER.public_key())
    with pytest.raises(CheckpointError) as excinfo:
        parse_signed_checkpoint(EXAMPLE_NOTE, [LOG_VERIFIER, twin])
    assert code_of(excinfo) == "ambiguous_key"
    # The same verifier twice is fine.
    assert parse_signed_checkpoint(EXAMPLE_NOTE, [LOG_VERIFIER, LOG_VERIFIER]) == EXAMPLE_CP


# --- tampering ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"\n4\n", b"\n5\n"),
        (b"MzdqO9Y+", b"MzdqO9Y/"),
        (b"example.com/clearhouse/venue-1\n4", b"example.com/clearhouse/venue-2\n4"),
        (b"clearhouse-time-ns 1700000000000000000", b"clearhouse-time-ns 1700000000000000001"),
        (b"1700000000000000000\n\n", b"1700000000000000000\nmore\n\n"),
        (b"clearhouse-time-ns 1700000000000000000\n", b""),
    ],
    ids=["size", "root", "origin", "extension", "added-extension", "removed-extension"],
)
def test_tampered_body_is_bad_signature(old: bytes, new: bytes) -> None:
    assert EXAMPLE_NOTE.count(old) == 1
    tampered = EXAMPLE_NOTE.replace(old, new)
    with pytest.raises(CheckpointError) as excinfo:
        parse_signed_checkpoint(tampered, [LOG_VERIFIER])
    assert code_of(excinfo) == "bad_signature"


def test_tampered_signature_is_bad_signature() -> None:
    body, line = EXAMPLE_NOTE.split(b"\n\n")
    prefix = EM_DASH + b" " + ORIGIN.encode() + b" "
    raw = bytearray(base64.b64decode(line[len(prefix) : -1]))
    for index in (4, 40, 67):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        note = body + b"\n\n" + prefix + base64.b64encode(bytes(flipped)) + b"\n"
        with pytest.raises(CheckpointError) as excinfo:
            parse_signed_checkpoint(note, [LOG_VERIFIER])
        assert code_of(excinfo) == "bad_signature"


# --- malformed notes ----------------------------------------------------------------------


def signed(body: str) -> bytes:
    """A note with a valid signature over a (possibly malformed) checkpoint body."""
    return sign_note(body.encode(), LOG_SIGNER, ORIGIN)


ROOT4_B64 = base64.b64encode(ROOT4).decode()
SIG_LINE = EXAMPLE_NOTE[EXAMPLE_NOTE.index(b"\n\n") + 2 :]
URLSAFE_ROOT = base64.urlsafe_b64encode(b"\xff" * 32).decode()
BODY = EXAMPLE_NOTE[: EXAMPLE_NOTE.index(b"\n\n") + 1]

MALFORMED = {
    # note level
    "missing-blank-line": BODY + SIG_LINE,
    "missing-final-newline": EXAMPLE_NOTE[:-1],
    "body-only": BODY,
    "empty": b"",
    "not-utf8": EXAMPLE_NOTE.replace(b"venue-1\n4", b"venue-\xff\n4"),
    "control-character": EXAMPLE_NOTE.replace(b"venue-1\n4", b"venue-\x01\n4"),
    "carriage-return": EXAMPLE_NOTE.replace(b"\n4\n", b"\r\n4\n"),
    "signature-line-trailing-space": EXAMPLE_NOTE[:-1] + b" \n",
    "signature-line-without-em-dash": BODY + b"\n" + SIG_LINE[len(EM_DASH) :],
    "signature-line-hyphen": BODY + b"\n-" + SIG_LINE[len(EM_DASH) :],
    "signature-line-no-space": BODY + b"\n" + SIG_LINE.replace(b" ", b"", 1),
    "signature-bad-base64": BODY + b"\n" + SIG_LINE.replace(b"=\n", b"!\n"),
    "signature-unpadded": BODY + b"\n" + SIG_LINE.replace(b"=\n", b"\n"),
    "signature-too-short": BODY + b"\n" + EM_DASH + b" " + ORIGIN.encode() + b" AAAAAA==\n",
    "key-name-with-plus": BODY + b"\n" + SIG_LINE.replace(b"venue-1 ", b"venue+1 "),
    "key-name-with-nbsp": BODY + b"\n" + SIG_LINE.replace(b"venue-1 ", "venue\u00a01 ".encode()),
    "empty-key-name": BODY + b"\n" + EM_DASH + b"  " + SIG_LINE.split(b" ")[2],
    "trailing-text-line": EXAMPLE_NOTE + b"more text\n",
    "too-many-signatures": BODY + b"\n" + SIG_LINE * (MAX_SIGNATURES + 1),
    # body level, each validly signed
    "non-decimal-size": signed(f"{ORIGIN}\nfour\n{ROOT4_B64}\n"),
    "hex-size": signed(f"{ORIGIN}\n0x4\n{ROOT4_B64}\n"),
    "signed-size": signed(f"{ORIGIN}\n+4\n{ROOT4_B64}\n"),
    "negative-size": signed(f"{ORIGIN}\n-4\n{ROOT4_B64}\n"),
    "leading-zero-size": signed(f"{ORIGIN}\n04\n{ROOT4_B64}\n"),
    "underscore-size": signed(f"{ORIGIN}\n1_000\n{ROOT4_B64}\n"),
    "unicode-digit-size": signed(f"{ORIGIN}\n\u0664\n{ROOT4_B64}\n"),
    "size-over-64-bits": signed(f"{ORIGIN}\n{2**64}\n{ROOT4_B64}\n"),
    "empty-size": signed(f"{ORIGIN}\n\n{ROOT4_B64}\nx\n"),
    "bad-base64-root": signed(f"{ORIGIN}\n4\nnot base64!\n"),
    "unpadded-root": signed(f"{ORIGIN}\n4\n{ROOT4_B64.rstrip('=')}\n"),
    "urlsafe-root": signed(f"{ORIGIN}\n4\n{URLSAFE_ROOT}\n"),
    "non-canonical-root": signed(f"{ORIGIN}\n4\n{ROOT4_B64[:-2]}B=\n"),
    "root-31-bytes": signed(f"{ORIGIN}\n4\n{base64.b64encode(ROOT4[:31]).decode()}\n"),
    "root-33-bytes": signed(f"{ORIGIN}\n4\n{base64.b64encode(ROOT4 + b'x').decode()}\n"),
    "origin-trailing-space": signed(f"{ORIGIN} \n4\n{ROOT4_B64}\n"),
    "origin-leading-space": signed(f" {ORIGIN}\n4\n{ROOT4_B64}\n"),
    "size-trailing-space": signed(f"{ORIGIN}\n4 \n{ROOT4_B64}\n"),
    "root-trailing-space": signed(f"{ORIGIN}\n4\n{ROOT4_B64} \n"),
    "extension-trailing-space": signed(f"{ORIGIN}\n4\n{ROOT4_B64}\next \n"),
    "empty-origin": signed(f"\n4\n{ROOT4_B64}\n"),
    "two-lines": signed(f"{ORIGIN}\n4\n"),
    "empty-extension-line": signed(f"{ORIGIN}\n4\n{ROOT4_B64}\n\next\n"),
    "bad-time-extension": signed(f"{ORIGIN}\n4\n{ROOT4_B64}\nclearhouse-time-ns 1.5\n"),
    "two-time-extensions": signed(
        f"{ORIGIN}\n4\n{ROOT4_B64}\nclearhouse-time-ns 1\nclearhouse-time-ns 2\n"
    ),
}


@pytest.mark.parametrize("note", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_note(note: bytes) -> None:
    with pytest.raises(CheckpointError) as excinfo:
        parse_signed_checkpoint(note, [LOG_VERIFIER])
    assert code_of(excinfo) == "malformed"


def test_malformed_body_is_malformed_before_signature_checks() -> None:
    # A tampered size that is also not a decimal is reported as malformed.
    tampered = EXAMPLE_NOTE.replace(b"\n4\n", b"\n4x\n")
    with pytest.raises(CheckpointError) as excinfo:
        parse_signed_checkpoint(tampered, [LOG_VERIFIER])
    assert code_of(excinfo) == "malformed"


def test_note_of_exactly_max_signatures_is_accepted() -> None:
    note = BODY + b"\n" + SIG_LINE * MAX_SIGNATURES
    assert parse_signed_checkpoint(note, [LOG_VERIFIER]) == EXAMPLE_CP


def test_non_bytes_note_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_signed_checkpoint(EXAMPLE_NOTE.decode(), [LOG_VERIFIER])  # type: ignore[arg-type]


# --- verifier strings and signing input ---------------------------------------------------


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "PeterNeumann",
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong id
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # 7 hex digits
        "PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # truncated
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW ",
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",  # Go
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # Go: bad alg
    ],
)
def test_bad_verifier_strings(vkey: str) -> None:
    with pytest.raises(ValueError):
        NoteVerifier.from_verifier_string(vkey)


def test_upper_case_key_id_is_read() -> None:
    upper = PETER_VKEY.replace("c74f20a3", "C74F20A3")
    assert NoteVerifier.from_verifier_string(upper) == NoteVerifier.from_verifier_string(PETER_VKEY)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "a\x01"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(ValueError):
        NoteVerifier(name, LOG_SIGNER.public_key())
    with pytest.raises(ValueError):
        sign_checkpoint(EXAMPLE_CP, LOG_SIGNER, name)


def test_verifier_needs_a_32_byte_key() -> None:
    with pytest.raises(ValueError):
        NoteVerifier(ORIGIN, b"\x00" * 31)


def test_sign_note_refuses_bad_text() -> None:
    for text in (b"no newline", b"bad \xff\n", b"ctl \x02\n"):
        with pytest.raises(ValueError):
            sign_note(text, LOG_SIGNER, ORIGIN)


class _FaultySigner:
    def public_key(self) -> bytes:
        return LOG_SIGNER.public_key()

    def sign(self, message: bytes) -> bytes:
        signature = bytearray(LOG_SIGNER.sign(message))
        signature[0] ^= 1
        return bytes(signature)


def test_a_signer_whose_signature_does_not_verify_is_refused() -> None:
    with pytest.raises(ValueError, match="does not verify"):
        sign_checkpoint(EXAMPLE_CP, _FaultySigner(), ORIGIN)


# --- CheckpointSigner ---------------------------------------------------------------------

LEAVES = [bytes([i]) for i in range(16)]


def tree_cp(size: int, time_ns: int | None = None) -> Checkpoint:
    extensions = () if time_ns is None else (time_extension(time_ns),)
    return Checkpoint(ORIGIN, size, rfc6962_root(LEAVES[:size]), extensions)


class Consistency:
    """A consistency checker over LEAVES: both roots must be prefixes of the one log."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, bytes, bytes]] = []

    def __call__(self, old_size: int, new_size: int, old_root: bytes, new_root: bytes) -> bool:
        self.calls.append((old_size, new_size, old_root, new_root))
        return old_root == rfc6962_root(LEAVES[:old_size]) and new_root == rfc6962_root(
            LEAVES[:new_size]
        )


def test_signer_signs_a_growing_log() -> None:
    consistency = Consistency()
    signer = CheckpointSigner(LOG_SIGNER, ORIGIN, consistency)
    assert signer.last_signed is None
    for size in (0, 1, 3, 3, 8, 16):
        note = signer.sign(tree_cp(size))
        assert parse_signed_checkpoint(note, [signer.verifier()]) == tree_cp(size)
        assert signer.last_signed == tree_cp(size)
    # Size 0 -> 1 needs no proof; same-size re-signing needs none either.
    assert [call[:2] for call in consistency.calls] == [(1, 3), (3, 8), (8, 16)]
    assert consistency.calls[0][2:] == (tree_cp(1).root_hash, tree_cp(3).root_hash)


def test_signer_re_signs_the_same_tree_head_with_a_new_time() -> None:
    signer = CheckpointSigner(LOG_SIGNER, ORIGIN, Consistency())
    signer.sign(tree_cp(5, time_ns=100))
    note = signer.sign(tree_cp(5, time_ns=200))
    assert parse_signed_checkpoint(note, [LOG_VERIFIER]).time_ns == 200


def refused(signer: CheckpointSigner, cp: Checkpoint) -> None:
    before = signer.last_signed
    with pytest.raises(CheckpointError) as excinfo:
        signer.check(cp)
    assert excinfo.value.code == "inconsistent"
    with pytest.raises(CheckpointError) as excinfo:
        signer.sign(cp)
    assert excinfo.value.code == CheckpointErrorCode.INCONSISTENT
    assert signer.last_signed == before


def test_signer_refuses_a_smaller_size() -> None:
    signer = CheckpointSigner(LOG_SIGNER, ORIGIN, Consistency())
    signer.sign(tree_cp(8))
    refused(signer, tree_cp(7))
    refused(signer, tree_cp(0))


def test_signer_refuses_the_same_size_with_another_root() -> None:
    signer = CheckpointSigner(LOG_SIGNER, ORIGIN, Consistency())
    signer.sign(tree_cp(8))
    refused(signer, Checkpoint(ORIGIN, 8, hashlib.sha256(b"fork").digest()))


def test_signer_refuses_a_larger_size_that_is_not_consistent() -> None:
    signer = CheckpointSigner(LOG_SIGNER, ORIGIN, Consistency())
    signer.sign(tree_cp(8))
    forked = rfc6962_root([*LEAVES[:7], b"forged", *LEAVES[8:12]])
    refused(signer, Checkpoint(ORIGIN, 12, forked))
    signer.sign(tree_cp(12))  # the honest extension is still signed


def test_signer_refuses_a_callback_that_does_not_say_true() -> None:
    signer = CheckpointSigner(
        LOG_SIGNER,
        ORIGIN,
        lambda *args: 1,  # type: ignore[arg-type]
        last_signed=tree_cp(2),
    )
    refused(signer, tree_cp(3))


def test_signer_refuses_another_origin() -> None:
    signer = CheckpointSigner(LOG_SIGNER, ORIGIN, Consistency())
    signer.sign(tree_cp(4))
    refused(signer, Checkpoint("example.com/other", 5, tree_cp(5).root_hash))


def test_signer_without_consistency_check_still_refuses_shrinking_and_forks() -> None:
    signer = CheckpointSigner(LOG_SIGNER, ORIGIN, None)
    signer.sign(tree_cp(4))
    signer.sign(tree_cp(9))
    refused(signer, tree_cp(8))
    refused(signer, Checkpoint(ORIGIN, 9, ROOT4))


def test_signer_state_survives_a_restart() -> None:
    stored: list[bytes] = []
    first = CheckpointSigner(
        LOG_SIGNER, ORIGIN, Consistency(), persist=lambda cp: stored.append(msgspec.json.encode(cp))
    )
    first.sign(tree_cp(10, time_ns=1))
    assert len(stored) == 1

    loaded = msgspec.json.decode(stored[-1], type=Checkpoint)
    second = CheckpointSigner(LOG_SIGNER, ORIGIN, Consistency(), last_signed=loaded)
    assert second.last_signed == tree_cp(10, time_ns=1)
    refused(second, tree_cp(9))
    refused(second, Checkpoint(ORIGIN, 10, ROOT4))
    second.sign(tree_cp(11))


def test_persist_runs_before_signing_and_a_failure_signs_nothing() -> None:
    order: list[str] = []

    class Recording:
        def public_key(self) -> bytes:
            return LOG_SIGNER.public_key()

        def sign(self, message: bytes) -> bytes:
            order.append("sign")
            return LOG_SIGNER.sign(message)

    def persist(cp: Checkpoint) -> None:
        order.append(f"persist {cp.size}")
        if cp.size == 6:
            raise OSError("disk full")

    signer = CheckpointSigner(Recording(), ORIGIN, Consistency(), persist=persist)
    signer.sign(tree_cp(5))
    assert order == ["persist 5", "sign"]
    with pytest.raises(OSError):
        signer.sign(tree_cp(6))
    assert order == ["persist 5", "sign", "persist 6"]
    assert signer.last_signed == tree_cp(5)


def test_signer_refusal_does_not_persist() -> None:
    persisted: list[Checkpoint] = []
    signer = CheckpointSigner(
        LOG_SIGNER, ORIGIN, Consistency(), last_signed=tree_cp(4), persist=persisted.append
    )
    refused(signer, tree_cp(3))
    assert persisted == []


def test_signer_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        CheckpointSigner(LOG_SIGNER, "bad name", None)
    with pytest.raises(TypeError):
        CheckpointSigner(LOG_SIGNER, ORIGIN, None, last_signed=(4, ROOT4))  # type: ignore[arg-type]


def test_error_carries_a_stable_code() -> None:
    error = CheckpointError("inconsistent", "size 3 is below signed size 4")
    assert error.code is CheckpointErrorCode.INCONSISTENT
    assert str(error.code) == "inconsistent"
    assert str(error) == "inconsistent: size 3 is below signed size 4"
    assert {code.value for code in CheckpointErrorCode} == {
        "malformed",
        "no_signature",
        "unknown_key",
        "bad_signature",
        "ambiguous_key",
        "wrong_origin",
        "inconsistent",
    }


def test_signer_with_the_journal_merkle_tree() -> None:
    from clearhouse.journal.merkle import MerkleTree, verify_consistency

    tree = MerkleTree()

    def consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes) -> bool:
        proof = tree.consistency_proof(old_size, new_size)
        return verify_consistency(old_size, new_size, old_root, new_root, proof)

    signer = CheckpointSigner(LOG_SIGNER, ORIGIN, consistency)
    for entry in (b"a", b"b", b"c", b"d"):
        tree.append(entry)
        signer.sign(Checkpoint(ORIGIN, tree.size, tree.root()))
    assert signer.last_signed == Checkpoint(ORIGIN, 4, ROOT4)
    tree.append(b"e")
    refused(signer, Checkpoint(ORIGIN, 5, rfc6962_root([b"a", b"b", b"x", b"d", b"e"])))
    signer.sign(Checkpoint(ORIGIN, 5, tree.root()))
