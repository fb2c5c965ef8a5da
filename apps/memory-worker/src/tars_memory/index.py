"""HNSW vector index (hnswlib, cosine) with atomic saves and a JSON manifest."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import hnswlib
import numpy as np
import numpy.typing as npt

from .config import IndexConfig

Vectors = npt.NDArray[np.float32]
MANIFEST_VERSION = 1


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file via a temp file in the same directory, fsync, rename, fsync the directory.

    A crash at any moment leaves either the old file or the new one, never a torn file.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True, slots=True)
class Manifest:
    """What the saved index claims to contain, checked against SQLite at start-up."""

    generation: int
    count: int
    max_id: int
    dim: int
    model: str
    elements: int
    index_bytes: int
    version: int = MANIFEST_VERSION

    def save(self, path: Path) -> None:
        """Write the manifest atomically."""
        data = json.dumps(asdict(self), indent=2).encode()

        def write(tmp: Path) -> None:
            tmp.write_bytes(data)

        atomic_write(path, write)

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        """Read a manifest; None when missing, unreadable or of another version."""
        try:
            raw = json.loads(path.read_text())
            manifest = cls(**raw)
        except (OSError, ValueError, TypeError):
            return None
        return manifest if manifest.version == MANIFEST_VERSION else None


class HnswIndex:
    """An hnswlib cosine index whose labels are SQLite row ids."""

    def __init__(self, dim: int, config: IndexConfig, capacity: int | None = None) -> None:
        self.dim = dim
        self._config = config
        self._index = hnswlib.Index(space="cosine", dim=dim)
        self._index.init_index(
            max_elements=max(capacity or config.initial_capacity, 1),
            ef_construction=config.ef_construction,
            M=config.m,
            random_seed=config.seed,
        )
        self._index.set_num_threads(config.num_threads)

    @classmethod
    def load(cls, path: Path, dim: int, config: IndexConfig) -> HnswIndex | None:
        """Load a saved index; None if the file is missing or unreadable."""
        if not path.is_file():
            return None
        self = cls.__new__(cls)
        self.dim = dim
        self._config = config
        self._index = hnswlib.Index(space="cosine", dim=dim)
        try:
            self._index.load_index(str(path))
        except (RuntimeError, ValueError, OSError, MemoryError):
            return None
        self._index.set_num_threads(config.num_threads)
        return self

    @property
    def elements(self) -> int:
        """Number of labels held, deleted ones included."""
        return int(self._index.get_current_count())

    def labels(self) -> set[int]:
        """Every label in the index (deleted ones included)."""
        return {int(i) for i in self._index.get_ids_list()}

    def add(self, ids: Sequence[int], vectors: Vectors) -> None:
        """Add vectors under the given labels, growing the index when full."""
        if not ids:
            return
        needed = self.elements + len(ids)
        capacity = int(self._index.get_max_elements())
        if needed > capacity:
            grown = max(needed, int(capacity * self._config.growth_factor))
            self._index.resize_index(grown)
        self._index.add_items(
            np.asarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )

    def delete(self, ids: Sequence[int]) -> int:
        """Mark labels deleted; labels absent or already deleted are ignored."""
        done = 0
        for label in ids:
            try:
                self._index.mark_deleted(int(label))
            except RuntimeError:
                continue
            done += 1
        return done

    def search(
        self,
        vector: Vectors,
        k: int,
        allow: Callable[[int], bool] | None = None,
    ) -> tuple[list[int], list[float]]:
        """Return up to k (labels, cosine similarities), best first.

        Raises RuntimeError (from hnswlib) when it cannot find k live elements.
        """
        self._index.set_ef(max(self._config.ef_search, k))
        labels, distances = self._index.knn_query(
            np.asarray(vector, dtype=np.float32).reshape(1, -1), k=k, filter=allow
        )
        return [int(x) for x in labels[0]], [float(1.0 - d) for d in distances[0]]

    def save(self, path: Path) -> None:
        """Save atomically (temp file, fsync, rename)."""
        atomic_write(path, lambda tmp: self._index.save_index(str(tmp)))
