"""OpenAI-compatible provider against a real loopback HTTP server speaking SSE."""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import pytest
from pydantic import SecretStr

from tars.contracts.tools import ToolSpec
from tars_llm.config import OpenAICompatConfig
from tars_llm.errors import (
    ProviderConnectionError,
    ProviderHTTPError,
    ProviderTimeoutError,
)
from tars_llm.model import collect
from tars_llm.openai_compat import OpenAICompatChatModel
from tars_llm.types import ChatRequest, ChatResult, ModelMessage, TextDelta

CALC = ToolSpec(name="calculator", description="Evaluate arithmetic",
                parameters={"type": "object", "properties": {"expression": {"type": "string"}}})


def _request(text: str, tools: tuple[ToolSpec, ...] = ()) -> ChatRequest:
    return ChatRequest(messages=(ModelMessage(role="user", content=text),), tools=tools)


def _model(url: str, scenario: str, **kw: Any) -> OpenAICompatChatModel:
    return OpenAICompatChatModel(OpenAICompatConfig(base_url=url, model=scenario, **kw))


async def test_streams_text_deltas_and_usage(sse_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    model = _model(sse_server.url, "echo", api_key=SecretStr("sk-very-secret"))
    deltas: list[str] = []
    result: ChatResult | None = None
    async for event in model.stream(_request("hello there tars"), threading.Event()):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        else:
            result = event
    await model.aclose()
    assert result is not None
    assert "".join(deltas) == result.text == "You said: hello there tars"
    assert len(deltas) == 5
    assert result.finish_reason == "stop" and result.tool_calls == ()
    assert (result.prompt_tokens, result.completion_tokens) == (42, 5)
    assert result.time_to_first_token_s is not None and result.time_to_first_token_s >= 0
    sent = sse_server.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["auth"] == "Bearer sk-very-secret"
    assert sent["body"]["stream"] is True and sent["body"]["messages"][0]["content"] == "hello there tars"
    assert "sk-very-secret" not in caplog.text + model.name + repr(model._config)


async def test_tool_calls_from_streamed_tool_call_deltas(sse_server: Any) -> None:
    model = _model(sse_server.url + "/v1", "tools")
    text, result = await collect(model.stream(_request("12 times 7?", (CALC,)), threading.Event()))
    await model.aclose()
    assert text == ""
    assert result.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("call_1", "calculator", {"expression": "12*7"})
    ]
    body = sse_server.requests[-1]["body"]
    assert sse_server.requests[-1]["path"] == "/v1/chat/completions"
    assert body["tools"][0]["function"]["name"] == "calculator"


async def test_tool_calls_from_json_text_and_unknown_tools(sse_server: Any) -> None:
    model = _model(sse_server.url, "json-tool")
    _, result = await collect(model.stream(_request("6 times 7?", (CALC,)), threading.Event()))
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("calculator", {"expression": "6*7"})]
    other = ToolSpec(name="weather", description="Weather")
    _, plain = await collect(model.stream(_request("6 times 7?", (other,)), threading.Event()))
    await model.aclose()
    assert plain.tool_calls == () and plain.finish_reason == "stop" and '"calculator"' in plain.text


async def test_http_500_raises_with_the_server_message(sse_server: Any) -> None:
    model = _model(sse_server.url, "error500")
    with pytest.raises(ProviderHTTPError, match="model exploded") as info:
        await collect(model.stream(_request("hi"), threading.Event()))
    await model.aclose()
    assert info.value.status == 500


async def test_connection_refused_raises_connection_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = _model(f"http://127.0.0.1:{port}", "echo", connect_timeout_s=2)
    with pytest.raises(ProviderConnectionError, match="cannot connect"):
        await collect(model.stream(_request("hi"), threading.Event()))
    await model.aclose()


async def test_read_timeout_raises_timeout_error(sse_server: Any) -> None:
    model = _model(sse_server.url, "stall", read_timeout_s=0.2)
    with pytest.raises(ProviderTimeoutError):
        await collect(model.stream(_request("hi"), threading.Event()))
    await model.aclose()


async def test_cancel_stops_the_stream(sse_server: Any) -> None:
    model = _model(sse_server.url, "slow")
    cancel = threading.Event()
    deltas = 0
    result: ChatResult | None = None
    async for event in model.stream(_request("go"), cancel):
        if isinstance(event, TextDelta):
            deltas += 1
            if deltas == 3:
                cancel.set()
        else:
            result = event
    await model.aclose()
    assert result is not None and result.finish_reason == "cancelled"
    assert deltas == 3 and result.text == "word0 word1 word2 "
