"""A genesis is refused on entry, naming the field, whatever is wrong with it.

Each integer field has a documented range (docs/genesis.md), names follow one
charset, keys must be keys a signature can verify under, and a genesis file of the
wrong shape, with numbers beyond 64 bits or nested without end, is a GenesisError
with the field's path, never an OverflowError, TypeError or RecursionError.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from clearhouse.core import EngineConfig, GenesisError, decode_genesis_json
from clearhouse.core.config import CONFIG_BOUNDS, PortfolioParams
from clearhouse.core.genesis import GOVERNANCE_BOUNDS, GovernanceRules, validate_genesis
from clearhouse.core.instruments import Instrument, InstrumentSpecError, validate_spec
from clearhouse.genesis_cli import encode_genesis_json
from clearhouse.testing import standard_genesis

DOC = Path(__file__).parents[2] / "docs" / "genesis.md"
GENESIS = standard_genesis(["alice", "bob"])
HUGE = 2**200


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(encode_genesis_json(GENESIS))
    return loaded


def refused(raw: object) -> str:
    """The GenesisError message for a genesis file holding `raw`."""
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    with pytest.raises(GenesisError) as caught:
        decode_genesis_json(data)
    return str(caught.value)


def int_fields(struct: type[msgspec.Struct]) -> list[str]:
    return [f.name for f in msgspec.structs.fields(struct) if f.type is int]


def test_the_written_genesis_reads_back() -> None:
    assert decode_genesis_json(encode_genesis_json(GENESIS)) == GENESIS


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tx_lifetime_ns_max", -1),
        ("accounts_max", -5),
        ("orders_per_account_max", -1),
        ("depth_levels_max", 0),
        ("invariant_sweep_interval_txs", -1),
        ("accounts_max", HUGE),
    ],
)
def test_the_reported_config_values_are_refused_naming_the_field(field: str, value: int) -> None:
    raw = document()
    raw["config"][field] = value
    assert f"config.{field} must be" in refused(raw)


def test_every_integer_field_has_bounds_and_the_defaults_lie_within() -> None:
    config_fields = [
        *int_fields(EngineConfig),
        *(f"portfolio.{name}" for name in int_fields(PortfolioParams)),
    ]
    assert sorted(CONFIG_BOUNDS) == sorted(config_fields)
    assert sorted(GOVERNANCE_BOUNDS) == sorted(int_fields(GovernanceRules))
    validate_genesis(standard_genesis(["alice"], config=EngineConfig()))
    for low, high in [*CONFIG_BOUNDS.values(), *GOVERNANCE_BOUNDS.values()]:
        assert 0 <= low <= high < 2**63


def _with(path: str, value: int) -> dict[str, Any]:
    raw = document()
    section, _, name = path.partition(".")
    owner = raw[section]
    while "." in name:
        head, _, name = name.partition(".")
        owner = owner.setdefault(head, {})
    owner[name] = value
    return raw


@pytest.mark.parametrize(
    "path",
    [*(f"config.{p}" for p in CONFIG_BOUNDS), *(f"governance.{p}" for p in GOVERNANCE_BOUNDS)],
)
def test_each_bound_is_enforced_just_beyond_it(path: str) -> None:
    section, _, field = path.partition(".")
    low, high = (CONFIG_BOUNDS if section == "config" else GOVERNANCE_BOUNDS)[field]
    for value in (low - 1, high + 1, HUGE, -HUGE):
        message = refused(_with(path, value))
        assert path in message, (value, message)


def test_the_doc_lists_every_bound() -> None:
    rows = re.findall(r"^\| `([a-z_.]+)` \| ([\d_]+) \| ([\d_]+) \|", DOC.read_text(), re.M)
    documented = {name: (int(low), int(high)) for name, low, high in rows}
    expected = {f"config.{k}": v for k, v in CONFIG_BOUNDS.items()}
    expected |= {f"governance.{k}": v for k, v in GOVERNANCE_BOUNDS.items()}
    assert documented == expected


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"venue_id": "v", "keys": 5, "instruments": []}, "$.keys"),
        ({"venue_id": "v", "keys": [], "instruments": [], "extra": 1}, "extra"),
        ({"venue_id": 7, "keys": [], "instruments": []}, "$.venue_id"),
        ([1, 2], "object"),
        ("genesis", "object"),
    ],
)
def test_a_document_of_the_wrong_shape_names_the_path(raw: object, path: str) -> None:
    assert path in refused(raw)


def test_deep_nesting_is_refused_without_recursion() -> None:
    deep = b'{"venue_id": "v", "keys": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    assert "$.keys" in refused(deep)
    assert "Expected `object`" in refused(b"[" * 200_000)
    assert "not JSON" in refused(b"\xff")


def test_a_key_that_is_not_hex_or_not_a_key_is_named() -> None:
    raw = document()
    raw["keys"][1]["public_key"] = "zz"
    assert "keys[1].public_key is not hex" in refused(raw)
    raw["keys"][1]["public_key"] = "00" * 32  # a point of order 4
    assert "keys[1].public_key" in refused(raw) and "small order" in refused(raw)
    raw["keys"][1]["public_key"] = "02" + "00" * 31  # y = 2: off the curve
    assert "not a point of the curve" in refused(raw)
    raw["keys"][1]["public_key"] = "ff" * 31 + "7f"  # y >= p
    assert "canonical" in refused(raw)


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("id", "BTC PERP"),
        ("id", "BTC-\u200bPERP"),
        ("id", "btc-perp"),
        ("id", ""),
        ("id", "X" * 49),
        ("index", "BTC USD"),
        ("index", "BTC-USD\u200b"),
        ("settlement_asset", "US DC"),
    ],
)
def test_instrument_names_outside_the_charset_are_refused(field: str, name: str) -> None:
    raw = document()
    raw["instruments"][0][field] = name
    assert "instruments[0]" in refused(raw)


def test_names_inside_the_charset_are_accepted() -> None:
    spec = GENESIS.instruments[0]
    for name in ("A", "BTC-25DEC26-100000-C", "X" * 48, "SOL_USD.2"):
        validate_spec(msgspec.structs.replace(spec, id=name))


def test_the_settlement_asset_follows_the_charset() -> None:
    raw = document()
    raw["config"]["settlement_asset"] = "usd c"
    assert "config.settlement_asset" in refused(raw)


@pytest.mark.parametrize("field", int_fields(Instrument))
def test_every_instrument_integer_beyond_64_bits_is_refused(field: str) -> None:
    spec = msgspec.structs.replace(GENESIS.instruments[-1], **{field: HUGE})
    with pytest.raises(InstrumentSpecError):
        validate_spec(spec)
    raw = document()
    raw["instruments"][-1][field] = -HUGE
    assert "instruments[" in refused(raw)
