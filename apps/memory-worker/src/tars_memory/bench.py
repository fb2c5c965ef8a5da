"""Memory benchmark behind ``tars bench memory``: ANN latency/recall, ingest rate, RSS."""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from .bert import make_embedder
from .config import IndexConfig, StoreConfig
from .embedder import Embedder, normalize_rows
from .index import HnswIndex
from .records import NewMemory

BenchResult = dict[str, float | int | str]
DataKind = Literal["lowrank", "uniform"]
INTRINSIC_DIM = 24
_SUBJECTS = ["My sister", "The neighbour", "Our dentist", "My manager", "The plumber", "Grandpa",
             "My best friend", "The landlord", "Our cat", "The baker"]
_VERBS = ["likes", "hates", "is allergic to", "collects", "keeps asking about", "cannot stand",
          "always forgets", "recommended"]
_OBJECTS = ["green tea", "jazz records", "mountain bikes", "old maps", "spicy food",
            "board games", "tulips", "science fiction novels", "sourdough bread", "chess"]


def read_rss_mb(field: str = "VmRSS") -> float:
    """Resident memory of this process in MiB, from /proc/self/status (0 if unavailable)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def sample_sentences(n: int) -> list[str]:
    """n distinct, plain English sentences (deterministic)."""
    combos = itertools.product(_SUBJECTS, _VERBS, _OBJECTS)
    return [f"{s} {v} {o}." for s, v, o in itertools.islice(combos, n)]


def random_unit_vectors(
    rng: np.random.Generator, n: int, dim: int, kind: DataKind, basis: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Random unit vectors: ``uniform`` on the sphere, or ``lowrank`` (a random 24-d subspace
    plus 5 % isotropic noise, closer to sentence embeddings' low intrinsic dimension)."""
    if kind == "uniform":
        return normalize_rows(rng.standard_normal((n, dim), dtype=np.float32))
    x = normalize_rows(rng.standard_normal((n, basis.shape[0]), dtype=np.float32) @ basis)
    noise = rng.standard_normal((n, dim), dtype=np.float32) * np.float32(0.05 / np.sqrt(dim))
    return normalize_rows(x + noise)


def bench_index(
    n: int, dim: int, config: IndexConfig, queries: int, k: int, seed: int,
    data_kind: DataKind = "lowrank",
) -> BenchResult:
    """Build an index of n random unit vectors; time k-NN queries and measure recall@k."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((INTRINSIC_DIM, dim), dtype=np.float32)
    data = random_unit_vectors(rng, n, dim, data_kind, basis)
    threads = max(1, os.cpu_count() or 1)
    build_cfg = config.model_copy(update={"num_threads": threads})
    index = HnswIndex(dim, build_cfg, capacity=n)
    start = time.perf_counter()
    index.add(list(range(n)), data)
    build_s = time.perf_counter() - start
    qs = random_unit_vectors(rng, queries, dim, data_kind, basis)
    times: list[float] = []
    found: list[list[int]] = []
    for q in qs:
        t0 = time.perf_counter()
        labels, _ = index.search(q, k)
        times.append((time.perf_counter() - t0) * 1000.0)
        found.append(labels)
    exact = _exact_topk(data, qs, k)
    hits = sum(len(set(f) & set(e)) for f, e in zip(found, exact, strict=True))
    return {
        "n": n,
        "dim": dim,
        "data": data_kind,
        "m": config.m,
        "ef_construction": config.ef_construction,
        "ef_search": config.ef_search,
        "build_s": round(build_s, 2),
        "query_p50_ms": round(float(np.percentile(times, 50)), 4),
        "query_p99_ms": round(float(np.percentile(times, 99)), 4),
        "recall_at_10": round(hits / (k * queries), 4),
    }


def _exact_topk(data: npt.NDArray[np.float32], qs: npt.NDArray[np.float32], k: int) -> list[
    list[int]
]:
    scores = qs @ data.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return [[int(i) for i in row] for row in top]


def bench_ingest(embedder: Embedder, sentences: int, batch: int = 32) -> BenchResult:
    """Ingest real sentences through a fresh store with real embeddings; time it."""
    from .store import HnswMemoryStore

    texts = sample_sentences(sentences)
    with tempfile.TemporaryDirectory(prefix="tars-memory-bench-") as tmp:
        store = HnswMemoryStore(StoreConfig(path=Path(tmp)), embedder)
        try:
            start = time.perf_counter()
            for i in range(0, len(texts), batch):
                store.add([NewMemory(t, source="bench") for t in texts[i : i + batch]])
            ingest_s = time.perf_counter() - start
            t0 = time.perf_counter()
            store.search("who enjoys tea?", k=5)
            search_ms = (time.perf_counter() - t0) * 1000.0
        finally:
            store.close()
    return {
        "ingest_sentences": len(texts),
        "ingest_per_s": round(len(texts) / ingest_s, 1),
        "text_query_ms": round(search_ms, 2),
    }


def run_benchmark(
    n: int = 100_000,
    *,
    dim: int = 384,
    queries: int = 500,
    k: int = 10,
    index: IndexConfig | None = None,
    ingest_sentences: int = 300,
    embedder: Embedder | None = None,
    seed: int = 0,
    data_kind: DataKind = "lowrank",
) -> BenchResult:
    """Run the whole memory benchmark; ``ingest_sentences=0`` skips the model part.

    ``data_kind="uniform"`` draws i.i.d. points on the 384-d sphere: a worst case where
    nearest neighbours are barely nearer than any other point and no ANN index reaches
    high recall cheaply; ``"lowrank"`` (default) resembles real embeddings.

    Keys: n, dim, data, m, ef_construction, ef_search, build_s, query_p50_ms, query_p99_ms,
    recall_at_10, ingest_sentences, ingest_per_s, text_query_ms, rss_mb, peak_rss_mb.
    """
    result: BenchResult = bench_index(
        n, dim, index or IndexConfig(), queries, k, seed, data_kind
    )
    if ingest_sentences > 0:
        emb = embedder or make_embedder()
        emb.load()
        result.update(bench_ingest(emb, ingest_sentences))
    result["rss_mb"] = round(read_rss_mb(), 1)
    result["peak_rss_mb"] = round(read_rss_mb("VmHWM"), 1)
    return result


def run(
    n: int = 100_000,
    *,
    uniform_n: int = 20_000,
    queries: int = 500,
    ingest_sentences: int = 300,
    m: int | None = None,
    ef_construction: int | None = None,
    ef_search: int | None = None,
    seed: int = 0,
) -> BenchResult:
    """``tars bench memory``: the low-rank run at ``n`` plus a uniform run at ``uniform_n``.

    Both use the same index settings; ``uniform_*`` keys report the worst case (i.i.d. points
    on the sphere) so the low-rank recall is never read as a guarantee. ``uniform_n=0`` skips it.
    """
    base = IndexConfig()
    index = base.model_copy(update={
        "m": m or base.m, "ef_construction": ef_construction or base.ef_construction,
        "ef_search": ef_search or base.ef_search,
    })
    result: BenchResult = {"bench": "memory"}
    result.update(run_benchmark(n, queries=queries, index=index,
                                ingest_sentences=ingest_sentences, seed=seed))
    if uniform_n > 0:
        uniform = bench_index(uniform_n, int(result["dim"]), index, queries, 10, seed, "uniform")
        for key in ("n", "build_s", "query_p50_ms", "query_p99_ms", "recall_at_10"):
            result[f"uniform_{key}"] = uniform[key]
        result["peak_rss_mb"] = round(read_rss_mb("VmHWM"), 1)
    return result
