"""What `Engine.apply` returns, and the engine's fail-stop fault."""

from __future__ import annotations

import msgspec

from clearhouse.core.errors import ErrorCode
from clearhouse.core.events import Event


class Accepted(msgspec.Struct, frozen=True, tag="accepted"):
    seq: int
    events: list[Event]


class Rejected(msgspec.Struct, frozen=True, tag="rejected"):
    seq: int
    code: ErrorCode
    message: str


Outcome = Accepted | Rejected


class InvariantViolation(AssertionError):
    """Raised inside `apply` when the state breaks a rule it must always keep."""


class EngineFault(RuntimeError):
    """An invariant failed: a bug, not a user's mistake.

    The engine stops accepting transactions; the shell restores it from the journal
    (latest snapshot plus replay) and records the transaction as refused.
    """
