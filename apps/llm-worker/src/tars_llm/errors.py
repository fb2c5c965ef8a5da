"""Exceptions raised by the tars LLM engine.

Every error derives from ``LLMError`` (itself a ``TarsError``), and foreign errors (httpx,
llama.cpp, OS) are converted at the edge with ``raise ... from exc``. The tree of every tars
error is drawn in ``tars.runtime.errors``.
"""

from __future__ import annotations

from tars.errors import TarsError


class LLMError(TarsError):
    """Base class of every error raised by ``tars_llm``."""


class ModelAssetError(LLMError):
    """The model file is missing, incomplete or fails its checksum."""


class ModelLoadError(LLMError):
    """The model backend could not load the model file."""


class PromptTooLongError(LLMError):
    """The prompt does not fit the model's context window."""


class ProviderError(LLMError):
    """A remote chat-completion provider failed."""


class ProviderConnectionError(ProviderError):
    """The provider could not be reached."""


class ProviderTimeoutError(ProviderError):
    """The provider did not answer in time."""


class ProviderHTTPError(ProviderError):
    """The provider answered with a non-success HTTP status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class ProviderProtocolError(ProviderError):
    """The provider's response did not follow the chat-completions protocol."""
