"""Attacks on the envelope and on who may do what: each is refused with its own code.

Signatures are forged, moved to another venue or replaced by noise; nonces are
replayed, reused and sent from below the window; lifetimes run out or reach too far;
keys sign what their roles, owners or sub-key scopes do not allow, or after they
were revoked; large withdrawals are paid without their owner's request, twice, or
cancelled by someone else. Every refusal leaves the state digest exactly as it was and the full
invariant sweep passing (`security_kit.refuse`). Each attack sits next to the
legitimate transaction it imitates, accepted, so a refusal is never an accident of
set-up.
"""

from __future__ import annotations

import random

import pytest
from security_kit import (
    ASK,
    BID,
    FUNDS,
    INDEX,
    PERP,
    RISK_CHANGE,
    TIMELOCK_NS,
    accept,
    accept_tx,
    approve,
    ask,
    bid,
    build_venue,
    cash,
    craft,
    large_amount,
    next_nonce,
    pass_proposal,
    pending,
    propose,
    refuse,
    refuse_tx,
    request_withdrawal,
    with_fields,
)

from clearhouse.auth.signing import signing_bytes
from clearhouse.core import (
    AddSubKey,
    AmendOrder,
    CancelAll,
    CancelOrder,
    Deposit,
    EngineConfig,
    ErrorCode,
    ExecuteProposal,
    OracleUpdate,
    Payload,
    Rejected,
    RevokeSubKey,
    RotateSubKey,
    SubKeyScope,
    Transfer,
    Withdraw,
    WithdrawalCancelled,
    Withdrawn,
)
from clearhouse.core.authority import NONCE_WINDOW
from clearhouse.core.numbers import INT64_MAX
from clearhouse.core.txs import ApproveWithdrawal, CancelWithdrawal, Propose
from clearhouse.testing import TestVenue, signer_for

E = ErrorCode
ANY_OBSERVED_NS = 1_700_000_000 * 10**9
"""An oracle observation time for updates refused before it is looked at (by role)."""


@pytest.fixture
def venue() -> TestVenue:
    return build_venue()


# -- signatures ------------------------------------------------------------------


def test_a_signature_by_another_key_is_bad(venue: TestVenue) -> None:
    genuine = craft(venue, Withdraw("alice", "USDC", 10**6), "alice")
    message = signing_bytes(venue.genesis.venue_id, genuine)
    forged = with_fields(genuine, signature=signer_for("mallory").sign(message))
    refuse_tx(venue, forged, E.BAD_SIGNATURE)
    # Mallory's signature under Mallory's own (unregistered) key names her instead.
    refuse_tx(
        venue, with_fields(forged, signer=signer_for("mallory").public_key()), E.UNKNOWN_SIGNER
    )
    # Another registered key's real signature on alice's envelope: still alice's key named.
    by_bob = with_fields(genuine, signature=signer_for("bob").sign(message))
    refuse_tx(venue, by_bob, E.BAD_SIGNATURE)
    accept_tx(venue, genuine)


def test_random_and_malformed_signatures_are_bad(venue: TestVenue) -> None:
    rng = random.Random(20240601)
    genuine = craft(venue, bid("alice"), "alice")
    for signature in (
        rng.randbytes(64),
        rng.randbytes(64),
        bytes(64),
        b"\xff" * 64,
        b"",
        genuine.signature[:63],
        genuine.signature + b"\x00",
    ):
        refuse_tx(venue, with_fields(genuine, signature=signature), E.BAD_SIGNATURE)
    accept_tx(venue, genuine)


def test_a_signature_for_another_venue_is_bad_here(venue: TestVenue) -> None:
    payload = Withdraw("alice", "USDC", 10**6)
    nonce = next_nonce(venue, "alice")
    elsewhere = craft(venue, payload, "alice", nonce=nonce, venue_id="other-venue")
    refuse_tx(venue, elsewhere, E.BAD_SIGNATURE)
    # The same bytes are good at the venue they were signed for.
    other = build_venue("other-venue")
    other.now_ns = venue.now_ns
    accept_tx(other, elsewhere)
    # And here, signed for this venue with the same nonce.
    accept_tx(venue, craft(venue, payload, "alice", nonce=nonce))


def test_a_signature_moved_to_another_transaction_is_bad(venue: TestVenue) -> None:
    genuine = craft(venue, Withdraw("alice", "USDC", 10**6), "alice")
    for changed in (
        with_fields(genuine, payload=Withdraw("alice", "USDC", 10**9)),
        with_fields(genuine, payload=Transfer("alice", "alice:hedge", "USDC", 10**6)),
        with_fields(genuine, nonce=genuine.nonce + 1),
        with_fields(genuine, expires_at_ns=genuine.expires_at_ns - 1),
    ):
        refuse_tx(venue, changed, E.BAD_SIGNATURE)
    accept_tx(venue, genuine)


def test_an_unregistered_key_is_unknown(venue: TestVenue) -> None:
    mallory = craft(venue, Withdraw("alice", "USDC", 10**6), "mallory")
    refuse_tx(venue, mallory, E.UNKNOWN_SIGNER)
    refuse(venue, bid("alice"), E.UNKNOWN_SIGNER, by="mallory")
    refuse(venue, Deposit("mallory", "USDC", 10**6), E.UNKNOWN_SIGNER, by="mallory")
    refuse(venue, Propose(RISK_CHANGE), E.UNKNOWN_SIGNER, by="mallory")
    # Empty and short signer fields are unknown too (the verifier also says no).
    refuse_tx(venue, with_fields(mallory, signer=b""), E.UNKNOWN_SIGNER)
    refuse_tx(
        venue, with_fields(mallory, signer=signer_for("alice").public_key()[:31]), E.UNKNOWN_SIGNER
    )


# -- nonces ------------------------------------------------------------------------


def test_the_same_signed_transaction_twice_is_a_reused_nonce(venue: TestVenue) -> None:
    tx = craft(venue, Withdraw("alice", "USDC", 10**6), "alice")
    accept_tx(venue, tx)
    refuse_tx(venue, tx, E.NONCE_REUSED)
    venue.now_ns += 30 * 10**9  # later, still before its expiry
    refuse_tx(venue, tx, E.NONCE_REUSED)
    assert cash(venue, "alice") == FUNDS - 10**6


def test_a_new_transaction_on_a_used_nonce_is_reused(venue: TestVenue) -> None:
    first = craft(venue, bid("alice"), "alice")
    accept_tx(venue, first)
    refuse_tx(venue, craft(venue, ask("alice"), "alice", nonce=first.nonce), E.NONCE_REUSED)
    later = craft(venue, bid("alice", price=BID - 500_000), "alice")
    accept_tx(venue, later)
    # The older nonce is inside the window: still refused, never reopened.
    refuse_tx(venue, craft(venue, ask("alice"), "alice", nonce=first.nonce), E.NONCE_REUSED)


def test_a_nonce_below_the_window_is_too_old(venue: TestVenue) -> None:
    high = 1_000
    accept_tx(venue, craft(venue, bid("mm"), "mm", nonce=high))
    oldest_in_window = high - NONCE_WINDOW + 1
    refuse_tx(venue, craft(venue, ask("mm"), "mm", nonce=oldest_in_window - 1), E.NONCE_TOO_OLD)
    refuse_tx(venue, craft(venue, ask("mm"), "mm", nonce=1), E.NONCE_TOO_OLD)
    accept_tx(venue, craft(venue, ask("mm"), "mm", nonce=oldest_in_window))
    refuse_tx(venue, craft(venue, ask("mm"), "mm", nonce=oldest_in_window), E.NONCE_REUSED)


def test_a_zero_nonce_is_invalid(venue: TestVenue) -> None:
    refuse_tx(venue, craft(venue, bid("alice"), "alice", nonce=0), E.NONCE_INVALID)


def test_out_of_order_nonces_inside_the_window_are_each_accepted_once(venue: TestVenue) -> None:
    """A market maker signs many orders at once; they may be sequenced in any order."""
    txs = [
        craft(venue, bid("mm", price=BID - 500_000 * n), "mm", nonce=n)
        for n in range(1, NONCE_WINDOW + 1)
    ]
    shuffled = txs[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != txs
    for tx in shuffled:
        accept_tx(venue, tx)
    view = venue.engine.account("mm")
    assert view is not None
    assert view.open_orders == NONCE_WINDOW
    for tx in txs:
        refuse_tx(venue, tx, E.NONCE_REUSED)


def test_a_rejected_transaction_does_not_use_its_nonce(venue: TestVenue) -> None:
    """The client reuses the nonce for the corrected transaction; the bad bytes stay dead."""
    nonce = next_nonce(venue, "alice")
    too_much = craft(venue, Transfer("alice", "bob", "USDC", FUNDS + 1), "alice", nonce=nonce)
    refuse_tx(venue, too_much, E.INSUFFICIENT_FUNDS)
    accept_tx(venue, craft(venue, Withdraw("alice", "USDC", 10**6), "alice", nonce=nonce))
    refuse_tx(venue, too_much, E.NONCE_REUSED)


# -- lifetimes ---------------------------------------------------------------------


def test_an_expired_transaction_is_refused(venue: TestVenue) -> None:
    tx = craft(venue, Withdraw("alice", "USDC", 10**6), "alice", expires_at_ns=venue.now_ns + 10)
    refuse_tx(venue, tx, E.EXPIRED, at_ns=venue.now_ns + 11)
    stale = craft(venue, bid("alice"), "alice", expires_at_ns=venue.now_ns - 1)
    refuse_tx(venue, stale, E.EXPIRED)
    refuse_tx(venue, craft(venue, bid("alice"), "alice", expires_at_ns=0), E.EXPIRED)
    # Sequenced exactly at its expiry it is still good.
    last_moment = craft(venue, bid("alice"), "alice", expires_at_ns=venue.now_ns + 5)
    accept_tx(venue, last_moment, at_ns=venue.now_ns + 5)


def test_an_expiry_beyond_the_lifetime_limit_is_too_far(venue: TestVenue) -> None:
    lifetime_max = EngineConfig().tx_lifetime_ns_max
    assert venue.genesis.config.tx_lifetime_ns_max == lifetime_max
    for expiry in (venue.now_ns + lifetime_max + 1, venue.now_ns + 10 * lifetime_max, 2**63 - 1):
        too_far = craft(venue, Withdraw("alice", "USDC", 10**6), "alice", expires_at_ns=expiry)
        refuse_tx(venue, too_far, E.EXPIRY_TOO_FAR)
    at_limit = craft(
        venue, Withdraw("alice", "USDC", 10**6), "alice", expires_at_ns=venue.now_ns + lifetime_max
    )
    accept_tx(venue, at_limit)


# -- roles and owners --------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "by"),
    [
        (Deposit("alice", "USDC", 10**6), "alice"),
        (Deposit("mm", "USDC", 10**6), "mm"),
        (OracleUpdate(INDEX, 2 * 10**11, ANY_OBSERVED_NS), "alice"),
        (OracleUpdate(INDEX, 2 * 10**11, ANY_OBSERVED_NS), "mm"),
        (OracleUpdate(INDEX, 2 * 10**11, ANY_OBSERVED_NS), "custody"),
        (Deposit("alice", "USDC", 10**6), "oracle"),
        (Deposit("alice", "USDC", 10**6), "gov-a"),
        (Deposit("alice", "USDC", 10**6), "keeper"),
        (Withdraw("alice", "USDC", 10**6), "custody"),
        (bid("alice"), "custody"),
        (bid("alice"), "oracle"),
        (bid("alice"), "gov-a"),
        (bid("alice"), "keeper"),
        (Propose(RISK_CHANGE), "alice"),
        (Propose(RISK_CHANGE), "custody"),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_a_key_without_the_role_is_forbidden(venue: TestVenue, payload: Payload, by: str) -> None:
    refuse(venue, payload, E.ROLE_FORBIDDEN, by=by)


@pytest.mark.parametrize(
    ("payload", "by"),
    [
        (Withdraw("bob", "USDC", 10**6), "alice"),
        (Transfer("bob", "alice", "USDC", 10**6), "alice"),
        (bid("bob"), "alice"),
        (CancelAll("bob"), "alice"),
        (CancelOrder("bob", order_id=1), "alice"),
        (AmendOrder("bob", 1, size=2), "alice"),
        (AddSubKey("bob", signer_for("x").public_key(), SubKeyScope.TRADE), "alice"),
        (Withdraw("alice", "USDC", 10**6), "ali"),  # "ali" is a prefix, not the owner
        (Withdraw("alice:hedge", "USDC", 10**6), "ali"),
        (bid("alice:hedge"), "bob"),
        (Withdraw("alice", "USDC", 10**6), "mm"),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_a_trader_acting_on_another_owners_account_is_not_the_owner(
    venue: TestVenue, payload: Payload, by: str
) -> None:
    refuse(venue, payload, E.NOT_ACCOUNT_OWNER, by=by)


def test_an_owner_acts_on_all_of_its_accounts(venue: TestVenue) -> None:
    accept(venue, Transfer("alice", "alice:hedge", "USDC", 10**6))
    accept(venue, bid("alice:hedge"), by="alice")
    accept(venue, Withdraw("alice:hedge", "USDC", 10**6), by="alice")


# -- sub-keys ----------------------------------------------------------------------


def _add_sub_key(
    venue: TestVenue, name: str, scope: SubKeyScope, account: str = "alice", size_max: int = 0
) -> bytes:
    public_key = signer_for(name).public_key()
    accept(venue, AddSubKey(account, public_key, scope, size_max), by="alice")
    return public_key


@pytest.mark.parametrize(
    "payload",
    [
        Withdraw("alice", "USDC", 10**6),
        Transfer("alice", "alice:hedge", "USDC", 10**6),
        Deposit("alice", "USDC", 10**6),
        OracleUpdate(INDEX, 2 * 10**11, ANY_OBSERVED_NS),
        AddSubKey("alice", signer_for("more").public_key(), SubKeyScope.TRADE),
        RevokeSubKey("alice", signer_for("alice-trade").public_key(), 1),
        RotateSubKey("alice", signer_for("alice-trade").public_key(), bytes(32), 1),
        Propose(RISK_CHANGE),
    ],
    ids=lambda payload: type(payload).__name__,
)
def test_a_trade_sub_key_may_only_trade(venue: TestVenue, payload: Payload) -> None:
    _add_sub_key(venue, "alice-trade", SubKeyScope.TRADE)
    refuse(venue, payload, E.ROLE_FORBIDDEN, by="alice-trade")
    accept(venue, bid("alice"), by="alice-trade")


def test_a_trade_sub_key_acts_for_its_own_account_only(venue: TestVenue) -> None:
    _add_sub_key(venue, "alice-trade", SubKeyScope.TRADE)
    for account in ("alice:hedge", "bob"):
        refuse(venue, bid(account), E.NOT_ACCOUNT_OWNER, by="alice-trade")
        refuse(venue, CancelAll(account), E.NOT_ACCOUNT_OWNER, by="alice-trade")
    placed = accept(venue, bid("alice"), by="alice-trade")
    accept(venue, CancelOrder("alice", order_id=placed.seq), by="alice-trade")
    accept(venue, CancelAll("alice"), by="alice-trade")


@pytest.mark.parametrize(
    "payload",
    [
        bid("alice"),
        ask("alice"),
        CancelAll("alice"),
        CancelOrder("alice", order_id=1),
        AmendOrder("alice", 1, size=2),
        Withdraw("alice", "USDC", 10**6),
    ],
    ids=lambda payload: type(payload).__name__,
)
def test_a_read_sub_key_signs_nothing(venue: TestVenue, payload: Payload) -> None:
    _add_sub_key(venue, "alice-read", SubKeyScope.READ)
    refuse(venue, payload, E.ROLE_FORBIDDEN, by="alice-read")


def test_a_sub_key_over_its_size_limit_is_refused(venue: TestVenue) -> None:
    _add_sub_key(venue, "alice-small", SubKeyScope.TRADE, size_max=5)
    refuse(venue, bid("alice", size=6), E.SUB_KEY_SIZE_LIMIT, by="alice-small")
    refuse(venue, bid("alice", size=10**6), E.SUB_KEY_SIZE_LIMIT, by="alice-small")
    placed = accept(venue, bid("alice", size=5), by="alice-small")
    refuse(venue, AmendOrder("alice", placed.seq, size=6), E.SUB_KEY_SIZE_LIMIT, by="alice-small")
    accept(venue, AmendOrder("alice", placed.seq, size=4), by="alice-small")
    # The master key is not limited by its sub-key's scope.
    accept(venue, AmendOrder("alice", placed.seq, size=50), by="alice")


def test_a_revoked_sub_key_is_refused_from_its_void_point(venue: TestVenue) -> None:
    public_key = _add_sub_key(venue, "alice-trade", SubKeyScope.TRADE)
    revoke_seq = venue.engine.seq + 1
    accept(venue, RevokeSubKey("alice", public_key, revoke_seq + 2), by="alice")
    accept(venue, bid("alice"), by="alice-trade")  # seq revoke_seq + 1: just before the point
    assert venue.engine.seq == revoke_seq + 1
    refuse(venue, bid("alice", price=BID - 500_000), E.KEY_REVOKED, by="alice-trade")
    refuse(venue, CancelAll("alice"), E.KEY_REVOKED, by="alice-trade")
    # It stays on record: the key cannot be added back to reopen its nonces.
    refuse(venue, AddSubKey("alice", public_key, SubKeyScope.TRADE), E.KEY_EXISTS, by="alice")


def test_a_sub_key_revoked_now_is_refused_at_once(venue: TestVenue) -> None:
    public_key = _add_sub_key(venue, "alice-trade", SubKeyScope.TRADE)
    presigned = craft(venue, bid("alice"), "alice-trade")
    accept(venue, RevokeSubKey("alice", public_key, venue.engine.seq + 1), by="alice")
    refuse_tx(venue, presigned, E.KEY_REVOKED)


def test_a_rotated_sub_key_is_refused_from_its_void_point_and_the_new_key_works(
    venue: TestVenue,
) -> None:
    old = _add_sub_key(venue, "alice-trade", SubKeyScope.TRADE, size_max=5)
    new = signer_for("alice-trade-2").public_key()
    rotate_seq = venue.engine.seq + 1
    accept(venue, RotateSubKey("alice", old, new, rotate_seq + 2), by="alice")
    accept(venue, bid("alice"), by="alice-trade-2")  # the new key works at once
    refuse(venue, bid("alice", price=BID - 500_000), E.KEY_REVOKED, by="alice-trade")
    # The new key inherits the scope and its size limit.
    refuse(venue, bid("alice", size=6), E.SUB_KEY_SIZE_LIMIT, by="alice-trade-2")
    refuse(venue, Withdraw("alice", "USDC", 1), E.ROLE_FORBIDDEN, by="alice-trade-2")


def test_a_sub_key_is_accepted_up_to_its_void_point() -> None:
    venue = build_venue()
    public_key = _add_sub_key(venue, "alice-trade", SubKeyScope.TRADE)
    revoke_seq = venue.engine.seq + 1
    accept(venue, RevokeSubKey("alice", public_key, revoke_seq + 4), by="alice")
    for step in range(3):
        accept(venue, bid("alice", price=BID - 500_000 * step), by="alice-trade")
    refuse(venue, bid("alice", price=ASK), E.KEY_REVOKED, by="alice-trade")


def test_another_owner_cannot_revoke_or_rotate_alices_sub_key(venue: TestVenue) -> None:
    public_key = _add_sub_key(venue, "alice-trade", SubKeyScope.TRADE)
    seq = venue.engine.seq
    refuse(venue, RevokeSubKey("alice", public_key, seq + 1), E.NOT_ACCOUNT_OWNER, by="bob")
    refuse(venue, RevokeSubKey("bob", public_key, seq + 2), E.UNKNOWN_KEY, by="bob")
    refuse(venue, RotateSubKey("bob", public_key, bytes(32), seq + 3), E.UNKNOWN_KEY, by="bob")
    accept(venue, bid("alice"), by="alice-trade")


def _live_sub_keys(venue: TestVenue, account: str) -> int:
    """Sub-keys of `account` that may still sign at the next sequence number."""
    next_seq = venue.engine.seq + 1
    keys = venue.engine._state.authority.keys.values()  # type: ignore[attr-defined]
    return sum(
        1
        for key in keys
        if key.is_sub_key
        and key.account == account
        and not (key.void_from_seq and key.void_from_seq <= next_seq)
    )


def test_rotating_one_sub_key_again_and_again_cannot_multiply_live_keys(venue: TestVenue) -> None:
    """RotateSubKey with a void point ahead leaves the old key live until then.

    Rotating that same key again would register one more live sub-key that no slot
    counts (live keys beyond `sub_keys_per_account_max`, counts out of step with the
    records, the sweep failing: any trader could halt the venue). A key already
    rotated is refused with KEY_REVOKED, even while its void point is still ahead.
    """
    limit = venue.genesis.config.sub_keys_per_account_max
    old = _add_sub_key(venue, "alice-trade", SubKeyScope.TRADE)
    accept(venue, RotateSubKey("alice", old, signer_for("alice-trade-0").public_key(), INT64_MAX))
    assert _live_sub_keys(venue, "alice") == 2  # the old key until INT64_MAX, and the new
    for n in range(1, limit + 2):
        new = signer_for(f"alice-trade-{n}").public_key()
        refuse(venue, RotateSubKey("alice", old, new, INT64_MAX), E.KEY_REVOKED, by="alice")
        refuse(venue, RotateSubKey("alice", old, new, venue.engine.seq + 1), E.KEY_REVOKED)
    assert _live_sub_keys(venue, "alice") == 2
    # Both still sign until the old key's void point.
    accept(venue, bid("alice"), by="alice-trade")
    accept(venue, bid("alice", price=BID - 500_000), by="alice-trade-0")


def test_rotating_a_sub_key_pending_revocation_is_refused(venue: TestVenue) -> None:
    """Revoke with a void point ahead (uncounted at once), then rotate the same key.

    The rotation would register a live, uncounted key; it is refused with KEY_REVOKED,
    as is the rotation of a key already void now.
    """
    old = _add_sub_key(venue, "alice-trade", SubKeyScope.TRADE)
    accept(venue, RevokeSubKey("alice", old, INT64_MAX), by="alice")
    venue.engine.check_invariants()
    new = signer_for("alice-trade-2").public_key()
    refuse(venue, RotateSubKey("alice", old, new, INT64_MAX), E.KEY_REVOKED)
    accept(venue, RevokeSubKey("alice", old, venue.engine.seq + 1), by="alice")
    refuse(venue, RotateSubKey("alice", old, new, INT64_MAX), E.KEY_REVOKED)
    refuse(venue, bid("alice"), E.KEY_REVOKED, by="alice-trade")
    assert _live_sub_keys(venue, "alice") == 0
    # The slot it freed takes the new key the ordinary way.
    accept(venue, AddSubKey("alice", new, SubKeyScope.TRADE), by="alice")
    accept(venue, bid("alice"), by="alice-trade-2")


@pytest.mark.parametrize("path", ["rotate-the-newest", "revoke-later-and-add"])
def test_a_distant_void_point_cannot_multiply_signing_sub_keys(venue: TestVenue, path: str) -> None:
    """Keys that may sign stay within `sub_keys_per_account_max`.

    Once a finding, now fixed: `RevokeSubKey` frees the slot at once and `RotateSubKey`
    swaps the slot to the new key, while the old key signs until `void_from_seq`,
    which may be INT64_MAX. Rotating the newest key each time, or revoking a key
    "from INT64_MAX" and adding another, gives one account any number of trade
    sub-keys that sign; the sweep is satisfied because it counts only keys without
    a void point.
    """
    limit = venue.genesis.config.sub_keys_per_account_max
    current = _add_sub_key(venue, "alice-trade-0", SubKeyScope.TRADE)
    for n in range(1, limit + 2):
        new = signer_for(f"alice-trade-{n}").public_key()
        if path == "rotate-the-newest":
            steps: tuple[Payload, ...] = (RotateSubKey("alice", current, new, INT64_MAX),)
        else:
            steps = (
                RevokeSubKey("alice", current, INT64_MAX),
                AddSubKey("alice", new, SubKeyScope.TRADE),
            )
        for payload in steps:
            if not _accepted_within_the_limit(venue, payload):
                return
        current = new


def _accepted_within_the_limit(venue: TestVenue, payload: Payload) -> bool:
    """Apply alice's `payload`: refused with the state unchanged (False), or accepted
    leaving alice's signing sub-keys within the limit (True)."""
    before = venue.engine.digest()
    outcome = venue.apply(payload, by="alice")
    venue.engine.check_invariants()
    if isinstance(outcome, Rejected):
        assert venue.engine.digest() == before
        return False
    assert _live_sub_keys(venue, "alice") <= venue.genesis.config.sub_keys_per_account_max
    return True


# -- large withdrawals -------------------------------------------------------------
#
# Above `large_withdrawal_units` a Withdraw is a request: the amount leaves the
# balance and is held as pending; governance pays it (ApproveWithdrawal of the
# request id) or its owner cancels it (the amount returns). Governance can only pay
# what an owner asked for, once; conservation counts the pending amount throughout.


def test_a_large_withdrawal_is_only_a_request(venue: TestVenue) -> None:
    large = large_amount(venue)
    assert large < FUNDS
    totals = venue.engine.totals()
    request_id = request_withdrawal(venue, "alice", large)
    # Nor is one from a sub-account paid at once.
    hedge_id = request_withdrawal(venue, "alice:hedge", large, by="alice")
    assert pending(venue) == [
        (request_id, "alice", "USDC", large),
        (hedge_id, "alice:hedge", "USDC", large),
    ]
    after = venue.engine.totals()
    assert after["withdrawals"] == totals["withdrawals"]  # nothing has left the venue
    assert after["pending_withdrawals"] == 2 * large
    # Just below the threshold a withdrawal is paid at once.
    paid = accept(venue, Withdraw("bob", "USDC", large - 1))
    assert [type(event).__name__ for event in paid.events] == ["Withdrawn"]
    assert venue.engine.totals()["withdrawals"] == totals["withdrawals"] + large - 1
    venue.engine.check_invariants()


def test_a_requested_amount_is_held_and_cannot_be_spent_again(venue: TestVenue) -> None:
    large = large_amount(venue)
    request_id = request_withdrawal(venue, "alice", large)
    left = FUNDS - large
    refuse(venue, Transfer("alice", "alice:hedge", "USDC", left + 1), E.INSUFFICIENT_FUNDS)
    refuse(venue, Withdraw("alice", "USDC", left + 1), E.INSUFFICIENT_FUNDS)
    refuse(venue, Withdraw("alice", "USDC", large), E.INSUFFICIENT_FUNDS)
    accept(venue, Transfer("alice", "alice:hedge", "USDC", left))
    assert cash(venue, "alice") == 0
    outcome = pass_proposal(venue, ApproveWithdrawal(request_id))
    assert outcome.events[0] == Withdrawn("alice", "USDC", large, 0)
    assert cash(venue, "alice") == 0
    venue.engine.check_invariants()


def test_governance_cannot_pay_a_withdrawal_nobody_requested(venue: TestVenue) -> None:
    """Two governors can no longer move money out of an account whose owner asked for nothing."""
    small = accept(venue, Withdraw("alice", "USDC", 10**6))  # paid at once: not a request
    deposit = accept(venue, Deposit("alice", "USDC", 10**6))
    request_id = request_withdrawal(venue, "bob", large_amount(venue))
    for unknown in (0, 1, small.seq, deposit.seq, request_id + 1, venue.engine.seq + 1, INT64_MAX):
        refuse(venue, Propose(ApproveWithdrawal(unknown)), E.UNKNOWN_WITHDRAWAL, by="gov-a")
    # Bob's own request is the only one governance may pay, and it pays bob's account.
    outcome = pass_proposal(venue, ApproveWithdrawal(request_id))
    assert outcome.events[0] == Withdrawn("bob", "USDC", large_amount(venue), cash(venue, "bob"))
    assert cash(venue, "alice") == FUNDS
    venue.engine.check_invariants()


def test_a_large_withdrawal_approved_by_governance_is_paid(venue: TestVenue) -> None:
    large = large_amount(venue)
    totals = venue.engine.totals()
    request_id = request_withdrawal(venue, "alice", large)
    proposal_id = propose(venue, ApproveWithdrawal(request_id))
    approve(venue, proposal_id)
    # Nothing is paid before the timelock has run, nor on one governor's word.
    refuse(venue, ExecuteProposal(proposal_id), E.TIMELOCK_NOT_ELAPSED, by="gov-a")
    assert pending(venue) == [(request_id, "alice", "USDC", large)]
    outcome = accept(
        venue, ExecuteProposal(proposal_id), by="gov-a", at_ns=venue.now_ns + TIMELOCK_NS
    )
    assert [type(event).__name__ for event in outcome.events] == ["Withdrawn", "ProposalExecuted"]
    assert outcome.events[0] == Withdrawn("alice", "USDC", large, FUNDS - large)
    assert cash(venue, "alice") == FUNDS - large
    assert pending(venue) == []
    after = venue.engine.totals()
    assert after["withdrawals"] == totals["withdrawals"] + large
    assert after["pending_withdrawals"] == 0
    venue.engine.check_invariants()


def test_a_withdrawal_is_paid_once(venue: TestVenue) -> None:
    large = large_amount(venue)
    request_id = request_withdrawal(venue, "alice", large)
    first = propose(venue, ApproveWithdrawal(request_id), by="gov-a")
    second = propose(venue, ApproveWithdrawal(request_id), by="gov-b")
    approve(venue, first, "gov-c")
    approve(venue, second, "gov-c")
    at_ns = venue.now_ns + TIMELOCK_NS
    accept(venue, ExecuteProposal(first), by="gov-a", at_ns=at_ns)
    withdrawals = venue.engine.totals()["withdrawals"]
    # The second proposal for the same request is checked again at execution.
    refuse(venue, ExecuteProposal(second), E.UNKNOWN_WITHDRAWAL, by="gov-b")
    refuse(venue, Propose(ApproveWithdrawal(request_id)), E.UNKNOWN_WITHDRAWAL, by="gov-c")
    # A paid request cannot be cancelled back into the balance either.
    refuse(venue, CancelWithdrawal("alice", request_id), E.UNKNOWN_WITHDRAWAL, by="alice")
    assert cash(venue, "alice") == FUNDS - large
    assert venue.engine.totals()["withdrawals"] == withdrawals


def test_a_cancelled_request_returns_the_amount_and_cannot_be_paid(venue: TestVenue) -> None:
    large = large_amount(venue)
    totals = venue.engine.totals()
    request_id = request_withdrawal(venue, "alice", large)
    proposal_id = propose(venue, ApproveWithdrawal(request_id))
    approve(venue, proposal_id)
    outcome = accept(venue, CancelWithdrawal("alice", request_id), by="alice")
    assert outcome.events == [WithdrawalCancelled(request_id, "alice", large, FUNDS)]
    assert cash(venue, "alice") == FUNDS
    assert pending(venue) == []
    assert venue.engine.totals() == totals
    venue.engine.check_invariants()
    refuse(
        venue,
        ExecuteProposal(proposal_id),
        E.UNKNOWN_WITHDRAWAL,
        by="gov-a",
        at_ns=venue.now_ns + TIMELOCK_NS,
    )
    refuse(venue, CancelWithdrawal("alice", request_id), E.UNKNOWN_WITHDRAWAL, by="alice")
    assert cash(venue, "alice") == FUNDS


def test_only_the_owner_cancels_its_request(venue: TestVenue) -> None:
    large = large_amount(venue)
    request_id = request_withdrawal(venue, "alice", large)
    hedge_id = request_withdrawal(venue, "alice:hedge", large, by="alice")
    bob_id = request_withdrawal(venue, "bob", large)
    accept(venue, AddSubKey("alice", signer_for("alice-trade").public_key(), SubKeyScope.TRADE))
    for by in ("bob", "ali", "mm"):  # "ali" is a prefix of alice, not its owner
        refuse(venue, CancelWithdrawal("alice", request_id), E.NOT_ACCOUNT_OWNER, by=by)
    refuse(venue, CancelWithdrawal("alice:hedge", hedge_id), E.NOT_ACCOUNT_OWNER, by="bob")
    for by in ("gov-a", "custody", "alice-trade"):
        refuse(venue, CancelWithdrawal("alice", request_id), E.ROLE_FORBIDDEN, by=by)
    refuse(venue, CancelWithdrawal("mallory", request_id), E.UNKNOWN_SIGNER, by="mallory")
    # Naming one's own account with another's request id finds nothing.
    refuse(venue, CancelWithdrawal("bob", request_id), E.UNKNOWN_WITHDRAWAL, by="bob")
    refuse(venue, CancelWithdrawal("alice", bob_id), E.UNKNOWN_WITHDRAWAL, by="alice")
    refuse(venue, CancelWithdrawal("alice", hedge_id), E.UNKNOWN_WITHDRAWAL, by="alice")
    refuse(venue, CancelWithdrawal("alice:hedge", request_id), E.UNKNOWN_WITHDRAWAL, by="alice")
    refuse(venue, CancelWithdrawal("nobody", request_id), E.NOT_ACCOUNT_OWNER, by="alice")
    assert len(pending(venue)) == 3
    # Nor may the requester approve its own request.
    refuse(venue, Propose(ApproveWithdrawal(request_id)), E.ROLE_FORBIDDEN, by="alice")
    accept(venue, CancelWithdrawal("alice:hedge", hedge_id), by="alice")
    accept(venue, CancelWithdrawal("alice", request_id), by="alice")
    assert cash(venue, "alice") == cash(venue, "alice:hedge") == FUNDS
    assert pending(venue) == [(bob_id, "bob", "USDC", large)]
    venue.engine.check_invariants()


def test_pending_requests_per_account_are_bounded(venue: TestVenue) -> None:
    config = venue.genesis.config
    large = large_amount(venue)
    limit = config.pending_withdrawals_per_account_max
    accept(venue, Deposit("alice", "USDC", (limit + 2) * large))
    request_ids = [request_withdrawal(venue, "alice", large) for _ in range(limit)]
    refuse(venue, Withdraw("alice", "USDC", large), E.WITHDRAWALS_PENDING_LIMIT)
    # The limit is checked before the funds.
    refuse(venue, Withdraw("alice", "USDC", 10**15), E.WITHDRAWALS_PENDING_LIMIT)
    # Per account: alice's other account and small withdrawals are not held up.
    request_withdrawal(venue, "alice:hedge", large, by="alice")
    accept(venue, Withdraw("alice", "USDC", config.large_withdrawal_units))
    # Cancelling one frees its slot; paying one does too.
    accept(venue, CancelWithdrawal("alice", request_ids[0]), by="alice")
    request_ids[0] = request_withdrawal(venue, "alice", large)
    refuse(venue, Withdraw("alice", "USDC", large), E.WITHDRAWALS_PENDING_LIMIT)
    pass_proposal(venue, ApproveWithdrawal(request_ids[1]))
    request_withdrawal(venue, "alice", large)
    venue.engine.check_invariants()


def test_the_marks_are_set_for_trading(venue: TestVenue) -> None:
    """Sanity of the fixture: orders rest, and a crossing order trades."""
    accept(venue, ask("bob", price=ASK))
    outcome = accept(venue, bid("alice", price=ASK))
    assert any(type(event).__name__ == "TradeExecuted" for event in outcome.events)
    assert venue.engine.depth(PERP, 1) is not None
