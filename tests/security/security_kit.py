"""Shared set-up of the attack suite: a funded, marked venue and assertion helpers.

Every attack is submitted through `TestVenue.submit`, so its signature is verified
for real by the venue's rule set before the engine sees it. `refuse` is the one
assertion of the suite: the transaction is rejected with exactly the expected code,
the state digest is unchanged by it, and the full invariant sweep still passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from clearhouse.auth.signing import sign_transaction
from clearhouse.core import (
    Accepted,
    Approve,
    Deposit,
    ErrorCode,
    ExecuteProposal,
    OracleUpdate,
    Outcome,
    Payload,
    PlaceOrder,
    Propose,
    Rejected,
    SetRiskParams,
    Side,
    Transaction,
    Withdraw,
    WithdrawalRequested,
)
from clearhouse.core.txs import Action
from clearhouse.testing import TestVenue, signer_for, standard_genesis

PERP: Final = "BTC-PERP"
INDEX: Final = "BTC-USD"
BTC_PRICE: Final = 100_000_000_000
"""100,000 USD per BTC in micro-USDC (a multiple of the BTC-PERP tick, 500,000)."""
BID: Final = 99_000_000_000
ASK: Final = 101_000_000_000
FUNDS: Final = 2_000_000 * 10**6
"""Two million USDC per account: room for one withdrawal above the large-withdrawal
threshold (one million USDC), which is then a request awaiting governance."""
TRADERS: Final = ("alice", "bob", "ali")
"""`ali` is a prefix of `alice`: an owner name is not a prefix match."""
MARKET_MAKERS: Final = ("mm",)
ACCOUNTS: Final = (*TRADERS, "alice:hedge", *MARKET_MAKERS)
DAY_NS: Final = 86_400 * 10**9
TIMELOCK_NS: Final = DAY_NS
APPROVAL_TTL_NS: Final = 7 * DAY_NS
RISK_CHANGE: Final = SetRiskParams(PERP, initial_margin_bps=1_200)
"""A harmless governance action (BTC-PERP initial margin 10% -> 12%) for attacks on
the approval machinery itself."""


def build_venue(venue_id: str | None = None) -> TestVenue:
    """Funded accounts (one a sub-account of alice) and BTC marked at 100,000 USD."""
    genesis = (
        standard_genesis(TRADERS, market_makers=MARKET_MAKERS)
        if venue_id is None
        else standard_genesis(TRADERS, market_makers=MARKET_MAKERS, venue_id=venue_id)
    )
    venue = TestVenue(genesis)
    for account in ACCOUNTS:
        accept(venue, Deposit(account, "USDC", FUNDS))
    accept(venue, OracleUpdate(INDEX, BTC_PRICE, observed_ns=venue.now_ns))
    return venue


def bid(account: str, size: int = 1, price: int = BID, **options: object) -> PlaceOrder:
    return PlaceOrder(account, PERP, Side.BUY, size, price=price, **options)  # type: ignore[arg-type]


def ask(account: str, size: int = 1, price: int = ASK, **options: object) -> PlaceOrder:
    return PlaceOrder(account, PERP, Side.SELL, size, price=price, **options)  # type: ignore[arg-type]


def next_nonce(venue: TestVenue, by: str) -> int:
    """Take the next nonce of `by`'s client, so crafted and ordinary txs never collide."""
    client = venue.client(by)
    client.nonce += 1
    return client.nonce


def craft(
    venue: TestVenue,
    payload: Payload,
    by: str,
    *,
    nonce: int | None = None,
    expires_at_ns: int | None = None,
    venue_id: str | None = None,
) -> Transaction:
    """A transaction signed by `by` with chosen envelope fields (and domain)."""
    unsigned = Transaction(
        payload,
        nonce=next_nonce(venue, by) if nonce is None else nonce,
        expires_at_ns=venue.now_ns + 60 * 10**9 if expires_at_ns is None else expires_at_ns,
    )
    return sign_transaction(signer_for(by), venue_id or venue.genesis.venue_id, unsigned)


def with_fields(tx: Transaction, **changes: object) -> Transaction:
    return msgspec.structs.replace(tx, **changes)


def accept(
    venue: TestVenue, payload: Payload, by: str | None = None, at_ns: int | None = None
) -> Accepted:
    outcome = venue.apply(payload, by=by, at_ns=at_ns)
    assert isinstance(outcome, Accepted), outcome
    return outcome


def accept_tx(venue: TestVenue, tx: Transaction, at_ns: int | None = None) -> Accepted:
    outcome = venue.submit(tx, at_ns)
    assert isinstance(outcome, Accepted), outcome
    return outcome


def refuse_tx(
    venue: TestVenue,
    tx: Transaction,
    code: ErrorCode | Iterable[ErrorCode],
    at_ns: int | None = None,
) -> Rejected:
    """`tx` is rejected with `code` (or one of `code`); the state is exactly as before."""
    codes = {code} if isinstance(code, ErrorCode) else set(code)
    before = venue.engine.digest()
    outcome: Outcome = venue.submit(tx, at_ns)
    assert isinstance(outcome, Rejected), f"attack accepted: {outcome}"
    assert outcome.code in codes, f"expected {sorted(c.name for c in codes)}, got {outcome}"
    assert venue.engine.digest() == before, "a rejected transaction changed the state"
    venue.engine.check_invariants()
    return outcome


def refuse(
    venue: TestVenue,
    payload: Payload,
    code: ErrorCode | Iterable[ErrorCode],
    by: str | None = None,
    at_ns: int | None = None,
) -> Rejected:
    """`payload`, signed by `by` (or its usual signer), is rejected with `code`."""
    if at_ns is not None:
        venue.now_ns = at_ns
    else:
        venue.now_ns += venue.step_ns
    return refuse_tx(venue, venue.sign(payload, by), code)


def propose(venue: TestVenue, action: Action, by: str = "gov-a") -> int:
    """Open a proposal and return its id (the sequence number of the Propose)."""
    return accept(venue, Propose(action), by=by).seq


def approve(
    venue: TestVenue, proposal_id: int, by: str = "gov-b", at_ns: int | None = None
) -> None:
    accept(venue, Approve(proposal_id), by=by, at_ns=at_ns)


def pass_proposal(
    venue: TestVenue, action: Action, proposer: str = "gov-a", approver: str = "gov-b"
) -> Accepted:
    """Propose, approve, wait out the timelock and execute: the whole 2-of-3 flow."""
    proposal_id = propose(venue, action, proposer)
    approve(venue, proposal_id, approver)
    return accept(
        venue, ExecuteProposal(proposal_id), by=proposer, at_ns=venue.now_ns + TIMELOCK_NS
    )


def cash(venue: TestVenue, account: str) -> int:
    view = venue.engine.account(account)
    assert view is not None
    return view.cash


def large_amount(venue: TestVenue) -> int:
    """The smallest withdrawal that is a request rather than paid at once."""
    return venue.genesis.config.large_withdrawal_units + 1


def request_withdrawal(venue: TestVenue, account: str, amount: int, by: str | None = None) -> int:
    """A large Withdraw, accepted as a request: the amount leaves the balance and is held.

    Returns the request id (the sequence number of the Withdraw).
    """
    before = cash(venue, account)
    outcome = accept(venue, Withdraw(account, "USDC", amount), by=by)
    assert outcome.events == [
        WithdrawalRequested(outcome.seq, account, "USDC", amount, before - amount)
    ], outcome
    assert cash(venue, account) == before - amount
    venue.engine.check_invariants()
    return outcome.seq


def pending(venue: TestVenue) -> list[tuple[int, str, str, int]]:
    """Pending withdrawal requests: (request id, account, asset, amount), by id."""
    return [tuple(entry) for entry in venue.engine.canonical_state()["pending_withdrawals"]]
