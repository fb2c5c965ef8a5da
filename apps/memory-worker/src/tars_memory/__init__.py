"""tars memory engine: sentence embeddings, an hnswlib + SQLite store, the character profile."""

from .aio import AsyncMemory
from .batching import EmbedBatcher
from .bench import run_benchmark
from .character import (
    CharacterProfile,
    CharacterRepository,
    default_profile_path,
    load_profile,
)
from .config import EmbedderConfig, IndexConfig, StoreConfig
from .embedder import DEFAULT_MODEL_NAME, Embedder, SentenceTransformerEmbedder
from .errors import (
    CharacterError,
    DimensionMismatchError,
    EmbedderError,
    MemoryEngineError,
    StoreClosedError,
)
from .records import (
    AddResult,
    MemoryFilter,
    MemoryHit,
    MemoryRecord,
    NewMemory,
    OpenReport,
)
from .store import HnswMemoryStore, MemoryStore

__all__ = [
    "DEFAULT_MODEL_NAME",
    "AddResult",
    "AsyncMemory",
    "CharacterError",
    "CharacterProfile",
    "CharacterRepository",
    "DimensionMismatchError",
    "EmbedBatcher",
    "Embedder",
    "EmbedderConfig",
    "EmbedderError",
    "HnswMemoryStore",
    "IndexConfig",
    "MemoryEngineError",
    "MemoryFilter",
    "MemoryHit",
    "MemoryRecord",
    "MemoryStore",
    "NewMemory",
    "OpenReport",
    "SentenceTransformerEmbedder",
    "StoreClosedError",
    "StoreConfig",
    "default_profile_path",
    "load_profile",
    "run_benchmark",
]
