"""Async batching of embedding requests onto one dedicated thread."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tars.runtime import ModelExecutor

from .embedder import Embedder

Vectors = npt.NDArray[np.float32]
_Request = tuple[str, "asyncio.Future[Vectors]"]


class EmbedBatcher:
    """Gathers ``embed`` calls that arrive within ``max_wait_ms`` into one model call.

    The model runs in a single-thread executor (shared with the store when passed in), so
    the event loop never blocks and the non-thread-safe model is used from one thread only.
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_batch: int = 64,
        max_wait_ms: float = 5.0,
        executor: ModelExecutor | None = None,
    ) -> None:
        self._embedder = embedder
        self._max_batch = max(1, max_batch)
        self._max_wait = max(0.0, max_wait_ms) / 1000.0
        self._own_executor = executor is None
        self.executor = executor or ModelExecutor("embed")
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._inflight: list[_Request] = []
        self.batches = 0

    async def embed(self, text: str) -> Vectors:
        """Embed one text; concurrent callers share a batch. Raises what the embedder raises."""
        if self._queue is None or self._worker is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._run(self._queue), name="tars-embed-batcher")
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        await self._queue.put((text, future))
        return await future

    async def embed_many(self, texts: Sequence[str]) -> Vectors:
        """Embed several texts in one executor call."""
        return await self.executor.run(self._embedder.embed, list(texts))

    async def _gather(self, queue: asyncio.Queue[_Request]) -> list[_Request]:
        batch = [await queue.get()]
        deadline = asyncio.get_running_loop().time() + self._max_wait
        while len(batch) < self._max_batch:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                while len(batch) < self._max_batch and not queue.empty():
                    batch.append(queue.get_nowait())
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self, queue: asyncio.Queue[_Request]) -> None:
        while True:
            batch = [r for r in await self._gather(queue) if not r[1].cancelled()]
            if not batch:
                continue
            self._inflight = batch
            try:
                vectors = await self.executor.run(self._embedder.embed, [t for t, _ in batch])
            except Exception as exc:  # handed to every waiting caller
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            for row, (_, fut) in zip(vectors, batch, strict=True):
                if not fut.done():
                    fut.set_result(row)

    async def aclose(self) -> None:
        """Stop the batcher; waiting and in-flight callers are cancelled. Shuts an owned executor down."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for _, fut in self._inflight:
            fut.cancel()
        self._inflight = []
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()[1].cancel()
        self._worker = self._queue = None
        if self._own_executor:
            self.executor.shutdown()
