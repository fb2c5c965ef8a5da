"""Test helpers: a deterministic bag-of-words embedder that needs no model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from .embedder import Vectors, normalize_rows

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Embedder stand-in: hashed bag of words, unit length; texts sharing words are close.

    Useful to exercise the store (crash recovery, filters) without loading a model.
    """

    def __init__(self, dim: int = 64, name: str | None = None) -> None:
        self._dim = dim
        self._name = name or f"hashing-{dim}"
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def load(self) -> None:
        """Nothing to load."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Hash each lower-cased word into a signed bucket, then L2-normalize."""
        self.calls += 1
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest())
                out[row, h % self._dim] += 1.0 if (h >> 16) & 1 else -1.0
        return normalize_rows(out)
