"""The native WebSocket API: order entry, several transactions a frame, and streams.

One endpoint, `/api/v1/ws`. A request is an object with an `id` (echoed back) and
an `op`; text frames carry JSON, binary frames msgpack, and each answer comes in
the encoding of its request:

    {"id": 1, "op": "submit", "txs": [...]}       signed transactions (JSON objects,
                                                  or canonical msgpack bytes in a
                                                  binary frame), at most 1,000 ->
    {"id": 1, "receipts": [...]}                  once all are durable, in order
    {"id": 2, "op": "auth", "public_key": HEX,    prove a key: an Ed25519 signature
     "timestamp_ns": T, "signature": HEX}         of `auth_message(venue, T)`, T
                                                  within 30 s of the venue's clock
    {"id": 3, "op": "subscribe", "channels": [...]}   see clearhouse.service.streams
    {"id": 4, "op": "unsubscribe", "channels": [...]}
    {"id": 5, "error": {"code", "name", "message"}}   a request refused

Submits run concurrently: a connection may have many in flight, and answers come
as their transactions become durable, matched by `id`. Stream messages are
`{"channel": NAME, "data": ...}` text frames.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from clearhouse.auth.ed25519 import verify
from clearhouse.auth.signing import auth_message
from clearhouse.core import ErrorCode, Rejection, Transaction
from clearhouse.core.codec import MESSAGE_BYTES_MAX, decode_transaction, decode_transaction_json
from clearhouse.journal import JournalError
from clearhouse.service.errors import ApiError, ServiceErrorCode, error_body
from clearhouse.service.metrics import VenueMetrics
from clearhouse.service.runtime import VenueRuntime
from clearhouse.service.streams import Broadcaster, Subscriber, channel_problem
from clearhouse.service.wire import BATCH_TXS_MAX, receipt_body

AUTH_WINDOW_NS = 30 * 10**9
FRAME_BYTES_MAX = 8 * 1024 * 1024
CLOSE_SLOW_CONSUMER = 4008
_json = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()
_json_request = msgspec.json.Decoder(dict[str, Any])
_msgpack_request = msgspec.msgpack.Decoder(dict[str, Any])


class _Connection:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        runtime: VenueRuntime,
        hub: Broadcaster,
        metrics: VenueMetrics,
    ) -> None:
        self.metrics = metrics
        self.socket = socket
        self.runtime = runtime
        self.hub = hub
        self.subscriber = Subscriber()
        self.owner: str | None = None
        self.account: str | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        sender = asyncio.create_task(pump(self.socket, self.subscriber, _slow_consumer))
        try:
            while True:
                message = await self.socket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text, data = message.get("text"), message.get("bytes")
                if isinstance(text, str):
                    await self._handle(text.encode(), binary=False)
                elif isinstance(data, bytes):
                    await self._handle(data, binary=True)
        except WebSocketDisconnect:
            return
        finally:
            self.hub.leave(self.subscriber)
            for task in self.tasks:
                task.cancel()
            sender.cancel()

    def _answer(self, body: dict[str, Any], binary: bool) -> None:
        self.subscriber.offer(_msgpack.encode(body) if binary else _json.encode(body).decode())

    async def _handle(self, raw: bytes, binary: bool) -> None:
        request_id: Any = None
        try:
            if len(raw) > FRAME_BYTES_MAX:
                raise ApiError(
                    ServiceErrorCode.BATCH_TOO_LARGE,
                    f"a frame is at most {FRAME_BYTES_MAX:,} bytes",
                )
            try:
                request = (_msgpack_request if binary else _json_request).decode(raw)
            except msgspec.DecodeError as exc:
                raise ApiError(
                    ErrorCode.MALFORMED_ENCODING, f"not a request object: {exc}"
                ) from exc
            request_id = request.get("id")
            op = request.get("op")
            if op == "submit":
                txs = self._transactions(request.get("txs"), binary)
                task = asyncio.create_task(self._submit(request_id, txs, binary))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif op == "auth":
                self._auth(request)
                self._answer(
                    {"id": request_id, "owner": self.owner, "account": self.account}, binary
                )
            elif op in ("subscribe", "unsubscribe"):
                channels = request.get("channels")
                if not isinstance(channels, list):
                    raise ApiError(ServiceErrorCode.BAD_REQUEST, "channels is a list of names")
                for channel in channels:
                    if op == "subscribe":
                        problem = channel_problem(channel, self.owner, self.account)
                        if problem is not None:
                            raise ApiError(ServiceErrorCode.BAD_REQUEST, problem)
                        self.hub.subscribe(self.subscriber, channel)
                    else:
                        self.hub.unsubscribe(self.subscriber, channel)
                self._answer({"id": request_id, op + "d": sorted(self.subscriber.channels)}, binary)
            else:
                raise ApiError(
                    ServiceErrorCode.BAD_REQUEST,
                    f"unknown op {op!r}: submit, auth, subscribe or unsubscribe",
                )
        except ApiError as exc:
            self.metrics.refusals.labels(exc.code.name).inc()
            self._answer({"id": request_id, **exc.body()}, binary)

    def _transactions(self, items: object, binary: bool) -> list[Transaction | Rejection]:
        if not isinstance(items, list) or not items:
            raise ApiError(ServiceErrorCode.BAD_REQUEST, "txs is a non-empty list of transactions")
        if len(items) > BATCH_TXS_MAX:
            raise ApiError(ServiceErrorCode.BATCH_TOO_LARGE, f"at most {BATCH_TXS_MAX:,} a frame")
        decoded: list[Transaction | Rejection] = []
        for item in items:
            if binary and isinstance(item, bytes) and len(item) <= MESSAGE_BYTES_MAX:
                decoded.append(decode_transaction(item))
            elif not binary and isinstance(item, dict):
                decoded.append(decode_transaction_json(_json.encode(item)))
            else:
                what = "canonical msgpack bytes" if binary else "a JSON object"
                decoded.append(Rejection(ErrorCode.WRONG_TYPE, f"a transaction is {what}"))
        return decoded

    async def _submit(
        self, request_id: Any, items: list[Transaction | Rejection], binary: bool
    ) -> None:
        txs = [item for item in items if not isinstance(item, Rejection)]
        started = time.perf_counter()
        try:
            if not self.runtime.ready:
                raise ApiError(ServiceErrorCode.NOT_READY, "the venue is not running")
            try:
                tickets = self.runtime.submit_many(txs)
                receipts = iter([await ticket.wait() for ticket in tickets])
            except JournalError as exc:
                raise ApiError(ServiceErrorCode.NOT_READY, f"not acknowledged: {exc}") from exc
        except ApiError as exc:
            self.metrics.refusals.labels(exc.code.name).inc()
            self._answer({"id": request_id, **exc.body()}, binary)
            return
        self.metrics.ack.labels("ws").observe(time.perf_counter() - started)
        answers = [
            {"journaled": False, "status": "rejected", **error_body(item.code, item.message)}
            if isinstance(item, Rejection)
            else receipt_body(next(receipts))
            for item in items
        ]
        self._answer({"id": request_id, "receipts": answers}, binary)

    def _auth(self, request: dict[str, Any]) -> None:
        try:
            public_key = bytes.fromhex(request["public_key"])
            signature = bytes.fromhex(request["signature"])
            timestamp_ns = request["timestamp_ns"]
        except (KeyError, TypeError, ValueError):
            raise ApiError(
                ServiceErrorCode.BAD_REQUEST,
                "auth needs public_key and signature in hex and timestamp_ns",
            ) from None
        if type(timestamp_ns) is not int or abs(timestamp_ns - time.time_ns()) > AUTH_WINDOW_NS:
            raise ApiError(ServiceErrorCode.AUTH_FAILED, "timestamp_ns is not within 30 s of now")
        message = auth_message(self.runtime.genesis.venue_id, timestamp_ns)
        if not verify(public_key, message, signature):
            raise ApiError(ServiceErrorCode.AUTH_FAILED, "the signature does not verify")
        holder = self.runtime.key_holder(public_key)
        if holder is None:
            raise ApiError(ServiceErrorCode.AUTH_FAILED, "the key is not a live key of this venue")
        self.owner, self.account = holder


def _slow_consumer(why: str) -> str:
    return _json.encode(error_body(ServiceErrorCode.SLOW_CONSUMER, why)).decode()


async def pump(
    socket: WebSocket[Any, Any, Any],
    subscriber: Subscriber,
    farewell: Callable[[str], str] | None,
) -> None:
    """Send what `subscriber` is queued, until it is closed (`offer_close`) or
    dropped as a slow consumer: then send `farewell(why)` (if any) and close."""
    while True:
        # The subscriber swaps its queue for a closing one when it is dropped.
        message = await subscriber.queue.get()
        if message is None and subscriber.dropped is None:  # closed on purpose
            await socket.close()
            return
        if message is None:
            if farewell is not None:
                await socket.send_text(farewell(subscriber.dropped or "too far behind"))
            await socket.close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return
        if isinstance(message, bytes):
            await socket.send_bytes(message)
        else:
            await socket.send_text(message)


def websocket_handler(runtime: VenueRuntime, hub: Broadcaster, metrics: VenueMetrics) -> Any:
    @websocket("/api/v1/ws")
    async def stream(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        metrics.connections.inc()
        try:
            await _Connection(socket, runtime, hub, metrics).run()
        finally:
            metrics.connections.dec()

    return stream
