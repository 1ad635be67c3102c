"""Handlers of the key family: scoped sub-keys of an account.

The account owner's trader or market-maker key adds, revokes and rotates them
(authorization has already checked that). A revoked or rotated-out key stays on
record, void from a named sequence number, so it is refused with KEY_REVOKED and
its nonces can never be reused.
"""

from __future__ import annotations

from clearhouse.core.authority import KeyRecord
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import Event, SubKeyAdded, SubKeyRevoked, SubKeyRotated
from clearhouse.core.numbers import INT64_MAX, size_max_lots
from clearhouse.core.public_keys import weak_key_problem
from clearhouse.core.state import State
from clearhouse.core.txs import AddSubKey, RevokeSubKey, RotateSubKey

Result = list[Event] | Rejection


def _check_new_key(state: State, public_key: bytes) -> Rejection | None:
    if len(public_key) != 32:
        return Rejection(ErrorCode.INVALID_KEY, "a public key is 32 bytes of Ed25519")
    if (problem := weak_key_problem(public_key)) is not None:
        return Rejection(ErrorCode.WEAK_PUBLIC_KEY, problem)
    if public_key in state.authority.keys:
        return Rejection(ErrorCode.KEY_EXISTS, "the key is already registered")
    return None


def _check_void_from(seq: int, void_from_seq: int) -> Rejection | None:
    if void_from_seq < seq or void_from_seq > INT64_MAX:
        return Rejection(ErrorCode.INVALID_VALUE, f"void_from_seq must be {seq}..{INT64_MAX}")
    return None


def _sub_key(state: State, account: str, public_key: bytes) -> KeyRecord | Rejection:
    key = state.authority.keys.get(public_key)
    if key is None or key.account != account:
        return Rejection(ErrorCode.UNKNOWN_KEY, f"no sub-key of {account!r} with that public key")
    return key


def _check_room(state: State, account: str, seq: int) -> Rejection | None:
    limit = state.config.sub_keys_per_account_max
    if state.authority.live_sub_keys(account, seq) >= limit:
        return Rejection(
            ErrorCode.INVALID_VALUE,
            f"at most {limit} sub-keys per account may sign at once (count includes keys "
            "whose void point is still ahead)",
        )
    return None


def _register(state: State, key: KeyRecord) -> None:
    state.authority.keys[key.public_key] = key
    state.authority.sub_keys.setdefault(key.account, []).append(key.public_key)


def add_sub_key(
    state: State, tx: AddSubKey, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    if tx.account not in state.accounts:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    if (rejection := _check_new_key(state, tx.public_key)) is not None:
        return rejection
    if not 0 <= tx.order_size_max <= size_max_lots:
        return Rejection(ErrorCode.INVALID_VALUE, f"order_size_max must be 0..{size_max_lots}")
    if (rejection := _check_room(state, tx.account, seq)) is not None:
        return rejection
    _register(
        state, KeyRecord(tx.public_key, signer.owner, 0, tx.account, tx.scope, tx.order_size_max)
    )
    return [SubKeyAdded(tx.account, tx.public_key, tx.scope, tx.order_size_max)]


def revoke_sub_key(
    state: State, tx: RevokeSubKey, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    key = _sub_key(state, tx.account, tx.public_key)
    if isinstance(key, Rejection):
        return key
    if (rejection := _check_void_from(seq, tx.void_from_seq)) is not None:
        return rejection
    void_from = (
        tx.void_from_seq if not key.void_from_seq else min(key.void_from_seq, tx.void_from_seq)
    )
    key.void_from_seq = void_from
    return [SubKeyRevoked(tx.account, tx.public_key, void_from)]


def rotate_sub_key(
    state: State, tx: RotateSubKey, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    """The new key signs from now; the old one until `void_from_seq`. While both may
    sign, both count against the account's limit, so at the limit a rotation must
    void the old key at once (void_from_seq = this seq)."""
    key = _sub_key(state, tx.account, tx.public_key)
    if isinstance(key, Rejection):
        return key
    if key.void_from_seq:
        # Already revoked or rotated out (even if the void point is still ahead):
        # rotating it again would mint extra keys from one slot.
        return Rejection(ErrorCode.KEY_REVOKED, "that sub-key is already revoked or rotated")
    if (rejection := _check_new_key(state, tx.new_public_key)) is not None:
        return rejection
    if (rejection := _check_void_from(seq, tx.void_from_seq)) is not None:
        return rejection
    if tx.void_from_seq > seq and (rejection := _check_room(state, tx.account, seq)) is not None:
        return rejection
    key.void_from_seq = tx.void_from_seq
    _register(
        state,
        KeyRecord(tx.new_public_key, key.owner, 0, key.account, key.scope, key.order_size_max),
    )
    return [SubKeyRotated(tx.account, tx.public_key, tx.new_public_key, key.void_from_seq)]
