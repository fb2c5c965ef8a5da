"""``tars bench tts``: first-audio latency and real-time factor of the speech queue on the piper voice."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tars_tts.cache import CachingSynthesizer, PhraseCache
from tars_tts.config import VoiceSettings
from tars_tts.events import SayRequest, SpeakingEnded, SpeakingStarted, SpeechEvent
from tars_tts.player import SpeechQueue
from tars_tts.sinks import CallbackSink
from tars_tts.synth import PiperSynthesizer, Synthesizer

SENTENCES = [
    "The kitchen lights are now off.",
    "It is twenty one degrees and sunny in Paris.",
    "Your timer for ten minutes has started.",
    "I added milk and eggs to the shopping list.",
    "The next train to Boston leaves at half past four.",
    "Tomorrow will be cloudy with a chance of rain.",
    "I could not find a song called blue river.",
    "The living room window is still open.",
    "Your meeting with Anna starts in fifteen minutes.",
    "The washing machine finished a minute ago.",
]
ACK = "Okay."


@dataclass(frozen=True)
class BenchResult:
    replies: int
    first_audio_p50_ms: float
    first_audio_p90_ms: float
    first_audio_max_ms: float
    rtf: float
    cpu_rtf: float
    audio_s: float
    synth_s: float
    cache_miss_ms: float
    cache_hit_ms: float


async def _discard(reply_id: str, samples: npt.NDArray[np.int16], rate: int) -> None:
    return None


async def measure_replies(synth: Synthesizer, sentences: list[str]) -> list[SpeakingEnded | SpeakingStarted]:
    """Speak each sentence as its own reply (one after another, the way a user hears them)."""
    events: list[SpeakingEnded | SpeakingStarted] = []

    async def record(event: SpeechEvent) -> None:
        if isinstance(event, SpeakingStarted | SpeakingEnded):
            events.append(event)

    sink = CallbackSink(_discard, pace=0.0)
    async with SpeechQueue(synth, sink, on_event=record) as queue:
        for i, text in enumerate(sentences):
            await queue.say(SayRequest(text, f"bench-{i}"))
            await queue.wait_idle()
        await asyncio.sleep(0.05)
    return events


def measure_cache(synth: Synthesizer, phrase: str = ACK) -> tuple[float, float]:
    """(miss ms, hit ms) for one short phrase through a fresh phrase cache."""
    cached = CachingSynthesizer(synth, PhraseCache())
    t0 = time.perf_counter()
    list(cached.stream(phrase))
    t1 = time.perf_counter()
    list(cached.stream(phrase))
    t2 = time.perf_counter()
    return (t1 - t0) * 1000, (t2 - t1) * 1000


async def measure(synth: Synthesizer, sentences: list[str] | None = None) -> BenchResult:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, synth.load)
    await measure_replies(synth, ["Warm up."])
    cpu0 = time.process_time()
    events = await measure_replies(synth, sentences or SENTENCES)
    cpu_s = time.process_time() - cpu0
    latencies = [e.latency_s * 1000 for e in events if isinstance(e, SpeakingStarted)]
    ended = [e for e in events if isinstance(e, SpeakingEnded)]
    audio_s = sum(e.audio_s for e in ended)
    synth_s = sum(e.synth_s for e in ended)
    miss_ms, hit_ms = await loop.run_in_executor(None, measure_cache, synth)
    return BenchResult(
        replies=len(ended),
        first_audio_p50_ms=round(statistics.median(latencies), 1),
        first_audio_p90_ms=round(_pct(latencies, 0.9), 1),
        first_audio_max_ms=round(max(latencies), 1),
        rtf=round(synth_s / audio_s, 4) if audio_s else float("nan"),
        cpu_rtf=round(cpu_s / audio_s, 4) if audio_s else float("nan"),
        audio_s=round(audio_s, 2),
        synth_s=round(synth_s, 3),
        cache_miss_ms=round(miss_ms, 1),
        cache_hit_ms=round(hit_ms, 3),
    )


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


_SUBJECTS = ["The kitchen light", "Your ten minute timer", "The front door", "The living room heater",
             "Tomorrow's weather", "Your next meeting", "The washing machine", "The garden sprinkler"]
_PREDICATES = ["is now switched off", "will end in about four minutes", "was locked at nine fifteen",
               "is set to twenty one degrees", "looks cloudy with light rain after lunch",
               "starts at half past three with Anna", "finished its cycle a minute ago",
               "will run again on Saturday morning"]
_TAILS = ["", " Anything else?", " I will remind you later.", " That is all for now."]


def generated_sentences(n: int, seed: int = 7) -> list[str]:
    """``n`` assistant-style replies built from templates (seeded, so runs compare)."""
    rng = random.Random(seed)
    return [f"{rng.choice(_SUBJECTS)} {rng.choice(_PREDICATES)}.{rng.choice(_TAILS)}" for _ in range(n)]


GOAL_FIRST_AUDIO_P50_MS = 250.0
GOAL_RTF = 0.1


def run(n: int = 20, threads: int = 0, seed: int = 7, speaker: str = "auto",
        speaker_replies: int = 5, device: str = "") -> dict[str, Any]:
    """The ``tars bench tts`` entry point: ``n`` generated replies through the real speech queue
    and piper voice (in process), one after another; then ``speaker_replies`` through the
    speaker sink, timed to the first sample at the DAC. ``speaker``: "auto" (this machine's
    output, else the virtual sound card), "device", "virtual" or "off". Prints goals next to
    the measurements."""
    from tars_tts.bench_speaker import measure_speaker, speaker_environment

    synth = PiperSynthesizer(VoiceSettings(threads=int(threads)))
    result = asyncio.run(measure(synth, generated_sentences(int(n), int(seed))))
    extra: dict[str, Any] = {"speaker_sink": None}
    with speaker_environment(str(speaker)) as (where, card):
        if where is not None and int(speaker_replies) > 0:
            sentences = generated_sentences(int(speaker_replies), int(seed) + 1)
            extra = {"speaker_sink": where,
                     **asyncio.run(measure_speaker(synth, sentences, str(device) or None, card))}
    return {
        "bench": "tts",
        **asdict(result),
        **extra,
        "threads": int(threads),
        "goal_first_audio_p50_ms": GOAL_FIRST_AUDIO_P50_MS,
        "goal_rtf": GOAL_RTF,
        "goal_met": result.first_audio_p50_ms <= GOAL_FIRST_AUDIO_P50_MS and result.rtf <= GOAL_RTF,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the tars tts engine (piper voice).")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the sentence set")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: auto)")
    args = parser.parse_args()
    synth = PiperSynthesizer(VoiceSettings(threads=args.threads))
    result = asyncio.run(measure(synth, SENTENCES * max(1, args.rounds)))
    print(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
