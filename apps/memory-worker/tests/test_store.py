"""Store behaviour with a model-free embedder: ingest rules, filters, forgetting, reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from tars_memory import (
    HnswMemoryStore,
    MemoryFilter,
    NewMemory,
    StoreClosedError,
    StoreConfig,
)
from tars_memory.testing import HashingEmbedder


def texts(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.record.text for h in hits]


def test_dedupe_and_short_texts(store: HnswMemoryStore) -> None:
    first = store.add([NewMemory("The garage code is 4711."), NewMemory("ok"), NewMemory("  ")])
    assert len(first.ids) == 1 and first.skipped_short == 2
    again = store.add([
        NewMemory("the garage   code is 4711"),  # same after normalization
        NewMemory("The garage code is 4711.", role="assistant"),  # other role: kept
        NewMemory("Bananas are yellow."),
        NewMemory("bananas are YELLOW!"),  # duplicate inside the batch
    ])
    assert again.skipped_duplicate == 2 and len(again.ids) == 2
    assert store.count() == 3


def test_search_scores_and_threshold(store: HnswMemoryStore) -> None:
    store.add([NewMemory("the red bicycle is in the shed"), NewMemory("pasta needs salt water")])
    hits = store.search("where is the red bicycle", k=5)
    assert texts(hits)[0] == "the red bicycle is in the shed"
    assert len(hits) == 2 and hits[0].score > hits[1].score  # no threshold by default
    assert store.search("where is the red bicycle", k=5, min_score=0.99) == []


def test_filters_site_role_time(store: HnswMemoryStore) -> None:
    store.add([
        NewMemory("kitchen timer set for tea", site="kitchen", role="user", time=100.0),
        NewMemory("kitchen lights tea dimmed", site="kitchen", role="assistant", time=200.0),
        NewMemory("bedroom alarm for tea at seven", site="bedroom", role="user", time=300.0),
    ])
    q = "tea"
    assert {h.record.site for h in store.search(q, 10, MemoryFilter(site="kitchen"))} == {
        "kitchen"
    }
    assert texts(store.search(q, 10, MemoryFilter(role="assistant"))) == [
        "kitchen lights tea dimmed"
    ]
    in_range = store.search(q, 10, MemoryFilter(since=150.0, until=300.0))
    assert sorted(h.record.time for h in in_range) == [200.0, 300.0]
    assert store.search(q, 10, MemoryFilter(site="garage")) == []


def test_filtered_search_through_hnsw_callback(tmp_path: Path, hashing: HashingEmbedder) -> None:
    cfg = StoreConfig(path=tmp_path, exact_search_below=0)  # force the ANN filter path
    with HnswMemoryStore(cfg, hashing) as s:
        s.add([NewMemory(f"note number {i} about topic {i % 7}", site=f"s{i % 3}")
               for i in range(300)])
        hits = s.search("note about topic 3", k=20, flt=MemoryFilter(site="s1"))
        assert len(hits) == 20 and all(h.record.site == "s1" for h in hits)


def test_forget_by_id_filter_text_and_wipe(store: HnswMemoryStore) -> None:
    ids = store.add([
        NewMemory("alpha secret one", site="a"), NewMemory("beta secret two", site="b"),
        NewMemory("gamma public three", site="b"), NewMemory("delta public four", site="c"),
    ]).ids
    assert store.forget([ids[0], 99999]) == 1
    assert "alpha secret one" not in texts(store.search("alpha secret one", 10))
    assert store.forget_where(MemoryFilter(contains="SECRET")) == 1
    assert store.forget_where(MemoryFilter(site="b")) == 1
    assert texts(store.search("public", 10)) == ["delta public four"]
    with pytest.raises(ValueError):
        store.forget_where(MemoryFilter())
    assert store.wipe() == 1 and store.count() == 0 and store.search("delta", 5) == []
    store.add([NewMemory("after wipe memory")])
    assert texts(store.search("after wipe", 1)) == ["after wipe memory"]


def test_reopen_states(tmp_path: Path, hashing: HashingEmbedder) -> None:
    cfg = StoreConfig(path=tmp_path, flush_every=10_000, flush_interval_s=3600)
    s = HnswMemoryStore(cfg, hashing)
    assert s.report.index_state == "empty"
    ids = s.add([NewMemory(f"fact {i} of the day") for i in range(50)]).ids
    s.close()
    s = HnswMemoryStore(cfg, hashing)
    assert s.report.index_state == "loaded"
    s.add([NewMemory("unsaved fact about owls")])
    assert s.forget([ids[3]]) == 1
    assert s.pending == 2
    # simulate a crash: drop the store without close() (index file not saved)
    s._db.close()
    s = HnswMemoryStore(cfg, hashing)
    assert (s.report.index_state, s.report.added, s.report.removed) == ("reconciled", 1, 1)
    assert texts(s.search("owls", 1)) == ["unsaved fact about owls"]
    assert s.count() == 50
    s.close()
    (tmp_path / "index.hnsw").write_bytes(b"garbage")
    s = HnswMemoryStore(cfg, hashing)
    assert s.report.index_state == "rebuilt" and s.report.count == 50
    assert texts(s.search("unsaved fact about owls", 1)) == ["unsaved fact about owls"]
    s.close()
    with pytest.raises(StoreClosedError):
        s.search("owls")


def test_index_grows_past_capacity(tmp_path: Path, hashing: HashingEmbedder) -> None:
    cfg = StoreConfig(path=tmp_path, index={"initial_capacity": 8})  # type: ignore[arg-type]
    with HnswMemoryStore(cfg, hashing) as s:
        ids = s.add([NewMemory(f"item {i} in the list") for i in range(100)]).ids
        assert len(ids) == 100
        assert texts(s.search("item 77 in the list", 1)) == ["item 77 in the list"]
