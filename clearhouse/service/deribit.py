"""Deribit API v2 compatibility, public methods: `GET /api/v2/public/METHOD?query`.

Existing Deribit clients (ccxt's `deribit` class among them) read the venue by
changing only the base URL. Answers are Deribit's JSON-RPC envelope (`result` or
`error`, with `usIn`, `usOut`, `usDiff`, `testnet`), Deribit's field names and
its error codes. Units are Deribit's: prices as numbers in the quote currency,
amounts in the base currency (contracts times the contract size), times in
milliseconds. Every instrument here is linear: settled in its quote asset (USDC),
`base_currency` the index's underlying.

    get_time, status, get_currencies, get_instruments (currency optional, or
    "any"; kind; expired), get_order_book (instrument_name, depth), ticker

Private methods (orders, positions, account) and the JSON-RPC WebSocket come next.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from clearhouse.core import Instrument, Kind, TradeExecuted, Transaction
from clearhouse.core.outcomes import Accepted
from clearhouse.journal import Receipt
from clearhouse.service.errors import ApiError
from clearhouse.service.runtime import VenueRuntime

PERPETUAL_EXPIRY_MS = 32_503_708_800_000
"""What Deribit gives as a perpetual's expiration_timestamp (year 3000)."""
BOOK_DEPTH_DEFAULT = 5

# Deribit's error codes (docs.deribit.com, "Error codes").
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
INVALID_INSTRUMENT = 10020


class DeribitError(Exception):
    def __init__(self, code: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason


class LastTrades:
    """The last trade price per instrument, kept from the commit feed."""

    def __init__(self) -> None:
        self.prices: dict[str, int] = {}

    def committed(self, committed: list[tuple[Transaction, Receipt]]) -> None:
        for _, receipt in committed:
            outcome = receipt.outcome
            if isinstance(outcome, Accepted):
                for event in outcome.events:
                    if isinstance(event, TradeExecuted):
                        self.prices[event.instrument] = event.price


def _underlying(spec: Instrument) -> str:
    return spec.index.split("-")[0]


def _price(spec: Instrument, units: int) -> float:
    scale: int = 10**spec.settlement_decimals
    return units / scale


def _amount(spec: Instrument, lots: int) -> float:
    scale: int = 10**spec.underlying_decimals
    return lots * spec.contract_size / scale


def instrument_json(spec: Instrument) -> dict[str, Any]:
    base = _underlying(spec)
    perpetual = spec.kind is Kind.PERPETUAL
    option = spec.kind is Kind.OPTION
    contract = _amount(spec, spec.lot_size)
    return {
        "instrument_name": spec.id,
        "kind": "option" if option else "future",
        "instrument_type": "linear",
        "base_currency": base,
        "counter_currency": spec.settlement_asset,
        "quote_currency": spec.settlement_asset,
        "settlement_currency": spec.settlement_asset,
        "price_index": spec.index.lower().replace("-", "_"),
        "settlement_period": "perpetual" if perpetual else "month",
        "expiration_timestamp": PERPETUAL_EXPIRY_MS if perpetual else spec.expiry_ns // 10**6,
        "creation_timestamp": 0,
        "is_active": True,
        "tick_size": _price(spec, spec.tick_size),
        "min_trade_amount": contract,
        "contract_size": contract,
        "maker_commission": spec.maker_fee_bps / 10_000,
        "taker_commission": spec.taker_fee_bps / 10_000,
        "strike": _price(spec, spec.strike) if option else None,
        "option_type": spec.option_type.value if option and spec.option_type else None,
    }


class PublicApi:
    def __init__(self, runtime: VenueRuntime, trades: LastTrades) -> None:
        self.runtime = runtime
        self.trades = trades
        self.methods: dict[str, Callable[[dict[str, str]], Any]] = {
            "get_time": lambda _: time.time_ns() // 10**6,
            "status": lambda _: {"locked": "false", "locked_indices": []},
            "get_currencies": self.get_currencies,
            "get_instruments": self.get_instruments,
            "get_order_book": self.get_order_book,
            "ticker": self.ticker,
        }

    def _specs(self) -> dict[str, Instrument]:
        return {spec.id: spec for spec in self.runtime.instruments()}

    def get_currencies(self, _: dict[str, str]) -> list[dict[str, Any]]:
        names = sorted(
            {_underlying(s) for s in self._specs().values()}
            | {s.settlement_asset for s in self._specs().values()}
        )
        return [
            {
                "currency": name,
                "currency_long": name,
                "coin_type": name,
                "fee_precision": 4,
                "min_confirmations": 1,
                "min_withdrawal_fee": 0,
                "withdrawal_fee": 0,
                "withdrawal_priorities": [],
            }
            for name in names
        ]

    def get_instruments(self, query: dict[str, str]) -> list[dict[str, Any]]:
        currency = query.get("currency", "any").upper()
        kind = query.get("kind")
        if kind is not None and kind not in (
            "future",
            "option",
            "spot",
            "future_combo",
            "option_combo",
        ):
            raise DeribitError(INVALID_PARAMS, "Invalid params", f"kind {kind!r}")
        expired = query.get("expired", "false") == "true"
        now_ms = time.time_ns() // 10**6
        listed = []
        for spec in self._specs().values():
            shown = instrument_json(spec)
            if currency != "ANY" and currency not in (
                shown["base_currency"],
                spec.settlement_asset,
            ):
                continue
            if kind is not None and shown["kind"] != kind:
                continue
            if (shown["expiration_timestamp"] <= now_ms) != expired:
                continue
            listed.append(shown)
        return listed

    def _instrument(self, query: dict[str, str]) -> Instrument:
        name = query.get("instrument_name")
        if not name:
            raise DeribitError(INVALID_PARAMS, "Invalid params", "instrument_name is required")
        spec = self._specs().get(name)
        if spec is None:
            raise DeribitError(INVALID_INSTRUMENT, "invalid_or_unsupported_instrument", name)
        return spec

    def get_order_book(self, query: dict[str, str]) -> dict[str, Any]:
        spec = self._instrument(query)
        try:
            depth = int(query.get("depth", BOOK_DEPTH_DEFAULT))
            book = self.runtime.depth(spec.id, depth)
        except (ValueError, ApiError):
            raise DeribitError(INVALID_PARAMS, "Invalid params", "depth") from None
        return self._ticker(spec) | {
            "bids": [[_price(spec, lv.price), _amount(spec, lv.size)] for lv in book.bids],
            "asks": [[_price(spec, lv.price), _amount(spec, lv.size)] for lv in book.asks],
            "change_id": self.runtime.journal.durable_seq,
        }

    def ticker(self, query: dict[str, str]) -> dict[str, Any]:
        return self._ticker(self._instrument(query))

    def _ticker(self, spec: Instrument) -> dict[str, Any]:
        top = self.runtime.depth(spec.id, 1)
        marks = self.runtime.marks(spec.id)
        last = self.trades.prices.get(spec.id)
        best_bid = top.bids[0] if top.bids else None
        best_ask = top.asks[0] if top.asks else None
        return {
            "instrument_name": spec.id,
            "timestamp": self.runtime.journal.engine.timestamp_ns // 10**6,
            "state": "closed" if marks.settled else ("halted" if marks.halted else "open"),
            "best_bid_price": _price(spec, best_bid.price) if best_bid else None,
            "best_bid_amount": _amount(spec, best_bid.size) if best_bid else 0,
            "best_ask_price": _price(spec, best_ask.price) if best_ask else None,
            "best_ask_amount": _amount(spec, best_ask.size) if best_ask else 0,
            "mark_price": _price(spec, marks.mark_price),
            "index_price": _price(spec, marks.index_price),
            "last_price": _price(spec, last) if last is not None else None,
            "stats": {"volume": None, "price_change": None, "high": None, "low": None},
        }


def deribit_public_handler(runtime: VenueRuntime, trades: LastTrades) -> Any:
    api = PublicApi(runtime, trades)

    @get("/api/v2/public/{method:str}", sync_to_thread=True, include_in_schema=False)
    def public(method: FromPath[str], request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        received_us = time.time_ns() // 1000
        query = {key: str(value) for key, value in request.query_params.items()}
        handler = api.methods.get(method)
        try:
            if handler is None:
                raise DeribitError(METHOD_NOT_FOUND, "Method not found", f"public/{method}")
            result = handler(query)
        except DeribitError as exc:
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if exc.reason is not None:
                error["data"] = {"reason": exc.reason}
            return Response(_envelope({"error": error}, received_us), status_code=400)
        return Response(_envelope({"result": result}, received_us))

    return public


def _envelope(body: dict[str, Any], received_us: int) -> dict[str, Any]:
    sent_us = time.time_ns() // 1000
    return {
        "jsonrpc": "2.0",
        **body,
        "usIn": received_us,
        "usOut": sent_us,
        "usDiff": sent_us - received_us,
        "testnet": False,
    }
