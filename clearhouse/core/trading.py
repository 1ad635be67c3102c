"""Handlers of the trading family: PlaceOrder, CancelOrder, CancelAll, AmendOrder.

A new order is decided in two phases. First every check runs and the match is
planned by reading the book only (which makers it meets, what self-trade
prevention does to each); a rejection at any point leaves nothing changed. Then
the plan is executed: fills move positions, cash and fees, the residual rests or is
cancelled, and the O(1) invariants of the instrument are checked.

Reduce-only orders are immediate (IOC, FOK or market) and never larger than the
position they reduce, so they can never rest and later increase a position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from msgspec.structs import astuple

from clearhouse.core.authority import KeyRecord
from clearhouse.core.book import Order
from clearhouse.core.checks import check_name, check_price, check_size
from clearhouse.core.display import format_collateral, format_price
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import (
    CancelReason,
    Event,
    MMPTripped,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderReduced,
    OrderRested,
    TradeExecuted,
)
from clearhouse.core.ledger import Account, Position, fill_position
from clearhouse.core.market import Market
from clearhouse.core.mmp import count_maker_fill, is_tripped
from clearhouse.core.outcomes import InvariantViolation
from clearhouse.core.state import State
from clearhouse.core.txs import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    MarginMode,
    OrderType,
    PlaceOrder,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

Result = list[Event] | Rejection

# Kinds of planned step.
FILL: Final = 0
STP_CANCEL_MAKER: Final = 1
STP_DECREMENT: Final = 2

Step = tuple[Order, int, int]

# The enum members the hot path compares with, bound once: compiled, a module-level
# Final is a C static, where `Side.BUY` goes through EnumType's attribute hook.
BUY: Final = Side.BUY
SELL: Final = Side.SELL
MARKET: Final = OrderType.MARKET
LIMIT: Final = OrderType.LIMIT
GTC: Final = TimeInForce.GTC
FOK: Final = TimeInForce.FOK
PORTFOLIO: Final = MarginMode.PORTFOLIO

# place_order and cancel_order take their transaction's fields by position, in one
# `astuple` (compiled, each attribute read of a msgspec Struct is a generic lookup):
# the order they rely on, checked once at import.
if PlaceOrder.__struct_fields__ != (
    "account",
    "instrument",
    "side",
    "size",
    "price",
    "order_type",
    "time_in_force",
    "post_only",
    "reduce_only",
    "client_order_id",
    "self_trade_prevention",
) or CancelOrder.__struct_fields__ != ("account", "order_id", "client_order_id"):
    raise ImportError("PlaceOrder or CancelOrder fields moved: update their reads in trading")


class Plan:
    """A match worked out on a book without changing it."""

    __slots__ = ("filled", "remaining", "steps", "taker_stopped")

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.filled = 0
        self.remaining = 0
        self.taker_stopped = False
        """Self-trade prevention cancelled the rest of the taker."""


def plan_match(
    market: Market,
    account_id: str,
    is_buy: bool,
    limit: int,
    size: int,
    stp: SelfTradePrevention,
) -> Plan:
    plan = Plan()
    plan.remaining = size
    side = market.book.opposite(is_buy)
    levels = side.levels
    steps = plan.steps
    remaining = size
    for key in reversed(side.keys):
        price = -key if is_buy else key
        if (price > limit) if is_buy else (price < limit):
            break
        for maker in levels[price].orders:
            if not maker.live:
                continue
            if maker.account != account_id:
                quantity = maker.remaining if maker.remaining < remaining else remaining
                steps.append((maker, quantity, FILL))
                plan.filled += quantity
                remaining -= quantity
            elif stp is SelfTradePrevention.CANCEL_TAKER:
                plan.taker_stopped = True
            elif stp is SelfTradePrevention.CANCEL_MAKER:
                steps.append((maker, maker.remaining, STP_CANCEL_MAKER))
            elif stp is SelfTradePrevention.CANCEL_BOTH:
                steps.append((maker, maker.remaining, STP_CANCEL_MAKER))
                plan.taker_stopped = True
            else:
                quantity = maker.remaining if maker.remaining < remaining else remaining
                steps.append((maker, quantity, STP_DECREMENT))
                remaining -= quantity
            if remaining == 0 or plan.taker_stopped:
                plan.remaining = remaining
                return plan
    plan.remaining = remaining
    return plan


def place_order(
    state: State, tx: PlaceOrder, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    # Each field of the transaction and of the instrument is read once: compiled,
    # every read of a msgspec Struct's attribute is a generic lookup.
    fields: tuple[Any, ...] = astuple(tx)
    account_id: str = fields[0]
    instrument_id: str = fields[1]
    side: Side = fields[2]
    size: int = fields[3]
    price: int | None = fields[4]
    order_type: OrderType = fields[5]
    tif: TimeInForce = fields[6]
    post_only: bool = fields[7]
    reduce_only: bool = fields[8]
    client_order_id: str = fields[9]
    stp: SelfTradePrevention = fields[10]
    market = state.markets.get(instrument_id)
    if market is None:
        return Rejection(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {instrument_id!r}")
    account = state.accounts.get(account_id)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {account_id!r}")
    spec = market.spec
    instrument = spec.id
    tick_size = spec.tick_size
    if side is BUY:
        is_buy = True
    elif side is SELL:
        is_buy = False
    else:
        return Rejection(ErrorCode.WRONG_TYPE, "side must be buy or sell")
    if (rejection := check_size(size, spec.order_size_max_lots)) is not None:
        return rejection
    is_market = order_type is MARKET
    if is_market:
        if price is not None:
            return Rejection(ErrorCode.PRICE_NOT_ALLOWED, "a market order takes no price")
    elif order_type is not LIMIT:
        return Rejection(ErrorCode.WRONG_TYPE, "order_type must be limit or market")
    elif price is None:
        return Rejection(ErrorCode.PRICE_REQUIRED, "a limit order needs a price")
    elif (rejection := check_price(price, tick_size, spec.settlement_decimals)) is not None:
        return rejection
    if (rejection := _check_options(tif, stp, post_only, reduce_only, is_market)) is not None:
        return rejection
    if client_order_id and (
        rejection := check_name(
            client_order_id,
            "client_order_id",
            state.config.client_order_id_len_max,
            ErrorCode.CLIENT_ORDER_ID_INVALID,
        )
    ):
        return rejection
    expiry_ns = spec.expiry_ns
    if expiry_ns and timestamp_ns >= expiry_ns:
        return Rejection(ErrorCode.INSTRUMENT_EXPIRED, f"{instrument} expired")
    if market.halt_reason is not None:
        return Rejection(ErrorCode.MARKET_HALTED, f"{instrument} is halted")
    if account.kill_switch:
        return Rejection(ErrorCode.ACCOUNT_KILLED, f"the kill switch of {account.id} is engaged")
    index = spec.index
    if is_tripped(account, index):
        return Rejection(
            ErrorCode.MMP_TRIPPED, f"market maker protection on {index} tripped: reset it"
        )
    if client_order_id and client_order_id in account.client_order_ids:
        return Rejection(
            ErrorCode.DUPLICATE_CLIENT_ORDER_ID,
            f"client order id {client_order_id!r} is already open",
        )
    may_rest = tif is GTC
    if may_rest and len(account.open_orders) >= state.config.orders_per_account_max:
        return Rejection(
            ErrorCode.OPEN_ORDERS_LIMIT,
            f"at most {state.config.orders_per_account_max} open orders",
        )
    mark = market.mark
    if mark == 0:
        return Rejection(ErrorCode.NO_MARK_PRICE, f"{instrument} has no mark price yet")
    if account.in_margin_call and not reduce_only:
        return Rejection(
            ErrorCode.ACCOUNT_BELOW_MAINTENANCE,
            "the account is in a margin call: only reduce-only orders",
        )
    position = account.positions.get(instrument)
    qty = position.qty if position is not None else 0
    reduces = qty < 0 if is_buy else qty > 0
    if reduce_only and (not reduces or size > abs(qty)):
        return Rejection(
            ErrorCode.REDUCE_ONLY_WOULD_INCREASE,
            f"a reduce-only order of {size} cannot reduce position {qty}",
        )
    if is_market:
        collar = spec.market_collar_bps
        limit = mark + mark * collar // 10_000 if is_buy else max(1, mark - mark * collar // 10_000)
    else:
        limit = price // tick_size  # type: ignore[operator]
        if (rejection := check_band(state, market, limit)) is not None:
            return rejection
    if position is None:
        position = Position(market)
    worst = (qty + position.open_buy + size) if is_buy else (qty - position.open_sell - size)
    position_max_lots = spec.position_max_lots
    if worst > position_max_lots or -worst > position_max_lots:
        return Rejection(
            ErrorCode.POSITION_LIMIT_EXCEEDED,
            f"position could reach {worst}, limit {position_max_lots}",
        )
    book = market.book
    if post_only:
        best = book.asks.best_price() if is_buy else book.bids.best_price()
        if best is not None and ((best <= limit) if is_buy else (best >= limit)):
            return Rejection(
                ErrorCode.POST_ONLY_WOULD_TAKE, "a post-only order would trade on arrival"
            )
    if (
        rejection := _check_margin(state, account, position, is_buy, limit, size, post_only)
    ) is not None:
        return rejection
    plan = plan_match(market, account.id, is_buy, limit, size, stp)
    if tif is FOK and plan.filled != size:
        return Rejection(
            ErrorCode.FOK_NOT_FILLABLE, f"only {plan.filled} of {size} lots can fill now"
        )

    # -- commit: nothing below may reject --------------------------------------
    if instrument not in account.positions:
        account.positions[instrument] = position
    events: list[Event] = [
        OrderAccepted(
            seq,
            account.id,
            instrument,
            side,
            limit * tick_size,
            size,
            order_type,
            tif,
            post_only,
            reduce_only,
            client_order_id,
        )
    ]
    tripped: list[Account] = []
    touched = execute(
        state, market, account, position, seq, is_buy, size, plan, events, timestamp_ns, tripped
    )
    remaining = plan.remaining
    if remaining:
        if plan.taker_stopped:
            events.append(
                OrderCancelled(seq, account.id, instrument, remaining, CancelReason.SELF_TRADE)
            )
        elif may_rest:
            order = Order(
                seq, account.id, instrument, is_buy, limit, remaining, client_order_id, stp
            )
            _rest(account, position, order, market)
            events.append(OrderRested(seq, limit * tick_size, remaining))
        else:
            events.append(
                OrderCancelled(seq, account.id, instrument, remaining, CancelReason.UNFILLED_IOC)
            )
    _finish(state, market, account, position, touched, events)
    for maker in tripped:
        trip_mmp(state, maker, index, events)
    return events


def check_band(state: State, market: Market, limit: int) -> Rejection | None:
    """A limit price within the band around the mark: a fraction of the mark for
    perpetuals and futures, of the index price for options (whose marks can be a few
    ticks)."""
    spec = market.spec
    mark = market.mark
    if market.is_linear:
        allowed = mark * spec.price_band_bps // 10_000
    else:
        index_price = state.index_prices.get(spec.index, 0)
        allowed = index_price * spec.price_band_bps // 10_000 // spec.tick_size
    if abs(limit - mark) > allowed:
        low = max(1, mark - allowed) * spec.tick_size
        return Rejection(
            ErrorCode.PRICE_OUTSIDE_BAND,
            f"price {format_price(limit * spec.tick_size, spec)} is outside the band "
            f"{format_price(low, spec)}..{format_price((mark + allowed) * spec.tick_size, spec)}",
        )
    return None


def _check_options(
    tif: object, stp: object, post_only: object, reduce_only: object, is_market: bool
) -> Rejection | None:
    """The options of a PlaceOrder, each field passed in as read once."""
    if type(tif) is not TimeInForce:
        return Rejection(ErrorCode.WRONG_TYPE, "time_in_force must be gtc, ioc or fok")
    if type(stp) is not SelfTradePrevention:
        return Rejection(ErrorCode.WRONG_TYPE, "self_trade_prevention is not a known mode")
    if type(post_only) is not bool or type(reduce_only) is not bool:
        return Rejection(ErrorCode.WRONG_TYPE, "post_only and reduce_only must be booleans")
    if is_market and tif is GTC:
        return Rejection(
            ErrorCode.INVALID_ORDER_OPTIONS, "a market order takes time_in_force ioc or fok"
        )
    if post_only and (is_market or tif is not GTC):
        return Rejection(
            ErrorCode.INVALID_ORDER_OPTIONS, "a post-only order is a resting limit order (gtc)"
        )
    if reduce_only and tif is GTC:
        return Rejection(
            ErrorCode.INVALID_ORDER_OPTIONS, "a reduce-only order must be ioc, fok or market"
        )
    return None


def _check_margin(
    state: State,
    account: Account,
    position: Position,
    is_buy: bool,
    limit: int,
    size: int,
    post_only: bool,
) -> Rejection | None:
    """Refuse an order whose worst-case fill would leave the account under initial margin.

    Worst case: the whole order fills at its limit (a market order at its collar)
    while every other open order fills too. An order that can only shrink the
    position, or does not raise the requirement, is allowed even from an account
    already short of margin: closing out is never refused for margin.
    """
    qty = position.qty
    if qty and (
        qty - position.open_sell - size >= 0 if not is_buy else qty + position.open_buy + size <= 0
    ):
        # However the account's orders fill, this one only shrinks the position.
        return None
    market = position.market
    spec = market.spec
    if account.margin_mode is PORTFOLIO:
        # The whole portfolio's worst case, this order among the open ones.
        portfolio = state.portfolio_margin
        before, required = portfolio.requirements_with_order(account, position, is_buy, limit, size)
        if required <= before:
            return None
        equity = portfolio.equity(account)
    else:
        margin = state.margin
        before, required = margin.requirements_with_order(position, is_buy, limit, size)
        if required <= before:
            return None
        equity = margin.equity(account)
        for other in account.positions.values():
            if other is not position:
                required += margin.position_requirement(other)
    fee_bps = spec.maker_fee_bps if post_only else spec.taker_fee_bps
    fee = max(0, -(-limit * size * market.tick_value * fee_bps // 10_000))
    if equity - fee < required:
        return Rejection(
            ErrorCode.INSUFFICIENT_MARGIN,
            f"equity {format_collateral(equity, spec)} less worst-case fee {format_collateral(fee, spec)} is below "
            f"initial margin {format_collateral(required, spec)} after this order",
        )
    return None


def execute(
    state: State,
    market: Market,
    taker: Account,
    taker_position: Position,
    taker_order_id: int,
    is_buy: bool,
    size: int,
    plan: Plan,
    events: list[Event],
    timestamp_ns: int,
    tripped: list[Account],
    taker_fee_bps: int | None = None,
) -> list[Account]:
    """Carry out a plan; return the maker accounts whose positions moved, and add to
    `tripped` the makers whose market maker protection these fills tripped.

    The taker pays the instrument's taker fee unless `taker_fee_bps` says otherwise
    (a liquidation charges its own fee instead)."""
    spec = market.spec
    instrument = spec.id
    taker_bps = spec.taker_fee_bps if taker_fee_bps is None else taker_fee_bps
    maker_bps = spec.maker_fee_bps
    taker_side = BUY if is_buy else SELL
    side = market.book.opposite(is_buy)
    accounts = state.accounts
    tick_value = market.tick_value
    tick_size = spec.tick_size
    taker_remaining = size
    touched: list[Account] = []
    for maker, quantity, kind in plan.steps:
        maker_account = accounts[maker.account]
        maker_position = maker_account.positions[instrument]
        if kind != FILL:
            if quantity == maker.remaining:
                _unrest(maker_account, maker_position, maker, market)
                events.append(
                    OrderCancelled(
                        maker.order_id, maker.account, instrument, quantity, CancelReason.SELF_TRADE
                    )
                )
            else:
                side.reduce(maker, quantity)
                maker_position.add_open(maker.is_buy, maker.price, -quantity)
                events.append(
                    OrderReduced(maker.order_id, maker.remaining, CancelReason.SELF_TRADE)
                )
            if kind == STP_DECREMENT:
                # The taker loses the same lots; say so, or its size would not reconcile.
                taker_remaining -= quantity
                events.append(
                    OrderReduced(taker_order_id, taker_remaining, CancelReason.SELF_TRADE)
                )
            continue
        price = maker.price
        if quantity == maker.remaining:
            _unrest(maker_account, maker_position, maker, market)
            maker_left = 0
        else:
            side.reduce(maker, quantity)
            maker_position.add_open(maker.is_buy, price, -quantity)
            maker_left = maker.remaining
        taker_remaining -= quantity
        signed = quantity if is_buy else -quantity
        notional = price * quantity * tick_value
        taker_fee = -(-notional * taker_bps // 10_000)
        maker_fee = -(-notional * maker_bps // 10_000)
        taker_realized = _fill(state, market, taker, taker_position, signed, price, taker_fee)
        maker_realized = _fill(
            state, market, maker_account, maker_position, -signed, price, maker_fee
        )
        state.fees_total += taker_fee + maker_fee
        events.append(
            TradeExecuted(
                instrument,
                price * tick_size,
                quantity,
                taker_side,
                maker.order_id,
                taker_order_id,
                maker.account,
                taker.id,
                maker_fee,
                taker_fee,
                maker_realized,
                taker_realized,
                maker_left,
                taker_remaining,
            )
        )
        if maker_account not in touched:
            touched.append(maker_account)
        if maker_account.mmp and count_maker_fill(maker_account, market, -signed, timestamp_ns):
            tripped.append(maker_account)
    return touched


def _fill(
    state: State,
    market: Market,
    account: Account,
    position: Position,
    signed: int,
    price: int,
    fee: int,
) -> int:
    """Move one side of a fill into the ledger; return its realized P&L in units."""
    tick_value = market.tick_value
    before = position.qty
    cost_before = position.cost
    realized = fill_position(position, signed, price) * tick_value
    after = position.qty
    if market.is_linear:
        state.linear_cost_total += (position.cost - cost_before) * tick_value
        state.credit(account, realized - fee)
    else:
        state.credit(account, -signed * price * tick_value - fee)
    market.long_open_interest += _positive(after) - _positive(before)
    market.short_open_interest += _positive(-after) - _positive(-before)
    if before == 0:
        market.holders[account.id] = account
    elif after == 0:
        del market.holders[account.id]
    state.portfolio_margin.on_position_change(account, market, signed)
    return realized


def _positive(lots: int) -> int:
    """max(lots, 0) without the builtin: compiled, max() boxes its arguments."""
    return lots if lots > 0 else 0


def _rest(account: Account, position: Position, order: Order, market: Market) -> None:
    market.book.side(order.is_buy).add(order)
    account.open_orders[order.order_id] = order
    if order.client_order_id:
        account.client_order_ids[order.client_order_id] = order.order_id
    position.add_open(order.is_buy, order.price, order.remaining)


def _unrest(account: Account, position: Position, order: Order, market: Market) -> None:
    """Take a live order off the book and out of its account."""
    market.book.side(order.is_buy).remove(order)
    position.add_open(order.is_buy, order.price, -order.remaining)
    order.remaining = 0
    del account.open_orders[order.order_id]
    if order.client_order_id:
        del account.client_order_ids[order.client_order_id]


def _finish(
    state: State,
    market: Market,
    account: Account,
    position: Position,
    makers: list[Account],
    events: list[Event],
) -> None:
    """Close a trading transaction: tidy positions, review margin calls, check invariants."""
    spec_id = market.spec.id
    if makers:
        state.review_margin_call(account, events)
        for maker in makers:
            maker_position = maker.positions[spec_id]
            state.drop_if_empty(maker, maker_position)
            state.review_margin_call(maker, events)
    state.drop_if_empty(account, position)
    check_market(state, market)


def check_market(state: State, market: Market) -> None:
    """The O(1) invariants after positions or the book of `market` changed: long and
    short open interest equal, the book uncrossed, collateral conserved."""
    if market.long_open_interest != market.short_open_interest:
        raise InvariantViolation(
            f"{market.spec.id}: long open interest {market.long_open_interest} != short {market.short_open_interest}"
        )
    if market.book.is_crossed():
        raise InvariantViolation(f"{market.spec.id}: book crossed")
    state.check_conservation()


def cancel_order(
    state: State, tx: CancelOrder, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    fields: tuple[Any, ...] = astuple(tx)
    account_id: str = fields[0]
    named_id: int = fields[1]
    client_order_id: str = fields[2]
    account = state.accounts.get(account_id)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {account_id!r}")
    if named_id and client_order_id:
        return Rejection(
            ErrorCode.INVALID_ORDER_OPTIONS,
            "name the order by order_id or client_order_id, not both",
        )
    order_id = named_id or account.client_order_ids.get(client_order_id, 0)
    order = account.open_orders.get(order_id) if type(order_id) is int else None
    if order is None:
        return Rejection(
            ErrorCode.UNKNOWN_ORDER,
            f"no open order {named_id or client_order_id!r} for {account.id}",
        )
    instrument = order.instrument
    market = state.markets[instrument]
    position = account.positions[instrument]
    remaining = order.remaining
    _unrest(account, position, order, market)
    events: list[Event] = [
        OrderCancelled(order.order_id, account.id, instrument, remaining, CancelReason.REQUESTED)
    ]
    _finish(state, market, account, position, [], events)
    return events


def cancel_all(
    state: State, tx: CancelAll, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    account = state.accounts.get(tx.account)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    if tx.instrument and tx.instrument not in state.markets:
        return Rejection(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {tx.instrument!r}")
    events: list[Event] = []
    cancel_orders(
        state,
        account,
        (lambda order: order.instrument == tx.instrument) if tx.instrument else None,
        CancelReason.CANCEL_ALL,
        events,
    )
    return events


def trip_mmp(state: State, account: Account, index: str, events: list[Event]) -> None:
    """Cancel every open order of the account on `index`: its MMP tripped."""
    mmp = account.mmp[index]
    events.append(MMPTripped(account.id, index, mmp.quantity, mmp.delta))
    cancel_orders(
        state,
        account,
        lambda order: state.markets[order.instrument].spec.index == index,
        CancelReason.MMP,
        events,
    )


def cancel_orders(
    state: State,
    account: Account,
    which: Callable[[Order], bool] | None,
    reason: CancelReason,
    events: list[Event],
) -> None:
    """Cancel the account's open orders (those `which` picks, or all) in the order placed."""
    for order in list(account.open_orders.values()):
        if which is not None and not which(order):
            continue
        market = state.markets[order.instrument]
        position = account.positions[order.instrument]
        remaining = order.remaining
        _unrest(account, position, order, market)
        events.append(
            OrderCancelled(order.order_id, account.id, order.instrument, remaining, reason)
        )
        state.drop_if_empty(account, position)


def amend_order(
    state: State, tx: AmendOrder, seq: int, timestamp_ns: int, signer: KeyRecord
) -> Result:
    account = state.accounts.get(tx.account)
    if account is None:
        return Rejection(ErrorCode.UNKNOWN_ACCOUNT, f"unknown account {tx.account!r}")
    order = account.open_orders.get(tx.order_id) if type(tx.order_id) is int else None
    if order is None:
        return Rejection(ErrorCode.UNKNOWN_ORDER, f"no open order {tx.order_id!r} for {account.id}")
    market = state.markets[order.instrument]
    spec = market.spec
    if spec.expiry_ns and timestamp_ns >= spec.expiry_ns:
        return Rejection(ErrorCode.INSTRUMENT_EXPIRED, f"{spec.id} expired")
    size = order.remaining if tx.size is None else tx.size
    if (
        tx.size is not None
        and (rejection := check_size(tx.size, spec.order_size_max_lots)) is not None
    ):
        return rejection
    if (
        tx.price is not None
        and (rejection := check_price(tx.price, spec.tick_size, spec.settlement_decimals))
        is not None
    ):
        return rejection
    if market.halt_reason is not None:
        return Rejection(ErrorCode.MARKET_HALTED, f"{spec.id} is halted")
    if account.kill_switch:
        return Rejection(ErrorCode.ACCOUNT_KILLED, f"the kill switch of {account.id} is engaged")
    price = order.price if tx.price is None else tx.price // spec.tick_size
    if price != order.price and (rejection := check_band(state, market, price)) is not None:
        return rejection
    if price == order.price and size == order.remaining:
        return Rejection(ErrorCode.AMEND_NO_CHANGE, "the amendment changes neither price nor size")
    position = account.positions[order.instrument]
    if price == order.price and size < order.remaining:
        reduction = order.remaining - size
        market.book.side(order.is_buy).reduce(order, reduction)
        position.add_open(order.is_buy, price, -reduction)
        return [OrderAmended(order.order_id, price * spec.tick_size, size, True)]
    opposite_best = market.book.opposite(order.is_buy).best_price()
    if opposite_best is not None and (
        (opposite_best <= price) if order.is_buy else (opposite_best >= price)
    ):
        return Rejection(
            ErrorCode.AMEND_WOULD_TRADE,
            "an amended order may not trade on arrival: cancel and place instead",
        )
    worst = (
        (position.qty + position.open_buy - order.remaining + size)
        if order.is_buy
        else (position.qty - position.open_sell + order.remaining - size)
    )
    if abs(worst) > spec.position_max_lots:
        return Rejection(
            ErrorCode.POSITION_LIMIT_EXCEEDED,
            f"position could reach {worst}, limit {spec.position_max_lots}",
        )
    position.add_open(order.is_buy, order.price, -order.remaining)
    rejection = _check_margin(state, account, position, order.is_buy, price, size, True)
    position.add_open(order.is_buy, order.price, order.remaining)
    if rejection is not None:
        return rejection
    # A new price or a larger size: the order goes to the back of its new level.
    # The old queue entry may linger (dead) in its level, so the amended order is a
    # new object with the same id rather than the old one brought back to life.
    book_side = market.book.side(order.is_buy)
    book_side.remove(order)
    position.add_open(order.is_buy, order.price, -order.remaining)
    amended = Order(
        order.order_id,
        order.account,
        order.instrument,
        order.is_buy,
        price,
        size,
        order.client_order_id,
        order.self_trade_prevention,
    )
    account.open_orders[order.order_id] = amended
    book_side.add(amended)
    position.add_open(order.is_buy, price, size)
    events: list[Event] = [OrderAmended(order.order_id, price * spec.tick_size, size, False)]
    _finish(state, market, account, position, [], events)
    return events
