"""The canonical form of the engine's state, and its SHA-256 digest.

Accounts are listed by id, positions by instrument, orders in book priority, so the
digest depends on the state alone, never on the order in which dicts were filled
or on the process's hash seed. The sequence number and output chain head are the
engine's place in the log, not its state, and are reported beside the digest.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from clearhouse.core.snapshot import account_risk, market_risk, oracle_snapshot
from clearhouse.core.state import State

_encoder = msgspec.msgpack.Encoder()


def canonical_state(state: State) -> dict[str, Any]:
    markets = []
    for market_id in sorted(state.markets):
        market = state.markets[market_id]
        book = market.book
        markets.append(
            (
                market_id,
                market.mark,
                market.long_open_interest,
                market.short_open_interest,
                [_order(o) for o in book.bids.live_orders()],
                [_order(o) for o in book.asks.live_orders()],
            )
        )
    accounts = []
    for account_id in sorted(state.accounts):
        account = state.accounts[account_id]
        positions = [
            (
                instrument,
                p.qty,
                p.cost,
                p.open_buy,
                p.open_sell,
            )
            for instrument, p in sorted(account.positions.items())
        ]
        accounts.append(
            (
                account_id,
                account.cash,
                account.in_margin_call,
                account.pending_withdrawals,
                positions,
                sorted(account.open_orders),
            )
        )
    authority = state.authority
    keys = [
        (
            public_key,
            key.owner,
            key.roles,
            key.account,
            "" if key.scope is None else key.scope.value,
            key.order_size_max,
            key.void_from_seq,
            key.nonce_high,
            key.nonce_window,
            key.rate_window,
            key.rate_count,
        )
        for public_key, key in sorted(authority.keys.items())
    ]
    proposals = [
        (
            proposal_id,
            proposal.proposer,
            _encoder.encode(proposal.action_payload),
            proposal.created_ns,
            sorted(proposal.approvals.items()),
        )
        for proposal_id, proposal in sorted(authority.proposals.items())
    ]
    return {
        "venue_id": authority.venue_id,
        "genesis": authority.genesis_digest,
        "keys": keys,
        "proposals": proposals,
        "config": _rules(state),
        "instruments": [msgspec.to_builtins(state.markets[m].spec) for m in sorted(state.markets)],
        "index_prices": sorted(state.index_prices.items()),
        "totals": (
            state.cash_total,
            state.linear_cost_total,
            state.fees_total,
            state.socialized_total,
            state.deposits_total,
            state.withdrawals_total,
            state.pending_total,
        ),
        "pending_withdrawals": [
            (request_id, w.account, w.asset, w.amount)
            for request_id, w in sorted(state.pending_withdrawals.items())
        ],
        "markets": markets,
        "accounts": accounts,
        "market_risk": [
            msgspec.to_builtins(market_risk(state.markets[m])) for m in sorted(state.markets)
        ],
        "account_risk": [
            msgspec.to_builtins(account_risk(state.accounts[a])) for a in sorted(state.accounts)
        ],
        "oracles": [
            msgspec.to_builtins(oracle_snapshot(index, state.oracles[index]))
            for index in sorted(state.oracles)
        ],
    }


def _rules(state: State) -> dict[str, Any]:
    # How often the full invariant sweep runs is how a process checks itself, not
    # part of what it computes: replicas may differ in it and still agree.
    rules: dict[str, Any] = msgspec.to_builtins(state.config)
    del rules["invariant_sweep_interval_txs"]
    return rules


def _order(order: Any) -> tuple[int, str, int, int, str, str]:
    return (
        order.order_id,
        order.account,
        order.price,
        order.remaining,
        order.client_order_id,
        order.self_trade_prevention.value,
    )


def state_digest(state: State) -> bytes:
    return hashlib.sha256(_encoder.encode(canonical_state(state))).digest()
