"""Value types shared by chat models, the prompt builder and the tool loop.

A tool is described by the bus contract ``tars.contracts.tools.ToolSpec``. The model's side of
a conversation has its own types: a ``ModelMessage`` may carry tool calls and tool results,
which the bus history (``tars.contracts.llm.ChatMessage``) never does, and a ``ModelToolCall``
keeps the id that pairs a call with its result (the bus ``ToolCall`` has none).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias

from tars.contracts.llm import ChatMessage
from tars.contracts.tools import ToolSpec

Role: TypeAlias = Literal["system", "user", "assistant", "tool"]
FinishReason: TypeAlias = Literal["stop", "length", "tool_calls", "cancelled"]
JSONDict: TypeAlias = dict[str, Any]


class CancelToken(Protocol):
    """Anything with ``is_set()``; a ``threading.Event`` is the usual token."""

    def is_set(self) -> bool:
        """Return True once cancellation was requested."""
        ...


@dataclass(frozen=True, slots=True)
class ModelToolCall:
    """One call the model asked for, with the id its result message refers to."""

    id: str
    name: str
    arguments: JSONDict

    def to_openai(self, *, arguments_as_json: bool = True) -> JSONDict:
        """Return the OpenAI ``tool_calls`` entry (arguments as a JSON string or a dict)."""
        args: str | JSONDict = json.dumps(self.arguments) if arguments_as_json else self.arguments
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": args}}


@dataclass(frozen=True, slots=True)
class ModelMessage:
    """One message of the conversation a chat model is given (tool turns included)."""

    role: Role
    content: str
    tool_calls: tuple[ModelToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    @classmethod
    def from_chat(cls, message: ChatMessage) -> ModelMessage:
        """The model's form of one message of a request's bus history."""
        return cls(role=message.role, content=message.content, name=message.name)

    def to_openai(self, *, arguments_as_json: bool = True) -> JSONDict:
        """Return the OpenAI chat message dict."""
        out: JSONDict = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai(arguments_as_json=arguments_as_json) for c in self.tool_calls]
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Decoding parameters; providers ignore what they do not support."""

    max_tokens: int = 256
    temperature: float = 0.2
    top_p: float = 0.9
    top_k: int = 40
    repeat_penalty: float = 1.1
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything one generation needs."""

    messages: tuple[ModelMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    params: SamplingParams = SamplingParams()

    @property
    def tool_names(self) -> frozenset[str]:
        """Names of the tools offered in this request."""
        return frozenset(t.name for t in self.tools)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of generated text, streamed as soon as it is decoded."""

    text: str


@dataclass(frozen=True, slots=True)
class ChatResult:
    """The final event of a generation."""

    text: str
    finish_reason: FinishReason
    tool_calls: tuple[ModelToolCall, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    time_to_first_token_s: float | None = None
    prompt_eval_s: float | None = None
    elapsed_s: float = 0.0
    tokens_per_s: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


ChatEvent: TypeAlias = TextDelta | ChatResult
