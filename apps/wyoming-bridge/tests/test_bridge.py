"""The bridge as Home Assistant sees it: the wyoming client library against the running bridge,
with real stt, tts and wake workers on a real broker."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop
from wyoming.wake import Detect

from tars.testing import speech
from tars_wyoming.testing import Bridge, client, overlap, pcm_of, read_until, stream, transcribe

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.models]
_speech: dict[str, np.ndarray] = {}  # type: ignore[type-arg]


def say(text: str, rate: int = 16_000) -> np.ndarray:  # type: ignore[type-arg]
    key = f"{rate}:{text}"
    if key not in _speech:
        _speech[key] = speech.with_silence(speech.piper(text, rate=rate), before_s=0.4,
                                           after_s=0.8, rate=rate)
    return _speech[key]


async def describe(uri: str) -> Info:
    async with client(uri) as c:
        await c.write_event(Describe().event())
        events = await read_until(c, "info", timeout_s=10)
    return Info.from_event(events[-1])


async def test_describe_names_models_languages_and_version(bridge: Bridge) -> None:
    asr = (await describe(bridge.uri("asr"))).asr[0]
    assert asr.installed and asr.supports_transcript_streaming and asr.version
    assert asr.models[0].languages == ["en"] and "tiny" in asr.models[0].name.lower()
    tts = (await describe(bridge.uri("tts"))).tts[0]
    assert tts.installed and tts.supports_synthesize_streaming
    assert tts.voices[0].name == "en_US-joe-medium" and tts.voices[0].languages == ["en"]
    wake = (await describe(bridge.uri("wake"))).wake[0]
    assert [m.name for m in wake.models] == ["hey_jarvis"] and wake.models[0].phrase == "hey jarvis"
    sat = await describe(bridge.uri("pipeline"))
    assert sat.satellite is not None and sat.asr and sat.tts and sat.wake


async def test_spoken_wav_is_transcribed(bridge: Bridge) -> None:
    text = "Please turn on the lights in the kitchen."
    events = await transcribe(bridge.uri("asr"), say(text, rate=22_050), rate=22_050)
    types = [e.type for e in events]
    assert types[0] == "transcript-start" and "transcript-chunk" in types
    assert types[-2:] == ["transcript-stop", "transcript"]
    result = Transcript.from_event(events[-1])
    assert overlap(text, result.text) >= 0.85, result.text
    assert result.language == "en"
    chunks = " ".join(e.data["text"] for e in events if e.type == "transcript-chunk")
    assert chunks == result.text


async def test_silence_gives_an_empty_transcript(bridge: Bridge) -> None:
    events = await transcribe(bridge.uri("asr"), np.zeros(16_000, dtype=np.int16))
    assert Transcript.from_event(events[-1]).text == ""


async def test_synthesized_text_is_heard_back(bridge: Bridge) -> None:
    text = "The garden gate is open and the dog is outside."
    async with client(bridge.uri("tts")) as c:
        await c.write_event(Synthesize(text=text).event())
        events = await read_until(c, "audio-stop")
    assert events[0].type == "audio-start"
    audio, rate = pcm_of(events)
    assert rate == 16_000 and audio.size / rate > 1.5
    heard = await transcribe(bridge.uri("asr"), speech.with_silence(audio))
    assert overlap(text, Transcript.from_event(heard[-1]).text) >= 0.8


async def test_streamed_synthesis_speaks_every_chunk(bridge: Bridge) -> None:
    text = "Good morning. The coffee is ready in the kitchen."
    async with client(bridge.uri("tts")) as c:
        await c.write_event(SynthesizeStart().event())
        for word in text.split(" "):
            await c.write_event(SynthesizeChunk(text=word + " ").event())
        await c.write_event(SynthesizeStop().event())
        await c.write_event(Synthesize(text=text).event())  # the copy for servers without streaming
        events = await read_until(c, "synthesize-stopped")
    types = [e.type for e in events]
    assert types.count("audio-start") == 1 and types[-2:] == ["audio-stop", "synthesize-stopped"]
    audio, _ = pcm_of(events)
    heard = await transcribe(bridge.uri("asr"), speech.with_silence(audio))
    assert overlap(text, Transcript.from_event(heard[-1]).text) >= 0.8


async def detect(bridge: Bridge, samples: np.ndarray) -> list[Event]:  # type: ignore[type-arg]
    async with client(bridge.uri("wake")) as c:
        await c.write_event(Detect(names=["hey_jarvis"]).event())
        await stream(c, samples, 16_000)
        return await read_until(c, "detection", "not-detected", timeout_s=30)


async def test_wake_word_detected_and_not_in_other_speech(bridge: Bridge) -> None:
    hit = await detect(bridge, say("Hey Jarvis, what is the weather like?"))
    assert hit[-1].type == "detection" and hit[-1].data["name"] == "hey_jarvis"
    assert 300 < hit[-1].data["timestamp"] < 2500
    miss = await detect(bridge, say("Please close the garage door before dinner."))
    assert miss[-1].type == "not-detected"


async def test_concurrent_clients_each_get_their_own_answer(bridge: Bridge) -> None:
    texts = ["What time does the bakery open tomorrow?", "Turn the heating up by two degrees.",
             "Remind me to call my sister tonight."]
    results = await asyncio.gather(*(transcribe(bridge.uri("asr"), say(t)) for t in texts))
    for text, events in zip(texts, results, strict=True):
        assert overlap(text, Transcript.from_event(events[-1]).text) >= 0.8, events[-1].data


async def test_client_that_leaves_mid_stream(bridge: Bridge) -> None:
    audio = say("This sentence is cut off halfway through because the client leaves.")
    async with client(bridge.uri("asr")) as c:
        await c.write_event(Transcribe().event())
        await stream(c, audio[: audio.size // 2], 16_000, stop=False)
    async with client(bridge.uri("tts")) as c:
        await c.write_event(Synthesize(text="A long reply that nobody will hear to the end. "
                                            "It goes on and on for a while.").event())
        first = await read_until(c, "audio-chunk")
        assert AudioChunk.is_type(first[-1].type)
    text = "The bridge keeps serving."
    events = await transcribe(bridge.uri("asr"), say(text))
    assert overlap(text, Transcript.from_event(events[-1]).text) >= 0.75
