"""The benchmark returns the documented numbers (small index, no model)."""

from __future__ import annotations

from tars_memory import run_benchmark


def test_small_benchmark() -> None:
    result = run_benchmark(3000, queries=50, ingest_sentences=0)
    assert result["n"] == 3000 and result["dim"] == 384
    assert float(result["recall_at_10"]) >= 0.95 and result["data"] == "lowrank"
    assert 0 < float(result["query_p50_ms"]) <= float(result["query_p99_ms"])
    assert float(result["rss_mb"]) > 0
