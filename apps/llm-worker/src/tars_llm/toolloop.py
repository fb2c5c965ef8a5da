"""The tool loop: run the model, call the tools it asks for, run it again, stream the reply."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tars_llm.model import ChatModel
from tars_llm.toolcalls import ToolCallGate
from tars_llm.types import (
    CancelToken,
    ChatMessage,
    ChatRequest,
    ChatResult,
    FinishReason,
    SamplingParams,
    TextDelta,
    ToolCall,
    ToolSpec,
)

log = logging.getLogger(__name__)

CallTool = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""``await call_tool(name, arguments)`` returns the tool's result (any JSON-able value)."""
DeltaCallback = Callable[[str], Awaitable[None]]
"""``await on_delta(text)`` receives reply text as it is generated (tool-call JSON excluded)."""


@dataclass(frozen=True, slots=True)
class ToolInvocation:
    """One tool call made by the loop and what it returned."""

    call: ToolCall
    output: str
    ok: bool


@dataclass(frozen=True, slots=True)
class LoopResult:
    """Outcome of one user turn."""

    reply: str
    finish_reason: FinishReason
    new_messages: tuple[ChatMessage, ...]
    """Assistant tool-call messages, tool results and the final assistant reply, for history."""
    invocations: tuple[ToolInvocation, ...]
    steps: tuple[ChatResult, ...]

    @property
    def cancelled(self) -> bool:
        """True if the turn was cancelled before the reply was complete."""
        return self.finish_reason == "cancelled"


DEFAULT_ANSWER_PROMPT = "Use the tool results above to answer my question in one short sentence."
"""Appended (as a user message, not kept in history) after each round of tool results: small
models otherwise tend to repeat the same call instead of answering."""


async def _ignore_delta(_: str) -> None:
    return None


class ToolLoop:
    """Provider-agnostic orchestration of model runs and tool calls for one turn.

    At most ``max_tool_steps`` rounds of tool calls are honoured; the run after the last one
    is made without tools so the model has to answer. A failing tool (any exception from
    ``call_tool``, timeouts included) is reported to the model as an error result. A call
    repeated with identical arguments within the turn reuses the earlier result.
    ``answer_prompt`` (None to disable) nudges the model to answer after tool results.
    """

    def __init__(
        self,
        model: ChatModel,
        call_tool: CallTool,
        *,
        max_tool_steps: int = 3,
        params: SamplingParams | None = None,
        answer_prompt: str | None = DEFAULT_ANSWER_PROMPT,
    ) -> None:
        self._model = model
        self._call_tool = call_tool
        self._max_steps = max_tool_steps
        self._params = params or SamplingParams()
        self._answer_prompt = answer_prompt

    async def run(
        self,
        messages: Sequence[ChatMessage],
        tools: Sequence[ToolSpec] = (),
        *,
        on_delta: DeltaCallback | None = None,
        cancel: CancelToken | None = None,
        params: SamplingParams | None = None,
    ) -> LoopResult:
        """Run one turn to its final reply (or until ``cancel`` is set)."""
        token: CancelToken = cancel if cancel is not None else threading.Event()
        emit = on_delta or _ignore_delta
        convo, new = list(messages), list[ChatMessage]()
        invocations: list[ToolInvocation] = []
        steps: list[ChatResult] = []
        for step in range(self._max_steps + 1):
            if token.is_set():
                break
            offered = tuple(tools) if step < self._max_steps else ()
            request = ChatRequest(tuple(convo), offered, params or self._params)
            result = await self._run_model(request, emit, token)
            steps.append(result)
            calls = [c for c in result.tool_calls if c.name in request.tool_names]
            if result.finish_reason == "cancelled" or not calls:
                if result.finish_reason != "cancelled":
                    new.append(ChatMessage(role="assistant", content=result.text))
                return LoopResult(
                    result.text, result.finish_reason, tuple(new), tuple(invocations), tuple(steps)
                )
            assistant = ChatMessage(role="assistant", content="", tool_calls=tuple(calls))
            convo.append(assistant)
            new.append(assistant)
            for call in calls:
                if token.is_set():
                    break
                invocation = await self._invoke(call, invocations)
                invocations.append(invocation)
                message = ChatMessage(
                    role="tool", content=invocation.output, tool_call_id=call.id, name=call.name
                )
                convo.append(message)
                new.append(message)
            if self._answer_prompt:
                convo.append(ChatMessage(role="user", content=self._answer_prompt))
        return LoopResult("", "cancelled", tuple(new), tuple(invocations), tuple(steps))

    async def _run_model(
        self, request: ChatRequest, emit: DeltaCallback, cancel: CancelToken
    ) -> ChatResult:
        gate = ToolCallGate(active=bool(request.tools))
        result: ChatResult | None = None
        stream = self._model.stream(request, cancel)
        try:
            async for event in stream:
                if isinstance(event, TextDelta):
                    if text := gate.push(event.text):
                        await emit(text)
                else:
                    result = event
        finally:
            await stream.aclose()
        if result is None:
            raise RuntimeError(f"{self._model.name} ended its stream without a result")
        if result.finish_reason != "cancelled" and (rest := gate.finish(bool(result.tool_calls))):
            await emit(rest)
        return result

    async def _invoke(self, call: ToolCall, done: Sequence[ToolInvocation]) -> ToolInvocation:
        for earlier in done:
            if (earlier.call.name, earlier.call.arguments) == (call.name, call.arguments):
                return ToolInvocation(call, earlier.output, earlier.ok)
        log.info("calling tool %s", call.name)
        try:
            output = await self._call_tool(call.name, dict(call.arguments))
        except Exception as exc:
            log.warning("tool %s failed: %s", call.name, exc)
            text = json.dumps({"error": f"{type(exc).__name__}: {exc}".strip()})
            return ToolInvocation(call, text, ok=False)
        text = output if isinstance(output, str) else json.dumps(output, default=str)
        return ToolInvocation(call, text, ok=True)
