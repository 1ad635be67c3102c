"""A Python client of a venue's native API: `VenueClient` (blocking) and
`AsyncVenueClient` (asyncio) over REST, with the same methods, and `VenueStream`
(asyncio) over the WebSocket API for orders several a frame and live streams.

The client signs its own transactions with any `Signer` (a keystore key, a PKCS#11
key, `Ed25519Signer`): nonces count up from the highest the venue has accepted from
the key, read once from the venue, and each transaction expires `lifetime_ns` after
it was signed. A receipt is the venue's word; `verify_receipt` makes it a fact: it
fetches the entry's inclusion proof, checks the checkpoint's signature against the
operator key the client was given (never one the venue hands out), the path to the
signed root, and that the entry holds this very transaction with this outcome.

    with VenueClient("http://127.0.0.1:8000", signer) as venue:
        receipt = venue.submit(PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=120_000))
        venue.verify_receipt(receipt, operator_key="operator+1a2b3c4d+AbC...")

Errors the venue answers are raised as `VenueError` with the stable code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, Self

import httpx
import msgspec

from clearhouse.audit.common import ProofError
from clearhouse.audit.proofs import CheckedProof, check_inclusion_proof, proof_from_json
from clearhouse.auth.signing import Signer, auth_message
from clearhouse.core import Accepted, Payload, Transaction
from clearhouse.core.codec import canonical_transaction, encode
from clearhouse.journal.checkpoint import NoteVerifier
from clearhouse.service.wire import ErrorDetail
from clearhouse.venue import Client

TIMEOUT_S = 30.0
_MSGPACK = {"content-type": "application/msgpack"}


class ApiReceipt(msgspec.Struct, frozen=True):
    """A durable receipt as the venue answered it."""

    seq: int
    leaf_index: int
    journaled: bool
    chain_head: str
    status: str
    events: list[dict[str, Any]] = []
    error: ErrorDetail | None = None
    tx: bytes = b""
    """The canonical bytes of the transaction this answers (set by the client)."""

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


class VenueError(Exception):
    """The venue refused a request: `code` and `name` from docs/errors.md."""

    def __init__(self, status: int, code: int, name: str, message: str) -> None:
        super().__init__(f"{name} ({code}): {message}")
        self.status = status
        self.code = code
        self.name = name
        self.message = message


class ReceiptMismatch(Exception):
    """A proof that checks out, but of another transaction or another outcome than
    the receipt claims."""


class _Api:
    """What both flavours share: signing, and reading the venue's answers."""

    def __init__(self, signer: Signer | None, lifetime_ns: int) -> None:
        self.signer = signer
        self.lifetime_ns = lifetime_ns
        self._client: Client | None = None

    def _sign(self, payloads: Sequence[Payload]) -> list[Transaction]:
        if self._client is None:
            raise RuntimeError("this client holds no signer, or has not read the venue yet")
        now = time.time_ns()
        return [self._client.sign(payload, now) for payload in payloads]

    def _start_signing(self, venue_id: str, nonce_high: int) -> None:
        assert self.signer is not None
        self._client = Client(self.signer, venue_id, self.lifetime_ns)
        self._client.nonce = nonce_high

    @staticmethod
    def _answer(response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success:
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            raise VenueError(
                response.status_code,
                int(error.get("code", 0)),
                str(error.get("name", "")),
                str(error.get("message", "")),
            )
        raise VenueError(response.status_code, 0, "HTTP", response.text[:200])

    @staticmethod
    def _receipt(body: Any, tx: Transaction) -> ApiReceipt:
        receipt = msgspec.convert(body, ApiReceipt)
        admitted = canonical_transaction(tx)
        data = admitted[0] if isinstance(admitted, tuple) else b""
        return msgspec.structs.replace(receipt, tx=data)

    @staticmethod
    def _check(receipt: ApiReceipt, proof_json: Any, operator_key: str) -> CheckedProof:
        try:
            proof = proof_from_json(msgspec.json.encode(proof_json))
            checked = check_inclusion_proof(proof, NoteVerifier.from_verifier_string(operator_key))
        except (ProofError, ValueError) as exc:
            raise ReceiptMismatch(f"the proof of seq {receipt.seq} does not check: {exc}") from exc
        if checked.entry.seq != receipt.seq or checked.entry.tx != receipt.tx:
            raise ReceiptMismatch(f"entry {checked.entry.seq} holds another transaction")
        if checked.entry.chain_head.hex() != receipt.chain_head:
            raise ReceiptMismatch(f"entry {receipt.seq} has another chain head than the receipt")
        if isinstance(checked.outcome, Accepted) != receipt.accepted:
            raise ReceiptMismatch(f"entry {receipt.seq} records another outcome than the receipt")
        return checked


class VenueClient(_Api):
    """The blocking client. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str,
        signer: Signer | None = None,
        *,
        lifetime_ns: int = 60 * 10**9,
        timeout: float = TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(signer, lifetime_ns)
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def _get(self, path: str, **params: Any) -> Any:
        return self._answer(self._http.get(path, params=params or None))

    def venue(self) -> dict[str, Any]:
        return self._get("/api/v1/venue")  # type: ignore[no-any-return]

    def instruments(self) -> list[dict[str, Any]]:
        return self._get("/api/v1/instruments")  # type: ignore[no-any-return]

    def book(self, instrument: str, levels: int = 10) -> dict[str, Any]:
        return self._get(f"/api/v1/instruments/{instrument}/book", levels=levels)  # type: ignore[no-any-return]

    def marks(self, instrument: str) -> dict[str, Any]:
        return self._get(f"/api/v1/instruments/{instrument}/marks")  # type: ignore[no-any-return]

    def account(self, account: str) -> dict[str, Any]:
        return self._get(f"/api/v1/accounts/{account}")  # type: ignore[no-any-return]

    def checkpoint(self) -> dict[str, Any]:
        return self._get("/api/v1/checkpoint")  # type: ignore[no-any-return]

    def proof(self, seq: int) -> dict[str, Any]:
        return self._get(f"/api/v1/entries/{seq}/proof")  # type: ignore[no-any-return]

    def submit(self, payload: Payload) -> ApiReceipt:
        """Sign `payload` and send it; the receipt once it is durable."""
        return self.submit_signed(self._signed([payload])[0])

    def submit_many(self, payloads: Sequence[Payload]) -> list[ApiReceipt]:
        """Sign and send several in one request; one receipt each, in order."""
        return self.submit_signed_many(self._signed(payloads))

    def submit_signed(self, tx: Transaction) -> ApiReceipt:
        response = self._http.post("/api/v1/transactions", content=encode(tx), headers=_MSGPACK)
        return self._receipt(self._answer(response), tx)

    def submit_signed_many(self, txs: Sequence[Transaction]) -> list[ApiReceipt]:
        body = encode([encode(tx) for tx in txs])
        answers = self._answer(
            self._http.post("/api/v1/transactions/batch", content=body, headers=_MSGPACK)
        )
        return [self._receipt(answer, tx) for answer, tx in zip(answers, txs, strict=True)]

    def verify_receipt(
        self, receipt: ApiReceipt, operator_key: str, wait_s: float = 10.0
    ) -> CheckedProof:
        """Check the receipt against a signed checkpoint, waiting up to `wait_s` for
        one that covers it. Raises ReceiptMismatch if it does not hold."""
        return _poll_proof(
            lambda: self.proof(receipt.seq), time.sleep, wait_s, receipt, operator_key
        )

    def _signed(self, payloads: Sequence[Payload]) -> list[Transaction]:
        if self._client is None and self.signer is not None:
            status = self.venue()
            key = self.signer.public_key().hex()
            nonce = self._get(f"/api/v1/keys/{key}/nonce")["nonce_high"]
            self._start_signing(status["venue_id"], nonce)
        return self._sign(payloads)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncVenueClient(_Api):
    """The asyncio client. Use with `async with`, or await `close()`."""

    def __init__(
        self,
        base_url: str,
        signer: Signer | None = None,
        *,
        lifetime_ns: int = 60 * 10**9,
        timeout: float = TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(signer, lifetime_ns)
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def _get(self, path: str, **params: Any) -> Any:
        return self._answer(await self._http.get(path, params=params or None))

    async def venue(self) -> dict[str, Any]:
        return await self._get("/api/v1/venue")  # type: ignore[no-any-return]

    async def instruments(self) -> list[dict[str, Any]]:
        return await self._get("/api/v1/instruments")  # type: ignore[no-any-return]

    async def book(self, instrument: str, levels: int = 10) -> dict[str, Any]:
        return await self._get(f"/api/v1/instruments/{instrument}/book", levels=levels)  # type: ignore[no-any-return]

    async def marks(self, instrument: str) -> dict[str, Any]:
        return await self._get(f"/api/v1/instruments/{instrument}/marks")  # type: ignore[no-any-return]

    async def account(self, account: str) -> dict[str, Any]:
        return await self._get(f"/api/v1/accounts/{account}")  # type: ignore[no-any-return]

    async def checkpoint(self) -> dict[str, Any]:
        return await self._get("/api/v1/checkpoint")  # type: ignore[no-any-return]

    async def proof(self, seq: int) -> dict[str, Any]:
        return await self._get(f"/api/v1/entries/{seq}/proof")  # type: ignore[no-any-return]

    async def submit(self, payload: Payload) -> ApiReceipt:
        return await self.submit_signed((await self._signed([payload]))[0])

    async def submit_many(self, payloads: Sequence[Payload]) -> list[ApiReceipt]:
        return await self.submit_signed_many(await self._signed(payloads))

    async def submit_signed(self, tx: Transaction) -> ApiReceipt:
        response = await self._http.post(
            "/api/v1/transactions", content=encode(tx), headers=_MSGPACK
        )
        return self._receipt(self._answer(response), tx)

    async def submit_signed_many(self, txs: Sequence[Transaction]) -> list[ApiReceipt]:
        body = encode([encode(tx) for tx in txs])
        response = await self._http.post(
            "/api/v1/transactions/batch", content=body, headers=_MSGPACK
        )
        answers = self._answer(response)
        return [self._receipt(answer, tx) for answer, tx in zip(answers, txs, strict=True)]

    async def verify_receipt(
        self, receipt: ApiReceipt, operator_key: str, wait_s: float = 10.0
    ) -> CheckedProof:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                return self._check(receipt, await self.proof(receipt.seq), operator_key)
            except VenueError as exc:
                if exc.name != "PROOF_NOT_READY" or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(0.1)

    async def _signed(self, payloads: Sequence[Payload]) -> list[Transaction]:
        if self._client is None and self.signer is not None:
            status = await self.venue()
            key = self.signer.public_key().hex()
            nonce = (await self._get(f"/api/v1/keys/{key}/nonce"))["nonce_high"]
            self._start_signing(status["venue_id"], nonce)
        return self._sign(payloads)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()


def _poll_proof(
    fetch: Callable[[], dict[str, Any]],
    sleep: Callable[[float], None],
    wait_s: float,
    receipt: ApiReceipt,
    operator_key: str,
) -> CheckedProof:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return _Api._check(receipt, fetch(), operator_key)
        except VenueError as exc:
            if exc.name != "PROOF_NOT_READY" or time.monotonic() >= deadline:
                raise
        sleep(0.1)


class VenueStream(_Api):
    """The WebSocket API from asyncio: orders several a frame, and streams.

        async with VenueStream("http://127.0.0.1:8000", signer) as stream:
            await stream.prove()                       # a key of the owner: private streams
            await stream.subscribe("trades.BTC-PERP", "orders.alice")
            receipts = await stream.submit_many([order, another])   # one frame
            channel, data = await stream.next_message()

    Answers are matched to requests by id; stream messages queue up for
    `next_message` (bounded: a reader that stops reading is dropped by the venue
    with SLOW_CONSUMER, as any connection)."""

    def __init__(
        self,
        base_url: str,
        signer: Signer | None = None,
        *,
        lifetime_ns: int = 60 * 10**9,
        timeout: float = TIMEOUT_S,
    ) -> None:
        super().__init__(signer, lifetime_ns)
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._http = AsyncVenueClient(base_url, signer, lifetime_ns=lifetime_ns, timeout=timeout)
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._messages: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._next_id = 0
        self._venue_id: str | None = None

    async def __aenter__(self) -> Self:
        import websockets

        scheme, _, rest = self._base_url.partition("://")
        url = ("wss" if scheme == "https" else "ws") + "://" + rest + "/api/v1/ws"
        self._socket = await websockets.connect(url, max_size=None)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            self._reader.cancel()
        await self._http.close()

    async def _read(self) -> None:
        try:
            async for frame in self._socket:
                message = msgspec.json.decode(frame)
                if "channel" in message:
                    await self._messages.put((message["channel"], message["data"]))
                    continue
                waiter = self._pending.pop(message.get("id"), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
        finally:
            for waiter in self._pending.values():
                if not waiter.done():
                    waiter.set_exception(VenueError(0, 0, "CLOSED", "the connection closed"))

    async def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        request_id = self._next_id
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = waiter
        await self._socket.send(msgspec.json.encode({"id": request_id, **request}).decode())
        answer = await asyncio.wait_for(waiter, self._timeout)
        error = answer.get("error")
        if isinstance(error, dict):
            raise VenueError(0, int(error["code"]), str(error["name"]), str(error["message"]))
        return answer

    async def prove(self) -> tuple[str, str]:
        """Prove the signer's key on this connection; (owner, account) it holds."""
        if self.signer is None:
            raise RuntimeError("this stream holds no signer")
        venue_id = self._venue_id or (await self._http.venue())["venue_id"]
        self._venue_id = venue_id
        now = time.time_ns()
        answer = await self._ask(
            {
                "op": "auth",
                "public_key": self.signer.public_key().hex(),
                "timestamp_ns": now,
                "signature": self.signer.sign(auth_message(venue_id, now)).hex(),
            }
        )
        return answer["owner"], answer["account"]

    async def subscribe(self, *channels: str) -> list[str]:
        return (await self._ask({"op": "subscribe", "channels": list(channels)}))["subscribed"]  # type: ignore[no-any-return]

    async def unsubscribe(self, *channels: str) -> list[str]:
        return (await self._ask({"op": "unsubscribe", "channels": list(channels)}))["unsubscribed"]  # type: ignore[no-any-return]

    async def next_message(self) -> tuple[str, Any]:
        """The next stream message: (channel, data)."""
        return await self._messages.get()

    async def submit_many(self, payloads: Sequence[Payload]) -> list[ApiReceipt]:
        """Sign and send in one frame; one receipt each, in order, once durable."""
        txs = await self._http._signed(payloads)
        answer = await self._ask({"op": "submit", "txs": [msgspec.to_builtins(tx) for tx in txs]})
        return [self._receipt(body, tx) for body, tx in zip(answer["receipts"], txs, strict=True)]
