"""Configuration of the LLM engine (plain pydantic models), each knob declared once.

The ``*Options`` models hold the fields a user sets in ``[llm]`` (env ``TARS_<KEY>``): the
worker's Settings inherits them, so name, type, default, bounds and description exist only
here. The ``*Config`` models add what only the engine knows and are frozen.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from tars_llm.types import SamplingParams


class LlamaCppOptions(BaseModel):
    """Local llama.cpp provider: the settable part."""

    model_path: Path | None = Field(
        default=None, description="own GGUF; default: the bundled Qwen (neither assembled nor "
        "verified when set)")
    cache_dir: Path | None = Field(
        default=None, description="where the bundled model is assembled; default "
        "$XDG_CACHE_HOME/tars/models")
    verify_on_start: bool = Field(
        default=False, description="re-hash the assembled model on every start instead of "
        "trusting its checksum marker")
    n_ctx: int = Field(default=4096, ge=512)
    n_threads: int = Field(default=0, ge=0, description="0 = all cores up to 2, else cores - 1")
    n_batch: int = Field(default=256, ge=8)
    chat_format: str | None = Field(
        default=None, description="None: use the chat template stored in the GGUF file")
    tool_prompt: Literal["compact", "template"] = Field(
        default="compact", description="tools as one-line rules (tars_llm.rules), or also the "
        "template's JSON-schema block (about 3x the tokens)")
    model: Literal["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"] = Field(
        default="qwen2.5-coder-0.5b", description="bundled model (1.5b: the large-model extra)")
    nice: int = Field(default=5, ge=0, le=19, description="inference threads this much nicer")
    prefix_cache: bool = Field(
        default=True, description="keep the warmed system + tools prefix across starts")
    prefix_cache_dir: Path | None = Field(
        default=None, description="default $XDG_CACHE_HOME/tars/models/prefix")


class LlamaCppConfig(LlamaCppOptions):
    """Local llama.cpp provider."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = 0


class OpenAICompatConfig(BaseModel):
    """A remote or local server that speaks ``/v1/chat/completions`` (llama.cpp server, Ollama...).

    The settings name these fields ``openai_<field>`` and take them over with :func:`field_of`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = Field(
        default="http://127.0.0.1:8080", description="server root; /v1/chat/completions is "
        "appended unless the URL already ends in /v1")
    model: str = "default"
    api_key: SecretStr | None = None
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=60.0, gt=0)
    max_connections: int = Field(default=4, ge=1)
    include_usage: bool = Field(
        default=True, description="ask for token usage in the stream (stream_options)")


class SamplingOptions(BaseModel):
    """Decoding parameters: the settable part (a request brings its own temperature)."""

    max_tokens: int = Field(default=256, ge=1, description="cap on a request's max_tokens")
    top_p: float = Field(default=0.9, gt=0, le=1)
    top_k: int = Field(default=40, ge=0)
    repeat_penalty: float = Field(default=1.1, gt=0)


class SamplingConfig(SamplingOptions):
    """Default decoding parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(default=0.2, ge=0)

    def to_params(self) -> SamplingParams:
        """Return these settings as SamplingParams."""
        return SamplingParams(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            repeat_penalty=self.repeat_penalty,
        )


class LLMOptions(BaseModel):
    """The provider and the bounds of a turn: the settable part."""

    provider: Literal["llamacpp", "openai"] = Field(
        default="llamacpp", description="embedded GGUF, or a streaming chat-completions server")
    max_tool_steps: int = Field(default=3, ge=0, description="tool-call rounds per turn")
    max_history_messages: int = Field(default=12, ge=0)
    max_memory_snippets: int = Field(default=4, ge=0)


class LLMConfig(LLMOptions):
    """Everything the LLM engine needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    llamacpp: LlamaCppConfig = LlamaCppConfig()
    openai: OpenAICompatConfig = OpenAICompatConfig()
    sampling: SamplingConfig = SamplingConfig()


def field_of(model: type[BaseModel], name: str) -> Any:
    """A copy of ``model``'s field ``name`` (default, bounds, description) for a setting that
    carries another name, e.g. ``openai_read_timeout_s: float = field_of(OpenAICompatConfig,
    "read_timeout_s")``."""
    return copy.deepcopy(model.model_fields[name])

