"""Deribit private order entry: the venue signs for an API client with its sub-key.

    buy, sell (instrument_name, amount, type limit|market, price, time_in_force
    good_til_cancelled|immediate_or_cancel|fill_or_kill, post_only, reduce_only,
    label), edit (order_id, amount, price), cancel (order_id), cancel_all,
    cancel_all_by_instrument;
    get_order_state, get_open_orders_by_instrument and _by_currency,
    get_user_trades_by_instrument and _by_currency (and their _and_time forms,
    newest first; `count` up to 1,000), from the order ledger

Each call is one transaction: signed with the client's sub-key (nonces counted on
from the highest the venue has accepted from that key), sequenced, journaled and
answered once durable, with the order as its events leave it and the trades it
made. An amount must be a whole number of contracts and a price a whole number
of ticks. The engine's refusals are answered with Deribit's codes where Deribit
has one (not_enough_funds, order_not_found, ...), else other_reject naming ours.
"""

from __future__ import annotations

import threading
from decimal import Decimal, InvalidOperation
from typing import Any

from clearhouse.core import (
    Accepted,
    AmendOrder,
    CancelAll,
    CancelOrder,
    ErrorCode,
    Instrument,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderRested,
    OrderType,
    Payload,
    PlaceOrder,
    Side,
    TimeInForce,
    TradeExecuted,
)
from clearhouse.journal import Receipt
from clearhouse.service.api_clients import ApiClient
from clearhouse.service.deribit import (
    INVALID_PARAMS,
    DeribitError,
    PublicApi,
    _amount,
    _price,
)
from clearhouse.service.errors import ApiError
from clearhouse.service.order_ledger import OrderLedger, OrderRecord, TradeRecord
from clearhouse.service.runtime import VenueRuntime
from clearhouse.venue import Client

ORDER_WAIT_S = 30.0
# Deribit's codes for the engine's refusals that have one.
_DERIBIT_CODES = {
    ErrorCode.INSUFFICIENT_MARGIN: (10009, "not_enough_funds"),
    ErrorCode.UNKNOWN_ORDER: (10004, "order_not_found"),
    ErrorCode.NOT_ACCOUNT_OWNER: (10029, "not_owner_of_order"),
    ErrorCode.RATE_LIMITED: (10028, "too_many_requests"),
    ErrorCode.BUSY: (10047, "matching_engine_queue_full"),
}
OTHER_REJECT = 11030
_TIF = {
    "good_til_cancelled": TimeInForce.GTC,
    "immediate_or_cancel": TimeInForce.IOC,
    "fill_or_kill": TimeInForce.FOK,
}
_TIF_NAMES = {tif.value: name for name, tif in _TIF.items()}


class OrderEntry:
    def __init__(self, runtime: VenueRuntime, public: PublicApi, ledger: OrderLedger) -> None:
        self.runtime = runtime
        self.public = public
        self.ledger = ledger
        self._lock = threading.Lock()
        self._signers: dict[str, Client] = {}

    def methods(self) -> dict[str, Any]:
        return {
            "buy": lambda client, query: self.place(client, query, Side.BUY),
            "sell": lambda client, query: self.place(client, query, Side.SELL),
            "cancel": self.cancel,
            "edit": self.edit,
            "cancel_all": lambda client, _: self._cancel_all(client, ""),
            "cancel_all_by_instrument": lambda client, query: self._cancel_all(
                client, self.public._instrument(query).id
            ),
            "get_order_state": self.get_order_state,
            "get_open_orders_by_instrument": self.open_by_instrument,
            "get_open_orders_by_currency": self.open_by_currency,
            "get_user_trades_by_instrument": self.trades_by_instrument,
            "get_user_trades_by_currency": self.trades_by_currency,
            "get_user_trades_by_instrument_and_time": self.trades_by_instrument,
            "get_user_trades_by_currency_and_time": self.trades_by_currency,
        }

    # -- history (the ledger) ----------------------------------------------------------

    def get_order_state(self, client: ApiClient, query: dict[str, str]) -> dict[str, Any]:
        try:
            order_id = int(query.get("order_id", ""))
        except ValueError:
            raise DeribitError(INVALID_PARAMS, "Invalid params", "order_id") from None
        record = self.ledger.order(client.account, order_id)
        if record is None:
            raise DeribitError(10004, "order_not_found", str(order_id))
        return self._order_json(record)

    def open_by_instrument(self, client: ApiClient, query: dict[str, str]) -> list[dict[str, Any]]:
        spec = self.public._instrument(query)
        return [
            self._order_json(r)
            for r in self.ledger.open_orders(client.account)
            if r.instrument == spec.id
        ]

    def open_by_currency(self, client: ApiClient, query: dict[str, str]) -> list[dict[str, Any]]:
        wanted = self._in_currency(query)
        return [
            self._order_json(r)
            for r in self.ledger.open_orders(client.account)
            if r.instrument in wanted
        ]

    def trades_by_instrument(self, client: ApiClient, query: dict[str, str]) -> dict[str, Any]:
        return self._trades(client, query, {self.public._instrument(query).id})

    def trades_by_currency(self, client: ApiClient, query: dict[str, str]) -> dict[str, Any]:
        return self._trades(client, query, self._in_currency(query))

    def _in_currency(self, query: dict[str, str]) -> set[str]:
        currency = query.get("currency", "").upper()
        specs = self.public._specs().values()
        known = {c["currency"] for c in self.public.get_currencies({})}
        if currency not in known:
            raise DeribitError(INVALID_PARAMS, "Invalid params", "currency")
        return {s.id for s in specs if currency in (s.index.split("-")[0], s.settlement_asset)}

    def _trades(self, client: ApiClient, query: dict[str, str], wanted: set[str]) -> dict[str, Any]:
        try:
            count = int(query.get("count", "10"))
        except ValueError:
            raise DeribitError(INVALID_PARAMS, "Invalid params", "count") from None
        count = max(1, min(count, 1_000))
        specs = self.public._specs()
        mine = [t for t in self.ledger.trades(client.account) if t.instrument in wanted]
        shown = [trade_json(specs[t.instrument], t) for t in mine[:count]]
        return {"trades": shown, "has_more": len(mine) > count}

    def _order_json(self, record: OrderRecord) -> dict[str, Any]:
        return order_json(self.public._specs()[record.instrument], record)

    # -- signing and submitting ---------------------------------------------------

    def _submit(self, client: ApiClient, payload: Payload) -> Receipt:
        if not client.may_trade:
            raise DeribitError(13021, "forbidden", f"scope {client.scope} may not trade")
        with self._lock:
            signer = self._signers.get(client.client_id)
            if signer is None:
                key = client.signer()
                signer = Client(key, self.runtime.genesis.venue_id)
                signer.nonce = self.runtime.nonce_high(key.public_key())
                self._signers[client.client_id] = signer
            tx = signer.sign(payload, self.runtime.now_ns())
            try:
                ticket = self.runtime.submit_many([tx])[0]
            except ApiError as exc:
                raise DeribitError(10047, "matching_engine_queue_full", exc.message) from None
        receipt = ticket.result(ORDER_WAIT_S)
        outcome = receipt.outcome
        if not isinstance(outcome, Accepted):
            code, name = _DERIBIT_CODES.get(outcome.code, (OTHER_REJECT, "other_reject"))
            raise DeribitError(code, name, f"{outcome.code.name}: {outcome.message}")
        return receipt

    # -- methods ---------------------------------------------------------------------

    def place(self, client: ApiClient, query: dict[str, str], side: Side) -> dict[str, Any]:
        spec = self.public._instrument(query)
        kind = query.get("type", "limit")
        if kind not in ("limit", "market"):
            raise DeribitError(INVALID_PARAMS, "Invalid params", f"type {kind!r}")
        size = _whole(
            query.get("amount"),
            spec.contract_size * spec.lot_size,
            spec.underlying_decimals,
            "amount",
        )
        price = None
        if kind == "limit":
            price = (
                _whole(query.get("price"), spec.tick_size, spec.settlement_decimals, "price")
                * spec.tick_size
            )
        tif = _TIF.get(query.get("time_in_force", "good_til_cancelled"))
        if tif is None:
            raise DeribitError(INVALID_PARAMS, "Invalid params", "time_in_force")
        if kind == "market" and tif is TimeInForce.GTC:
            tif = TimeInForce.IOC  # a market order never rests, on Deribit as here
        payload = PlaceOrder(
            client.account,
            spec.id,
            side,
            size * spec.lot_size,
            price=price,
            order_type=OrderType.LIMIT if kind == "limit" else OrderType.MARKET,
            time_in_force=tif,
            post_only=query.get("post_only", "false") == "true",
            reduce_only=query.get("reduce_only", "false") == "true",
            client_order_id=query.get("label", ""),
        )
        receipt = self._submit(client, payload)
        return _order_result(spec, payload, receipt, self.runtime.now_ns() // 10**6)

    def edit(self, client: ApiClient, query: dict[str, str]) -> dict[str, Any]:
        """A new total amount and/or price for an open order (AmendOrder): the amount
        counts what already filled, as Deribit's does."""
        try:
            order_id = int(query.get("order_id", ""))
        except ValueError:
            raise DeribitError(INVALID_PARAMS, "Invalid params", "order_id") from None
        record = self.ledger.order(client.account, order_id)
        if record is None or record.state != "open":
            raise DeribitError(11044, "not_open_order", str(order_id))
        spec = self.public._specs()[record.instrument]
        size = None
        if "amount" in query:
            total = _whole(
                query["amount"],
                spec.contract_size * spec.lot_size,
                spec.underlying_decimals,
                "amount",
            )
            size = total * spec.lot_size - record.filled
            if size <= 0:
                raise DeribitError(11029, "invalid_arguments", "amount is not above what filled")
        price = None
        if "price" in query:
            ticks = _whole(query["price"], spec.tick_size, spec.settlement_decimals, "price")
            price = ticks * spec.tick_size
        receipt = self._submit(client, AmendOrder(client.account, order_id, price=price, size=size))
        assert isinstance(receipt.outcome, Accepted)
        amended = next(e for e in receipt.outcome.events if isinstance(e, OrderAmended))
        record.price, record.remaining = amended.price, amended.remaining
        record.size = record.filled + amended.remaining
        return {"order": self._order_json(record), "trades": []}

    def cancel(self, client: ApiClient, query: dict[str, str]) -> dict[str, Any]:
        try:
            order_id = int(query.get("order_id", ""))
        except ValueError:
            raise DeribitError(INVALID_PARAMS, "Invalid params", "order_id") from None
        receipt = self._submit(client, CancelOrder(client.account, order_id))
        assert isinstance(receipt.outcome, Accepted)
        for event in receipt.outcome.events:
            if isinstance(event, OrderCancelled):
                spec = self.public._specs()[event.instrument]
                return {
                    "order_id": str(event.order_id),
                    "order_state": "cancelled",
                    "instrument_name": spec.id,
                    "amount": _amount(spec, event.remaining),
                    "cancel_reason": "user_request",
                }
        raise DeribitError(10004, "order_not_found", str(order_id))

    def _cancel_all(self, client: ApiClient, instrument: str) -> int:
        receipt = self._submit(client, CancelAll(client.account, instrument))
        assert isinstance(receipt.outcome, Accepted)
        return sum(1 for e in receipt.outcome.events if isinstance(e, OrderCancelled))


def order_json(spec: Instrument, record: OrderRecord) -> dict[str, Any]:
    """An order of the ledger as Deribit shows one."""
    average = record.filled_value // record.filled if record.filled else 0
    return {
        "order_id": str(record.order_id),
        "order_state": record.state,
        "instrument_name": record.instrument,
        "direction": record.side,
        "order_type": record.order_type,
        "price": _price(spec, record.price),
        "amount": _amount(spec, record.size),
        "filled_amount": _amount(spec, record.filled),
        "average_price": _price(spec, average),
        "commission": _price(spec, record.fees),
        "time_in_force": _TIF_NAMES[record.time_in_force],
        "post_only": record.post_only,
        "reduce_only": record.reduce_only,
        "label": record.label,
        "creation_timestamp": record.created_ms,
        "last_update_timestamp": record.updated_ms,
        "api": True,
    }


def trade_json(spec: Instrument, trade: TradeRecord) -> dict[str, Any]:
    """One side of a trade of the ledger, as Deribit shows a user's trade."""
    return {
        "trade_id": f"{trade.seq}-{trade.index}",
        "trade_seq": trade.seq,
        "order_id": str(trade.order_id),
        "instrument_name": trade.instrument,
        "direction": trade.side,
        "price": _price(spec, trade.price),
        "amount": _amount(spec, trade.size),
        "fee": _price(spec, trade.fee),
        "fee_currency": spec.settlement_asset,
        "liquidity": "M" if trade.maker else "T",
        "timestamp": trade.timestamp_ms,
    }


def _whole(text: str | None, step: int, decimals: int, name: str) -> int:
    """How many `step`s (in units of 10^-decimals) the decimal `text` is, exactly."""
    try:
        value = Decimal(text or "")
    except InvalidOperation:
        raise DeribitError(INVALID_PARAMS, "Invalid params", name) from None
    units = value * (Decimal(10) ** decimals)
    count, rest = divmod(units, step)
    if rest or count <= 0:
        raise DeribitError(
            10043 if name == "price" else 11029,
            "price_wrong_tick" if name == "price" else "invalid_arguments",
            f"{name} must be a positive whole number of {Decimal(step) / Decimal(10) ** decimals}",
        )
    return int(count)


def _order_result(
    spec: Instrument, payload: PlaceOrder, receipt: Receipt, stamp: int
) -> dict[str, Any]:
    """The order as its transaction's events leave it, and the trades it made;
    `stamp` in milliseconds."""
    assert isinstance(receipt.outcome, Accepted)
    events = receipt.outcome.events
    accepted = next(e for e in events if isinstance(e, OrderAccepted))
    trades = [e for e in events if isinstance(e, TradeExecuted)]
    filled = sum(t.size for t in trades)
    rested = any(isinstance(e, OrderRested) for e in events)
    cancelled = any(isinstance(e, OrderCancelled) for e in events)
    state = "open" if rested else "filled" if filled == payload.size else "cancelled"
    if cancelled and not filled:
        state = "cancelled"
    average = sum(t.price * t.size for t in trades) // filled if filled else 0
    order = {
        "order_id": str(accepted.order_id),
        "order_state": state,
        "instrument_name": spec.id,
        "direction": payload.side.value,
        "order_type": payload.order_type.value,
        "price": _price(spec, payload.price) if payload.price is not None else "market_price",
        "amount": _amount(spec, payload.size),
        "filled_amount": _amount(spec, filled),
        "average_price": _price(spec, average),
        "time_in_force": next(k for k, v in _TIF.items() if v is payload.time_in_force),
        "post_only": payload.post_only,
        "reduce_only": payload.reduce_only,
        "label": payload.client_order_id,
        "creation_timestamp": stamp,
        "last_update_timestamp": stamp,
        "api": True,
    }
    shown_trades = [
        {
            "trade_id": f"{receipt.seq}-{index}",
            "trade_seq": receipt.seq,
            "order_id": str(accepted.order_id),
            "instrument_name": spec.id,
            "direction": payload.side.value,
            "price": _price(spec, t.price),
            "amount": _amount(spec, t.size),
            "fee": _price(spec, t.taker_fee),
            "fee_currency": spec.settlement_asset,
            "liquidity": "T",
            "timestamp": stamp,
        }
        for index, t in enumerate(events)
        if isinstance(t, TradeExecuted)
    ]
    return {"order": order, "trades": shown_trades}
