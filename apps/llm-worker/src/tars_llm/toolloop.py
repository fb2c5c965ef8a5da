"""The tool loop: run the model, call the tools it asks for, run it again, stream the reply."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tars.contracts.tools import ToolSpec
from tars_llm.model import ChatModel
from tars_llm.repair import is_echo, repair_arguments, ungrounded
from tars_llm.replygate import ReplyGate
from tars_llm.toolcalls import looks_like_call
from tars_llm.types import (
    CancelToken,
    ChatRequest,
    ChatResult,
    FinishReason,
    ModelMessage,
    ModelToolCall,
    SamplingParams,
    TextDelta,
)

log = logging.getLogger(__name__)

CallTool = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""``await call_tool(name, arguments)`` returns the tool's result (any JSON-able value)."""
DeltaCallback = Callable[[str], Awaitable[None]]
"""``await on_delta(text)`` receives reply text as it is generated (tool-call JSON excluded)."""


@dataclass(frozen=True, slots=True)
class ToolInvocation:
    """One tool call made by the loop and what it returned."""

    call: ModelToolCall
    output: str
    ok: bool


@dataclass(frozen=True, slots=True)
class LoopResult:
    """Outcome of one user turn."""

    reply: str
    finish_reason: FinishReason
    new_messages: tuple[ModelMessage, ...]
    """Assistant tool-call messages, tool results and the final assistant reply, for history."""
    invocations: tuple[ToolInvocation, ...]
    steps: tuple[ChatResult, ...]

    @property
    def cancelled(self) -> bool:
        """True if the turn was cancelled before the reply was complete."""
        return self.finish_reason == "cancelled"


DEFAULT_ANSWER_PROMPT = ("Answer my question in one short sentence, using the tool results above; "
                         "do not mention the tool.")
"""Appended (as a user message, not kept in history) after each round of tool results: small
models otherwise tend to repeat the same call instead of answering."""


async def _ignore_delta(_: str) -> None:
    return None


ECHO_NUDGE = "Answer my question itself; do not repeat it."
NO_ANSWER_TEXT = "Sorry, I don't have a good answer to that."
"""Said when the model gave no usable reply (an echo, twice) and no tool result can stand in."""


def is_bare_json(text: str) -> bool:
    """True if ``text`` is only a JSON object or list (arguments without a tool name, say):
    nothing to speak."""
    body = text.strip()
    if not body or body[0] not in "{[":
        return False
    try:
        json.loads(body)
    except ValueError:
        return body[-1] in "}]"  # broken JSON is no answer either
    return True


def failure_text(failed: Mapping[str, str]) -> str:
    """An honest reply for tools that failed: which, and why (never a made-up result)."""
    parts = [f"the {name.replace('_', ' ')} tool failed ({reason.rstrip('.')})"
             for name, reason in failed.items()]
    return f"Sorry, I couldn't do that: {'; '.join(parts)}."


class ToolLoop:
    """Provider-agnostic orchestration of model runs and tool calls for one turn.

    At most ``max_tool_steps`` rounds of tool calls are honoured; the run after the last one
    is made without tools so the model has to answer. Arguments are repaired against the
    tool's schema before the call (tars_llm.repair). A failing tool (any exception from
    ``call_tool``, timeouts included) is reported to the model as an error result, so it may
    retry; if it then answers without a successful call, the reply is an honest failure
    (``failure_text``), never the model's guess. A call repeated with identical arguments
    within the turn reuses the earlier result. A call of an unknown tool is answered again
    without tools; a tool called with an integer argument the user never said (``said``:
    "remember my sister is Ada" is no 14-hour timer, whatever the Now line says) is not called,
    and the model is asked again without it. With ``question`` set, a reply that only repeats
    it is generated once more with a nudge, then replaced by ``NO_ANSWER_TEXT``.
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
        messages: Sequence[ModelMessage],
        tools: Sequence[ToolSpec] = (),
        *,
        on_delta: DeltaCallback | None = None,
        cancel: CancelToken | None = None,
        params: SamplingParams | None = None,
        question: str | Sequence[str] | None = None,
        said: str | None = None,
    ) -> LoopResult:
        """Run one turn to its final reply (or until ``cancel`` is set). With ``said`` (the
        user's words), a call with an integer argument the user never said is not made."""
        turn = _Turn(list(messages), on_delta or _ignore_delta,
                     cancel if cancel is not None else threading.Event(), params or self._params)
        specs = {t.name: t for t in tools}
        retried_echo = retried_stray = False
        unasked: set[str] = set()  # tools called with numbers nobody said: not offered again
        step = 0
        while step <= self._max_steps and not turn.token.is_set():
            usable = tuple(t for t in tools if t.name not in unasked)
            offered = usable if step < self._max_steps and not retried_stray else ()
            request = ChatRequest(tuple(turn.convo), offered, turn.params)
            gate = ReplyGate(tools=bool(tools), question=question, hold=bool(turn.failed))
            result = await self._run_model(request, gate, turn)
            turn.steps.append(result)
            if result.finish_reason == "cancelled":
                return turn.result("", "cancelled")
            calls = [c for c in result.tool_calls if c.name in request.tool_names]
            if said is not None and calls:
                unasked |= {c.name for c in calls if not self._grounded(c, specs, said)}
                calls = [c for c in calls if c.name not in unasked]
                if not calls and not retried_stray:
                    retried_stray = not usable or all(t.name in unasked for t in usable)
                    gate.finish(True)
                    continue  # only calls nobody asked for: again, without those tools
            if not calls and tools and not retried_stray and (looks_like_call(result.text)
                                                              or is_bare_json(result.text)):
                retried_stray = True  # an unknown tool: answer again, without tools
                gate.finish(True)
                continue
            if not calls:
                return await self._final(result, gate, turn, question, retried_echo)
            gate.finish(True)
            await self._call_round(calls, specs, turn)
            step += 1
            retried_echo = False
        return turn.result("", "cancelled")

    async def _final(self, result: ChatResult, gate: ReplyGate, turn: _Turn,
                     question: str | Sequence[str] | None,
                     retried: bool) -> LoopResult:
        rest = gate.finish(looks_like_call(result.text))
        reply = gate.released + rest
        if turn.failed:
            reply = failure_text(turn.failed)
            await turn.emit(reply)
        elif question is not None and gate.still_echo and is_echo(question, reply):
            if not retried:
                log.warning("the model echoed the question: asking again")
                nudge = ModelMessage(role="user", content=ECHO_NUDGE)
                again = _Turn([*turn.convo, nudge], turn.emit, turn.token,
                              dataclasses.replace(turn.params, temperature=max(0.7, turn.params.temperature)))
                again.new, again.invocations, again.steps = turn.new, turn.invocations, turn.steps
                request = ChatRequest(tuple(again.convo), (), again.params)
                gate2 = ReplyGate(tools=True, question=question)
                second = await self._run_model(request, gate2, again)
                turn.steps.append(second)
                if second.finish_reason == "cancelled":
                    return turn.result("", "cancelled")
                return await self._final(second, gate2, turn, question, True)
            log.warning("the model echoed the question twice: no answer")
            reply = turn.fallback()
            await turn.emit(reply)
        elif not reply.strip() or is_bare_json(reply):
            reply = turn.fallback()  # nothing speakable (a call of an unknown tool, bare JSON)
            await turn.emit(reply)
        elif rest:
            await turn.emit(rest)
        turn.new.append(ModelMessage(role="assistant", content=reply))
        return turn.result(reply, result.finish_reason)

    @staticmethod
    def _grounded(call: ModelToolCall, specs: Mapping[str, ToolSpec], said: str) -> bool:
        spec = specs.get(call.name)
        arguments = _repaired(call, spec).arguments
        missing = ungrounded(arguments, spec.parameters, said) if spec is not None else []
        if missing:
            log.warning("not calling %s: the user never said %s", call.name,
                        ", ".join(f"{k}={arguments[k]}" for k in missing))
        return not missing

    async def _call_round(self, calls: list[ModelToolCall], specs: Mapping[str, ToolSpec],
                          turn: _Turn) -> None:
        calls = [_repaired(c, specs.get(c.name)) for c in calls]
        assistant = ModelMessage(role="assistant", content="", tool_calls=tuple(calls))
        turn.convo.append(assistant)
        turn.new.append(assistant)
        for call in calls:
            if turn.token.is_set():
                break
            invocation = await self._invoke(call, turn.invocations)
            turn.invocations.append(invocation)
            if invocation.ok:
                turn.failed.pop(call.name, None)
                turn.succeeded.add(call.name)
            elif call.name not in turn.succeeded:  # a failed extra call spoils no earlier result
                turn.failed[call.name] = _error_reason(invocation.output)
            message = ModelMessage(role="tool", content=invocation.output, tool_call_id=call.id,
                                  name=call.name)
            turn.convo.append(message)
            turn.new.append(message)
        if self._answer_prompt:
            turn.convo.append(ModelMessage(role="user", content=self._answer_prompt))

    async def _run_model(self, request: ChatRequest, gate: ReplyGate, turn: _Turn) -> ChatResult:
        result: ChatResult | None = None
        stream = self._model.stream(request, turn.token)
        try:
            async for event in stream:
                if isinstance(event, TextDelta):
                    if text := gate.push(event.text):
                        await turn.emit(text)
                else:
                    result = event
        finally:
            await stream.aclose()
        if result is None:
            raise RuntimeError(f"{self._model.name} ended its stream without a result")
        return result

    async def _invoke(self, call: ModelToolCall, done: Sequence[ToolInvocation]) -> ToolInvocation:
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


@dataclass
class _Turn:
    """The state of one run: the conversation so far and what it produced."""

    convo: list[ModelMessage]
    emit: DeltaCallback
    token: CancelToken
    params: SamplingParams
    new: list[ModelMessage] = field(default_factory=list)
    invocations: list[ToolInvocation] = field(default_factory=list)
    steps: list[ChatResult] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    """Tools whose calls all failed so far (name -> last reason), cleared by a success."""
    succeeded: set[str] = field(default_factory=set)

    def fallback(self) -> str:
        """No usable reply: the last successful tool result if it is a sentence, else
        NO_ANSWER_TEXT (never a made-up answer)."""
        for invocation in reversed(self.invocations):
            text = invocation.output.strip()
            if invocation.ok and text and text[0] not in "{[\"" and not looks_like_call(text):
                return text if text[-1] in ".!?" else f"{text}."
        return NO_ANSWER_TEXT

    def result(self, reply: str, finish: FinishReason) -> LoopResult:
        return LoopResult(reply, finish, tuple(self.new), tuple(self.invocations), tuple(self.steps))


def _repaired(call: ModelToolCall, spec: ToolSpec | None) -> ModelToolCall:
    if spec is None:
        return call
    arguments, dropped = repair_arguments(call.arguments, spec.parameters)
    if not dropped:
        return call
    log.info("repaired the arguments of %s: %s", call.name, ", ".join(dropped))
    return dataclasses.replace(call, arguments=arguments)


def _error_reason(output: str) -> str:
    """The reason inside a failed invocation's ``{"error": "Kind: reason"}`` output."""
    try:
        text = str(json.loads(output).get("error", output))
    except (ValueError, AttributeError):
        text = output
    kind, sep, reason = text.partition(": ")
    return (reason if sep and kind.isidentifier() else text).strip() or "no answer"
