"""Settings of the memory worker: section ``[memory]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from tars.runtime.settings import CoreSettings

from .config import EmbedderConfig, IndexConfig, StoreConfig


class Settings(CoreSettings):
    """Where memories live, which model embeds them, how queries and turns are handled."""

    section: ClassVar[str] = "memory"

    data_dir: Path = Field(default=Path(".tars/data/memory"),
                           description="memory.sqlite3, the index and character.sqlite3")
    model: str | None = Field(default=None, description="sentence-transformers model directory; "
                              "unset = the packaged all-MiniLM-L6-v2")
    device: str = "cpu"
    batch_size: int = Field(default=64, ge=1, description="texts per embedding call")
    batch_wait_ms: float = Field(default=5.0, ge=0, description="queries gathered into one batch")
    index: IndexConfig = IndexConfig()
    min_text_chars: int = Field(default=3, ge=0, description="shorter texts are not stored")
    flush_every: int = Field(default=256, ge=1, description="save the index after N changes")
    flush_interval_s: float = Field(default=30.0, gt=0, description="...or after this long")
    on_model_change: Literal["reembed", "error"] = "reembed"
    default_k: int = Field(default=5, ge=1, le=100, description="hits when a query names no k")
    min_score: float = Field(default=0.25, ge=-1.0, le=1.0,
                             description="relevance threshold when a query's threshold is 0")
    max_query_chars: int = Field(default=2000, ge=1, description="longer queries are refused")
    character_file: Path = Field(default=Path("config/character.toml"),
                                 description="default persona; the packaged one if missing")
    ingest_turns: bool = Field(default=True, description="remember completed turns")
    ingest_intent_turns: bool = Field(default=False,
                                      description="also remember local-intent turns (time, date)")

    def folder(self) -> Path:
        return self.data_dir.expanduser().absolute()

    def embedder(self) -> EmbedderConfig:
        return EmbedderConfig(model=self.model, device=self.device, batch_size=self.batch_size,
                              max_wait_ms=self.batch_wait_ms)

    def store(self) -> StoreConfig:
        return StoreConfig(path=self.folder(), index=self.index, min_text_chars=self.min_text_chars,
                           flush_every=self.flush_every, flush_interval_s=self.flush_interval_s,
                           on_model_change=self.on_model_change)
