"""Read-only views of the state for people and clients: accounts and depth."""

from __future__ import annotations

import msgspec

from clearhouse.core.ledger import Account
from clearhouse.core.margin import position_value
from clearhouse.core.market import Market
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
    margin = state.margin
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
        max(0, min(account.cash, equity - initial)),
        account.in_margin_call,
        len(account.open_orders),
        positions,
    )


def depth_view(market: Market, levels: int) -> Depth:
    tick_size = market.spec.tick_size
    return Depth(
        market.spec.id,
        market.mark * tick_size,
        [DepthLevel(p * tick_size, s, n) for p, s, n in market.book.bids.depth(levels)],
        [DepthLevel(p * tick_size, s, n) for p, s, n in market.book.asks.depth(levels)],
    )
