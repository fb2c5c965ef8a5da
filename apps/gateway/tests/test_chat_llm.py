"""Chat completions through the router to the real LLM worker: the caller's messages become the
LLM's history, and the reply streams as server-sent events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tars.contracts import topics as T
from tars.contracts.llm import LlmRequest
from tars.runtime import Inbound, Service
from tars.runtime.connect import client_bus
from tars.testing.workers import worker_process

pytestmark = [pytest.mark.models, pytest.mark.e2e, pytest.mark.broker, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def llm(mqtt_url: str, gw_ns: str, workers: Path) -> Iterator[None]:
    with worker_process("tars_llm", "llm", mqtt_url, gw_ns, workers / "llm.log", max_tokens="48"):
        yield


def test_streamed_chat_carries_the_callers_history_to_the_llm(gateway: Any, llm: None) -> None:
    messages = [{"role": "system", "content": "Answer in one short sentence."},
                {"role": "user", "content": "My sister is called Ada."},
                {"role": "assistant", "content": "Nice, Ada is a lovely name."},
                {"role": "user", "content": "Tell me a fun fact about octopuses."}]
    seen: list[LlmRequest] = []

    async def run() -> list[dict[str, Any]]:
        spy = Service("spy", client_bus(gateway.mqtt_url, "spy", namespace=gateway.namespace),
                      announce=False)

        async def on_request(msg: Inbound[LlmRequest]) -> None:
            seen.append(msg.payload)

        spy.handle(T.LLM_REQUEST, on_request)
        await spy.start()
        try:
            return await asyncio.to_thread(stream_chat, gateway, messages)
        finally:
            await spy.stop()

    chunks = asyncio.run(run())
    deltas = [c["choices"][0]["delta"].get("content", "") for c in chunks]
    text = "".join(deltas)
    assert text.strip(), chunks
    assert sum(1 for d in deltas if d) >= 2, "the reply should arrive in several chunks"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    request = next(r for r in seen if r.text == "Tell me a fun fact about octopuses.")
    history = [(m.role, m.content) for m in request.history]
    assert ("user", "My sister is called Ada.") in history
    assert ("assistant", "Nice, Ada is a lovely name.") in history


def stream_chat(gateway: Any, messages: list[dict[str, str]]) -> list[dict[str, Any]]:
    with gateway.client() as c, c.stream("POST", "/v1/chat/completions", timeout=300,
                                         json={"model": "tars", "stream": True, "messages": messages}) as s:
        assert s.status_code == 200
        lines = [ln for ln in s.iter_lines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [orjson.loads(ln[6:]) for ln in lines[:-1]]
