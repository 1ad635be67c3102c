"""The engine: one deterministic state machine, one transaction at a time.

`Engine.apply` takes a `Sequenced` transaction and returns `Accepted` (the events)
or `Rejected` (a code and a message, the state exactly as before). Each outcome,
rejections included, is hashed into the output chain:

    head(0) = genesis_digest(genesis)
    head(n) = SHA-256(head(n-1) || msgpack(outcome(n)))

so two processes fed the same log agree on every head, and every head binds the
rules the log ran under: a journal entry holds its head, so every Merkle leaf and
every signed checkpoint of the log commits to the genesis, and a genesis edited in
the journal no longer leads to the recorded heads. `digest()` gives the
SHA-256 of the canonical state at any point. A broken invariant is a bug: the
engine raises `EngineFault` and refuses everything after it.
"""

from __future__ import annotations

from collections.abc import Callable
from hashlib import sha256
from typing import Any

import msgspec
from msgspec.structs import astuple

from clearhouse.core import (
    collateral,
    controls,
    funding,
    governance,
    keys,
    liquidation,
    market_data,
    mmp,
    settlement,
    trading,
)
from clearhouse.core import snapshot as snapshot_module
from clearhouse.core.authority import (
    RATE_LIMITED_TYPES,
    KeyRecord,
    authorize,
    check_rate,
    count_message,
    use_nonce,
)
from clearhouse.core.digest import canonical_state, state_digest
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.events import Event
from clearhouse.core.genesis import Genesis, validate_genesis
from clearhouse.core.instruments import Instrument, Kind
from clearhouse.core.invariants import Sweep, check_all
from clearhouse.core.numbers import INT64_MAX
from clearhouse.core.outcomes import Accepted, EngineFault, InvariantViolation, Outcome, Rejected
from clearhouse.core.shapes import check_envelope, check_shape
from clearhouse.core.state import State
from clearhouse.core.txs import (
    AddSubKey,
    AmendOrder,
    Approve,
    CancelAll,
    CancelOrder,
    CancelProposal,
    CancelWithdrawal,
    Deposit,
    ExecuteProposal,
    FundingTick,
    HaltMarket,
    KillSwitch,
    Liquidate,
    OracleUpdate,
    PlaceOrder,
    Propose,
    ResetMMP,
    ResumeMarket,
    RevokeSubKey,
    RotateSubKey,
    Sequenced,
    SetMarginMode,
    SetMMP,
    SettleExpiry,
    Transaction,
    Transfer,
    Withdraw,
)
from clearhouse.core.views import (
    AccountView,
    Depth,
    MarkView,
    account_view,
    depth_view,
    mark_view,
)

Handler = Callable[[State, Any, int, int, KeyRecord], list[Event] | Rejection]


def _handlers() -> dict[type, Handler]:
    return {
        PlaceOrder: trading.place_order,
        CancelOrder: trading.cancel_order,
        CancelAll: trading.cancel_all,
        AmendOrder: trading.amend_order,
        Deposit: collateral.deposit,
        Withdraw: collateral.withdraw,
        Transfer: collateral.transfer,
        CancelWithdrawal: collateral.cancel_withdrawal,
        OracleUpdate: market_data.oracle_update,
        HaltMarket: controls.halt_market,
        ResumeMarket: controls.resume_market,
        KillSwitch: controls.kill_switch,
        SetMarginMode: controls.set_margin_mode,
        SetMMP: mmp.set_mmp,
        ResetMMP: mmp.reset_mmp,
        Liquidate: liquidation.liquidate,
        SettleExpiry: settlement.settle_expiry,
        FundingTick: funding.funding_tick,
        AddSubKey: keys.add_sub_key,
        RevokeSubKey: keys.revoke_sub_key,
        RotateSubKey: keys.rotate_sub_key,
        Propose: governance.propose,
        Approve: governance.approve,
        CancelProposal: governance.cancel_proposal,
        ExecuteProposal: governance.execute_proposal,
    }


class Engine:
    __slots__ = (
        "_chain_head",
        "_encode",
        "_fault",
        "_handlers",
        "_seq",
        "_state",
        "_sweep",
        "_timestamp_ns",
    )

    def __init__(self, genesis: Genesis) -> None:
        self._state = State(validate_genesis(genesis))
        self._handlers = _handlers()
        self._seq = 0
        self._timestamp_ns = 0
        self._chain_head = self._state.authority.genesis_digest
        self._sweep = Sweep()
        self._fault: str | None = None
        self._encode = msgspec.msgpack.Encoder().encode

    # -- the transition ----------------------------------------------------------

    def apply(self, sequenced: Sequenced, signature_valid: bool) -> Outcome:
        """Apply the next transaction; `signature_valid` is the verifier's verdict on it.

        The signature is checked before sequencing (clearhouse.auth) and again on
        every replay, by one rule set; the engine takes that verdict and decides
        everything else itself.
        """
        if self._fault is not None:
            raise EngineFault(f"engine stopped after a fault: {self._fault}")
        # Read as plain objects: a malformed entry must be refused, not crash a typed read.
        fields: tuple[object, ...] = astuple(sequenced)
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
        state = self._state
        try:
            # The envelope's fields in one C-level tuple: compiled, each attribute
            # read of a msgspec Struct is a generic lookup.
            envelope: tuple[object, ...] = astuple(tx)
            payload = envelope[0]
            signer_key = envelope[1]
            nonce = envelope[2]
            expires_at_ns = envelope[3]
            result: list[Event] | Rejection | None = check_envelope(
                signer_key, nonce, expires_at_ns, envelope[4]
            )
            if result is None:
                result = check_shape(payload)
            if result is None:
                # check_envelope has passed: the three are bytes, int and int.
                signer = authorize(
                    state.authority,
                    state.config,
                    payload,
                    signer_key,  # type: ignore[arg-type]
                    nonce,  # type: ignore[arg-type]
                    expires_at_ns,  # type: ignore[arg-type]
                    seq,
                    timestamp_ns,
                    signature_valid is True,
                )
                kind = type(payload)
                limited = kind in RATE_LIMITED_TYPES
                if type(signer) is Rejection:
                    result = signer
                elif limited and (
                    rejected := check_rate(signer, state.config, timestamp_ns)  # type: ignore[arg-type]
                ):
                    result = rejected
                else:
                    result = self._handlers[kind](
                        state,
                        payload,
                        seq,
                        timestamp_ns,
                        signer,  # type: ignore[arg-type]
                    )
                    if type(result) is not Rejection:
                        use_nonce(signer, nonce)  # type: ignore[arg-type]
                        if limited:
                            count_message(signer, state.config, timestamp_ns)  # type: ignore[arg-type]
            outcome: Outcome
            if type(result) is Rejection:
                outcome = Rejected(seq, result.code, result.message)
            else:
                outcome = Accepted(seq, result)  # type: ignore[arg-type]
            self._chain_head = sha256(self._chain_head + self._encode(outcome)).digest()
            interval = state.config.invariant_sweep_interval_txs
            if interval:
                self._sweep.step(state, interval)
        except Exception as exc:
            # An invariant broken, or any exception escaping a handler, is a bug:
            # the state may be half-changed, so the engine stops (fail-stop).
            self._fault = f"seq {seq}: {type(exc).__name__}: {exc}"
            raise EngineFault(self._fault) from exc
        return outcome

    def snapshot(self) -> bytes:
        """The whole state, with the log position and chain head, as canonical bytes."""
        return snapshot_module.take(self._state, self._seq, self._timestamp_ns, self._chain_head)

    @classmethod
    def restore(cls, genesis: Genesis, data: bytes) -> Engine:
        """An engine exactly as it was when `data` was taken (SnapshotError if it cannot be)."""
        snapshot = snapshot_module.decode(data)
        engine = cls(genesis)
        try:
            snapshot_module.restore_into(engine._state, snapshot)
        except (KeyError, InvariantViolation) as exc:
            raise snapshot_module.SnapshotError(f"snapshot does not restore: {exc}") from exc
        engine._seq = snapshot.seq
        engine._timestamp_ns = snapshot.timestamp_ns
        engine._chain_head = snapshot.chain_head
        return engine

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

    def marks(self, instrument: str) -> MarkView | Rejection:
        """How `instrument` is marked now, with its option greeks (at the last
        sequencer time)."""
        market = self._state.markets.get(instrument)
        if market is None:
            return Rejection(ErrorCode.UNKNOWN_INSTRUMENT, f"unknown instrument {instrument!r}")
        return mark_view(self._state, market, self._timestamp_ns)

    def totals(self) -> dict[str, int]:
        state = self._state
        return {
            "cash": state.cash_total,
            "linear_cost": state.linear_cost_total,
            "fees": state.fees_total,
            "insurance_fund": state.insurance_balance(),
            "socialized": state.socialized_total,
            "deposits": state.deposits_total,
            "withdrawals": state.withdrawals_total,
            "pending_withdrawals": state.pending_total,
        }

    # -- what keepers watch (clearhouse.keepers) ---------------------------------

    def accounts_in_margin_call(self) -> list[str]:
        """Ids of the accounts in a margin call, sorted (the state keeps no order in
        which they entered it)."""
        return sorted(a.id for a in self._state.accounts.values() if a.in_margin_call)

    def expired_unsettled(self, now_ns: int) -> list[str]:
        """Ids of the futures and options expired at `now_ns` and not yet settled, sorted."""
        return sorted(
            market.spec.id
            for market in self._state.markets.values()
            if market.spec.expiry_ns and not market.settled and market.spec.expiry_ns <= now_ns
        )

    def funding_due(self, now_ns: int) -> list[str]:
        """Ids of the perpetuals whose funding is due at `now_ns`, sorted; a perpetual
        never marked has nothing to pay."""
        interval = self._state.config.funding_interval_ns
        return sorted(
            market.spec.id
            for market in self._state.markets.values()
            if market.spec.kind is Kind.PERPETUAL
            and market.mark
            and market.funding_last_ns + interval <= now_ns
        )

    def key_holder(self, public_key: bytes) -> tuple[str, str] | None:
        """(owner, account) of a key that may sign at the next sequence number: a
        master key's account is "" (it acts for every account of its owner), a
        sub-key's the one account it acts for. None for an unknown or void key."""
        key = self._state.authority.keys.get(public_key)
        if key is None or (key.void_from_seq and key.void_from_seq <= self.seq + 1):
            return None
        return key.owner, key.account

    def nonce_high(self, public_key: bytes) -> int:
        """The highest nonce the key has had accepted (0 if none, or no such key): a
        client that restarts signs on from above it."""
        key = self._state.authority.keys.get(public_key)
        return 0 if key is None else key.nonce_high
