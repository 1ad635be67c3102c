"""Deribit API v2 compatibility, public methods: `GET /api/v2/public/METHOD?query`.

Existing Deribit clients (ccxt's `deribit` class among them) read the venue by
changing only the base URL. Answers are Deribit's JSON-RPC envelope (`result` or
`error`, with `usIn`, `usOut`, `usDiff`, `testnet`), Deribit's field names and
its error codes. Units are Deribit's: prices as numbers in the quote currency,
amounts in the base currency (contracts times the contract size), times in
milliseconds. Every instrument here is linear: settled in its quote asset (USDC),
`base_currency` the index's underlying.

    get_time, status, get_currencies, get_instruments (currency optional, or
    "any"; kind; expired), get_order_book (instrument_name, depth), ticker, auth

`public/auth` takes Deribit's grants: `client_credentials` (client id and secret),
`client_signature` (an HMAC-SHA256 of "timestamp\nnonce\ndata" under the secret)
and `refresh_token`, and answers an access token. Private methods,
`GET /api/v2/private/METHOD`, take that token (`Authorization: Bearer ...`) or a
`deri-hmac-sha256` signature of the request itself (a timestamp within 60 s, a
nonce never seen twice in that window):

    get_account_summary (currency), get_account_summaries, get_positions
    (currency, kind), get_position (instrument_name)

A client id is an API client of `clearhouse api-keys add` (`api_clients.py`);
every request of one passes `Sessions.admit` (still in the store, from an
allowed address, within its rates: `forbidden`, `too_many_requests`). Order
entry is in `deribit_orders.py`, JSON-RPC over WebSocket in `deribit_ws.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath

from clearhouse.core import Instrument, Kind
from clearhouse.core.views import AccountView
from clearhouse.service.api_clients import BURST_S, ApiClient, ApiClients
from clearhouse.service.errors import ApiError
from clearhouse.service.folds import Fold, commit_listener, fold_record
from clearhouse.service.order_ledger import OrderLedger
from clearhouse.service.runtime import VenueRuntime
from clearhouse.service.trade_stats import DayStats, TradeStats

PERPETUAL_EXPIRY_MS = 32_503_708_800_000
"""What Deribit gives as a perpetual's expiration_timestamp (year 3000)."""
BOOK_DEPTH_DEFAULT = 5

# Deribit's error codes (docs.deribit.com, "Error codes").
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
INVALID_INSTRUMENT = 10020
INVALID_CREDENTIALS = 13004
UNAUTHORIZED = 13009
FORBIDDEN = 13021
TOO_MANY_REQUESTS = 10028
MATCHING_METHODS = frozenset(
    ("buy", "sell", "edit", "cancel", "cancel_all", "cancel_all_by_instrument")
)
"""Requests that reach the matching engine: rated by `ApiClient.orders_per_s`."""
TOKEN_LIFETIME_S = 900
REFRESH_LIFETIME_S = 7 * 24 * 3600
SIGNATURE_WINDOW_MS = 60_000


class _Bucket:
    """A token bucket: `rate` a second, holding up to `BURST_S` seconds' worth."""

    __slots__ = ("level", "rate", "stamp")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.level = rate * BURST_S
        self.stamp = time.monotonic()

    def take(self, now: float) -> bool:
        self.level = min(self.rate * BURST_S, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.level < 1:
            return False
        self.level -= 1
        return True


class DeribitError(Exception):
    def __init__(self, code: int, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason


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


class Sessions:
    """Access and refresh tokens of authenticated API clients (in memory: a
    restarted venue asks its clients to authenticate again), and the nonces of
    signed requests seen within the signature window."""

    def __init__(self, clients: ApiClients | None) -> None:
        self.clients = clients
        self._lock = threading.Lock()
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, tuple[str, float]] = {}
        self._nonces: dict[tuple[str, str], float] = {}
        self._buckets: dict[tuple[str, bool], _Bucket] = {}

    def client(self, client_id: str) -> ApiClient:
        found = self.clients.get(client_id) if self.clients is not None else None
        if found is None:
            raise DeribitError(INVALID_CREDENTIALS, "invalid_credentials", "unknown client_id")
        return found

    def authenticate(self, query: dict[str, str]) -> ApiClient:
        """The client a `public/auth` request proves itself to be, by any grant."""
        grant = query.get("grant_type")
        if grant == "client_credentials":
            client = self.client(query.get("client_id", ""))
            if not hmac.compare_digest(client.client_secret, query.get("client_secret", "")):
                raise DeribitError(INVALID_CREDENTIALS, "invalid_credentials", "client_secret")
            return client
        if grant == "client_signature":
            client = self.client(query.get("client_id", ""))
            stamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
            text = f"{stamp}\n{nonce}\n{query.get('data', '')}"
            if (
                not stamp.isdigit()
                or abs(int(stamp) - time.time_ns() // 10**6) > SIGNATURE_WINDOW_MS
            ):
                raise DeribitError(UNAUTHORIZED, "unauthorized", "timestamp is not within 60 s")
            if not hmac.compare_digest(
                _hmac(client.client_secret, text), query.get("signature", "")
            ):
                raise DeribitError(INVALID_CREDENTIALS, "invalid_credentials", "signature")
            self._use_nonce(client.client_id, nonce)
            return client
        if grant == "refresh_token":
            return self.refreshed(query.get("refresh_token", ""))
        raise DeribitError(INVALID_PARAMS, "Invalid params", "grant_type")

    def admit(self, client: ApiClient, peer: str, method: str) -> None:
        """Refuse a request the client may not make now: revoked since it
        authenticated, from an address off its allow-list, or over its rate."""
        current = self.client(client.client_id)
        if not current.allows(peer):
            raise DeribitError(FORBIDDEN, "forbidden", f"{peer} is not on the client's allow-list")
        matching = method in MATCHING_METHODS
        rate = current.orders_per_s if matching else current.requests_per_s
        with self._lock:
            bucket = self._buckets.get((current.client_id, matching))
            if bucket is None or bucket.rate != rate:
                bucket = self._buckets[(current.client_id, matching)] = _Bucket(rate)
            admitted = bucket.take(time.monotonic())
        if not admitted:
            kind = "matching-engine requests" if matching else "requests"
            raise DeribitError(
                TOO_MANY_REQUESTS, "too_many_requests", f"more than {rate:g} {kind} a second"
            )

    def end(self, tokens: list[str]) -> None:
        """Make tokens unusable (private/logout)."""
        with self._lock:
            for token in tokens:
                self._access.pop(token, None)
                self._refresh.pop(token, None)

    def grant(self, client: ApiClient) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            if len(self._access) + len(self._refresh) > 100_000:  # forget the expired
                self._access = {k: v for k, v in self._access.items() if v[1] > now}
                self._refresh = {k: v for k, v in self._refresh.items() if v[1] > now}
            self._access[access] = (client.client_id, now + TOKEN_LIFETIME_S)
            self._refresh[refresh] = (client.client_id, now + REFRESH_LIFETIME_S)
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": TOKEN_LIFETIME_S,
            "scope": client.scope,
            "token_type": "bearer",
        }

    def refreshed(self, token: str) -> ApiClient:
        with self._lock:
            found = self._refresh.pop(token, None)
        if found is None or found[1] < time.monotonic():
            raise DeribitError(INVALID_CREDENTIALS, "invalid_credentials", "unknown refresh_token")
        return self.client(found[0])

    def bearer(self, token: str) -> ApiClient:
        with self._lock:
            found = self._access.get(token)
        if found is None or found[1] < time.monotonic():
            raise DeribitError(UNAUTHORIZED, "unauthorized", "unknown or expired access token")
        return self.client(found[0])

    def signed(self, header: str, method: str, uri: str, body: str) -> ApiClient:
        """A `deri-hmac-sha256 id=..,ts=..,sig=..,nonce=..` request signature."""
        fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        try:
            client_id, stamp, signature, nonce = (
                fields["id"],
                fields["ts"],
                fields["sig"],
                fields["nonce"],
            )
            stamp_ms = int(stamp)
        except (KeyError, ValueError):
            raise DeribitError(UNAUTHORIZED, "unauthorized", "malformed signature header") from None
        if abs(stamp_ms - time.time_ns() // 10**6) > SIGNATURE_WINDOW_MS:
            raise DeribitError(UNAUTHORIZED, "unauthorized", "ts is not within 60 s of now")
        client = self.client(client_id)
        text = f"{stamp}\n{nonce}\n{method}\n{uri}\n{body}\n"
        if not hmac.compare_digest(_hmac(client.client_secret, text), signature):
            raise DeribitError(INVALID_CREDENTIALS, "invalid_credentials", "bad signature")
        self._use_nonce(client_id, nonce)
        return client

    def _use_nonce(self, client_id: str, nonce: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._nonces) > 100_000:
                horizon = now - 2 * SIGNATURE_WINDOW_MS / 1000
                self._nonces = {k: t for k, t in self._nonces.items() if t > horizon}
            if (client_id, nonce) in self._nonces:
                raise DeribitError(UNAUTHORIZED, "unauthorized", "nonce already used")
            self._nonces[(client_id, nonce)] = now


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class PublicApi:
    def __init__(self, runtime: VenueRuntime, trades: TradeStats, sessions: Sessions) -> None:
        self.runtime = runtime
        self.trades = trades
        self.sessions = sessions
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
        last = self.trades.last_price.get(spec.id)
        day = self.trades.day(spec.id, self.runtime.now_ns())
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
            "stats": _day_stats(spec, day),
        }


def _day_stats(spec: Instrument, day: DayStats | None) -> dict[str, Any]:
    """Deribit's ticker `stats`: the last 24 hours' volume (base currency), its
    notional in the quote currency, high, low and price change in percent."""
    if day is None:
        return {"volume": 0.0, "volume_usd": 0.0, "price_change": None, "high": None, "low": None}
    change = (day.last - day.first) * 100 / day.first if day.first else None
    return {
        "volume": _amount(spec, day.volume),
        "volume_usd": _amount(spec, day.volume) * _price(spec, day.last),
        "price_change": round(change, 4) if change is not None else None,
        "high": _price(spec, day.high),
        "low": _price(spec, day.low),
    }


class PrivateApi:
    """Reads of the authenticated client's account."""

    def __init__(self, runtime: VenueRuntime, public: PublicApi) -> None:
        self.runtime = runtime
        self.public = public
        self.methods: dict[str, Callable[[ApiClient, dict[str, str]], Any]] = {
            "get_account_summary": self.get_account_summary,
            "get_account_summaries": self.get_account_summaries,
            "get_positions": self.get_positions,
            "get_position": self.get_position,
        }

    def _view(self, client: ApiClient) -> AccountView:
        try:
            return self.runtime.account(client.account)
        except ApiError:  # not funded yet: an empty account
            return AccountView(client.account, 0, 0, 0, 0, 0, False, 0, [])

    def _summary(self, view: AccountView, currency: str) -> dict[str, Any]:
        specs = self.public._specs().values()
        settlement = {s.settlement_asset: s.settlement_decimals for s in specs}
        decimals = settlement.get(currency)
        scale: int = 10**decimals if decimals is not None else 1

        def amount(units: int) -> float:
            return units / scale if decimals is not None else 0.0

        return {
            "currency": currency,
            "balance": amount(view.cash),
            "equity": amount(view.equity),
            "margin_balance": amount(view.equity),
            "available_funds": amount(view.available),
            "available_withdrawal_funds": amount(view.available),
            "initial_margin": amount(view.initial_margin),
            "maintenance_margin": amount(view.maintenance_margin),
            "total_pl": amount(view.equity - view.cash),
            "session_upl": amount(sum(p.value for p in view.positions if p.size)),
        }

    def _currency(self, query: dict[str, str]) -> str:
        currency = query.get("currency", "").upper()
        known = {c["currency"] for c in self.public.get_currencies({})}
        if currency not in known:
            raise DeribitError(INVALID_PARAMS, "Invalid params", "currency")
        return currency

    def get_account_summary(self, client: ApiClient, query: dict[str, str]) -> dict[str, Any]:
        return self._summary(self._view(client), self._currency(query))

    def get_account_summaries(self, client: ApiClient, _: dict[str, str]) -> dict[str, Any]:
        view = self._view(client)
        currencies = [c["currency"] for c in self.public.get_currencies({})]
        return {"summaries": [self._summary(view, c) for c in currencies]}

    def _positions(self, client: ApiClient) -> list[dict[str, Any]]:
        specs = self.public._specs()
        shown = []
        for position in self._view(client).positions:
            spec = specs[position.instrument]
            base = instrument_json(spec)
            shown.append(
                {
                    "instrument_name": spec.id,
                    "kind": base["kind"],
                    "size": _amount(spec, position.size),
                    "size_currency": _amount(spec, position.size),
                    "direction": "buy"
                    if position.size > 0
                    else "sell"
                    if position.size
                    else "zero",
                    "average_price": float(position.entry_price),
                    "mark_price": _price(spec, position.mark_price),
                    "floating_profit_loss": _price(spec, position.value),
                    "total_profit_loss": _price(spec, position.value),
                    "open_orders_margin": 0,
                    "settlement_price": _price(spec, position.mark_price),
                }
            )
        return shown

    def get_positions(self, client: ApiClient, query: dict[str, str]) -> list[dict[str, Any]]:
        currency = query.get("currency", "any").upper()
        kind = query.get("kind")
        shown = self._positions(client)
        if currency != "ANY":
            self._currency(query)
            specs = self.public._specs()
            shown = [
                p for p in shown if currency in (_underlying(specs[p["instrument_name"]]), "USDC")
            ]
        return [p for p in shown if kind is None or p["kind"] == kind]

    def get_position(self, client: ApiClient, query: dict[str, str]) -> dict[str, Any]:
        spec = self.public._instrument(query)
        for position in self._positions(client):
            if position["instrument_name"] == spec.id:
                return position
        return {"instrument_name": spec.id, "size": 0.0, "direction": "zero"}


def deribit_handlers(runtime: VenueRuntime, clients: ApiClients | None) -> list[Any]:
    # They build on this module.
    from clearhouse.service.deribit_feed import DeribitFeed
    from clearhouse.service.deribit_orders import OrderEntry
    from clearhouse.service.deribit_ws import deribit_websocket

    ledger, trades = OrderLedger(), TradeStats()
    folds: list[Fold] = [ledger.fold, trades.fold]
    runtime.fold_record(lambda store: fold_record(store, folds))
    runtime.listeners.append(commit_listener(folds))
    sessions = Sessions(clients)
    api = PublicApi(runtime, trades, sessions)
    private_api = PrivateApi(runtime, api)
    private_api.methods.update(OrderEntry(runtime, api, ledger).methods())
    feed = DeribitFeed(api, ledger)
    runtime.listeners.append(feed.on_commit)

    @get("/api/v2/public/{method:str}", sync_to_thread=True, include_in_schema=False)
    def public(method: FromPath[str], request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        received_us = time.time_ns() // 1000
        query = {key: str(value) for key, value in request.query_params.items()}
        handler = api.methods.get(method)
        try:
            if method == "auth":
                client = sessions.authenticate(query)
                sessions.admit(client, _peer(request), method)
                result: Any = sessions.grant(client)
            elif handler is None:
                raise DeribitError(METHOD_NOT_FOUND, "Method not found", f"public/{method}")
            else:
                result = handler(query)
        except DeribitError as exc:
            return _error(exc, received_us)
        return Response(envelope({"result": result}, received_us))

    @get("/api/v2/private/{method:str}", sync_to_thread=True, include_in_schema=False)
    def private(method: FromPath[str], request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        received_us = time.time_ns() // 1000
        query = {key: str(value) for key, value in request.query_params.items()}
        try:
            client = _authenticated(sessions, request)
            handler = private_api.methods.get(method)
            if handler is None:
                raise DeribitError(METHOD_NOT_FOUND, "Method not found", f"private/{method}")
            sessions.admit(client, _peer(request), method)
            result = handler(client, query)
        except DeribitError as exc:
            return _error(exc, received_us)
        return Response(envelope({"result": result}, received_us))

    return [public, private, deribit_websocket(api, private_api, feed)]


def _peer(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client is not None else ""


def _authenticated(sessions: Sessions, request: Request[Any, Any, Any]) -> ApiClient:
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return sessions.bearer(credentials.strip())
    if scheme.lower() == "deri-hmac-sha256" and credentials:
        uri = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return sessions.signed(credentials.strip(), request.method, uri, "")
    raise DeribitError(
        UNAUTHORIZED, "unauthorized", "a bearer token or a deri-hmac-sha256 signature"
    )


def _error(exc: DeribitError, received_us: int) -> Response[dict[str, Any]]:
    status = {
        UNAUTHORIZED: 401,
        INVALID_CREDENTIALS: 401,
        FORBIDDEN: 403,
        TOO_MANY_REQUESTS: 429,
    }.get(exc.code, 400)
    return Response(envelope({"error": error_json(exc)}, received_us), status_code=status)


def error_json(exc: DeribitError) -> dict[str, Any]:
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.reason is not None:
        error["data"] = {"reason": exc.reason}
    return error


def envelope(body: dict[str, Any], received_us: int) -> dict[str, Any]:
    sent_us = time.time_ns() // 1000
    return {
        "jsonrpc": "2.0",
        **body,
        "usIn": received_us,
        "usOut": sent_us,
        "usDiff": sent_us - received_us,
        "testnet": False,
    }
