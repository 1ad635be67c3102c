"""Prometheus metrics of a served venue, at `/metrics` (prometheus-client).

Each app has its own registry, so several venues in one process (tests) keep
their counts apart. What is counted, all prefixed `clearhouse_`:

    requests_total{handler,status}      HTTP requests answered (WebSocket
    request_seconds{handler}            connections count once, when closed)
    transactions_total{status}          journaled: accepted or rejected
    rejections_total{code}              journaled refusals by the engine's code
    refusals_total{code}                requests refused before the journal
    batch_transactions                  transactions per durable commit
    stage_seconds{stage}                per batch: verify (the wait for verdicts),
                                        apply, journal (the durable commit), ack
    ack_seconds{api}                    a submit, from its request to its durable
                                        receipt (rest, ws)
    in_flight, seq, durable_seq         the sequencer's queue and the record's head
    websocket_connections               connections open now
    trades_total{instrument}            trades executed
    liquidations_total                  liquidations started
    insurance_fund                      the insurance fund's balance (units)
    accounts_in_margin_call             accounts below maintenance now
    book_best_bid, book_best_ask,       each book with orders, when scraped
    book_spread{instrument},
    book_depth_lots{instrument,side}    lots in its top levels
    alerts{detector}                    surveillance alerts kept (alerts_api.py)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from clearhouse.core import Accepted, LiquidationStarted, TradeExecuted
from clearhouse.core.views import Depth
from clearhouse.sequencer import Committed

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
)
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 4096)


class VenueMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "clearhouse_requests", "HTTP requests answered", ["handler", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "clearhouse_request_seconds",
            "HTTP request handling time",
            ["handler"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.transactions = Counter(
            "clearhouse_transactions", "Journaled transactions", ["status"], registry=r
        )
        self.rejections = Counter(
            "clearhouse_rejections", "Journaled refusals by code", ["code"], registry=r
        )
        self.refusals = Counter(
            "clearhouse_refusals", "Requests refused before the journal", ["code"], registry=r
        )
        self.batch = Histogram(
            "clearhouse_batch_transactions",
            "Transactions per durable commit",
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.stage = Histogram(
            "clearhouse_stage_seconds",
            "Sequencer stage time per batch",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.ack = Histogram(
            "clearhouse_ack_seconds",
            "Submit to durable receipt",
            ["api"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.connections = Gauge(
            "clearhouse_websocket_connections", "WebSocket connections open", registry=r
        )
        self.trades = Counter("clearhouse_trades", "Trades executed", ["instrument"], registry=r)
        self.liquidations = Counter("clearhouse_liquidations", "Liquidations started", registry=r)

    def watch_books(self, books: Callable[[], Iterable[Depth]]) -> None:
        """Best bid and ask, spread and resting size of every book that has orders,
        read when scraped: `books()` gives the depth of each."""
        self.registry.register(_Books(books))

    def watch(self, **readings: Callable[[], float]) -> None:
        """Gauges read when scraped: `in_flight=lambda: ...`."""
        for name, read in readings.items():
            gauge = Gauge(f"clearhouse_{name}", name.replace("_", " "), registry=self.registry)
            gauge.set_function(read)

    def committed(self, committed: list[Committed]) -> None:
        """The sequencer's commit listener (on the commit thread: counters only)."""
        self.batch.observe(len(committed))
        accepted = 0
        for _, receipt, _ in committed:
            outcome = receipt.outcome
            if isinstance(outcome, Accepted):
                accepted += 1
                for event in outcome.events:
                    kind = type(event)
                    if kind is TradeExecuted:
                        assert isinstance(event, TradeExecuted)
                        self.trades.labels(event.instrument).inc()
                    elif kind is LiquidationStarted:
                        self.liquidations.inc()
            else:
                self.rejections.labels(outcome.code.name).inc()
        self.transactions.labels("accepted").inc(accepted)
        self.transactions.labels("rejected").inc(len(committed) - accepted)

    def staged(self, stage: str, seconds: float, _count: int) -> None:
        self.stage.labels(stage).observe(seconds)

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Counts each HTTP request by its handler's name and status."""

        async def counted(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            status = [500]

            async def sending(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, sending)
            finally:
                handler = scope.get("route_handler")
                name = getattr(handler, "handler_name", None) or "unrouted"
                self.requests.labels(name, str(status[0])).inc()
                self.request_seconds.labels(name).observe(time.perf_counter() - started)

        return counted


class _Books(Collector):
    def __init__(self, books: Callable[[], Iterable[Depth]]) -> None:
        self._books = books

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["instrument"]
        best_bid = GaugeMetricFamily("clearhouse_book_best_bid", "Best bid (units)", labels=labels)
        best_ask = GaugeMetricFamily("clearhouse_book_best_ask", "Best ask (units)", labels=labels)
        spread = GaugeMetricFamily(
            "clearhouse_book_spread", "Best ask less best bid (units)", labels=labels
        )
        depth = GaugeMetricFamily(
            "clearhouse_book_depth_lots",
            "Lots resting in the top levels",
            labels=["instrument", "side"],
        )
        for book in self._books():
            if book.bids:
                best_bid.add_metric([book.instrument], book.bids[0].price)
            if book.asks:
                best_ask.add_metric([book.instrument], book.asks[0].price)
            if book.bids and book.asks:
                spread.add_metric([book.instrument], book.asks[0].price - book.bids[0].price)
            depth.add_metric([book.instrument, "bid"], sum(level.size for level in book.bids))
            depth.add_metric([book.instrument, "ask"], sum(level.size for level in book.asks))
        yield from (best_bid, best_ask, spread, depth)
