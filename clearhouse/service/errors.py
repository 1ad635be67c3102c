"""What the service answers when a request cannot be served: a stable code, its
name and a message, as one JSON body `{"error": {"code", "name", "message"}}`.

Codes of the 7xxx band are the service's own (docs/errors.md); a request refused
for a reason the engine or the decoder names (an unknown account, a malformed
transaction, BUSY) carries that code instead, so a client matches one number
whichever layer refused.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from clearhouse.core import ErrorCode


class ServiceErrorCode(IntEnum):
    NOT_FOUND = 7001
    METHOD_NOT_ALLOWED = 7002
    BAD_REQUEST = 7003
    UNSUPPORTED_MEDIA_TYPE = 7004
    NOT_READY = 7005
    PROOF_NOT_READY = 7006
    NO_SUCH_ENTRY = 7007
    BATCH_TOO_LARGE = 7008
    INTERNAL = 7009
    SLOW_CONSUMER = 7010
    AUTH_FAILED = 7011
    FORBIDDEN = 7012


Code = ErrorCode | ServiceErrorCode

_STATUS: dict[int, int] = {
    ServiceErrorCode.NOT_FOUND: 404,
    ServiceErrorCode.METHOD_NOT_ALLOWED: 405,
    ServiceErrorCode.BAD_REQUEST: 400,
    ServiceErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ServiceErrorCode.NOT_READY: 503,
    ServiceErrorCode.PROOF_NOT_READY: 409,
    ServiceErrorCode.NO_SUCH_ENTRY: 404,
    ServiceErrorCode.BATCH_TOO_LARGE: 413,
    ServiceErrorCode.INTERNAL: 500,
    ServiceErrorCode.SLOW_CONSUMER: 429,
    ServiceErrorCode.AUTH_FAILED: 401,
    ServiceErrorCode.FORBIDDEN: 403,
    ErrorCode.MESSAGE_TOO_LARGE: 413,
    ErrorCode.BUSY: 503,
    ErrorCode.UNKNOWN_ACCOUNT: 404,
    ErrorCode.UNKNOWN_INSTRUMENT: 404,
}


class ApiError(Exception):
    """A request refused with `code`; the HTTP status follows from the code."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status(self) -> int:
        return _STATUS.get(self.code, 400)

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: Code, message: str) -> dict[str, Any]:
    return {"error": {"code": int(code), "name": code.name, "message": message}}
