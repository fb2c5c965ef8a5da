"""Configuration knobs of the memory engine (plain pydantic models, no I/O)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EmbedderConfig(BaseModel):
    """Which sentence-embedding model to load and how to batch it."""

    model_config = ConfigDict(frozen=True)

    model: str | None = Field(
        default=None,
        description="Model directory or name; None uses the bundled all-MiniLM-L6-v2.",
    )
    device: str = "cpu"
    batch_size: int = Field(default=64, ge=1)
    max_wait_ms: float = Field(default=5.0, ge=0, description="Async batch gathering window.")


class IndexConfig(BaseModel):
    """HNSW parameters (cosine space)."""

    model_config = ConfigDict(frozen=True)

    m: int = Field(default=16, ge=2, description="HNSW graph degree (M).")
    ef_construction: int = Field(default=100, ge=1)
    ef_search: int = Field(default=128, ge=1, description="Query-time ef (raised to k if lower).")
    initial_capacity: int = Field(default=1024, ge=1)
    growth_factor: float = Field(default=2.0, gt=1.0)
    num_threads: int = Field(default=1, ge=1)
    seed: int = 100


class StoreConfig(BaseModel):
    """Where the store lives and how it ingests, searches and saves."""

    model_config = ConfigDict(frozen=True)

    path: Path = Field(description="Directory holding memory.sqlite3 and the index files.")
    index: IndexConfig = IndexConfig()
    min_text_chars: int = Field(default=3, ge=0, description="Shorter texts are skipped.")
    flush_every: int = Field(
        default=256, ge=1, description="Save the index after this many unsaved changes."
    )
    flush_interval_s: float = Field(
        default=30.0, ge=0, description="...or when the oldest unsaved change is this old."
    )
    exact_search_below: int = Field(
        default=2048,
        ge=0,
        description="Filtered searches over at most this many rows are exact (brute force).",
    )
    on_model_change: Literal["reembed", "error"] = Field(
        default="reembed",
        description="What to do when the store was built with another model or dimension.",
    )
