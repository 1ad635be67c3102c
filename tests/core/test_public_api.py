"""The public API is deliberate: exactly these names, sorted, each importable.

Adding or removing a public name is a decision: change the list here in the same
commit. `__all__` is kept in ruff's isort-style order (RUF022): SCREAMING_CASE
constants, then CamelCase classes, then everything else, each group alphabetical.
"""

from __future__ import annotations

import importlib
import types

import pytest

import clearhouse
import clearhouse.audit
import clearhouse.auth
import clearhouse.core

CORE_API = [
    "Accepted",
    "AccountFunded",
    "AccountOpened",
    "AccountView",
    "Action",
    "AddSubKey",
    "AmendOrder",
    "Approve",
    "ApproveWithdrawal",
    "CancelAll",
    "CancelOrder",
    "CancelProposal",
    "CancelReason",
    "CircuitBreakerTripped",
    "Deposit",
    "Deposited",
    "Depth",
    "DepthLevel",
    "Engine",
    "EngineConfig",
    "EngineFault",
    "ErrorCode",
    "Event",
    "ExecuteProposal",
    "ExpiryQuote",
    "ExpiryQuoted",
    "FundingPaid",
    "FundingTick",
    "Genesis",
    "GenesisError",
    "GenesisKey",
    "GovernanceRules",
    "GrantRole",
    "HaltMarket",
    "HaltReason",
    "IndexClamped",
    "IndexPriceUpdated",
    "Instrument",
    "InstrumentListed",
    "InstrumentSettled",
    "InstrumentSpecError",
    "KeyRotated",
    "KillSwitch",
    "KillSwitchSet",
    "Kind",
    "Liquidate",
    "LiquidationEnded",
    "LiquidationFeeCharged",
    "LiquidationStarted",
    "ListInstrument",
    "LossSocialized",
    "MMPReset",
    "MMPSet",
    "MMPTripped",
    "MarginCallEnded",
    "MarginCallStarted",
    "MarginMode",
    "MarginModeSet",
    "MarkPriceUpdated",
    "MarkView",
    "MarketHalted",
    "MarketResumed",
    "OptionType",
    "OracleObserved",
    "OracleUpdate",
    "OrderAccepted",
    "OrderAmended",
    "OrderCancelled",
    "OrderReduced",
    "OrderRested",
    "OrderType",
    "Outcome",
    "Payload",
    "PlaceOrder",
    "PortfolioParams",
    "PositionDeleveraged",
    "PositionSettled",
    "PositionTakenOver",
    "PositionView",
    "ProposalApproved",
    "ProposalCancelled",
    "ProposalExecuted",
    "ProposalOpened",
    "Propose",
    "Rejected",
    "Rejection",
    "ResetMMP",
    "ResumeMarket",
    "RevokeRole",
    "RevokeSubKey",
    "RiskParamsSet",
    "Role",
    "RoleGranted",
    "RoleRevoked",
    "RotateKey",
    "RotateSubKey",
    "SelfTradePrevention",
    "Sequenced",
    "SetMMP",
    "SetMarginMode",
    "SetRiskParams",
    "SettleExpiry",
    "Side",
    "SubKeyAdded",
    "SubKeyRevoked",
    "SubKeyRotated",
    "SubKeyScope",
    "TimeInForce",
    "TradeExecuted",
    "Transaction",
    "Transfer",
    "Transferred",
    "Withdraw",
    "WithdrawalCancelled",
    "WithdrawalRequested",
    "Withdrawn",
    "decode_genesis_json",
    "decode_transaction",
    "decode_transaction_json",
    "default_catalogue",
    "encode",
    "genesis_digest",
    "make_genesis",
]

AUTH_API = [
    "BatchVerifier",
    "Ed25519Signer",
    "HsmError",
    "KeyInfo",
    "Keystore",
    "KeystoreError",
    "KeystoreErrorCode",
    "Pkcs11Signer",
    "ScryptParams",
    "SignatureRejection",
    "Signer",
    "VerifierPool",
    "VerifierThreads",
    "WrongPassphrase",
    "generate_key",
    "rejection_reason",
    "sign_transaction",
    "signing_bytes",
    "verify",
    "verify_transaction",
]

AUDIT_API = [
    "BATCH_ENTRIES",
    "PAYLOAD_TAGS",
    "PROOF_FORMAT",
    "AuditError",
    "AuditFault",
    "AuditReport",
    "BatchVerifier",
    "CheckedProof",
    "JournalQuery",
    "Progress",
    "ProofError",
    "QueryFilter",
    "QueryMatch",
    "ReplayError",
    "ReplayResult",
    "audit_journal",
    "build_inclusion_proof",
    "check_inclusion_proof",
    "describe_fill",
    "describe_outcome",
    "describe_outcome_difference",
    "describe_payload",
    "fills_of",
    "format_ns",
    "in_process_verifier",
    "load_genesis",
    "log_origin",
    "payload_type",
    "plain",
    "plan_replay",
    "proof_from_json",
    "proof_to_json",
    "replay_journal",
    "run_replay",
]

PACKAGE_API = ["CORE_BUILD", "__version__"]

SEQUENCER_API = ["BATCH_TXS_MAX", "IN_FLIGHT_TXS_MAX", "Committed", "Sequencer", "Ticket"]

PACKAGES = [
    pytest.param("clearhouse.core", CORE_API, id="clearhouse.core"),
    pytest.param("clearhouse.auth", AUTH_API, id="clearhouse.auth"),
    pytest.param("clearhouse.audit", AUDIT_API, id="clearhouse.audit"),
    pytest.param("clearhouse.sequencer", SEQUENCER_API, id="clearhouse.sequencer"),
    pytest.param("clearhouse", PACKAGE_API, id="clearhouse"),
]


def isort_style_key(name: str) -> tuple[int, str]:
    if name.isupper():
        group = 0  # CONSTANT
    elif name[:1].isupper():
        group = 1  # Class
    else:
        group = 2  # function, dunder
    return group, name


def test_isort_style_key_orders_as_ruff_does() -> None:
    names = ["encode", "Engine", "GENESIS_HEAD", "__version__", "Accepted", "CORE_BUILD"]
    assert sorted(names, key=isort_style_key) == [
        "CORE_BUILD",
        "GENESIS_HEAD",
        "Accepted",
        "Engine",
        "__version__",
        "encode",
    ]
    assert sorted(["b", "a"], key=isort_style_key) != ["b", "a"]


@pytest.mark.parametrize(("module_name", "expected"), PACKAGES)
def test_all_is_exactly_the_expected_names(module_name: str, expected: list[str]) -> None:
    module = importlib.import_module(module_name)
    assert module.__all__ == expected


@pytest.mark.parametrize(("module_name", "expected"), PACKAGES)
def test_all_is_sorted_without_duplicates(module_name: str, expected: list[str]) -> None:
    names = importlib.import_module(module_name).__all__
    assert names == sorted(names, key=isort_style_key)
    assert len(set(names)) == len(names)
    assert expected == sorted(expected, key=isort_style_key)


@pytest.mark.parametrize(("module_name", "expected"), PACKAGES)
def test_every_name_is_importable(module_name: str, expected: list[str]) -> None:
    module = importlib.import_module(module_name)
    for name in expected:
        assert getattr(module, name, None) is not None, f"{module_name}.{name} is missing"
        namespace: dict[str, object] = {}
        exec(f"from {module_name} import {name}", namespace)
        assert namespace[name] is getattr(module, name)


@pytest.mark.parametrize(("module_name", "expected"), PACKAGES)
def test_star_import_gives_exactly_all(module_name: str, expected: list[str]) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {module_name} import *", namespace)
    namespace.pop("__builtins__")
    assert sorted(namespace) == sorted(expected)


@pytest.mark.parametrize(
    ("module_name", "expected"),
    [
        pytest.param("clearhouse.core", CORE_API, id="clearhouse.core"),
        pytest.param("clearhouse.auth", AUTH_API, id="clearhouse.auth"),
        pytest.param("clearhouse.audit", AUDIT_API, id="clearhouse.audit"),
        pytest.param("clearhouse.sequencer", SEQUENCER_API, id="clearhouse.sequencer"),
    ],
)
def test_no_public_name_outside_all(module_name: str, expected: list[str]) -> None:
    """Everything public on the package is listed: nothing leaks by accident."""
    module = importlib.import_module(module_name)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(expected)


def test_exported_names_are_the_objects_of_their_home_modules() -> None:
    """Each name is the real object, not a copy: e.g. the engine's own ErrorCode."""
    from clearhouse.audit.report import AuditReport
    from clearhouse.audit.verify import audit_journal
    from clearhouse.auth.ed25519 import verify
    from clearhouse.auth.signing import Ed25519Signer
    from clearhouse.core.engine import Engine
    from clearhouse.core.errors import ErrorCode
    from clearhouse.core.genesis import Genesis
    from clearhouse.core.roles import Role
    from clearhouse.core.txs import Sequenced

    assert clearhouse.core.Engine is Engine
    assert clearhouse.core.ErrorCode is ErrorCode
    assert clearhouse.core.Sequenced is Sequenced
    assert clearhouse.core.Genesis is Genesis
    assert clearhouse.core.Role is Role
    assert clearhouse.auth.verify is verify
    assert clearhouse.auth.Ed25519Signer is Ed25519Signer
    assert clearhouse.audit.audit_journal is audit_journal
    assert clearhouse.audit.AuditReport is AuditReport
    assert isinstance(clearhouse.__version__, str)
