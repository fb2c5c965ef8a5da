"""Settings of the llm worker: section ``[llm]`` of config/tars.toml, env ``TARS_<FIELD>``."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator

from tars.runtime.settings import CoreSettings
from tars_llm.config import LlamaCppConfig, LLMConfig, OpenAICompatConfig, SamplingConfig


class Settings(CoreSettings):
    """Provider, model, sampling, tool-loop and RAG knobs of the llm worker."""

    section: ClassVar[str] = "llm"

    provider: Literal["llamacpp", "openai"] = "llamacpp"
    model_path: Path | None = Field(default=None, description="own GGUF; default: the bundled Qwen")
    cache_dir: Path | None = None
    verify_on_start: bool = False
    n_ctx: int = Field(default=4096, ge=512)
    n_threads: int = Field(default=0, ge=0, description="0 = all cores up to 2, else cores - 1")
    nice: int = Field(default=5, ge=0, le=19, description="inference threads this much nicer")
    prefix_cache: bool = Field(default=True, description="keep the warmed prefix across starts")
    prefix_cache_dir: Path | None = None
    model: Literal["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"] = Field(
        default="qwen2.5-coder-0.5b", description="bundled model (1.5b: the large-model extra)")
    n_batch: int = Field(default=256, ge=8)
    chat_format: str | None = None
    tool_prompt: Literal["compact", "template"] = Field(
        default="compact", description="tools as one-line rules, or also the template's schemas")
    timezone: str = Field(default="", description="IANA zone of the Now line; empty = local")

    openai_base_url: str = "http://127.0.0.1:8080"
    openai_model: str = "default"
    openai_api_key: SecretStr | None = None
    openai_connect_timeout_s: float = Field(default=5.0, gt=0)
    openai_read_timeout_s: float = Field(default=60.0, gt=0)

    max_tokens: int = Field(default=256, ge=1, description="cap on a request's max_tokens")
    top_p: float = Field(default=0.9, gt=0, le=1)
    top_k: int = Field(default=40, ge=0)
    repeat_penalty: float = Field(default=1.1, gt=0)

    max_tool_steps: int = Field(default=3, ge=0)
    max_history_messages: int = Field(default=12, ge=0)
    max_memory_snippets: int = Field(default=4, ge=0)
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
            provider=self.provider,
            llamacpp=LlamaCppConfig(
                model_path=self.model_path, cache_dir=self.cache_dir,
                verify_on_start=self.verify_on_start, n_ctx=self.n_ctx,
                n_threads=self.n_threads or None, n_batch=self.n_batch, chat_format=self.chat_format,
                tool_prompt=self.tool_prompt, model=self.model, nice=self.nice,
                prefix_cache=self.prefix_cache, prefix_cache_dir=self.prefix_cache_dir,
            ),
            openai=OpenAICompatConfig(
                base_url=self.openai_base_url, model=self.openai_model, api_key=self.openai_api_key,
                connect_timeout_s=self.openai_connect_timeout_s,
                read_timeout_s=self.openai_read_timeout_s,
            ),
            sampling=SamplingConfig(max_tokens=self.max_tokens, top_p=self.top_p, top_k=self.top_k,
                                    repeat_penalty=self.repeat_penalty),
            max_tool_steps=self.max_tool_steps,
            max_history_messages=self.max_history_messages,
            max_memory_snippets=self.max_memory_snippets,
        )
