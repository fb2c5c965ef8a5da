"""The built-in tools through the registry: schemas, arguments, results and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tars.runtime.clock import ManualClock
from tars_tools.builtins import build_registry, parse_clock_time
from tars_tools.errors import (
    CalculatorError,
    ToolArgumentError,
    ToolTimeoutError,
    ToolUnavailableError,
    UnknownToolError,
)
from tars_tools.registry import FunctionTool, ToolRegistry, ToolResult
from tars_tools.timers import FiredTimer, TimerScheduler
from tars_tools.timerstore import TimerStore

ZONE = ZoneInfo("America/Chicago")
NOW = datetime(2030, 11, 25, 15, 7, tzinfo=ZONE)


async def _ignore(_: FiredTimer) -> None:
    return None


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[ToolRegistry]:
    scheduler = TimerScheduler(TimerStore(tmp_path / "t.db"), _ignore, clock=ManualClock(NOW))
    await scheduler.start()
    yield build_registry(scheduler)
    await scheduler.stop()


def test_specs_are_json_schema(registry: ToolRegistry) -> None:
    assert registry.names() == ["calculate", "cancel_timer", "get_time", "list_timers",
                                "recall", "remember", "set_alarm", "set_timer"]
    calc = registry.get("calculate").spec.to_openai()["function"]
    assert calc["parameters"]["required"] == ["expression"]
    assert calc["parameters"]["properties"]["expression"]["type"] == "string"
    assert registry.get("remember").spec.parameters["properties"]["text"]["minLength"] == 1


async def test_get_time_and_calculate(registry: ToolRegistry) -> None:
    result = await registry.call("get_time", {})
    assert result.text == "Monday, November 25, 2030, 15:07 (CST)"
    assert (await registry.call("calculate", {"expression": "(2+3)*4"})).text == "(2+3)*4 = 20"
    with pytest.raises(CalculatorError, match="unknown name"):
        await registry.call("calculate", {"expression": "os"})


async def test_timer_tools(registry: ToolRegistry) -> None:
    made = await registry.call("set_timer", {"minutes": 5, "label": "pasta"})
    assert made.text == "pasta timer set for 5 minutes."
    alarm = await registry.call("set_alarm", {"time": "7:30 am", "label": "wake"})
    assert alarm.text == "Alarm set for 07:30 on Tuesday."
    listed = await registry.call("list_timers", {})
    assert [item["label"] for item in listed.data] == ["pasta", "wake"]
    done = await registry.call("cancel_timer", {"label": "pasta"})
    assert done.text == "Cancelled pasta."
    with pytest.raises(ToolArgumentError):
        await registry.call("cancel_timer", {})


async def test_argument_and_routing_errors(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentError, match="expression"):
        await registry.call("calculate", {})
    with pytest.raises(ToolArgumentError, match="shell: Extra inputs"):
        await registry.call("calculate", {"expression": "1", "shell": "rm"})
    with pytest.raises(ToolArgumentError, match="minutes"):
        await registry.call("set_timer", {"minutes": -3})
    with pytest.raises(UnknownToolError):
        await registry.call("launch_rockets", {})
    with pytest.raises(ToolUnavailableError, match="memory"):
        await registry.call("remember", {"text": "likes tea"})


async def test_registry_timeout_and_duplicates() -> None:
    import asyncio

    from pydantic import BaseModel

    class Empty(BaseModel):
        pass

    async def hang(_: Empty) -> ToolResult:
        await asyncio.sleep(10)
        return ToolResult("never")

    registry = ToolRegistry()
    registry.add(FunctionTool("hang", "Hangs.", Empty, hang))
    with pytest.raises(ValueError):
        registry.add(FunctionTool("hang", "Again.", Empty, hang))
    with pytest.raises(ToolTimeoutError):
        await registry.call("hang", {}, timeout_s=0.05)


@pytest.mark.parametrize(("text", "expected"), [("07:30", (7, 30)), ("7:30 pm", (19, 30)),
                                                ("12 am", (0, 0)), ("12:15 p.m.", (12, 15)),
                                                ("23:59", (23, 59))])
def test_parse_clock_time(text: str, expected: tuple[int, int]) -> None:
    assert parse_clock_time(text) == expected


@pytest.mark.parametrize("text", ["25:00", "13 pm", "noonish", "7:60"])
def test_parse_clock_time_refuses(text: str) -> None:
    with pytest.raises(ToolArgumentError):
        parse_clock_time(text)
