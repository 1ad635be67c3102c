"""Handlers of the governance family: M-of-N approval with a timelock.

A governor proposes one action; the proposal's id is its sequence number and the
proposer's own approval is the first. Other governors approve (never the
proposer again, never twice). Once `threshold` distinct governors' approvals, each
younger than `approval_ttl_ns`, stand, and `timelock_ns` has passed since the
proposal, any governor may execute it. Any governor may cancel an open proposal: a
single key can stop an action, never take one. The action is checked again at
execution against the state of that moment.
"""

from __future__ import annotations

import msgspec

from clearhouse.core.authority import GOVERNOR, KeyRecord, Proposal
from clearhouse.core.collateral import pay_withdrawal
from clearhouse.core.display import format_time
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import (
    Event,
    InstrumentListed,
    KeyRotated,
    ProposalApproved,
    ProposalCancelled,
    ProposalExecuted,
    ProposalOpened,
    RiskParamsSet,
    RoleGranted,
    RoleRevoked,
)
from clearhouse.core.genesis import OWNER_LEN_MAX, is_valid_name
from clearhouse.core.instruments import (
    Instrument,
    InstrumentSpecError,
    instrument_name_problem,
    validate_spec,
)
from clearhouse.core.public_keys import weak_key_problem
from clearhouse.core.roles import ROLE_BITS, Role, incompatible_pair
from clearhouse.core.state import State
from clearhouse.core.txs import (
    Action,
    Approve,
    CancelProposal,
    ExecuteProposal,
    GrantRole,
    ListInstrument,
    Propose,
    RevokeRole,
    RotateKey,
    SetRiskParams,
)

Result = list[Event] | Rejection


def propose(state: State, tx: Propose, seq: int, timestamp_ns: int, signer: KeyRecord) -> Result:
    authority = state.authority
    if len(authority.proposals) >= authority.rules.proposals_open_max:
        return Rejection(
            ErrorCode.PROPOSALS_LIMIT,
            f"at most {authority.rules.proposals_open_max} open proposals",
        )
    if (rejection := _check_action(state, tx.action, seq)) is not None:
        return rejection
    authority.proposals[seq] = Proposal(seq, signer.public_key, tx, timestamp_ns)
    executable = timestamp_ns + authority.rules.timelock_ns
    return [ProposalOpened(seq, signer.public_key, tx.action, executable)]


def _open(state: State, proposal_id: int, timestamp_ns: int) -> Proposal | Rejection:
    proposal = state.authority.proposals.get(proposal_id)
    if proposal is None:
        return Rejection(ErrorCode.UNKNOWN_PROPOSAL, f"no open proposal {proposal_id}")
    if timestamp_ns - proposal.created_ns > state.authority.rules.approval_ttl_ns:
        return Rejection(ErrorCode.PROPOSAL_EXPIRED, f"proposal {proposal_id} has expired")
    return proposal


def approve(state: State, tx: Approve, seq: int, timestamp_ns: int, signer: KeyRecord) -> Result:
    proposal = _open(state, tx.proposal_id, timestamp_ns)
    if isinstance(proposal, Rejection):
        return proposal
    # Approvals are counted per owner: another key of the same person adds nothing.
    keys = state.authority.keys
    if signer.owner == keys[proposal.proposer].owner:
        return Rejection(
            ErrorCode.PROPOSER_CANNOT_APPROVE, "the proposer's approval is already counted"
        )
    if any(keys[approver].owner == signer.owner for approver in proposal.approvals):
        return Rejection(ErrorCode.ALREADY_APPROVED, f"{signer.owner!r} has already approved")
    proposal.approvals[signer.public_key] = timestamp_ns
    return [ProposalApproved(proposal.proposal_id, signer.public_key, len(proposal.approvals))]


def cancel_proposal(
    state: State, tx: CancelProposal, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    if tx.proposal_id not in state.authority.proposals:
        return Rejection(ErrorCode.UNKNOWN_PROPOSAL, f"no open proposal {tx.proposal_id}")
    del state.authority.proposals[tx.proposal_id]
    return [ProposalCancelled(tx.proposal_id, signer.public_key)]


def execute_proposal(
    state: State, tx: ExecuteProposal, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    authority = state.authority
    proposal = _open(state, tx.proposal_id, timestamp_ns)
    if isinstance(proposal, Rejection):
        return proposal
    rules = authority.rules
    standing = _standing_approvals(state, proposal, timestamp_ns)
    if standing < rules.threshold:
        return Rejection(
            ErrorCode.APPROVALS_INSUFFICIENT,
            f"{standing} of the {rules.threshold} governor approvals needed",
        )
    if timestamp_ns < proposal.created_ns + rules.timelock_ns:
        return Rejection(
            ErrorCode.TIMELOCK_NOT_ELAPSED,
            f"executable from {format_time(proposal.created_ns + rules.timelock_ns)}",
        )
    action = proposal.action_payload.action
    if (rejection := _check_action(state, action, seq)) is not None:
        return rejection
    events: list[Event] = []
    _apply_action(state, action, seq, events)
    del authority.proposals[proposal.proposal_id]
    events.append(ProposalExecuted(proposal.proposal_id, standing))
    return events


def _standing_approvals(state: State, proposal: Proposal, timestamp_ns: int) -> int:
    """Distinct owners whose approval is younger than the ttl, from keys that are governors now."""
    keys = state.authority.keys
    ttl = state.authority.rules.approval_ttl_ns
    owners: dict[str, None] = {}
    for public_key, approved_ns in proposal.approvals.items():
        key = keys.get(public_key)
        if key is None or key.void_from_seq or not key.roles & GOVERNOR:
            continue
        if timestamp_ns - approved_ns <= ttl:
            owners[key.owner] = None
    return len(owners)


# -- actions -----------------------------------------------------------------------


def _check_action(state: State, action: Action, seq: int) -> Rejection | None:
    if isinstance(action, ListInstrument):
        return _check_listing(state, action)
    if isinstance(action, SetRiskParams):
        return _check_risk_params(state, action)
    if isinstance(action, GrantRole):
        return _check_grant(state, action)
    if isinstance(action, RevokeRole):
        return _check_revoke(state, action)
    if isinstance(action, RotateKey):
        return _check_rotate(state, action)
    if action.request_id not in state.pending_withdrawals:
        return Rejection(ErrorCode.UNKNOWN_WITHDRAWAL, f"no pending withdrawal {action.request_id}")
    return None


def _check_listing(state: State, action: ListInstrument) -> Rejection | None:
    spec = action.instrument
    if (problem := instrument_name_problem(spec)) is not None:
        return Rejection(ErrorCode.INSTRUMENT_NAME_INVALID, problem)
    if spec.id in state.markets:
        return Rejection(ErrorCode.INSTRUMENT_EXISTS, f"{spec.id} is already listed")
    if spec.settlement_asset != state.config.settlement_asset:
        return Rejection(
            ErrorCode.INVALID_ACTION, f"{spec.id} must settle in {state.config.settlement_asset}"
        )
    try:
        validate_spec(spec)
    except InstrumentSpecError as exc:
        return Rejection(ErrorCode.INVALID_ACTION, str(exc))
    return None


def _risk_spec(state: State, action: SetRiskParams) -> Instrument:
    market = state.markets[action.instrument]
    changes = {
        name: getattr(action, name)
        for name in action.__struct_fields__
        if name != "instrument" and getattr(action, name) is not None
    }
    return msgspec.structs.replace(market.spec, **changes)


def _check_risk_params(state: State, action: SetRiskParams) -> Rejection | None:
    if action.instrument not in state.markets:
        return Rejection(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {action.instrument!r}")
    try:
        validate_spec(_risk_spec(state, action))
    except InstrumentSpecError as exc:
        return Rejection(ErrorCode.INVALID_ACTION, str(exc))
    return None


def _check_grant(state: State, action: GrantRole) -> Rejection | None:
    authority = state.authority
    if len(action.public_key) != 32:
        return Rejection(ErrorCode.INVALID_KEY, "a public key is 32 bytes of Ed25519")
    if (problem := weak_key_problem(action.public_key)) is not None:
        return Rejection(ErrorCode.WEAK_PUBLIC_KEY, problem)
    if not is_valid_name(action.owner, OWNER_LEN_MAX):
        return Rejection(ErrorCode.INVALID_ACTION, f"owner {action.owner!r} is not a valid name")
    key = authority.keys.get(action.public_key)
    bit = ROLE_BITS[action.role]
    if key is not None:
        if key.is_sub_key:
            return Rejection(ErrorCode.INVALID_ACTION, "a sub-key holds no roles")
        if key.void_from_seq:
            return Rejection(ErrorCode.KEY_REVOKED, "the key is void")
        if key.owner != action.owner:
            return Rejection(ErrorCode.INVALID_ACTION, f"the key belongs to {key.owner!r}")
        if key.roles & bit:
            return Rejection(ErrorCode.INVALID_ACTION, f"the key already holds {action.role.value}")
    pair = incompatible_pair(authority.owner_masks.get(action.owner, 0) | bit)
    if pair is not None:
        return Rejection(
            ErrorCode.ROLES_INCOMPATIBLE,
            f"{action.owner!r} would hold {pair[0].value} with {pair[1].value}",
        )
    return None


def _check_revoke(state: State, action: RevokeRole) -> Rejection | None:
    key = state.authority.keys.get(action.public_key)
    if key is None or key.is_sub_key:
        return Rejection(ErrorCode.UNKNOWN_KEY, "no master key with that public key")
    if not key.roles & ROLE_BITS[action.role]:
        return Rejection(ErrorCode.INVALID_ACTION, f"the key does not hold {action.role.value}")
    if (
        action.role is Role.GOVERNOR
        and len(state.authority.governor_owners(without=key)) < state.authority.rules.threshold
    ):
        return Rejection(
            ErrorCode.QUORUM_WOULD_BREAK, "fewer governors than the threshold would remain"
        )
    return None


def _check_rotate(state: State, action: RotateKey) -> Rejection | None:
    authority = state.authority
    key = authority.keys.get(action.public_key)
    if key is None or key.is_sub_key:
        return Rejection(ErrorCode.UNKNOWN_KEY, "no master key with that public key")
    if key.void_from_seq:
        return Rejection(ErrorCode.KEY_REVOKED, "the key is already void")
    if len(action.new_public_key) != 32:
        return Rejection(ErrorCode.INVALID_KEY, "a public key is 32 bytes of Ed25519")
    if (problem := weak_key_problem(action.new_public_key)) is not None:
        return Rejection(ErrorCode.WEAK_PUBLIC_KEY, problem)
    if action.new_public_key in authority.keys:
        return Rejection(ErrorCode.KEY_EXISTS, "the new key is already registered")
    return None


def _apply_action(state: State, action: Action, seq: int, events: list[Event]) -> None:
    authority = state.authority
    if isinstance(action, ListInstrument):
        state.list_market(action.instrument)
        events.append(InstrumentListed(action.instrument.id))
    elif isinstance(action, SetRiskParams):
        spec = _risk_spec(state, action)
        market = state.markets[action.instrument]
        market.spec = spec
        events.append(
            RiskParamsSet(
                market.spec.id,
                market.spec.initial_margin_bps,
                market.spec.maintenance_margin_bps,
                market.spec.order_size_max_lots,
                market.spec.position_max_lots,
            )
        )
        for account in list(market.holders.values()):
            state.review_margin_call(account, events)
    elif isinstance(action, GrantRole):
        key = authority.keys.get(action.public_key)
        if key is None:
            key = KeyRecord(action.public_key, action.owner, 0)
            authority.keys[action.public_key] = key
        key.roles |= ROLE_BITS[action.role]
        authority.refresh_owner(key.owner)
        events.append(RoleGranted(action.public_key, action.owner, action.role))
    elif isinstance(action, RevokeRole):
        revoked = authority.keys[action.public_key]
        revoked.roles &= ~ROLE_BITS[action.role]
        authority.refresh_owner(revoked.owner)
        events.append(RoleRevoked(action.public_key, action.role))
    elif isinstance(action, RotateKey):
        old = authority.keys[action.public_key]
        new = KeyRecord(action.new_public_key, old.owner, old.roles)
        authority.keys[action.new_public_key] = new
        old.void_from_seq = seq + 1
        authority.refresh_owner(old.owner)
        events.append(KeyRotated(action.public_key, action.new_public_key, old.void_from_seq))
    else:
        pay_withdrawal(state, action.request_id, events)
