"""The engine: one deterministic state machine, one transaction at a time.

`Engine.apply` takes a `Sequenced` transaction and returns `Accepted` (the events)
or `Rejected` (a code and a message, the state exactly as before). Each outcome,
rejections included, is hashed into the output chain:

    head(n) = SHA-256(head(n-1) || msgpack(outcome(n)))

so two processes fed the same log agree on every head, and `digest()` gives the
SHA-256 of the canonical state at any point. A broken invariant is a bug: the
engine raises `EngineFault` and refuses everything after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from clearhouse.core import collateral, market_data, trading
from clearhouse.core.catalogue import default_catalogue
from clearhouse.core.config import EngineConfig
from clearhouse.core.digest import canonical_state, state_digest
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import Event
from clearhouse.core.instruments import Instrument
from clearhouse.core.invariants import check_all
from clearhouse.core.numbers import INT64_MAX
from clearhouse.core.outcomes import Accepted, EngineFault, InvariantViolation, Outcome, Rejected
from clearhouse.core.shapes import check_shape
from clearhouse.core.state import State
from clearhouse.core.txs import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Deposit,
    OracleUpdate,
    PlaceOrder,
    Sequenced,
    Transaction,
    Transfer,
    Withdraw,
)
from clearhouse.core.views import AccountView, Depth, account_view, depth_view

GENESIS_HEAD = bytes(32)

Handler = Callable[[State, Any, int, int], list[Event] | Rejection]


def _handlers() -> dict[type, Handler]:
    return {
        PlaceOrder: trading.place_order,
        CancelOrder: trading.cancel_order,
        CancelAll: trading.cancel_all,
        AmendOrder: trading.amend_order,
        Deposit: collateral.deposit,
        Withdraw: collateral.withdraw,
        Transfer: collateral.transfer,
        OracleUpdate: market_data.oracle_update,
    }


class Engine:
    __slots__ = (
        "_chain_head",
        "_encode",
        "_fault",
        "_handlers",
        "_seq",
        "_since_sweep",
        "_state",
        "_timestamp_ns",
    )

    def __init__(
        self,
        instruments: Iterable[Instrument] | None = None,
        config: EngineConfig | None = None,
    ) -> None:
        self._state = State(
            default_catalogue() if instruments is None else instruments, config or EngineConfig()
        )
        self._handlers = _handlers()
        self._seq = 0
        self._timestamp_ns = 0
        self._chain_head = GENESIS_HEAD
        self._since_sweep = 0
        self._fault: str | None = None
        self._encode = msgspec.msgpack.Encoder().encode

    # -- the transition ----------------------------------------------------------

    def apply(self, sequenced: Sequenced) -> Outcome:
        if self._fault is not None:
            raise EngineFault(f"engine stopped after a fault: {self._fault}")
        # Read as plain objects: a malformed entry must be refused, not crash a typed read.
        fields: tuple[object, ...] = msgspec.structs.astuple(sequenced)
        seq, timestamp_ns, tx = fields
        if type(seq) is not int or seq != self._seq + 1:
            return Rejected(
                seq if type(seq) is int else -1,
                ErrorCode.SEQUENCE_OUT_OF_ORDER,
                f"expected seq {self._seq + 1}, got {seq!r}",
            )
        if type(timestamp_ns) is not int or timestamp_ns < self._timestamp_ns:
            return Rejected(
                seq,
                ErrorCode.TIMESTAMP_REGRESSED,
                f"timestamp {timestamp_ns!r} precedes {self._timestamp_ns}",
            )
        if timestamp_ns > INT64_MAX:
            return Rejected(
                seq, ErrorCode.INVALID_VALUE, f"timestamp {timestamp_ns} beyond 64 bits"
            )
        if type(tx) is not Transaction:
            return Rejected(seq, ErrorCode.WRONG_TYPE, "a sequenced entry must hold a Transaction")
        self._seq = seq
        self._timestamp_ns = timestamp_ns
        payload = tx.payload
        try:
            shape_rejection = check_shape(payload)
            if shape_rejection is not None:
                result: list[Event] | Rejection = shape_rejection
            else:
                result = self._handlers[type(payload)](self._state, payload, seq, timestamp_ns)
            outcome: Outcome
            if type(result) is Rejection:
                outcome = Rejected(seq, result.code, result.message)
            else:
                outcome = Accepted(seq, result)  # type: ignore[arg-type]
            self._chain_head = hashlib.sha256(self._chain_head + self._encode(outcome)).digest()
            self._since_sweep += 1
            interval = self._state.config.invariant_sweep_interval_txs
            if interval and self._since_sweep >= interval:
                self._since_sweep = 0
                check_all(self._state)
        except Exception as exc:
            # An invariant broken, or any exception escaping a handler, is a bug:
            # the state may be half-changed, so the engine stops (fail-stop).
            self._fault = f"seq {seq}: {type(exc).__name__}: {exc}"
            raise EngineFault(self._fault) from exc
        return outcome

    def check_invariants(self) -> None:
        """Run the full O(state) sweep now; a violation stops the engine."""
        try:
            check_all(self._state)
        except InvariantViolation as exc:
            self._fault = f"after seq {self._seq}: {exc}"
            raise EngineFault(self._fault) from exc

    # -- reading -----------------------------------------------------------------

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def timestamp_ns(self) -> int:
        return self._timestamp_ns

    @property
    def chain_head(self) -> bytes:
        return self._chain_head

    def digest(self) -> bytes:
        return state_digest(self._state)

    def canonical_state(self) -> dict[str, Any]:
        return canonical_state(self._state)

    def instruments(self) -> list[Instrument]:
        return [market.spec for market in self._state.markets.values()]

    def account_ids(self) -> list[str]:
        return sorted(self._state.accounts)

    def account(self, account_id: str) -> AccountView | None:
        account = self._state.accounts.get(account_id)
        return None if account is None else account_view(self._state, account)

    def depth(self, instrument: str, levels: object = 10) -> Depth | Rejection:
        market = self._state.markets.get(instrument)
        if market is None:
            return Rejection(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {instrument!r}")
        levels_max = self._state.config.depth_levels_max
        if type(levels) is not int or not 0 < levels <= levels_max:
            return Rejection(ErrorCode.DEPTH_INVALID, f"levels must be 1..{levels_max}")
        return depth_view(market, levels)

    def totals(self) -> dict[str, int]:
        state = self._state
        return {
            "cash": state.cash_total,
            "linear_cost": state.linear_cost_total,
            "fees": state.fees_total,
            "insurance_fund": state.insurance_fund,
            "deposits": state.deposits_total,
            "withdrawals": state.withdrawals_total,
        }
