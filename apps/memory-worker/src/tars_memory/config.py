"""Configuration knobs of the memory engine (plain pydantic models, no I/O), each declared once.

The ``*Options`` models hold the fields a user sets in ``[memory]`` (env ``TARS_<KEY>``): the
worker's Settings inherits them, so name, type, default, bounds and description exist only
here. The ``*Config`` models add what only the engine knows and are frozen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EmbedderOptions(BaseModel):
    """Which sentence-embedding model to load and how to batch it: the settable part."""

    model: str | None = Field(
        default=None, description="sentence-transformers model directory or name; unset = the "
        "packaged all-MiniLM-L6-v2")
    device: str = "cpu"
    batch_size: int = Field(default=64, ge=1, description="texts per embedding call")
    batch_wait_ms: float = Field(
        default=5.0, ge=0, description="queries arriving this close together share one batch")


class EmbedderConfig(EmbedderOptions):
    """Which sentence-embedding model to load and how to batch it."""

    model_config = ConfigDict(frozen=True)


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


class StoreOptions(BaseModel):
    """How the store ingests and saves: the settable part."""

    index: IndexConfig = IndexConfig()
    min_text_chars: int = Field(default=3, ge=0, description="shorter texts are not stored")
    flush_every: int = Field(
        default=256, ge=1, description="save the index after this many unsaved changes")
    flush_interval_s: float = Field(
        default=30.0, gt=0, description="...or when the oldest unsaved change is this old")
    on_model_change: Literal["reembed", "error"] = Field(
        default="reembed",
        description="what to do when the store was built with another model or dimension")


class StoreConfig(StoreOptions):
    """Where the store lives and how it ingests, searches and saves."""

    model_config = ConfigDict(frozen=True)

    path: Path = Field(description="Directory holding memory.sqlite3 and the index files.")
    exact_search_below: int = Field(
        default=2048,
        ge=0,
        description="Filtered searches over at most this many rows are exact (brute force).",
    )
