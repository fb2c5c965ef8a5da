"""With the real all-MiniLM-L6-v2: paraphrase recall after reopen, model change, batching."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from tars_memory import (
    AsyncMemory,
    DimensionMismatchError,
    EmbedBatcher,
    HnswMemoryStore,
    NewMemory,
    SentenceTransformerEmbedder,
    StoreConfig,
)
from tars_memory.testing import HashingEmbedder

pytestmark = pytest.mark.models

FACTS = [
    "My sister Alice lives in Lisbon and works as a nurse.",
    "The spare house key is hidden under the blue flower pot.",
    "I am allergic to peanuts.",
    "The car needs new tyres before winter.",
    "Our wifi password is written on the fridge.",
]


def test_embedder_vectors(minilm: SentenceTransformerEmbedder) -> None:
    vecs = minilm.embed(["hello there", "general kenobi"])
    assert vecs.shape == (2, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert minilm.name == "all-MiniLM-L6-v2"


def test_remember_reopen_recall_paraphrase(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> None:
    cfg = StoreConfig(path=tmp_path)
    with HnswMemoryStore(cfg, minilm) as store:
        store.add([NewMemory(f) for f in FACTS])
    with HnswMemoryStore(cfg, minilm) as store:
        assert store.report.index_state == "loaded"
        for query, expected in [
            ("In which city does my sibling live?", 0),
            ("where can I find the extra door key", 1),
            ("what food makes me sick", 2),
        ]:
            hits = store.search(query, k=3, min_score=0.2)
            assert hits[0].record.text == FACTS[expected], query
        assert store.search("quantum chromodynamics lattice gauge", k=3, min_score=0.4) == []


def test_model_change_reembeds_or_errors(
    tmp_path: Path, minilm: SentenceTransformerEmbedder
) -> None:
    with HnswMemoryStore(StoreConfig(path=tmp_path), HashingEmbedder(dim=64)) as old:
        old.add([NewMemory(f) for f in FACTS])
    strict = StoreConfig(path=tmp_path, on_model_change="error")
    with pytest.raises(DimensionMismatchError) as err:
        HnswMemoryStore(strict, minilm)
    assert (err.value.stored_dim, err.value.dim) == (64, 384)
    with HnswMemoryStore(StoreConfig(path=tmp_path), minilm) as store:
        assert store.report.index_state == "reembedded" and store.dim == 384
        assert store.search("my sibling's home town", k=1)[0].record.text == FACTS[0]
    with HnswMemoryStore(strict, minilm) as store:  # now consistent: no error
        assert store.report.index_state == "loaded"


async def test_async_batched_recall(tmp_path: Path, minilm: SentenceTransformerEmbedder) -> None:
    store = HnswMemoryStore(StoreConfig(path=tmp_path), minilm)
    batcher = EmbedBatcher(minilm, max_wait_ms=20)
    memory = AsyncMemory(store, batcher)
    await memory.remember([NewMemory(f) for f in FACTS])
    queries = ["who is Alice", "hidden key location", "peanut allergy", "tyres for the car"]
    results = await asyncio.gather(*(memory.recall(q, k=1) for q in queries))
    assert [r[0].record.text for r in results] == [FACTS[0], FACTS[1], FACTS[2], FACTS[3]]
    assert batcher.batches < len(queries)
    await memory.aclose()
