"""Settings of the memory worker: section ``[memory]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from tars.runtime.settings import CoreSettings

from .config import EmbedderConfig, EmbedderOptions, StoreConfig, StoreOptions


class Settings(CoreSettings, EmbedderOptions, StoreOptions):
    """Where memories live, which model embeds them, how queries and turns are handled.

    The engine's knobs (``model`` ... ``batch_wait_ms``, ``index`` ... ``on_model_change``) are
    inherited from tars_memory.config, declared there once.
    """

    section: ClassVar[str] = "memory"

    data_dir: Path = Field(default=Path(".tars/data/memory"),
                           description="memory.sqlite3, the index and character.sqlite3")
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
        return EmbedderConfig(**{name: getattr(self, name) for name in EmbedderOptions.model_fields})

    def store(self) -> StoreConfig:
        return StoreConfig(path=self.folder(),
                           **{name: getattr(self, name) for name in StoreOptions.model_fields})
