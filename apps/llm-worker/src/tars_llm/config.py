"""Configuration of the LLM engine (plain pydantic models; the service maps settings onto them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tars_llm.types import SamplingParams


class LlamaCppConfig(BaseModel):
    """Local llama.cpp provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_path: Path | None = None
    """A user GGUF file; when set, the bundled model is neither assembled nor verified."""
    cache_dir: Path | None = None
    """Where the bundled model is assembled (default ``$XDG_CACHE_HOME/tars/models``)."""
    verify_on_start: bool = False
    """Re-hash the assembled model on every start instead of trusting its checksum marker."""
    n_ctx: int = Field(default=4096, ge=512)
    n_threads: int | None = Field(default=None, ge=1)
    n_batch: int = Field(default=256, ge=8)
    chat_format: str | None = None
    """None: use the chat template stored in the GGUF file."""
    tool_prompt: Literal["compact", "template"] = "compact"
    """``compact``: tools only as the one-line rules of the system text (tars_llm.rules);
    ``template``: also the chat template's JSON-schema block (about 3x the tokens)."""
    seed: int = 0
    model: Literal["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"] = "qwen2.5-coder-0.5b"
    """Which bundled model to assemble (the 1.5B needs the ``large-model`` extra)."""
    nice: int = Field(default=5, ge=0, le=19)
    """How much lower than the worker's the inference threads' scheduling priority is."""
    prefix_cache: bool = True
    """Save the warmed system + tools prefix to disk and restore it on the next start."""
    prefix_cache_dir: Path | None = None
    """Default ``$XDG_CACHE_HOME/tars/models/prefix``."""


class OpenAICompatConfig(BaseModel):
    """A remote or local server that speaks ``/v1/chat/completions`` (llama.cpp server, Ollama...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = "http://127.0.0.1:8080"
    """Server root; ``/v1/chat/completions`` is appended unless the URL already ends in ``/v1``."""
    model: str = "default"
    api_key: SecretStr | None = None
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    max_connections: int = Field(default=4, ge=1)
    include_usage: bool = True
    """Ask for token usage in the stream (``stream_options.include_usage``)."""


class SamplingConfig(BaseModel):
    """Default decoding parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int = Field(default=256, ge=1)
    temperature: float = Field(default=0.2, ge=0)
    top_p: float = Field(default=0.9, gt=0, le=1)
    top_k: int = Field(default=40, ge=0)
    repeat_penalty: float = Field(default=1.1, gt=0)

    def to_params(self) -> SamplingParams:
        """Return these settings as SamplingParams."""
        return SamplingParams(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            repeat_penalty=self.repeat_penalty,
        )


class LLMConfig(BaseModel):
    """Everything the LLM engine needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Literal["llamacpp", "openai"] = "llamacpp"
    llamacpp: LlamaCppConfig = LlamaCppConfig()
    openai: OpenAICompatConfig = OpenAICompatConfig()
    sampling: SamplingConfig = SamplingConfig()
    max_tool_steps: int = Field(default=3, ge=0)
    max_history_messages: int = Field(default=12, ge=0)
    max_memory_snippets: int = Field(default=4, ge=0)
