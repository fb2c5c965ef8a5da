"""EmbedBatcher: concurrent requests share model calls on one thread; errors reach callers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from tars_memory import EmbedBatcher, EmbedderError
from tars_memory.embedder import Vectors
from tars_memory.testing import HashingEmbedder


class ThreadRecordingEmbedder(HashingEmbedder):
    """HashingEmbedder that remembers which threads ran it and can be told to fail."""

    def __init__(self) -> None:
        super().__init__(dim=32)
        self.threads: set[str] = set()
        self.fail = False

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise EmbedderError("model exploded")
        return super().embed(texts)


async def test_concurrent_requests_are_batched_on_one_thread() -> None:
    embedder = ThreadRecordingEmbedder()
    batcher = EmbedBatcher(embedder, max_wait_ms=10, max_batch=8)
    texts = [f"sentence number {i}" for i in range(20)]
    vectors = await asyncio.gather(*(batcher.embed(t) for t in texts))
    expected = HashingEmbedder(dim=32).embed(texts)
    assert np.allclose(np.stack(vectors), expected)
    assert 3 <= batcher.batches < 20  # max_batch=8 caps a batch
    assert len(embedder.threads) == 1 and threading.current_thread().name not in embedder.threads
    await batcher.aclose()


async def test_errors_reach_every_caller_and_batcher_survives() -> None:
    embedder = ThreadRecordingEmbedder()
    batcher = EmbedBatcher(embedder, max_wait_ms=5)
    embedder.fail = True
    results = await asyncio.gather(
        batcher.embed("a b"), batcher.embed("c d"), return_exceptions=True
    )
    assert all(isinstance(r, EmbedderError) for r in results)
    embedder.fail = False
    assert (await batcher.embed("works again")).shape == (32,)
    await batcher.aclose()


async def test_aclose_cancels_waiting_callers() -> None:
    release = threading.Event()

    class Slow(HashingEmbedder):
        def embed(self, texts: Sequence[str]) -> Vectors:
            release.wait(5)
            return super().embed(texts)

    batcher = EmbedBatcher(Slow(), max_wait_ms=0)
    first = asyncio.create_task(batcher.embed("first"))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(batcher.embed("second"))
    await asyncio.sleep(0.05)
    await batcher.aclose()
    release.set()
    for task in (first, second):
        with pytest.raises(asyncio.CancelledError):
            await task
