"""``tars bench stt``: generated utterances through the stt worker's own service code path."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import numpy as np

from tars.audio import SAMPLE_RATE
from tars.clients.stt import FinalCollector, stream_audio
from tars.contracts import topics as T
from tars.runtime import InMemoryBroker, InMemoryBus, Service, load_settings
from tars_stt.endpointer import EndpointerSettings
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


CUT = (
    ("Set a timer for", "ten minutes."),
    ("Remind me to", "call my sister."),
    ("Turn on the", "kitchen lights."),
    ("What is the weather in", "Paris?"),
)
"""Utterances with a pause inside an unfinished sentence: one final each is right."""
CUT_PAUSE_S = 0.6


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _bench(n: int, speed: float, voice: str, endpoint: str, pause_s: float,
                 cut: bool) -> dict[str, Any]:
    from tars.testing import speech

    texts = [UTTERANCES[i % len(UTTERANCES)] for i in range(n)]
    say = speech.piper if voice == "piper" else speech.espeak
    audio = [await asyncio.to_thread(say, t) for t in texts]
    gap = np.zeros(int(CUT_PAUSE_S * SAMPLE_RATE), dtype=np.int16)
    cut_audio = [np.concatenate([await asyncio.to_thread(say, a), gap,
                                 await asyncio.to_thread(say, b)]) for a, b in CUT] if cut else []
    settings = load_settings(Settings, audio_source="mqtt", endpoint=endpoint,
                             endpointer={"pause_s": pause_s})
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
        whole = await _cut_utterances(client, cut_audio, speed)
    finally:
        await client.stop()
        await worker_svc.stop()
    heard = [h for h in finals.heard if h.site.startswith("bench")]
    lat = [h.latency_ms for h in heard]
    endpoint_ms = [(h.final.endpoint_ts - h.final.speech_end_ts) * 1000 for h in heard]
    tms = [h.final.transcribe_ms for h in heard]
    speech_s = [a.size / SAMPLE_RATE for a in audio]
    return {
        "bench": "stt",
        "utterances": len(heard),
        "voice": voice,
        "speech_s_mean": round(statistics.mean(speech_s), 2),
        "feed_speed": speed,
        "endpoint": settings.endpoint,
        "pause_s": settings.endpointer.pause_s,
        "end_silence_s": settings.endpointing().end_silence_s,
        "endpoint_p50_ms": round(_pct(endpoint_ms, 0.5), 1),
        "model_load_s": round(load_s, 2),
        "latency_p50_ms": round(_pct(lat, 0.5), 1),
        "latency_p95_ms": round(_pct(lat, 0.95), 1),
        "transcribe_p50_ms": round(_pct(tms, 0.5), 1),
        "rtf": round(sum(tms) / 1000 / sum(h.final.audio_s for h in heard), 3),
        "wer": round(word_error_rate(pairs), 4),
        "cut_utterances": len(cut_audio),
        "cut_kept_whole": whole,
        "goal_latency_p50_ms": 300,
        "goal_met": _pct(lat, 0.5) <= 300,
    }


async def _cut_utterances(client: Service, cut_audio: list[Any], speed: float) -> int:
    """Stream unfinished-sentence-pause-rest utterances; count those heard as one final."""
    whole = 0
    for i, samples in enumerate(cut_audio):
        site = f"cut{i}"
        finals = FinalCollector(site)
        await client.bus.subscribe(T.STT_FINAL.filter, finals_sink(client, finals))
        await stream_audio(client, site, samples, speed=speed, trailing_s=1.5, final=False)
        heard = await finals.settle(idle_s=1.5, first_timeout_s=30)
        whole += len(heard) == 1
    return whole


def finals_sink(client: Service, finals: FinalCollector) -> Any:
    """A raw-bus handler feeding ``finals`` (handlers added after start are not subscribed)."""
    async def on_message(msg: Any) -> None:
        inbound = client.decode(T.STT_FINAL, msg)
        await finals(inbound)

    return on_message


def run(n: int = 10, speed: float = 1.0, voice: str = "piper", endpoint: str = "transcript",
        pause_s: float = EndpointerSettings().pause_s, cut: int = 1) -> dict[str, Any]:
    """Real-time feed (``speed`` 1) of ``n`` ~2 s utterances; latency = end of speech -> final.
    ``endpoint`` "silence" or "transcript"; ``cut`` also streams unfinished sentences with a
    pause inside and counts those kept as one utterance."""
    return asyncio.run(_bench(int(n), float(speed), str(voice), str(endpoint), float(pause_s),
                              bool(int(cut))))
