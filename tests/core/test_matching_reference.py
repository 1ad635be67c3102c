"""The engine's matching against a naive reference book, on one instrument.

The reference below is written to be obviously right rather than fast: one list of
resting orders, sorted by price then arrival every time it is read; a taker walks
that list; a fill-or-kill order is tried on a copy first. It knows nothing of the
engine's levels, deques, dead entries or plans. The engine gets signed transactions
through `clearhouse.testing.TestVenue`; accounts are funded so generously that
margin never binds (a margin call would show as an unexpected event), so the two
must agree on every transaction: the same rejection code, or the same fills
(maker, taker, price, size), self-trade cancellations and reductions, resting
remainders and amendments, in the same order, and in the end the same book, level
by level and queue by queue.

Semantics the reference encodes (from `clearhouse/core/trading.py` and, for the
mark, `clearhouse/core/market_data.py`):
- an oracle update marks the perpetual at the index (half up to the tick) plus the
  book's premium: the mid `(best bid + best ask) // 2` less the index, capped at
  `perp_premium_cap_bps` of the index, and 0 unless both sides have orders; the mark
  moves only with oracle updates;
- limit orders cross at their price, which must lie within `price_band_bps` of the
  mark (an amendment's new price too); market orders at the mark +-
  market_collar_bps (a buy's limit is `mark + mark * bps // 10_000` ticks, a sell's
  the mirror, at least one tick) and must be IOC or FOK;
- makers are met best price first, then first come first served;
- self-trade prevention is the taker's mode, applied to each own maker met:
  cancel_taker stops the taker, cancel_maker cancels the maker and goes on,
  cancel_both does both, decrement_and_cancel takes the smaller remaining size off
  both, cancels the maker if nothing is left of it (else reports it reduced) and
  reports what is left of the taker (OrderReduced of the taker, possibly 0);
- FOK refuses the whole order unless the walk fills all of it; post-only refuses
  an order that would trade on arrival (against anyone, own orders included);
  reduce-only orders are immediate and at most the position they reduce;
- amending: a smaller size at the same price keeps the order's place, a new price
  or a larger size sends it to the back; an amendment that would cross is refused.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from clearhouse.core import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    CancelReason,
    Deposit,
    Depth,
    EngineConfig,
    ErrorCode,
    IndexPriceUpdated,
    MarkPriceUpdated,
    OracleObserved,
    OracleUpdate,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    OrderType,
    Outcome,
    Payload,
    PlaceOrder,
    Rejected,
    SelfTradePrevention,
    Side,
    TimeInForce,
    TradeExecuted,
    default_catalogue,
)
from clearhouse.testing import TestVenue, standard_genesis

SPEC = next(spec for spec in default_catalogue() if spec.id == "BTC-PERP")
INSTRUMENT = SPEC.id
INDEX = SPEC.index
TICK = SPEC.tick_size
MARK0 = 200_000
"""The first mark in ticks: 100,000 USD at 0.50 USD a tick."""
ORDERS_MAX = 12
ACCOUNTS = ("a", "b", "c")
STRANGER = "zed"
"""Never funded: every transaction naming it is refused."""
FUNDING = 10**15
"""A billion USD per account: margin never binds on these sizes."""
CONFIG = EngineConfig(
    orders_per_account_max=ORDERS_MAX, invariant_sweep_interval_txs=1, rate_limit_messages=0
)
PREMIUM_CAP_BPS = CONFIG.perp_premium_cap_bps
START_NS = 1_700_000_000 * 10**9
"""November 2023, for the transactions' clock."""
FIRST_ID = len(ACCOUNTS) + 2
"""Order id (= sequence number) of the first transaction after set-up."""

Norm = tuple[Any, ...]


# -- the reference ---------------------------------------------------------------


@dataclass
class RefOrder:
    order_id: int
    account: str
    is_buy: bool
    price: int
    """Ticks."""
    remaining: int
    arrival: int
    client_order_id: str
    stp: SelfTradePrevention


class ReferenceBook:
    """A deliberately naive book: correctness by inspection, speed irrelevant."""

    def __init__(self, accounts: tuple[str, ...]) -> None:
        self.accounts = set(accounts)
        self.orders: list[RefOrder] = []
        self.positions: dict[str, int] = dict.fromkeys(accounts, 0)
        self.mark = 0
        self.clock = 0

    # -- reading

    def queue(self, is_buy: bool) -> list[RefOrder]:
        """One side, best price first, then arrival."""
        side = [o for o in self.orders if o.is_buy == is_buy]
        return sorted(side, key=lambda o: (-o.price if is_buy else o.price, o.arrival))

    def own(self, account: str) -> list[RefOrder]:
        return sorted((o for o in self.orders if o.account == account), key=lambda o: o.order_id)

    def find(self, account: str, order_id: int) -> RefOrder | None:
        return next((o for o in self.own(account) if o.order_id == order_id), None)

    def depth(self, is_buy: bool) -> list[tuple[int, int, int]]:
        levels: dict[int, list[int]] = {}
        for order in self.queue(is_buy):
            level = levels.setdefault(order.price, [0, 0])
            level[0] += order.remaining
            level[1] += 1
        return [(price * TICK, size, count) for price, (size, count) in levels.items()]

    def outside_band(self, price: int) -> bool:
        return abs(price - self.mark) > self.mark * SPEC.price_band_bps // 10_000

    @staticmethod
    def crosses(is_buy: bool, limit: int, price: int) -> bool:
        return price <= limit if is_buy else price >= limit

    def _arrive(self) -> int:
        self.clock += 1
        return self.clock

    # -- transactions

    def apply(self, order_id: int, payload: Payload) -> list[Norm]:
        if isinstance(payload, PlaceOrder):
            return self.place(order_id, payload)
        if isinstance(payload, CancelOrder):
            return self.cancel(payload)
        if isinstance(payload, CancelAll):
            return self.cancel_all(payload)
        if isinstance(payload, AmendOrder):
            return self.amend(payload)
        if isinstance(payload, OracleUpdate):
            index = max(1, (payload.price + TICK // 2) // TICK)
            mark = index
            bids, asks = self.queue(True), self.queue(False)
            if bids and asks:
                cap = index * PREMIUM_CAP_BPS // 10_000
                premium = (bids[0].price + asks[0].price) // 2 - index
                mark = max(1, index + min(max(premium, -cap), cap))
            changed = mark != self.mark
            self.mark = mark
            return [("mark", mark * TICK)] if changed else []
        raise AssertionError(f"the reference does not take {payload!r}")

    def place(self, order_id: int, tx: PlaceOrder) -> list[Norm]:
        if tx.account not in self.accounts:
            return [("rejected", ErrorCode.UNKNOWN_ACCOUNT)]
        is_buy = tx.side is Side.BUY
        is_market = tx.order_type is OrderType.MARKET
        tif = tx.time_in_force
        if is_market and tif is TimeInForce.GTC:
            return [("rejected", ErrorCode.INVALID_ORDER_OPTIONS)]
        if tx.post_only and (is_market or tif is not TimeInForce.GTC):
            return [("rejected", ErrorCode.INVALID_ORDER_OPTIONS)]
        if tx.reduce_only and tif is TimeInForce.GTC:
            return [("rejected", ErrorCode.INVALID_ORDER_OPTIONS)]
        own = self.own(tx.account)
        if tx.client_order_id and any(o.client_order_id == tx.client_order_id for o in own):
            return [("rejected", ErrorCode.DUPLICATE_CLIENT_ORDER_ID)]
        if tif is TimeInForce.GTC and len(own) >= ORDERS_MAX:
            return [("rejected", ErrorCode.OPEN_ORDERS_LIMIT)]
        position = self.positions[tx.account]
        reduces = position < 0 if is_buy else position > 0
        if tx.reduce_only and (not reduces or tx.size > abs(position)):
            return [("rejected", ErrorCode.REDUCE_ONLY_WOULD_INCREASE)]
        if is_market:
            band = self.mark * SPEC.market_collar_bps // 10_000
            limit = self.mark + band if is_buy else max(1, self.mark - band)
        else:
            assert tx.price is not None
            limit = tx.price // TICK
            if self.outside_band(limit):
                return [("rejected", ErrorCode.PRICE_OUTSIDE_BAND)]
        opposite = self.queue(not is_buy)
        if tx.post_only and opposite and self.crosses(is_buy, limit, opposite[0].price):
            return [("rejected", ErrorCode.POST_ONLY_WOULD_TAKE)]
        if tif is TimeInForce.FOK:
            trial = copy.deepcopy(self)
            _, filled, _, _ = trial.match(
                order_id, tx.account, is_buy, limit, tx.size, tx.self_trade_prevention
            )
            if filled != tx.size:
                return [("rejected", ErrorCode.FOK_NOT_FILLABLE)]
        out: list[Norm] = [("accepted", order_id, tx.account, is_buy, limit * TICK, tx.size)]
        events, _, remaining, stopped = self.match(
            order_id, tx.account, is_buy, limit, tx.size, tx.self_trade_prevention
        )
        out += events
        if remaining:
            if stopped:
                out.append(("cancelled", order_id, remaining, CancelReason.SELF_TRADE))
            elif tif is TimeInForce.GTC:
                self.orders.append(
                    RefOrder(
                        order_id,
                        tx.account,
                        is_buy,
                        limit,
                        remaining,
                        self._arrive(),
                        tx.client_order_id,
                        tx.self_trade_prevention,
                    )
                )
                out.append(("rested", order_id, limit * TICK, remaining))
            else:
                out.append(("cancelled", order_id, remaining, CancelReason.UNFILLED_IOC))
        return out

    def match(
        self,
        taker_id: int,
        account: str,
        is_buy: bool,
        limit: int,
        size: int,
        stp: SelfTradePrevention,
    ) -> tuple[list[Norm], int, int, bool]:
        """Walk the opposite side; return (events, filled, remaining, taker stopped)."""
        events: list[Norm] = []
        remaining = size
        filled = 0
        stopped = False
        for maker in self.queue(not is_buy):
            if remaining == 0 or stopped or not self.crosses(is_buy, limit, maker.price):
                break
            if maker.account != account:
                quantity = min(maker.remaining, remaining)
                maker.remaining -= quantity
                remaining -= quantity
                filled += quantity
                signed = quantity if is_buy else -quantity
                self.positions[account] += signed
                self.positions[maker.account] -= signed
                events.append(
                    (
                        "fill",
                        maker.order_id,
                        taker_id,
                        maker.price * TICK,
                        quantity,
                        maker.remaining,
                        remaining,
                    )
                )
                if maker.remaining == 0:
                    self.orders.remove(maker)
            elif stp is SelfTradePrevention.CANCEL_TAKER:
                stopped = True
            elif stp in (SelfTradePrevention.CANCEL_MAKER, SelfTradePrevention.CANCEL_BOTH):
                self.orders.remove(maker)
                events.append(
                    ("cancelled", maker.order_id, maker.remaining, CancelReason.SELF_TRADE)
                )
                stopped = stp is SelfTradePrevention.CANCEL_BOTH
            else:
                quantity = min(maker.remaining, remaining)
                remaining -= quantity
                maker.remaining -= quantity
                if maker.remaining == 0:
                    self.orders.remove(maker)
                    events.append(("cancelled", maker.order_id, quantity, CancelReason.SELF_TRADE))
                else:
                    events.append(
                        ("reduced", maker.order_id, maker.remaining, CancelReason.SELF_TRADE)
                    )
                events.append(("reduced", taker_id, remaining, CancelReason.SELF_TRADE))
        return events, filled, remaining, stopped

    def cancel(self, tx: CancelOrder) -> list[Norm]:
        if tx.account not in self.accounts:
            return [("rejected", ErrorCode.UNKNOWN_ACCOUNT)]
        if tx.order_id and tx.client_order_id:
            return [("rejected", ErrorCode.INVALID_ORDER_OPTIONS)]
        own = self.own(tx.account)
        if tx.order_id:
            target = next((o for o in own if o.order_id == tx.order_id), None)
        else:
            target = next(
                (o for o in own if o.client_order_id and o.client_order_id == tx.client_order_id),
                None,
            )
        if target is None:
            return [("rejected", ErrorCode.UNKNOWN_ORDER)]
        self.orders.remove(target)
        return [("cancelled", target.order_id, target.remaining, CancelReason.REQUESTED)]

    def cancel_all(self, tx: CancelAll) -> list[Norm]:
        if tx.account not in self.accounts:
            return [("rejected", ErrorCode.UNKNOWN_ACCOUNT)]
        if tx.instrument not in ("", INSTRUMENT):
            return [("rejected", ErrorCode.UNKNOWN_INSTRUMENT)]
        out: list[Norm] = []
        for order in self.own(tx.account):
            self.orders.remove(order)
            out.append(("cancelled", order.order_id, order.remaining, CancelReason.CANCEL_ALL))
        return out

    def amend(self, tx: AmendOrder) -> list[Norm]:
        if tx.account not in self.accounts:
            return [("rejected", ErrorCode.UNKNOWN_ACCOUNT)]
        order = self.find(tx.account, tx.order_id)
        if order is None:
            return [("rejected", ErrorCode.UNKNOWN_ORDER)]
        if tx.size is not None and tx.size <= 0:
            return [("rejected", ErrorCode.SIZE_NOT_POSITIVE)]
        size = order.remaining if tx.size is None else tx.size
        price = order.price if tx.price is None else tx.price // TICK
        if price != order.price and self.outside_band(price):
            return [("rejected", ErrorCode.PRICE_OUTSIDE_BAND)]
        if (price, size) == (order.price, order.remaining):
            return [("rejected", ErrorCode.AMEND_NO_CHANGE)]
        if price == order.price and size < order.remaining:
            order.remaining = size
            return [("amended", order.order_id, price * TICK, size, True)]
        opposite = self.queue(not order.is_buy)
        if opposite and self.crosses(order.is_buy, price, opposite[0].price):
            return [("rejected", ErrorCode.AMEND_WOULD_TRADE)]
        order.price = price
        order.remaining = size
        order.arrival = self._arrive()
        return [("amended", order.order_id, price * TICK, size, False)]


# -- the engine, seen the same way ------------------------------------------------


def normalize(outcome: Outcome) -> list[Norm]:
    """The engine's outcome in the reference's terms (the oracle's observation and
    index updates dropped)."""
    if isinstance(outcome, Rejected):
        return [("rejected", outcome.code)]
    out: list[Norm] = []
    for e in outcome.events:
        if isinstance(e, OrderAccepted):
            assert e.instrument == INSTRUMENT
            out.append(("accepted", e.order_id, e.account, e.side is Side.BUY, e.price, e.size))
        elif isinstance(e, TradeExecuted):
            out.append(
                (
                    "fill",
                    e.maker_order_id,
                    e.taker_order_id,
                    e.price,
                    e.size,
                    e.maker_remaining,
                    e.taker_remaining,
                )
            )
        elif isinstance(e, OrderCancelled):
            out.append(("cancelled", e.order_id, e.remaining, e.reason))
        elif isinstance(e, OrderReduced):
            out.append(("reduced", e.order_id, e.remaining, e.reason))
        elif isinstance(e, OrderRested):
            out.append(("rested", e.order_id, e.price, e.remaining))
        elif isinstance(e, OrderAmended):
            out.append(("amended", e.order_id, e.price, e.remaining, e.priority_kept))
        elif isinstance(e, MarkPriceUpdated):
            out.append(("mark", e.price))
        elif not isinstance(e, OracleObserved | IndexPriceUpdated):
            out.append(("unexpected", e))
    return out


def core_fill(norm: Norm) -> Norm:
    """A fill as (maker id, taker id, price, size), without the remaining sizes."""
    return norm[:5] if norm[0] == "fill" else norm


class Pair:
    """The engine and the reference, fed the same transactions."""

    def __init__(self) -> None:
        # Real keys and signatures: every account is its owner's, "zed" has a key but
        # no account, so its transactions reach the engine's own checks.
        self.venue = TestVenue(
            standard_genesis((*ACCOUNTS, STRANGER), (SPEC,), CONFIG), start_ns=START_NS
        )
        self.engine = self.venue.engine
        self.reference = ReferenceBook(ACCOUNTS)
        self.seq = 0
        self.owners: dict[int, str] = {}
        """Every order id ever accepted, with its account (cancelled ones too)."""
        self.placed: list[int] = []
        for account in ACCOUNTS:
            self.apply_engine(Deposit(account, "USDC", FUNDING))
        self.submit(self.oracle_update(MARK0 * TICK))

    def oracle_update(self, price: int) -> OracleUpdate:
        """An update observed when it is sequenced (the next step of the venue's clock)."""
        return OracleUpdate(INDEX, price, self.venue.now_ns + self.venue.step_ns)

    def apply_engine(self, payload: Payload) -> Outcome:
        outcome = self.venue.apply(payload)
        self.seq = outcome.seq
        assert self.engine.seq == self.seq
        self.engine.check_invariants()
        return outcome

    def submit(self, payload: Payload) -> tuple[list[Norm], list[Norm]]:
        """Apply to both; return (engine, reference) normalized outcomes."""
        outcome = self.apply_engine(payload)
        engine_side = normalize(outcome)
        reference_side = self.reference.apply(self.seq, payload)
        if isinstance(payload, PlaceOrder) and not isinstance(outcome, Rejected):
            self.owners[self.seq] = payload.account
            self.placed.append(self.seq)
        return engine_side, reference_side

    def engine_book(self) -> tuple[list[Norm], list[Norm]]:
        """Live orders of each side in queue order: (id, account, price ticks, remaining)."""
        market = next(m for m in self.engine.canonical_state()["markets"] if m[0] == INSTRUMENT)
        bids, asks = market[4], market[5]
        return [tuple(o[:4]) for o in bids], [tuple(o[:4]) for o in asks]

    def reference_book(self) -> tuple[list[Norm], list[Norm]]:
        def side(is_buy: bool) -> list[Norm]:
            return [
                (o.order_id, o.account, o.price, o.remaining) for o in self.reference.queue(is_buy)
            ]

        return side(True), side(False)

    def assert_same_book(self) -> None:
        depth = self.engine.depth(INSTRUMENT, 1000)
        assert isinstance(depth, Depth)
        assert [(lv.price, lv.size, lv.orders) for lv in depth.bids] == self.reference.depth(True)
        assert [(lv.price, lv.size, lv.orders) for lv in depth.asks] == self.reference.depth(False)
        assert self.engine_book() == self.reference_book()
        for account in ACCOUNTS:
            view = self.engine.account(account)
            assert view is not None
            assert view.open_orders == len(self.reference.own(account))
            assert not view.in_margin_call
            sizes = {p.instrument: p.size for p in view.positions if p.size}
            expected = (
                {INSTRUMENT: self.reference.positions[account]}
                if self.reference.positions[account]
                else {}
            )
            assert sizes == expected


# -- random sequences ------------------------------------------------------------

OFFSETS = st.one_of(
    st.integers(-5, 5),
    st.integers(-5, 5),
    st.sampled_from(
        [-20_001, -20_000, -10_001, -10_000, -9_999, 9_999, 10_000, 10_001, 20_000, 20_001]
    ),
)
"""Price offsets from the mark in ticks: mostly at the touch, sometimes at the collar
(5 %) or the edge of the price band (10 %)."""
SIDES = st.sampled_from([Side.BUY, Side.SELL])
STPS = st.sampled_from(list(SelfTradePrevention))
CLIENT_IDS = st.sampled_from(["", "", "", "x", "y"])
ACCOUNT_CHOICE = st.sampled_from([*ACCOUNTS * 5, STRANGER])


@st.composite
def place_ops(draw: st.DrawFn) -> tuple[Any, ...]:
    order_type = draw(st.sampled_from([OrderType.LIMIT] * 5 + [OrderType.MARKET]))
    if order_type is OrderType.MARKET:
        tif = draw(
            st.sampled_from([TimeInForce.IOC] * 3 + [TimeInForce.FOK] * 2 + [TimeInForce.GTC])
        )
    else:
        tif = draw(st.sampled_from([TimeInForce.GTC] * 5 + [TimeInForce.IOC, TimeInForce.FOK]))
    return (
        "place",
        draw(ACCOUNT_CHOICE),
        draw(SIDES),
        order_type,
        tif,
        draw(OFFSETS),
        draw(st.integers(1, 8)),
        draw(st.sampled_from([False] * 7 + [True])),
        draw(st.sampled_from([False] * 7 + [True])),
        draw(STPS),
        draw(CLIENT_IDS),
    )


OPS = st.one_of(
    place_ops(),
    place_ops(),
    place_ops(),
    place_ops(),
    st.tuples(
        st.just("cancel"), st.integers(0, 60), st.sampled_from([None, None, None, "a", STRANGER])
    ),
    st.tuples(st.just("cancel_cid"), ACCOUNT_CHOICE, st.sampled_from(["x", "y", "w"])),
    st.tuples(
        st.just("cancel_all"), ACCOUNT_CHOICE, st.sampled_from(["", "", INSTRUMENT, "NOPE-PERP"])
    ),
    st.tuples(
        st.just("amend"),
        st.integers(0, 60),
        st.one_of(st.none(), st.integers(-3, 3)),
        st.one_of(st.none(), st.integers(0, 10)),
        st.sampled_from([None, None, None, None, "b"]),
    ),
    st.tuples(st.just("oracle"), st.integers(-40, 40)),
)


@st.composite
def op_lists(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Up to 100 operations; the count is drawn first so that failures shrink to a few."""
    count = draw(st.integers(1, 100))
    return draw(st.lists(OPS, min_size=count, max_size=count))


def to_payload(pair: Pair, op: tuple[Any, ...]) -> Payload:
    """Turn a drawn operation into a transaction, resolving order picks against history."""
    kind = op[0]
    mark = pair.reference.mark
    if kind == "place":
        _, account, side, order_type, tif, offset, size, post_only, reduce_only, stp, cid = op
        price = None if order_type is OrderType.MARKET else (mark + offset) * TICK
        return PlaceOrder(
            account,
            INSTRUMENT,
            side,
            size,
            price=price,
            order_type=order_type,
            time_in_force=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            client_order_id=cid,
            self_trade_prevention=stp,
        )
    if kind == "cancel":
        _, pick, account = op
        order_id = pair.placed[pick % len(pair.placed)] if pair.placed else 1
        return CancelOrder(account or pair.owners.get(order_id, "a"), order_id=order_id)
    if kind == "cancel_cid":
        return CancelOrder(op[1], client_order_id=op[2])
    if kind == "cancel_all":
        return CancelAll(op[1], op[2])
    if kind == "amend":
        _, pick, price_move, size, account = op
        order_id = pair.placed[pick % len(pair.placed)] if pair.placed else 1
        owner = pair.owners.get(order_id, "a")
        resting = pair.reference.find(owner, order_id)
        base = resting.price if resting is not None else mark
        price = None if price_move is None else (base + price_move) * TICK
        return AmendOrder(account or owner, order_id, price=price, size=size)
    assert kind == "oracle"
    # Half-tick steps, so the mark's half-up rounding is exercised too.
    return pair.oracle_update(MARK0 * TICK + op[1] * (TICK // 2))


def run_differential(ops: list[tuple[Any, ...]], keep: Callable[[Norm], Norm]) -> None:
    pair = Pair()
    for step, op in enumerate(ops):
        payload = to_payload(pair, op)
        engine_side, reference_side = pair.submit(payload)
        assert [keep(n) for n in engine_side] == [keep(n) for n in reference_side], (
            f"step {step}: {payload!r}"
        )
        for norm in engine_side:
            event(f"{norm[0]} {norm[1].name if norm[0] == 'rejected' else ''}".strip())
            if norm[0] in ("cancelled", "reduced"):
                event(f"{norm[0]} {norm[3].value}")
        pair.assert_same_book()


# Each example is cheap, so this test takes several times the profile's examples.
_examples = settings.default.max_examples * 4


@settings(max_examples=_examples)
@given(op_lists())
def test_engine_matches_the_reference_book(ops: list[tuple[Any, ...]]) -> None:
    run_differential(ops, core_fill)


@settings(max_examples=_examples)
@given(op_lists())
def test_trade_events_report_both_remaining_sizes(ops: list[tuple[Any, ...]]) -> None:
    """TradeExecuted.maker_remaining/taker_remaining: what is left of each order after the fill."""
    run_differential(ops, lambda norm: norm)


# -- hand-written scenarios --------------------------------------------------------


def px(offset: int) -> int:
    """A price `offset` ticks from the first mark, in settlement units."""
    return (MARK0 + offset) * TICK


def oid(index: int) -> int:
    """The order id of a scenario's `index`-th transaction."""
    return FIRST_ID + index


def buy(account: str, offset: int, size: int, **options: Any) -> PlaceOrder:
    return PlaceOrder(account, INSTRUMENT, Side.BUY, size, price=px(offset), **options)


def sell(account: str, offset: int, size: int, **options: Any) -> PlaceOrder:
    return PlaceOrder(account, INSTRUMENT, Side.SELL, size, price=px(offset), **options)


def fill(maker: int, taker: int, offset: int, size: int) -> Norm:
    return ("fill", oid(maker), oid(taker), px(offset), size)


def accepted(index: int, account: str, is_buy: bool, offset: int, size: int) -> Norm:
    return ("accepted", oid(index), account, is_buy, px(offset), size)


SELF = CancelReason.SELF_TRADE
STP_BOOK = [sell("b", 0, 1), sell("a", 0, 2), sell("b", 1, 3)]
"""b at the touch, then a's own order behind it, then b one tick up."""


def stp_taker(mode: SelfTradePrevention) -> PlaceOrder:
    return buy("a", 1, 5, self_trade_prevention=mode)


# (name, transactions, expected outcome of the last one, expected (bids, asks) after)
# Levels are (offset, size, orders).
SCENARIOS: list[tuple[str, list[Payload], list[Norm], tuple[list[Norm], list[Norm]]]] = [
    (
        "price then time priority across two levels",
        [sell("b", 1, 2), sell("c", 0, 1), sell("b", 0, 3), buy("a", 1, 5)],
        [accepted(3, "a", True, 1, 5), fill(1, 3, 0, 1), fill(2, 3, 0, 3), fill(0, 3, 1, 1)],
        ([], [(1, 1, 1)]),
    ),
    (
        "a partial fill rests the remainder at the limit",
        [sell("b", 0, 2), buy("a", 1, 5)],
        [accepted(1, "a", True, 1, 5), fill(0, 1, 0, 2), ("rested", oid(1), px(1), 3)],
        ([(1, 3, 1)], []),
    ),
    (
        "a sell walks the bids from the highest down",
        [buy("b", -2, 4), buy("c", 0, 1), buy("b", -1, 2), sell("a", -2, 5)],
        [accepted(3, "a", False, -2, 5), fill(1, 3, 0, 1), fill(2, 3, -1, 2), fill(0, 3, -2, 2)],
        ([(-2, 2, 1)], []),
    ),
    (
        "cancel_taker: fills up to the own order, then cancels the taker",
        [*STP_BOOK, stp_taker(SelfTradePrevention.CANCEL_TAKER)],
        [accepted(3, "a", True, 1, 5), fill(0, 3, 0, 1), ("cancelled", oid(3), 4, SELF)],
        ([], [(0, 2, 1), (1, 3, 1)]),
    ),
    (
        "cancel_maker: cancels the own order and keeps matching",
        [*STP_BOOK, stp_taker(SelfTradePrevention.CANCEL_MAKER)],
        [
            accepted(3, "a", True, 1, 5),
            fill(0, 3, 0, 1),
            ("cancelled", oid(1), 2, SELF),
            fill(2, 3, 1, 3),
            ("rested", oid(3), px(1), 1),
        ],
        ([(1, 1, 1)], []),
    ),
    (
        "cancel_both: cancels the own order and the taker",
        [*STP_BOOK, stp_taker(SelfTradePrevention.CANCEL_BOTH)],
        [
            accepted(3, "a", True, 1, 5),
            fill(0, 3, 0, 1),
            ("cancelled", oid(1), 2, SELF),
            ("cancelled", oid(3), 4, SELF),
        ],
        ([], [(1, 3, 1)]),
    ),
    (
        "decrement_and_cancel: the smaller own maker is used up, the taker goes on smaller",
        [*STP_BOOK, stp_taker(SelfTradePrevention.DECREMENT_AND_CANCEL)],
        [
            accepted(3, "a", True, 1, 5),
            fill(0, 3, 0, 1),
            ("cancelled", oid(1), 2, SELF),
            ("reduced", oid(3), 2, SELF),
            fill(2, 3, 1, 2),
        ],
        ([], [(1, 1, 1)]),
    ),
    (
        "decrement_and_cancel: a larger own maker shrinks and keeps its place",
        [
            sell("a", 0, 5),
            sell("b", 0, 1),
            buy("a", 0, 2, self_trade_prevention=SelfTradePrevention.DECREMENT_AND_CANCEL),
        ],
        [accepted(2, "a", True, 0, 2), ("reduced", oid(0), 3, SELF), ("reduced", oid(2), 0, SELF)],
        ([], [(0, 4, 2)]),
    ),
    (
        "a market buy trades up to the collar and cancels the rest",
        [
            sell("b", 10_000, 1),
            sell("c", 10_001, 1),
            PlaceOrder(
                "a",
                INSTRUMENT,
                Side.BUY,
                3,
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.IOC,
            ),
        ],
        [
            accepted(2, "a", True, 10_000, 3),
            fill(0, 2, 10_000, 1),
            ("cancelled", oid(2), 2, CancelReason.UNFILLED_IOC),
        ],
        ([], [(10_001, 1, 1)]),
    ),
    (
        "a market sell's collar is below the mark",
        [
            buy("b", -10_001, 1),
            buy("c", -10_000, 2),
            PlaceOrder(
                "a",
                INSTRUMENT,
                Side.SELL,
                3,
                order_type=OrderType.MARKET,
                time_in_force=TimeInForce.FOK,
            ),
        ],
        [("rejected", ErrorCode.FOK_NOT_FILLABLE)],
        ([(-10_000, 2, 1), (-10_001, 1, 1)], []),
    ),
    (
        "an IOC fills what crosses and cancels the rest",
        [sell("b", 0, 1), sell("c", 3, 1), buy("a", 2, 3, time_in_force=TimeInForce.IOC)],
        [
            accepted(2, "a", True, 2, 3),
            fill(0, 2, 0, 1),
            ("cancelled", oid(2), 2, CancelReason.UNFILLED_IOC),
        ],
        ([], [(3, 1, 1)]),
    ),
    (
        "a FOK that can fill fills across levels",
        [sell("b", 0, 1), sell("c", 1, 2), buy("a", 1, 3, time_in_force=TimeInForce.FOK)],
        [accepted(2, "a", True, 1, 3), fill(0, 2, 0, 1), fill(1, 2, 1, 2)],
        ([], []),
    ),
    (
        "a FOK blocked by its own order is refused whole",
        [sell("a", 0, 1), sell("b", 0, 2), buy("a", 0, 2, time_in_force=TimeInForce.FOK)],
        [("rejected", ErrorCode.FOK_NOT_FILLABLE)],
        ([], [(0, 3, 2)]),
    ),
    (
        "post-only that would take is refused, even against an own order",
        [sell("a", 0, 1), buy("a", 0, 1, post_only=True)],
        [("rejected", ErrorCode.POST_ONLY_WOULD_TAKE)],
        ([], [(0, 1, 1)]),
    ),
    (
        "a smaller size at the same price keeps the order's place",
        [sell("b", 0, 3), sell("c", 0, 3), AmendOrder("b", oid(0), size=1), buy("a", 0, 2)],
        [accepted(3, "a", True, 0, 2), fill(0, 3, 0, 1), fill(1, 3, 0, 1)],
        ([], [(0, 2, 1)]),
    ),
    (
        "a larger size sends the order to the back of its level",
        [sell("b", 0, 1), sell("c", 0, 3), AmendOrder("b", oid(0), size=2), buy("a", 0, 2)],
        [accepted(3, "a", True, 0, 2), fill(1, 3, 0, 2)],
        ([], [(0, 3, 2)]),
    ),
    (
        "a new price sends the order to the back of its new level",
        [sell("b", 1, 1), sell("c", 0, 1), AmendOrder("b", oid(0), price=px(0)), buy("a", 0, 1)],
        [accepted(3, "a", True, 0, 1), fill(1, 3, 0, 1)],
        ([], [(0, 1, 1)]),
    ),
    (
        "an amendment that would cross is refused",
        [buy("b", -1, 1), sell("c", 1, 1), AmendOrder("b", oid(0), price=px(1))],
        [("rejected", ErrorCode.AMEND_WOULD_TRADE)],
        ([(-1, 1, 1)], [(1, 1, 1)]),
    ),
    (
        "cancel by client order id",
        [
            sell("b", 0, 1, client_order_id="q1"),
            sell("b", 1, 1),
            CancelOrder("b", client_order_id="q1"),
        ],
        [("cancelled", oid(0), 1, CancelReason.REQUESTED)],
        ([], [(1, 1, 1)]),
    ),
]


def _levels(levels: list[Norm]) -> list[Norm]:
    return [(px(offset), size, count) for offset, size, count in levels]


@pytest.mark.parametrize(
    ("transactions", "expected", "book"),
    [pytest.param(txs, expected, book, id=name) for name, txs, expected, book in SCENARIOS],
)
def test_scenario(
    transactions: list[Payload], expected: list[Norm], book: tuple[list[Norm], list[Norm]]
) -> None:
    pair = Pair()
    for payload in transactions:
        engine_side, reference_side = pair.submit(payload)
    assert [core_fill(n) for n in engine_side] == expected
    assert [core_fill(n) for n in reference_side] == expected
    bids, asks = book
    depth = pair.engine.depth(INSTRUMENT, 1000)
    assert isinstance(depth, Depth)
    assert [(lv.price, lv.size, lv.orders) for lv in depth.bids] == _levels(bids)
    assert [(lv.price, lv.size, lv.orders) for lv in depth.asks] == _levels(asks)
    pair.assert_same_book()


def test_trade_events_count_down_the_taker_through_a_decrement() -> None:
    """After b fills 1 of a's 5, a's own 2 are decremented and b fills 2: 4 left, then 0.

    A regression test: the engine once started its count from `filled + remaining`
    of the plan, leaving out the lots self-trade prevention decremented, and
    reported 2 and then -2 (fixed in e799aa8).
    """
    pair = Pair()
    for payload in [*STP_BOOK, stp_taker(SelfTradePrevention.DECREMENT_AND_CANCEL)]:
        engine_side, reference_side = pair.submit(payload)
    fills = [n for n in reference_side if n[0] == "fill"]
    assert [(n[5], n[6]) for n in fills] == [(0, 4), (1, 0)]
    assert [n for n in engine_side if n[0] == "fill"] == fills
