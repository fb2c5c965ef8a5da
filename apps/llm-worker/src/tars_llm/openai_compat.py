"""Chat model client for servers that speak OpenAI's streaming ``/v1/chat/completions``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tars_llm.config import OpenAICompatConfig
from tars_llm.errors import (
    ProviderConnectionError,
    ProviderHTTPError,
    ProviderProtocolError,
    ProviderTimeoutError,
)
from tars_llm.toolcalls import new_call_id, parse_arguments, parse_tool_calls
from tars_llm.types import (
    CancelToken,
    ChatEvent,
    ChatRequest,
    ChatResult,
    FinishReason,
    JSONDict,
    ModelToolCall,
    TextDelta,
)

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: str = ""


@dataclass(slots=True)
class _Stream:
    """State accumulated while reading one SSE stream."""

    started: float = field(default_factory=time.perf_counter)
    first_text_at: float | None = None
    text: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    finish: str | None = None
    usage: JSONDict = field(default_factory=dict)
    chunks: int = 0


class OpenAICompatChatModel:
    """Streams chat completions over HTTP with a pooled ``httpx.AsyncClient``.

    Raises ProviderConnectionError, ProviderTimeoutError, ProviderHTTPError or
    ProviderProtocolError (all ``ProviderError``). The API key is sent, never logged.
    """

    def __init__(
        self, config: OpenAICompatConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._config = config
        headers = {"Accept": "text/event-stream"}
        if config.api_key is not None:
            headers["Authorization"] = f"Bearer {config.api_key.get_secret_value()}"
        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(
                config.read_timeout_s, connect=config.connect_timeout_s, pool=config.connect_timeout_s
            ),
            limits=httpx.Limits(max_connections=config.max_connections),
            transport=transport,
        )
        base = config.base_url.rstrip("/")
        self._path = "/chat/completions" if base.endswith("/v1") else "/v1/chat/completions"

    @property
    def name(self) -> str:
        """Provider, model and server (without credentials)."""
        url = httpx.URL(self._config.base_url)
        return f"openai:{self._config.model}@{url.host}:{url.port or ''}"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def stream(
        self, request: ChatRequest, cancel: CancelToken
    ) -> AsyncGenerator[ChatEvent, None]:
        """POST the request with ``stream=true`` and yield deltas, then a ChatResult."""
        state = _Stream()
        try:
            async with self._client.stream("POST", self._path, json=self._body(request)) as response:
                await _raise_for_status(response)
                async for data in _sse_data(response):
                    if cancel.is_set():
                        state.finish = "cancelled"
                        break
                    if data == "[DONE]":
                        break
                    if text := _apply_chunk(state, _loads(data)):
                        if state.first_text_at is None:
                            state.first_text_at = time.perf_counter()
                        state.text.append(text)
                        yield TextDelta(text)
        except httpx.TimeoutException as exc:
            raise ProviderTimeoutError(f"{self.name}: timed out ({type(exc).__name__})") from exc
        except (httpx.RemoteProtocolError, httpx.DecodingError) as exc:
            raise ProviderProtocolError(f"{self.name}: broken response: {exc}") from exc
        except httpx.TransportError as exc:
            raise ProviderConnectionError(f"{self.name}: cannot connect: {exc}") from exc
        yield _result(state, request)

    def _body(self, request: ChatRequest) -> JSONDict:
        params = request.params
        body: JSONDict = {
            "model": self._config.model,
            "messages": [m.to_openai() for m in request.messages],
            "stream": True,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if request.tools:
            body["tools"] = [t.to_openai() for t in request.tools]
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if self._config.include_usage:
            body["stream_options"] = {"include_usage": True}
        return body


async def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    raw = (await response.aread()).decode("utf-8", errors="replace")
    try:
        error = json.loads(raw).get("error", raw)
        detail = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        detail = raw
    raise ProviderHTTPError(response.status_code, detail.strip()[:300] or response.reason_phrase)


async def _sse_data(response: httpx.Response) -> AsyncIterator[str]:
    """Yield the ``data`` payload of each server-sent event (multi-line data joined)."""
    lines: list[str] = []
    async for line in response.aiter_lines():
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
        elif line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
    if lines:
        yield "\n".join(lines)


def _loads(data: str) -> JSONDict:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise ProviderProtocolError(f"invalid JSON in stream: {data[:100]!r}") from exc
    if not isinstance(value, dict):
        raise ProviderProtocolError(f"unexpected stream chunk: {data[:100]!r}")
    if "error" in value:
        raise ProviderProtocolError(f"error in stream: {value['error']}")
    return value


def _apply_chunk(state: _Stream, chunk: JSONDict) -> str:
    """Fold one chunk into ``state``; return its new content text."""
    state.chunks += 1
    if isinstance(chunk.get("usage"), dict):
        state.usage = chunk["usage"]
    text = ""
    for choice in chunk.get("choices") or []:
        delta: dict[str, Any] = choice.get("delta") or {}
        text += delta.get("content") or ""
        for raw in delta.get("tool_calls") or []:
            part = state.calls.setdefault(int(raw.get("index", 0)), _PartialCall())
            function = raw.get("function") or {}
            part.id = raw.get("id") or part.id
            part.name += function.get("name") or ""
            part.arguments += function.get("arguments") or ""
        if choice.get("finish_reason"):
            state.finish = choice["finish_reason"]
    return text


def _result(state: _Stream, request: ChatRequest) -> ChatResult:
    end = time.perf_counter()
    text = "".join(state.text)
    calls: list[ModelToolCall] = []
    for part in (state.calls[i] for i in sorted(state.calls)):
        args = parse_arguments(part.arguments)
        if part.name in request.tool_names and args is not None:
            calls.append(ModelToolCall(id=part.id or new_call_id(), name=part.name, arguments=args))
    if not calls and state.finish != "cancelled":
        calls = parse_tool_calls(text, request.tool_names)
    finish: FinishReason
    if state.finish == "cancelled":
        finish = "cancelled"
    elif calls:
        finish = "tool_calls"
    else:
        finish = "length" if state.finish == "length" else "stop"
    completion = int(state.usage.get("completion_tokens") or 0)
    gen_s = end - state.first_text_at if state.first_text_at else 0.0
    return ChatResult(
        text=text,
        finish_reason=finish,
        tool_calls=tuple(calls),
        prompt_tokens=int(state.usage.get("prompt_tokens") or 0),
        completion_tokens=completion,
        cached_prompt_tokens=int((state.usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0),
        time_to_first_token_s=state.first_text_at - state.started if state.first_text_at else None,
        elapsed_s=end - state.started,
        tokens_per_s=(completion - 1) / gen_s if completion > 1 and gen_s > 0 else None,
    )
