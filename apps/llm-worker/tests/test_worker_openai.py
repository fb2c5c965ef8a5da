"""The worker with the OpenAI-compatible provider: a subprocess against a loopback SSE server,
a provider that is down, and the RAG skip when memory is offline (InMemoryBus)."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from tars.contracts import topics as T
from tars.contracts.health import Status
from tars.contracts.llm import LlmRequest, LlmResponse
from tars.contracts.memory import MemoryQuery
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Service
from tars_llm.service import ERROR_TEXT, build_worker
from tars_llm.settings import Settings


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.e2e
@pytest.mark.broker
async def test_openai_provider_streams_on_the_bus(mqtt_url: str, namespace: str, sse_server: Any,
                                                   kit: Any, worker_process: Any, log_waiter: Any) -> None:
    worker = worker_process(namespace, provider="openai", openai_base_url=sse_server.url,
                            openai_model="tools")
    tools = await kit.tools(namespace)
    client = await kit.client(namespace)
    await log_waiter(worker, "tools now: calculator")

    turn = await client.ask("What is 12 times 7?", use_rag=False)

    assert turn.response.error is None, turn.response
    assert [c.arguments for c in tools.calls] == [{"expression": "12*7"}]
    assert turn.response.text == "The result is 84." and turn.response.tools == ["calculator"]
    assert [c.seq for c in turn.chunks] == list(range(len(turn.chunks))) and turn.chunks[-1].done
    assert turn.streamed == "The result is 84."
    sent = sse_server.requests[-1]["body"]
    assert sent["messages"][0]["role"] == "system" and "TARS" in sent["messages"][0]["content"]


@pytest.mark.e2e
@pytest.mark.broker
async def test_provider_down_gives_a_speakable_error_and_keeps_serving(
        namespace: str, kit: Any, worker_process: Any) -> None:
    worker = worker_process(namespace, provider="openai",
                            openai_base_url=f"http://127.0.0.1:{closed_port()}")
    client = await kit.client(namespace)
    for question in ("Hello?", "Are you there?"):
        turn = await client.ask(question, timeout=30)
        assert turn.response.finish_reason == "error"
        assert turn.response.error and "ProviderConnectionError" in turn.response.error
        assert turn.response.text == ERROR_TEXT
    assert worker.proc.poll() is None


async def test_rag_is_skipped_while_memory_is_offline(sse_server: Any) -> None:
    broker = InMemoryBroker()
    service = Service("llm", InMemoryBus(broker, "llm"))
    client = Service("client", InMemoryBus(broker, "client"))
    settings = Settings(provider="openai", openai_base_url=sse_server.url, openai_model="echo",
                        rag_timeout_s=5.0)
    worker = await build_worker(settings, service)
    queries: list[MemoryQuery] = []
    responses: list[LlmResponse] = []

    async def on_query(msg: Inbound[MemoryQuery]) -> None:
        queries.append(msg.payload)

    async def on_response(msg: Inbound[LlmResponse]) -> None:
        responses.append(msg.payload)

    client.handle(T.MEMORY_QUERY, on_query)
    client.handle(T.LLM_RESPONSE, on_response)
    await service.start()
    await client.start()
    try:
        await client.publish(T.SYSTEM_STATUS, Status(state="offline", instance="memory-1"),
                             params={"service": "memory"})
        started = time.monotonic()
        await client.publish(T.LLM_REQUEST, LlmRequest(text="hi there"))
        for _ in range(100):
            if responses:
                break
            await service.dispatcher.drain()
            await client.dispatcher.drain()
            await asyncio.sleep(0.01)
        assert responses and responses[0].text.startswith("You said: hi there\n\n(Now: ")
        assert time.monotonic() - started < 2.0  # no 5 s wait for a memory that is not there
        assert queries == [] and worker.memory.pending() == 0 and responses[0].memories == 0
    finally:
        await client.stop()
        await service.stop()
