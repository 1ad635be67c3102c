"""Handler of SettleExpiry: a dated future or an option settles at its expiry.

The settlement price S is the time-weighted average of the accepted index over the
final window [expiry - settlement_window_ns, expiry] of sequencer time. Each
accepted price holds from its timestamp until the next one (the oracle's history,
which `market_data._prune_history` keeps back to the price in force at the start
of the window of every instrument still to settle), and weighs by the nanoseconds
it was in force inside the window. If the first price of the index arrives inside
the window, the average runs over the covered part only; if none was in force at
any moment of the window, there is no settlement price (NO_SETTLEMENT_PRICE) and
the keeper tries again later. S is rounded half up to settlement units.

Every amount moved is one integer per lot used by both sides, so what longs
receive and shorts pay sum to exactly zero with no residue to place anywhere:

- futures: the settlement value of one lot, V = S x underlying per lot, rounded half
  up to settlement units; a holder of q lots with cost basis c receives
  q x V - c x tick_value (its whole P&L from entry, the cost basis released);
- options: the intrinsic value of one lot, I = max(0, S - K) for a call or
  max(0, K - S) for a put, times the underlying per lot, rounded down; a holder of
  q lots receives q x I (shorts, q < 0, pay).

Then the instrument is closed for good: its open orders are cancelled (EXPIRED),
every position, the holder list, open interest and its share of the linear cost
total are zero, and `settled` is set (mark_index skips it from now on). Its mark
becomes its final value in ticks, rounded half up: S for a future, the intrinsic
value per unit of underlying for an option. A holder left with negative cash and
no lots held anywhere is bankrupt: its deficit goes to `liquidation.cover_deficit`
(the insurance fund, then socialized loss). Holders, and the owners of the orders
cancelled, then have their margin calls reviewed.

A halt does not hold settlement back: it stops trading, and an expired instrument
no longer trades anyway.
"""

from __future__ import annotations

from clearhouse.core.authority import KeyRecord
from clearhouse.core.display import format_time
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import (
    CancelReason,
    Event,
    InstrumentSettled,
    PositionSettled,
)
from clearhouse.core.instruments import Kind, OptionType
from clearhouse.core.ledger import Account
from clearhouse.core.liquidation import cover_deficit, cover_fund_shortfall
from clearhouse.core.market import Market
from clearhouse.core.outcomes import InvariantViolation
from clearhouse.core.state import State
from clearhouse.core.trading import cancel_orders
from clearhouse.core.txs import SettleExpiry

Result = list[Event] | Rejection


def settle_expiry(
    state: State, tx: SettleExpiry, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    market = state.markets.get(tx.instrument)
    if market is None:
        return Rejection(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {tx.instrument!r}")
    spec = market.spec
    if spec.kind is Kind.PERPETUAL:
        return Rejection(ErrorCode.NOT_EXPIRING, f"{spec.id} is a perpetual: it never expires")
    if market.settled:
        return Rejection(ErrorCode.ALREADY_SETTLED, f"{spec.id} settled already")
    if timestamp_ns < spec.expiry_ns:
        return Rejection(
            ErrorCode.NOT_EXPIRED,
            f"{spec.id} expires at {format_time(spec.expiry_ns)}, now {format_time(timestamp_ns)}",
        )
    window_start = spec.expiry_ns - state.config.settlement_window_ns
    price = time_weighted_price(state.oracles[spec.index].history, window_start, spec.expiry_ns)
    if price == 0:
        return Rejection(
            ErrorCode.NO_SETTLEMENT_PRICE,
            f"no {spec.index} price was in force between {format_time(window_start)} and {format_time(spec.expiry_ns)}",
        )

    # -- commit: nothing below may reject --------------------------------------
    events: list[Event] = [InstrumentSettled(spec.id, price, window_start, spec.expiry_ns)]
    reviewed = _cancel_open_orders(state, market, events)
    per_lot = settlement_value_per_lot(market, price)
    bankrupt: list[Account] = []
    for account in list(market.holders.values()):
        if account.id not in reviewed:
            reviewed[account.id] = account
        size, amount = _settle_position(state, market, account, per_lot)
        events.append(PositionSettled(account.id, spec.id, size, amount))
        if account.cash < 0 and not state.is_insurance(account) and _is_flat(account):
            bankrupt.append(account)
    market.settled = True
    market.settlement_price = price
    market.mark = _final_mark(market, price)
    _check_closed(state, market)
    for account in bankrupt:
        cover_deficit(state, account, events)
    cover_fund_shortfall(state, events)
    for account in reviewed.values():
        state.review_margin_call(account, events)
    state.check_conservation()
    return events


def time_weighted_price(history: list[tuple[int, int]], start: int, end: int) -> int:
    """The average of the prices in force over [start, end], each weighted by the
    nanoseconds it held there, rounded half up; 0 if none held at any point of it.

    `history` is (time, price) oldest first; a price holds from its time until the
    next one's. Time before the first price is not covered and does not count. The
    genesis keeps the settlement window positive, so `start < end`.
    """
    weighted = 0
    covered = 0
    for position, (at, value) in enumerate(history):
        if at >= end:
            break
        until = history[position + 1][0] if position + 1 < len(history) else end
        held = min(until, end) - max(at, start)
        if held > 0:
            weighted += value * held
            covered += held
    if covered == 0:
        return 0
    return (weighted + covered // 2) // covered


def settlement_value_per_lot(market: Market, price: int) -> int:
    """What one long lot is worth at settlement price `price`, in settlement units:
    the underlying's value (futures, rounded half up) or the intrinsic value
    (options, rounded down)."""
    num = market.underlying_per_lot_num
    den = market.underlying_per_lot_den
    spec = market.spec
    if market.is_linear:
        return (price * num + den // 2) // den
    return intrinsic(spec.option_type, spec.strike, price) * num // den


def intrinsic(option_type: OptionType | None, strike: int, price: int) -> int:
    """An option's value at expiry per whole underlying, settlement units."""
    if option_type is OptionType.CALL:
        return max(0, price - strike)
    return max(0, strike - price)


def _cancel_open_orders(state: State, market: Market, events: list[Event]) -> dict[str, Account]:
    """Cancel every order resting on the instrument, account by account in the order
    each placed its first such order; return those accounts."""
    instrument = market.spec.id
    book = market.book
    resting = sorted(
        book.bids.live_orders() + book.asks.live_orders(), key=lambda order: order.order_id
    )
    owners: dict[str, Account] = {}
    for order in resting:
        if order.account not in owners:
            owners[order.account] = state.accounts[order.account]
    for account in owners.values():
        cancel_orders(
            state,
            account,
            lambda order: order.instrument == instrument,
            CancelReason.EXPIRED,
            events,
        )
    return owners


def _settle_position(
    state: State, market: Market, account: Account, per_lot: int
) -> tuple[int, int]:
    """Close the account's position at `per_lot`; return (its size, cash received)."""
    position = account.positions[market.spec.id]
    qty = position.qty
    amount = qty * per_lot
    if market.is_linear:
        released = position.cost * market.tick_value
        state.linear_cost_total -= released
        amount -= released
    state.credit(account, amount)
    if qty > 0:
        market.long_open_interest -= qty
    else:
        market.short_open_interest += qty
    position.qty = 0
    position.cost = 0
    state.portfolio_margin.on_position_change(account, market, -qty)
    del market.holders[account.id]
    state.drop_if_empty(account, position)
    return qty, amount


def _is_flat(account: Account) -> bool:
    """No lots held anywhere (open orders may remain on other instruments)."""
    return all(not position.qty for position in account.positions.values())


def _final_mark(market: Market, price: int) -> int:
    spec = market.spec
    value = price if market.is_linear else intrinsic(spec.option_type, spec.strike, price)
    return (value + spec.tick_size // 2) // spec.tick_size


def _check_closed(state: State, market: Market) -> None:
    spec_id = market.spec.id
    if market.long_open_interest or market.short_open_interest or market.holders:
        raise InvariantViolation(f"{spec_id}: positions left open after settlement")
    if market.book.bids.keys or market.book.asks.keys:
        raise InvariantViolation(f"{spec_id}: orders left on the book after settlement")
