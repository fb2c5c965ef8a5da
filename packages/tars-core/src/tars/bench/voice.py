"""Voice benchmark: generated spoken questions through the whole stack, intent and LLM paths."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from tars.bench.stats import pct
from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.envelope import DecodeError
from tars.runtime.bus import Message
from tars.stack.converse import converse_once
from tars.stack.ephemeral import ensure_stack

INTENT_QUESTIONS = ["What time is it?", "What is the date today?", "What is your name?"]
LLM_QUESTIONS = ["What is the capital of France?", "What color is the sky on a clear day?",
                 "Name a big animal that lives in the ocean."]
STACK = ["memory", "tools", "llm", "router", "tts", "stt"]


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    v2v = [r["voice_to_voice_ms"] for r in results if r["voice_to_voice_ms"] is not None]
    return {
        "n": len(results), "answered": len(v2v),
        "voice_to_voice_p50_ms": round(pct(v2v, 50), 1) if v2v else None,
        "voice_to_voice_p95_ms": round(pct(v2v, 95), 1) if v2v else None,
        "turns": [{k: r[k] for k in ("transcript", "reply", "path", "voice_to_voice_ms")} for r in results],
    }


async def _run(url: str | None, rounds: int) -> dict[str, Any]:
    from tars.runtime.mqtt import MqttBus
    from tars.testing.speech import piper

    audio = {q: piper(q) for q in [*INTENT_QUESTIONS, *LLM_QUESTIONS]}
    target = url or "mqtt://127.0.0.1:1883"
    async with ensure_stack(STACK, target, quiet=True) as stack:
        rss: dict[str, float] = {}
        watcher = MqttBus(stack.url, f"bench-voice-{os.getpid()}", namespace=stack.namespace)

        async def on_beat(msg: Message) -> None:
            try:
                rss[msg.topic.rsplit("/", 1)[-1]] = float(decode(msg.payload).data.get("rss_mb", 0.0))
            except (DecodeError, ValueError, TypeError):
                pass

        await watcher.start()
        await watcher.subscribe(T.SYSTEM_HEARTBEAT.filter, on_beat)
        intent: list[dict[str, Any]] = []
        llm: list[dict[str, Any]] = []
        for _ in range(rounds):
            for q in INTENT_QUESTIONS:
                intent.append(await converse_once(stack.url, audio[q], namespace=stack.namespace))
            for q in LLM_QUESTIONS:
                llm.append(await converse_once(stack.url, audio[q], namespace=stack.namespace))
        for _ in range(30):  # heartbeats come every heartbeat_s (10 s by default)
            if set(STACK) <= set(rss):
                break
            await asyncio.sleep(0.5)
        await watcher.stop()
        return {
            "bench": "voice",
            "intent": _summary(intent), "llm": _summary(llm),
            "rss_mb": {k: round(v, 1) for k, v in sorted(rss.items())},
            "rss_total_mb": round(sum(rss.values()), 1),
            "ready_s": round(stack.ready_s, 2) if stack.ready_s is not None else None,
            "started_for_the_run": stack.started_workers,
            "goal": {"intent_p50_ms": 600, "llm_p50_ms": 1500, "rss_total_mb": 2048, "ready_s": 15},
        }


def run(url: str | None = None, rounds: int = 1) -> dict[str, Any]:
    return asyncio.run(_run(url, rounds))
