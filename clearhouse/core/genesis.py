"""Genesis: the venue's first keys, roles, rules and instruments.

Everything the engine knows at sequence 0 comes from here, so the genesis is part
of the state: its SHA-256 digest is in every state digest, and two engines built
from different genesis documents never agree. A genesis that could let one key
act alone on governance is refused.
"""

from __future__ import annotations

import hashlib
from typing import Final

import msgspec

from clearhouse.core.catalogue import default_catalogue
from clearhouse.core.config import EngineConfig
from clearhouse.core.instruments import Instrument, InstrumentSpecError, validate_spec
from clearhouse.core.roles import Role, incompatible_pair, mask_of

VENUE_ID_LEN_MAX: Final = 64
OWNER_LEN_MAX: Final = 48


class GenesisError(ValueError):
    """A genesis document the engine refuses to start from."""


class GenesisKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    public_key: bytes
    owner: str
    roles: tuple[Role, ...]


class GovernanceRules(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    threshold: int = 2
    """Distinct governors (the proposer included) whose approval executes a proposal."""
    timelock_ns: int = 86_400 * 10**9
    """Time between a proposal and its earliest execution."""
    approval_ttl_ns: int = 7 * 86_400 * 10**9
    """An approval older than this no longer counts; nor does a proposal."""
    proposals_open_max: int = 64


class Genesis(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    venue_id: str
    keys: tuple[GenesisKey, ...]
    instruments: tuple[Instrument, ...]
    governance: GovernanceRules = GovernanceRules()
    config: EngineConfig = EngineConfig()


def make_genesis(
    venue_id: str,
    keys: tuple[GenesisKey, ...],
    instruments: tuple[Instrument, ...] | None = None,
    governance: GovernanceRules | None = None,
    config: EngineConfig | None = None,
) -> Genesis:
    """A validated genesis; the default catalogue when no instruments are given."""
    return validate_genesis(
        Genesis(
            venue_id,
            keys,
            default_catalogue() if instruments is None else instruments,
            governance or GovernanceRules(),
            config or EngineConfig(),
        )
    )


def is_valid_name(value: str, len_max: int) -> bool:
    return (
        0 < len(value) <= len_max
        and value.isascii()
        and value.isprintable()
        and " " not in value
        and ":" not in value
    )


def validate_genesis(genesis: Genesis) -> Genesis:
    if not is_valid_name(genesis.venue_id, VENUE_ID_LEN_MAX):
        raise GenesisError(
            "venue_id must be 1..64 printable ASCII characters without spaces or ':'"
        )
    owners: dict[str, int] = {}
    seen: dict[bytes, None] = {}
    for key in genesis.keys:
        if len(key.public_key) != 32:
            raise GenesisError(f"key of {key.owner!r} is not a 32-byte Ed25519 public key")
        if key.public_key in seen:
            raise GenesisError(f"key {key.public_key.hex()} listed twice")
        seen[key.public_key] = None
        if not is_valid_name(key.owner, OWNER_LEN_MAX):
            raise GenesisError(f"owner {key.owner!r} is not a valid name")
        if not key.roles:
            raise GenesisError(f"key {key.public_key.hex()} has no role")
        owners[key.owner] = owners.get(key.owner, 0) | mask_of(key.roles)
    for owner, mask in owners.items():
        pair = incompatible_pair(mask)
        if pair is not None:
            raise GenesisError(f"owner {owner!r} would hold {pair[0].value} with {pair[1].value}")
    rules = genesis.governance
    # The threshold counts people: one owner's several governor keys are one vote.
    governors = len({key.owner: None for key in genesis.keys if Role.GOVERNOR in key.roles})
    if rules.threshold < 2:
        raise GenesisError("the governance threshold must be at least 2: no key acts alone")
    if governors < rules.threshold:
        raise GenesisError(
            f"{governors} governor owners cannot reach a threshold of {rules.threshold}"
        )
    if rules.timelock_ns < 0 or rules.approval_ttl_ns <= rules.timelock_ns:
        raise GenesisError("approvals must outlive the timelock")
    if rules.proposals_open_max < 1:
        raise GenesisError("proposals_open_max must be positive")
    _validate_risk_config(genesis.config)
    ids: dict[str, None] = {}
    for spec in genesis.instruments:
        try:
            validate_spec(spec)
        except InstrumentSpecError as exc:
            raise GenesisError(str(exc)) from exc
        if spec.id in ids:
            raise GenesisError(f"instrument {spec.id} listed twice")
        if spec.settlement_asset != genesis.config.settlement_asset:
            raise GenesisError(
                f"{spec.id} settles in {spec.settlement_asset}, not the venue's asset"
            )
        ids[spec.id] = None
    return genesis


def _validate_risk_config(config: EngineConfig) -> None:
    checks = (
        (config.oracle_staleness_ns > 0, "oracle_staleness_ns must be positive"),
        (config.oracle_sources_min >= 1, "oracle_sources_min must be at least 1"),
        (0 < config.oracle_move_max_bps <= 10_000, "oracle_move_max_bps must be 1..10000"),
        (0 <= config.circuit_breaker_bps <= 10_000, "circuit_breaker_bps must be 0..10000"),
        (config.circuit_breaker_window_ns > 0, "circuit_breaker_window_ns must be positive"),
        (0 <= config.basis_max_bps <= 5_000, "basis_max_bps must be 0..5000"),
        (0 < config.vol_min_ppm <= 10_000_000, "vol_min_ppm must be 1..10000000"),
        (0 <= config.perp_premium_cap_bps <= 10_000, "perp_premium_cap_bps must be 0..10000"),
        (config.funding_interval_ns > 0, "funding_interval_ns must be positive"),
        (0 <= config.funding_cap_bps <= 10_000, "funding_cap_bps must be 0..10000"),
        (config.settlement_window_ns > 0, "settlement_window_ns must be positive"),
        (0 <= config.liquidation_fee_bps <= 1_000, "liquidation_fee_bps must be 0..1000"),
        (
            is_valid_name(config.insurance_account, OWNER_LEN_MAX),
            "insurance_account is not a valid name",
        ),
        (config.rate_limit_window_ns > 0, "rate_limit_window_ns must be positive"),
        (config.rate_limit_messages >= 0, "rate_limit_messages must not be negative"),
    )
    for ok, message in checks:
        if not ok:
            raise GenesisError(message)
    p = config.portfolio
    portfolio_checks = (
        (0 < p.price_scan_bps < 10_000, "portfolio.price_scan_bps must be 1..9999"),
        (1 <= p.price_steps <= 16, "portfolio.price_steps must be 1..16"),
        (0 <= p.vol_shift_bps < 10_000, "portfolio.vol_shift_bps must be 0..9999"),
        (
            p.extreme_multiple >= 1 and p.extreme_multiple * p.price_scan_bps < 10_000,
            "portfolio extreme moves must stay below 100 %",
        ),
        (0 <= p.extreme_fraction_bps <= 10_000, "portfolio.extreme_fraction_bps must be 0..10000"),
        (0 <= p.short_option_min_bps <= 10_000, "portfolio.short_option_min_bps must be 0..10000"),
        (0 <= p.per_lot_min_bps <= 10_000, "portfolio.per_lot_min_bps must be 0..10000"),
        (0 < p.maintenance_bps <= 10_000, "portfolio.maintenance_bps must be 1..10000"),
    )
    for ok, message in portfolio_checks:
        if not ok:
            raise GenesisError(message)


def genesis_digest(genesis: Genesis) -> bytes:
    """SHA-256 of the genesis, less how often a process sweeps its invariants (a
    self-check that replicas may run at different rates and still agree)."""
    config = msgspec.structs.replace(genesis.config, invariant_sweep_interval_txs=0)
    canonical = msgspec.structs.replace(genesis, config=config)
    return hashlib.sha256(msgspec.msgpack.encode(canonical)).digest()


def decode_genesis_json(data: bytes) -> Genesis:
    """Read a genesis file (JSON; keys as hex strings are accepted) and validate it."""
    raw = msgspec.json.decode(data)
    if isinstance(raw, dict):
        for key in raw.get("keys", ()):
            if isinstance(key, dict) and isinstance(key.get("public_key"), str):
                key["public_key"] = bytes.fromhex(key["public_key"])
    return validate_genesis(msgspec.convert(raw, Genesis))
