"""``tars bench llm``: cold and warm time to first token, and decode speed, of the configured provider."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from typing import Any

from tars.contracts.tools import ToolSpec
from tars.runtime.settings import load_settings
from tars_llm.factory import create_chat_model
from tars_llm.model import collect
from tars_llm.persona import load_character_file
from tars_llm.prompt import PromptBuilder
from tars_llm.settings import Settings
from tars_llm.types import ChatRequest, SamplingParams

PROMPTS = (
    "What is the capital of France?",
    "Say something encouraging about Mondays.",
    "How far away is the Moon, roughly?",
    "Name a good name for a cat.",
)
CALCULATOR = ToolSpec(name="calculator", description="Evaluate an arithmetic expression exactly",
                      parameters={"type": "object", "properties": {"expression": {"type": "string"}},
                       "required": ["expression"]})


async def _measure(n: int, max_tokens: int, tools: bool) -> dict[str, Any]:
    settings = load_settings(Settings)
    config = settings.engine_config()
    started = time.perf_counter()
    model = await asyncio.to_thread(create_chat_model, config)
    load_s = time.perf_counter() - started
    builder = PromptBuilder.from_config(config, load_character_file(settings.character_file))
    offered = (CALCULATOR,) if tools else ()
    runs: list[dict[str, float]] = []
    try:
        for i in range(n + 1):
            prompt = PROMPTS[i % len(PROMPTS)]
            request = ChatRequest(tuple(builder.build(prompt)), offered,
                                  SamplingParams(max_tokens=max_tokens, temperature=0.0))
            _, result = await collect(model.stream(request, threading.Event()))
            runs.append({
                "first_token_ms": (result.time_to_first_token_s or result.elapsed_s) * 1000,
                "tokens_per_s": result.tokens_per_s or 0.0,
                "prompt_tokens": result.prompt_tokens,
                "cached_tokens": result.cached_prompt_tokens,
                "completion_tokens": result.completion_tokens,
            })
    finally:
        await model.aclose()
    cold, warm = runs[0], runs[1:]
    return {
        "bench": "llm",
        "provider": config.provider,
        "model": model.name,
        "load_s": round(load_s, 2),
        "cold_first_token_ms": round(cold["first_token_ms"], 1),
        "cold_prompt_tokens": int(cold["prompt_tokens"]),
        "warm_first_token_ms_p50": round(statistics.median(r["first_token_ms"] for r in warm), 1),
        "warm_first_token_ms_max": round(max(r["first_token_ms"] for r in warm), 1),
        "warm_cached_tokens_p50": int(statistics.median(r["cached_tokens"] for r in warm)),
        "tokens_per_s": round(statistics.mean(r["tokens_per_s"] for r in runs if r["tokens_per_s"]), 1)
        if any(r["tokens_per_s"] for r in runs) else None,
        "completion_tokens": int(sum(r["completion_tokens"] for r in runs)),
        "prompts": n + 1,
        "max_tokens": max_tokens,
    }


def run(n: int = 3, max_tokens: int = 32, tools: int = 1, **_: Any) -> dict[str, Any]:
    """Load the configured model once; one cold prompt, then ``n`` warm ones."""
    return asyncio.run(_measure(max(1, int(n)), int(max_tokens), bool(tools)))
