"""The tool loop over the OpenAI-compatible provider and a scripted loopback server."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tars.contracts.tools import ToolSpec
from tars_llm.config import OpenAICompatConfig
from tars_llm.openai_compat import OpenAICompatChatModel
from tars_llm.toolloop import DEFAULT_ANSWER_PROMPT, NO_ANSWER_TEXT, ToolLoop
from tars_llm.types import ModelMessage

CALC = ToolSpec(name="calculator", description="Evaluate arithmetic",
                parameters={"type": "object", "properties": {"expression": {"type": "string"}}})
USER = (ModelMessage(role="system", content="You are TARS."), ModelMessage(role="user", content="12 times 7?"))


class Recorder:
    """A call_tool that records calls and multiplies, or fails on demand."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    async def __call__(self, name: str, args: dict[str, Any]) -> Any:
        self.calls.append((name, args))
        if self.fail:
            raise TimeoutError("tool did not answer within 30 s")
        a, b = args["expression"].split("*")
        return {"value": int(a) * int(b)}


@pytest.fixture
async def model(sse_server: Any) -> Any:
    def make(scenario: str) -> OpenAICompatChatModel:
        return OpenAICompatChatModel(OpenAICompatConfig(base_url=sse_server.url, model=scenario))

    made: list[OpenAICompatChatModel] = []
    yield lambda scenario: made.append(make(scenario)) or made[-1]
    for m in made:
        await m.aclose()


async def test_tool_call_then_reply(model: Any, sse_server: Any) -> None:
    tool = Recorder()
    spoken: list[str] = []

    async def on_delta(text: str) -> None:
        spoken.append(text)

    result = await ToolLoop(model("tools"), tool).run(USER, (CALC,), on_delta=on_delta)
    assert tool.calls == [("calculator", {"expression": "12*7"})]
    assert result.reply == 'The result is {"value": 84}.' == "".join(spoken)
    assert [m.role for m in result.new_messages] == ["assistant", "tool", "assistant"]
    assert result.new_messages[1].tool_call_id == result.new_messages[0].tool_calls[0].id
    assert len(result.steps) == 2 and result.finish_reason == "stop"
    second = sse_server.requests[-1]["body"]["messages"]
    assert second[-3]["tool_calls"][0]["function"] == {"name": "calculator", "arguments": '{"expression": "12*7"}'}
    assert second[-2] == {"role": "tool", "content": '{"value": 84}', "tool_call_id": "call_1", "name": "calculator"}
    assert second[-1] == {"role": "user", "content": DEFAULT_ANSWER_PROMPT}


async def test_json_text_tool_call_is_not_spoken(model: Any) -> None:
    spoken: list[str] = []

    async def on_delta(text: str) -> None:
        spoken.append(text)

    result = await ToolLoop(model("json-tool"), Recorder()).run(USER, (CALC,), on_delta=on_delta)
    assert "".join(spoken) == result.reply == 'The result is {"value": 42}.'


async def test_failing_tool_is_reported_to_the_model(model: Any) -> None:
    result = await ToolLoop(model("tools"), Recorder(fail=True)).run(USER, (CALC,))
    assert not result.invocations[0].ok
    assert json.loads(result.invocations[0].output) == {"error": "TimeoutError: tool did not answer within 30 s"}
    # the model saw the error and answered without a successful call: the reply says so
    assert result.reply == "Sorry, I couldn't do that: the calculator tool failed (tool did not answer within 30 s)."


async def test_a_failed_extra_call_spoils_no_earlier_result(model: Any) -> None:
    """A small model calls the tool again with its own result (as a number, for a string
    parameter): the number is passed as text, and its failure does not replace the answer."""
    tool = Recorder()
    result = await ToolLoop(model("recheck"), tool).run(USER, (CALC,))
    assert tool.calls == [("calculator", {"expression": "12*7"}), ("calculator", {"expression": "84"})]
    assert [i.ok for i in result.invocations] == [True, False]
    assert result.reply == 'It is {"value": 84}.'


async def test_bare_json_is_never_spoken(model: Any, sse_server: Any) -> None:
    spoken: list[str] = []

    async def on_delta(text: str) -> None:
        spoken.append(text)

    result = await ToolLoop(model("bare-json"), Recorder()).run(USER, (CALC,), on_delta=on_delta)
    assert len(result.steps) == 2 and "tools" not in sse_server.requests[-1]["body"]
    assert result.reply == NO_ANSWER_TEXT == "".join(spoken)


TIMER = ToolSpec(name="set_timer", description="Start a countdown", parameters={"type": "object", "properties": {
    "hours": {"type": "integer"}, "minutes": {"type": "integer"}, "seconds": {"type": "integer"}}})


async def test_a_call_with_numbers_the_user_never_said_is_not_made(model: Any, sse_server: Any) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    async def set_timer(name: str, args: dict[str, Any]) -> Any:
        calls.append((name, args))
        return "Timer set."

    said = "Remember that my sister is called Ada."
    result = await ToolLoop(model("ungrounded"), set_timer).run(USER, (TIMER,), said=said)
    assert calls == [] and result.reply == "Okay."
    assert "tools" not in sse_server.requests[-1]["body"]  # answered again, without tools
    asked = "set a timer for fourteen hours and thirty minutes"
    result = await ToolLoop(model("ungrounded"), set_timer).run(USER, (TIMER,), said=asked)
    assert calls == [("set_timer", {"hours": 14, "minutes": 30})]


@pytest.mark.parametrize("steps", [0, 1, 3])
async def test_tool_steps_are_bounded(model: Any, sse_server: Any, steps: int) -> None:
    tool = Recorder()
    result = await ToolLoop(model("always-tools"), tool, max_tool_steps=steps).run(USER, (CALC,))
    assert len(tool.calls) == min(steps, 1)  # the same call again reuses the first result
    assert len(result.invocations) == steps
    assert result.reply == f"I got {steps} tool results."
    assert "tools" not in sse_server.requests[-1]["body"]


async def test_answer_prompt_can_be_disabled(model: Any, sse_server: Any) -> None:
    await ToolLoop(model("tools"), Recorder(), answer_prompt=None).run(USER, (CALC,))
    assert sse_server.requests[-1]["body"]["messages"][-1]["role"] == "tool"


async def test_unknown_tool_is_asked_again_without_tools(model: Any, sse_server: Any) -> None:
    tool = Recorder()
    spoken: list[str] = []

    async def on_delta(text: str) -> None:
        spoken.append(text)

    result = await ToolLoop(model("json-tool"), tool).run(USER, (ToolSpec(name="weather", description="Weather"),),
                                                          on_delta=on_delta)
    assert tool.calls == [] and len(result.steps) == 2
    assert "tools" not in sse_server.requests[-1]["body"]  # the second run offers none
    # the scripted model answers with a call again: nothing of the JSON is spoken
    assert result.reply == NO_ANSWER_TEXT == "".join(spoken)


async def test_cancel_before_the_tool_runs(model: Any) -> None:
    cancel = threading.Event()

    class CancelOnCall(Recorder):
        async def __call__(self, name: str, args: dict[str, Any]) -> Any:
            cancel.set()
            return await super().__call__(name, args)

    tool = CancelOnCall()
    result = await ToolLoop(model("always-tools"), tool).run(USER, (CALC,), cancel=cancel)
    assert result.cancelled and len(tool.calls) == 1 and len(result.steps) == 1
    assert result.reply == ""
