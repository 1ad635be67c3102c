"""The service's JSON shapes: receipts, and the engine's views as plain objects.

Amounts, prices and sizes are the engine's integers (settlement units, ticks and
lots of the instrument; docs/genesis.md), never floats. Hashes (chain heads, Merkle
nodes) are hex; bytes inside events and views are base64, as in the JSON form of a
transaction.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi import ResponseSpec

from clearhouse.core import Accepted
from clearhouse.journal import Receipt

BATCH_TXS_MAX = 1_000
"""Transactions in one batch request or WebSocket frame."""


class ErrorDetail(msgspec.Struct, frozen=True):
    code: int
    """The stable number of docs/errors.md."""
    name: str
    message: str


class ErrorBody(msgspec.Struct, frozen=True):
    """The body of every refusal."""

    error: ErrorDetail


def receipt_body(receipt: Receipt) -> dict[str, Any]:
    """A receipt as the API answers it. `status` is "accepted" or "rejected"; a
    rejected transaction that was journaled has a seq and a leaf like any other."""
    body: dict[str, Any] = {
        "seq": receipt.seq,
        "leaf_index": receipt.leaf_index,
        "journaled": receipt.journaled,
        "chain_head": receipt.chain_head.hex(),
    }
    outcome = receipt.outcome
    if isinstance(outcome, Accepted):
        body["status"] = "accepted"
        body["events"] = msgspec.to_builtins(outcome.events)
    else:
        body["status"] = "rejected"
        body["error"] = {
            "code": int(outcome.code),
            "name": outcome.code.name,
            "message": outcome.message,
        }
    return body


def plain(value: object) -> Any:
    """An engine view (a msgspec Struct) as JSON-ready builtins."""
    return msgspec.to_builtins(value)


REFUSALS = {
    400: "Refused: a malformed transaction or parameter (the code names which)",
    404: "No such path, account, instrument or entry",
    403: "Not for this client: surveillance alerts are answered to the venue's own host",
    409: "No signed checkpoint covers it yet",
    413: "The body or batch is too large",
    415: "Neither application/msgpack nor application/json",
    503: "BUSY or NOT_READY: nothing was journaled; send again after Retry-After",
}


def refusals(*statuses: int) -> dict[int, ResponseSpec]:
    """The error answers a handler documents, each the one error body."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description=REFUSALS[status])
        for status in statuses
    }
