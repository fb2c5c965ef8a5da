"""Faults around the worker on a real broker with the real model: slow memory, silent or failing
tools, cancel mid-stream. The worker runs in-process so its requesters can be inspected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tars.runtime import Service
from tars.runtime.connect import client_bus
from tars_llm.service import LlmWorker, build_worker
from tars_llm.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.broker, pytest.mark.timeout(300)]
QUESTION = "Use the calculator: what is 1234 * 5678?"


@pytest.fixture
async def worker(mqtt_url: str, namespace: str, qwen: Any) -> AsyncIterator[LlmWorker]:
    settings = Settings(mqtt_url=mqtt_url, namespace=namespace, rag_timeout_s=1.0, tool_timeout_s=2.0,
                        max_tokens=48, warm_up=False)
    service = Service("llm", client_bus(mqtt_url, "llm", namespace=namespace))
    made = await build_worker(settings, service, model=qwen)
    await service.start()
    yield made
    await service.stop()


def no_leaks(worker: LlmWorker) -> None:
    assert worker.memory.pending() == 0 and worker.tool_calls.pending == {}
    assert len(worker.turns) == 0


async def until(predicate: Any, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_silent_memory_answers_without_memory(worker: LlmWorker, namespace: str, kit: Any) -> None:
    memory = await kit.memory(namespace, ["The user's sister is called Ada."])
    memory.silent = True
    client = await kit.client(namespace)
    await until(lambda: worker.memory_online)

    started = time.monotonic()
    turn = await client.ask("Say hello in three words.", use_tools=False, max_tokens=16)
    elapsed = time.monotonic() - started

    assert turn.response.error is None and turn.response.text
    assert turn.response.memories == 0 and len(memory.queries) == 1
    assert worker.memory.timeouts == 1
    assert elapsed >= 1.0  # it did wait for memory, for the timeout and no longer than that + generation
    assert turn.response.first_token_ms is not None and turn.response.first_token_ms >= 1000
    no_leaks(worker)


async def test_silent_tool_becomes_a_spoken_answer(worker: LlmWorker, namespace: str, kit: Any,
                                                   ) -> None:
    tools = await kit.tools(namespace)
    tools.mode = "silent"
    client = await kit.client(namespace)
    await until(lambda: bool(worker.directory.tools()))

    turn = await client.ask(QUESTION, use_rag=False)

    assert turn.response.error is None and turn.response.finish_reason == "stop"
    assert turn.response.tools == ["calculator"] and len(tools.calls) >= 1
    assert turn.response.text and "{" not in turn.response.text
    assert worker.tool_calls.timeouts >= 1
    no_leaks(worker)


async def test_failing_tool_becomes_a_spoken_answer(worker: LlmWorker, namespace: str, kit: Any) -> None:
    tools = await kit.tools(namespace)
    tools.mode = "error"
    client = await kit.client(namespace)
    await until(lambda: bool(worker.directory.tools()))

    turn = await client.ask(QUESTION, use_rag=False)

    assert turn.response.error is None and turn.response.finish_reason == "stop"
    assert turn.response.tools == ["calculator"]
    assert turn.response.text and "{" not in turn.response.text
    assert worker.tool_calls.timeouts == 0
    no_leaks(worker)


async def test_cancel_mid_stream_stops_promptly(worker: LlmWorker, namespace: str, kit: Any) -> None:
    client = await kit.client(namespace)
    cid, turn = await client.send("Tell me a long story about a robot who learns to paint.",
                                  use_rag=False, use_tools=False, max_tokens=200)
    await asyncio.wait_for(turn.first_chunk.wait(), 120)
    cancelled_at = time.monotonic()
    await client.cancel(cid)
    await asyncio.wait_for(turn.done.wait(), 30)
    took = time.monotonic() - cancelled_at
    await asyncio.sleep(0.05)

    assert turn.response.finish_reason == "cancelled" and turn.response.error is None
    assert took < 3.0, took
    assert turn.response.completion_tokens < 200
    assert turn.chunks[-1].done and turn.response.text == turn.streamed.strip()
    no_leaks(worker)
