"""Loop benchmark: real CPU-bound work through the offload helpers while the loop serves."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np

from tars.bench.stats import pct
from tars.contracts import topics as T
from tars.contracts.memory import MemoryQuery, MemoryResults
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Requester, Service
from tars.runtime.lag import LagMonitor
from tars.runtime.offload import ModelExecutor


def _matmul_for(seconds: float, size: int = 256) -> int:
    """Real computation (matrix products, which release the GIL) for about ``seconds``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        a = np.tanh(a @ b)
        n += 1
    return n


async def _run(duration_s: float, chunk_s: float) -> dict[str, Any]:
    broker = InMemoryBroker()
    server = Service("bench-worker", InMemoryBus(broker))
    executor = ModelExecutor("bench-model")
    chunks = 0

    async def on_query(msg: Inbound[MemoryQuery]) -> None:
        await server.reply(msg, T.MEMORY_RESULTS, MemoryResults())

    server.handle(T.MEMORY_QUERY, on_query)
    await server.start()
    client = Service("bench-client", InMemoryBus(broker))
    await client.start()
    req: Requester[MemoryResults] = Requester(client, T.MEMORY_QUERY, T.MEMORY_RESULTS)
    await req.start()

    # Baseline: the same work run inline on the loop, as a naive worker would.
    base = LagMonitor(interval_s=0.005)
    base.start()
    await asyncio.sleep(0.05)
    _matmul_for(chunk_s)
    await asyncio.sleep(0.05)
    await base.stop()

    lag = LagMonitor(interval_s=0.005)
    lag.start()
    end = time.perf_counter() + duration_s
    rtts: list[float] = []

    async def work() -> None:
        nonlocal chunks
        while time.perf_counter() < end:
            await executor.run(_matmul_for, chunk_s)
            chunks += 1

    async def serve() -> None:
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            await req.request(MemoryQuery(text="ping"))
            rtts.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0.01)

    await asyncio.gather(work(), serve())
    await lag.stop()
    stats = lag.stats()
    executor.shutdown()
    await req.close()
    await client.stop()
    await server.stop()
    return {
        "bench": "loop", "duration_s": duration_s, "chunk_ms": chunk_s * 1000,
        "work_chunks": chunks, "messages_served": len(rtts),
        "lag_p50_ms": round(stats["lag_p50_ms"], 3), "lag_p99_ms": round(stats["lag_p99_ms"], 3),
        "lag_max_ms": round(stats["lag_max_ms"], 3),
        "rtt_p50_ms_under_load": round(pct(rtts, 50), 3),
        "inline_baseline_lag_max_ms": round(base.stats()["lag_max_ms"], 1),
        "goal": {"lag_p99_ms": 5.0, "lag_max_ms": 20.0},
    }


def run(duration_s: float = 5.0, chunk_s: float = 0.2) -> dict[str, Any]:
    return asyncio.run(_run(duration_s, chunk_s))
