"""Tool payloads: registry, call request, call result."""

from __future__ import annotations

from typing import Any

from tars.contracts.envelope import Payload


class ToolSpec(Payload):
    """A tool as the model sees it: a name, a description and a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any] = {"type": "object", "properties": {}}

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry: ``{"type": "function", "function": {...}}``."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}


class ToolRegistry(Payload):
    """All tools one provider offers (published retained, one topic per provider)."""

    provider: str
    tools: list[ToolSpec]


class ToolCall(Payload):
    name: str
    arguments: dict[str, Any] = {}


class ToolResult(Payload):
    name: str
    ok: bool
    content: str = ""
    error: str | None = None
    """``"Kind: reason"`` (the kind is the failing exception's class) when ``ok`` is false."""

    @property
    def reason(self) -> str:
        """The error without its kind, fit to be said ("division by zero")."""
        kind, sep, rest = (self.error or "").partition(": ")
        return (rest if sep and kind.isidentifier() else self.error or "").strip() or "it failed"
