"""`clearhouse bench verify`: signature verification on one core and on all cores.

One run signs N transactions (untimed), then verifies the same N transactions twice:
in-process, one at a time (`verify_transaction`, one core), and as one batch through
a warmed-up `VerifierPool` on every core. Both include building each signed message
and all of the rule set's checks. The two alternate `repeat` times, so both see the
same background load, and each figure is the best of its runs. For
context it also times the bare verification call of each candidate library (PyNaCl /
libsodium and pyca `cryptography` / OpenSSL) on the same messages, which is how the
library for the rule set's equation was chosen.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError

from clearhouse.auth.ed25519 import LIBRARY
from clearhouse.auth.signing import Ed25519Signer, sign_transaction, signing_bytes
from clearhouse.auth.verifier import VerifierPool, verify_transaction
from clearhouse.core.txs import PlaceOrder, Side, Transaction

VENUE_ID = "bench"
SIGNERS = 16
LIBRARY_SAMPLE_MAX = 5_000


def signed_transactions(count: int, signers: int = SIGNERS) -> list[Transaction]:
    """`count` orders signed by `signers` keys (fresh keys: verification cost is key-independent)."""
    keys = [Ed25519Signer(Ed25519PrivateKey.generate()) for _ in range(signers)]
    return [
        sign_transaction(
            keys[i % signers],
            VENUE_ID,
            Transaction(
                PlaceOrder(
                    account=f"account-{i % 1_000}",
                    instrument="BTC-PERP",
                    side=Side.BUY if i % 2 else Side.SELL,
                    size=1 + i % 50,
                    price=60_000_000_000 + (i % 200) * 500_000,
                    client_order_id=f"c{i}",
                ),
                nonce=i,
                expires_at_ns=1_900_000_000_000_000_000,
            ),
        )
        for i in range(count)
    ]


def _best_rate(count: int, repeat: int, run: Callable[[], object]) -> float:
    best_s = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best_s = min(best_s, time.perf_counter() - started)
    return count / best_s


def _pynacl_loop(triples: Sequence[tuple[bytes, bytes, bytes]]) -> None:
    for public_key, message, signature in triples:
        try:
            crypto_sign_open(signature + message, public_key)
        except BadSignatureError:
            raise AssertionError("bench signature rejected by libsodium") from None


def _cryptography_loop(triples: Sequence[tuple[bytes, bytes, bytes]]) -> None:
    for public_key, message, signature in triples:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except InvalidSignature:
            raise AssertionError("bench signature rejected by OpenSSL") from None


def run_verify_bench(
    count: int = 20_000,
    workers: int | None = None,
    chunk_txs: int | None = None,
    repeat: int = 3,
) -> dict[str, Any]:
    if count < 1 or repeat < 1:
        raise ValueError("count and repeat must be positive")
    txs = signed_transactions(count)
    load_before = os.getloadavg()[0]
    best_1core_s = best_pool_s = float("inf")
    with VerifierPool(workers, chunk_txs=chunk_txs) as pool:
        pool.warm_up()
        for _ in range(repeat):  # alternate, so both methods see the same background load
            started = time.perf_counter()
            verdicts_1core = [verify_transaction(VENUE_ID, tx) for tx in txs]
            best_1core_s = min(best_1core_s, time.perf_counter() - started)
            started = time.perf_counter()
            verdicts_pool = pool.verify_batch(VENUE_ID, txs)
            best_pool_s = min(best_pool_s, time.perf_counter() - started)
            if not (all(verdicts_1core) and verdicts_pool == verdicts_1core):
                raise AssertionError("a bench signature was rejected, or the pool disagreed")
        pool_workers, pool_chunk = pool.workers, pool.chunk_size(count)
    per_s_1core, per_s_pool = count / best_1core_s, count / best_pool_s

    sample = txs[: min(count, LIBRARY_SAMPLE_MAX)]
    triples = [(tx.signer, signing_bytes(VENUE_ID, tx), tx.signature) for tx in sample]
    libraries = {
        "pynacl": round(_best_rate(len(sample), repeat, lambda: _pynacl_loop(triples))),
        "cryptography": round(_best_rate(len(sample), repeat, lambda: _cryptography_loop(triples))),
    }
    return {
        "benchmark": "verify",
        "count": count,
        "cores": os.cpu_count(),
        "workers": pool_workers,
        "chunk_txs": pool_chunk,
        "repeat": repeat,
        "library": LIBRARY,
        "verify_per_s_1core": round(per_s_1core),
        "verify_per_s_pool": round(per_s_pool),
        "speedup": round(per_s_pool / per_s_1core, 2),
        "library_verify_per_s_1core": libraries,
        "library_sample": len(sample),
        "all_valid": True,
        "load_average_1m_before": round(load_before, 2),
    }
