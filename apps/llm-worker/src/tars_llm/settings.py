"""Settings of the llm worker: section ``[llm]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator

from tars.runtime.settings import CoreSettings
from tars_llm.config import (
    LlamaCppConfig,
    LlamaCppOptions,
    LLMConfig,
    LLMOptions,
    OpenAICompatConfig,
    SamplingConfig,
    SamplingOptions,
    field_of,
)


class Settings(CoreSettings, LLMOptions, LlamaCppOptions, SamplingOptions):
    """Provider, model, sampling, tool-loop and RAG knobs of the llm worker.

    The engine's knobs are inherited from tars_llm.config (declared there once); the
    ``openai_*`` ones are OpenAICompatConfig's fields under a prefixed name.
    """

    section: ClassVar[str] = "llm"

    timezone: str = Field(default="", description="IANA zone of the Now line; empty = local")

    openai_base_url: str = field_of(OpenAICompatConfig, "base_url")
    openai_model: str = field_of(OpenAICompatConfig, "model")
    openai_api_key: SecretStr | None = field_of(OpenAICompatConfig, "api_key")
    openai_connect_timeout_s: float = field_of(OpenAICompatConfig, "connect_timeout_s")
    openai_read_timeout_s: float = field_of(OpenAICompatConfig, "read_timeout_s")

    rag_timeout_s: float = Field(default=1.0, gt=0)
    rag_k: int = Field(default=4, ge=1, le=100)
    rag_min_score: float = 0.0
    tool_timeout_s: float = Field(default=30.0, gt=0)
    queue_max: int = Field(default=8, ge=0, description="requests waiting for the model, beyond it: busy")
    warm_up: bool = True
    character_file: Path = Path("config/character.toml")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def zone(self) -> ZoneInfo | None:
        """The configured time zone (None: the machine's local zone)."""
        return ZoneInfo(self.timezone) if self.timezone else None

    def engine_config(self) -> LLMConfig:
        """These settings as the engine's LLMConfig."""
        return LLMConfig(
            **_values(self, LLMOptions),
            llamacpp=LlamaCppConfig(**_values(self, LlamaCppOptions)),
            openai=OpenAICompatConfig(
                base_url=self.openai_base_url, model=self.openai_model, api_key=self.openai_api_key,
                connect_timeout_s=self.openai_connect_timeout_s,
                read_timeout_s=self.openai_read_timeout_s,
            ),
            sampling=SamplingConfig(**_values(self, SamplingOptions)),
        )


def _values(settings: Settings, options: type[BaseModel]) -> dict[str, Any]:
    """The values of ``options``' fields (which the settings inherit)."""
    return {name: getattr(settings, name) for name in options.model_fields}
