"""Signed checkpoints of the journal's Merkle tree: C2SP tlog-checkpoint in a C2SP signed note.

A checkpoint names a log (its origin), a tree size and the RFC 6962 / RFC 9162 root hash
of the tree at that size. The operator signs it as a signed note, so transparency-log
tooling (golang.org/x/mod/sumdb/note, transparency-dev/formats, witnesses) reads it as is:

    example.com/clearhouse/venue-1                   <- origin
    4                                                <- tree size, decimal, no leading 0
    MzdqO9Y+mZNwioTd/mworli4NQXdH+1xG9kk7FpiOfA=     <- base64 root hash (32 bytes)
    clearhouse-time-ns 1700000000000000000           <- extension lines, optional
                                                     <- blank line
    — example.com/clearhouse/venue-1 HIs1oddoBX3guN17hNc5IPhkxLbyRdvR4A3Txzg7dwYUqV1CkMbUN/nV7jbvFg0lNUBHMKzE7b16yzwkff7uOikCBQI=

(the tree of leaves a, b, c, d, signed by the key whose verifier key string is
"example.com/clearhouse/venue-1+1c8b35a1+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs";
tests/journal/test_checkpoint.py checks this note byte for byte).

The specs (c2sp.org/signed-note, c2sp.org/tlog-checkpoint), as applied here:

- Note text: the checkpoint body, every line ending in a newline (U+000A). Then one
  blank line, then one or more signature lines, each "— " (em dash U+2014, space), the
  key name, a space, base64(key id || signature), a newline. The whole note is UTF-8
  with no control character but the newline; the text ends at the last blank line.
- Key names are non-empty, with no Unicode space and no "+". Key id: the first four
  bytes, big-endian, of SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key).
  The Ed25519 signature (signature type 0x01) covers the note text, final newline
  included, blank line excluded.
- Verifier key strings (the golang.org/x/mod/sumdb/note form), "<name>+<key id as 8
  hex digits>+<base64(0x01 || public key)>", e.g.
  "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".
- Reading: signatures from keys not in the verifier list are ignored; every signature
  line whose (name, key id) is a known key must verify, else the whole note is rejected
  ("bad_signature"); at least one must, else "unknown_key" (signature lines, none from
  a known key) or "no_signature" (no signature lines after the blank line). The text
  is parsed before any signature is checked, so a malformed body is "malformed".

Stricter than the specs, on writing and reading alike (clearhouse writes nothing these
rules reject, so they only narrow what a reader accepts): base64 is canonical (padded,
no stray bits); the root hash is 32 bytes (SHA-256); the size fits in 64 bits; origin
and extension lines do not begin or end with whitespace; a note holds at most
`MAX_SIGNATURES` signature lines and `MAX_NOTE_BYTES` bytes.

Time. tlog-checkpoint allows opaque extension lines after the root hash; clearhouse
defines one, "clearhouse-time-ns <n>": the sequencer timestamp (Unix nanoseconds,
0 to 2^63 - 1, decimal without leading zeros) of the last journal entry in the tree, at
most once per checkpoint (`time_extension`, `Checkpoint.time_ns`). Ed25519 note
signatures cover it; witnesses and other tools treat it as opaque and make no statement
about it (the spec calls extension lines NOT RECOMMENDED because monitors cannot audit
them, and ML-DSA-44 cosignatures do not cover them), so it is informational only.

A log must never sign two inconsistent checkpoints (tlog-checkpoint, "Signatures").
`CheckpointSigner` enforces that: it remembers the last checkpoint it signed (loadable
and storable, so a restart does not forget it) and refuses any checkpoint that is not
an extension of it. `sign_checkpoint` is the unguarded primitive underneath.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Final, TypeAlias

import msgspec

from clearhouse.auth.ed25519 import verify
from clearhouse.auth.signing import Signer

ED25519_SIGNATURE_TYPE: Final = 0x01
"""The signed-note signature type byte for plain Ed25519 signatures."""

ROOT_HASH_BYTES: Final = 32
"""The root hash is a SHA-256 digest (RFC 6962 / RFC 9162 Merkle tree)."""

MAX_TREE_SIZE: Final = 2**64 - 1
MAX_TIME_NS: Final = 2**63 - 1

MAX_SIGNATURES: Final = 100
"""Signature lines a note may hold (golang.org/x/mod/sumdb/note's limit; the spec asks >= 16)."""

MAX_NOTE_BYTES: Final = 1 << 20
"""Bytes a note may hold; far above 100 post-quantum signatures of about 5 kB."""

TIME_EXTENSION_KEY: Final = "clearhouse-time-ns"
"""The first word of clearhouse's time extension line: "clearhouse-time-ns <unix ns>"."""

_EM_DASH_PREFIX: Final = "\u2014 ".encode()
_PUBLIC_KEY_BYTES: Final = 32
_SIGNATURE_BYTES: Final = 64
_KEY_ID_BYTES: Final = 4
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")

ConsistencyCheck: TypeAlias = Callable[[int, int, bytes, bytes], bool]
"""`(old_size, new_size, old_root, new_root) -> bool`: True when the tree of `new_size`
leaves with root `new_root` extends the tree of `old_size` leaves with root `old_root`
(an RFC 9162 consistency proof between them verifies). Called with 0 < old < new."""


class CheckpointErrorCode(StrEnum):
    """Why a checkpoint was refused. Values are stable: scripts may match on them."""

    MALFORMED = "malformed"
    """The note or the checkpoint body breaks the format."""
    NO_SIGNATURE = "no_signature"
    """The note has a well-formed body and the blank line, but no signature line."""
    UNKNOWN_KEY = "unknown_key"
    """The note has signature lines, none of them from a known key."""
    BAD_SIGNATURE = "bad_signature"
    """A signature line from a known key does not verify: the whole note is rejected."""
    AMBIGUOUS_KEY = "ambiguous_key"
    """Two verifiers share a key name and key id but not the public key."""
    WRONG_ORIGIN = "wrong_origin"
    """The checkpoint verified, but is for another log than the one asked for."""
    INCONSISTENT = "inconsistent"
    """`CheckpointSigner` refused: the checkpoint does not extend the last one it signed."""


class CheckpointError(Exception):
    """A checkpoint was refused; `code` says why, `message` says it to people."""

    def __init__(self, code: CheckpointErrorCode | str, message: str = "") -> None:
        code = CheckpointErrorCode(code)
        super().__init__(f"{code.value}: {message}" if message else code.value)
        self.code = code
        self.message = message


def _has_control(text: str) -> bool:
    return any(ord(char) < 0x20 for char in text)


def _line_problem(line: object, what: str) -> str | None:
    """Why `line` cannot be an origin or extension line, or None if it can."""
    if not isinstance(line, str):
        return f"{what} must be a str"
    if not line:
        return f"{what} must not be empty"
    if _has_control(line):
        return f"{what} must not contain control characters or newlines"
    if line != line.strip():
        return f"{what} must not begin or end with whitespace"
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return f"{what} must be encodable as UTF-8"
    return None


def _decimal(text: str, maximum: int) -> int | None:
    """`text` as an ASCII decimal without leading zeros, at most `maximum`; else None."""
    if _DECIMAL.fullmatch(text) is None:
        return None
    value = int(text)
    return value if value <= maximum else None


def _time_problem(extensions: tuple[str, ...]) -> str | None:
    seen = 0
    for line in extensions:
        key, _, value = line.partition(" ")
        if key != TIME_EXTENSION_KEY:
            continue
        seen += 1
        if seen > 1:
            return f"at most one {TIME_EXTENSION_KEY} extension line"
        if _decimal(value, MAX_TIME_NS) is None:
            return f"{TIME_EXTENSION_KEY} takes a decimal from 0 to 2^63 - 1: {line!r}"
    return None


class Checkpoint(msgspec.Struct, frozen=True):
    """A tree head: the log's origin, its size in leaves, its root hash, extension lines.

    Raises ValueError on construction unless every field is writable in the format:
    origin and each extension a non-empty line (no control characters, no leading or
    trailing whitespace), size from 0 to 2^64 - 1, root hash 32 bytes, and at most one
    well-formed "clearhouse-time-ns" extension.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problem = _line_problem(self.origin, "origin")
        if problem is not None:
            raise ValueError(problem)
        if (
            not isinstance(self.size, int)
            or isinstance(self.size, bool)
            or not 0 <= self.size <= MAX_TREE_SIZE
        ):
            raise ValueError(f"size must be an int from 0 to 2^64 - 1, not {self.size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != ROOT_HASH_BYTES:
            raise ValueError(f"root hash must be {ROOT_HASH_BYTES} bytes")
        if not isinstance(self.extensions, tuple):
            raise ValueError("extensions must be a tuple of str")
        for line in self.extensions:
            problem = _line_problem(line, "extension line")
            if problem is not None:
                raise ValueError(problem)
        problem = _time_problem(self.extensions)
        if problem is not None:
            raise ValueError(problem)

    @property
    def time_ns(self) -> int | None:
        """The "clearhouse-time-ns" extension's timestamp, or None if there is none."""
        for line in self.extensions:
            key, _, value = line.partition(" ")
            if key == TIME_EXTENSION_KEY:
                return int(value)
        return None


def time_extension(time_ns: int) -> str:
    """The extension line carrying a sequencer timestamp: "clearhouse-time-ns <time_ns>"."""
    if not isinstance(time_ns, int) or isinstance(time_ns, bool) or not 0 <= time_ns <= MAX_TIME_NS:
        raise ValueError(f"time must be an int from 0 to 2^63 - 1 nanoseconds, not {time_ns!r}")
    return f"{TIME_EXTENSION_KEY} {time_ns}"


def checkpoint_body(cp: Checkpoint) -> bytes:
    """The note text of `cp`: origin, size, base64 root hash, extension lines; each + "\\n"."""
    lines = [cp.origin, str(cp.size), base64.b64encode(cp.root_hash).decode("ascii")]
    lines.extend(cp.extensions)
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _b64decode(text: str) -> bytes | None:
    """Canonical standard base64 (RFC 4648 section 4, padded) decoded, or None."""
    if not text.isascii():
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def parse_checkpoint_body(text: bytes) -> Checkpoint:
    """The checkpoint a note text holds. Checks no signature: see `parse_signed_checkpoint`.

    Raises CheckpointError("malformed") unless `text` is exactly what `checkpoint_body`
    writes for some checkpoint.
    """
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(CheckpointErrorCode.MALFORMED, "body is not UTF-8") from None
    if not decoded.endswith("\n"):
        raise CheckpointError(CheckpointErrorCode.MALFORMED, "body must end with a newline")
    lines = decoded[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(
            CheckpointErrorCode.MALFORMED, "body needs origin, size and root hash lines"
        )
    origin, size_line, root_line, *extensions = lines
    size = _decimal(size_line, MAX_TREE_SIZE)
    if size is None:
        raise CheckpointError(
            CheckpointErrorCode.MALFORMED,
            f"size must be a decimal from 0 to 2^64 - 1 without leading zeros: {size_line!r}",
        )
    root_hash = _b64decode(root_line)
    if root_hash is None or len(root_hash) != ROOT_HASH_BYTES:
        raise CheckpointError(
            CheckpointErrorCode.MALFORMED,
            f"root hash must be {ROOT_HASH_BYTES} bytes in canonical base64: {root_line!r}",
        )
    try:
        cp = Checkpoint(origin, size, root_hash, tuple(extensions))
    except ValueError as exc:
        raise CheckpointError(CheckpointErrorCode.MALFORMED, str(exc)) from None
    return cp


def is_valid_key_name(name: object) -> bool:
    """A key name: a non-empty str with no Unicode space, no "+", no control character."""
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(char.isspace() for char in name)
        and not _has_control(name)
    )


def key_id(key_name: str, public_key: bytes) -> int:
    """SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4], big-endian."""
    digest = hashlib.sha256(
        key_name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + public_key
    ).digest()
    return int.from_bytes(digest[:_KEY_ID_BYTES], "big")


class NoteVerifier(msgspec.Struct, frozen=True):
    """A trusted Ed25519 note key: a key name and a raw 32-byte public key.

    Raises ValueError unless the name is a valid key name and the key is 32 bytes.
    """

    key_name: str
    public_key: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.key_name):
            raise ValueError(f"invalid key name {self.key_name!r}: empty, spaces or '+'")
        if not isinstance(self.public_key, bytes) or len(self.public_key) != _PUBLIC_KEY_BYTES:
            raise ValueError(f"an Ed25519 public key is {_PUBLIC_KEY_BYTES} bytes")

    @property
    def key_id(self) -> int:
        """The signed-note key id, a uint32 (see `key_id`)."""
        return key_id(self.key_name, self.public_key)

    def verifier_string(self) -> str:
        """The verifier key string: name, "+", key id in 8 lowercase hex, "+", base64(0x01 || key)."""
        encoded = base64.b64encode(bytes([ED25519_SIGNATURE_TYPE]) + self.public_key)
        return f"{self.key_name}+{self.key_id:08x}+{encoded.decode('ascii')}"

    @classmethod
    def from_verifier_string(cls, text: str) -> NoteVerifier:
        """Parse a verifier key string, checking its key id. Raises ValueError."""
        if not isinstance(text, str):
            raise ValueError("a verifier key string is a str")
        name, _, rest = text.partition("+")
        hex_id, _, encoded = rest.partition("+")
        if not is_valid_key_name(name):
            raise ValueError("verifier key: invalid key name")
        if _HEX_KEY_ID.fullmatch(hex_id) is None:
            raise ValueError("verifier key: key id must be 8 hex digits")
        raw = _b64decode(encoded)
        if raw is None or not raw:
            raise ValueError("verifier key: key must be canonical base64")
        if raw[0] != ED25519_SIGNATURE_TYPE:
            raise ValueError(f"verifier key: unsupported signature type 0x{raw[0]:02x}")
        if len(raw) != 1 + _PUBLIC_KEY_BYTES:
            raise ValueError("verifier key: an Ed25519 public key is 32 bytes")
        verifier = cls(name, raw[1:])
        if verifier.key_id != int(hex_id, 16):
            raise ValueError("verifier key: key id does not match name and key")
        return verifier


class OpenedNote(msgspec.Struct, frozen=True):
    """A note whose signatures checked out: its text, and the known keys that signed it."""

    text: bytes
    signed_by: tuple[NoteVerifier, ...]


def _check_note_text(text: bytes) -> None:
    if not isinstance(text, bytes):
        raise TypeError("note text must be bytes")
    if not text.endswith(b"\n"):
        raise ValueError("note text must end with a newline")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("note text must be UTF-8") from None
    if _has_control(decoded.replace("\n", "")):
        raise ValueError("note text must not contain control characters but newlines")


def note_signature_line(text: bytes, signer: Signer, key_name: str) -> bytes:
    """One signature line over note `text`: "— <key name> <base64(key id || sig)>\\n".

    Append it after an existing note's signature lines to add a signature. Raises
    ValueError for an invalid key name or text, or a signer that returns a wrong-sized
    key or a signature that does not verify.
    """
    _check_note_text(text)
    if not is_valid_key_name(key_name):
        raise ValueError(f"invalid key name {key_name!r}: empty, spaces or '+'")
    public_key = signer.public_key()
    if len(public_key) != _PUBLIC_KEY_BYTES:
        raise ValueError(f"signer returned a {len(public_key)}-byte public key, expected 32")
    signature = signer.sign(text)
    if len(signature) != _SIGNATURE_BYTES or not verify(public_key, text, signature):
        raise ValueError("signer returned a signature that does not verify")
    payload = key_id(key_name, public_key).to_bytes(_KEY_ID_BYTES, "big") + signature
    return _EM_DASH_PREFIX + key_name.encode("utf-8") + b" " + base64.b64encode(payload) + b"\n"


def sign_note(text: bytes, signer: Signer, key_name: str) -> bytes:
    """The signed note: `text` (ending in a newline), a blank line, one signature line."""
    return text + b"\n" + note_signature_line(text, signer, key_name)


def _index_verifiers(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, int], NoteVerifier]:
    index: dict[tuple[str, int], NoteVerifier] = {}
    for verifier in verifiers:
        if not isinstance(verifier, NoteVerifier):
            raise TypeError("verifiers must be NoteVerifier instances")
        slot = (verifier.key_name, verifier.key_id)
        known = index.setdefault(slot, verifier)
        if known.public_key != verifier.public_key:
            raise CheckpointError(
                CheckpointErrorCode.AMBIGUOUS_KEY,
                f"two keys named {slot[0]!r} share key id {slot[1]:08x}",
            )
    return index


def _split_note(note: bytes) -> tuple[bytes, list[tuple[str, int, bytes]]]:
    """The note's text and its signature lines as (name, key id, signature)."""
    malformed = CheckpointErrorCode.MALFORMED
    if not isinstance(note, bytes):
        raise TypeError("a signed note is bytes")
    if len(note) > MAX_NOTE_BYTES:
        raise CheckpointError(malformed, f"note is over {MAX_NOTE_BYTES} bytes")
    try:
        decoded = note.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(malformed, "note is not UTF-8") from None
    if _has_control(decoded.replace("\n", "")):
        raise CheckpointError(malformed, "note holds control characters other than newline")
    split = note.rfind(b"\n\n")
    if split < 0:
        raise CheckpointError(malformed, "no blank line between text and signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block.endswith(b"\n"):
        if block:
            raise CheckpointError(malformed, "the last signature line must end with a newline")
        return text, []
    lines = block[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise CheckpointError(malformed, f"more than {MAX_SIGNATURES} signature lines")
    signatures: list[tuple[str, int, bytes]] = []
    for line in lines:
        if not line.startswith(_EM_DASH_PREFIX):
            raise CheckpointError(malformed, "a signature line must begin with an em dash, space")
        name, _, encoded = line[len(_EM_DASH_PREFIX) :].decode("utf-8").partition(" ")
        raw = _b64decode(encoded)
        if not is_valid_key_name(name) or raw is None or len(raw) <= _KEY_ID_BYTES:
            raise CheckpointError(malformed, f"bad signature line {line.decode('utf-8')!r}")
        signatures.append((name, int.from_bytes(raw[:_KEY_ID_BYTES], "big"), raw[_KEY_ID_BYTES:]))
    return text, signatures


def _verify_signatures(
    text: bytes, signatures: list[tuple[str, int, bytes]], verifiers: Iterable[NoteVerifier]
) -> tuple[NoteVerifier, ...]:
    if not signatures:
        raise CheckpointError(CheckpointErrorCode.NO_SIGNATURE, "the note has no signature line")
    index = _index_verifiers(verifiers)
    signed_by: dict[tuple[str, int], NoteVerifier] = {}
    for name, sig_key_id, signature in signatures:
        verifier = index.get((name, sig_key_id))
        if verifier is None:
            continue  # the spec: ignore signatures from unknown keys
        if not verify(verifier.public_key, text, signature):
            raise CheckpointError(
                CheckpointErrorCode.BAD_SIGNATURE,
                f"signature by {name}+{sig_key_id:08x} does not verify",
            )
        signed_by.setdefault((name, sig_key_id), verifier)
    if not signed_by:
        raise CheckpointError(CheckpointErrorCode.UNKNOWN_KEY, "no signature from a known key")
    return tuple(signed_by.values())


def open_note(note: bytes, verifiers: Iterable[NoteVerifier]) -> OpenedNote:
    """Check a signed note's syntax and signatures; return its text and who signed it.

    Raises CheckpointError: "malformed", "no_signature", "unknown_key", "bad_signature"
    or "ambiguous_key" (see `CheckpointErrorCode`).
    """
    text, signatures = _split_note(note)
    return OpenedNote(text, _verify_signatures(text, signatures, verifiers))


def parse_signed_checkpoint(
    note: bytes, verifiers: Sequence[NoteVerifier], *, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in a signed note, verified by at least one of `verifiers`.

    The note and its body are parsed first ("malformed"), then every signature from a
    known key is checked ("bad_signature" if one fails, "unknown_key" or "no_signature"
    if none is there). With `origin`, a checkpoint for another log is "wrong_origin".
    """
    text, signatures = _split_note(note)
    cp = parse_checkpoint_body(text)
    _verify_signatures(text, signatures, verifiers)
    if origin is not None and cp.origin != origin:
        raise CheckpointError(
            CheckpointErrorCode.WRONG_ORIGIN, f"checkpoint is for {cp.origin!r}, not {origin!r}"
        )
    return cp


def sign_checkpoint(cp: Checkpoint, signer: Signer, key_name: str) -> bytes:
    """`cp` as a signed note with one signature line. Unguarded: see `CheckpointSigner`."""
    return sign_note(checkpoint_body(cp), signer, key_name)


class CheckpointSigner:
    """Signs a log's checkpoints, never two that are inconsistent with each other.

    It remembers the last checkpoint it signed (`last_signed`) and refuses, with
    CheckpointError("inconsistent"), any checkpoint for another origin, of a smaller
    size, of the same size with another root, or of a larger size that `consistency`
    does not confirm extends the last one. A checkpoint equal in size and root to the
    last (say, with a newer time extension) is signed again.

    `consistency` is required but may be None, which trusts any growth: pass the
    Merkle tree's consistency check unless the caller proves growth itself.

    Persistence: pass the stored `last_signed` back to the constructor after a restart.
    `persist`, if given, is called with each checkpoint after the checks pass and before
    it is signed; if it raises, nothing is signed and `last_signed` is unchanged. Make it
    durable (write and sync) so that no signature exists whose checkpoint is not stored.
    Signing is serialized by a lock, so one instance may be shared between threads.
    """

    def __init__(
        self,
        signer: Signer,
        key_name: str,
        consistency: ConsistencyCheck | None,
        *,
        last_signed: Checkpoint | None = None,
        persist: Callable[[Checkpoint], None] | None = None,
    ) -> None:
        if not is_valid_key_name(key_name):
            raise ValueError(f"invalid key name {key_name!r}: empty, spaces or '+'")
        if last_signed is not None and not isinstance(last_signed, Checkpoint):
            raise TypeError("last_signed must be a Checkpoint or None")
        self._signer = signer
        self._key_name = key_name
        self._consistency = consistency
        self._persist = persist
        self._last_signed = last_signed
        self._lock = threading.Lock()

    @property
    def key_name(self) -> str:
        return self._key_name

    @property
    def last_signed(self) -> Checkpoint | None:
        """The last checkpoint this signer signed (or was given at start), or None."""
        return self._last_signed

    def verifier(self) -> NoteVerifier:
        """The verifier for this signer's notes."""
        return NoteVerifier(self._key_name, self._signer.public_key())

    def check(self, cp: Checkpoint) -> None:
        """Raise CheckpointError("inconsistent") if `sign(cp)` would refuse; sign nothing."""
        self._check(cp, self._last_signed)

    def _check(self, cp: Checkpoint, last: Checkpoint | None) -> None:
        if not isinstance(cp, Checkpoint):
            raise TypeError("cp must be a Checkpoint")
        if last is None:
            return
        refuse = CheckpointErrorCode.INCONSISTENT
        if cp.origin != last.origin:
            raise CheckpointError(
                refuse, f"origin {cp.origin!r} is not the signed log's {last.origin!r}"
            )
        if cp.size < last.size:
            raise CheckpointError(refuse, f"size {cp.size} is below signed size {last.size}")
        if cp.size == last.size:
            if cp.root_hash != last.root_hash:
                raise CheckpointError(refuse, f"size {cp.size} was signed with another root")
            return
        if last.size == 0 or self._consistency is None:
            return  # the empty tree is a prefix of every tree
        if self._consistency(last.size, cp.size, last.root_hash, cp.root_hash) is not True:
            raise CheckpointError(
                refuse, f"size {cp.size} is not consistent with signed size {last.size}"
            )

    def sign(self, cp: Checkpoint) -> bytes:
        """`cp` as a signed note, if it is consistent with the last one signed."""
        with self._lock:
            self._check(cp, self._last_signed)
            if self._persist is not None:
                self._persist(cp)
            self._last_signed = cp
            return sign_checkpoint(cp, self._signer, self._key_name)
