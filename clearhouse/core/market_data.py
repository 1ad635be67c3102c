"""Handler of the market-data family: OracleUpdate.

An index price marks every perpetual and future on the index at the price rounded
half-up to its tick; options take the marks the update carries. Then every holder
of an instrument on the index has its margin call reviewed, and nobody else: an
update costs O(holders of that index).
"""

from __future__ import annotations

from clearhouse.core.authority import KeyRecord
from clearhouse.core.checks import check_price
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import Event, IndexPriceUpdated, MarkPriceUpdated
from clearhouse.core.ledger import Account
from clearhouse.core.market import Market
from clearhouse.core.numbers import price_max_units
from clearhouse.core.state import State
from clearhouse.core.txs import OracleUpdate

Result = list[Event] | Rejection


def to_ticks_half_up(price: int, tick_size: int) -> int:
    return max(1, (price + tick_size // 2) // tick_size)


def oracle_update(
    state: State, tx: OracleUpdate, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    markets_on_index = state.index_markets.get(tx.index)
    if markets_on_index is None:
        return Rejection(ErrorCode.UNKNOWN_INDEX, f"unknown index {tx.index!r}")
    price = tx.price
    if type(price) is not int:
        return Rejection(
            ErrorCode.WRONG_TYPE, f"price must be an integer, got {type(price).__name__}"
        )
    if price <= 0:
        return Rejection(ErrorCode.PRICE_NOT_POSITIVE, f"price must be positive, got {price}")
    if price > price_max_units:
        return Rejection(ErrorCode.PRICE_TOO_LARGE, f"price {price} exceeds {price_max_units}")
    if len(tx.marks) > state.config.marks_per_update_max:
        return Rejection(
            ErrorCode.INVALID_VALUE, f"at most {state.config.marks_per_update_max} marks per update"
        )
    option_marks: dict[str, tuple[Market, int]] = {}
    for mark in tx.marks:
        market = state.markets.get(mark.instrument)
        if market is None:
            return Rejection(
                ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {mark.instrument!r}"
            )
        if market.spec.index != tx.index or market.is_linear:
            return Rejection(
                ErrorCode.MARK_NOT_FOR_INDEX,
                f"{mark.instrument} is not an option on {tx.index}: linear instruments mark at the index",
            )
        if mark.instrument in option_marks:
            return Rejection(ErrorCode.DUPLICATE_MARK, f"{mark.instrument} is marked twice")
        if (rejection := check_price(mark.price, market.spec.tick_size, "mark price")) is not None:
            return rejection
        option_marks[mark.instrument] = (market, mark.price // market.spec.tick_size)

    events: list[Event] = [IndexPriceUpdated(tx.index, price)]
    state.index_prices[tx.index] = price
    for market in markets_on_index:
        if market.is_linear:
            mark_ticks = to_ticks_half_up(price, market.spec.tick_size)
            if mark_ticks != market.mark:
                _set_mark(state, market, mark_ticks, events)
    for market, mark_ticks in option_marks.values():
        if mark_ticks != market.mark:
            _set_mark(state, market, mark_ticks, events)
    _review_holders(state, markets_on_index, events)
    return events


def _set_mark(state: State, market: Market, mark_ticks: int, events: list[Event]) -> None:
    market.mark = mark_ticks
    events.append(MarkPriceUpdated(market.spec.id, mark_ticks * market.spec.tick_size))


def _review_holders(state: State, markets: list[Market], events: list[Event]) -> None:
    # Options margin depends on the index even where their own mark did not move,
    # so every holder on the index is reviewed, each once, in first-seen order.
    seen: dict[str, Account] = {}
    for market in markets:
        for account_id, account in market.holders.items():
            if account_id not in seen:
                seen[account_id] = account
    for account in seen.values():
        state.review_margin_call(account, events)
