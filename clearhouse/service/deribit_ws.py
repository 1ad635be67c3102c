"""Deribit API v2 over WebSocket: JSON-RPC 2.0 at `/ws/api/v2`.

Every method of the HTTP API is a request here too, `{"jsonrpc": "2.0", "id": N,
"method": "public/ticker", "params": {...}}`, answered in Deribit's envelope with
the same `id`. Requests run concurrently, so a connection may have many orders in
flight; each is answered once durable.

A connection authenticates once, with `public/auth` (any grant): its private
requests and private subscriptions then act for that API client until
`private/logout`, which also ends the tokens granted on it, or until it closes. A
private request may instead carry its own `access_token` parameter.

    public/subscribe, private/subscribe     {"channels": [...]}, see deribit_feed
    public/unsubscribe, private/unsubscribe, public/unsubscribe_all,
    private/unsubscribe_all
    public/set_heartbeat {"interval": S}    every S seconds (10 or more) the venue
                                            sends a `test_request` heartbeat; a
                                            connection that has sent nothing since
                                            the previous one is closed
    public/disable_heartbeat, public/test, public/hello, private/logout

Notifications are `{"jsonrpc": "2.0", "method": "subscription", "params":
{"channel": ..., "data": ...}}`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import anyio.to_thread
import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from clearhouse.service.api_clients import ApiClient
from clearhouse.service.deribit import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    UNAUTHORIZED,
    DeribitError,
    PrivateApi,
    PublicApi,
    Sessions,
    envelope,
    error_json,
)
from clearhouse.service.deribit_feed import DeribitFeed
from clearhouse.service.streams import Subscriber
from clearhouse.service.ws import FRAME_BYTES_MAX, pump

PARSE_ERROR = -32700
HEARTBEAT_MIN_S = 10
_json = msgspec.json.Encoder()
_request = msgspec.json.Decoder(dict[str, Any])


class _Connection:
    def __init__(
        self,
        socket: WebSocket[Any, Any, Any],
        public: PublicApi,
        private: PrivateApi,
        feed: DeribitFeed,
        peer: str,
    ) -> None:
        self.socket = socket
        self.public = public
        self.private = private
        self.sessions: Sessions = public.sessions
        self.feed = feed
        self.peer = peer
        self.subscriber = Subscriber()
        self.client: ApiClient | None = None
        self.tokens: list[str] = []
        """Access and refresh tokens granted on this connection (ended by logout)."""
        self.tasks: set[asyncio.Task[None]] = set()
        self.heard = True
        """Whether the client has sent anything since the last heartbeat."""
        self.heartbeat: asyncio.Task[None] | None = None
        self.logged_out = False
        self.methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "public/subscribe": lambda p: self._subscribe(p, private=False),
            "private/subscribe": lambda p: self._subscribe(p, private=True),
            "public/unsubscribe": self._unsubscribe,
            "private/unsubscribe": self._unsubscribe,
            "public/unsubscribe_all": self._unsubscribe_all,
            "private/unsubscribe_all": self._unsubscribe_all,
            "public/set_heartbeat": self._set_heartbeat,
            "public/disable_heartbeat": self._disable_heartbeat,
            "public/test": lambda _: {"version": version("clearhouse")},
            "public/hello": lambda _: {"version": version("clearhouse")},
        }

    async def run(self) -> None:
        sender = asyncio.create_task(pump(self.socket, self.subscriber, None))
        try:
            while True:
                message = await self.socket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                self.heard = True
                text, data = message.get("text"), message.get("bytes")
                raw = text.encode() if isinstance(text, str) else data
                if isinstance(raw, bytes):
                    self._handle(raw)
        except WebSocketDisconnect:
            return
        finally:
            self._unsubscribe_all({})
            for task in self.tasks:
                task.cancel()
            if self.heartbeat is not None:
                self.heartbeat.cancel()
            sender.cancel()

    def _answer(self, request_id: Any, body: dict[str, Any], received_us: int) -> None:
        answer = envelope({"id": request_id, **body}, received_us)
        self.subscriber.offer(_json.encode(answer).decode())

    def _handle(self, raw: bytes) -> None:
        received_us = time.time_ns() // 1000
        try:
            if len(raw) > FRAME_BYTES_MAX:
                raise DeribitError(INVALID_PARAMS, "Invalid params", "the frame is too large")
            request = _request.decode(raw)
        except (msgspec.DecodeError, DeribitError):
            error = {"code": PARSE_ERROR, "message": "Parse error"}
            self._answer(None, {"error": error}, received_us)
            return
        task = asyncio.create_task(self._call(request, received_us))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _call(self, request: dict[str, Any], received_us: int) -> None:
        request_id = request.get("id")
        try:
            method, params = request.get("method"), request.get("params", {})
            if not isinstance(method, str):
                raise DeribitError(INVALID_PARAMS, "Invalid params", "method is a string")
            if not isinstance(params, dict):
                raise DeribitError(INVALID_PARAMS, "Invalid params", "params is an object")
            result = await self._dispatch(method, params)
        except DeribitError as exc:
            self._answer(request_id, {"error": error_json(exc)}, received_us)
            return
        self._answer(request_id, {"result": result}, received_us)
        if self.logged_out:
            self.subscriber.offer_close()  # after the answer

    async def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        own = self.methods.get(method)
        if own is not None:
            return own(params)
        scope, _, name = method.partition("/")
        query = _query(params)
        if scope == "public" and name == "auth":
            client = await anyio.to_thread.run_sync(self.sessions.authenticate, query)
            self.sessions.admit(client, self.peer, name)
            granted = self.sessions.grant(client)
            self.client = client
            self.tokens += [granted["access_token"], granted["refresh_token"]]
            return granted
        if scope == "public" and name in self.public.methods:
            return await anyio.to_thread.run_sync(self.public.methods[name], query)
        if scope == "private" and name == "logout":
            self._logout()
            return "ok"
        if scope == "private" and name in self.private.methods:
            client = self._client(params)
            self.sessions.admit(client, self.peer, name)
            handler = self.private.methods[name]
            return await anyio.to_thread.run_sync(handler, client, query)
        raise DeribitError(METHOD_NOT_FOUND, "Method not found", method)

    def _client(self, params: dict[str, Any]) -> ApiClient:
        token = params.get("access_token")
        if isinstance(token, str):
            return self.sessions.bearer(token)
        if self.client is None:
            raise DeribitError(UNAUTHORIZED, "unauthorized", "public/auth on this connection first")
        return self.client

    # -- subscriptions ---------------------------------------------------------------

    def _channels(self, params: dict[str, Any]) -> list[str]:
        channels = params.get("channels")
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise DeribitError(INVALID_PARAMS, "Invalid params", "channels is a list of names")
        return channels

    def _subscribe(self, params: dict[str, Any], *, private: bool) -> list[str]:
        channels = self._channels(params)
        account = None
        if private:
            client = self._client(params)
            self.sessions.admit(client, self.peer, "subscribe")
            account = client.account
        for channel in channels:
            if channel.startswith("user.") and not private:
                raise DeribitError(UNAUTHORIZED, "unauthorized", f"{channel}: private/subscribe")
            self.feed.subscribe(self.subscriber, channel, account)
            self.subscriber.channels.add(channel)
        return channels

    def _unsubscribe(self, params: dict[str, Any]) -> list[str]:
        channels = self._channels(params)
        account = self.client.account if self.client is not None else None
        for channel in channels:
            self.feed.unsubscribe(self.subscriber, channel, account)
            self.subscriber.channels.discard(channel)
        return sorted(self.subscriber.channels)

    def _unsubscribe_all(self, _: dict[str, Any]) -> str:
        self._unsubscribe({"channels": list(self.subscriber.channels)})
        return "ok"

    def _logout(self) -> None:
        self._unsubscribe_all({})
        self.sessions.end(self.tokens)
        self.tokens, self.client = [], None
        self.logged_out = True

    # -- heartbeats ------------------------------------------------------------------

    def _set_heartbeat(self, params: dict[str, Any]) -> str:
        interval = params.get("interval")
        if type(interval) is not int or interval < HEARTBEAT_MIN_S:
            raise DeribitError(
                INVALID_PARAMS, "Invalid params", f"interval is {HEARTBEAT_MIN_S} s or more"
            )
        self._disable_heartbeat({})
        self.heartbeat = asyncio.create_task(self._beat(interval))
        return "ok"

    def _disable_heartbeat(self, _: dict[str, Any]) -> str:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
            self.heartbeat = None
        return "ok"

    async def _beat(self, interval: int) -> None:
        beat = {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}
        while True:
            self.heard = False
            self.subscriber.offer(_json.encode(beat).decode())
            await asyncio.sleep(interval)
            if not self.heard:
                self.subscriber.offer_close()
                return


def _query(params: dict[str, Any]) -> dict[str, str]:
    """JSON-RPC parameters as the HTTP API's query strings (`true`, `0.5`, ...)."""
    return {
        key: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for key, value in params.items()
        if isinstance(value, str | int | float | bool)
    }


def deribit_websocket(public: PublicApi, private: PrivateApi, feed: DeribitFeed) -> Any:
    @websocket("/ws/api/v2")
    async def deribit_ws(socket: WebSocket[Any, Any, Any]) -> None:
        await socket.accept()
        feed.attach(asyncio.get_running_loop())
        peer = socket.client.host if socket.client is not None else ""
        await _Connection(socket, public, private, feed, peer).run()

    return deribit_ws
