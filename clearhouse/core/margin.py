"""Standard margin: the requirement of each position, summed over an account.

Perpetuals and futures: notional at the mark times a rate (initial and
maintenance). Short options: the option's mark value plus the larger of a fraction
of the underlying less the out-of-the-money amount and a smaller floor fraction of
the underlying; maintenance is the mark value plus a smaller fraction. Long
options: the premium's value at the mark, which the option cannot lend to other
positions; no maintenance.

Open orders are margined as if every order on one side filled at its limit price:
a position's requirement is the worst of "nothing fills", "all buys fill" and "all
sells fill", each counting the loss of filling away from the mark. Requirements
round up.

`MarginModel` is the interface the engine calls; portfolio margin plugs in behind
it.
"""

from __future__ import annotations

from typing import Protocol

from clearhouse.core.ledger import Account, Position
from clearhouse.core.market import Market


class MarginModel(Protocol):
    def equity(self, account: Account) -> int: ...

    def initial_requirement(self, account: Account) -> int: ...

    def maintenance_requirement(self, account: Account) -> int: ...

    def position_requirement(self, position: Position) -> int: ...


def position_value(position: Position) -> int:
    """What a position adds to equity at the mark, in settlement units."""
    market = position.market
    if market.is_linear:
        return (market.mark * position.qty - position.cost) * market.tick_value
    return market.mark * position.qty * market.tick_value


class StandardMargin:
    """Exchange-style per-instrument margin with no offsets between positions."""

    __slots__ = ("index_prices",)

    def __init__(self, index_prices: dict[str, int]) -> None:
        self.index_prices = index_prices

    def equity(self, account: Account) -> int:
        total = account.cash
        for position in account.positions.values():
            if position.qty:
                total += position_value(position)
        return total

    def initial_requirement(self, account: Account) -> int:
        total = 0
        for position in account.positions.values():
            total += self.position_requirement(position)
        return total

    def maintenance_requirement(self, account: Account) -> int:
        total = 0
        for position in account.positions.values():
            qty = position.qty
            if qty == 0:
                continue
            market = position.market
            spec = market.spec
            if market.is_linear:
                total += -(
                    -abs(qty)
                    * market.mark
                    * market.tick_value
                    * spec.maintenance_margin_bps
                    // 10_000
                )
            elif qty < 0:
                underlying = market.underlying_value(self.index_prices.get(spec.index, 0))
                per_lot = market.mark * market.tick_value - (
                    -underlying * spec.short_option_maintenance_bps // 10_000
                )
                total += -qty * per_lot
        return total

    def position_requirement(self, position: Position) -> int:
        market = position.market
        mark = market.mark
        qty = position.qty
        open_buy = position.open_buy
        open_sell = position.open_sell
        if market.is_linear:
            # One ceiling over the worst numerator equals the worst of the rounded
            # candidates, because the order losses are whole units.
            rate = mark * market.spec.initial_margin_bps
            worst = abs(qty) * rate
            if open_buy:
                loss = position.open_buy_notional - mark * open_buy
                worst = max(worst, abs(qty + open_buy) * rate + max(0, loss) * 10_000)
            if open_sell:
                loss = mark * open_sell - position.open_sell_notional
                worst = max(worst, abs(qty - open_sell) * rate + max(0, loss) * 10_000)
            return -(-worst * market.tick_value // 10_000)
        requirement = self._initial(market, qty)
        if open_buy:
            loss = max(0, position.open_buy_notional - mark * open_buy) * market.tick_value
            requirement = max(requirement, self._initial(market, qty + open_buy) + loss)
        if open_sell:
            loss = max(0, mark * open_sell - position.open_sell_notional) * market.tick_value
            requirement = max(requirement, self._initial(market, qty - open_sell) + loss)
        return requirement

    def _initial(self, market: Market, qty: int) -> int:
        if qty == 0:
            return 0
        spec = market.spec
        if market.is_linear:
            return -(
                -abs(qty) * market.mark * market.tick_value * spec.initial_margin_bps // 10_000
            )
        premium = market.mark * market.tick_value
        if qty > 0:
            return qty * premium
        return -qty * (premium + self.short_option_charge(market))

    def short_option_charge(self, market: Market) -> int:
        """Per-lot charge of a short option on top of its mark value."""
        spec = market.spec
        index_price = self.index_prices.get(spec.index, 0)
        underlying = market.underlying_value(index_price)
        if spec.option_type is not None and spec.option_type.value == "call":
            out_of_money = max(0, spec.strike - index_price)
        else:
            out_of_money = max(0, index_price - spec.strike)
        out_of_money_value = (
            out_of_money * market.underlying_per_lot_num // market.underlying_per_lot_den
        )
        scanned = -(-underlying * spec.short_option_margin_bps // 10_000) - out_of_money_value
        floor = -(-underlying * spec.short_option_floor_bps // 10_000)
        return max(scanned, floor)
