"""Deterministic keys and a ready-made venue for tests, examples and benchmarks.

`signer_for(name)` derives an Ed25519 key from a name, so a test, a benchmark and
a replay in another process all hold the same keys without sharing files. These
keys are public knowledge by construction: never use them for anything real.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearhouse.auth.signing import Ed25519Signer
from clearhouse.core import (
    Approve,
    CancelProposal,
    Deposit,
    EngineConfig,
    ExecuteProposal,
    ExpiryQuote,
    FundingTick,
    Genesis,
    GenesisKey,
    GovernanceRules,
    HaltMarket,
    Instrument,
    Liquidate,
    OracleUpdate,
    Outcome,
    Payload,
    Propose,
    ResumeMarket,
    Role,
    Sequenced,
    SettleExpiry,
    Transaction,
    make_genesis,
)
from clearhouse.core.authority import owner_of
from clearhouse.venue import Client

GOVERNORS: Final = ("gov-a", "gov-b", "gov-c")
CUSTODIAN: Final = "custody"
ORACLE: Final = "oracle"
KEEPER: Final = "keeper"
RISK_OFFICER: Final = "risk-officer"
VENUE_ID: Final = "clearhouse-test"
_GOVERNANCE_TYPES: Final = (Propose, Approve, CancelProposal, ExecuteProposal)
_KEEPER_TYPES: Final = (Liquidate, SettleExpiry, FundingTick)


def signer_for(name: str) -> Ed25519Signer:
    seed = hashlib.sha256(b"clearhouse/test-key/" + name.encode()).digest()
    return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(seed))


def standard_genesis(
    traders: Iterable[str],
    instruments: tuple[Instrument, ...] | None = None,
    config: EngineConfig | None = None,
    governance: GovernanceRules | None = None,
    venue_id: str = VENUE_ID,
    market_makers: Iterable[str] = (),
    oracles: Iterable[str] = (),
    surveillance: Iterable[str] = (),
) -> Genesis:
    """Three governors (2 of 3), a custodian, an oracle, a keeper, a risk officer, and
    one key per trader (and per market maker, per further oracle source in
    `oracles`, per surveillance key in `surveillance`). Without a `config`, the per-key rate limit is off (tests and
    benchmarks drive thousands of orders a millisecond); every other default holds."""
    keys = [GenesisKey(signer_for(g).public_key(), g, (Role.GOVERNOR,)) for g in GOVERNORS]
    keys.append(GenesisKey(signer_for(CUSTODIAN).public_key(), CUSTODIAN, (Role.CUSTODIAN,)))
    keys.append(GenesisKey(signer_for(ORACLE).public_key(), ORACLE, (Role.ORACLE,)))
    keys.append(GenesisKey(signer_for(KEEPER).public_key(), KEEPER, (Role.KEEPER,)))
    keys.append(
        GenesisKey(signer_for(RISK_OFFICER).public_key(), RISK_OFFICER, (Role.RISK_OFFICER,))
    )
    keys += [GenesisKey(signer_for(t).public_key(), t, (Role.TRADER,)) for t in traders]
    keys += [GenesisKey(signer_for(m).public_key(), m, (Role.MARKET_MAKER,)) for m in market_makers]
    keys += [GenesisKey(signer_for(o).public_key(), o, (Role.ORACLE,)) for o in oracles]
    keys += [GenesisKey(signer_for(s).public_key(), s, (Role.SURVEILLANCE,)) for s in surveillance]
    if config is None:
        config = EngineConfig(rate_limit_messages=0)
    return make_genesis(venue_id, tuple(keys), instruments, governance, config)


def default_signer_name(payload: Payload) -> str:
    """Who normally signs a payload: the custodian, the oracle, a governor, or the owner."""
    if isinstance(payload, Deposit):
        return CUSTODIAN
    if isinstance(payload, OracleUpdate):
        return ORACLE
    if isinstance(payload, _GOVERNANCE_TYPES):
        return GOVERNORS[0]
    if isinstance(payload, _KEEPER_TYPES):
        return KEEPER
    if isinstance(payload, (HaltMarket, ResumeMarket)):
        return RISK_OFFICER
    account = getattr(payload, "account", None) or getattr(payload, "source", None)
    if not isinstance(account, str):
        raise ValueError(f"no default signer for {type(payload).__name__}")
    return owner_of(account)


class TestVenue:
    """An engine with deterministic keys, a controllable clock, real signatures.

    `apply(payload)` signs with the payload's usual signer (or `by=`), verifies the
    signature with the venue's rule set, sequences and applies it.
    """

    __test__ = False  # not a pytest class

    def __init__(
        self, genesis: Genesis, start_ns: int = 1_700_000_000 * 10**9, step_ns: int = 1_000
    ) -> None:
        from clearhouse.auth.verifier import verify_transaction
        from clearhouse.core import Engine

        self.genesis = genesis
        self.engine = Engine(genesis)
        self.now_ns = start_ns
        self.step_ns = step_ns
        self.clients: dict[str, Client] = {}
        self._verify = verify_transaction

    def client(self, name: str) -> Client:
        client = self.clients.get(name)
        if client is None:
            client = self.clients[name] = Client(signer_for(name), self.genesis.venue_id)
        return client

    def sign(self, payload: Payload, by: str | None = None) -> Transaction:
        return self.client(by or default_signer_name(payload)).sign(payload, self.now_ns)

    def apply(self, payload: Payload, by: str | None = None, at_ns: int | None = None) -> Outcome:
        if at_ns is not None:
            self.now_ns = at_ns
        else:
            self.now_ns += self.step_ns
        return self.submit(self.sign(payload, by))

    def oracle(
        self,
        index: str,
        price: int,
        expiries: tuple[ExpiryQuote, ...] = (),
        by: str = ORACLE,
        at_ns: int | None = None,
    ) -> Outcome:
        """An oracle update observed at the moment it is sequenced."""
        at = self.now_ns + self.step_ns if at_ns is None else at_ns
        return self.apply(OracleUpdate(index, price, at, expiries), by=by, at_ns=at)

    def submit(self, tx: Transaction, at_ns: int | None = None) -> Outcome:
        """Sequence and apply an already-built transaction (crafted ones included)."""
        if at_ns is not None:
            self.now_ns = at_ns
        valid = self._verify(self.genesis.venue_id, tx)
        return self.engine.apply(Sequenced(self.engine.seq + 1, self.now_ns, tx), valid)
