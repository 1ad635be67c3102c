"""`clearhouse accounts` end to end: a real venue onboards a brand-new owner by
governance, and the owner's key, refused before, trades after.

Two venues: one of our own, whose genesis has no timelock and whose governors'
keys are in a keystore, where `add` runs the whole grant; and the development
venue, whose one-day timelock leaves the grant for `execute` to finish."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from served import Server
from typer.testing import CliRunner, Result

from clearhouse.auth.keystore import Keystore, ScryptParams
from clearhouse.auth.signing import Ed25519Signer, Signer
from clearhouse.cli import app
from clearhouse.client import ApiReceipt, VenueClient
from clearhouse.core import (
    Approve,
    Deposit,
    GenesisKey,
    GovernanceRules,
    GrantRole,
    OracleUpdate,
    PlaceOrder,
    Propose,
    Role,
    Side,
    make_genesis,
)
from clearhouse.genesis_cli import encode_genesis_json
from clearhouse.testing import CUSTODIAN, ORACLE, signer_for

USD = 10**6
PASSPHRASE_ENV = "CLEARHOUSE_ACCOUNTS_TEST_PASS"
PASSPHRASE = "a passphrase for the test governors"
OWN_VENUE_ID = "clearhouse-own"
GOVERNOR_KEYS = ("gov-1", "gov-2")
runner = CliRunner()


class OwnVenue:
    """A served venue of our own: no timelock, its two governors in a keystore."""

    def __init__(self, server: Server, keystore: Path) -> None:
        self.url = server.url
        self.keystore = keystore

    def accounts(self, *args: str, governors: tuple[str, ...] = GOVERNOR_KEYS) -> Result:
        chosen = [word for name in governors for word in ("--governor-key", name)]
        where = ["--keystore", str(self.keystore), "--passphrase-env", PASSPHRASE_ENV]
        return accounts(*args, "--venue", self.url, *chosen, *where)

    def key(self, name: str) -> Signer:
        """A key of the keystore: a governor's, or one `add --new-key` made."""
        return Keystore(self.keystore).load_signer(name, PASSPHRASE)


@pytest.fixture
def own_venue(serve: type[Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OwnVenue:
    keystore = tmp_path / "keys"
    store = Keystore(keystore, scrypt=ScryptParams(n=2**10))
    public = {
        name: store.create(name, PASSPHRASE).public_key for name in ("operator", *GOVERNOR_KEYS)
    }
    keys = [GenesisKey(bytes.fromhex(public[g]), g, (Role.GOVERNOR,)) for g in GOVERNOR_KEYS]
    keys.append(GenesisKey(signer_for(CUSTODIAN).public_key(), CUSTODIAN, (Role.CUSTODIAN,)))
    keys.append(GenesisKey(signer_for(ORACLE).public_key(), ORACLE, (Role.ORACLE,)))
    rules = GovernanceRules(threshold=2, timelock_ns=0, approval_ttl_ns=3_600 * 10**9)
    genesis = tmp_path / "genesis.json"
    genesis.write_bytes(
        encode_genesis_json(make_genesis(OWN_VENUE_ID, tuple(keys), governance=rules))
    )
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)  # the served venue reads it too
    server = serve(
        tmp_path / "venue",
        *("--genesis", str(genesis), "--keystore", str(keystore)),
        *("--passphrase-env", PASSPHRASE_ENV),
    )
    mark_btc(server.url)
    return OwnVenue(server, keystore)


def accounts(*args: str) -> Result:
    return runner.invoke(
        app, ["accounts", *args], env={PASSPHRASE_ENV: PASSPHRASE, "COLUMNS": "200"}
    )


def fresh_key() -> Ed25519Signer:
    return Ed25519Signer(Ed25519PrivateKey.generate())


def mark_btc(url: str) -> None:
    with VenueClient(url, signer_for(ORACLE)) as oracle:
        assert oracle.submit(OracleUpdate("BTC-USD", 100_000 * USD, time.time_ns())).accepted


def fund(url: str, account: str) -> None:
    with VenueClient(url, signer_for(CUSTODIAN)) as custody:
        receipt = custody.submit(Deposit(account, "USDC", 1_000_000 * USD))
    assert receipt.accepted, receipt.error


def bid(url: str, signer: Signer, account: str) -> ApiReceipt:
    """`account` bids for one lot of BTC-PERP well below the mark: it rests."""
    with VenueClient(url, signer) as client:
        return client.submit(PlaceOrder(account, "BTC-PERP", Side.BUY, 1, price=90_000 * USD))


def refusal(receipt: ApiReceipt) -> str | None:
    """The name of the code a journaled transaction was refused with."""
    assert not receipt.accepted and receipt.journaled, receipt
    return receipt.error.name if receipt.error else None


def seq(url: str) -> int:
    with VenueClient(url) as reader:
        return int(reader.venue()["seq"])


def refused(result: Result, *expected: str) -> str:
    """The one error line of a refused command (exit status 2)."""
    shown = f"exit {result.exit_code}\n{result.output}"
    assert result.exit_code == 2, shown
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), shown
    for text in expected:
        assert text in lines[0], shown
    return lines[0]


def test_a_new_owner_trades_once_added_and_not_before(own_venue: OwnVenue) -> None:
    url = own_venue.url
    carol = fresh_key()
    fund(url, "carol")
    before = bid(url, carol, "carol")
    assert refusal(before) == "UNKNOWN_SIGNER"

    result = own_venue.accounts("add", "carol", "--public-key", carol.public_key().hex())

    assert result.exit_code == 0, result.output
    proposed, approved, executed = result.stdout.splitlines()
    proposal_id = before.seq + 1
    short = carol.public_key().hex()[:8] + "…"
    assert proposed == (
        f"proposed at seq {proposal_id}: trader for carol, key {short} (proposal {proposal_id})"
    )
    assert approved == f"approved at seq {proposal_id + 1} by gov-2 (2 of 2)"
    assert executed == f"executed at seq {proposal_id + 2}: carol may now trade with key {short}"
    after = bid(url, carol, "carol")
    assert after.accepted, after.error
    assert [event["event"] for event in after.events] == ["order_accepted", "order_rested"]
    with VenueClient(url) as reader:
        assert reader.book("BTC-PERP")["bids"] == [[90_000 * USD, 1, 1]]


def test_json_names_the_proposal_and_the_seq_of_each_step(own_venue: OwnVenue) -> None:
    maker = fresh_key()
    start = seq(own_venue.url)

    result = own_venue.accounts(
        "add",
        "desk-mm",
        "--public-key",
        maker.public_key().hex(),
        "--role",
        "market_maker",
        "--json",
    )

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown == {
        "owner": "desk-mm",
        "public_key": maker.public_key().hex(),
        "role": "market_maker",
        "proposal_id": start + 1,
        "proposed_seq": start + 1,
        "approved_seqs": [start + 2],
        "executed_seq": start + 3,
        "executable_from_ns": shown["executable_from_ns"],
        "expires_ns": shown["executable_from_ns"] + 3_600 * 10**9,  # no timelock, 1 h ttl
    }
    fund(own_venue.url, "desk-mm")
    assert bid(own_venue.url, maker, "desk-mm").accepted


def test_new_key_creates_the_owners_key_in_the_keystore(own_venue: OwnVenue) -> None:
    result = own_venue.accounts("add", "erin", "--new-key", "erin-trading")

    assert result.exit_code == 0, result.output
    erin = own_venue.key("erin-trading")
    assert result.stdout.splitlines()[-1].endswith(erin.public_key().hex()[:8] + "…")
    fund(own_venue.url, "erin")
    assert bid(own_venue.url, erin, "erin").accepted


def test_execute_finishes_an_approved_proposal(own_venue: OwnVenue) -> None:
    frank = fresh_key()
    grant = GrantRole(frank.public_key(), "frank", Role.TRADER)
    with VenueClient(own_venue.url, own_venue.key("gov-1")) as proposer:
        proposal_id = proposer.submit(Propose(grant)).seq
    with VenueClient(own_venue.url, own_venue.key("gov-2")) as approver:
        assert approver.submit(Approve(proposal_id)).accepted

    result = own_venue.accounts("execute", str(proposal_id), governors=("gov-1",))

    assert result.exit_code == 0, result.output
    short = frank.public_key().hex()[:8] + "…"
    assert result.stdout == (
        f"executed at seq {proposal_id + 2}: frank may now trade with key {short}\n"
    )
    fund(own_venue.url, "frank")
    assert bid(own_venue.url, frank, "frank").accepted


def test_what_cannot_be_done_is_refused_before_anything_is_sent(own_venue: OwnVenue) -> None:
    url = own_venue.url
    key = fresh_key().public_key().hex()
    start = seq(url)
    # A venue of our own has no demo keys, and needs as many governors as its threshold.
    line = refused(accounts("add", "gina", "--public-key", key, "--venue", url), "--governor-key")
    assert f"venue {OWN_VENUE_ID!r}, not the development venue" in line
    refused(own_venue.accounts("add", "gina", "--public-key", key, governors=("gov-1",)), "needs 2")
    refused(
        own_venue.accounts("add", "gina", "--public-key", key, governors=("gov-9",)),
        "key_not_found",
    )
    refused(own_venue.accounts("add", "gina", "--new-key", "gov-1"), "in the keystore already")
    assert seq(url) == start


def test_a_refusal_by_the_venue_is_one_line_with_its_code(own_venue: OwnVenue) -> None:
    holly = fresh_key().public_key().hex()
    assert own_venue.accounts("add", "holly", "--public-key", holly).exit_code == 0
    start = seq(own_venue.url)

    taken = own_venue.accounts("add", "ivan", "--public-key", holly)

    refused(taken, "the venue refused the proposal", "INVALID_ACTION (", "belongs to 'holly'")
    assert seq(own_venue.url) == start + 1  # journaled as refused; the state is unchanged
    missing = own_venue.accounts("execute", "999999", governors=("gov-1",))
    refused(missing, "refused to execute proposal 999999", "UNKNOWN_PROPOSAL")


def test_on_the_dev_venue_the_timelock_leaves_the_grant_to_execute(
    serve: type[Server],
) -> None:
    """The development venue's governance keeps the default one-day timelock: `add`
    proposes and approves with the demo governor keys and says how to finish."""
    server = serve()
    mark_btc(server.url)
    fund(server.url, "carol")
    carol = fresh_key()

    result = accounts(
        "add", "carol", "--public-key", carol.public_key().hex(), "--venue", server.url
    )

    assert result.exit_code == 0, result.output
    proposed, approved, timelock = result.stdout.splitlines()
    proposal_id = int(proposed.split()[3].rstrip(":"))
    assert approved == f"approved at seq {proposal_id + 1} by gov-b (2 of 2)"
    assert timelock.startswith("the timelock runs until ")
    finish = f" finish with: clearhouse accounts execute {proposal_id} --venue {server.url}"
    assert "; from then until " in timelock
    assert timelock.endswith(finish), timelock
    assert refusal(bid(server.url, carol, "carol")) == "UNKNOWN_SIGNER"  # not granted yet

    early = accounts("execute", str(proposal_id), "--venue", server.url)

    refused(early, "TIMELOCK_NOT_ELAPSED")
    assert refusal(bid(server.url, carol, "carol")) == "UNKNOWN_SIGNER"
    as_json = accounts(
        "add",
        "dave",
        "--public-key",
        fresh_key().public_key().hex(),
        "--venue",
        server.url,
        "--json",
    )
    shown = json.loads(as_json.stdout)
    assert shown["executed_seq"] is None and shown["approved_seqs"] == [shown["proposal_id"] + 1]
    day_ns = 86_400 * 10**9  # the default rules: a one-day timelock, a week to act
    assert shown["executable_from_ns"] > time.time_ns() + day_ns - 60 * 10**9
    assert shown["expires_ns"] == shown["executable_from_ns"] + 6 * day_ns
