"""Attacks on governance: M-of-N approval with a timelock, and segregation of duties.

Three governors (gov-a, gov-b, gov-c), 2 of 3, a one-day timelock and a seven-day
approval lifetime (`standard_genesis`). Each attack tries to take an action with
fewer approvals, sooner, with approvals that no longer stand, from a key without
the role, or to hand one owner roles that must stay apart; each is refused with
its own code and leaves the state digest unchanged.
"""

from __future__ import annotations

import pytest
from security_kit import (
    APPROVAL_TTL_NS,
    BID,
    PERP,
    RISK_CHANGE,
    TIMELOCK_NS,
    accept,
    approve,
    ask,
    bid,
    build_venue,
    craft,
    pass_proposal,
    propose,
    refuse,
    refuse_tx,
)

from clearhouse.core import (
    AddSubKey,
    Approve,
    CancelAll,
    CancelProposal,
    Deposit,
    ErrorCode,
    ExecuteProposal,
    Propose,
    Rejected,
    Role,
    SubKeyScope,
)
from clearhouse.core.genesis import GenesisError, GenesisKey, GovernanceRules, make_genesis
from clearhouse.core.governance import _standing_approvals
from clearhouse.core.txs import GrantRole, RevokeRole, RotateKey
from clearhouse.testing import TestVenue, signer_for

E = ErrorCode


@pytest.fixture
def venue() -> TestVenue:
    return build_venue()


def _key(name: str) -> bytes:
    return signer_for(name).public_key()


def _grant(name: str, owner: str, role: Role) -> GrantRole:
    return GrantRole(_key(name), owner, role)


def _initial_margin_bps(venue: TestVenue, instrument: str = PERP) -> int:
    (spec,) = (spec for spec in venue.engine.instruments() if spec.id == instrument)
    return spec.initial_margin_bps


def _created_ns(venue: TestVenue) -> int:
    """The timestamp of the last transaction: a proposal's creation time right after it."""
    return venue.engine.timestamp_ns


# -- who may govern ----------------------------------------------------------------


@pytest.mark.parametrize("by", ["alice", "mm", "custody", "oracle", "keeper", "mallory"])
def test_a_non_governor_cannot_take_part(venue: TestVenue, by: str) -> None:
    code = E.UNKNOWN_SIGNER if by == "mallory" else E.ROLE_FORBIDDEN
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER))
    for payload in (
        Propose(_grant(by + "-2", by, Role.GOVERNOR)),
        Propose(RISK_CHANGE),
        Approve(proposal_id),
        CancelProposal(proposal_id),
    ):
        refuse(venue, payload, code, by=by)
    approve(venue, proposal_id)
    refuse(venue, ExecuteProposal(proposal_id), code, by=by, at_ns=venue.now_ns + TIMELOCK_NS)
    accept(venue, ExecuteProposal(proposal_id), by="gov-c")


def test_a_trade_sub_key_cannot_govern(venue: TestVenue) -> None:
    accept(venue, AddSubKey("alice", _key("alice-trade"), SubKeyScope.TRADE), by="alice")
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER))
    for payload in (Propose(RISK_CHANGE), Approve(proposal_id)):
        refuse(venue, payload, E.ROLE_FORBIDDEN, by="alice-trade")


# -- approvals -------------------------------------------------------------------


def test_the_proposer_cannot_approve_its_own_proposal(venue: TestVenue) -> None:
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER), by="gov-a")
    refuse(venue, Approve(proposal_id), E.PROPOSER_CANNOT_APPROVE, by="gov-a")
    refuse(
        venue,
        ExecuteProposal(proposal_id),
        E.APPROVALS_INSUFFICIENT,
        by="gov-a",
        at_ns=venue.now_ns + TIMELOCK_NS,
    )


def test_a_governor_approves_once(venue: TestVenue) -> None:
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER))
    approve(venue, proposal_id, "gov-b")
    refuse(venue, Approve(proposal_id), E.ALREADY_APPROVED, by="gov-b")
    # Even later, with a fresh signature and nonce.
    refuse(venue, Approve(proposal_id), E.ALREADY_APPROVED, by="gov-b", at_ns=venue.now_ns + 10)
    approve(venue, proposal_id, "gov-c")


def test_execution_with_too_few_approvals_is_refused(venue: TestVenue) -> None:
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER))
    created = _created_ns(venue)
    for at_ns in (created + 1, created + TIMELOCK_NS, created + APPROVAL_TTL_NS):
        refuse(venue, ExecuteProposal(proposal_id), E.APPROVALS_INSUFFICIENT, "gov-b", at_ns)


def test_execution_before_the_timelock_is_refused(venue: TestVenue) -> None:
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER))
    created = _created_ns(venue)
    approve(venue, proposal_id, "gov-b")
    approve(venue, proposal_id, "gov-c")
    for at_ns in (created + 1_000_000, created + TIMELOCK_NS - 1):
        refuse(venue, ExecuteProposal(proposal_id), E.TIMELOCK_NOT_ELAPSED, "gov-c", at_ns)
    accept(venue, ExecuteProposal(proposal_id), by="gov-c", at_ns=created + TIMELOCK_NS)


def test_a_proposal_and_its_approvals_lapse_after_the_ttl(venue: TestVenue) -> None:
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER))
    created = _created_ns(venue)
    approve(venue, proposal_id, "gov-b")
    late = created + APPROVAL_TTL_NS + 1
    refuse(venue, ExecuteProposal(proposal_id), E.PROPOSAL_EXPIRED, "gov-b", late)
    refuse(venue, Approve(proposal_id), E.PROPOSAL_EXPIRED, "gov-c", late + 1)
    # A lapsed proposal can still be cancelled, and is then unknown.
    accept(venue, CancelProposal(proposal_id), by="gov-c")
    refuse(venue, ExecuteProposal(proposal_id), E.UNKNOWN_PROPOSAL, by="gov-b")


def test_a_proposal_executes_on_the_last_moment_of_its_approvals(venue: TestVenue) -> None:
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER))
    created = _created_ns(venue)
    approve(venue, proposal_id, "gov-b")
    accept(venue, ExecuteProposal(proposal_id), by="gov-b", at_ns=created + APPROVAL_TTL_NS)


def test_expired_approvals_are_not_counted(venue: TestVenue) -> None:
    """An approval older than approval_ttl_ns does not stand.

    Through transactions the proposal itself lapses with its proposer's approval
    (PROPOSAL_EXPIRED, above), so the count is read here directly: each approval
    stops counting once it is older than the ttl, one at a time.
    """
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER))
    created = _created_ns(venue)
    approve(venue, proposal_id, "gov-b", at_ns=created + 1_000)
    approve(venue, proposal_id, "gov-c", at_ns=created + 2_000)
    state = venue.engine._state  # type: ignore[attr-defined]
    proposal = state.authority.proposals[proposal_id]
    assert _standing_approvals(state, proposal, created + APPROVAL_TTL_NS) == 3
    assert _standing_approvals(state, proposal, created + APPROVAL_TTL_NS + 1) == 2
    assert _standing_approvals(state, proposal, created + APPROVAL_TTL_NS + 1_001) == 1
    assert _standing_approvals(state, proposal, created + APPROVAL_TTL_NS + 2_001) == 0


def test_an_approval_by_a_governor_who_lost_the_role_is_not_counted(venue: TestVenue) -> None:
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER), by="gov-a")
    approve(venue, proposal_id, "gov-c")
    pass_proposal(venue, RevokeRole(_key("gov-c"), Role.GOVERNOR), "gov-a", "gov-b")
    refuse(venue, ExecuteProposal(proposal_id), E.APPROVALS_INSUFFICIENT, by="gov-a")
    refuse(venue, Approve(proposal_id), E.ROLE_FORBIDDEN, by="gov-c")
    approve(venue, proposal_id, "gov-b")
    accept(venue, ExecuteProposal(proposal_id), by="gov-b")


def test_a_revocation_that_would_break_the_quorum_is_refused(venue: TestVenue) -> None:
    pass_proposal(venue, RevokeRole(_key("gov-c"), Role.GOVERNOR))
    refuse(venue, Propose(RevokeRole(_key("gov-b"), Role.GOVERNOR)), E.QUORUM_WOULD_BREAK)


def test_a_cancelled_proposal_cannot_be_executed(venue: TestVenue) -> None:
    proposal_id = propose(venue, RISK_CHANGE)
    approve(venue, proposal_id, "gov-b")
    accept(venue, CancelProposal(proposal_id), by="gov-c")  # one key can stop an action
    refuse(
        venue, ExecuteProposal(proposal_id), E.UNKNOWN_PROPOSAL, "gov-a", venue.now_ns + TIMELOCK_NS
    )
    refuse(venue, Approve(proposal_id), E.UNKNOWN_PROPOSAL, by="gov-c")
    assert _initial_margin_bps(venue) == 1_000


def test_a_full_grant_of_market_maker_then_the_new_key_trades(venue: TestVenue) -> None:
    accept(venue, Deposit("newmm", "USDC", 10**12))
    refuse(venue, bid("newmm"), E.UNKNOWN_SIGNER, by="newmm")
    proposal_id = propose(venue, _grant("newmm", "newmm", Role.MARKET_MAKER), by="gov-a")
    created = _created_ns(venue)
    approve(venue, proposal_id, "gov-c")
    refuse(venue, bid("newmm"), E.UNKNOWN_SIGNER, by="newmm")  # nothing before execution
    outcome = accept(venue, ExecuteProposal(proposal_id), by="gov-b", at_ns=created + TIMELOCK_NS)
    assert [type(event).__name__ for event in outcome.events] == [
        "RoleGranted",
        "ProposalExecuted",
    ]
    accept(venue, bid("newmm", size=2), by="newmm")
    accept(venue, ask("newmm", size=2), by="newmm")
    trade = accept(venue, ask("alice", price=BID), by="alice")  # alice sells into its bid
    assert "TradeExecuted" in [type(event).__name__ for event in trade.events]
    view = venue.engine.account("newmm")
    assert view is not None
    assert [(p.instrument, p.size) for p in view.positions] == [(PERP, 1)]
    # The new key acts for its own owner only, with its role's permissions.
    refuse(venue, bid("alice"), E.NOT_ACCOUNT_OWNER, by="newmm")
    refuse(venue, Deposit("newmm", "USDC", 1), E.ROLE_FORBIDDEN, by="newmm")
    refuse(venue, Propose(RISK_CHANGE), E.ROLE_FORBIDDEN, by="newmm")


# -- segregation of duties -----------------------------------------------------------


@pytest.mark.parametrize(
    ("action"),
    [
        _grant("alice-custody", "alice", Role.CUSTODIAN),
        _grant("alice-oracle", "alice", Role.ORACLE),
        _grant("alice", "alice", Role.CUSTODIAN),
        _grant("alice", "alice", Role.ORACLE),
        _grant("alice", "alice", Role.GOVERNOR),
        _grant("alice", "alice", Role.KEEPER),
        _grant("alice", "alice", Role.RISK_OFFICER),
        _grant("alice", "alice", Role.AUDITOR),
        _grant("mm", "mm", Role.SURVEILLANCE),
        _grant("custody-trader", "custody", Role.TRADER),
        _grant("oracle-mm", "oracle", Role.MARKET_MAKER),
        _grant("keeper", "keeper", Role.TRADER),
        _grant("gov-b", "gov-b", Role.TRADER),
        _grant("gov-b", "gov-b", Role.CUSTODIAN),
        _grant("gov-b-op", "gov-b", Role.OPERATOR),
    ],
    ids=lambda action: f"{action.owner}-{action.role.value}",
)
def test_a_grant_of_incompatible_roles_is_refused_at_proposal(
    venue: TestVenue, action: GrantRole
) -> None:
    refuse(venue, Propose(action), E.ROLES_INCOMPATIBLE, by="gov-a")


def test_a_grant_of_incompatible_roles_is_refused_again_at_execution(venue: TestVenue) -> None:
    """Two proposals, each fine alone, that together give one owner trader and oracle."""
    for second_role in (Role.ORACLE, Role.CUSTODIAN):
        owner = f"eve-{second_role.value}"
        trader = propose(venue, _grant(owner + "-1", owner, Role.TRADER), by="gov-a")
        other = propose(venue, _grant(owner + "-2", owner, second_role), by="gov-a")
        approve(venue, trader, "gov-b")
        approve(venue, other, "gov-c")
        at_ns = venue.now_ns + TIMELOCK_NS
        accept(venue, ExecuteProposal(trader), by="gov-b", at_ns=at_ns)
        refuse(venue, ExecuteProposal(other), E.ROLES_INCOMPATIBLE, by="gov-c")
        # Still refused later: the proposal stays open, the action is checked each time.
        refuse(venue, ExecuteProposal(other), E.ROLES_INCOMPATIBLE, "gov-a", at_ns + 10**9)


def _alice_with_a_trade_sub_key_stripped_of_trading(venue: TestVenue) -> None:
    accept(venue, AddSubKey("alice", _key("alice-trade"), SubKeyScope.TRADE), by="alice")
    accept(venue, bid("alice"), by="alice-trade")
    pass_proposal(venue, RevokeRole(_key("alice"), Role.TRADER))
    refuse(venue, bid("alice", price=98_000_000_000), E.ROLE_FORBIDDEN, by="alice")


def test_an_owner_stripped_of_trading_cannot_trade_through_its_sub_keys(venue: TestVenue) -> None:
    """A trade sub-key's authority derives from its owner's trading role.

    The sub-key stays on record (not void), but acts only while its owner holds
    trader or market maker: ROLE_FORBIDDEN otherwise, and again once it holds one.
    """
    _alice_with_a_trade_sub_key_stripped_of_trading(venue)
    refuse(venue, bid("alice", price=98_000_000_000), E.ROLE_FORBIDDEN, by="alice-trade")
    refuse(venue, ask("alice"), E.ROLE_FORBIDDEN, by="alice-trade")
    refuse(venue, CancelAll("alice"), E.ROLE_FORBIDDEN, by="alice-trade")
    pass_proposal(venue, _grant("alice", "alice", Role.TRADER))
    accept(venue, ask("alice"), by="alice-trade")


def test_an_owner_never_both_credits_deposits_and_trades_through_a_sub_key(
    venue: TestVenue,
) -> None:
    """Segregation of duties holds for sub-keys too (custodian with trader is forbidden).

    Alice loses trader and is then granted custodian: the grant stands (a sub-key is
    no role), so her trade sub-key is refused from then on, and trader cannot come
    back to her while she is custodian. She never both credits deposits to her own
    account and trades it.
    """
    _alice_with_a_trade_sub_key_stripped_of_trading(venue)
    pass_proposal(venue, _grant("alice-custody", "alice", Role.CUSTODIAN))
    accept(venue, Deposit("alice", "USDC", 10**6), by="alice-custody")
    refuse(venue, bid("alice", price=97_000_000_000), E.ROLE_FORBIDDEN, by="alice-trade")
    refuse(venue, bid("alice", price=97_000_000_000), E.ROLE_FORBIDDEN, by="alice-custody")
    for key in ("alice", "alice-2"):
        refuse(venue, Propose(_grant(key, "alice", Role.TRADER)), E.ROLES_INCOMPATIBLE)
        refuse(venue, Propose(_grant(key, "alice", Role.MARKET_MAKER)), E.ROLES_INCOMPATIBLE)
    refuse(venue, bid("alice", price=97_000_000_000), E.ROLE_FORBIDDEN, by="alice-trade")


# -- rotating a governor's key ---------------------------------------------------


def test_a_rotated_governor_key_is_revoked_and_the_new_key_governs(venue: TestVenue) -> None:
    open_id = propose(venue, RISK_CHANGE, by="gov-a")
    approve(venue, open_id, "gov-b")
    rotation = propose(venue, RotateKey(_key("gov-a"), _key("gov-a-2")), by="gov-b")
    approve(venue, rotation, "gov-c")
    presigned = craft(venue, CancelProposal(open_id), "gov-a")
    # The old key's last act, accepted just before its void point: executing its rotation.
    outcome = accept(venue, ExecuteProposal(rotation), by="gov-a", at_ns=venue.now_ns + TIMELOCK_NS)
    assert [type(event).__name__ for event in outcome.events] == [
        "KeyRotated",
        "ProposalExecuted",
    ]
    refuse_tx(venue, presigned, E.KEY_REVOKED)
    for payload in (
        Propose(_grant("newmm", "newmm", Role.MARKET_MAKER)),
        Approve(open_id),
        CancelProposal(open_id),
        ExecuteProposal(open_id),
    ):
        refuse(venue, payload, E.KEY_REVOKED, by="gov-a")
    # The old key cannot be rotated again, nor given a role back.
    refuse(venue, Propose(RotateKey(_key("gov-a"), _key("gov-a-3"))), E.KEY_REVOKED, by="gov-b")
    refuse(venue, Propose(_grant("gov-a", "gov-a", Role.GOVERNOR)), E.KEY_REVOKED, by="gov-b")
    # The old key's approval of the open proposal no longer stands: gov-b's alone does not.
    refuse(venue, ExecuteProposal(open_id), E.APPROVALS_INSUFFICIENT, by="gov-b")
    # The new key is still gov-a: it may not approve gov-a's own proposal, which now
    # needs another owner; then the new key executes and proposes.
    assert _initial_margin_bps(venue) == 1_000
    refuse(venue, Approve(open_id), E.PROPOSER_CANNOT_APPROVE, by="gov-a-2")
    approve(venue, open_id, "gov-c")
    accept(venue, ExecuteProposal(open_id), by="gov-a-2")
    assert _initial_margin_bps(venue) == RISK_CHANGE.initial_margin_bps
    pass_proposal(venue, _grant("newmm", "newmm", Role.MARKET_MAKER), "gov-a-2", "gov-c")
    accept(venue, Deposit("newmm", "USDC", 10**12))
    accept(venue, bid("newmm"), by="newmm")


# -- one owner, several governor keys ------------------------------------------------
#
# The threshold counts owners, not keys: gov-a holding a second governor key
# (gov-a-2) still has one vote, in genesis, at execution and at approval.


def _other_key_of_gov_a_approves(venue: TestVenue, proposal_id: int, by: str) -> None:
    """A second key of gov-a approves: refused, never a second vote."""
    before = venue.engine.digest()
    outcome = venue.apply(Approve(proposal_id), by=by)
    if isinstance(outcome, Rejected):
        assert outcome.code is E.PROPOSER_CANNOT_APPROVE, outcome
        assert venue.engine.digest() == before
    venue.engine.check_invariants()


def test_one_owner_with_two_governor_keys_cannot_act_alone(venue: TestVenue) -> None:
    pass_proposal(venue, _grant("gov-a-2", "gov-a", Role.GOVERNOR))
    for proposer, other in (("gov-a", "gov-a-2"), ("gov-a-2", "gov-a")):
        proposal_id = propose(venue, RISK_CHANGE, by=proposer)
        created = _created_ns(venue)
        refuse(venue, Approve(proposal_id), E.PROPOSER_CANNOT_APPROVE, by=proposer)
        _other_key_of_gov_a_approves(venue, proposal_id, other)
        state = venue.engine._state  # type: ignore[attr-defined]
        proposal = state.authority.proposals[proposal_id]
        assert _standing_approvals(state, proposal, venue.now_ns) == 1
        for at_ns in (created + TIMELOCK_NS, created + APPROVAL_TTL_NS):
            for by in (proposer, other):
                refuse(venue, ExecuteProposal(proposal_id), E.APPROVALS_INSUFFICIENT, by, at_ns)
        assert _initial_margin_bps(venue) == 1_000
        accept(venue, CancelProposal(proposal_id), by=other)
    # Another owner's approval is the second vote.
    proposal_id = propose(venue, RISK_CHANGE, by="gov-a-2")
    approve(venue, proposal_id, "gov-c")
    accept(venue, ExecuteProposal(proposal_id), by="gov-a", at_ns=venue.now_ns + TIMELOCK_NS)
    assert _initial_margin_bps(venue) == RISK_CHANGE.initial_margin_bps


@pytest.mark.parametrize(
    ("proposer", "first", "code"),
    [("gov-a", None, E.PROPOSER_CANNOT_APPROVE), ("gov-b", "gov-a", E.ALREADY_APPROVED)],
    ids=["own-owners-proposal", "second-approval-of-one-owner"],
)
def test_an_owners_second_governor_key_is_refused_at_approval(
    venue: TestVenue, proposer: str, first: str | None, code: ErrorCode
) -> None:
    """An owner's other key neither approves its own owner's proposal nor approves twice.

    Once a finding, now fixed: `approve` checks `signer.public_key` against the proposer and
    the approvals, not the owner, so both are accepted: the state changes and
    ProposalApproved.approvals counts keys (2 with one owner), though execution
    counts owners and stays safe (test above).
    """
    pass_proposal(venue, _grant("gov-a-2", "gov-a", Role.GOVERNOR))
    proposal_id = propose(venue, RISK_CHANGE, by=proposer)
    if first is not None:
        approve(venue, proposal_id, first)
    refuse(venue, Approve(proposal_id), code, by="gov-a-2")


@pytest.mark.parametrize(
    ("governor_keys", "threshold", "ok"),
    [
        (("gov-a", "gov-a", "gov-b"), 2, True),
        (("gov-a", "gov-a", "gov-b"), 3, False),
        (("gov-a", "gov-a", "gov-a"), 2, False),
        (("gov-a", "gov-b", "gov-c"), 3, True),
    ],
)
def test_genesis_counts_governor_owners_not_keys(
    governor_keys: tuple[str, ...], threshold: int, ok: bool
) -> None:
    keys = tuple(
        GenesisKey(_key(f"{owner}-{n}"), owner, (Role.GOVERNOR,))
        for n, owner in enumerate(governor_keys)
    )
    rules = GovernanceRules(threshold=threshold)
    if ok:
        make_genesis("venue", keys, governance=rules)
    else:
        with pytest.raises(GenesisError, match="governor owners"):
            make_genesis("venue", keys, governance=rules)


def test_a_revocation_that_would_leave_too_few_governor_owners_is_refused(
    venue: TestVenue,
) -> None:
    """Quorum is counted in owners: gov-a's two keys cannot stand in for gov-b.

    Once a finding, now fixed: with gov-a holding two governor keys and gov-c revoked, two
    owners remain (the threshold); revoking gov-b passes the key count (3 > 2) and
    executes, leaving one governor owner: governance can never reach its threshold
    again, and the next invariant sweep (periodic, on replay or on demand) raises
    "fewer governors than the governance threshold" and stops the engine (EngineFault).
    """
    pass_proposal(venue, _grant("gov-a-2", "gov-a", Role.GOVERNOR))
    pass_proposal(venue, RevokeRole(_key("gov-c"), Role.GOVERNOR))
    refuse(venue, Propose(RevokeRole(_key("gov-b"), Role.GOVERNOR)), E.QUORUM_WOULD_BREAK)
    # gov-a's second key may go: two owners still govern.
    pass_proposal(venue, RevokeRole(_key("gov-a-2"), Role.GOVERNOR), "gov-a", "gov-b")
    venue.engine.check_invariants()
