"""Built-in tools: time and date, calculator, timers and alarms, and the declared memory tools."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from tars.contracts.tools import ToolSpec
from tars_tools.calculator import Calculator
from tars_tools.errors import ToolArgumentError
from tars_tools.registry import (
    DeclaredTool,
    FunctionTool,
    ToolRegistry,
    ToolResult,
    schema_of,
)
from tars_tools.timers import TimerScheduler, describe_delay, next_occurrence
from tars_tools.timerstore import Timer


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling a tool: the site (timers announce there) and the turn's correlation id."""

    site: str = ""
    correlation_id: str | None = None


CALL_CONTEXT: ContextVar[CallContext | None] = ContextVar("tars_tool_call", default=None)
"""Set by the service around each call; handlers read it (a timer remembers its site)."""


def call_context() -> CallContext:
    """The context of the tool call being run (an empty one outside a call)."""
    return CALL_CONTEXT.get() or CallContext()

_CLOCK_TIME = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*([ap]\.?m\.?)?\s*$", re.IGNORECASE)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoArgs(_Args):
    """No arguments."""


class CalculateArgs(_Args):
    expression: str = Field(description="The arithmetic of the question itself, with + - * / ** ( ) and sqrt")


class SetTimerArgs(_Args):
    hours: int = Field(0, ge=0, le=168)
    minutes: int = Field(0, ge=0, le=10_080)
    seconds: int = Field(0, ge=0, le=604_800)
    label: str = Field("", max_length=80, description="What the timer is for")


class SetAlarmArgs(_Args):
    time: str = Field(description="Clock time, e.g. '07:30', '7:30 pm' or '19:05'")
    label: str = Field("", max_length=80)


class CancelTimerArgs(_Args):
    id: str | None = Field(None, description="Id from list_timers")
    label: str | None = Field(None, description="Label of the timer(s) to cancel")


class RememberArgs(_Args):
    text: str = Field(description="A fact about the user to remember", min_length=1)


class RecallArgs(_Args):
    query: str = Field(description="What to look up in memory", min_length=1)
    limit: int = Field(3, ge=1, le=10)


def parse_clock_time(text: str) -> tuple[int, int]:
    """``"7:30 pm"`` -> ``(19, 30)``; raises ToolArgumentError."""
    found = _CLOCK_TIME.match(text)
    if not found:
        raise ToolArgumentError(f"cannot read the time {text!r}; use HH:MM or H:MM am/pm")
    hour, minute = int(found.group(1)), int(found.group(2) or 0)
    meridiem = (found.group(3) or "").lower().replace(".", "")
    if meridiem and not 1 <= hour <= 12:
        raise ToolArgumentError(f"{text!r}: hour must be 1-12 with am/pm")
    if meridiem:
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ToolArgumentError(f"{text!r} is not a valid time of day")
    return hour, minute


def _timer_data(timer: Timer, scheduler: TimerScheduler) -> dict[str, object]:
    return {"id": timer.id, "kind": timer.kind.value, "label": timer.label,
            "due_at": datetime.fromtimestamp(timer.due_at).astimezone().isoformat(),
            "remaining_s": round(scheduler.remaining_s(timer))}


class BuiltinTools:
    """The handlers of the built-in tools, sharing a scheduler, a calculator and a clock."""

    def __init__(self, scheduler: TimerScheduler, now: Callable[[], datetime],
                 calculator: Calculator) -> None:
        self.scheduler, self.now, self.calc = scheduler, now, calculator

    async def get_time(self, _: NoArgs) -> ToolResult:
        moment = self.now()
        text = f"{moment:%A, %B} {moment.day}, {moment:%Y}, {moment:%H:%M} ({moment:%Z})"
        return ToolResult(text, {"iso": moment.isoformat(), "weekday": f"{moment:%A}"})

    async def calculate(self, args: CalculateArgs) -> ToolResult:
        value = self.calc.evaluate(args.expression)
        shown = self.calc.format(value)
        text = " ".join(args.expression.split())
        return ToolResult(shown if text == shown else f"{text} = {shown}", {"value": value})

    async def set_timer(self, args: SetTimerArgs) -> ToolResult:
        total = args.hours * 3600 + args.minutes * 60 + args.seconds
        timer = await self.scheduler.set_timer(total, args.label, call_context().site)
        what = f"{args.label} timer" if args.label else "Timer"
        return ToolResult(f"{what} set for {describe_delay(total)}.",
                          _timer_data(timer, self.scheduler))

    async def set_alarm(self, args: SetAlarmArgs) -> ToolResult:
        hour, minute = parse_clock_time(args.time)
        at = next_occurrence(hour, minute, self.now())
        timer = await self.scheduler.set_alarm(at, args.label, call_context().site)
        return ToolResult(f"Alarm set for {at:%H:%M} on {at:%A}.",
                          _timer_data(timer, self.scheduler))

    async def list_timers(self, _: NoArgs) -> ToolResult:
        timers = await self.scheduler.pending()
        if not timers:
            return ToolResult("There are no timers or alarms.", [])
        parts = [f"{t.label or t.kind.value} ({t.kind.value} {t.id}) in "
                 f"{describe_delay(max(1.0, self.scheduler.remaining_s(t)))}" for t in timers]
        return ToolResult("; ".join(parts), [_timer_data(t, self.scheduler) for t in timers])

    async def cancel_timer(self, args: CancelTimerArgs) -> ToolResult:
        if args.id:
            done = [await self.scheduler.cancel(args.id)]
        elif args.label:
            done = await self.scheduler.cancel_label(args.label)
        else:
            raise ToolArgumentError("cancel_timer needs an id or a label")
        names = ", ".join(t.label or t.id for t in done)
        return ToolResult(f"Cancelled {names}.", [t.id for t in done])


def build_registry(scheduler: TimerScheduler, *, calculator: Calculator | None = None,
                   default_timeout_s: float = 30.0) -> ToolRegistry:
    """A registry with every built-in tool; every time it reads comes from the scheduler's clock."""
    tools = BuiltinTools(scheduler, scheduler.clock.now, calculator or Calculator())
    registry = ToolRegistry(default_timeout_s)
    registry.add(FunctionTool("get_time", "Current local date and time.", NoArgs,
                              tools.get_time))
    registry.add(FunctionTool("calculate", "Evaluate an arithmetic expression exactly.",
                              CalculateArgs, tools.calculate))
    registry.add(FunctionTool("set_timer", "Start a countdown timer.", SetTimerArgs,
                              tools.set_timer))
    registry.add(FunctionTool("set_alarm", "Set an alarm at a clock time (next occurrence).",
                              SetAlarmArgs, tools.set_alarm))
    registry.add(FunctionTool("list_timers", "List pending timers and alarms.", NoArgs,
                              tools.list_timers))
    registry.add(FunctionTool("cancel_timer", "Cancel a timer or alarm by id or label.",
                              CancelTimerArgs, tools.cancel_timer))
    for spec in memory_tool_specs():
        registry.add(DeclaredTool(spec, routed_to="memory"))
    return registry


def memory_tool_specs() -> list[ToolSpec]:
    """``remember`` and ``recall``: declared here, executed by the memory worker."""
    return [
        ToolSpec(name="remember", description="Store a fact about the user for later conversations.",
                 parameters=schema_of(RememberArgs)),
        ToolSpec(name="recall", description="Look up facts remembered about the user.",
                 parameters=schema_of(RecallArgs)),
    ]
