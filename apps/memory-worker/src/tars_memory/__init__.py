"""tars memory engine: sentence embeddings, an hnswlib + SQLite store, the character."""

from .aio import AsyncMemory
from .batching import EmbedBatcher
from .bench import run_benchmark
from .character import (
    CharacterRepository,
    default_character_file,
    load_character,
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
    MemoryRecord,
    NewMemory,
    OpenReport,
    ScoredRecord,
)
from .store import HnswMemoryStore, MemoryStore

__all__ = [
    "DEFAULT_MODEL_NAME",
    "AddResult",
    "AsyncMemory",
    "CharacterError",
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
    "MemoryRecord",
    "MemoryStore",
    "NewMemory",
    "OpenReport",
    "ScoredRecord",
    "SentenceTransformerEmbedder",
    "StoreClosedError",
    "StoreConfig",
    "default_character_file",
    "load_character",
    "run_benchmark",
]
