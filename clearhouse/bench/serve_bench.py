"""`clearhouse bench serve`: signed orders over loopback into a served venue, from
load generators in processes of their own, beside the in-process pipeline.

What a trader's program sees: an order signed on its side, sent over a socket,
answered with a durable receipt. The venue is the real service (`VenueRuntime`
and the Litestar app under uvicorn) in a process of its own, over a fresh SQLite
journal, on the seeded workload of `bench pipeline` (its set-up journaled before
timing). The load generators, `clients` processes, each take the orders of their
share of the accounts (so each key's nonces arrive in order) and send them as
fast as the venue answers, within a bounded window:

- WebSocket: each process keeps `connections` connections, each with up to
  `frames_in_flight` frames of `frame_orders` canonical msgpack orders awaiting
  their receipts; latency per order is from its frame's send to its answer.
- REST: each process runs `rest_concurrency` requests at a time, one order each
  (`POST /api/v1/transactions`, msgpack); latency is the request's round trip.

Each mode starts a fresh venue. `pipeline_orders_per_s` is `bench pipeline`'s
(b), the same orders through a `Sequencer` in this process, measured in the same
run: the baseline the served figures are a ratio of. Everything shares the
machine: venue, its verifier workers and the load generators.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import signal
import socket
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from clearhouse.auth.verifier import VerifierPool
from clearhouse.bench.pipeline_bench import SignedFlow, durable_rate
from clearhouse.bench.workload import GC_NOTE, frozen_heap
from clearhouse.core.codec import encode
from clearhouse.journal import SqliteJournal

START_TIMEOUT_S = 120.0
PACED_FRAMES_MAX = 1_000
"""Frames a connection may have in flight in the paced run: enough never to hold
back a frame that is due (open loop), bounded so a stalled venue is not flooded."""
PACED_REQUESTS_MAX = 32
"""Requests in flight in the paced REST run, for the same reason."""
_receipts = msgspec.msgpack.Decoder(dict[str, Any])


def run_serve_bench(
    orders: int = 20_000,
    seed: int = 7,
    clients: int = 2,
    connections: int = 4,
    frame_orders: int = 50,
    frames_in_flight: int = 4,
    rest_concurrency: int = 8,
    paced_frame_orders: int = 10,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "serve",
        "orders": orders,
        "seed": seed,
        "clients": clients,
        "connections_per_client": connections,
        "frame_orders": frame_orders,
        "frames_in_flight": frames_in_flight,
        "rest_concurrency_per_client": rest_concurrency,
        "paced_frame_orders": paced_frame_orders,
    }
    flow = SignedFlow(orders, seed)
    with VerifierPool() as pool, tempfile.TemporaryDirectory() as scratch, frozen_heap():
        pool.warm_up()
        result["pipeline_orders_per_s"] = round(
            durable_rate(flow, pool, lambda: SqliteJournal(Path(scratch) / "pipeline.db"))
        )
    for mode in ("ws", "rest"):
        figures = _served_run(mode, orders, seed, clients, result)
        for key, value in figures.items():
            result[f"{mode}_{key}"] = value
    result["ws_vs_pipeline"] = round(result["ws_orders_per_s"] / result["pipeline_orders_per_s"], 3)
    result["rest_vs_pipeline"] = round(
        result["rest_orders_per_s"] / result["pipeline_orders_per_s"], 3
    )
    # The headline keys: the WebSocket run's latency.
    for key in ("p50_ms", "p99_ms", "p999_ms"):
        result[key] = result[f"ws_{key}"]
    result["cores"] = os.cpu_count()
    result["durability"] = "sqlite WAL synchronous=FULL"
    result["gc"] = GC_NOTE
    return result


def _served_run(
    mode: str, orders: int, seed: int, clients: int, settings: dict[str, Any]
) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as scratch:
        ready, told = context.Pipe(duplex=False)
        venue = context.Process(
            target=_venue_process, args=(orders, seed, str(Path(scratch) / "venue.db"), told)
        )
        venue.start()
        try:
            if not ready.poll(START_TIMEOUT_S):
                raise RuntimeError("the benchmark venue did not start")
            url = ready.recv()
            results = context.Queue()
            commands = [context.Queue() for _ in range(clients)]
            generators = [
                context.Process(
                    target=_generator_process,
                    args=(
                        mode,
                        url,
                        orders,
                        seed,
                        index,
                        clients,
                        settings,
                        commands[index],
                        results,
                    ),
                )
                for index in range(clients)
            ]
            for generator in generators:
                generator.start()
            for _ in generators:  # every generator has its orders encoded: go
                results.get(timeout=START_TIMEOUT_S)
            for command in commands:
                command.put(0.0)
            sustained = _combine([results.get(timeout=START_TIMEOUT_S * 5) for _ in generators])
            offered = sustained["orders_per_s"] / 2
            for command in commands:
                command.put(offered / clients)
            paced = _combine([results.get(timeout=START_TIMEOUT_S * 5) for _ in generators])
            for generator in generators:
                generator.join()
        finally:
            if venue.pid is not None:
                os.kill(venue.pid, signal.SIGTERM)
            venue.join(60)
            if venue.is_alive():
                venue.kill()
    return {
        "orders_per_s": sustained["orders_per_s"],
        "sustained_p50_ms": sustained["p50_ms"],
        "sustained_p99_ms": sustained["p99_ms"],
        "offered_per_s": round(offered),
        "p50_ms": paced["p50_ms"],
        "p99_ms": paced["p99_ms"],
        "p999_ms": paced["p999_ms"],
        "max_ms": paced["max_ms"],
        "receipts": sustained["receipts"] + paced["receipts"],
        "rejected_by_engine": sustained["rejected_by_engine"] + paced["rejected_by_engine"],
        "rejected_codes": dict(
            Counter(sustained["rejected_codes"]) + Counter(paced["rejected_codes"])
        ),
        "not_journaled": sustained["not_journaled"] + paced["not_journaled"],
    }


def _combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    latencies: list[float] = sorted(ms for report in reports for ms in report["latencies_ms"])
    first = min(report["started"] for report in reports)
    last = max(report["finished"] for report in reports)
    count = len(latencies)
    refused = sum(report["refused"] for report in reports)
    codes: Counter[str] = Counter()
    for report in reports:
        codes.update(report["rejected"])

    def at(fraction: float) -> float:
        return round(latencies[min(count - 1, int(count * fraction))], 3)

    return {
        "orders_per_s": round(count / (last - first)),
        "p50_ms": at(0.5),
        "p99_ms": at(0.99),
        "p999_ms": at(0.999),
        "max_ms": round(latencies[-1], 3),
        "receipts": count,
        "rejected_by_engine": sum(codes.values()),
        "rejected_codes": dict(codes.most_common()),
        "not_journaled": refused,
    }


# -- the venue ----------------------------------------------------------------------


def _venue_process(orders: int, seed: int, path: str, told: Connection) -> None:
    import uvicorn

    from clearhouse.bench.pipeline_bench import OPERATOR
    from clearhouse.service import VenueRuntime, create_app
    from clearhouse.testing import signer_for

    flow = SignedFlow(orders, seed)
    now = flow.start_ns

    def clock() -> int:  # the workload's own time, as `bench pipeline` steps it
        nonlocal now
        now += 50_000
        return now

    runtime = VenueRuntime.open(path, flow.genesis, signer_for(OPERATOR), OPERATOR, clock=clock)
    for receipt in runtime.journal.submit(flow.setup):
        if not receipt.journaled:
            raise RuntimeError(f"set-up refused: {receipt.outcome}")
    del flow
    gc.collect()
    gc.freeze()  # the recovered state and set-up are long-lived: not rescanned
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(2048)
    config = uvicorn.Config(create_app(runtime), log_level="warning", lifespan="on")
    told.send(f"127.0.0.1:{listening.getsockname()[1]}")
    uvicorn.Server(config).run(sockets=[listening])


# -- the load generators -----------------------------------------------------------


def _generator_process(
    mode: str,
    address: str,
    orders: int,
    seed: int,
    index: int,
    clients: int,
    settings: dict[str, Any],
    commands: Any,
    results: Any,
) -> None:
    """Phase 1: the first half of this generator's orders as fast as the venue
    answers (closed loop, a bounded window). Phase 2: the second half paced at the
    rate the parent sends (open loop: latency counts from when an order was due)."""
    flow = SignedFlow(orders, seed)
    mine = [encode(tx) for tx in flow.orders if _share(tx.signer, clients) == index]
    del flow
    gc.collect()
    gc.freeze()
    half = len(mine) // 2
    results.put({"kind": "ready"})
    load = _websocket_load if mode == "ws" else _rest_load
    for blobs in (mine[:half], mine[half:]):
        rate = commands.get()
        results.put(asyncio.run(load(address, blobs, settings, rate)))


def _share(signer: bytes, clients: int) -> int:
    return int.from_bytes(signer[:4], "big") % clients


async def _websocket_load(
    address: str, blobs: list[bytes], settings: dict[str, Any], rate: float
) -> dict[str, Any]:
    """Frames of orders over `connections_per_client` connections: `frame_orders`
    a frame as fast as answered within `frames_in_flight` a connection when `rate`
    is 0, else `paced_frame_orders` a frame, each due at its time, whatever is in
    flight."""
    import websockets

    frame = settings["paced_frame_orders"] if rate else settings["frame_orders"]
    frames = [blobs[k : k + frame] for k in range(0, len(blobs), frame)]
    connections = settings["connections_per_client"]
    latencies: list[float] = []
    refused = 0
    rejected: Counter[str] = Counter()
    started = time.perf_counter()

    async def connection(share: list[list[bytes]], offset: int) -> None:
        async with websockets.connect(f"ws://{address}/api/v1/ws", max_size=None) as socket:
            sent: dict[int, float] = {}
            window = settings["frames_in_flight"] if not rate else PACED_FRAMES_MAX
            waiting = asyncio.Semaphore(window)
            done = asyncio.Event()
            remaining = len(share)

            async def read() -> None:
                nonlocal remaining, refused
                while remaining:
                    frame = await socket.recv()
                    answer = _receipts.decode(frame.encode() if isinstance(frame, str) else frame)
                    elapsed = (time.perf_counter() - sent.pop(answer["id"])) * 1e3
                    receipts = answer.get("receipts", [])
                    refused += sum(1 for r in receipts if not r["journaled"])
                    rejected.update(
                        r["error"]["name"] for r in receipts if r["status"] != "accepted"
                    )
                    latencies.extend([elapsed] * len(receipts))
                    remaining -= 1
                    waiting.release()
                done.set()

            reader = asyncio.create_task(read())
            for number, txs in enumerate(share):
                await waiting.acquire()
                due = _due(started, number * connections + offset, frame, rate)
                if due is not None:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                sent[number] = due or time.perf_counter()
                await socket.send(encode({"id": number, "op": "submit", "txs": txs}))
            await done.wait()
            await reader

    shares = [frames[k::connections] for k in range(connections)]
    await asyncio.gather(*(connection(share, k) for k, share in enumerate(shares) if share))
    return _report(latencies, started, refused, rejected)


def _due(started: float, frame_number: int, frame_orders: int, rate: float) -> float | None:
    """When frame `frame_number` of a paced run is due (None: not paced)."""
    return started + 0.05 + frame_number * frame_orders / rate if rate else None


def _report(
    latencies: list[float], started: float, refused: int, rejected: Counter[str]
) -> dict[str, Any]:
    finished = time.perf_counter()
    return {
        "kind": "done",
        "latencies_ms": latencies,
        "started": started,
        "finished": finished,
        "refused": refused,
        "rejected": rejected,
    }


async def _rest_load(
    address: str, blobs: list[bytes], settings: dict[str, Any], rate: float
) -> dict[str, Any]:
    """One order a request from `rest_concurrency_per_client` workers, each sending
    as soon as answered when `rate` is 0, else each order at its due time."""
    import httpx

    concurrency = settings["rest_concurrency_per_client"] if not rate else PACED_REQUESTS_MAX
    latencies: list[float] = []
    refused = 0
    rejected: Counter[str] = Counter()
    headers = {"content-type": "application/msgpack", "accept": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=f"http://{address}", limits=limits, timeout=60) as http:

        async def worker(first: int) -> None:
            nonlocal refused
            for number in range(first, len(blobs), concurrency):
                blob = blobs[number]
                due = _due(started, number, 1, rate)
                if due is not None:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                sent = due or time.perf_counter()
                response = await http.post("/api/v1/transactions", content=blob, headers=headers)
                latencies.append((time.perf_counter() - sent) * 1e3)
                if response.status_code != 200:
                    refused += 1
                elif b'"status":"accepted"' not in response.content:
                    rejected[response.json()["error"]["name"]] += 1

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
    return _report(latencies, started, refused, rejected)
