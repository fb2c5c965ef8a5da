"""openWakeWord detection on generated speech (real built-in models)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from tars_wake import (
    AudioFormatError,
    WakeDetection,
    WakeDetector,
    WakeModelError,
    WakeNotLoadedError,
    WakeSettings,
    builtin_models,
)

pytestmark = pytest.mark.models
SR = 16_000
Speech = np.ndarray  # type: ignore[type-arg]

ORDINARY = [
    "Turn on the lights in the kitchen.",
    "What is the weather like tomorrow morning?",
    "Set a timer for ten minutes.",
    "Play some relaxing music in the living room.",
    "Remind me to call my mother at six.",
    "How far is the moon from the earth?",
    "Add milk and bread to the shopping list.",
    "Please close the garage door.",
    "Hey, are you there? I need some help with dinner.",
    "My friend Marvin parked the car in the garage.",
]


@pytest.fixture(scope="module")
def detector() -> WakeDetector:
    d = WakeDetector(WakeSettings(models=("hey_jarvis", "alexa")))
    d.load()
    return d


def _run(d: WakeDetector, audio: Speech, frame: int) -> list[WakeDetection]:
    d.reset()
    found: list[WakeDetection] = []
    for off in range(0, audio.size, frame):
        found += d.process(audio[off : off + frame])
    return found


@pytest.mark.parametrize("voice", ["piper", "espeak"])
@pytest.mark.parametrize("frame", [480, 1280, 333])
def test_hey_jarvis_is_detected_once_at_the_right_time(
    voice: str, frame: int, detector: WakeDetector, say: Callable[[str, str], Speech]
) -> None:
    audio = say(voice, "Hey Jarvis, what time is it?")
    start = detector.clock_s
    hits = _run(detector, audio, frame)
    assert [h.model for h in hits] == ["hey_jarvis"]
    hit = hits[0]
    assert hit.score >= 0.5
    # heard after the phrase began (0.5 s of lead silence) and before the sentence ended
    assert start + 0.5 < hit.at_s < start + audio.size / SR


def test_ordinary_sentences_do_not_wake(
    detector: WakeDetector, say: Callable[[str, str], Speech]
) -> None:
    for voice in ("piper", "espeak"):
        audio = np.concatenate([say(voice, s) for s in ORDINARY])
        assert _run(detector, audio, 512) == [], voice


def test_refractory_period_and_threshold(say: Callable[[str, str], Speech]) -> None:
    twice = np.concatenate([say("piper", "Hey Jarvis.")] * 2)
    quick = WakeDetector(WakeSettings(refractory_s=0.0))
    quick.load()
    hits = _run(quick, twice, 1280)
    assert len(hits) >= 2
    slow = WakeDetector(WakeSettings(refractory_s=30.0))
    slow.load()
    assert len(_run(slow, twice, 1280)) == 1
    assert hits[-1].at_s - hits[0].at_s > 1.0


async def test_detections_from_an_async_source(say: Callable[[str, str], Speech]) -> None:
    audio = say("piper", "Hey Jarvis, turn on the radio.")

    class Frames:
        sample_rate = SR

        async def frames(self) -> AsyncIterator[Speech]:
            for off in range(0, audio.size, 480):
                yield audio[off : off + 480]
                await asyncio.sleep(0)

        async def close(self) -> None:
            return None

    d = WakeDetector(origin_s=1000.0)
    d.load()
    hits = [h async for h in d.detections(Frames())]
    assert [h.model for h in hits] == ["hey_jarvis"] and hits[0].at_s > 1000.5


def test_errors_are_clear() -> None:
    assert "hey_jarvis" in builtin_models() and "okay_nabu" in builtin_models()
    with pytest.raises(WakeNotLoadedError):
        WakeDetector().process(np.zeros(1280, dtype=np.int16))
    with pytest.raises(WakeModelError, match="unknown wake model 'hey_tars'"):
        WakeDetector(WakeSettings(models=("hey_tars",))).load()
    d = WakeDetector()
    d.load()
    with pytest.raises(AudioFormatError):
        d.process(np.zeros(1280, dtype=np.float32))
    with pytest.raises(AudioFormatError):
        d.process(np.zeros((640, 2), dtype=np.int16))
