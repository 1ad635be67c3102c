"""The verifier pool gives the in-process verdicts, in order, for valid and corrupted transactions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import msgspec
import pytest
from typer.testing import CliRunner

from clearhouse.auth import (
    Ed25519Signer,
    VerifierPool,
    VerifierThreads,
    sign_transaction,
    verify_transaction,
)
from clearhouse.auth.signing import venue_domain
from clearhouse.auth.verifier import verify_encoded
from clearhouse.cli import app
from clearhouse.core.codec import encode
from clearhouse.core.txs import CancelAll, Deposit, PlaceOrder, Side, Transaction

VENUE = "venue-a"

SIGNERS = [Ed25519Signer.generate() for _ in range(3)]


def _order(i: int) -> Transaction:
    payload = PlaceOrder(account=f"acct-{i}", instrument="BTC-PERP", side=Side.BUY, size=1 + i)
    return Transaction(payload, nonce=i, expires_at_ns=10**18)


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def mixed_batch() -> tuple[list[Transaction], list[bool]]:
    """Valid transactions interleaved with each kind of corruption, and the expected verdicts."""
    txs: list[Transaction] = []
    expected: list[bool] = []
    for i in range(90):
        signed = sign_transaction(SIGNERS[i % 3], VENUE, _order(i))
        kind = i % 9
        if kind == 1:
            signed = msgspec.structs.replace(signed, signature=_flip(signed.signature, i % 64))
        elif kind == 2:
            signed = msgspec.structs.replace(signed, nonce=signed.nonce + 1)
        elif kind == 3:
            signed = msgspec.structs.replace(signed, signer=SIGNERS[(i + 1) % 3].public_key())
        elif kind == 4:
            signed = msgspec.structs.replace(signed, signature=signed.signature[:63])
        elif kind == 5:
            signed = msgspec.structs.replace(signed, signature=b"")
        elif kind == 6:
            signed = sign_transaction(SIGNERS[0], "venue-b", _order(i))
        elif kind == 7:
            signed = msgspec.structs.replace(signed, payload=CancelAll(account=f"acct-{i}"))
        txs.append(signed)
        expected.append(kind in (0, 8))
    return txs, expected


@pytest.fixture(scope="module")
def pool() -> Iterator[VerifierPool]:
    with VerifierPool(workers=2, chunk_txs=7) as verifier_pool:
        yield verifier_pool


def test_the_pool_and_the_in_process_verifier_agree_in_order(pool: VerifierPool) -> None:
    txs, expected = mixed_batch()
    in_process = [verify_transaction(VENUE, tx) for tx in txs]
    assert in_process == expected
    assert pool.verify_batch(VENUE, txs) == expected


def test_automatic_chunking_gives_the_same_verdicts() -> None:
    txs, expected = mixed_batch()
    with VerifierPool(workers=2) as automatic:
        assert automatic.chunk_size(len(txs)) >= 1
        assert automatic.verify_batch(VENUE, txs) == expected
        assert automatic.verify_batch(VENUE, []) == []


def test_a_signature_over_another_venues_domain_is_rejected(pool: VerifierPool) -> None:
    tx = sign_transaction(SIGNERS[0], "venue-b", _order(1))
    assert verify_transaction("venue-b", tx)
    assert not verify_transaction(VENUE, tx)
    assert pool.verify_batch(VENUE, [tx]) == [False]
    assert pool.verify_batch("venue-b", [tx]) == [True]


def test_an_unsigned_transaction_is_rejected(pool: VerifierPool) -> None:
    tx = Transaction(Deposit(account="a", asset="USDC", amount=1))
    assert not verify_transaction(VENUE, tx)
    assert pool.verify_batch(VENUE, [tx]) == [False]


def test_an_invalid_venue_id_is_refused_before_any_work(pool: VerifierPool) -> None:
    with pytest.raises(ValueError, match="venue id"):
        pool.verify_batch("", [])
    with pytest.raises(ValueError, match="venue id"):
        verify_transaction("bad\x00venue", _order(1))


def test_a_closed_pool_refuses_work_and_closes_twice_quietly() -> None:
    verifier_pool = VerifierPool(workers=1)
    verifier_pool.close()
    verifier_pool.close()
    assert "closed" in repr(verifier_pool)
    with pytest.raises(RuntimeError, match="closed"):
        verifier_pool.verify_batch(VENUE, [])


def test_bench_verify_prints_one_json_object_with_the_figures() -> None:
    result = CliRunner().invoke(
        app, ["bench", "verify", "--count", "200", "--repeat", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ("verify_per_s_1core", "verify_per_s_pool", "cores", "library", "speedup"):
        assert key in report
    assert report["count"] == 200
    assert report["verify_per_s_1core"] > 0 and report["verify_per_s_pool"] > 0
    assert set(report["library_verify_per_s_1core"]) == {"pynacl", "cryptography"}


@pytest.mark.parametrize("kind", ["processes", "threads"])
def test_both_verifiers_give_the_in_process_verdicts_from_objects_and_from_bytes(
    kind: str,
) -> None:
    txs, expected = mixed_batch()
    blobs = [encode(tx) for tx in txs] + [b"\xc1 not msgpack", b""]
    domain = venue_domain(VENUE)
    verifier = VerifierPool(2, chunk_txs=5) if kind == "processes" else VerifierThreads(2)
    with verifier:
        assert verifier.verify_batch(VENUE, txs) == expected
        assert verifier.submit_encoded(domain, blobs)() == bytes([*expected, 0, 0])
        assert verify_encoded(domain, blobs) == bytes([*expected, 0, 0])
    with pytest.raises(RuntimeError, match="closed"):
        verifier.submit_encoded(domain, blobs)


def test_a_killed_worker_fails_its_batch_and_the_next_batch_gets_a_new_worker() -> None:
    txs, expected = mixed_batch()
    blobs = [encode(tx) for tx in txs]
    domain = venue_domain(VENUE)
    with VerifierPool(1) as verifier:
        verifier.warm_up()
        (first,) = verifier.pids
        os.kill(first, signal.SIGKILL)
        with pytest.raises(RuntimeError, match=f"worker {first} stopped"):
            verifier.submit_encoded(domain, blobs)()
        assert verifier.submit_encoded(domain, blobs)() == bytes(expected)
        assert verifier.pids != [first]


def test_several_batches_outstanding_are_answered_in_any_order_of_waiting() -> None:
    txs, expected = mixed_batch()
    blobs = [encode(tx) for tx in txs]
    domain = venue_domain(VENUE)
    with VerifierPool(2, chunk_txs=4) as verifier:
        waits = [verifier.submit_encoded(domain, blobs[k:]) for k in range(5)]
        for k in reversed(range(5)):
            assert waits[k]() == bytes(expected[k:])


PARENT = """
import sys, time
from clearhouse.auth import VerifierPool
pool = VerifierPool(2)
pool.warm_up()
print(*pool.pids, flush=True)
time.sleep(600)
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_exit_when_their_parent_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pids = [int(pid) for pid in parent.stdout.readline().split()]
    assert len(pids) == 2 and all(_running(pid) for pid in pids)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(pid) for pid in pids), "a worker outlived its parent"
