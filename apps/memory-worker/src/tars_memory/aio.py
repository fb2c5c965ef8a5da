"""Async facade over a MemoryStore: every call runs in the embedder's single thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TypeVar

from .batching import EmbedBatcher
from .records import AddResult, MemoryFilter, NewMemory, ScoredRecord
from .store import MemoryStore

T = TypeVar("T")


class AsyncMemory:
    """Non-blocking wrapper for a service: queries share embedding batches (EmbedBatcher),
    store calls run on the same single thread as the model, so the loop never blocks."""

    def __init__(self, store: MemoryStore, batcher: EmbedBatcher) -> None:
        self._store = store
        self._batcher = batcher

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._batcher.executor, fn, *args)

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """Run any blocking store function on the memory thread."""
        return await self._run(fn, *args)

    async def remember(self, items: Sequence[NewMemory]) -> AddResult:
        """Store memories (see MemoryStore.add)."""
        return await self._run(self._store.add, list(items))

    async def recall(
        self, query: str, k: int = 5, flt: MemoryFilter | None = None, min_score: float = -1.0
    ) -> list[ScoredRecord]:
        """Nearest memories to a text query; concurrent queries are embedded together."""
        vector = await self._batcher.embed(query)
        return await self._run(self._store.search_vector, vector, k, flt, min_score)

    async def forget(self, ids: Sequence[int]) -> int:
        """Delete by id."""
        return await self._run(self._store.forget, list(ids))

    async def forget_where(self, flt: MemoryFilter) -> int:
        """Delete by filter (raises ValueError for an empty filter)."""
        return await self._run(self._store.forget_where, flt)

    async def wipe(self) -> int:
        """Delete everything."""
        return await self._run(self._store.wipe)

    async def flush(self) -> None:
        """Save the index now."""
        await self._run(self._store.flush)

    async def aclose(self) -> None:
        """Stop batching, then flush and close the store on its thread."""
        await self._run(self._store.close)
        await self._batcher.aclose()
