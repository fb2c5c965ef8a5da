"""The real model never states a clock time it was not given (by the Now line or a tool), and a
tool called with its own schema as arguments is repaired, not refused."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tars.contracts import topics as T
from tars.contracts.tools import ToolCall, ToolRegistry, ToolResult
from tars.contracts.tools import ToolSpec as BusToolSpec
from tars.runtime import Inbound, Service
from tars.runtime.clock import ManualClock
from tars.runtime.connect import client_bus
from tars_llm.context import now_text
from tars_llm.service import LlmWorker, build_worker
from tars_llm.settings import Settings

pytestmark = [pytest.mark.models, pytest.mark.broker, pytest.mark.timeout(1200)]
START = datetime(2030, 11, 25, 15, 7, tzinfo=ZoneInfo("America/Chicago"))
_TIME = re.compile(r"\b(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?\s?m\b|\b(\d{1,2})[:.](\d{2})\b", re.I)
NO_ARGS = {"type": "object", "properties": {}, "additionalProperties": False}


def stated_times(text: str) -> list[set[tuple[int, int]]]:
    """Each clock time stated in ``text``, as its possible readings (hour 0-23, minute):
    3:07 PM -> {15:07}; 15:07 -> {15:07}; a bare 3:07 -> {3:07, 15:07}."""
    found: list[set[tuple[int, int]]] = []
    for m in _TIME.finditer(text):
        if m.group(3):
            hour, minute = int(m.group(1)) % 12, int(m.group(2) or 0)
            readings = {(hour + (12 if m.group(3).lower() == "p" else 0), minute)}
        else:
            hour, minute = int(m.group(4)), int(m.group(5))
            readings = {(hour, minute), (hour + 12, minute)} if 1 <= hour <= 11 else {(hour, minute)}
        if hour < 24 and minute < 60:
            found.append(readings)
    return found


def clock_times(text: str) -> set[tuple[int, int]]:
    """Every reading of every clock time in ``text``."""
    return set().union(*stated_times(text))


def invented_times(reply: str, *given: str) -> set[tuple[int, int]]:
    """Times in ``reply`` that no reading of the texts the model was given matches."""
    allowed = set().union(*(clock_times(g) for g in given))
    return {min(r) for r in stated_times(reply) if not r & allowed}


def test_the_checker_reads_times_both_ways() -> None:
    assert stated_times("It is 3:07 PM, or 15:07; alarm at 7 am and 7.30pm.") == [
        {(15, 7)}, {(15, 7)}, {(7, 0)}, {(19, 30)}]
    assert invented_times("The current time is 7:30 AM.", "Now: 3:07 PM CST") == {(7, 30)}
    assert invented_times("It's 3:07 in the afternoon.", "15:07") == set()
    assert clock_times("I am 42 years old, 2030-11-25") == set()


class ClockTools:
    """get_time / set_timer answered from the test's clock; strict like the tool worker."""

    def __init__(self, url: str, namespace: str, clock: ManualClock) -> None:
        self.clock = clock
        self.service = Service("clocktools", client_bus(url, "clocktools", namespace=namespace))
        self.calls: list[ToolCall] = []
        self.outputs: list[str] = []
        self.service.handle(T.TOOLS_CALL, self.on_call)
        self.service.bus.on_connect(self.announce)

    async def announce(self) -> None:
        timer = {"type": "object", "additionalProperties": False, "properties": {
            "minutes": {"type": "integer"}, "seconds": {"type": "integer"}}}
        tools = [BusToolSpec(name="get_time", description="Current local date and time.", parameters=NO_ARGS),
                 BusToolSpec(name="set_timer", description="Start a countdown timer.", parameters=timer)]
        await self.service.publish(T.TOOLS_REGISTRY, ToolRegistry(provider="clocktools", tools=tools),
                                   params={"provider": "clocktools"})

    async def on_call(self, msg: Inbound[ToolCall]) -> None:
        call = msg.payload
        self.calls.append(call)
        allowed = {"get_time": set(), "set_timer": {"minutes", "seconds"}}.get(call.name, set())
        extra = sorted(set(call.arguments) - allowed)
        if extra:
            result = ToolResult(name=call.name, ok=False, error=f"{extra[0]}: Extra inputs are not permitted")
        elif call.name == "get_time":
            result = ToolResult(name=call.name, ok=True, content=now_text(self.clock))
        else:
            seconds = int(call.arguments.get("minutes", 0)) * 60 + int(call.arguments.get("seconds", 0))
            due = self.clock.now() + timedelta(seconds=seconds)
            result = ToolResult(name=call.name, ok=True,
                                content=f"Timer set for {seconds} seconds; it goes off at {due:%H:%M}.")
        self.outputs.append(result.content or result.error or "")
        await self.service.reply(msg, T.TOOLS_RESULT, result)


@pytest.fixture
async def rig(mqtt_url: str, namespace: str, qwen: Any, kit: Any) -> AsyncIterator[tuple[LlmWorker, ClockTools, Any]]:
    clock = ManualClock(START)
    tools = ClockTools(mqtt_url, namespace, clock)
    await tools.service.start()
    settings = Settings(mqtt_url=mqtt_url, namespace=namespace, tool_timeout_s=10.0, max_tokens=48,
                        warm_up=False)
    service = Service("llm", client_bus(mqtt_url, "llm", namespace=namespace))
    worker = await build_worker(settings, service, model=qwen, clock=clock)
    await service.start()
    client = await kit.client(namespace)
    for _ in range(100):
        if len(worker.directory.tools()) == 2:
            break
        await asyncio.sleep(0.05)
    yield worker, tools, client
    await service.stop()
    await tools.service.stop()


QUESTIONS = ["What time is it?", "What's the date today?", "Set a timer for 5 minutes.",
             "What day of the week is it?", "Is it morning or afternoon right now?"]


async def test_no_reply_states_a_time_it_was_not_given(rig: Any) -> None:
    worker, tools, client = rig
    context = now_text(worker.clock)
    flagged: list[str] = []
    for question in QUESTIONS:
        before = len(tools.outputs)
        started = time.monotonic()
        turn = await client.ask(question, timeout=400.0, use_rag=False)
        reply = turn.response.text
        print(f"\n{question!r} -> {reply!r} ({time.monotonic() - started:.0f} s, tools {turn.response.tools})")
        assert turn.response.error is None and reply, (question, turn.response)
        bad = invented_times(reply, context, *tools.outputs[before:])
        if bad:
            flagged.append(f"{question!r} -> {reply!r} (invented {sorted(bad)})")
        assert "2029" not in reply and "2031" not in reply, reply
    assert flagged == []


async def test_get_time_called_with_its_schema_is_repaired(rig: Any) -> None:
    worker, tools, client = rig
    # a question that made this model call get_time with {"type": "object", ...}
    turn = await client.ask("Use the get_time tool: what time is it now exactly?", timeout=400.0,
                            use_rag=False)
    time_calls = [c for c in tools.calls if c.name == "get_time"]
    assert time_calls, turn.response
    assert all(c.arguments == {} for c in time_calls)  # whatever the model wrote, repaired
    assert not any("Extra inputs" in out for out in tools.outputs)
    assert invented_times(turn.response.text, now_text(worker.clock), *tools.outputs) == set()
