"""The llm worker as a subprocess on a real broker, with the embedded model: tools and RAG."""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = [pytest.mark.models, pytest.mark.e2e, pytest.mark.broker, pytest.mark.timeout(400)]


def check_stream(turn: Any) -> None:
    seqs = [c.seq for c in turn.chunks]
    assert seqs == list(range(len(seqs))), seqs
    assert turn.chunks[-1].done and not any(c.done for c in turn.chunks[:-1])
    assert '"name"' not in turn.streamed and "{" not in turn.streamed  # no tool-call JSON spoken


async def test_calculator_question_calls_the_bus_tool(llm_worker: Any, kit: Any,
                                                      log_waiter: Any) -> None:
    _, namespace = llm_worker
    tools = await kit.tools(namespace)
    client = await kit.client(namespace)
    await log_waiter(llm_worker[0], "tools now: calculator")

    turn = await client.ask("Use the calculator: what is 1234 * 5678?", use_rag=False)

    assert turn.response is not None and turn.response.error is None, turn.response
    # the 0.5B may call the calculator again with the same sum written another way
    assert {c.name for c in client.tool_calls_seen} == {"calculator"}
    assert "1234" in str(tools.calls[0].arguments) and "5678" in str(tools.calls[0].arguments)
    assert "7006652" in re.sub(r"[,\s]", "", turn.response.text), turn.response.text
    assert turn.response.tools == ["calculator"]
    assert turn.response.finish_reason == "stop"
    assert turn.response.first_token_ms is not None and turn.response.completion_tokens > 0
    check_stream(turn)
    assert turn.streamed.strip() == turn.response.text


async def test_rag_fact_reaches_the_reply(llm_worker: Any, kit: Any,
                                          log_waiter: Any) -> None:
    _, namespace = llm_worker
    memory = await kit.memory(namespace, ["The user's sister is called Ada."])
    client = await kit.client(namespace)
    await log_waiter(llm_worker[0], "memory worker is online")

    turn = await client.ask("What is my sister called?", use_tools=False)

    assert turn.response is not None and turn.response.error is None, turn.response
    assert [q.text for q in memory.queries] == ["What is my sister called?"]
    assert "Ada" in turn.response.text
    assert turn.response.memories == 1
    check_stream(turn)
