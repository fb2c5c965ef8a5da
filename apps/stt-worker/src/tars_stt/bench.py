"""``tars bench stt``: generated utterances through the stt worker's own service code path."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import numpy as np

from tars.audio import SAMPLE_RATE
from tars.contracts import topics as T
from tars.runtime import InMemoryBroker, InMemoryBus, Service, load_settings
from tars_stt.client import FinalCollector, stream_audio
from tars_stt.metrics import word_error_rate
from tars_stt.service import setup
from tars_stt.settings import Settings

UTTERANCES = (
    "Turn on the kitchen lights.",
    "What is the weather tomorrow?",
    "Set a timer for ten minutes.",
    "Play some music in the bedroom.",
    "Remind me to call my sister.",
    "How far away is the moon?",
    "Add milk to the shopping list.",
    "Please close the garage door.",
    "What time is it in Tokyo?",
    "Read me the latest news.",
)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _bench(n: int, speed: float, voice: str) -> dict[str, Any]:
    from tars.testing import speech

    texts = [UTTERANCES[i % len(UTTERANCES)] for i in range(n)]
    say = speech.piper if voice == "piper" else speech.espeak
    audio = [await asyncio.to_thread(say, t) for t in texts]
    settings = load_settings(Settings, audio_source="mqtt")
    broker = InMemoryBroker()
    worker_svc = Service("stt", InMemoryBus(broker), heartbeat_s=3600)
    loaded = time.perf_counter()
    await setup(settings, worker_svc)
    load_s = time.perf_counter() - loaded
    client = Service("bench", InMemoryBus(broker), heartbeat_s=3600)
    finals = FinalCollector()
    client.handle(T.STT_FINAL, finals)
    await worker_svc.start()
    await client.start()
    pairs: list[tuple[str, str]] = []
    try:
        for i, (text, samples) in enumerate(zip(texts, audio, strict=True)):
            lead = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.int16)
            await stream_audio(client, f"bench{i}", np.concatenate([lead, samples]),
                               speed=speed, trailing_s=1.0, final=False)
            got = await finals.wait(i + 1, timeout_s=30)
            pairs.append((text, got[i].final.text))
    finally:
        await client.stop()
        await worker_svc.stop()
    heard = finals.heard
    lat = [h.latency_ms for h in heard]
    tms = [h.final.transcribe_ms for h in heard]
    speech_s = [a.size / SAMPLE_RATE for a in audio]
    return {
        "bench": "stt",
        "utterances": len(heard),
        "voice": voice,
        "speech_s_mean": round(statistics.mean(speech_s), 2),
        "feed_speed": speed,
        "end_silence_s": settings.end_silence_s,
        "model_load_s": round(load_s, 2),
        "latency_p50_ms": round(_pct(lat, 0.5), 1),
        "latency_p95_ms": round(_pct(lat, 0.95), 1),
        "transcribe_p50_ms": round(_pct(tms, 0.5), 1),
        "rtf": round(sum(tms) / 1000 / sum(h.final.audio_s for h in heard), 3),
        "wer": round(word_error_rate(pairs), 4),
        "goal_latency_p50_ms": 500,
        "goal_met": _pct(lat, 0.5) <= 500,
    }


def run(n: int = 10, speed: float = 1.0, voice: str = "piper") -> dict[str, Any]:
    """Real-time feed (``speed`` 1) of ``n`` ~2 s utterances; latency = end of speech -> final."""
    return asyncio.run(_bench(int(n), float(speed), str(voice)))
