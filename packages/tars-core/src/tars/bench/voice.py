"""Voice benchmark: generated spoken questions through the whole stack, intent and LLM paths."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from tars.bench.beats import Beats
from tars.bench.stats import pct
from tars.runtime.service import Service
from tars.stack.converse import converse_once
from tars.stack.ephemeral import ensure_stack

WAKE_PHRASE = "Hey Jarvis,"
INTENT_QUESTIONS = ["What time is it?", "What is the date today?", "What is your name?"]
LLM_QUESTIONS = ["What is the capital of France?", "What color is the sky on a clear day?",
                 "Name a big animal that lives in the ocean."]
STACK = ["memory", "tools", "llm", "router", "tts", "wake", "stt"]
GOALS = {"intent_p50_ms": 500, "intent_p95_ms": 800, "llm_p50_ms": 1200, "llm_p95_ms": 2000,
         "final_p50_ms": 300, "tts_first_audio_p50_ms": 120, "rss_total_mb": 2048, "ready_s": 10}


def spoken_question(question: str) -> str:
    """What the user says: the wake word and the question in one breath."""
    return f"{WAKE_PHRASE} {question}"


def stage_summary(results: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """p50/p95 of every stage, in ms from the end of speech (negative: before it)."""
    by_stage: dict[str, list[float]] = {}
    for r in results:
        for name, ms in (r.get("stage_ms") or {}).items():
            by_stage.setdefault(name, []).append(float(ms))
    return {name: {"p50_ms": round(pct(v, 50), 1), "p95_ms": round(pct(v, 95), 1), "n": len(v)}
            for name, v in sorted(by_stage.items(), key=lambda kv: pct(kv[1], 50))}


def text_to_audio(results: list[dict[str, Any]]) -> list[float]:
    """Per turn: from its first sentence sent to tts to that sentence's first audio (ms)."""
    out = []
    for r in results:
        st = r.get("stage_ms") or {}
        if st.get("first_sentence") is not None and st.get("first_audio") is not None:
            out.append(float(st["first_audio"]) - float(st["first_sentence"]))
    return out


def finals(results: list[dict[str, Any]]) -> list[float]:
    """Per turn: its final transcript, in ms after the end of speech."""
    return [float(r["stage_ms"]["final"]) for r in results
            if (r.get("stage_ms") or {}).get("final") is not None]


def _p50(values: list[float]) -> float | None:
    return round(pct(values, 50), 1) if values else None


def summary(results: list[dict[str, Any]], key: str = "voice_to_voice_ms") -> dict[str, Any]:
    v2v = [r[key] for r in results if r.get(key) is not None]
    return {
        "n": len(results), "answered": len(v2v),
        "voice_to_voice_p50_ms": _p50(v2v),
        "voice_to_voice_p95_ms": round(pct(v2v, 95), 1) if v2v else None,
        "text_to_audio_p50_ms": _p50(text_to_audio(results)),
        "stages": stage_summary(results),
        "turns": [{k: r.get(k) for k in ("transcript", "reply", "path", key)} for r in results],
    }


def verdict(intent: list[dict[str, Any]], llm: list[dict[str, Any]], rss_total_mb: float,
            ready_s: float | None) -> dict[str, bool | None]:
    """Each goal of GOALS met (True), missed (False) or not measured (None)."""
    both = [*intent, *llm]

    def v2v(results: list[dict[str, Any]], q: float) -> float | None:
        values = [r["voice_to_voice_ms"] for r in results if r.get("voice_to_voice_ms") is not None]
        return pct(values, q) if values else None

    measured: dict[str, float | None] = {
        "intent_p50_ms": v2v(intent, 50), "intent_p95_ms": v2v(intent, 95),
        "llm_p50_ms": v2v(llm, 50), "llm_p95_ms": v2v(llm, 95),
        "final_p50_ms": _p50(finals(both)), "tts_first_audio_p50_ms": _p50(text_to_audio(both)),
        "rss_total_mb": rss_total_mb or None, "ready_s": ready_s,
    }
    return {k: None if (m := measured[k]) is None else m <= goal for k, goal in GOALS.items()}


def confine(cpus: int | None) -> list[int] | None:
    """Pin this process (and so every worker it starts) to the first ``cpus`` cores."""
    if not cpus:
        return None
    allowed = sorted(os.sched_getaffinity(0))[:cpus]
    os.sched_setaffinity(0, allowed)
    return allowed


async def _run(url: str | None, rounds: int) -> dict[str, Any]:
    from tars.runtime.connect import client_bus
    from tars.testing.speech import piper

    audio = {q: piper(spoken_question(q)) for q in [*INTENT_QUESTIONS, *LLM_QUESTIONS]}
    async with ensure_stack(STACK, url or "", quiet=True) as stack:  # "": a private stack
        watcher = Service("bench-voice", client_bus(stack.url, "bench-voice",
                                                    namespace=stack.namespace), announce=False)
        beats = Beats(watcher)
        await watcher.start()
        asked_from = beats.now()
        intent: list[dict[str, Any]] = []
        llm: list[dict[str, Any]] = []
        site = f"bench{os.getpid()}"  # one satellite asks everything, as a room's device would
        for _ in range(rounds):
            for q in INTENT_QUESTIONS:
                intent.append(await converse_once(stack.url, audio[q], namespace=stack.namespace,
                                                  site=site))
            for q in LLM_QUESTIONS:
                llm.append(await converse_once(stack.url, audio[q], namespace=stack.namespace,
                                               site=site))
        asked_until = beats.now()
        for _ in range(30):  # heartbeats come every heartbeat_s (10 s by default)
            if beats.heard_after(asked_until, STACK):
                break
            await asyncio.sleep(0.5)
        await watcher.stop()
        rss = beats.rss_mb()
        ready = round(stack.ready_s, 2) if stack.ready_s is not None else None
        return {
            "bench": "voice",
            "intent": summary(intent), "llm": summary(llm),
            "final_p50_ms": _p50(finals([*intent, *llm])),
            "rss_mb": rss, "rss_total_mb": round(sum(rss.values()), 1),
            "loop_lag": beats.loop_lag(asked_from),
            "ready_s": ready,
            "started_for_the_run": stack.started_workers,
            "goal": GOALS,
            "met": verdict(intent, llm, round(sum(rss.values()), 1), ready),
        }


def run(url: str | None = None, rounds: int = 1, cpus: int | None = None) -> dict[str, Any]:
    allowed = confine(cpus)
    result = asyncio.run(_run(url, rounds))
    result["cpus"] = allowed or sorted(os.sched_getaffinity(0))
    return result
