"""Shared fixtures: a fake-embedder store per test, the real model once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tars_memory import Embedder, HnswMemoryStore, StoreConfig
from tars_memory.bert import make_embedder
from tars_memory.testing import HashingEmbedder


@pytest.fixture
def hashing() -> HashingEmbedder:
    return HashingEmbedder(dim=64)


@pytest.fixture
def store(tmp_path: Path, hashing: HashingEmbedder) -> Iterator[HnswMemoryStore]:
    s = HnswMemoryStore(StoreConfig(path=tmp_path / "mem"), hashing)
    yield s
    s.close()


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    embedder = make_embedder()  # the numpy embedder: no torch needed
    embedder.load()
    return embedder
