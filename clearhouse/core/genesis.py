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
from clearhouse.core.config import EngineConfig, config_problems
from clearhouse.core.instruments import (
    ID_MAX_LEN,
    Instrument,
    InstrumentSpecError,
    is_valid_symbol,
    validate_spec,
)
from clearhouse.core.public_keys import weak_key_problem
from clearhouse.core.roles import Role, incompatible_pair, mask_of

VENUE_ID_LEN_MAX: Final = 64
OWNER_LEN_MAX: Final = 48
KEYS_MAX: Final = 1_024
INSTRUMENTS_MAX: Final = 10_000
_DAY_NS: Final = 86_400 * 10**9


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


GOVERNANCE_BOUNDS: Final[dict[str, tuple[int, int]]] = {
    "threshold": (2, 256),
    "timelock_ns": (0, 365 * _DAY_NS),
    "approval_ttl_ns": (1, 365 * _DAY_NS),
    "proposals_open_max": (1, 1_024),
}
"""Inclusive range of every integer field of `GovernanceRules`; besides, approvals
must outlive the timelock and enough governor owners must exist for the threshold."""


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
    """Return `genesis` if the engine may start from it, else raise GenesisError whose
    message names the field by its path in the document (`keys[2].public_key`,
    `config.accounts_max`, `instruments[4]: BTC-PERP: invalid tick_size`).
    docs/genesis.md lists the bounds."""
    if not is_valid_name(genesis.venue_id, VENUE_ID_LEN_MAX):
        raise GenesisError(
            "venue_id must be 1..64 printable ASCII characters without spaces or ':'"
        )
    _validate_keys(genesis.keys)
    _validate_governance(genesis)
    _validate_risk_config(genesis.config)
    _validate_instruments(genesis)
    return genesis


def _validate_keys(keys: tuple[GenesisKey, ...]) -> None:
    if not 0 < len(keys) <= KEYS_MAX:
        raise GenesisError(f"keys must list 1..{KEYS_MAX} keys, got {len(keys)}")
    owners: dict[str, int] = {}
    seen: dict[bytes, None] = {}
    for number, key in enumerate(keys):
        where = f"keys[{number}]"
        if len(key.public_key) != 32:
            raise GenesisError(
                f"{where}.public_key of {key.owner!r} is not a 32-byte Ed25519 public key"
            )
        if (problem := weak_key_problem(key.public_key)) is not None:
            raise GenesisError(f"{where}.public_key: {problem}")
        if key.public_key in seen:
            raise GenesisError(f"{where}.public_key: key {key.public_key.hex()} listed twice")
        seen[key.public_key] = None
        if not is_valid_name(key.owner, OWNER_LEN_MAX):
            raise GenesisError(f"{where}.owner {key.owner!r} is not a valid name")
        if not key.roles:
            raise GenesisError(f"{where}.roles: key {key.public_key.hex()} has no role")
        owners[key.owner] = owners.get(key.owner, 0) | mask_of(key.roles)
    for owner, mask in owners.items():
        pair = incompatible_pair(mask)
        if pair is not None:
            raise GenesisError(f"owner {owner!r} would hold {pair[0].value} with {pair[1].value}")


def _validate_governance(genesis: Genesis) -> None:
    rules = genesis.governance
    if rules.threshold < 2:
        raise GenesisError("governance.threshold must be at least 2: no key acts alone")
    for field, (low, high) in GOVERNANCE_BOUNDS.items():
        value = getattr(rules, field)
        if not low <= value <= high:
            raise GenesisError(f"governance.{field} must be {low}..{high}, got {value}")
    # The threshold counts people: one owner's several governor keys are one vote.
    governors = len({key.owner: None for key in genesis.keys if Role.GOVERNOR in key.roles})
    if governors < rules.threshold:
        raise GenesisError(
            f"{governors} governor owners cannot reach a threshold of {rules.threshold}"
        )
    if rules.approval_ttl_ns <= rules.timelock_ns:
        raise GenesisError("governance.approval_ttl_ns: approvals must outlive the timelock")


def _validate_instruments(genesis: Genesis) -> None:
    if len(genesis.instruments) > INSTRUMENTS_MAX:
        raise GenesisError(
            f"instruments must list at most {INSTRUMENTS_MAX}, got {len(genesis.instruments)}"
        )
    ids: dict[str, None] = {}
    for number, spec in enumerate(genesis.instruments):
        where = f"instruments[{number}]"
        try:
            validate_spec(spec)
        except InstrumentSpecError as exc:
            raise GenesisError(f"{where}: {exc}") from exc
        if spec.id in ids:
            raise GenesisError(f"{where}: instrument {spec.id} listed twice")
        if spec.settlement_asset != genesis.config.settlement_asset:
            raise GenesisError(
                f"{where}: {spec.id} settles in {spec.settlement_asset}, not the venue's asset"
            )
        ids[spec.id] = None


def _validate_risk_config(config: EngineConfig) -> None:
    if not is_valid_symbol(config.settlement_asset):
        raise GenesisError(
            f"config.settlement_asset {config.settlement_asset!r} must be 1 to {ID_MAX_LEN} "
            "of A-Z, 0-9, '-', '_', '.', starting with a letter or digit"
        )
    if not is_valid_name(config.insurance_account, OWNER_LEN_MAX):
        raise GenesisError(
            f"config.insurance_account {config.insurance_account!r} is not a valid name"
        )
    problems = config_problems(config)
    if problems:
        raise GenesisError(problems[0])
    p = config.portfolio
    if p.extreme_multiple * p.price_scan_bps >= 10_000:
        raise GenesisError(
            "config.portfolio.extreme_multiple: extreme moves "
            "(extreme_multiple * price_scan_bps) must stay below 100 %"
        )


def genesis_digest(genesis: Genesis) -> bytes:
    """SHA-256 of the genesis, less how often a process sweeps its invariants (a
    self-check that replicas may run at different rates and still agree)."""
    config = msgspec.structs.replace(genesis.config, invariant_sweep_interval_txs=0)
    canonical = msgspec.structs.replace(genesis, config=config)
    return hashlib.sha256(msgspec.msgpack.encode(canonical)).digest()


class _GenesisKeyJson(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    public_key: str
    owner: str
    roles: tuple[Role, ...]


class _GenesisJson(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A genesis file as written: public keys as hex."""

    venue_id: str
    keys: tuple[_GenesisKeyJson, ...]
    instruments: tuple[Instrument, ...]
    governance: GovernanceRules = GovernanceRules()
    config: EngineConfig = EngineConfig()


GENESIS_JSON_BYTES_MAX: Final = 16 * 2**20


def decode_genesis_json(data: bytes) -> Genesis:
    """Read a genesis file (JSON, public keys as hex) and validate it.

    Decoding follows the schema from the first byte, so a value of the wrong shape
    (`"keys": 5`, nesting where a number belongs) stops at its path (`$.keys`), and
    every integer is then held to its bounds: any fault is a GenesisError."""
    if len(data) > GENESIS_JSON_BYTES_MAX:
        raise GenesisError(f"a genesis file is at most {GENESIS_JSON_BYTES_MAX} bytes")
    try:
        document = msgspec.json.decode(data, type=_GenesisJson)
    except msgspec.ValidationError as exc:
        raise GenesisError(f"not a genesis: {exc}") from None
    except msgspec.DecodeError as exc:
        raise GenesisError(f"not JSON: {exc}") from None
    keys: list[GenesisKey] = []
    for number, key in enumerate(document.keys):
        try:
            public_key = bytes.fromhex(key.public_key)
        except ValueError:
            raise GenesisError(f"keys[{number}].public_key is not hex") from None
        keys.append(GenesisKey(public_key, key.owner, key.roles))
    return validate_genesis(
        Genesis(
            document.venue_id,
            tuple(keys),
            document.instruments,
            document.governance,
            document.config,
        )
    )
