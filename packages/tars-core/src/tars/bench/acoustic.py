"""Acoustic voice benchmark: spoken questions through a virtual sound card, timed on the signals.

The whole stack (`tars up`) runs on a private PulseAudio mic and speaker. Each question is
played into the mic in real time; voice to voice is the time from the last voiced sample that
went into the mic to the first reply sample that came out of the speaker, both read from
continuous recordings of the two devices. Also measured: how soon a reply stops after
"hey jarvis" is said over it (``barge_in_stop_ms``, from the end of the wake word to the last
loud sample of the reply), the earcon after the wake word alone, and false triggers (turns or
wake events from talk that did not address the assistant).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from tars.audio.pcm import SAMPLE_RATE
from tars.bench.stats import pct
from tars.bench.voice import (
    GOALS,
    INTENT_QUESTIONS,
    LLM_QUESTIONS,
    confine,
    spoken_question,
    stage_summary,
)

BACKGROUND = ["I went hiking with my brother last weekend and it was lovely.",
              "Then on Saturday we watched a film about a dog.",
              "Could you pass me the salt, please?"]
LONG_REPLY = " ".join(f"This is sentence number {i} of a long answer about the sea." for i in range(10))


def _ms(values: list[float], q: float) -> float | None:
    return round(pct(values, q), 1) if values else None


def _turn(heard: Any) -> dict[str, Any]:
    res = heard.result
    stage_ms = ({k: round((v - heard.speech_end_ts) * 1000, 1) for k, v in res.stages.items()}
                if res is not None else {})
    return {"said": heard.said, "transcript": heard.transcript, "reply": heard.reply,
            "path": res.path if res else None, "voice_to_voice_ms": heard.voice_to_voice_ms,
            "stage_ms": stage_ms}


async def _barge_in(stack: Any) -> float | None:
    """Speak "hey jarvis" over a long reply; ms from the end of the wake word to silence."""
    from tars.contracts import topics as T
    from tars.contracts.tts import TtsSay, TtsStatus
    from tars.testing.acoustic import LOUD
    from tars.testing.speech import piper, with_silence

    watch = stack.watch
    cid = f"bench-long-{time.monotonic_ns()}"
    await watch.service.publish(T.TTS_SAY, TtsSay(text=LONG_REPLY), correlation_id=cid, site_id="hub")
    await watch.until(lambda: any(s.cid == cid and isinstance(s.payload, TtsStatus)
                                  and s.payload.event == "started" for s in watch.tts), 30)
    await asyncio.sleep(1.5)
    wake = piper("Hey Jarvis.")
    t0 = time.time()
    await stack.play(with_silence(wake, before_s=0.2, after_s=0.3))
    await watch.until(lambda: watch.tts_ended(cid), 10)
    await asyncio.sleep(1.0)
    start = stack.card.mic(t0).first_sound_ts(threshold=LOUD)
    silent = stack.card.speaker(t0).last_sound_ts(threshold=LOUD)
    if start is None or silent is None:
        return None
    return round(float(silent - (start + wake.size / SAMPLE_RATE)) * 1000, 1)


async def _false_triggers(stack: Any) -> dict[str, int]:
    from tars.testing.speech import piper, with_silence

    watch = stack.watch
    t0 = time.time()
    for text in BACKGROUND:
        await stack.play(with_silence(piper(text), before_s=0.2, after_s=0.5))
        await asyncio.sleep(1.0)
    await asyncio.sleep(4.0)
    return {"background_utterances": len(BACKGROUND),
            "turns": len(watch.since(watch.results, t0)),
            "wake_events": len(watch.since(watch.wakes, t0))}


async def _earcon(stack: Any) -> float | None:
    from tars.testing.acoustic import LOUD
    from tars.testing.speech import piper, with_silence

    _, end = await stack.play(with_silence(piper("Hey Jarvis."), before_s=0.2, after_s=0.1))
    await asyncio.sleep(9.0)  # the wake window runs out
    sound = stack.card.speaker(end)  # from the end of speech: the earcon may come before play returns
    onset = sound.first_sound_ts(threshold=LOUD)
    return None if onset is None else round(float(onset - end) * 1000, 1)


async def _run(rounds: int) -> dict[str, Any]:
    from tars.testing.acoustic import AcousticStack
    from tars.testing.soundcard import virtual_sound_card
    from tars.testing.speech import piper, with_silence

    audio = {q: with_silence(piper(spoken_question(q)), before_s=0.2, after_s=0.3)
             for q in [*INTENT_QUESTIONS, *LLM_QUESTIONS]}
    with tempfile.TemporaryDirectory(prefix="tars-bench-") as home, virtual_sound_card() as card:
        async with AcousticStack(card, Path(home)) as stack:
            await stack.quiet(2.0)
            beats = stack.watch.beats if stack.watch is not None else None
            asked_from = beats.now() if beats is not None else 0.0
            turns: dict[str, list[dict[str, Any]]] = {"intent": [], "llm": []}
            for _ in range(rounds):
                for path, questions in (("intent", INTENT_QUESTIONS), ("llm", LLM_QUESTIONS)):
                    for q in questions:
                        heard = await stack.ask(audio[q], q)
                        turns[path].append(_turn(heard))
                        await stack.quiet(0.5)
            await stack.quiet(7.0)  # a follow-up window the last reply may have opened runs out
            false = await _false_triggers(stack)
            earcon_ms = await _earcon(stack)
            # last: a barge-in's wake word opens a turn, and what is said next would be its question
            stop_ms = [v for v in [await _barge_in(stack) for _ in range(max(1, rounds))] if v is not None]
            ready_s = stack.ready_s
            lag = beats.loop_lag(asked_from) if beats is not None else None
            rss = beats.rss_mb() if beats is not None else {}

    def path_summary(items: list[dict[str, Any]]) -> dict[str, Any]:
        v2v = [t["voice_to_voice_ms"] for t in items if t["voice_to_voice_ms"] is not None]
        return {"n": len(items), "answered": len(v2v),
                "voice_to_voice_p50_ms": _ms(v2v, 50), "voice_to_voice_p95_ms": _ms(v2v, 95),
                "stages": stage_summary(items), "turns": items}

    return {
        "bench": "voice-acoustic",
        "intent": path_summary(turns["intent"]), "llm": path_summary(turns["llm"]),
        "barge_in_stop_ms": _ms(stop_ms, 50), "barge_in_stop_all_ms": stop_ms,
        "earcon_after_wake_ms": earcon_ms,
        "false_triggers": false,
        "ready_s": round(ready_s, 1),
        "rss_mb": rss, "rss_total_mb": round(sum(rss.values()), 1), "loop_lag": lag,
        "method": "voice to voice = first reply sample on the speaker minus the last voiced "
                  "sample played into the mic, both from continuous recordings of the devices",
        "goal": {**GOALS, "barge_in_stop_ms": 300, "earcon_ms": 150},
    }


def run(rounds: int = 1, cpus: int | None = None) -> dict[str, Any]:
    allowed = confine(cpus)
    result = asyncio.run(_run(rounds))
    result["cpus"] = allowed or "all"
    return result
