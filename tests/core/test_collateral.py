"""Withdraw and Transfer against a model kept from the events: gains are not cash.

Two accounts trade BTC-PERP with each other (one rests at the mark, the other
takes it) while the index moves at random, and try to take cash out: withdrawals,
and transfers to each other, of random sizes and of exactly the most the model
allows and one unit more. The model reads nothing but the events: what each account
put in (Deposited, Transferred in) and took out (Withdrawn, Transferred out), its
realized P&L and fees (TradeExecuted), its position and cost basis (from the fills),
and the perpetual's mark (MarkPriceUpdated). From those it says what may leave:

    put in - taken out + realized - fees + min(0, unrealized P&L) - amount
        >= initial margin (10 % of the position's notional at the mark)

No account takes out more than it put in plus what it has realized, while what its
open position is losing and the margin it holds stay covered: a gain that is only
marked never pays out, whatever the path of the index. The engine must accept
exactly the amounts the model allows, and the model's cash and margin must be the
engine's after every step.
"""

from __future__ import annotations

from typing import Final

from hypothesis import given
from hypothesis import strategies as st

from clearhouse.core import (
    Accepted,
    CancelAll,
    Deposit,
    Deposited,
    EngineConfig,
    Event,
    MarkPriceUpdated,
    Outcome,
    PlaceOrder,
    Side,
    TimeInForce,
    TradeExecuted,
    Transfer,
    Transferred,
    Withdraw,
    Withdrawn,
    default_catalogue,
)
from clearhouse.testing import TestVenue, standard_genesis

USD: Final = 10**6
PERP: Final = "BTC-PERP"
SPEC: Final = next(spec for spec in default_catalogue() if spec.id == PERP)
TICK_VALUE: Final = 500
"""Micro-USD one lot (0.001 BTC) gains per tick (0.50 USD)."""
ACCOUNTS: Final = ("ana", "ben")
CONFIG: Final = EngineConfig(
    rate_limit_messages=0, circuit_breaker_bps=0, oracle_move_max_bps=5_000
)
"""One update may move the index 50 % with no halt: the path is the property's input."""
LOTS: Final = (1, 10, 100, 500, 1_000, 3_000)
INDEX_FLOOR: Final = 20_000 * USD
INDEX_CEILING: Final = 500_000 * USD


class Model:
    """Each account's money as the events tell it, and the initial margin that applies."""

    def __init__(self) -> None:
        self.put_in = dict.fromkeys(ACCOUNTS, 0)
        self.taken_out = dict.fromkeys(ACCOUNTS, 0)
        self.realized = dict.fromkeys(ACCOUNTS, 0)
        """Realized P&L less fees paid."""
        self.qty = dict.fromkeys(ACCOUNTS, 0)
        self.cost = dict.fromkeys(ACCOUNTS, 0)
        """Cost basis of the open lots, in micro-USD."""
        self.mark = 0
        """The perpetual's mark, in ticks."""

    def read(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, Deposited):
                self.put_in[e.account] += e.amount
            elif isinstance(e, Withdrawn):
                self.taken_out[e.account] += e.amount
            elif isinstance(e, Transferred):
                self.taken_out[e.source] += e.amount
                self.put_in[e.destination] += e.amount
            elif isinstance(e, MarkPriceUpdated) and e.instrument == PERP:
                self.mark = e.price // SPEC.tick_size
            elif isinstance(e, TradeExecuted):
                lot_value = e.price // SPEC.tick_size * TICK_VALUE
                taker_buys = e.taker_side is Side.BUY
                for account, buys, pnl, fee in (
                    (e.taker_account, taker_buys, e.taker_realized_pnl, e.taker_fee),
                    (e.maker_account, not taker_buys, e.maker_realized_pnl, e.maker_fee),
                ):
                    signed = e.size if buys else -e.size
                    self.realized[account] += pnl - fee
                    self.qty[account] += signed
                    # What the lots opened cost, less what the lots closed released: the
                    # released basis is the fill's value less the P&L it realized.
                    self.cost[account] += signed * lot_value + pnl

    def cash(self, account: str) -> int:
        return self.put_in[account] - self.taken_out[account] + self.realized[account]

    def unrealized(self, account: str) -> int:
        return self.qty[account] * self.mark * TICK_VALUE - self.cost[account]

    def initial_margin(self, account: str) -> int:
        notional = abs(self.qty[account]) * self.mark * TICK_VALUE
        return -(-notional * SPEC.initial_margin_bps // 10_000)

    def most_out(self, account: str) -> int:
        """The largest amount that may leave: cash, and cash with the position's loss
        (never its gain) less initial margin."""
        cash = self.cash(account)
        covered = cash + min(0, self.unrealized(account)) - self.initial_margin(account)
        return max(0, min(cash, covered))


class Session:
    def __init__(self, deposits: tuple[int, int]) -> None:
        self.venue = TestVenue(standard_genesis(ACCOUNTS, (SPEC,), CONFIG))
        self.model = Model()
        self.index = 100_000 * USD
        self.send_oracle(self.index)
        for account, amount in zip(ACCOUNTS, deposits, strict=True):
            self.send(Deposit(account, "USDC", amount * USD))

    def send(self, payload: Deposit | Withdraw | Transfer | PlaceOrder | CancelAll) -> Outcome:
        outcome = self.venue.apply(payload)
        if isinstance(outcome, Accepted):
            self.model.read(outcome.events)
        return outcome

    def send_oracle(self, price: int) -> None:
        outcome = self.venue.oracle("BTC-USD", price)
        assert isinstance(outcome, Accepted), outcome
        self.model.read(outcome.events)

    def move(self, bps: int) -> None:
        price = self.index + self.index * bps // 10_000
        self.index = min(max(price, INDEX_FLOOR), INDEX_CEILING)
        self.send_oracle(self.index)

    def trade(self, buyer: str, lots: int) -> None:
        seller = ACCOUNTS[1 - ACCOUNTS.index(buyer)]
        price = self.model.mark * SPEC.tick_size
        offer = PlaceOrder(seller, PERP, Side.SELL, lots, price=price)
        if not isinstance(self.send(offer), Accepted):
            return
        take = PlaceOrder(buyer, PERP, Side.BUY, lots, price=price, time_in_force=TimeInForce.IOC)
        if not isinstance(self.send(take), Accepted):
            # Refused for margin: the offer must not stay and mark the perpetual.
            assert isinstance(self.send(CancelAll(seller)), Accepted)

    def take_out(self, account: str, how: int | str, to_other: bool) -> None:
        model = self.model
        limit = model.most_out(account)
        if how == "limit":
            amount = limit
        elif how == "over":
            amount = limit + 1
        else:
            assert isinstance(how, int)
            amount = model.cash(account) * how // 100
        if amount <= 0:
            return
        other = ACCOUNTS[1 - ACCOUNTS.index(account)]
        payload = (
            Transfer(account, other, "USDC", amount)
            if to_other
            else Withdraw(account, "USDC", amount)
        )
        outcome = self.send(payload)
        assert isinstance(outcome, Accepted) == (amount <= limit), (
            f"{account} taking out {amount} with {limit} allowed: {outcome}"
        )
        if isinstance(outcome, Accepted):
            # What it took out is backed by what it put in and realized, its open
            # position's loss and margin covered: no gain was paid out.
            assert model.taken_out[account] <= (
                model.put_in[account]
                + model.realized[account]
                + min(0, model.unrealized(account))
                - model.initial_margin(account)
            )

    def check(self) -> None:
        for account in ACCOUNTS:
            view = self.venue.engine.account(account)
            assert view is not None
            assert (view.cash, view.initial_margin) == (
                self.model.cash(account),
                self.model.initial_margin(account),
            ), account
            assert view.available == self.model.most_out(account), account
        self.venue.engine.check_invariants()


STEP = st.one_of(
    st.tuples(st.just("index"), st.integers(-3_000, 3_000)),
    st.tuples(st.just("trade"), st.sampled_from(ACCOUNTS), st.sampled_from(LOTS)),
    st.tuples(
        st.just("take out"),
        st.sampled_from(ACCOUNTS),
        st.one_of(st.sampled_from(["limit", "over"]), st.integers(1, 100)),
        st.booleans(),
    ),
)


@given(
    deposits=st.tuples(*(st.sampled_from([1_000, 11_000, 50_000, 250_000]) for _ in ACCOUNTS)),
    steps=st.lists(STEP, max_size=25),
)
def test_no_path_of_the_index_lets_an_account_take_out_an_unrealized_gain(
    deposits: tuple[int, int], steps: list[tuple[object, ...]]
) -> None:
    session = Session(deposits)
    session.check()
    for step in steps:
        kind = step[0]
        if kind == "index":
            session.move(step[1])  # type: ignore[arg-type]
        elif kind == "trade":
            session.trade(step[1], step[2])  # type: ignore[arg-type]
        else:
            session.take_out(step[1], step[2], step[3])  # type: ignore[arg-type]
        session.check()
