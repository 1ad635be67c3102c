"""Read-only views of the state for people and clients: accounts, depth and marks."""

from __future__ import annotations

import msgspec

from clearhouse.core.instruments import OptionType
from clearhouse.core.ledger import Account
from clearhouse.core.margin import position_value
from clearhouse.core.market import Market
from clearhouse.core.pricing import greeks_from_units
from clearhouse.core.state import State


class PositionView(msgspec.Struct, frozen=True):
    instrument: str
    size: int
    entry_price: str
    """Average entry price in whole settlement currency, to the asset's decimals (display only)."""
    mark_price: int
    value: int
    """What the position adds to equity at the mark: unrealized P&L for linear
    instruments, the option's mark value for options."""
    open_buy: int
    open_sell: int


class AccountView(msgspec.Struct, frozen=True):
    account: str
    cash: int
    equity: int
    initial_margin: int
    maintenance_margin: int
    available: int
    """The most a Withdraw or Transfer could take out now: cash, and equity less
    unrealized gains less initial margin, whichever is smaller (never below 0)."""
    in_margin_call: bool
    open_orders: int
    positions: list[PositionView]


class DepthLevel(msgspec.Struct, frozen=True, array_like=True):
    price: int
    size: int
    orders: int


class Depth(msgspec.Struct, frozen=True):
    instrument: str
    mark_price: int
    bids: list[DepthLevel]
    asks: list[DepthLevel]


def _entry_price(cost: int, qty: int, tick_size: int, decimals: int) -> str:
    if qty == 0:
        return "0"
    units = cost * tick_size // qty
    whole, fraction = divmod(units, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}" if decimals else str(whole)


def account_view(state: State, account: Account) -> AccountView:
    margin = state.margin_of(account)
    equity = margin.equity(account)
    initial = margin.initial_requirement(account)
    positions = []
    for instrument, position in sorted(account.positions.items()):
        market = position.market
        tick_size = market.spec.tick_size
        positions.append(
            PositionView(
                instrument,
                position.qty,
                _entry_price(
                    position.cost, position.qty, tick_size, market.spec.settlement_decimals
                ),
                market.mark * tick_size,
                position_value(position) if position.qty else 0,
                position.open_buy,
                position.open_sell,
            )
        )
    return AccountView(
        account.id,
        account.cash,
        equity,
        initial,
        margin.maintenance_requirement(account),
        max(0, min(account.cash, equity - margin.unrealized_gains(account) - initial)),
        account.in_margin_call,
        len(account.open_orders),
        positions,
    )


class MarkView(msgspec.Struct, frozen=True):
    """How an instrument is marked now. Prices in settlement units per whole
    underlying. For options, the Black-76 greeks at the mark inputs, as exact decimal
    strings: delta and gamma with respect to the forward, vega per unit of vol,
    theta per year; empty for other kinds."""

    instrument: str
    mark_price: int
    index_price: int
    forward: int
    vol_ppm: int
    halted: bool
    settled: bool
    delta: str = ""
    gamma: str = ""
    vega: str = ""
    theta: str = ""


def mark_view(state: State, market: Market, now_ns: int) -> MarkView:
    spec = market.spec
    index_price = state.index_prices.get(spec.index, 0)
    forward = index_price + market.basis if index_price else 0
    view = MarkView(
        spec.id,
        market.mark * spec.tick_size,
        index_price,
        forward,
        market.vol_ppm,
        market.halt_reason is not None,
        market.settled,
    )
    if market.is_linear or not market.vol_ppm or not forward:
        return view
    greeks = greeks_from_units(
        forward,
        spec.strike,
        market.vol_ppm,
        max(0, spec.expiry_ns - now_ns),
        spec.option_type is OptionType.CALL,
    )
    return msgspec.structs.replace(
        view,
        delta=str(greeks.delta),
        gamma=str(greeks.gamma),
        vega=str(greeks.vega),
        theta=str(greeks.theta),
    )


def depth_view(market: Market, levels: int) -> Depth:
    tick_size = market.spec.tick_size
    return Depth(
        market.spec.id,
        market.mark * tick_size,
        [DepthLevel(p * tick_size, s, n) for p, s, n in market.book.bids.depth(levels)],
        [DepthLevel(p * tick_size, s, n) for p, s, n in market.book.asks.depth(levels)],
    )
