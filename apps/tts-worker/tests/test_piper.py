"""The real piper voice: speech that transcribes back, stop latency, staleness, cache, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tars.testing.speech import words
from tars_tts import (
    CachingSynthesizer,
    PhraseCache,
    PiperSynthesizer,
    SayRequest,
    SpeakingEnded,
    SpeakingStarted,
    SpeechEvent,
    SpeechQueue,
    VoiceConfigError,
    VoiceNotFoundError,
    VoiceSettings,
    WavFileSink,
)
from tars_tts.bench import measure as run_bench

pytestmark = pytest.mark.models


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(len(ref), 1)


class Recorder:
    def __init__(self) -> None:
        self.events: list[SpeechEvent] = []
        self.started = asyncio.Event()

    async def __call__(self, event: SpeechEvent) -> None:
        self.events.append(event)
        if isinstance(event, SpeakingStarted):
            self.started.set()

    def of(self, kind: type[SpeechEvent]) -> list[SpeechEvent]:
        return [e for e in self.events if isinstance(e, kind)]


async def test_reply_audio_transcribes_back_to_the_text(
    piper_voice: PiperSynthesizer, transcribe: Callable[[Path], str], tmp_path: Path
) -> None:
    reply = (
        "**Sure!** The weather in Paris is sunny today, with a light breeze. "
        "Take a look at https://www.weather.com for the full forecast 🌞."
    )
    sink, rec = WavFileSink(tmp_path), Recorder()
    async with SpeechQueue(CachingSynthesizer(piper_voice), sink, on_event=rec) as q:
        await q.say(SayRequest(reply, "corr-42"))
        await q.wait_idle()
    assert len(sink.paths) == 1 and "corr-42" in sink.paths[0].name
    heard = transcribe(sink.paths[0])
    expected = ("Sure! The weather in Paris is sunny today, with a light breeze. "
                "Take a look at weather dot com for the full forecast.")
    assert word_error_rate(expected, heard) <= 0.2, heard
    assert {"paris", "sunny", "forecast"} <= set(words(heard))
    assert "http" not in heard.lower()


async def test_stop_during_a_long_reply_ends_within_100_ms(piper_voice: PiperSynthesizer,
                                                            tmp_path: Path) -> None:
    long_reply = " ".join(
        f"This is sentence number {n} of a long answer that nobody wants to hear." for n in range(12)
    )
    sink, rec = WavFileSink(tmp_path, pace=1.0), Recorder()
    async with SpeechQueue(piper_voice, sink, on_event=rec) as q:
        await q.say(SayRequest(long_reply, "long"))
        await asyncio.wait_for(rec.started.wait(), 10)
        await asyncio.sleep(0.8)
        t0 = time.monotonic()
        await q.stop("long")
        stopped_after = time.monotonic() - t0
        written = sink.samples_written
        await asyncio.sleep(0.4)
        assert sink.samples_written == written
    assert stopped_after < 0.1
    ended = rec.of(SpeakingEnded)
    assert len(ended) == 1 and isinstance(ended[0], SpeakingEnded) and ended[0].reason == "stopped"
    played_s = written / 22050
    assert 0.6 < played_s < 1.2  # about the 0.8 s that played, not the ~40 s reply
    assert sink.paths[0].stat().st_size == 44 + written * 2  # the file holds exactly that


async def test_stale_request_is_not_spoken(piper_voice: PiperSynthesizer, tmp_path: Path) -> None:
    sink, rec = WavFileSink(tmp_path, pace=1.0), Recorder()
    async with SpeechQueue(piper_voice, sink, on_event=rec) as q:
        await q.say(SayRequest("Old news.", "stale", expires_at=time.time() - 0.5))
        await q.say(SayRequest("The first answer is being spoken right now.", "now"))
        await q.say(SayRequest("I am late.", "late", expires_at=time.time() + 0.5))
        await q.wait_idle()
        await asyncio.sleep(0.05)
    assert [p.name.split("-", 1)[1] for p in sink.paths] == ["now.wav"]
    reasons = {e.correlation_id: e.reason for e in rec.of(SpeakingEnded)
               if isinstance(e, SpeakingEnded)}
    assert reasons == {"stale": "expired", "now": "done", "late": "expired"}


def test_phrase_cache_hit_is_instant_and_identical(piper_voice: PiperSynthesizer) -> None:
    cached = CachingSynthesizer(piper_voice, PhraseCache(max_entries=8, max_phrase_chars=60))
    phrase = "Sorry, I did not catch that."
    t0 = time.perf_counter()
    first = list(cached.stream(phrase))
    miss_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    second = list(cached.stream(phrase))
    hit_s = time.perf_counter() - t1
    assert cached.cache.stats.hits == 1 and cached.cache.stats.misses == 1
    assert np.array_equal(first[0].samples, second[0].samples) and first[0].samples.size > 22050
    assert hit_s < miss_s / 20
    long_text = "This sentence is far too long to be kept in a phrase cache of sixty characters."
    list(cached.stream(long_text))
    assert len(cached.cache) == 1  # long sentences are not cached


def test_unknown_voice_and_bad_settings_name_the_setting(tmp_path: Path,
                                                         piper_voice: PiperSynthesizer) -> None:
    with pytest.raises(VoiceNotFoundError, match=r"tts\.voice\.model: unknown voice 'en_GB-nobody'"):
        PiperSynthesizer(VoiceSettings(model="en_GB-nobody")).load()
    with pytest.raises(VoiceNotFoundError, match=r"tts\.voice\.model: voice file .* does not exist"):
        PiperSynthesizer(VoiceSettings(model=str(tmp_path / "missing.onnx"))).load()
    lone = tmp_path / "lone.onnx"
    lone.write_bytes(b"not a model")
    with pytest.raises(VoiceNotFoundError, match=r"tts\.voice\.config_path: .*lone\.onnx\.json"):
        PiperSynthesizer(VoiceSettings(model=str(lone))).load()
    assert piper_voice._files is not None
    (tmp_path / "lone.onnx.json").write_text(piper_voice._files.config.read_text())
    with pytest.raises(VoiceConfigError, match=r"tts\.voice\.model: .*lone\.onnx"):
        PiperSynthesizer(VoiceSettings(model=str(lone))).load()
    with pytest.raises(VoiceConfigError, match=r"tts\.voice\.speaker: speaker id 3 out of range"):
        PiperSynthesizer(VoiceSettings(speaker=3)).load()
    with pytest.raises(VoiceConfigError, match=r"tts\.voice\.speaker: unknown speaker 'amy'"):
        PiperSynthesizer(VoiceSettings(speaker="amy")).load()


def test_a_voice_named_by_path_streams_chunks(piper_voice: PiperSynthesizer) -> None:
    assert piper_voice._files is not None
    by_path = PiperSynthesizer(VoiceSettings(model=str(piper_voice._files.model), length_scale=1.3))
    by_path.load()
    chunks = list(by_path.stream("One. Two three."))
    assert len(chunks) == 2 and all(c.sample_rate == 22050 for c in chunks)
    normal = sum(c.samples.size for c in piper_voice.stream("One. Two three."))
    slow = sum(c.samples.size for c in chunks)
    assert slow > normal * 1.1  # length_scale 1.3 speaks slower


async def test_benchmark_numbers(piper_voice: PiperSynthesizer) -> None:
    result = await run_bench(piper_voice)
    print(f"\ntts bench: {result}")
    assert result.replies == 10 and result.audio_s > 15
    assert 0 < result.rtf < 1 and result.first_audio_p50_ms > 0
    assert result.cache_hit_ms < result.cache_miss_ms
