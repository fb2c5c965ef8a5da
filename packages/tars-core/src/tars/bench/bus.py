"""Bus benchmark: QoS 1 request/response round trips through the runtime's Requester."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from tars.bench.stats import pct
from tars.contracts import topics as T
from tars.contracts.memory import MemoryQuery, MemoryResults
from tars.runtime import Requester, Service
from tars.runtime.broker import LocalBroker
from tars.runtime.connect import client_bus


async def _run(url: str, n: int, concurrency: int) -> dict[str, Any]:
    ns = f"bench{os.getpid()}/"
    # The responder is a separate process, as every tars service is.
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tars.bench.responder", url, ns,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert server.stdout is not None and server.stdin is not None
    line = await asyncio.wait_for(server.stdout.readline(), 30)
    if line.strip() != b"ready":
        raise RuntimeError("the bench responder did not start")
    client = Service("bench-requester", client_bus(url, "bench-req", namespace=ns),
                     announce=False)
    await client.start()
    req: Requester[MemoryResults] = Requester(client, T.MEMORY_QUERY, T.MEMORY_RESULTS, timeout_s=5)
    await req.start()
    query = MemoryQuery(text="ping")
    for _ in range(50):  # warm-up
        await req.request(query)
    rtts: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        await req.request(query)
        rtts.append((time.perf_counter() - t0) * 1000)
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            await req.request(query)

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    elapsed = time.perf_counter() - t0
    leaked = len(req.pending)
    await req.close()
    await client.stop()
    server.stdin.close()
    await asyncio.wait_for(server.wait(), 10)
    return {
        "bench": "bus", "requests": n, "qos": 1,
        "rtt_p50_ms": round(pct(rtts, 50), 3), "rtt_p99_ms": round(pct(rtts, 99), 3),
        "rtt_max_ms": round(max(rtts), 3),
        "msgs_per_s": round(2 * n / elapsed, 1), "requests_per_s": round(n / elapsed, 1),
        "concurrency": concurrency, "leaked_futures": leaked,
        "goal": {"rtt_p50_ms": 1.0, "rtt_p99_ms": 5.0},
    }


def run(url: str | None = None, n: int = 2000, concurrency: int = 32) -> dict[str, Any]:
    """Run against ``url``, or against a Mosquitto started for the run."""
    if url:
        result = asyncio.run(_run(url, n, concurrency))
        result["broker"] = "configured"
        return result
    with LocalBroker() as broker:
        result = asyncio.run(_run(broker.url, n, concurrency))
    result["broker"] = "started for the run"
    return result
