"""Snapshots: the whole engine state as canonical bytes, and the engine rebuilt from them.

Recovery is the newest good snapshot plus a replay of the journal after it, so a
snapshot must restore an engine that behaves exactly like the one it was taken
from: the same digest now, and the same events and chain heads for every
transaction after. That means keeping every order the engine's behaviour depends
on, not only the set of things: queue priority inside each price level, the order
in which accounts became holders of an instrument (it orders margin-call events),
each account's open orders in the order they were placed (it orders CancelAll
events), instruments in listing order. Everything derivable (open-order aggregates,
open interest, running totals, owner role masks) is recomputed on restore, and the
full invariant sweep runs before the engine is handed back.
"""

from __future__ import annotations

from typing import Final

import msgspec

from clearhouse.core.authority import KeyRecord, Proposal
from clearhouse.core.book import Order
from clearhouse.core.events import HaltReason
from clearhouse.core.instruments import Instrument
from clearhouse.core.invariants import check_all
from clearhouse.core.ledger import Account, MMPState, Position
from clearhouse.core.market import Market
from clearhouse.core.oracle_state import IndexOracle, SourceObservation
from clearhouse.core.state import PendingWithdrawal, State
from clearhouse.core.txs import ExpiryQuote, MarginMode, Propose, SelfTradePrevention, SubKeyScope

SNAPSHOT_VERSION: Final = 2


class OrderSnapshot(msgspec.Struct, frozen=True, array_like=True):
    order_id: int
    account: str
    price: int
    remaining: int
    client_order_id: str
    self_trade_prevention: SelfTradePrevention


class MarketSnapshot(msgspec.Struct, frozen=True, array_like=True):
    spec: Instrument
    mark: int
    holders: list[str]
    bids: list[OrderSnapshot]
    """Best level first, each level in queue order."""
    asks: list[OrderSnapshot]


class PositionSnapshot(msgspec.Struct, frozen=True, array_like=True):
    instrument: str
    qty: int
    cost: int


class AccountSnapshot(msgspec.Struct, frozen=True, array_like=True):
    account: str
    cash: int
    in_margin_call: bool
    positions: list[PositionSnapshot]
    open_orders: list[int]
    """Order ids in the order they were placed."""


class KeySnapshot(msgspec.Struct, frozen=True, array_like=True):
    public_key: bytes
    owner: str
    roles: int
    account: str
    scope: SubKeyScope | None
    order_size_max: int
    void_from_seq: int
    nonce_high: int
    nonce_window: int
    rate_window: int
    rate_count: int


class ProposalSnapshot(msgspec.Struct, frozen=True, array_like=True):
    proposal_id: int
    proposer: bytes
    payload: Propose
    created_ns: int
    approvals: list[tuple[bytes, int]]


class WithdrawalSnapshot(msgspec.Struct, frozen=True, array_like=True):
    request_id: int
    account: str
    asset: str
    amount: int


class MarketRisk(msgspec.Struct, frozen=True, array_like=True):
    instrument: str
    halt_reason: HaltReason | None
    basis: int
    vol_ppm: int
    delta_ppm: int
    premium: int
    premium_sum: int
    premium_since_ns: int
    funding_last_ns: int
    settled: bool
    settlement_price: int


class MMPSnapshot(msgspec.Struct, frozen=True, array_like=True):
    index: str
    window_ns: int
    quantity_max: int
    delta_max: int
    fills: list[tuple[int, int, int]]
    quantity: int
    delta: int
    tripped: bool


class AccountRisk(msgspec.Struct, frozen=True, array_like=True):
    account: str
    kill_switch: int
    margin_mode: MarginMode
    mmp: list[MMPSnapshot]


class SourceSnapshot(msgspec.Struct, frozen=True, array_like=True):
    source: str
    price: int
    observed_ns: int
    expiries: list[ExpiryQuote]


class OracleSnapshot(msgspec.Struct, frozen=True, array_like=True):
    index: str
    price: int
    updated_ns: int
    history: list[tuple[int, int]]
    expiries: list[ExpiryQuote]
    sources: list[SourceSnapshot]


def market_risk(market: Market) -> MarketRisk:
    return MarketRisk(
        market.spec.id,
        market.halt_reason,
        market.basis,
        market.vol_ppm,
        market.delta_ppm,
        market.premium,
        market.premium_sum,
        market.premium_since_ns,
        market.funding_last_ns,
        market.settled,
        market.settlement_price,
    )


def account_risk(account: Account) -> AccountRisk:
    return AccountRisk(
        account.id,
        account.kill_switch,
        account.margin_mode,
        [
            MMPSnapshot(
                index,
                m.window_ns,
                m.quantity_max,
                m.delta_max,
                list(m.fills),
                m.quantity,
                m.delta,
                m.tripped,
            )
            for index, m in account.mmp.items()
        ],
    )


def oracle_snapshot(index: str, oracle: IndexOracle) -> OracleSnapshot:
    return OracleSnapshot(
        index,
        oracle.price,
        oracle.updated_ns,
        list(oracle.history),
        list(oracle.expiries.values()),
        [
            SourceSnapshot(source, o.price, o.observed_ns, list(o.expiries.values()))
            for source, o in oracle.sources.items()
        ],
    )


class Snapshot(msgspec.Struct, frozen=True):
    version: int
    genesis_digest: bytes
    seq: int
    timestamp_ns: int
    chain_head: bytes
    index_prices: list[tuple[str, int]]
    markets: list[MarketSnapshot]
    accounts: list[AccountSnapshot]
    keys: list[KeySnapshot]
    sub_keys: list[tuple[str, list[bytes]]]
    proposals: list[ProposalSnapshot]
    pending_withdrawals: list[WithdrawalSnapshot]
    fees_total: int
    socialized_total: int
    deposits_total: int
    withdrawals_total: int
    market_risk: list[MarketRisk]
    account_risk: list[AccountRisk]
    oracles: list[OracleSnapshot]


class SnapshotError(ValueError):
    """Bytes that are not a snapshot of this venue, or one that fails its invariants."""


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Snapshot)


def _order(order: Order) -> OrderSnapshot:
    return OrderSnapshot(
        order.order_id,
        order.account,
        order.price,
        order.remaining,
        order.client_order_id,
        order.self_trade_prevention,
    )


def take(state: State, seq: int, timestamp_ns: int, chain_head: bytes) -> bytes:
    authority = state.authority
    snapshot = Snapshot(
        SNAPSHOT_VERSION,
        authority.genesis_digest,
        seq,
        timestamp_ns,
        chain_head,
        list(state.index_prices.items()),
        [
            MarketSnapshot(
                market.spec,
                market.mark,
                list(market.holders),
                [_order(o) for o in market.book.bids.live_orders()],
                [_order(o) for o in market.book.asks.live_orders()],
            )
            for market in state.markets.values()
        ],
        [
            AccountSnapshot(
                account.id,
                account.cash,
                account.in_margin_call,
                [PositionSnapshot(i, p.qty, p.cost) for i, p in account.positions.items()],
                list(account.open_orders),
            )
            for account in state.accounts.values()
        ],
        [
            KeySnapshot(
                key.public_key,
                key.owner,
                key.roles,
                key.account,
                key.scope,
                key.order_size_max,
                key.void_from_seq,
                key.nonce_high,
                key.nonce_window,
                key.rate_window,
                key.rate_count,
            )
            for key in authority.keys.values()
        ],
        [(account, list(keys)) for account, keys in authority.sub_keys.items()],
        [
            ProposalSnapshot(
                p.proposal_id, p.proposer, p.action_payload, p.created_ns, list(p.approvals.items())
            )
            for p in authority.proposals.values()
        ],
        [
            WithdrawalSnapshot(w.request_id, w.account, w.asset, w.amount)
            for w in state.pending_withdrawals.values()
        ],
        state.fees_total,
        state.socialized_total,
        state.deposits_total,
        state.withdrawals_total,
        [market_risk(market) for market in state.markets.values()],
        [account_risk(account) for account in state.accounts.values()],
        [oracle_snapshot(index, oracle) for index, oracle in state.oracles.items()],
    )
    return _encoder.encode(snapshot)


def decode(data: bytes) -> Snapshot:
    try:
        snapshot = _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise SnapshotError(f"not a snapshot: {exc}") from exc
    if snapshot.version != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot version {snapshot.version}, expected {SNAPSHOT_VERSION}")
    return snapshot


def restore_into(state: State, snapshot: Snapshot) -> None:
    """Fill a State freshly built from the same genesis with the snapshot's contents."""
    if snapshot.genesis_digest != state.authority.genesis_digest:
        raise SnapshotError("the snapshot belongs to another genesis")
    state.markets.clear()
    state.index_markets.clear()
    for market_snapshot in snapshot.markets:
        state.list_market(market_snapshot.spec)
    state.index_prices.update(snapshot.index_prices)
    accounts = state.accounts
    for a in snapshot.accounts:
        account = Account(a.account)
        account.in_margin_call = a.in_margin_call
        accounts[a.account] = account
        state.credit(account, a.cash)
        for p in a.positions:
            market = state.markets[p.instrument]
            position = Position(market)
            position.qty = p.qty
            position.cost = p.cost
            account.positions[p.instrument] = position
            if market.is_linear:
                state.linear_cost_total += p.cost * market.tick_value
            if p.qty > 0:
                market.long_open_interest += p.qty
            else:
                market.short_open_interest -= p.qty
    orders: dict[int, Order] = {}
    for m in snapshot.markets:
        market = state.markets[m.spec.id]
        market.mark = m.mark
        for account_id in m.holders:
            market.holders[account_id] = accounts[account_id]
        for is_buy, side in ((True, m.bids), (False, m.asks)):
            for o in side:
                order = Order(
                    o.order_id,
                    o.account,
                    m.spec.id,
                    is_buy,
                    o.price,
                    o.remaining,
                    o.client_order_id,
                    o.self_trade_prevention,
                )
                market.book.side(is_buy).add(order)
                orders[o.order_id] = order
    for a in snapshot.accounts:
        account = accounts[a.account]
        for order_id in a.open_orders:
            order = orders.pop(order_id)
            account.open_orders[order_id] = order
            if order.client_order_id:
                account.client_order_ids[order.client_order_id] = order_id
            position = account.positions[order.instrument]
            position.add_open(order.is_buy, order.price, order.remaining)
    if orders:
        raise SnapshotError(f"{len(orders)} orders on a book belong to no account's open orders")
    _restore_authority(state, snapshot)
    for w in snapshot.pending_withdrawals:
        state.pending_withdrawals[w.request_id] = PendingWithdrawal(
            w.request_id, w.account, w.asset, w.amount
        )
        state.pending_total += w.amount
        accounts[w.account].pending_withdrawals += 1
    state.fees_total = snapshot.fees_total
    state.socialized_total = snapshot.socialized_total
    state.deposits_total = snapshot.deposits_total
    state.withdrawals_total = snapshot.withdrawals_total
    _restore_risk(state, snapshot)
    check_all(state)


def _restore_risk(state: State, snapshot: Snapshot) -> None:
    for r in snapshot.market_risk:
        market = state.markets[r.instrument]
        market.halt_reason = r.halt_reason
        market.basis = r.basis
        market.vol_ppm = r.vol_ppm
        market.delta_ppm = r.delta_ppm
        market.premium = r.premium
        market.premium_sum = r.premium_sum
        market.premium_since_ns = r.premium_since_ns
        market.funding_last_ns = r.funding_last_ns
        market.settled = r.settled
        market.settlement_price = r.settlement_price
    for a in snapshot.account_risk:
        account = state.accounts[a.account]
        account.kill_switch = a.kill_switch
        account.margin_mode = a.margin_mode
        for m in a.mmp:
            mmp = MMPState(m.window_ns, m.quantity_max, m.delta_max)
            mmp.fills.extend(m.fills)
            mmp.quantity = m.quantity
            mmp.delta = m.delta
            mmp.tripped = m.tripped
            account.mmp[m.index] = mmp
    state.oracles.clear()
    for o in snapshot.oracles:
        oracle = IndexOracle()
        oracle.price = o.price
        oracle.updated_ns = o.updated_ns
        oracle.history = list(o.history)
        oracle.expiries = {q.expiry_ns: q for q in o.expiries}
        for source in o.sources:
            oracle.sources[source.source] = SourceObservation(
                source.price, source.observed_ns, {q.expiry_ns: q for q in source.expiries}
            )
        state.oracles[o.index] = oracle
    for index in state.index_markets:
        state.oracles.setdefault(index, IndexOracle())
    state.portfolio_margin.rebuild()


def _restore_authority(state: State, snapshot: Snapshot) -> None:
    authority = state.authority
    authority.keys.clear()
    for k in snapshot.keys:
        key = KeyRecord(k.public_key, k.owner, k.roles, k.account, k.scope, k.order_size_max)
        key.void_from_seq = k.void_from_seq
        key.nonce_high = k.nonce_high
        key.nonce_window = k.nonce_window
        key.rate_window = k.rate_window
        key.rate_count = k.rate_count
        authority.keys[k.public_key] = key
    authority.sub_keys.clear()
    for account, keys in snapshot.sub_keys:
        authority.sub_keys[account] = list(keys)
    authority.owner_masks.clear()
    for key in authority.keys.values():
        if key.owner not in authority.owner_masks:
            authority.refresh_owner(key.owner)
    authority.proposals.clear()
    for p in snapshot.proposals:
        proposal = Proposal(p.proposal_id, p.proposer, p.payload, p.created_ns)
        proposal.approvals = dict(p.approvals)
        authority.proposals[p.proposal_id] = proposal
