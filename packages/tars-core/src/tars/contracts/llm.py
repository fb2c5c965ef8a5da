"""LLM payloads: request, stream chunk, response, cancel."""

from __future__ import annotations

from typing import Literal

from tars.contracts.envelope import Payload


class ChatMessage(Payload):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    name: str | None = None


class LlmRequest(Payload):
    """Generate a reply to ``text`` given the bounded ``history`` of the conversation."""

    text: str
    history: list[ChatMessage] = []
    use_rag: bool = True
    use_tools: bool = True
    max_tokens: int = 256
    temperature: float = 0.3
    # Only evaluate the conversation so far (system, tools, ``history``; ``text`` is ignored)
    # into the model's cache, so the next question evaluates only itself: no reply is sent.
    prefill: bool = False


class LlmStreamChunk(Payload):
    seq: int
    delta: str
    done: bool = False


class LlmResponse(Payload):
    text: str
    finish_reason: str = "stop"
    tools: list[str] = []
    memories: int = 0
    first_token_ms: float | None = None
    tokens_per_s: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


class LlmCancel(Payload):
    reason: str = "cancelled"
