"""The real Qwen2.5-Coder-0.5B GGUF through llama.cpp: tool calls, the tool loop, streaming,
cancellation and prompt-prefix reuse."""

from __future__ import annotations

import ast
import asyncio
import operator
import threading
import time
from typing import Any

import pytest

from tars.contracts.character import Character
from tars.contracts.tools import ToolSpec
from tars_llm.llamacpp import LlamaCppChatModel
from tars_llm.prompt import PromptBuilder
from tars_llm.toolloop import ToolLoop
from tars_llm.types import ChatRequest, ChatResult, ModelMessage, SamplingParams, TextDelta

pytestmark = pytest.mark.models

CALC = ToolSpec(
    name="calculator",
    description="Evaluate an arithmetic expression such as 3*(4+5) and return the number.",
    parameters={"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]},
)
TIME = ToolSpec(name="get_time", description="Return the current local time.")
TOOLS = (CALC, TIME)
BUILDER = PromptBuilder(Character(name="TARS", style="dry and brief", facts=["you run offline"]))
GREEDY = SamplingParams(max_tokens=48, temperature=0.0, seed=0)
_OPS: dict[type, Any] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.USub: operator.neg, ast.Pow: operator.pow,
}


def safe_eval(expression: str) -> float:
    """Evaluate + - * / ** on numbers only."""
    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.operand))
        raise ValueError(f"unsupported expression: {expression!r}")
    return walk(ast.parse(expression.replace("x", "*").replace("×", "*"), mode="eval"))  # type: ignore[no-any-return]


async def calculator(name: str, args: dict[str, Any]) -> Any:
    assert name == "calculator", name
    value = safe_eval(str(args["expression"]))
    return {"result": int(value) if float(value).is_integer() else value}


def test_model_asks_for_the_calculator(qwen: LlamaCppChatModel) -> None:
    messages = BUILDER.build("What is 12 times 7? Use the calculator.")
    events = list(qwen.generate(ChatRequest(tuple(messages), TOOLS, GREEDY), threading.Event()))
    result = events[-1]
    assert isinstance(result, ChatResult)
    print(f"\ntool-call text: {result.text!r}")
    assert result.finish_reason == "tool_calls"
    assert [c.name for c in result.tool_calls] == ["calculator"]
    assert safe_eval(result.tool_calls[0].arguments["expression"]) == 84


async def test_tool_loop_answers_with_the_tool_result(qwen: LlamaCppChatModel) -> None:
    spoken: list[str] = []

    async def on_delta(text: str) -> None:
        spoken.append(text)

    loop = ToolLoop(qwen, calculator, params=GREEDY)
    messages = BUILDER.build("What is 12 times 7? Use the calculator.")
    result = await loop.run(messages, TOOLS, on_delta=on_delta)
    print(f"\nreply: {result.reply!r}; steps: {[s.finish_reason for s in result.steps]}")
    assert [i.call.name for i in result.invocations] == ["calculator"]
    assert "84" in result.invocations[0].output
    assert "84" in result.reply and "{" not in "".join(spoken)
    assert "".join(spoken) == result.reply


async def test_plain_question_streams_text_without_blocking_the_loop(qwen: LlamaCppChatModel) -> None:
    messages = BUILDER.build("What is the capital of France, and what is one famous landmark there?")
    request = ChatRequest(tuple(messages), TOOLS, GREEDY)
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - start - 0.01)

    tick = asyncio.create_task(ticker())
    deltas: list[str] = []
    result: ChatResult | None = None
    async for event in qwen.stream(request, threading.Event()):
        if isinstance(event, TextDelta):
            deltas.append(event.text)
        else:
            result = event
    done.set()
    await tick
    assert result is not None and result.finish_reason in ("stop", "length")
    print(f"\nplain: {result.text!r}; {result.tokens_per_s} tok/s; max loop lag {max(lags) * 1000:.1f} ms")
    assert len(deltas) >= 3 and "".join(deltas) == result.text
    assert "Paris" in result.text and result.tool_calls == ()
    assert max(lags) < 0.25


async def test_cancel_stops_generation_promptly(qwen: LlamaCppChatModel) -> None:
    messages = BUILDER.build("Write a long story about a robot who learns to paint.")
    request = ChatRequest(tuple(messages), (), SamplingParams(max_tokens=300, temperature=0.0))
    cancel = threading.Event()
    deltas = 0
    result: ChatResult | None = None
    async for event in qwen.stream(request, cancel):
        if isinstance(event, TextDelta):
            deltas += 1
            if deltas == 5:
                cancel.set()
                cancelled_at = time.perf_counter()
        else:
            result = event
            stop_latency = time.perf_counter() - cancelled_at
    assert result is not None and result.finish_reason == "cancelled"
    print(f"\ncancelled after {result.completion_tokens} tokens, {stop_latency * 1000:.0f} ms after the request")
    assert result.completion_tokens <= deltas + 2


def test_stable_prefix_is_reused_on_the_next_turn(qwen: LlamaCppChatModel) -> None:
    qwen._llama.reset()  # start cold: nothing in the KV cache
    cancel = threading.Event()
    first = BUILDER.build("Hi, I am Ada. Say hello back.", memories=["Ada likes tea"])
    *_, cold = qwen.generate(ChatRequest(tuple(first), TOOLS, GREEDY), cancel)
    assert isinstance(cold, ChatResult)
    history = [BUILDER.user_message("Hi, I am Ada. Say hello back."), ModelMessage(role="assistant", content=cold.text)]
    second = BUILDER.build("What is my name?", history, memories=["Ada lives in Oslo"])
    *_, warm = qwen.generate(ChatRequest(tuple(second), TOOLS, GREEDY), cancel)
    assert isinstance(warm, ChatResult)
    prefix = qwen.count_tokens(BUILDER.build("")[:1], TOOLS)
    print(
        f"\ncold: {cold.prompt_tokens} prompt tokens, {cold.cached_prompt_tokens} cached, "
        f"prompt eval {cold.prompt_eval_s:.3f} s, ttft {cold.time_to_first_token_s:.3f} s, "
        f"{cold.tokens_per_s:.1f} tok/s\nwarm: {warm.prompt_tokens} prompt tokens, "
        f"{warm.cached_prompt_tokens} cached, prompt eval {warm.prompt_eval_s:.3f} s, "
        f"ttft {warm.time_to_first_token_s:.3f} s, {warm.tokens_per_s:.1f} tok/s; "
        f"system+tools prefix = {prefix} tokens"
    )
    assert cold.cached_prompt_tokens == 0
    assert warm.cached_prompt_tokens >= prefix - 5
    assert warm.prompt_eval_s is not None and cold.prompt_eval_s is not None
    assert warm.prompt_eval_s < cold.prompt_eval_s



def test_a_prefilled_conversation_leaves_only_the_question_to_evaluate(qwen: LlamaCppChatModel) -> None:
    """The router asks after each turn: the system, tools and history are evaluated while the
    user is quiet, and the next turn finds all of them in the KV cache."""
    cancel = threading.Event()
    history = [ModelMessage(role="user", content="What is the capital of France?"),
               ModelMessage(role="assistant", content="The capital of France is Paris."),
               ModelMessage(role="user", content="And of Spain?"),
               ModelMessage(role="assistant", content="Madrid.")]
    qwen._llama.reset()  # nothing in the KV cache
    system = BUILDER.build("")[:1]
    stats = qwen.prefill(ChatRequest((*system, *history), TOOLS, GREEDY))
    assert stats["evaluated"] == stats["prompt_tokens"] > 0
    assert qwen.prefill(ChatRequest((*system, *history), TOOLS, GREEDY))["evaluated"] == 0  # done
    turn = BUILDER.build("And of Italy?", history, memories=["The user lives in Rome"])
    *_, result = qwen.generate(ChatRequest(tuple(turn), TOOLS, GREEDY), cancel)
    assert isinstance(result, ChatResult)
    print(f"\nprefill {stats}; the turn: {result.prompt_tokens} prompt tokens, "
          f"{result.cached_prompt_tokens} cached, prompt eval {result.prompt_eval_s}")
    # everything but the chat template's assistant header the prefill ended with was cached
    assert result.cached_prompt_tokens >= stats["prompt_tokens"] - 3
    threads = qwen._llama.context_params.n_threads
    assert threads >= 1  # the prefill's one thread was given back


def test_a_prefill_yields_at_once_to_a_waiting_turn(qwen: LlamaCppChatModel) -> None:
    qwen._llama.reset()
    stop = threading.Event()
    stop.set()  # a turn is already waiting
    request = ChatRequest(tuple(BUILDER.build("")[:1]), TOOLS, GREEDY)
    assert qwen.prefill(request, stop)["evaluated"] == 0
    stop.clear()
    assert qwen.prefill(request, stop)["evaluated"] > 0
