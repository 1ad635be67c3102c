"""The full invariant sweep: every rule the state must keep, recomputed from scratch.

Each transaction checks the rules it can check in O(1) (conservation against the
running totals, open interest and an uncrossed book for the instrument it
touched, margin calls for the accounts it touched). This sweep recomputes
everything from the raw state, so it also catches a running total that has
drifted from what it sums.

The sweep is a run of bounded units (`sweep`): the global totals, the authority,
the oracles, then one unit per market, per portfolio index and per account. The
engine spreads it over transactions, a few units after each (`Sweep`), so that
every `invariant_sweep_interval_txs` transactions cover the whole state once and
no single transaction stalls for all of it; `check_all` runs it at once, after
replay and on demand. A unit checks the state as it is when it runs, and no unit
depends on another having run in the same state, so spreading changes when a
broken rule is seen, never whether.
"""

from __future__ import annotations

from collections.abc import Iterator

from clearhouse.core.ledger import (
    KILL_SWITCH_OFF,
    KILL_SWITCH_OWNER,
    KILL_SWITCH_RISK_OFFICER,
    Account,
    Market,
)
from clearhouse.core.numbers import INT64_MAX
from clearhouse.core.outcomes import InvariantViolation
from clearhouse.core.roles import incompatible_pair
from clearhouse.core.state import State


def check_all(state: State) -> None:
    """The whole sweep at once; raises InvariantViolation at the first broken rule."""
    for _ in sweep(state):
        pass


def sweep(state: State) -> Iterator[None]:
    """The sweep as units: each `next` checks one bounded unit (see the module)."""
    _check_conservation(state)
    yield
    _check_authority(state)
    yield
    _check_oracles(state)
    yield
    for market in list(state.markets.values()):
        _check_market(state, market)
        yield
    portfolio = state.portfolio_margin
    for index in list(portfolio.holders):
        portfolio.check_index_holders(index)
        yield
    for account in list(state.accounts.values()):
        _check_account(state, account)
        yield


def sweep_units(state: State) -> int:
    """How many units a sweep of the state as it is now runs."""
    return 3 + len(state.markets) + len(state.portfolio_margin.holders) + len(state.accounts)


class Sweep:
    """The sweep spread over transactions: a pass starts every `interval_txs`
    transactions, and `step`, after each one, runs the next few of its units, as
    many as finish the pass within the interval (then it rests until the next)."""

    __slots__ = ("_pending", "_since_pass", "_units_per_step")

    def __init__(self) -> None:
        self._pending: Iterator[None] | None = None
        self._units_per_step = 0
        self._since_pass = 0

    def step(self, state: State, interval_txs: int) -> None:
        self._since_pass += 1
        if self._pending is None:
            if self._since_pass < interval_txs:
                return
            self._since_pass = 0
            self._pending = sweep(state)
            self._units_per_step = -(-sweep_units(state) // interval_txs)
        for _ in range(self._units_per_step):
            if next(self._pending, True) is True:  # the pass is complete
                self._pending = None
                return


def _check_oracles(state: State) -> None:
    for index, oracle in state.oracles.items():
        times = [at for at, _ in oracle.history]
        if times != sorted(times) or any(price <= 0 for _, price in oracle.history):
            raise InvariantViolation(f"{index}: oracle history out of order")
        if oracle.history and oracle.history[-1][1] != oracle.price:
            raise InvariantViolation(f"{index}: accepted price is not the last in its history")
        if state.index_prices.get(index, 0) != oracle.price:
            raise InvariantViolation(f"{index}: index price out of step with its oracle")


def _check_authority(state: State) -> None:
    authority = state.authority
    listed: dict[bytes, int] = {}
    for account, public_keys in authority.sub_keys.items():
        for public_key in public_keys:
            record = authority.keys.get(public_key)
            if record is None or not record.is_sub_key or record.account != account:
                raise InvariantViolation(
                    f"sub-key list of {account!r} names a key it does not hold"
                )
            listed[public_key] = listed.get(public_key, 0) + 1
    owners: dict[str, int] = {}
    for key in authority.keys.values():
        if key.nonce_high < 0 or key.nonce_window >> 64:
            raise InvariantViolation(f"key {key.public_key.hex()}: nonce record out of range")
        if key.is_sub_key:
            if key.roles:
                raise InvariantViolation(f"sub-key {key.public_key.hex()} holds roles")
            if listed.get(key.public_key) != 1:
                raise InvariantViolation(f"sub-key {key.public_key.hex()} not listed once")
        elif not key.void_from_seq:
            owners[key.owner] = owners.get(key.owner, 0) | key.roles
    for owner, mask in owners.items():
        if incompatible_pair(mask) is not None:
            raise InvariantViolation(f"owner {owner!r} holds incompatible roles")
    if {o: m for o, m in authority.owner_masks.items() if m} != {
        o: m for o, m in owners.items() if m
    }:
        raise InvariantViolation("owner role masks out of step with the key records")
    if len(authority.governor_owners()) < authority.rules.threshold:
        raise InvariantViolation("fewer governors than the governance threshold")
    if len(authority.proposals) > authority.rules.proposals_open_max:
        raise InvariantViolation("more open proposals than allowed")


def _check_conservation(state: State) -> None:
    cash = sum(a.cash for a in state.accounts.values())
    linear_cost = sum(
        p.cost * p.market.tick_value
        for a in state.accounts.values()
        for p in a.positions.values()
        if p.market.is_linear
    )
    if cash != state.cash_total:
        raise InvariantViolation(f"sum of balances {cash} != running total {state.cash_total}")
    if linear_cost != state.linear_cost_total:
        raise InvariantViolation(
            f"sum of linear cost {linear_cost} != running total {state.linear_cost_total}"
        )
    pending: dict[str, int] = {}
    for request in state.pending_withdrawals.values():
        pending[request.account] = pending.get(request.account, 0) + 1
    if sum(w.amount for w in state.pending_withdrawals.values()) != state.pending_total:
        raise InvariantViolation("pending withdrawals out of step with their total")
    for account_id, account in state.accounts.items():
        if account.pending_withdrawals != pending.get(account_id, 0):
            raise InvariantViolation(f"{account_id}: pending withdrawal count out of step")
    state.check_conservation()
    for value in (
        cash,
        linear_cost,
        state.fees_total,
        state.deposits_total,
        state.withdrawals_total,
    ):
        if abs(value) > INT64_MAX:
            raise InvariantViolation(f"total {value} overflows 64 bits")


def _check_market(state: State, market: Market) -> None:
    """Open interest from the market's holders, the holder index, the book."""
    market_id = market.spec.id
    longs = shorts = 0
    for account_id, holder in market.holders.items():
        position = holder.positions.get(market_id)
        if account_id != holder.id or position is None or position.qty == 0:
            raise InvariantViolation(f"{market_id}: holder index out of step with positions")
        if position.qty > 0:
            longs += position.qty
        else:
            shorts -= position.qty
    if (
        longs != shorts
        or longs != market.long_open_interest
        or shorts != market.short_open_interest
    ):
        raise InvariantViolation(
            f"{market_id}: open interest long {longs} short {shorts}, recorded "
            f"{market.long_open_interest}/{market.short_open_interest}"
        )
    if market.settled and (
        market.long_open_interest
        or market.book.bids.live_orders()
        or market.book.asks.live_orders()
    ):
        raise InvariantViolation(f"{market_id}: settled but still open")
    if market.book.is_crossed():
        raise InvariantViolation(f"{market_id}: book crossed")
    for side in (market.book.bids, market.book.asks):
        if len(side.keys) != len(side.levels):
            raise InvariantViolation(f"{market_id}: price keys and levels differ")
        for price, level in side.levels.items():
            live = [o for o in level.orders if o.live]
            if (
                not live
                or level.live_count != len(live)
                or level.total != sum(o.remaining for o in live)
            ):
                raise InvariantViolation(f"{market_id}: level {price} totals out of step")
            for order in live:
                owner = state.accounts.get(order.account)
                if order.price != price or order.remaining <= 0 or order.is_buy != side.is_bid:
                    raise InvariantViolation(f"{market_id}: order {order.order_id} misplaced")
                if owner is None or owner.open_orders.get(order.order_id) is not order:
                    raise InvariantViolation(
                        f"{market_id}: order {order.order_id} not held by its account"
                    )


def _check_account(state: State, account: Account) -> None:
    """One account: its orders, positions and their caches, the holder index of each
    position, its risk vectors, controls, bad debt and margin call flag."""
    state.portfolio_margin.check_account(account)
    if account.kill_switch not in (KILL_SWITCH_OFF, KILL_SWITCH_OWNER, KILL_SWITCH_RISK_OFFICER):
        raise InvariantViolation(f"{account.id}: kill switch state {account.kill_switch}")
    for index, mmp in account.mmp.items():
        if mmp.quantity != sum(q for _, q, _ in mmp.fills) or mmp.delta != sum(
            d for _, _, d in mmp.fills
        ):
            raise InvariantViolation(f"{account.id}: MMP totals on {index} out of step")
    aggregates: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    for order in account.open_orders.values():
        if not order.live:
            raise InvariantViolation(f"{account.id}: dead order {order.order_id} still open")
        buys, sells = aggregates.setdefault(order.instrument, ({}, {}))
        levels = buys if order.is_buy else sells
        levels[order.price] = levels.get(order.price, 0) + order.remaining
    for client_order_id, order_id in account.client_order_ids.items():
        named = account.open_orders.get(order_id)
        if named is None or named.client_order_id != client_order_id:
            raise InvariantViolation(f"{account.id}: client order id {client_order_id!r} dangling")
    for instrument, position in account.positions.items():
        buys, sells = aggregates.pop(instrument, ({}, {}))
        if (
            position.buy_levels != buys
            or position.sell_levels != sells
            or position.open_buy != sum(buys.values())
            or position.open_sell != sum(sells.values())
        ):
            raise InvariantViolation(
                f"{account.id}/{instrument}: open order aggregates out of step"
            )
        mark = position.adverse_mark
        if position.adverse_buy != sum((p - mark) * q for p, q in buys.items() if p > mark) or (
            position.adverse_sell != sum((mark - p) * q for p, q in sells.items() if p < mark)
        ):
            raise InvariantViolation(f"{account.id}/{instrument}: adverse-fill cache out of step")
        if position.is_empty():
            raise InvariantViolation(f"{account.id}/{instrument}: empty position kept")
        if position.qty and position.market.holders.get(account.id) is not account:
            raise InvariantViolation(f"{instrument}: holder index out of step with positions")
        if abs(position.qty) > position.market.spec.position_max_lots:
            raise InvariantViolation(f"{account.id}/{instrument}: position beyond its limit")
    if aggregates:
        raise InvariantViolation(f"{account.id}: open orders without a position record")
    if abs(account.cash) > INT64_MAX:
        raise InvariantViolation(f"{account.id}: balance overflows 64 bits")
    _check_bad_debt(state, account)
    # The insurance fund included, at a maintenance of zero: its equity is never
    # negative without its margin call open (and a keeper's Liquidate to end it).
    equity, maintenance = state.margin_call_levels(account)
    below = equity < maintenance
    if below != account.in_margin_call:
        raise InvariantViolation(
            f"{account.id}: below maintenance is {below} but margin call flag is {account.in_margin_call}"
        )


def _check_bad_debt(state: State, account: Account) -> None:
    """Bad debt is never hidden: an account without positions and with negative cash
    is bankrupt, and stays in a margin call until a Liquidate covers its deficit.
    The insurance fund's cash is never negative at all (what it owes beyond it is
    socialized at once); a loss on its positions beyond its cash is its margin call,
    checked with everyone's. Liquidate never leaves the account it closed out in
    either state."""
    if state.is_insurance(account):
        if account.cash < 0:
            raise InvariantViolation(
                f"{account.id}: the insurance fund's cash {account.cash} is negative"
            )
        return
    if account.cash >= 0 or any(position.qty for position in account.positions.values()):
        return
    if not account.in_margin_call:
        raise InvariantViolation(
            f"{account.id}: bad debt {-account.cash} in a flat account, not in a margin call"
        )
