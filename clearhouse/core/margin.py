"""Standard margin: the requirement of each position, summed over an account.

Perpetuals and futures: notional at the mark times a rate (initial and
maintenance). Short options: the option's mark value plus the larger of a fraction
of the underlying less the out-of-the-money amount and a smaller floor fraction of
the underlying; maintenance is the mark value plus a smaller fraction. Long
options: the premium's value at the mark, which the option cannot lend to other
positions; no maintenance.

Open orders are margined for their worst case, whichever of them fill: the
requirement of the largest position they could leave (none, all buys or all sells
filled; the requirement is convex in the position, so no partial fill needs more)
plus the loss of every order that would fill on the wrong side of the mark (buys
above it, sells below it; only one side can have such orders, because an account's
own bids rest below its own offers). Requirements round up.

Unrealized gains keep a position open but never pay cash out: a Withdraw or
Transfer must leave the initial requirement covered by equity less the account's
unrealized gains (`MarginModel.unrealized_gains`). They are counted per position,
so a gain on one never offsets a loss on another: every loss still counts in full,
no gain counts at all. A position's unrealized P&L is its value at the mark less
what it cost: (mark x qty - cost basis) x tick value, options included (a short
option's premium came in as cash, so a fall in its mark is a gain like any other).

`MarginModel` is the interface the engine calls; portfolio margin plugs in behind
it.

The pre-trade check and the margin-call review run for nearly every order, so the
per-position arithmetic avoids `abs()` and `max()` on ints: compiled by mypyc, those
box their arguments and go through a generic call, where a comparison stays native.
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

    def unrealized_gains(self, account: Account) -> int: ...


def position_gain(position: Position) -> int:
    """The position's unrealized P&L at the mark if it is a gain, else 0."""
    market = position.market
    return max(0, (market.mark * position.qty - position.cost) * market.tick_value)


def position_value(position: Position) -> int:
    """What a position adds to equity at the mark, in settlement units."""
    market = position.market
    if market.is_linear:
        return (market.mark * position.qty - position.cost) * market.tick_value
    return market.mark * position.qty * market.tick_value


def linear_margin(lots: int, market: Market, bps: int) -> int:
    """`bps` of the notional of `lots` (>= 0) at the mark, in settlement units, rounded up.

    The same value as -(-lots x mark x tick value x bps // 10_000), grouped as
    (lots x mark) x (tick value x bps) over non-negative factors: compiled, a product
    stays native only while both of its factors are non-negative and below 2**30
    (ints are exact under any grouping, so only the speed depends on it)."""
    return (lots * market.mark * (market.tick_value * bps) + 9_999) // 10_000


def account_equity(account: Account) -> int:
    """Cash plus every position at its mark: equity under either margin model."""
    total = account.cash
    for position in account.positions.values():
        if position.qty:
            total += position_value(position)
    return total


class StandardMargin:
    """Exchange-style per-instrument margin with no offsets between positions."""

    __slots__ = ("index_prices",)

    def __init__(self, index_prices: dict[str, int]) -> None:
        self.index_prices = index_prices

    def equity(self, account: Account) -> int:
        return account_equity(account)

    def initial_requirement(self, account: Account) -> int:
        total = 0
        for position in account.positions.values():
            total += self.position_requirement(position)
        return total

    def unrealized_gains(self, account: Account) -> int:
        """The gains of every position but long options: a long option's whole
        value at the mark is in its requirement, so none of it (gain or premium)
        pays for anything here already."""
        total = 0
        for position in account.positions.values():
            if position.qty > 0 and not position.market.is_linear:
                continue
            total += position_gain(position)
        return total

    def maintenance_requirement(self, account: Account) -> int:
        total = 0
        for position in account.positions.values():
            if position.qty:
                total += self._maintenance(position)
        return total

    def equity_and_maintenance(self, account: Account) -> tuple[int, int]:
        """`equity` and `maintenance_requirement` in one pass over the positions: the
        margin-call review asks for both, after every fill, for the taker and each maker."""
        equity = account.cash
        maintenance = 0
        for position in account.positions.values():
            if position.qty:
                equity += position_value(position)
                maintenance += self._maintenance(position)
        return equity, maintenance

    def _maintenance(self, position: Position) -> int:
        """The maintenance requirement of a non-zero position (open orders need none)."""
        qty = position.qty
        market = position.market
        spec = market.spec
        if market.is_linear:
            return linear_margin(qty if qty > 0 else -qty, market, spec.maintenance_margin_bps)
        if qty > 0:
            return 0
        underlying = market.underlying_value(self.index_prices.get(spec.index, 0))
        per_lot = market.mark * market.tick_value - (
            -underlying * spec.short_option_maintenance_bps // 10_000
        )
        return -qty * per_lot

    def position_requirement(self, position: Position) -> int:
        market = position.market
        open_buy = position.open_buy
        open_sell = position.open_sell
        if not open_buy and not open_sell:
            return self._initial(market, position.qty)
        adverse = position.adverse_at(market.mark)
        return self._requirement(market, position.qty, open_buy, open_sell, adverse)

    def requirements_with_order(
        self, position: Position, is_buy: bool, limit: int, size: int
    ) -> tuple[int, int]:
        """(before, after): the position's requirement now, and with one more open order
        of `size` lots at `limit` ticks, equal to what `position_requirement` would say
        after `add_open(is_buy, limit, size)`. The order is added to copies of the open
        lots and adverse-fill losses, so the position is not touched (its cache aside)."""
        market = position.market
        mark = market.mark
        qty = position.qty
        open_buy = position.open_buy
        open_sell = position.open_sell
        # adverse_at also brings the cached adverse_buy and adverse_sell to this mark.
        before = self._requirement(market, qty, open_buy, open_sell, position.adverse_at(mark))
        adverse_buy = position.adverse_buy
        adverse_sell = position.adverse_sell
        if is_buy:
            open_buy += size
            if limit > mark:
                adverse_buy += (limit - mark) * size
        else:
            open_sell += size
            if limit < mark:
                adverse_sell += (mark - limit) * size
        adverse = adverse_buy if adverse_buy > adverse_sell else adverse_sell
        return before, self._requirement(market, qty, open_buy, open_sell, adverse)

    def _requirement(
        self, market: Market, qty: int, open_buy: int, open_sell: int, adverse: int
    ) -> int:
        """The requirement of `qty` lots with open orders of `open_buy` and `open_sell`
        lots whose worst wrong-side fill loses `adverse` ticks x lots."""
        if market.is_linear:
            # The largest |position| the open orders can leave is at one end, all buys
            # or all sells filled (|x| is convex): max(qty + open_buy, open_sell - qty).
            # Its requirement, rounded up, is the worst of the candidates' (rounding up
            # is monotonic); the adverse loss is whole units, added after rounding.
            long_end = qty + open_buy
            short_end = open_sell - qty
            worst = long_end if long_end > short_end else short_end
            initial = linear_margin(worst, market, market.spec.initial_margin_bps)
            return initial + adverse * market.tick_value
        requirement = max(
            self._initial(market, qty),
            self._initial(market, qty + open_buy),
            self._initial(market, qty - open_sell),
        )
        return requirement + adverse * market.tick_value

    def _initial(self, market: Market, qty: int) -> int:
        if qty == 0:
            return 0
        spec = market.spec
        if market.is_linear:
            return linear_margin(qty if qty > 0 else -qty, market, spec.initial_margin_bps)
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
