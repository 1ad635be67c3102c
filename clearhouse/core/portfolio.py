"""Portfolio margin by risk arrays (SPAN style), for accounts that choose it.

An account in portfolio mode keeps one risk vector per underlying index it holds
(`account.risk_vectors[index]`), of ``n_scenarios + 2`` integers:

- ``vector[s]`` for each scenario ``s``: the sum over its positions on that index
  of ``qty x array[s]`` (the risk arrays of clearhouse.core.risk_arrays): the
  account's P&L there;
- ``vector[n_scenarios]``: the floors of those positions, ``|qty| x`` the array's
  per-lot floor ``+ max(0, -qty) x`` its per-short-lot floor;
- ``vector[n_scenarios + 1]``: the worst scenario loss of those positions,
  ``max(0, -min(vector[s]))``, kept so that margin without open orders is O(1) per
  index.

From it:

- initial margin is, per index, the worst scenario loss (open orders included,
  below) plus the floors, summed over indices. The floors are
  ``per_lot_min_bps`` of the lot's underlying value per lot of any position,
  ``short_option_min_bps`` of it per short option lot, and one settlement unit per
  short lot (risk arrays round towards the loss of a long lot, so a short's loss
  may be understated by less than a unit per lot: this covers it);
- maintenance margin is ``maintenance_bps / 10_000`` of the positions' initial
  margin (open orders left out, as in standard margin), rounded up;
- equity is the same as under standard margin: cash plus every position at its mark
  (an option's mark value is in equity, and its P&L under a scenario is measured
  from it, so a long option needs nothing more);
- a withdrawal counts equity less the unrealized gain of every position, long
  options included (their mark value lends margin here), and the requirement is
  never below the floors: a scenario's gain lowers no requirement below them
  (the worst loss counts from zero), so neither a position's gain at the mark nor
  a gain under a scenario pays cash out.

Open orders are margined for their worst case, soundly. Per instrument with open
orders and per scenario, the worst of none filled, all buys filled and all sells
filled (P&L is linear in the lots filled within one scenario, so no partial fill is
worse), summed over instruments, is added to the P&L; the floors take the largest
position and the largest short the orders could leave; and the loss of filling on
the wrong side of the mark (buys above it, sells below it: `Position.adverse_at`)
is added as it stands. The pre-trade check evaluates this with the new order among
the open ones: O(scenarios x instruments with open orders) on top of one pass over
the account's positions.

Upkeep is incremental. A fill changes one account's vector by ``delta x array``
and its floors, O(scenarios): `on_position_change`, which every change of a
position calls. An oracle update recomputes the index's arrays and the vectors of
the portfolio accounts holding the index, nobody else's (`refresh_index`; who holds
what is kept per index, so finding them costs nothing). Arrays are computed when
first needed after an update (an instrument nobody holds costs nothing until it is
traded): an array is a pure function of inputs that only an oracle update changes,
so computing it later gives the integers computing it then would.

Vectors and arrays are derivable, so they are neither in the snapshot nor in the
digest: `rebuild` recomputes them after a restore, and the invariant sweep checks
each portfolio account's vectors against a fresh recomputation (`check_vectors`).
"""

from __future__ import annotations

from typing import Final

from clearhouse.core.config import PortfolioParams
from clearhouse.core.ledger import Account, Position
from clearhouse.core.margin import account_equity, position_gain
from clearhouse.core.market import Market
from clearhouse.core.oracle_state import IndexOracle
from clearhouse.core.outcomes import InvariantViolation
from clearhouse.core.risk_arrays import OptionValues, risk_array, scenarios
from clearhouse.core.txs import MarginMode

PORTFOLIO: Final = MarginMode.PORTFOLIO


class PortfolioMargin:
    """The portfolio `MarginModel`, and the upkeep of arrays and vectors.

    It reads the state's own tables of markets, oracles and accounts, passed in by
    `State` (which owns them and never rebinds them), so this module does not
    depend on `state.py`: the state holds the margin models, not the other way.
    """

    __slots__ = (
        "accounts",
        "arrays_computed",
        "count",
        "holders",
        "index_markets",
        "maintenance_bps",
        "markets",
        "option_values",
        "oracles",
        "params",
        "scenario_list",
        "vectors_recomputed",
    )

    def __init__(
        self,
        params: PortfolioParams,
        markets: dict[str, Market],
        index_markets: dict[str, list[Market]],
        oracles: dict[str, IndexOracle],
        accounts: dict[str, Account],
    ) -> None:
        self.markets = markets
        self.index_markets = index_markets
        self.oracles = oracles
        self.accounts = accounts
        self.params = params
        self.maintenance_bps: int = params.maintenance_bps
        self.scenario_list = scenarios(params)
        self.count = len(self.scenario_list)
        """Scenarios per underlying (an array has two entries more, a vector too)."""
        self.holders: dict[str, dict[str, Account]] = {}
        """Per index, the portfolio accounts keeping a vector on it, by id."""
        self.option_values: dict[str, OptionValues] = {}
        """Per index, the scenario values of its options since its last update (a
        call's serve the put on the same strike)."""
        self.arrays_computed = 0
        """Risk arrays computed since start (a statistic, not state)."""
        self.vectors_recomputed = 0
        """Account vectors recomputed in full since start (a statistic, not state)."""

    # -- the MarginModel interface ----------------------------------------------

    def equity(self, account: Account) -> int:
        return account_equity(account)

    def initial_requirement(self, account: Account) -> int:
        return self._initial(account, None)

    def maintenance_requirement(self, account: Account) -> int:
        """A fraction of the positions' initial margin. Open orders are left out, as
        in standard margin: they bind at entry (initial), and cancelling one must never
        be what starts or ends a margin call."""
        return -(-self._positions_initial(account) * self.maintenance_bps // 10_000)

    def unrealized_gains(self, account: Account) -> int:
        total = 0
        for position in account.positions.values():
            total += position_gain(position)
        return total

    def position_requirement(self, position: Position) -> int:
        """The initial margin of `position` (and its open orders) held alone."""
        vectors: dict[str, list[int]] = {}
        array = self.array_of(position.market)
        qty = position.qty
        if qty and array:
            vector = [0] * (self.count + 2)
            self._add_lots(vector, array, 0, qty)
            vectors[position.market.spec.index] = vector
        orders: dict[str, list[int]] = {}
        charge = self._order_charge(position, orders)
        return charge + self._scenario_loss(vectors, orders)

    # -- orders ------------------------------------------------------------------

    def requirements_with_order(
        self, account: Account, position: Position, is_buy: bool, limit: int, size: int
    ) -> tuple[int, int]:
        """Initial margin before and after adding an order of `size` lots at `limit`
        ticks to `position`'s open orders (which may not be in the account yet)."""
        before = self._initial(account, position)
        position.add_open(is_buy, limit, size)
        after = self._initial(account, position)
        position.add_open(is_buy, limit, -size)
        return before, after

    # -- upkeep ------------------------------------------------------------------

    def array_of(self, market: Market) -> list[int]:
        """The market's risk array as of its index's last update (empty if it has none)."""
        if market.settled or market.mark == 0:
            if market.risk_array:
                market.risk_array = []
            return market.risk_array
        array = market.risk_array
        if not array:
            index = market.spec.index
            oracle = self.oracles[index]
            values = self.option_values.get(index)
            if values is None:
                values = self.option_values[index] = {}
            array = risk_array(
                market, oracle.price, oracle.updated_ns, self.scenario_list, self.params, values
            )
            market.risk_array = array
            self.arrays_computed += 1
        return array

    def on_position_change(self, account: Account, market: Market, delta_qty: int) -> None:
        """Keep a portfolio account's vector in step after its position in `market`
        changed by `delta_qty` lots. Call it after the change, for any account
        (standard accounts are ignored). O(scenarios)."""
        if delta_qty == 0 or account.margin_mode is not PORTFOLIO:
            return
        index = market.spec.index
        array = self.array_of(market)
        vector = account.risk_vectors.get(index)
        position = account.positions.get(market.spec.id)
        after = 0 if position is None else position.qty
        if not array or vector is None or after == 0:
            # A first position on the index, a closed one (the vector may go), or a
            # market without an array (settled): the vector is what the positions make.
            self._store_vector(account, index)
            return
        self._add_lots(vector, array, after - delta_qty, after)

    def refresh_index(self, index: str) -> None:
        """After `index`'s marks were set: drop its arrays (each is recomputed when
        first needed) and recompute the vector on `index` of each portfolio account
        holding it."""
        markets = self.index_markets.get(index)
        if markets is None:
            return
        for market in markets:
            market.risk_array = []
        self.option_values.pop(index, None)
        holders = self.holders.get(index)
        if holders is None:
            return
        for account in list(holders.values()):
            self._store_vector(account, index)

    def attach(self, account: Account) -> None:
        """Build the account's vectors from its positions (it switches to portfolio)."""
        self.detach(account)
        for index in _indices_held(account):
            self._store_vector(account, index)

    def detach(self, account: Account) -> None:
        """Forget the account's vectors (it leaves portfolio margin)."""
        for index in account.risk_vectors:
            del self.holders[index][account.id]
        account.risk_vectors.clear()

    def rebuild(self) -> None:
        """Recompute every array and vector after a snapshot is restored, from each
        index's oracle state as of its last update."""
        for market in self.markets.values():
            market.risk_array = []
        self.option_values.clear()
        self.holders.clear()
        for account in self.accounts.values():
            account.risk_vectors.clear()
            if account.margin_mode is PORTFOLIO:
                self.attach(account)

    def check_vectors(self) -> None:
        """Raise InvariantViolation unless every account's vectors are right
        (`check_account`) and every index's holders are exactly the accounts with a
        vector on it (`check_index_holders` and `check_account` together)."""
        for account in self.accounts.values():
            self.check_account(account)
        for index in self.holders:
            self.check_index_holders(index)

    def check_account(self, account: Account) -> None:
        """The account's vectors equal a fresh recomputation from its positions (an
        account outside portfolio mode keeps none), and it is a holder of each index
        it has a vector on."""
        if account.margin_mode is not PORTFOLIO:
            if account.risk_vectors:
                raise InvariantViolation(f"{account.id}: risk vectors outside portfolio mode")
            return
        fresh: dict[str, list[int]] = {}
        for index in _indices_held(account):
            vector = self._vector(account, index)
            if vector is not None:
                fresh[index] = vector
        if account.risk_vectors != fresh:
            raise InvariantViolation(f"{account.id}: risk vectors out of step with its positions")
        for index in fresh:
            if self.holders.get(index, {}).get(account.id) is not account:
                raise InvariantViolation(f"{index}: portfolio holders out of step with vectors")

    def check_index_holders(self, index: str) -> None:
        """Every holder listed on the index keeps a vector on it."""
        for account_id, account in self.holders.get(index, {}).items():
            if account.id != account_id or index not in account.risk_vectors:
                raise InvariantViolation(f"{index}: portfolio holders out of step with vectors")

    # -- the arithmetic ----------------------------------------------------------
    # Loops run over plain lists of ints, item by item, which mypyc compiles to
    # unboxed arithmetic (an augmented assignment to an item would stay generic).

    def _store_vector(self, account: Account, index: str) -> None:
        """Recompute the account's vector on `index`; drop it if nothing is held there."""
        self.vectors_recomputed += 1
        old = account.risk_vectors.get(index)
        vector = self._vector(account, index, old)
        if vector is old:
            return
        if vector is not None:
            account.risk_vectors[index] = vector
            holders = self.holders.get(index)
            if holders is None:
                holders = self.holders[index] = {}
            holders[account.id] = account
        else:
            del account.risk_vectors[index]
            del self.holders[index][account.id]

    def _vector(
        self, account: Account, index: str, into: list[int] | None = None
    ) -> list[int] | None:
        """The account's vector on `index` from scratch (None: no position there),
        written over `into` if given (an entry freed is reused at once: faster than a
        new list when a hundred thousand vectors are refreshed)."""
        count = self.count
        quantities: list[int] = []
        arrays: list[list[int]] = []
        floors = 0
        for position in account.positions.values():
            qty = position.qty
            if qty == 0:
                continue
            market = position.market
            if market.spec.index != index:
                continue
            array = self.array_of(market)
            if array:
                quantities.append(qty)
                arrays.append(array)
                floors += abs(qty) * array[count] + max(0, -qty) * array[count + 1]
        held = len(arrays)
        if held == 0:
            return None
        vector = [0] * (count + 2) if into is None else into
        # Scenario by scenario, so that each entry is stored once.
        low = 0
        for i in range(count):
            total = 0
            for j in range(held):
                total += quantities[j] * arrays[j][i]
            vector[i] = total
            low = min(low, total)
        vector[count] = floors
        vector[count + 1] = -low
        return vector

    def _add_lots(self, vector: list[int], array: list[int], before: int, after: int) -> None:
        """Move `vector` from holding `before` lots of `array`'s instrument to `after`."""
        count = self.count
        delta = after - before
        low = 0
        for i in range(count):
            value = vector[i] + delta * array[i]
            vector[i] = value
            low = min(low, value)
        vector[count] = (
            vector[count]
            + (abs(after) - abs(before)) * array[count]
            + (max(0, -after) - max(0, -before)) * array[count + 1]
        )
        vector[count + 1] = -low

    def _positions_initial(self, account: Account) -> int:
        """Initial margin of the positions alone: floors and worst loss, per index."""
        count = self.count
        total = 0
        for vector in account.risk_vectors.values():
            total += vector[count] + vector[count + 1]
        return total

    def _initial(self, account: Account, extra: Position | None) -> int:
        if extra is None and not account.open_orders:
            return self._positions_initial(account)  # the common case: no open orders
        orders: dict[str, list[int]] = {}
        total = 0
        positions = account.positions
        for position in positions.values():
            total += self._order_charge(position, orders)
        if extra is not None and positions.get(extra.market.spec.id) is not extra:
            total += self._order_charge(extra, orders)
        return total + self._scenario_loss(account.risk_vectors, orders)

    def _order_charge(self, position: Position, orders: dict[str, list[int]]) -> int:
        """What the position's open orders add to the floors, and the loss of filling
        them on the wrong side of the mark; adds their worst case per scenario to
        `orders[index]`."""
        buy = position.open_buy
        sell = position.open_sell
        if buy == 0 and sell == 0:
            return 0
        market = position.market
        charge = position.adverse_at(market.mark) * market.tick_value
        array = self.array_of(market)
        if not array:
            return charge
        count = self.count
        qty = position.qty
        # The largest position and the largest short the orders could leave, less
        # what the vector's floors already hold for the position.
        charge += (max(qty + buy, sell - qty) - abs(qty)) * array[count] + (
            max(0, sell - qty) - max(0, -qty)
        ) * array[count + 1]
        index = market.spec.index
        worst = orders.get(index)
        if worst is None:
            worst = [0] * count
            orders[index] = worst
        for i in range(count):
            a = array[i]
            if a > 0:
                worst[i] = worst[i] - sell * a
            elif a < 0:
                worst[i] = worst[i] + buy * a
        return charge

    def _scenario_loss(self, vectors: dict[str, list[int]], orders: dict[str, list[int]]) -> int:
        """Sum over indices of the positions' floors and the worst scenario loss of
        positions and open orders together."""
        count = self.count
        total = 0
        for index, vector in vectors.items():
            worst = orders.get(index)
            if worst is None:
                total += vector[count] + vector[count + 1]
                continue
            low = 0
            for i in range(count):
                value = vector[i] + worst[i]
                low = min(low, value)
            total += vector[count] - low
        for index, worst in orders.items():
            if index not in vectors:
                low = min(worst)
                if low < 0:
                    total -= low
        return total


def _indices_held(account: Account) -> list[str]:
    """The indices the account holds a position on, in the order its positions came."""
    indices: dict[str, None] = {}
    for position in account.positions.values():
        if position.qty:
            indices[position.market.spec.index] = None
    return list(indices)
