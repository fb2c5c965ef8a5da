"""The far end of ``tars bench bus``: a separate process that answers every query at once.

Usage: ``python -m tars.bench.responder URL NAMESPACE``; prints ``ready`` once subscribed.
"""

from __future__ import annotations

import asyncio
import sys

from tars.contracts import topics as T
from tars.contracts.memory import MemoryQuery, MemoryResults
from tars.runtime import Inbound, Service
from tars.runtime.connect import client_bus


async def serve(url: str, ns: str) -> None:
    server = Service("bench-responder", client_bus(url, "bench-resp", namespace=ns),
                     announce=False)
    empty = MemoryResults()

    async def echo(msg: Inbound[MemoryQuery]) -> None:
        await server.reply(msg, T.MEMORY_RESULTS, empty)

    server.handle(T.MEMORY_QUERY, echo)
    await server.start()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), stop.set)  # parent closes stdin: time to go
    await stop.wait()
    await server.stop()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
