"""Smoke tests of the sorted-book baseline (benchmarks/sorted_book.py).

`benchmarks/` is a directory of scripts, not a package: the module is loaded by path.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from clearhouse.bench import generate_workload
from clearhouse.core import (
    CancelOrder,
    OracleUpdate,
    OrderType,
    PlaceOrder,
    Sequenced,
    Side,
    TimeInForce,
    Transaction,
)

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sorted_book.py"
KEYS = {
    "benchmark",
    "gc",
    "orders",
    "seed",
    "tx_per_s",
    "p50_us",
    "p99_us",
    "max_us",
    "fills",
    "rejects",
}
ORDERS = 5_000


def _load() -> ModuleType:
    name = "clearhouse_bench_sorted_book"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sb() -> ModuleType:
    return _load()


def _resting(exchange: Any) -> list[tuple[str, str, int, list[tuple[int, int]]]]:
    """Every live resting order, by instrument, side and price, in queue order."""
    out = []
    for name, book in exchange.books.items():
        for side, levels in (("bid", book.bids), ("ask", book.asks)):
            for price, level in levels.items():
                live = [(o.order_id, o.remaining) for o in level if o.remaining]
                out.append((name, side, price, live))
    return out


def test_result_keys_and_counts(sb: ModuleType) -> None:
    workload = generate_workload(ORDERS, 7)
    result, exchange = sb.replay(workload)
    assert set(result) == KEYS
    assert result["benchmark"] == "sorted_book"
    assert result["orders"] == ORDERS
    assert result["seed"] == 7
    assert result["tx_per_s"] > 0
    assert 0 <= result["p50_us"] <= result["p99_us"] <= result["max_us"]
    assert result["fills"] > 0

    cancels = sum(type(tx.tx.payload) is CancelOrder for tx in workload.orders)
    gtc = sum(
        type(p := tx.tx.payload) is PlaceOrder and p.time_in_force is TimeInForce.GTC
        for tx in workload.orders
    )
    # Only cancels of orders already filled (or never rested) are refused here.
    assert 0 < result["rejects"] <= cancels
    # At most one rest per GTC order; cancels and full fills take them out again.
    assert 0 < len(exchange.orders) <= gtc

    # The order index and the books agree, and every level holds a live order.
    live = 0
    for book in exchange.books.values():
        for levels in (book.bids, book.asks):
            for price, level in levels.items():
                assert level.live == sum(1 for o in level if o.remaining) > 0
                live += level.live
                assert all(o.price == price for o in level)
    assert live == len(exchange.orders)
    for book, order in exchange.orders.values():
        assert order.remaining > 0
        assert order in (book.bids if order.is_buy else book.asks)[order.price]


def test_book_never_crossed_at_end(sb: ModuleType) -> None:
    _, exchange = sb.replay(generate_workload(ORDERS, 7))
    two_sided = 0
    for book in exchange.books.values():
        bid, ask = book.best_bid(), book.best_ask()
        if bid is not None and ask is not None:
            two_sided += 1
            assert bid < ask
    assert two_sided == 2  # both perpetuals of the workload


def test_same_seed_same_outcome(sb: ModuleType) -> None:
    first, book_a = sb.replay(generate_workload(ORDERS, 11))
    second, book_b = sb.replay(generate_workload(ORDERS, 11))
    assert first["fills"] == second["fills"]
    assert first["rejects"] == second["rejects"]
    assert _resting(book_a) == _resting(book_b)
    other, _ = sb.replay(generate_workload(ORDERS, 12))
    assert (other["fills"], other["rejects"]) != (first["fills"], first["rejects"])


def test_matching_by_hand(sb: ModuleType) -> None:
    """Price-time priority, lazy cancels, IOC remainder and the market collar."""
    exchange = sb.SortedBookExchange()
    tick = exchange.books["BTC-PERP"].tick_size
    seq = 0

    def send(payload: Any) -> int:
        nonlocal seq
        seq += 1
        result: int = exchange.apply(Sequenced(seq, seq, Transaction(payload)))
        return result

    def limit(side: Side, size: int, ticks: int, tif: TimeInForce = TimeInForce.GTC) -> int:
        return send(PlaceOrder("a", "BTC-PERP", side, size, price=ticks * tick, time_in_force=tif))

    assert send(OracleUpdate("BTC-USD", 1_000 * tick + tick // 2, observed_ns=seq + 1)) == 0
    book = exchange.books["BTC-PERP"]
    assert book.mark == 1_001  # half up
    assert limit(Side.SELL, 2, 1_010) == 0  # id 2
    assert limit(Side.SELL, 3, 1_010) == 0  # id 3
    assert limit(Side.SELL, 4, 1_010) == 0  # id 4
    assert limit(Side.SELL, 5, 1_060) == 0  # id 5: beyond the 5% collar (1_051)
    assert send(CancelOrder("a", order_id=3)) == 0
    assert send(CancelOrder("a", order_id=3)) == -1
    assert send(CancelOrder("a", order_id=999)) == -1
    # IOC for 3 at 1_009 does not cross and does not rest.
    assert limit(Side.BUY, 3, 1_009, TimeInForce.IOC) == 0
    assert book.best_bid() is None
    # Takes order 2 in full, skips cancelled 3, takes 1 of order 4.
    assert limit(Side.BUY, 3, 1_010, TimeInForce.IOC) == 2
    assert _resting(exchange) == [
        ("BTC-PERP", "ask", 1_010, [(4, 3)]),
        ("BTC-PERP", "ask", 1_060, [(5, 5)]),
    ]
    # A market buy reaches the collar, not 1_060: fills the rest of 4, cancels its remainder.
    market = PlaceOrder(
        "a", "BTC-PERP", Side.BUY, 10, order_type=OrderType.MARKET, time_in_force=TimeInForce.IOC
    )
    assert send(market) == 1
    assert book.best_ask() == 1_060
    assert book.best_bid() is None
    assert send(CancelOrder("a", order_id=2)) == -1  # filled
    # A GTC buy through the book rests its remainder at its limit.
    assert limit(Side.BUY, 7, 1_060) == 1
    assert (book.best_bid(), book.best_ask()) == (1_060, None)
    assert _resting(exchange) == [("BTC-PERP", "bid", 1_060, [(seq, 2)])]


def test_cli_json(sb: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert sb.main(["--orders", "2000", "--seed", "3"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == KEYS
    assert (result["orders"], result["seed"]) == (2_000, 3)


def test_cli_compare(sb: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert sb.main(["--orders", "2000", "--seed", "3", "--compare"]) == 0
    result = json.loads(capsys.readouterr().out)
    baseline, core = result["sorted_book"], result["core"]
    assert set(baseline) == KEYS
    assert core["benchmark"] == "core"
    assert baseline["orders"] == core["orders"] == 2_000
    assert result["safety_cost"] == round(baseline["tx_per_s"] / core["tx_per_s"], 2)
