"""The memory store: SQLite as the source of truth, an hnswlib index beside it."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import numpy as np
import numpy.typing as npt

from .config import StoreConfig
from .db import MemoryDB
from .embedder import Embedder, normalize_rows
from .errors import DimensionMismatchError, EmbedderError, StorageError, StoreClosedError
from .index import HnswIndex, Manifest
from .records import (
    AddResult,
    MemoryFilter,
    MemoryRecord,
    NewMemory,
    OpenReport,
    ScoredRecord,
    normalize_text,
)

log = logging.getLogger(__name__)
Vectors = npt.NDArray[np.float32]
DB_FILE, INDEX_FILE, MANIFEST_FILE = "memory.sqlite3", "index.hnsw", "index.manifest.json"


@contextlib.contextmanager
def committing(what: str) -> Iterator[None]:
    """Turn a refused write (read-only or full disk, I/O error) into StorageError."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"{what} not stored: {exc}") from exc


@runtime_checkable
class MemoryStore(Protocol):
    """Long-term memory: remember texts, recall the nearest ones, forget on request.

    Every method is blocking; a service runs them in one dedicated worker thread.
    """

    def add(self, items: Sequence[NewMemory]) -> AddResult: ...

    def search(
        self, query: str, k: int = 5, flt: MemoryFilter | None = None, min_score: float = -1.0
    ) -> list[ScoredRecord]: ...

    def search_vector(
        self, vector: Vectors, k: int = 5, flt: MemoryFilter | None = None,
        min_score: float = -1.0,
    ) -> list[ScoredRecord]: ...

    def get(self, ids: Sequence[int]) -> list[MemoryRecord]: ...

    def forget(self, ids: Sequence[int]) -> int: ...

    def forget_where(self, flt: MemoryFilter) -> int: ...

    def wipe(self) -> int: ...

    def count(self, flt: MemoryFilter | None = None) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class HnswMemoryStore:
    """MemoryStore backed by SQLite (WAL) and an hnswlib cosine index.

    Crash safety: every ingest or deletion commits to SQLite first (vectors are kept there as
    float32 BLOBs), then updates the in-memory index. The index is saved atomically with a
    manifest every ``flush_every`` changes / ``flush_interval_s`` seconds and on close; at
    open the manifest is compared with the database, and a stale index is reconciled (missing
    rows added, deleted rows removed) or rebuilt from the stored vectors without the model.

    Model change: if the database was filled by another model (name or dimension), the store
    re-embeds every stored text in one transaction (``on_model_change="reembed"``, default)
    or raises DimensionMismatchError (``"error"``).
    """

    def __init__(self, config: StoreConfig, embedder: Embedder) -> None:
        """Open (or create) the store at ``config.path``; loads the embedder if needed.

        Raises DimensionMismatchError, EmbedderError.
        """
        self._config = config
        self._embedder = embedder
        self._lock = threading.RLock()
        self._closed = False
        self._pending = 0
        self._oldest_pending = 0.0
        root = Path(config.path)
        self._index_path, self._manifest_path = root / INDEX_FILE, root / MANIFEST_FILE
        embedder.load()
        self._dim = embedder.dim
        self._db = MemoryDB(root / DB_FILE)
        try:
            reembedded = self._check_model()
            self._index, self.report = self._open_index(reembedded)
            self._live = self._db.count()
        except BaseException:
            self._db.close()
            raise
        log.info("memory store open: %s", self.report)

    # -- opening ----------------------------------------------------------------------------
    def _check_model(self) -> bool:
        stored_model, stored_dim = self._db.get_meta("model"), self._db.get_meta("dim")
        name, dim = self._embedder.name, self._dim
        if stored_model == name and stored_dim == str(dim):
            return False
        if stored_model is None or self._db.count() == 0:
            self._db.set_model(name, dim)
            return False
        if self._config.on_model_change == "error":
            raise DimensionMismatchError(stored_model, int(stored_dim or 0), name, dim)
        log.warning("embedding model changed (%s -> %s): re-embedding", stored_model, name)
        with self._db.transaction() as tx:
            for ids, texts in self._db.iter_texts():
                self._db.replace_vectors(ids, self._embed(texts))
            tx.set_meta("model", name)
            tx.set_meta("dim", str(dim))
        return True

    def _open_index(self, reembedded: bool) -> tuple[HnswIndex, OpenReport]:
        count = self._db.count()
        manifest = Manifest.load(self._manifest_path)
        if not reembedded and manifest is not None and self._manifest_fits(manifest):
            index = self._load_index(manifest)
            if index is not None:
                if manifest.generation == self._db.generation() and (
                    index.elements == manifest.elements
                ):
                    return index, OpenReport("loaded", count)
                added, removed = self._reconcile(index)
                self._save(index)
                return index, OpenReport("reconciled", count, added, removed)
        index = self._rebuild()
        if count == 0 and not reembedded:
            return index, OpenReport("empty", 0)
        return index, OpenReport("reembedded" if reembedded else "rebuilt", count, count)

    def _manifest_fits(self, manifest: Manifest) -> bool:
        return manifest.dim == self._dim and manifest.model == self._embedder.name

    def _load_index(self, manifest: Manifest) -> HnswIndex | None:
        # a file of another size than recorded is never handed to hnswlib (rebuild instead)
        try:
            size = self._index_path.stat().st_size
        except OSError:
            return None
        if size != manifest.index_bytes:
            return None
        return HnswIndex.load(self._index_path, self._dim, self._config.index)

    def _reconcile(self, index: HnswIndex) -> tuple[int, int]:
        db_ids = set(self._db.ids())
        labels = index.labels()
        missing = sorted(db_ids - labels)
        for start in range(0, len(missing), 4096):
            chunk = missing[start : start + 4096]
            index.add(chunk, self._db.vectors(chunk, self._dim))
        removed = index.delete(sorted(labels - db_ids))
        return len(missing), removed

    def _rebuild(self) -> HnswIndex:
        count = self._db.count()
        capacity = max(int(count * 1.1) + 1, self._config.index.initial_capacity)
        index = HnswIndex(self._dim, self._config.index, capacity)
        for ids, vectors in self._db.iter_vectors(self._dim):
            index.add(ids, vectors)
        self._save(index)
        return index

    def _save(self, index: HnswIndex) -> None:
        index.save(self._index_path)
        count, max_id = self._db.stats()
        Manifest(
            generation=self._db.generation(),
            count=count,
            max_id=max_id,
            dim=self._dim,
            model=self._embedder.name,
            elements=index.elements,
            index_bytes=self._index_path.stat().st_size,
        ).save(self._manifest_path)
        self._pending = 0

    # -- helpers ----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("memory store is closed")

    def _embed(self, texts: Sequence[str]) -> Vectors:
        vectors = normalize_rows(self._embedder.embed(texts))
        if vectors.shape != (len(texts), self._dim):
            raise EmbedderError(f"embedder returned shape {vectors.shape}, want {self._dim}-d")
        return vectors

    def _changed(self, n: int) -> None:
        if n <= 0:
            return
        now = time.monotonic()
        if self._pending == 0:
            self._oldest_pending = now
        self._pending += n
        try:
            self.flush_if_due()
        except OSError as exc:  # the rows are committed; the index is reconciled at open
            log.warning("index not saved (%s): it will be rebuilt from the database", exc)

    def flush_if_due(self) -> bool:
        """Save the index if enough changes or time accumulated; return whether it saved."""
        with self._lock:
            self._check_open()
            if self._pending == 0:
                return False
            age = time.monotonic() - self._oldest_pending
            if self._pending >= self._config.flush_every or age >= self._config.flush_interval_s:
                self._save(self._index)
                return True
            return False

    def flush(self) -> None:
        """Save the index and manifest now (atomic)."""
        with self._lock:
            self._check_open()
            self._save(self._index)

    def close(self) -> None:
        """Flush unsaved index changes and close the database; idempotent."""
        with self._lock:
            if self._closed:
                return
            if self._pending:
                self._save(self._index)
            self._db.close()
            self._closed = True

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def dim(self) -> int:
        """Vector dimension of this store."""
        return self._dim

    @property
    def pending(self) -> int:
        """Changes committed to SQLite but not yet saved in the index file."""
        return self._pending

    # -- ingest -----------------------------------------------------------------------------
    def _triage(self, items: Sequence[NewMemory]) -> tuple[list[tuple[NewMemory, str]], int, int]:
        kept: list[tuple[NewMemory, str]] = []
        seen: set[tuple[str, str]] = set()
        short = dup = 0
        for item in items:
            norm = normalize_text(item.text)
            if len(norm) < max(self._config.min_text_chars, 1):
                short += 1
            elif (norm, item.role) in seen:
                dup += 1
            else:
                seen.add((norm, item.role))
                kept.append((item, norm))
        existing = self._db.existing_norms([(norm, it.role) for it, norm in kept])
        fresh = [(it, norm) for it, norm in kept if (norm, it.role) not in existing]
        return fresh, dup + len(kept) - len(fresh), short

    def add(self, items: Sequence[NewMemory]) -> AddResult:
        """Embed and store new memories in one transaction, skipping duplicates and short texts.

        Raises StoreClosedError, EmbedderError.
        """
        with self._lock:
            self._check_open()
            fresh, dup, short = self._triage(items)
            if not fresh:
                return AddResult((), dup, short)
            vectors = self._embed([it.text for it, _ in fresh])
            with committing(f"{len(fresh)} memories"):
                ids = self._db.insert(fresh, vectors)
            self._index.add(ids, vectors)
            self._live += len(ids)
            self._changed(len(ids))
            return AddResult(tuple(ids), dup, short)

    # -- query ------------------------------------------------------------------------------
    def search(
        self, query: str, k: int = 5, flt: MemoryFilter | None = None, min_score: float = -1.0
    ) -> list[ScoredRecord]:
        """Embed the query and return up to k hits with score >= min_score, best first."""
        with self._lock:
            self._check_open()
            return self.search_vector(self._embed([query])[0], k, flt, min_score)

    def search_vector(
        self, vector: Vectors, k: int = 5, flt: MemoryFilter | None = None,
        min_score: float = -1.0,
    ) -> list[ScoredRecord]:
        """Nearest stored memories to a query vector (filtered searches over few rows are
        exact; larger ones use hnswlib's filter callback)."""
        with self._lock:
            self._check_open()
            query = normalize_rows(vector)[0]
            if k <= 0:
                return []
            if flt is None or flt.is_empty():
                ids, scores = self._ann(query, k, None, None)
            else:
                allowed = self._db.ids(flt)
                if len(allowed) <= self._config.exact_search_below:
                    ids, scores = self._exact(query, allowed, k)
                else:
                    ids, scores = self._ann(query, k, allowed, set(allowed).__contains__)
            records = self._db.records(ids)
            return [
                ScoredRecord(records[i], s)
                for i, s in zip(ids, scores, strict=True)
                if i in records and s >= min_score
            ]

    def _ann(
        self, query: Vectors, k: int, allowed: list[int] | None,
        allow: Callable[[int], bool] | None,
    ) -> tuple[list[int], list[float]]:
        live = self._live if allowed is None else len(allowed)
        if live == 0:
            return [], []
        try:
            return self._index.search(query, min(k, live), allow)
        except RuntimeError:  # hnswlib could not gather k live neighbours
            return self._exact(query, allowed if allowed is not None else self._db.ids(), k)

    def _exact(self, query: Vectors, ids: list[int], k: int) -> tuple[list[int], list[float]]:
        if not ids:
            return [], []
        scores = self._db.vectors(ids, self._dim) @ query
        top = np.argsort(-scores)[:k]
        return [ids[int(i)] for i in top], [float(scores[int(i)]) for i in top]

    # -- read / forget ----------------------------------------------------------------------
    def get(self, ids: Sequence[int]) -> list[MemoryRecord]:
        """Records by id, in the given order, missing ones left out."""
        with self._lock:
            self._check_open()
            found = self._db.records(list(ids))
            return [found[i] for i in ids if i in found]

    def count(self, flt: MemoryFilter | None = None) -> int:
        """Number of stored memories matching a filter."""
        with self._lock:
            self._check_open()
            return self._db.count(flt)

    def forget(self, ids: Sequence[int]) -> int:
        """Delete memories by id; return how many existed."""
        with self._lock:
            self._check_open()
            with committing("the deletion"):
                gone = self._db.delete(list(ids))
            self._index.delete(gone)
            self._live -= len(gone)
            self._changed(len(gone))
            return len(gone)

    def forget_where(self, flt: MemoryFilter) -> int:
        """Delete every memory matching a non-empty filter (use wipe() to delete all).

        Raises ValueError for an empty filter.
        """
        if flt.is_empty():
            raise ValueError("empty filter: call wipe() to delete every memory")
        with self._lock:
            self._check_open()
            return self.forget(self._db.ids(flt))

    def wipe(self) -> int:
        """Delete every memory and start a fresh index; return how many were deleted."""
        with self._lock:
            self._check_open()
            with committing("the wipe"):
                n = self._db.delete_all()
            self._live = 0
            self._index = HnswIndex(self._dim, self._config.index)
            try:
                self._save(self._index)
            except OSError as exc:  # committed; a stale index is reconciled at open
                log.warning("index not saved after the wipe (%s)", exc)
            return n
