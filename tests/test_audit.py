"""`clearhouse audit` and `clearhouse replay` on a real journal, clean and tampered with.

One signed session (deposits, quotes, trades, a forged signature, cancels, an oracle
move, a withdrawal) is journaled to SQLite with small checkpoint and snapshot
intervals. Each tamper test copies the file, changes it with sqlite3 directly, and
checks that `audit verify` exits non-zero naming exactly the first bad entry (or
checkpoint).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner, Result

from clearhouse import audit_cli
from clearhouse.audit import (
    JournalQuery,
    QueryFilter,
    audit_journal,
    build_inclusion_proof,
    proof_to_json,
)
from clearhouse.auth.verifier import verify_transaction
from clearhouse.cli import app
from clearhouse.core import (
    Accepted,
    CancelAll,
    CancelOrder,
    Deposit,
    Engine,
    ErrorCode,
    Genesis,
    OracleUpdate,
    Payload,
    PlaceOrder,
    Rejected,
    Sequenced,
    Side,
    TradeExecuted,
    Transaction,
    Withdraw,
)
from clearhouse.core.codec import decode_outcome, encode
from clearhouse.journal import (
    Checkpoint,
    InclusionProof,
    Journal,
    NoteVerifier,
    SqliteJournal,
    sign_checkpoint,
    time_extension,
)
from clearhouse.journal.journal import snapshot_blob
from clearhouse.testing import TestVenue, signer_for, standard_genesis

runner = CliRunner()
USD = 1_000_000
PX = 100_000 * USD
OPERATOR = "operator"
OPERATOR_KEY = NoteVerifier(OPERATOR, signer_for(OPERATOR).public_key()).verifier_string()


@dataclass(frozen=True)
class Built:
    path: Path
    genesis: Genesis
    sequenced: list[tuple[Transaction, int]]
    """Every journaled transaction with its sequencer timestamp, in seq order."""
    digest: bytes
    chain_head: bytes
    checkpoints: list[int]
    snapshots: list[int]
    proof_of_11: InclusionProof

    @property
    def size(self) -> int:
        return len(self.sequenced)


Step = tuple[Payload, str | None, bool]
"""A payload, who signs it (None: its usual signer), whether to forge the signature."""
OBSERVED_AT_SEQUENCING = 0
"""An oracle update's observation time to be stamped with its batch's sequencing time."""


def _session() -> list[list[Step]]:
    """The session, batch by batch (a batch is one group commit)."""

    def one(payload: Payload, by: str | None = None, forge: bool = False) -> list[Step]:
        return [(payload, by, forge)]

    quotes: list[Step] = [
        (PlaceOrder("mm", "BTC-PERP", Side.SELL, 10, price=PX + k * USD), None, False)
        for k in (1, 2, 3)
    ]
    quotes += [
        (PlaceOrder("mm", "BTC-PERP", Side.BUY, 10, price=PX - k * USD), None, False)
        for k in (1, 2, 3)
    ]
    return [
        one(Deposit("alice", "USDC", 10**6 * USD)),  # 1
        one(Deposit("bob", "USDC", 10**6 * USD)),  # 2
        one(Deposit("mm", "USDC", 10**7 * USD)),  # 3
        one(OracleUpdate("BTC-USD", PX, OBSERVED_AT_SEQUENCING)),  # 4
        quotes,  # 5..10: asks are orders 5, 6, 7; bids 8, 9, 10
        one(PlaceOrder("alice", "BTC-PERP", Side.BUY, 15, price=PX + 2 * USD)),  # 11: fills 5, 6
        one(PlaceOrder("bob", "BTC-PERP", Side.SELL, 12, price=PX - 2 * USD)),  # 12: fills 8, 9
        one(PlaceOrder("alice", "BTC-PERP", Side.BUY, 1, price=PX), forge=True),  # 13: forged
        one(CancelOrder("mm", order_id=7)),  # 14
        one(PlaceOrder("alice", "BTC-PERP", Side.BUY, 5, price=PX - USD)),  # 15: rests
        one(PlaceOrder("bob", "BTC-PERP", Side.SELL, 5, price=PX - USD)),  # 16: fills 15
        # 17: the perpetual marks at the index plus the book's premium, capped at 1 %:
        # a fall of 2,000 moves its mark although the book's mid stays at PX.
        one(OracleUpdate("BTC-USD", PX - 2_000 * USD, OBSERVED_AT_SEQUENCING)),
        one(CancelAll("mm")),  # 18: cancels 6, 9, 10
        [
            (Deposit("alice", "USDC", 1_000 * USD), None, False),  # 19
            (PlaceOrder("bob", "BTC-PERP", Side.SELL, 3, price=PX + 500 * USD), None, False),  # 20
            (Withdraw("alice", "USDC", 100 * USD), None, False),  # 21
            (PlaceOrder("mm", "BTC-PERP", Side.BUY, 2, price=PX - 1_000 * USD), None, False),  # 22
        ],
        one(PlaceOrder("alice", "BTC-PERP", Side.BUY, 3, price=PX + 500 * USD)),  # 23: fills 20
        one(CancelOrder("bob", order_id=999)),  # 24: unknown order
        [
            (PlaceOrder("mm", "BTC-PERP", Side.SELL, 4, price=PX + k * 100 * USD), None, False)
            for k in range(1, 7)
        ],  # 25..30
        one(PlaceOrder("bob", "BTC-PERP", Side.BUY, 6, price=PX + 200 * USD)),  # 31: fills 25, 26
    ]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    path = tmp_path_factory.mktemp("audit") / "journal.db"
    genesis = standard_genesis(["alice", "bob"], market_makers=["mm"])
    venue = TestVenue(genesis)
    journal = Journal(
        SqliteJournal(path),
        genesis,
        signer_for(OPERATOR),
        OPERATOR,
        clock=lambda: venue.now_ns,
        checkpoint_every=8,
        snapshot_every=16,
    )
    sequenced: list[tuple[Transaction, int]] = []
    for batch in _session():
        venue.now_ns += 1_000
        txs = []
        for given, by, forge in batch:
            payload = given
            if isinstance(given, OracleUpdate) and given.observed_ns == OBSERVED_AT_SEQUENCING:
                payload = msgspec.structs.replace(given, observed_ns=venue.now_ns)
            tx = venue.sign(payload, by)
            if forge:
                tx = msgspec.structs.replace(tx, signature=bytes(64))
            txs.append(tx)
        receipts = journal.submit(txs)
        sequenced += [(tx, venue.now_ns) for tx in txs]
        assert [r.seq for r in receipts] == list(
            range(len(sequenced) - len(txs) + 1, len(sequenced) + 1)
        )
    if journal.store.checkpoints()[-1][0] != journal.engine.seq:
        journal.checkpoint()
    proof = journal.prove(10)
    built = Built(
        path,
        genesis,
        sequenced,
        journal.engine.digest(),
        journal.engine.chain_head,
        [size for size, _ in journal.store.checkpoints()],
        sorted(seq for seq, _ in journal.store.snapshots()),
        proof,
    )
    journal.close()
    return built


def copy_of(built: Built, tmp_path: Path) -> Path:
    target = tmp_path / "copy.db"
    source = sqlite3.connect(built.path)
    dest = sqlite3.connect(target)
    source.backup(dest)
    source.close()
    dest.close()
    return target


def run_sql(path: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    db = sqlite3.connect(path)
    with db:
        for sql, params in statements:
            db.execute(sql, params)
    db.close()


def column(path: Path, name: str, seq: int) -> bytes:
    db = sqlite3.connect(path)
    (value,) = db.execute(f"SELECT {name} FROM entries WHERE seq = ?", (seq,)).fetchone()
    db.close()
    return bytes(value)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def verify(path: Path, *extra: str, key: str = OPERATOR_KEY) -> Result:
    return runner.invoke(
        app, ["audit", "verify", "--journal", str(path), "--operator-key", key, *extra]
    )


def fresh_digest(built: Built, upto: int) -> bytes:
    engine = Engine(built.genesis)
    for seq, (tx, ts) in enumerate(built.sequenced[:upto], start=1):
        engine.apply(Sequenced(seq, ts, tx), verify_transaction(built.genesis.venue_id, tx))
    return engine.digest()


# -- the session is what the tests assume ------------------------------------------------


def test_the_session_traded_checkpointed_and_snapshotted(built: Built) -> None:
    assert built.size == 31
    db = sqlite3.connect(built.path)
    outcomes = [decode_outcome(bytes(o)) for (o,) in db.execute("SELECT outcome FROM entries")]
    db.close()
    traded = [
        o.seq
        for o in outcomes
        if isinstance(o, Accepted) and any(isinstance(e, TradeExecuted) for e in o.events)
    ]
    assert traded == [11, 12, 16, 23, 31]
    refused = {o.seq: o.code for o in outcomes if isinstance(o, Rejected)}
    assert refused == {13: ErrorCode.BAD_SIGNATURE, 24: ErrorCode.UNKNOWN_ORDER}
    assert len(built.checkpoints) >= 3 and built.checkpoints[-1] == built.size
    assert built.snapshots, "the session should have taken a snapshot"
    assert fresh_digest(built, built.size) == built.digest


# -- verify: clean ---------------------------------------------------------------------


def test_a_clean_journal_verifies(built: Built) -> None:
    result = verify(built.path)
    assert result.exit_code == 0, result.output
    assert f"OK: {built.size} entries verified" in result.output
    assert built.digest.hex() in result.output
    assert built.chain_head.hex() in result.output
    assert f"{len(built.checkpoints)} of {len(built.checkpoints)} verified" in result.output
    assert "1 invalid" in result.output  # the forged signature, recorded as rejected


def test_a_clean_journal_verifies_on_a_pool_with_a_progress_bar(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_cli, "PROGRESS_MIN_ENTRIES", 1)
    result = verify(built.path, "--workers", "2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["entries"] == built.size
    assert report["digest"] == built.digest.hex()
    assert report["snapshots"] == len(built.snapshots)
    assert report["signatures_invalid"] == 1


def test_the_expected_genesis_is_checked(built: Built, tmp_path: Path) -> None:
    from clearhouse.genesis_cli import encode_genesis_json

    good = tmp_path / "good.json"
    good.write_bytes(encode_genesis_json(built.genesis))
    assert verify(built.path, "--genesis", str(good)).exit_code == 0
    other = tmp_path / "other.json"
    other.write_bytes(encode_genesis_json(standard_genesis(["carol"])))
    result = verify(built.path, "--genesis", str(other))
    assert result.exit_code == 1
    assert "genesis" in result.output


def test_an_unknown_journal_or_a_malformed_key_is_a_usage_error(
    built: Built, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.db"
    result = verify(missing)
    assert result.exit_code == 2
    assert "no journal" in result.output
    assert not missing.exists(), "auditing must not create a journal"
    assert verify(built.path, key="operator+00000000+AAAA").exit_code == 2


# -- verify: tampered --------------------------------------------------------------------


def expect_fault(path: Path, *needles: str) -> str:
    result = verify(path)
    assert result.exit_code == 1, result.output
    fault = next(line for line in result.output.splitlines() if line.startswith("FAULT"))
    for needle in needles:
        assert needle in fault, fault
    return fault


def test_a_flipped_signature_byte_in_a_transaction_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    tx = column(path, "tx", 11)
    run_sql(path, ("UPDATE entries SET tx = ? WHERE seq = 11", (flip(tx, len(tx) - 1),)))
    expect_fault(
        path,
        "entry 11 (seq 11): recorded outcome differs from re-execution",
        "signature does not verify",
        "Merkle leaf",
    )


def test_a_flipped_payload_byte_in_a_transaction_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    tx = column(path, "tx", 12)
    run_sql(path, ("UPDATE entries SET tx = ? WHERE seq = 12", (flip(tx, len(tx) // 3),)))
    expect_fault(path, "entry 12 (seq 12): ")


def test_a_flipped_outcome_byte_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    outcome = column(path, "outcome", 16)
    run_sql(
        path, ("UPDATE entries SET outcome = ? WHERE seq = 16", (flip(outcome, len(outcome) - 1),))
    )
    expect_fault(
        path,
        "entry 16 (seq 16): recorded outcome differs from re-execution",
        "is not SHA-256(previous head || recorded outcome)",
    )


def test_a_changed_fill_price_is_named_field_by_field(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    outcome = decode_outcome(column(path, "outcome", 11))
    raw = msgspec.to_builtins(outcome)
    raw["events"][1]["price"] += 500_000
    forged = msgspec.msgpack.encode(raw)
    run_sql(path, ("UPDATE entries SET outcome = ? WHERE seq = 11", (forged,)))
    expect_fault(
        path, "entry 11 (seq 11): recorded outcome differs from re-execution: events[1].price"
    )


def test_a_flipped_chain_head_byte_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    head = column(path, "chain_head", 9)
    run_sql(path, ("UPDATE entries SET chain_head = ? WHERE seq = 9", (flip(head, 0),)))
    expect_fault(path, "entry 9 (seq 9): recorded chain head", "differs from the re-executed")


def test_a_regressed_timestamp_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    run_sql(path, ("UPDATE entries SET timestamp_ns = 5 WHERE seq = 14", ()))
    expect_fault(path, "entry 14 (seq 14): timestamp 5 precedes the previous entry's")


def test_a_deleted_entry_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    run_sql(path, ("DELETE FROM entries WHERE seq = 20", ()))
    expect_fault(path, "entry 20 (seq 21): seq 20 is missing: seq 19 is followed by seq 21")


def test_two_entries_with_swapped_seqs_are_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    run_sql(
        path,
        ("UPDATE entries SET seq = -1 WHERE seq = 14", ()),
        ("UPDATE entries SET seq = 14 WHERE seq = 15", ()),
        ("UPDATE entries SET seq = 15 WHERE seq = -1", ()),
    )
    expect_fault(path, "entry 14 (seq 14): ")


def test_two_entries_with_swapped_contents_are_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    db = sqlite3.connect(path)
    rows = {
        seq: row
        for seq, *row in db.execute(
            "SELECT seq, timestamp_ns, tx, outcome, chain_head FROM entries WHERE seq IN (22, 23)"
        )
    }
    with db:
        for seq, other in ((22, 23), (23, 22)):
            db.execute(
                "UPDATE entries SET timestamp_ns = ?, tx = ?, outcome = ?, chain_head = ?"
                " WHERE seq = ?",
                (*rows[other], seq),
            )
    db.close()
    expect_fault(path, "entry 22 (seq 22): ")


def test_a_truncated_tail_under_a_checkpoint_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    end = built.size - 4
    run_sql(path, ("DELETE FROM entries WHERE seq > ?", (end,)))
    number, covering = next((i, s) for i, s in enumerate(built.checkpoints, 1) if s > end)
    expect_fault(
        path,
        f"entry {end + 1} (seq {end + 1}): missing: the journal ends at seq {end}",
        f"checkpoint {number} (tree size {covering}, signed by the operator)",
    )


def test_a_truncated_tail_with_its_checkpoint_is_found_by_the_stored_tree(
    built: Built, tmp_path: Path
) -> None:
    path = copy_of(built, tmp_path)
    end = built.size - 1
    run_sql(
        path,
        ("DELETE FROM entries WHERE seq > ?", (end,)),
        ("DELETE FROM checkpoints WHERE size > ?", (end,)),
    )
    expect_fault(path, f"entry {end + 1} (seq {end + 1}): missing", "stored Merkle tree holds")


def test_a_changed_stored_tree_node_is_found_at_the_entry_that_closes_it(
    built: Built, tmp_path: Path
) -> None:
    path = copy_of(built, tmp_path)
    # Node (1, 3) sits inside a run of level-1 hashes: zero its 32 bytes there.
    db = sqlite3.connect(path)
    first, hashes = db.execute(
        "SELECT first_idx, hashes FROM node_runs WHERE level = 1 AND first_idx <= 3"
        " ORDER BY first_idx DESC LIMIT 1"
    ).fetchone()
    db.close()
    at = (3 - first) * 32
    damaged = bytes(hashes[:at]) + bytes(32) + bytes(hashes[at + 32 :])
    run_sql(
        path,
        ("UPDATE node_runs SET hashes = ? WHERE level = 1 AND first_idx = ?", (damaged, first)),
    )
    # node (1, 3) covers leaves 6 and 7: it is closed by leaf 7, entry 8
    expect_fault(path, "entry 8 (seq 8): stored Merkle node (1, 3)")


def _replace_checkpoint(path: Path, size: int, note: bytes) -> None:
    run_sql(path, ("UPDATE checkpoints SET note = ? WHERE size = ?", (note, size)))


def _origin(built: Built) -> str:
    return f"clearhouse/{built.genesis.venue_id}"


def test_a_checkpoint_signed_by_another_key_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    size = built.checkpoints[1]
    db = sqlite3.connect(path)
    (note,) = db.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
    db.close()
    text = bytes(note)[: bytes(note).rfind(b"\n\n") + 1]
    from clearhouse.journal import parse_checkpoint_body

    genuine = parse_checkpoint_body(text)
    forged = sign_checkpoint(genuine, signer_for("mallory"), OPERATOR)  # same name, other key
    _replace_checkpoint(path, size, forged)
    expect_fault(
        path, f"checkpoint 2 (tree size {size}): the note is not signed by the operator key"
    )


def test_a_correctly_signed_checkpoint_of_a_forged_root_is_found(
    built: Built, tmp_path: Path
) -> None:
    path = copy_of(built, tmp_path)
    size = built.checkpoints[2]
    forged_root = bytes(range(32))
    note = sign_checkpoint(
        Checkpoint(_origin(built), size, forged_root, (time_extension(1),)),
        signer_for(OPERATOR),
        OPERATOR,
    )
    _replace_checkpoint(path, size, note)
    expect_fault(
        path, f"checkpoint 3 (tree size {size}): its signed root {forged_root.hex()} differs"
    )


def test_a_checkpoint_note_with_a_broken_signature_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    size = built.checkpoints[0]
    db = sqlite3.connect(path)
    (note,) = db.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
    db.close()
    text = bytes(note)  # the last base64 characters before "=\n" are signature bytes
    broken = text[:-10] + (b"A" if text[-10:-9] != b"A" else b"B") + text[-9:]
    _replace_checkpoint(path, size, broken)
    expect_fault(path, f"checkpoint 1 (tree size {size}): ")


def test_a_snapshot_of_another_state_is_found(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    seq = built.snapshots[0]
    engine = Engine(built.genesis)
    for at, (tx, ts) in enumerate(built.sequenced[:seq], start=1):
        # the same history but the forged order accepted as if its signature were valid
        engine.apply(Sequenced(at, ts, tx), True)
    run_sql(path, ("UPDATE snapshots SET data = ? WHERE seq = ?", (snapshot_blob(engine), seq)))
    expect_fault(path, f"snapshot at seq {seq}: it restores to state digest")


def test_the_first_fault_is_reported_when_there_are_several(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    run_sql(
        path,
        ("DELETE FROM entries WHERE seq = 25", ()),
        ("UPDATE entries SET chain_head = ? WHERE seq = 17", (bytes(32),)),
    )
    result = verify(path, "--json")
    assert result.exit_code == 1
    fault = json.loads(result.stdout)["fault"]
    assert fault["entry"] == 17 and fault["seq"] == 17 and fault["check"] == "execution"
    assert fault["message"].startswith("entry 17 (seq 17): ")


def test_the_library_report_matches_the_cli(built: Built) -> None:
    store = SqliteJournal(built.path)
    try:
        report = audit_journal(store, NoteVerifier.from_verifier_string(OPERATOR_KEY))
    finally:
        store.close()
    assert report.ok and report.entries == built.size and report.digest == built.digest
    assert report.checkpoints == len(built.checkpoints)
    assert report.unsigned_entries == 0


# -- proofs ------------------------------------------------------------------------------


def prove(path: Path, seq: int, out: Path) -> Result:
    return runner.invoke(
        app, ["audit", "prove", "--journal", str(path), "--entry", str(seq), "--out", str(out)]
    )


def check_proof(file: Path, *extra: str, key: str = OPERATOR_KEY) -> Result:
    return runner.invoke(app, ["audit", "check-proof", str(file), "--operator-key", key, *extra])


def test_a_proof_round_trips_through_the_cli_and_checks_offline(
    built: Built, tmp_path: Path
) -> None:
    out = tmp_path / "proof.json"
    result = prove(built.path, 11, out)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["leaf_index"] == 10 and doc["tree_size"] == built.size
    assert doc == proof_to_json(built.proof_of_11), "the store-built proof is Journal.prove's"
    offline = tmp_path / "elsewhere" / "proof.json"
    offline.parent.mkdir()
    offline.write_text(out.read_text())
    checked = check_proof(offline)
    assert checked.exit_code == 0, checked.output
    assert "proof OK: entry seq 11 (leaf 10)" in checked.output
    assert "place_order" in checked.output
    assert "fill  BTC-PERP 10 lots" in checked.output and "maker mm (order 5" in checked.output
    as_json = json.loads(check_proof(offline, "--json").stdout)
    assert as_json["ok"] and as_json["seq"] == 11 and as_json["type"] == "place_order"
    assert as_json["signature_valid"] is True
    assert as_json["outcome"]["type"] == "accepted"


def test_a_proof_with_a_flipped_byte_or_for_another_key_fails(built: Built, tmp_path: Path) -> None:
    out = tmp_path / "proof.json"
    assert prove(built.path, 16, out).exit_code == 0
    doc = json.loads(out.read_text())

    def variant(name: str, **change: object) -> Path:
        file = tmp_path / f"{name}.json"
        file.write_text(json.dumps({**doc, **change}))
        return file

    entry = bytes.fromhex(doc["entry"])
    bad_entry = variant("entry", entry=flip(entry, len(entry) // 2).hex())
    result = check_proof(bad_entry)
    assert result.exit_code == 1 and "not in the log" in result.output
    hashes = [bytes.fromhex(h) for h in doc["proof"]]
    bad_path = variant("path", proof=[flip(hashes[0], 3).hex(), *(h.hex() for h in hashes[1:])])
    assert check_proof(bad_path).exit_code == 1
    note = doc["checkpoint"]
    bad_note = variant("note", checkpoint=note.replace(f"\n{doc['tree_size']}\n", "\n1000\n", 1))
    result = check_proof(bad_note)
    assert result.exit_code == 1 and "checkpoint" in result.output
    other_key = NoteVerifier(OPERATOR, signer_for("mallory").public_key()).verifier_string()
    result = check_proof(out, key=other_key)
    assert result.exit_code == 1 and "not signed by the operator key" in result.output
    wrong_size = variant("size", tree_size=doc["tree_size"] - 1)
    assert check_proof(wrong_size).exit_code == 1
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    assert check_proof(garbage).exit_code == 2


def test_proving_an_entry_no_checkpoint_covers_fails(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    run_sql(path, ("DELETE FROM checkpoints WHERE size = ?", (built.size,)))
    result = prove(path, built.size, tmp_path / "p.json")
    assert result.exit_code == 1 and "no checkpoint covers entry" in result.output
    assert prove(path, 999, tmp_path / "p.json").exit_code == 1
    store = SqliteJournal(path)
    try:
        assert build_inclusion_proof(store, 3).tree_size == built.checkpoints[-2]
    finally:
        store.close()


def test_a_proof_from_a_tampered_store_is_refused(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    tx = column(path, "tx", 11)
    run_sql(path, ("UPDATE entries SET tx = ? WHERE seq = 11", (flip(tx, len(tx) - 1),)))
    result = prove(path, 11, tmp_path / "p.json")
    assert result.exit_code == 1 and "audit verify" in result.output


# -- query -------------------------------------------------------------------------------


def query(built: Built, *args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["audit", "query", "--journal", str(built.path), *args, "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def seqs(rows: list[dict[str, Any]]) -> list[int]:
    return [row["seq"] for row in rows]


def test_query_by_account(built: Built) -> None:
    # deposits 1 and 19, her orders 11, 13 (forged), 15, 23, her withdrawal 21, and 16
    # where bob's sell filled her resting order 15 (she is the maker there)
    assert seqs(query(built, "--account", "alice")) == [1, 11, 13, 15, 16, 19, 21, 23]


def test_query_by_order_id(built: Built) -> None:
    assert seqs(query(built, "--order-id", "6")) == [6, 11, 18]  # placed, part filled, cancelled
    assert seqs(query(built, "--order-id", "7")) == [7, 14]  # placed, cancelled by id
    assert seqs(query(built, "--order-id", "999")) == [24]  # the refused cancel names it


def test_query_by_type_instrument_and_time(built: Built) -> None:
    deposits = query(built, "--type", "deposit")
    assert seqs(deposits) == [1, 2, 3, 19]
    assert all(row["tx"]["payload"]["type"] == "deposit" for row in deposits)
    assert seqs(query(built, "--type", "deposit", "--type", "withdraw")) == [1, 2, 3, 19, 21]
    # oracle updates name the perpetual in their mark events
    assert seqs(query(built, "--instrument", "BTC-PERP", "--type", "oracle_update")) == [4, 17]
    assert query(built, "--instrument", "ETH-PERP", "--type", "deposit") == []
    times = {seq: ts for seq, (_, ts) in enumerate(built.sequenced, start=1)}
    window = seqs(query(built, "--from-ns", str(times[11]), "--to-ns", str(times[14])))
    assert window == [11, 12, 13]
    combined = query(
        built, "--account", "bob", "--type", "place_order", "--from-ns", str(times[16])
    )
    assert seqs(combined) == [16, 20, 23, 31]  # 23 filled bob's order 20
    row = combined[0]
    assert row["timestamp_ns"] == times[16] and len(row["chain_head"]) == 64
    assert any(e["event"] == "trade_executed" for e in row["outcome"]["events"])


def test_query_prints_a_table_and_refuses_unknown_types(built: Built) -> None:
    result = runner.invoke(app, ["audit", "query", "--journal", str(built.path), "--order-id", "5"])
    assert result.exit_code == 0, result.output
    assert f"2 of {built.size} entries" in result.output
    bad = runner.invoke(app, ["audit", "query", "--journal", str(built.path), "--type", "bogus"])
    assert bad.exit_code == 2 and "unknown transaction type bogus" in bad.output


def test_query_skips_undecodable_entries_and_says_so(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    run_sql(path, ("UPDATE entries SET tx = ? WHERE seq = 2", (b"\xc1",)))
    store = SqliteJournal(path)
    try:
        search = JournalQuery(store, QueryFilter(types=frozenset({"deposit"})))
        assert [m.entry.seq for m in search.run()] == [1, 3, 19]
        assert search.undecodable == [2]
    finally:
        store.close()


# -- replay ------------------------------------------------------------------------------


def replay(path: Path, *args: str) -> Result:
    return runner.invoke(app, ["replay", "--journal", str(path), *args])


@pytest.mark.parametrize("upto", [0, 7, 13, 20, 31])
def test_replay_to_a_seq_gives_the_state_a_fresh_engine_reaches(
    built: Built, tmp_path: Path, upto: int
) -> None:
    expected = fresh_digest(built, upto)
    for extra in ((), ("--from-genesis",)):
        out = tmp_path / "state.json"
        result = replay(built.path, "--to", str(upto), "--json", str(out), *extra)
        assert result.exit_code == 0, result.output
        state = json.loads(out.read_text())
        assert state["seq"] == upto
        assert state["digest"] == expected.hex()
        assert state["state"]["venue_id"] == built.genesis.venue_id
        assert all(isinstance(key[0], str) for key in state["state"]["keys"])  # hex, not bytes


def test_replay_starts_from_the_newest_snapshot_at_or_before_the_seq(built: Built) -> None:
    snapshot = built.snapshots[0]
    result = replay(built.path, "--to", str(snapshot + 2))
    assert result.exit_code == 0, result.output
    assert f"from the snapshot at seq {snapshot}: 2 entries re-executed" in result.output
    assert f"state digest {fresh_digest(built, snapshot + 2).hex()}" in result.output
    assert "alice" in result.output and "BTC-PERP" in result.output
    earlier = replay(built.path, "--to", str(snapshot - 1))
    assert f"from the genesis: {snapshot - 1} entries re-executed" in earlier.output


def test_replay_stops_at_an_entry_that_does_not_re_execute(built: Built, tmp_path: Path) -> None:
    path = copy_of(built, tmp_path)
    outcome = column(path, "outcome", 5)
    run_sql(
        path, ("UPDATE entries SET outcome = ? WHERE seq = 5", (flip(outcome, len(outcome) - 1),))
    )
    result = replay(path, "--to", "10", "--from-genesis")
    assert result.exit_code == 1
    assert "entry 5 (seq 5): recorded outcome differs from re-execution" in result.output
    assert replay(path, "--to", "4").exit_code == 0
    assert replay(built.path, "--to", str(built.size + 1)).exit_code == 2  # no such seq


def test_replay_to_a_seq_beyond_the_journal_says_so_once(built: Built) -> None:
    result = replay(built.path, "--to", "999")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: cannot replay to seq 999: the journal holds seq 1..{built.size}"
    )


def test_the_recorded_transactions_are_the_signed_ones(built: Built) -> None:
    db = sqlite3.connect(built.path)
    stored = [bytes(tx) for (tx,) in db.execute("SELECT tx FROM entries ORDER BY seq")]
    db.close()
    assert stored == [encode(tx) for tx, _ in built.sequenced]


# -- the log binds its genesis -----------------------------------------------------------


def _edit_genesis(path: Path, edit: Any) -> None:
    db = sqlite3.connect(path)
    (stored,) = db.execute("SELECT value FROM meta WHERE key = 'genesis'").fetchone()
    db.close()
    genesis = msgspec.msgpack.decode(bytes(stored), type=Genesis)
    run_sql(path, ("UPDATE meta SET value = ? WHERE key = 'genesis'", (encode(edit(genesis)),)))


def test_the_chain_starts_from_the_genesis_digest(built: Built) -> None:
    from clearhouse.core import genesis_digest
    from clearhouse.journal.entry import next_chain_head

    assert Engine(built.genesis).chain_head == genesis_digest(built.genesis)
    db = sqlite3.connect(built.path)
    outcome, head = db.execute("SELECT outcome, chain_head FROM entries WHERE seq = 1").fetchone()
    db.close()
    assert bytes(head) == next_chain_head(genesis_digest(built.genesis), bytes(outcome))


def _weaker_governance(genesis: Genesis) -> Genesis:
    rules = msgspec.structs.replace(genesis.governance, threshold=3, timelock_ns=0)
    return msgspec.structs.replace(genesis, governance=rules)


def _later_expiry(genesis: Genesis) -> Genesis:
    # An instrument the session never trades: re-execution alone could not tell.
    instruments = tuple(
        msgspec.structs.replace(i, expiry_ns=i.expiry_ns + 1) if i.id == "ETH-26MAR27" else i
        for i in genesis.instruments
    )
    return msgspec.structs.replace(genesis, instruments=instruments)


@pytest.mark.parametrize("edit", [_weaker_governance, _later_expiry])
def test_an_edited_genesis_breaks_the_chain_at_entry_1(
    built: Built, tmp_path: Path, edit: Any
) -> None:
    path = copy_of(built, tmp_path)
    _edit_genesis(path, edit)
    fault = expect_fault(
        path,
        "entry 1 (seq 1): recorded chain head",
        "is not SHA-256(genesis digest || recorded outcome)",
        "the chain does not start from the journal's genesis",
    )
    assert fault.startswith("FAULT [chain]")


def test_a_journal_whose_genesis_was_edited_does_not_start(built: Built, tmp_path: Path) -> None:
    from clearhouse.journal import JournalError

    path = copy_of(built, tmp_path)
    _edit_genesis(path, _weaker_governance)
    store = SqliteJournal(path)
    try:
        with pytest.raises(JournalError, match="entry 1 does not re-execute"):
            Journal(store, _weaker_governance(built.genesis), signer_for(OPERATOR), OPERATOR)
        store.close()
        run_sql(path, ("UPDATE meta SET value = ? WHERE key = 'genesis'", (b"\xc1",)))
        store = SqliteJournal(path)
        with pytest.raises(JournalError, match="the stored genesis does not decode"):
            Journal(store, built.genesis, signer_for(OPERATOR), OPERATOR)
    finally:
        store.close()


def _refused_genesis(genesis: Genesis) -> Genesis:
    config = msgspec.structs.replace(genesis.config, accounts_max=-5)
    return msgspec.structs.replace(genesis, config=config)


@pytest.mark.parametrize(
    ("stored", "why"),
    [
        (b"\xc1", "the stored genesis does not decode"),
        (encode(_refused_genesis(standard_genesis(["alice"]))), "config.accounts_max"),
    ],
)
def test_a_stored_genesis_that_starts_no_engine_is_one_fault_everywhere(
    built: Built, tmp_path: Path, stored: bytes, why: str
) -> None:
    """The journal is damaged, not the request: every reader says FAULT, exit 1."""
    path = copy_of(built, tmp_path)
    run_sql(path, ("UPDATE meta SET value = ? WHERE key = 'genesis'", (stored,)))
    results = _every_reader(path)
    # A proof needs only the entry, the tree and the note; a query needs the genesis
    # only to read its amounts, so it lists the entries of a genesis that decodes.
    assert results.pop("prove").exit_code == 0
    readers = (
        results
        if why.startswith("the stored genesis")
        else {command: results[command] for command in ("verify", "replay")}
    )
    for command, result in readers.items():
        line = _one_line_fault(result, "FAULT [genesis] genesis: ", why)
        if command != "verify":  # verify prints its report around the fault
            assert result.output.strip() == line, (command, result.output)


# -- checkpoints the auditor holds -------------------------------------------------------


def _note(path: Path, size: int) -> bytes:
    db = sqlite3.connect(path)
    (note,) = db.execute("SELECT note FROM checkpoints WHERE size = ?", (size,)).fetchone()
    db.close()
    return bytes(note)


def roll_back(path: Path, size: int) -> None:
    """What restoring an old copy of the journal gives: everything after `size` gone,
    the stored tree cut back to the nodes that `size` leaves close."""
    store = SqliteJournal(path)
    kept = [(lv, i, h) for lv, i, h in store.nodes() if i < size >> lv]
    store.close()
    runs: dict[int, list[bytes]] = {}
    for level, _, node in kept:
        runs.setdefault(level, []).append(node)
    run_sql(
        path,
        ("DELETE FROM entries WHERE seq > ?", (size,)),
        ("DELETE FROM checkpoints WHERE size > ?", (size,)),
        ("DELETE FROM snapshots WHERE seq > ?", (size,)),
        ("DELETE FROM node_runs", ()),
        *(
            ("INSERT INTO node_runs (level, first_idx, hashes) VALUES (?, 0, ?)", (lv, b"".join(h)))
            for lv, h in runs.items()
        ),
    )


def test_a_journal_rolled_back_behind_a_held_checkpoint_fails(built: Built, tmp_path: Path) -> None:
    held = tmp_path / "held.note"
    held.write_bytes(_note(built.path, built.checkpoints[-1]))
    assert verify(built.path, "--checkpoint", str(held)).exit_code == 0
    path = copy_of(built, tmp_path)
    back_to = built.checkpoints[-2]
    roll_back(path, back_to)
    alone = verify(path)
    assert alone.exit_code == 0, "without a held checkpoint a rollback looks like a shorter log"
    result = verify(path, "--checkpoint", str(held))
    assert result.exit_code == 1, result.output
    faults = [line for line in result.output.splitlines() if line.startswith("FAULT")]
    assert faults == [
        f"FAULT [missing] entry {back_to + 1} (seq {back_to + 1}): missing: the journal ends at "
        f"seq {back_to}, but the held checkpoint {held}, signed by the operator, covers entries "
        f"up to seq {built.size}: the journal was rolled back or truncated"
    ]


def test_a_held_checkpoint_must_match_the_journal(built: Built, tmp_path: Path) -> None:
    size = built.checkpoints[1]
    good = tmp_path / "good.note"
    good.write_bytes(_note(built.path, size))
    proof = tmp_path / "proof.json"
    assert prove(built.path, 3, proof).exit_code == 0  # a receipt's proof holds a checkpoint
    result = verify(built.path, "--checkpoint", str(good), "--checkpoint", str(proof), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["held_checkpoints"] == 2
    forked = tmp_path / "forked.note"
    root = bytes(range(32))
    forked.write_bytes(
        sign_checkpoint(Checkpoint(_origin(built), size, root), signer_for(OPERATOR), OPERATOR)
    )
    fault = verify(built.path, "--checkpoint", str(forked))
    assert fault.exit_code == 1
    assert f"FAULT [checkpoint] held checkpoint {forked} (tree size {size}): its signed root" in (
        fault.output
    )
    assert "rewritten or forked" in fault.output
    mallory = tmp_path / "mallory.note"
    mallory.write_bytes(
        sign_checkpoint(Checkpoint(_origin(built), size, root), signer_for("mallory"), OPERATOR)
    )
    unsigned = verify(built.path, "--checkpoint", str(mallory))
    assert unsigned.exit_code == 1 and "not signed by the operator key" in unsigned.output
    missing = verify(built.path, "--checkpoint", str(tmp_path / "nope.note"))
    assert missing.exit_code == 2 and "--checkpoint" in missing.output


@pytest.mark.parametrize("trailing", [b"\n", b"\n\n\n"])
def test_a_held_note_with_trailing_blank_lines_is_read_as_signed(
    built: Built, tmp_path: Path, trailing: bytes
) -> None:
    """What `sqlite3` prints, or a note copied from a terminal: one newline too many."""
    note = _note(built.path, built.checkpoints[-1])
    held = tmp_path / "held.note"
    held.write_bytes(note + trailing)
    result = verify(built.path, "--checkpoint", str(held), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["held_checkpoints"] == 1
    proof = tmp_path / "proof.json"
    assert prove(built.path, 3, proof).exit_code == 0
    doc = json.loads(proof.read_text())
    proof.write_text(json.dumps({**doc, "checkpoint": doc["checkpoint"] + trailing.decode()}))
    assert verify(built.path, "--checkpoint", str(proof)).exit_code == 0
    store = SqliteJournal(built.path)
    try:
        report = audit_journal(store, _operator(), held_checkpoints=[("held", note + trailing)])
    finally:
        store.close()
    assert report.fault is None and report.held_checkpoints == 1
    # Still rolled back behind it: the note is read, not waved through.
    path = copy_of(built, tmp_path)
    roll_back(path, built.checkpoints[-2])
    assert verify(path, "--checkpoint", str(held)).exit_code == 1


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"hello\n", "no blank line between text and signatures"),
        (b"clearhouse/v\n\n", "body needs origin, size and root hash lines"),
        (b"\n", "no blank line between text and signatures"),
        (b"", "no blank line between text and signatures"),
    ],
)
def test_a_held_file_that_is_no_signed_note_is_the_auditors_input(
    built: Built, tmp_path: Path, content: bytes, why: str
) -> None:
    held = tmp_path / "held.note"
    held.write_bytes(content)
    result = verify(built.path, "--checkpoint", str(held))
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"error: --checkpoint {held}: not a signed checkpoint note: {why}"
    )


def _operator() -> NoteVerifier:
    return NoteVerifier.from_verifier_string(OPERATOR_KEY)


# -- snapshots that do not hash to their digest ------------------------------------------


def test_a_snapshot_that_does_not_hash_to_its_digest_is_a_fault(
    built: Built, tmp_path: Path
) -> None:
    path = copy_of(built, tmp_path)
    seq = built.snapshots[-1]
    db = sqlite3.connect(path)
    (data,) = db.execute("SELECT data FROM snapshots WHERE seq = ?", (seq,)).fetchone()
    db.close()
    run_sql(path, ("UPDATE snapshots SET data = ? WHERE seq = ?", (flip(bytes(data), 0), seq)))
    result = verify(path, "--json")
    assert result.exit_code == 1, result.output
    fault = json.loads(result.stdout)["fault"]
    assert fault["check"] == "snapshot" and fault["seq"] == seq
    assert fault["message"].startswith(f"snapshot at seq {seq}: it does not restore to its")
    # Recovery, unlike the audit, goes on from an older snapshot (or the genesis).
    journal = Journal(SqliteJournal(path), built.genesis, signer_for(OPERATOR), OPERATOR)
    try:
        assert journal._snapshot_seq < seq
        assert journal.engine.seq == built.size and journal.engine.digest() == built.digest
    finally:
        journal.close()


# -- a store that cannot be read ---------------------------------------------------------


def _one_line_fault(result: Result, *needles: str) -> str:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.startswith("FAULT")]
    assert len(lines) == 1, result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _every_reader(path: Path, seq: int = 9) -> dict[str, Result]:
    """Every command that reads a journal, proving entry `seq`."""
    return {
        "verify": verify(path),
        "query": runner.invoke(app, ["audit", "query", "--journal", str(path)]),
        "prove": runner.invoke(
            app, ["audit", "prove", "--journal", str(path), "--entry", str(seq)]
        ),
        "replay": replay(path, "--from-genesis"),
    }


@pytest.mark.parametrize(
    ("column_name", "value", "shown"),
    [("tx", "text", "column tx holds TEXT 'text', not BLOB"), ("chain_head", 7, "INTEGER 7")],
)
def test_a_value_of_the_wrong_type_names_its_entry(
    built: Built, tmp_path: Path, column_name: str, value: object, shown: str
) -> None:
    path = copy_of(built, tmp_path)
    run_sql(path, (f"UPDATE entries SET {column_name} = ? WHERE seq = 5", (value,)))
    for command, result in _every_reader(path, 5).items():
        line = _one_line_fault(result, "the journal cannot be read", "entry seq 5", shown)
        assert "TypeError" not in line, command
    report = json.loads(verify(path, "--json").stdout)
    assert report["fault"]["check"] == "storage" and report["fault"]["seq"] == 5
    assert report["fault"]["entry"] == 5 and report["entries"] == 4  # 1..4 were checked


DEEP_MSGPACK = b"\x81\xa7payload\x81\xa1x" + b"\x91" * 100_000 + b"\xc0"
"""A map whose payload's first value nests 100,000 arrays deep: msgspec recurses
skipping it while it looks for the payload's tag."""


@pytest.mark.parametrize("column_name", ["tx", "outcome"])
def test_stored_bytes_nested_too_deep_are_a_fault_of_their_entry(
    built: Built, tmp_path: Path, column_name: str
) -> None:
    path = copy_of(built, tmp_path)
    run_sql(path, (f"UPDATE entries SET {column_name} = ? WHERE seq = 5", (DEEP_MSGPACK,)))
    results = _every_reader(path, 5)
    fault = _one_line_fault(results["verify"], "entry 5 (seq 5)")
    assert "RecursionError" not in fault
    if column_name == "tx":
        assert "nest too deep to decode" in fault
    line = _one_line_fault(results["replay"], "FAULT replay failed: entry 5 (seq 5)")
    assert results["replay"].output.strip() == line
    query = results["query"]
    assert query.exit_code == 0 and isinstance(query.exception, SystemExit | None)
    assert "1 entry does not decode and was skipped (seq 5)" in " ".join(query.output.split())
    proved = results["prove"]  # the entry's leaf no longer matches the signed root
    assert proved.exit_code == 1 and "cannot prove entry 5" in proved.output


def test_a_signed_proof_of_an_entry_nested_too_deep_fails_to_check(tmp_path: Path) -> None:
    from clearhouse.journal.entry import JournalEntry, entry_bytes
    from clearhouse.journal.merkle import leaf_hash

    data = entry_bytes(JournalEntry(1, 1, DEEP_MSGPACK, b"", bytes(32)))
    cp = Checkpoint("clearhouse/v", 1, leaf_hash(data))
    note = sign_checkpoint(cp, signer_for(OPERATOR), OPERATOR)
    file = tmp_path / "proof.json"
    file.write_text(json.dumps(proof_to_json(InclusionProof(0, data, 1, [], note))))
    result = check_proof(file)
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (
        "proof FAILED: the included entry does not decode: its arrays and maps nest too "
        "deep to decode"
    )


def _entry_leaf_pages(path: Path) -> list[int]:
    db = sqlite3.connect(path)
    pages = [
        int(page)
        for (page,) in db.execute(
            "SELECT pageno FROM dbstat WHERE name = 'entries' AND pagetype = 'leaf' ORDER BY path"
        )
    ]
    db.close()
    return pages


def test_a_damaged_page_names_where_the_journal_stops_being_readable(
    built: Built, tmp_path: Path
) -> None:
    path = copy_of(built, tmp_path)
    pages = _entry_leaf_pages(path)
    assert len(pages) >= 3, "the session's entries should span several pages"
    page = pages[len(pages) // 2]
    data = bytearray(path.read_bytes())
    size = 4096
    data[(page - 1) * size : page * size] = b"\xab" * size
    path.write_bytes(bytes(data))
    fault = json.loads(verify(path, "--json").stdout)["fault"]
    assert fault["check"] == "storage"
    after = fault["entry"] - 1
    assert f"the entries cannot be read after seq {after}" in fault["message"]
    lost = next(seq for seq in range(1, built.size + 1) if not _readable(path, seq))
    for command, result in _every_reader(path, lost).items():
        line = _one_line_fault(result, "the journal cannot be read", "malformed", f"Page {page}")
        if command != "prove":  # prove reads entry `lost` alone
            assert f"the entries cannot be read after seq {after}" in line, (command, line)


def _readable(path: Path, seq: int) -> bool:
    db = sqlite3.connect(path)
    try:
        db.execute("SELECT tx FROM entries WHERE seq = ?", (seq,)).fetchall()
    except sqlite3.DatabaseError:
        return False
    finally:
        db.close()
    return True


# -- the auditor never writes ------------------------------------------------------------


def test_auditing_never_writes(built: Built, tmp_path: Path) -> None:
    import hashlib

    path = copy_of(built, tmp_path)
    before = hashlib.sha256(path.read_bytes()).digest()
    for command, result in _every_reader(path).items():
        assert result.exit_code == 0, (command, result.output)
    assert hashlib.sha256(path.read_bytes()).digest() == before


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "it holds no journal tables"),
        (b"hello, not a database\n", "it is not a SQLite database"),
        (None, "it lacks the journal tables"),
    ],
)
def test_a_file_that_is_not_a_journal_is_refused_and_left_as_it_was(
    tmp_path: Path, content: bytes | None, why: str
) -> None:
    path = tmp_path / "other.db"
    if content is None:
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
        db.close()
        content = path.read_bytes()
    else:
        path.write_bytes(content)
    for command, result in _every_reader(path).items():
        assert result.exit_code == 2, (command, result.output)
        assert isinstance(result.exception, SystemExit), (command, repr(result.exception))
        assert f"{path} is not a clearhouse journal: {why}" in result.output, command
        assert path.read_bytes() == content, f"{command} wrote into the file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]
