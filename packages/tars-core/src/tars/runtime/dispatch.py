"""Concurrent dispatch with bounded concurrency; jobs that share a key run in order."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger("tars.dispatch")

Job = Callable[[], Awaitable[None]]


class Dispatcher:
    """Runs jobs as tasks, at most ``limit`` at once.

    ``submit`` waits for a free slot (backpressure on the reader). Jobs with the same key
    (e.g. stream chunks of one correlation id) run one after another in submission order;
    jobs without a key run concurrently. Every task is referenced until it ends, and a
    failing job is logged and counted, never lost silently.
    """

    def __init__(self, limit: int = 64, on_error: Callable[[BaseException], None] | None = None) -> None:
        self.limit = limit
        self._sem = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()
        self._chains: dict[Hashable, deque[Job]] = {}
        self._on_error = on_error
        self.failed = 0

    @property
    def in_flight(self) -> int:
        return self.limit - self._sem._value

    async def submit(self, job: Job, key: Hashable | None = None) -> None:
        await self._sem.acquire()
        if key is None:
            self._spawn(self._one(job))
            return
        chain = self._chains.get(key)
        if chain is not None:
            chain.append(job)
            return
        self._chains[key] = deque([job])
        self._spawn(self._drain(key))

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _one(self, job: Job) -> None:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failed += 1
            log.exception("handler failed")
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self._sem.release()

    async def _drain(self, key: Hashable) -> None:
        chain = self._chains[key]
        try:
            while chain:
                await self._one(chain.popleft())
        finally:
            if chain:  # cancelled with jobs left: give their slots back
                for _ in chain:
                    self._sem.release()
            self._chains.pop(key, None)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every submitted job has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
