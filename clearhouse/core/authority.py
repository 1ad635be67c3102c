"""Who may change state: keys, their roles, nonces and scopes.

The signature itself is checked outside the core, before sequencing, by one rule
set (clearhouse.auth.ed25519); the core receives the verifier's verdict with each
transaction and re-derives everything else here, in this order (docs/errors.md):

1. the signer is a registered key (UNKNOWN_SIGNER) that is not void at this
   sequence number (KEY_REVOKED);
2. the verifier accepted the signature (BAD_SIGNATURE);
3. the transaction has not expired (EXPIRED) and does not claim a lifetime beyond
   `tx_lifetime_ns_max` (EXPIRY_TOO_FAR);
4. its nonce is fresh (NONCE_INVALID, NONCE_TOO_OLD, NONCE_REUSED);
5. the key's roles, or its sub-key scope, permit this transaction type
   (ROLE_FORBIDDEN), for an account its owner holds (NOT_ACCOUNT_OWNER), within the
   sub-key's order size limit (SUB_KEY_SIZE_LIMIT).

Nonces: each key keeps the highest nonce it has used and a 64-bit window below it.
A nonce above the highest is accepted and slides the window; one inside the window
is accepted once; one below it is too old. A market maker can therefore send many
orders at once from one key, and they may be sequenced in any order within 64 of
each other. A nonce is used only when its transaction is accepted: a rejection
changes no state, and the client reuses the nonce for the corrected transaction,
which makes the rejected bytes unreplayable (they also expire within
`tx_lifetime_ns_max`).

Accounts belong to owners by name: "alice" and "alice:hedge" are alice's.
"""

from __future__ import annotations

from typing import Final

from clearhouse.core.config import EngineConfig
from clearhouse.core.display import format_duration, format_time
from clearhouse.core.errors import ErrorCode, Rejection
from clearhouse.core.genesis import Genesis, GovernanceRules, genesis_digest
from clearhouse.core.numbers import INT64_MAX
from clearhouse.core.roles import ROLE_BITS, TRADING, Role, mask_of
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
    SetMarginMode,
    SetMMP,
    SettleExpiry,
    SubKeyScope,
    Transfer,
    Withdraw,
)

NONCE_WINDOW: Final = 64
_WINDOW_MASK: Final = (1 << NONCE_WINDOW) - 1

GOVERNOR: Final = ROLE_BITS[Role.GOVERNOR]

# Transaction type -> (roles that may sign it, the field naming the account it acts on).
PERMITTED: Final[dict[type, tuple[int, str]]] = {
    Deposit: (ROLE_BITS[Role.CUSTODIAN], ""),
    Withdraw: (TRADING, "account"),
    Transfer: (TRADING, "source"),
    CancelWithdrawal: (TRADING, "account"),
    PlaceOrder: (TRADING, "account"),
    CancelOrder: (TRADING, "account"),
    CancelAll: (TRADING, "account"),
    AmendOrder: (TRADING, "account"),
    OracleUpdate: (ROLE_BITS[Role.ORACLE], ""),
    HaltMarket: (ROLE_BITS[Role.RISK_OFFICER] | ROLE_BITS[Role.SURVEILLANCE], ""),
    ResumeMarket: (ROLE_BITS[Role.RISK_OFFICER], ""),
    KillSwitch: (TRADING | ROLE_BITS[Role.RISK_OFFICER] | ROLE_BITS[Role.SURVEILLANCE], "account"),
    SetMarginMode: (TRADING, "account"),
    SetMMP: (TRADING, "account"),
    ResetMMP: (TRADING, "account"),
    Liquidate: (ROLE_BITS[Role.KEEPER], ""),
    SettleExpiry: (ROLE_BITS[Role.KEEPER], ""),
    FundingTick: (ROLE_BITS[Role.KEEPER], ""),
    AddSubKey: (TRADING, "account"),
    RevokeSubKey: (TRADING, "account"),
    RotateSubKey: (TRADING, "account"),
    Propose: (GOVERNOR, ""),
    Approve: (GOVERNOR, ""),
    CancelProposal: (GOVERNOR, ""),
    ExecuteProposal: (GOVERNOR, ""),
}
SUB_KEY_TRADE_TYPES: Final = (
    PlaceOrder,
    CancelOrder,
    CancelAll,
    AmendOrder,
    KillSwitch,
    SetMMP,
    ResetMMP,
)
RISK_OFFICER: Final = ROLE_BITS[Role.RISK_OFFICER]
SURVEILLANCE: Final = ROLE_BITS[Role.SURVEILLANCE]
STAFF: Final = RISK_OFFICER | SURVEILLANCE
"""A risk officer's or surveillance's KillSwitch may name any account."""


def owner_of(account_id: str) -> str:
    return account_id.partition(":")[0]


class KeyRecord:
    """A registered public key: a master key with roles, or a scoped sub-key of an account."""

    __slots__ = (
        "account",
        "nonce_high",
        "nonce_window",
        "order_size_max",
        "owner",
        "public_key",
        "rate_count",
        "rate_window",
        "roles",
        "scope",
        "void_from_seq",
    )

    def __init__(
        self,
        public_key: bytes,
        owner: str,
        roles: int,
        account: str = "",
        scope: SubKeyScope | None = None,
        order_size_max: int = 0,
    ) -> None:
        self.public_key = public_key
        self.owner = owner
        self.roles = roles
        self.account = account
        """The account a sub-key acts for; empty for a master key."""
        self.scope = scope
        self.order_size_max = order_size_max
        self.void_from_seq = 0
        """0 while the key is good; else the first sequence number it may not sign."""
        self.nonce_high = 0
        self.nonce_window = 0
        """Bit i set: nonce (nonce_high - i) used."""
        self.rate_window = 0
        """The rate-limit window (sequencer time // window length) counted in."""
        self.rate_count = 0
        """Trading messages accepted from this key in `rate_window`."""

    @property
    def is_sub_key(self) -> bool:
        return self.scope is not None


class Proposal:
    __slots__ = ("action_payload", "approvals", "created_ns", "proposal_id", "proposer")

    def __init__(
        self, proposal_id: int, proposer: bytes, action_payload: Propose, created_ns: int
    ) -> None:
        self.proposal_id = proposal_id
        self.proposer = proposer
        self.action_payload = action_payload
        self.created_ns = created_ns
        self.approvals: dict[bytes, int] = {proposer: created_ns}
        """Governor key -> time of approval, the proposer's own first."""


class Authority:
    __slots__ = (
        "genesis_digest",
        "keys",
        "owner_masks",
        "proposals",
        "rules",
        "sub_keys",
        "venue_id",
    )

    def __init__(self, genesis: Genesis) -> None:
        self.venue_id = genesis.venue_id
        self.genesis_digest = genesis_digest(genesis)
        self.rules: GovernanceRules = genesis.governance
        self.keys: dict[bytes, KeyRecord] = {}
        for key in genesis.keys:
            self.keys[key.public_key] = KeyRecord(key.public_key, key.owner, mask_of(key.roles))
        self.proposals: dict[int, Proposal] = {}
        self.sub_keys: dict[str, list[bytes]] = {}
        """Every sub-key ever added to each account, in order (void ones stay on record)."""
        self.owner_masks: dict[str, int] = {}
        """Roles each owner holds through its live master keys, kept in step by
        `refresh_owner`; a sub-key may act only while its owner holds a trading role."""
        for key in genesis.keys:
            self.refresh_owner(key.owner)

    def owner_roles(self, owner: str) -> int:
        """Roles held by an owner's live master keys, recomputed (O(keys))."""
        mask = 0
        for key in self.keys.values():
            if key.owner == owner and not key.void_from_seq and not key.is_sub_key:
                mask |= key.roles
        return mask

    def refresh_owner(self, owner: str) -> None:
        self.owner_masks[owner] = self.owner_roles(owner)

    def live_sub_keys(self, account: str, seq: int) -> int:
        """Sub-keys of an account that may still sign at `seq` (a void point ahead counts)."""
        keys = self.keys
        return sum(
            1
            for public_key in self.sub_keys.get(account, ())
            if not keys[public_key].void_from_seq or keys[public_key].void_from_seq > seq
        )

    def governors(self) -> list[KeyRecord]:
        return [k for k in self.keys.values() if k.roles & GOVERNOR and not k.void_from_seq]

    def governor_owners(self, without: KeyRecord | None = None) -> list[str]:
        """Distinct owners holding the governor role (through any key but `without`):
        the threshold counts people, not keys."""
        owners: dict[str, None] = {}
        for key in self.governors():
            if key is not without:
                owners[key.owner] = None
        return list(owners)


_SUB_KEY_TRADE: Final = frozenset(SUB_KEY_TRADE_TYPES)
_RULES: Final[dict[type, tuple[int, str, bool]]] = {
    kind: (permitted, account_field, kind in _SUB_KEY_TRADE)
    for kind, (permitted, account_field) in PERMITTED.items()
}
"""PERMITTED with whether a trade sub-key may sign the type: one lookup per transaction."""


def authorize(
    authority: Authority,
    config: EngineConfig,
    payload: object,
    signer: bytes,
    nonce: int,
    expires: int,
    seq: int,
    timestamp_ns: int,
    signature_valid: bool,
) -> KeyRecord | Rejection:
    """Authorize a transaction whose envelope fields (`signer`, `nonce`, `expires`, the
    `expires_at_ns`) `check_envelope` has passed and whose `payload` `check_shape` has."""
    key = authority.keys.get(signer)
    if key is None:
        return Rejection(ErrorCode.UNKNOWN_SIGNER, "the signer is not a registered key")
    void_from_seq = key.void_from_seq
    if void_from_seq and seq >= void_from_seq:
        return Rejection(ErrorCode.KEY_REVOKED, f"the key is void from seq {void_from_seq}")
    if not signature_valid:
        return Rejection(ErrorCode.BAD_SIGNATURE, "the signature does not verify for this venue")
    if timestamp_ns > expires:
        return Rejection(
            ErrorCode.EXPIRED,
            f"expired at {format_time(expires)}, sequenced at {format_time(timestamp_ns)}",
        )
    if expires - timestamp_ns > config.tx_lifetime_ns_max:
        return Rejection(
            ErrorCode.EXPIRY_TOO_FAR,
            f"expiry {format_time(expires)} is more than {format_duration(config.tx_lifetime_ns_max)} ahead",
        )
    if (rejection := check_nonce(key, nonce)) is not None:
        return rejection
    kind = type(payload)
    permitted, account_field, sub_key_may_sign = _RULES[kind]
    scope = key.scope
    if scope is not None:
        if (
            scope is not SubKeyScope.TRADE
            or not sub_key_may_sign
            or not authority.owner_masks.get(key.owner, 0) & TRADING
        ):
            return Rejection(
                ErrorCode.ROLE_FORBIDDEN,
                f"a {scope.value} sub-key of {key.owner!r} may not sign {kind.__name__}"
                " (trade sub-keys act only while their owner holds a trading role)",
            )
        account: str = getattr(payload, account_field)
        if account != key.account:
            return Rejection(
                ErrorCode.NOT_ACCOUNT_OWNER, f"the sub-key acts for {key.account!r} only"
            )
        limit = key.order_size_max
        if limit:
            size = payload.size if isinstance(payload, (PlaceOrder, AmendOrder)) else None
            if size is not None and size > limit:
                return Rejection(
                    ErrorCode.SUB_KEY_SIZE_LIMIT, f"size {size} is over the sub-key's {limit}"
                )
        return key
    roles = key.roles
    if not roles & permitted:
        return Rejection(ErrorCode.ROLE_FORBIDDEN, f"no role of this key may sign {kind.__name__}")
    if account_field and not (kind is KillSwitch and roles & STAFF):
        account = getattr(payload, account_field)
        if owner_of(account) != key.owner:
            return Rejection(
                ErrorCode.NOT_ACCOUNT_OWNER, f"account {account!r} is not {key.owner}'s"
            )
    return key


RATE_LIMITED_TYPES: Final = frozenset((PlaceOrder, AmendOrder))
"""Messages counted by the per-key rate limit. Cancels never are: pulling quotes is
never refused for rate."""


def check_rate(key: KeyRecord, config: EngineConfig, timestamp_ns: int) -> Rejection | None:
    limit = config.rate_limit_messages
    if not limit:
        return None
    window = timestamp_ns // config.rate_limit_window_ns
    if key.rate_window == window and key.rate_count >= limit:
        return Rejection(
            ErrorCode.RATE_LIMITED,
            f"at most {limit} orders and amendments per {format_duration(config.rate_limit_window_ns)} per key",
        )
    return None


def count_message(key: KeyRecord, config: EngineConfig, timestamp_ns: int) -> None:
    if not config.rate_limit_messages:
        return
    window = timestamp_ns // config.rate_limit_window_ns
    if key.rate_window == window:
        key.rate_count += 1
    else:
        key.rate_window = window
        key.rate_count = 1


def check_nonce(key: KeyRecord, nonce: int) -> Rejection | None:
    if nonce < 1 or nonce > INT64_MAX:
        return Rejection(ErrorCode.NONCE_INVALID, f"nonce must be 1..{INT64_MAX}")
    high = key.nonce_high
    if nonce > high:
        return None
    if high - nonce >= NONCE_WINDOW:
        return Rejection(
            ErrorCode.NONCE_TOO_OLD, f"nonce {nonce} is below the window ending at {high}"
        )
    if key.nonce_window >> (high - nonce) & 1:
        return Rejection(ErrorCode.NONCE_REUSED, f"nonce {nonce} was already used")
    return None


def use_nonce(key: KeyRecord, nonce: int) -> None:
    high = key.nonce_high
    if nonce > high:
        shift = nonce - high
        key.nonce_window = (
            ((key.nonce_window << shift) | 1) & _WINDOW_MASK if shift < NONCE_WINDOW else 1
        )
        key.nonce_high = nonce
    else:
        key.nonce_window |= 1 << (high - nonce)
