"""The native HTTP API of a venue (Litestar), version 1.

Clients sign their own transactions (Ed25519, `clearhouse.auth.signing`) and send
them as the canonical msgpack bytes (`Content-Type: application/msgpack`) or as
the JSON form (`application/json`, bytes as base64). The answer comes once the
transaction is durable: a receipt with its sequence number, its leaf in the
journal's Merkle tree and the outcome. A transaction the engine refused was
journaled like any other and is answered 200 with `"status": "rejected"` and the
engine's code; a request that never reached the journal (bytes that do not
decode, BUSY) is answered 4xx or 503 with the error body of
`clearhouse.service.errors`.

    POST /api/v1/transactions               one signed transaction -> receipt
    POST /api/v1/transactions/batch         a JSON array, or a msgpack array of
                                            canonical transactions -> receipts
    GET  /api/v1/venue                      venue id, seq, chain head, operator key
    GET  /api/v1/instruments                the listed instruments
    GET  /api/v1/instruments/{id}/book      depth (?levels=10)
    GET  /api/v1/instruments/{id}/marks     mark, index, forward, greeks
    GET  /api/v1/accounts/{id}              cash, equity, margin, positions
    GET  /api/v1/keys/{hex}/nonce           the highest nonce a key has used
    GET  /api/v1/checkpoint                 the latest signed checkpoint note
    GET  /api/v1/entries/{seq}/proof        inclusion proof (audit prove format)
    GET  /api/v1/consistency?first=&second= consistency proof between tree sizes
    GET  /api/v1/alerts?after_seq=&limit=   surveillance alerts (loopback only)
    GET  /health, /ready                    liveness, readiness
    GET  /metrics                           Prometheus metrics
    GET  /, /dashboard                      the live dashboard
    GET  /schema/openapi.json               this API, OpenAPI 3.1
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import msgspec
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, FromQuery
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from clearhouse.core import ErrorCode, Rejection, Transaction
from clearhouse.core.codec import MESSAGE_BYTES_MAX, decode_transaction, decode_transaction_json
from clearhouse.journal import JournalError, Receipt
from clearhouse.service.alerts_api import alerts_handlers
from clearhouse.service.api_clients import ApiClients
from clearhouse.service.deribit import deribit_handlers
from clearhouse.service.errors import ApiError, ServiceErrorCode, error_body
from clearhouse.service.metrics import VenueMetrics
from clearhouse.service.runtime import VenueRuntime
from clearhouse.service.streams import Broadcaster
from clearhouse.service.wire import BATCH_TXS_MAX, plain, receipt_body, refusals
from clearhouse.service.ws import websocket_handler
from clearhouse.surveillance.store import AlertStore

log = logging.getLogger("clearhouse.service")

BATCH_BYTES_MAX = 8 * 1024 * 1024
DASHBOARD = (resources.files("clearhouse.service") / "dashboard.html").read_text("utf-8")
"""The live dashboard: one page over the API and its streams."""
_blob_list = msgspec.msgpack.Decoder(list[bytes])
_json_list = msgspec.json.Decoder(list[msgspec.Raw])


def create_app(
    runtime: VenueRuntime,
    *,
    manage_runtime: bool = True,
    api_clients: ApiClients | None = None,
    alerts: AlertStore | None = None,
) -> Litestar:
    """The API over `runtime`; with `manage_runtime`, the app starts the runtime on
    startup and closes it (draining the sequencer) on shutdown. `api_clients` are
    the Deribit-style clients the venue signs for (none: the private Deribit
    methods refuse everyone); `alerts` the store surveillance keeps its alerts in
    (none: surveillance is off)."""

    @post(
        "/api/v1/transactions",
        status_code=200,
        summary="Submit one signed transaction",
        operation_class=_OneTransaction,
        responses=refusals(400, 413, 415, 503),
    )
    async def submit(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """The body is one signed transaction: canonical msgpack
        (`application/msgpack`) or its JSON form (`application/json`). Answered once
        durable, with the receipt."""
        started = time.perf_counter()
        tx = _decode_one(await _body(request, MESSAGE_BYTES_MAX), _content_type(request))
        receipt = await _durable(runtime, [tx])
        metrics.ack.labels("rest").observe(time.perf_counter() - started)
        return _journaled(receipt[0])

    @post(
        "/api/v1/transactions/batch",
        status_code=200,
        summary="Submit signed transactions",
        operation_class=_ManyTransactions,
        responses=refusals(400, 413, 415, 503),
    )
    async def submit_batch(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
        """Up to 1,000 transactions: a msgpack array of canonical transactions, or a
        JSON array of transactions. One receipt per transaction, in order; each
        transaction is refused or journaled on its own."""
        started = time.perf_counter()
        body = await _body(request, BATCH_BYTES_MAX)
        decoded = _decode_many(body, _content_type(request))
        txs = [item for item in decoded if not isinstance(item, Rejection)]
        receipts = iter(await _durable(runtime, txs))
        metrics.ack.labels("rest").observe(time.perf_counter() - started)
        return [
            _refusal(item) if isinstance(item, Rejection) else receipt_body(next(receipts))
            for item in decoded
        ]

    @get("/api/v1/venue", sync_to_thread=True, summary="The venue and its head")
    def venue() -> dict[str, Any]:
        return runtime.status()

    @get("/api/v1/instruments", sync_to_thread=True, summary="Listed instruments")
    def instruments() -> list[Any]:
        return [plain(instrument) for instrument in runtime.instruments()]

    @get(
        "/api/v1/instruments/{instrument:str}/book",
        sync_to_thread=True,
        summary="Book depth",
        responses=refusals(400, 404),
    )
    def book(instrument: FromPath[str], levels: FromQuery[int] = 10) -> Any:
        return plain(runtime.depth(instrument, levels))

    @get(
        "/api/v1/instruments/{instrument:str}/marks",
        sync_to_thread=True,
        summary="Marks",
        responses=refusals(404),
    )
    def marks(instrument: FromPath[str]) -> Any:
        return plain(runtime.marks(instrument))

    @get(
        "/api/v1/accounts/{account:str}",
        sync_to_thread=True,
        summary="Account state",
        responses=refusals(404),
    )
    def account(account: FromPath[str]) -> Any:
        return plain(runtime.account(account))

    @get(
        "/api/v1/keys/{public_key:str}/nonce",
        sync_to_thread=True,
        summary="Highest nonce",
        responses=refusals(400),
    )
    def nonce(public_key: FromPath[str]) -> dict[str, int]:
        try:
            key = bytes.fromhex(public_key)
        except ValueError:
            raise ApiError(ServiceErrorCode.BAD_REQUEST, "the public key is not hex") from None
        return {"nonce_high": runtime.nonce_high(key)}

    @get(
        "/api/v1/checkpoint",
        sync_to_thread=True,
        summary="Latest signed checkpoint",
        responses=refusals(409),
    )
    def checkpoint() -> dict[str, Any]:
        size, note = runtime.latest_checkpoint()
        return {"tree_size": size, "note": note.decode("utf-8")}

    @get(
        "/api/v1/entries/{seq:int}/proof",
        sync_to_thread=True,
        summary="Inclusion proof",
        responses=refusals(400, 404, 409),
    )
    def proof(seq: FromPath[int]) -> dict[str, Any]:
        return runtime.prove(seq)

    @get(
        "/api/v1/consistency",
        sync_to_thread=True,
        summary="Consistency proof",
        responses=refusals(400, 409),
    )
    def consistency(first: FromQuery[int], second: FromQuery[int]) -> dict[str, Any]:
        return {"first": first, "second": second, "proof": runtime.consistency(first, second)}

    @get(["/", "/dashboard"], media_type=MediaType.HTML, include_in_schema=False)
    async def dashboard() -> str:
        return DASHBOARD

    @get("/health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        summary="Readiness: the sequencer admits transactions",
        responses=refusals(503),
    )
    async def ready() -> Response[dict[str, Any]]:
        if runtime.ready:
            return Response({"status": "ready"})
        return _error_response(ApiError(ServiceErrorCode.NOT_READY, "the venue is not running"))

    hub = Broadcaster(runtime.depth)
    runtime.listeners.append(hub.on_commit)
    metrics = VenueMetrics()
    runtime.listeners.append(metrics.committed)
    runtime.stage_listeners.append(metrics.staged)
    metrics.watch(
        in_flight=lambda: runtime.sequencer.in_flight,
        seq=lambda: runtime.journal.engine.seq,
        durable_seq=lambda: runtime.journal.durable_seq,
        insurance_fund=lambda: runtime.status()["totals"]["insurance_fund"],
        accounts_in_margin_call=runtime.margin_calls,
    )
    metrics.watch_books(runtime.books)

    @get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics_page() -> Response[bytes]:
        return Response(
            generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST, status_code=200
        )

    def attach_streams() -> None:
        hub.attach(asyncio.get_running_loop())

    starting: list[Callable[[], object]] = [attach_streams]
    stopping: list[Callable[[], object]] = []
    if manage_runtime:
        starting.append(runtime.start)
        stopping.append(runtime.close)
    return Litestar(
        route_handlers=[
            submit,
            submit_batch,
            venue,
            instruments,
            book,
            marks,
            account,
            nonce,
            checkpoint,
            proof,
            consistency,
            health,
            ready,
            websocket_handler(runtime, hub, metrics),
            metrics_page,
            dashboard,
            *deribit_handlers(runtime, api_clients),
            *alerts_handlers(alerts, metrics),
        ],
        middleware=[metrics.middleware],
        state=State({"metrics": metrics}),
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        openapi_config=OpenAPIConfig(
            title="clearhouse venue API",
            version="1",
            description=__doc__,
        ),
        request_max_body_size=BATCH_BYTES_MAX,
        on_startup=starting,
        on_shutdown=stopping,
    )


def _transaction_body(description: str, many: bool) -> RequestBody:
    one = Schema(type=OpenAPIType.OBJECT, description="A signed transaction, JSON form")
    return RequestBody(
        required=True,
        description=description,
        content={
            "application/msgpack": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
            ),
            "application/json": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.ARRAY, items=one, max_items=BATCH_TXS_MAX)
                if many
                else one
            ),
        },
    )


@dataclass
class _OneTransaction(Operation):
    def __post_init__(self) -> None:
        self.request_body = _transaction_body(
            "One signed transaction: its canonical msgpack bytes, or its JSON form", many=False
        )


@dataclass
class _ManyTransactions(Operation):
    def __post_init__(self) -> None:
        self.request_body = _transaction_body(
            "Up to 1,000 signed transactions: a msgpack array of canonical transactions, "
            "or a JSON array of transactions",
            many=True,
        )


async def _body(request: Request[Any, Any, Any], limit: int) -> bytes:
    body = await request.body()
    if len(body) > limit:
        code = ErrorCode.MESSAGE_TOO_LARGE if limit == MESSAGE_BYTES_MAX else None
        raise ApiError(
            code or ServiceErrorCode.BATCH_TOO_LARGE,
            f"the body is {len(body):,} bytes; at most {limit:,} are read",
        )
    return body


def _content_type(request: Request[Any, Any, Any]) -> str:
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if kind not in ("application/json", "application/msgpack", "application/x-msgpack"):
        raise ApiError(
            ServiceErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"content type {kind!r}: send application/msgpack or application/json",
        )
    return kind


def _decode_one(body: bytes, kind: str) -> Transaction:
    tx = decode_transaction_json(body) if kind == "application/json" else decode_transaction(body)
    if isinstance(tx, Rejection):
        raise ApiError(tx.code, tx.message)
    return tx


def _decode_many(body: bytes, kind: str) -> list[Transaction | Rejection]:
    json = kind == "application/json"
    try:
        items = [bytes(raw) for raw in _json_list.decode(body)] if json else _blob_list.decode(body)
    except msgspec.DecodeError as exc:
        raise ApiError(
            ErrorCode.MALFORMED_ENCODING, f"not an array of transactions: {exc}"
        ) from exc
    if len(items) > BATCH_TXS_MAX:
        raise ApiError(
            ServiceErrorCode.BATCH_TOO_LARGE,
            f"{len(items):,} transactions; at most {BATCH_TXS_MAX:,} a batch",
        )
    decode = decode_transaction_json if json else decode_transaction
    return [decode(item) for item in items]


async def _durable(runtime: VenueRuntime, txs: list[Transaction]) -> list[Receipt]:
    if not runtime.ready:
        raise ApiError(ServiceErrorCode.NOT_READY, "the venue is not running")
    try:
        tickets = runtime.submit_many(txs)
        return [await ticket.wait() for ticket in tickets]
    except JournalError as exc:
        raise ApiError(ServiceErrorCode.NOT_READY, f"not acknowledged: {exc}") from exc


def _journaled(receipt: Receipt) -> dict[str, Any]:
    """The receipt of a journaled transaction; a transaction the journal refused to
    record (BUSY, a value it cannot hold) is an error response instead."""
    if not receipt.journaled:
        outcome = receipt.outcome
        raise ApiError(outcome.code, outcome.message)  # type: ignore[union-attr]
    return receipt_body(receipt)


def _refusal(rejection: Rejection) -> dict[str, Any]:
    return {
        "journaled": False,
        "status": "rejected",
        **error_body(rejection.code, rejection.message),
    }


def _error_response(error: ApiError) -> Response[dict[str, Any]]:
    headers = {"Retry-After": "1"} if error.status == 503 else None
    return Response(error.body(), status_code=error.status, headers=headers)


def _api_error(request: Request[Any, Any, Any], error: ApiError) -> Response[dict[str, Any]]:
    request.app.state.metrics.refusals.labels(error.code.name).inc()
    return _error_response(error)


def _http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    if isinstance(error, NotFoundException):
        code = ServiceErrorCode.NOT_FOUND
    elif error.status_code == 405:
        code = ServiceErrorCode.METHOD_NOT_ALLOWED
    elif error.status_code == 413:
        code = ServiceErrorCode.BATCH_TOO_LARGE
    elif isinstance(error, ValidationException) or error.status_code < 500:
        code = ServiceErrorCode.BAD_REQUEST
    else:
        code = ServiceErrorCode.INTERNAL
    message = error.detail
    if isinstance(error, ValidationException) and isinstance(error.extra, list) and error.extra:
        message = f"{error.detail}: {error.extra}"
    body = error_body(code, message)
    return Response(body, status_code=error.status_code, media_type=MediaType.JSON)


def _unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    log.exception("unexpected error serving %s %s", request.method, request.url.path)
    body = error_body(ServiceErrorCode.INTERNAL, f"{type(error).__name__}: the venue logged it")
    return Response(body, status_code=500)
