"""The stt service on the InMemoryBus: finals, correlation ids, bad frames, mute, duplex."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import numpy as np
import pytest

from tars.audio import SAMPLE_RATE
from tars.clients.stt import FinalCollector, stream_audio
from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.errors import ErrorEvent
from tars.contracts.stt import SttControl, SttPartial, SttState
from tars.contracts.tts import TtsStatus
from tars.runtime import InMemoryBroker, InMemoryBus, Service, load_settings
from tars.testing.bus_contract import Collector
from tars.testing.peers import announce
from tars_stt import Transcription
from tars_stt.service import SttWorker, setup
from tars_stt.settings import Settings

Speech = np.ndarray  # type: ignore[type-arg]


class ScriptedTranscriber:
    """A Transcriber seam stand-in: answers each call with the next scripted text."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = list(texts)
        self.calls: list[int] = []

    @property
    def loaded(self) -> bool:
        return True

    def load(self) -> None:
        return None

    def transcribe(self, samples: Any) -> Transcription:
        self.calls.append(int(samples.size))
        text = self.texts.pop(0) if self.texts else "more words here"
        return Transcription(text, "en", 0.9, samples.size / SAMPLE_RATE, 0.01)

    def describe(self) -> dict[str, Any]:
        return {"engine": "scripted", "model": "none"}


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Service, SttWorker, ScriptedTranscriber, FinalCollector]]:
    broker = InMemoryBroker()
    worker_svc = Service("stt", InMemoryBus(broker), heartbeat_s=3600)
    script = ScriptedTranscriber(["Turn on the lights.", "Second one please."])
    settings = load_settings(Settings, audio_source="mqtt", endpointer={"partial_interval_s": 0.0})
    worker = await setup(settings, worker_svc, transcriber=script)
    client = Service("client", InMemoryBus(broker), heartbeat_s=3600)
    finals = FinalCollector()
    client.handle(T.STT_FINAL, finals)
    await worker_svc.start()
    await client.start()
    yield client, worker, script, finals
    await client.stop()
    await worker_svc.stop()


@pytest.fixture(scope="module")
def utterance() -> Speech:
    from tars.testing import speech

    return speech.espeak("Turn on the lights in the kitchen please.")


async def test_each_utterance_gets_a_final_with_its_own_correlation_and_timing(
    rig: tuple[Service, SttWorker, ScriptedTranscriber, FinalCollector], utterance: Speech
) -> None:
    client, _worker, _script, finals = rig
    lead = np.zeros(SAMPLE_RATE, dtype=np.int16)  # speech starts at 1.0 s on the audio clock
    audio = np.concatenate([lead, utterance, np.zeros(SAMPLE_RATE, dtype=np.int16), utterance])
    await stream_audio(client, "den", audio, speed=0, start_s=10.0)
    heard = await finals.wait(2, timeout_s=10)
    first, second = heard
    assert [h.final.text for h in heard] == ["Turn on the lights.", "Second one please."]
    assert first.correlation_id != second.correlation_id
    speech_s = utterance.size / SAMPLE_RATE
    assert abs(first.final.speech_start_s - 11.0) < 0.2
    assert abs(first.final.speech_end_s - (11.0 + speech_s)) < 0.35
    assert first.final.speech_start_s < first.final.speech_end_s < second.final.speech_start_s
    assert first.final.speech_end_ts > 0 and first.latency_ms >= 0
    assert first.final.audio_s > speech_s * 0.8 and first.final.confidence == 0.9


async def test_wrong_rate_and_garbage_are_reported_and_the_worker_keeps_serving(
    rig: tuple[Service, SttWorker, ScriptedTranscriber, FinalCollector], utterance: Speech
) -> None:
    client, _worker, _script, finals = rig
    errors = Collector()
    await client.bus.subscribe(T.SYSTEM_ERROR.filter, errors)
    await client.publish(T.AUDIO_MIC, AudioFrame(sample_rate=44100), pcm=b"\x01\x00" * 441,
                         params={"site": "den"})
    await client.bus.publish(T.AUDIO_MIC.topic(site="den"), b"\x00garbage")
    got = await errors.wait_for(2)
    events = [decode(m.payload).payload(ErrorEvent) for m in got]
    assert {e.kind for e in events} == {"validation", "decode"}
    assert any("44100 Hz" in e.reason for e in events)
    await stream_audio(client, "den", utterance, speed=0)
    assert (await finals.wait(1, timeout_s=10))[0].final.text == "Turn on the lights."


async def test_mute_publishes_retained_state_and_drops_audio(
    rig: tuple[Service, SttWorker, ScriptedTranscriber, FinalCollector], utterance: Speech
) -> None:
    client, worker, script, finals = rig
    states = Collector()
    await client.bus.subscribe(T.STT_STATE.filter, states)
    await client.publish(T.STT_CONTROL, SttControl(action="mute"), site_id="den")
    await states.wait_for(1)
    assert decode(states.messages[-1].payload).payload(SttState).muted
    await stream_audio(client, "den", utterance, speed=0)
    await asyncio.sleep(0.2)
    assert finals.heard == [] and script.calls == []
    await client.publish(T.STT_CONTROL, SttControl(action="unmute"), site_id="den")
    await states.wait_for(2)
    assert not decode(states.messages[-1].payload).payload(SttState).muted
    await stream_audio(client, "den", utterance, speed=0, start_s=30.0)
    assert len(await finals.wait(1, timeout_s=10)) == 1
    assert worker.published_finals == 1


async def test_half_duplex_drops_audio_while_tts_speaks_and_echo_is_filtered(
    rig: tuple[Service, SttWorker, ScriptedTranscriber, FinalCollector],
    utterance: Speech,
) -> None:
    client, worker, script, finals = rig
    await client.publish(T.TTS_STATUS, TtsStatus(event="started", text="Turn on the lights."),
                         site_id="den")
    await asyncio.sleep(0.05)
    await stream_audio(client, "den", utterance, speed=0)
    await asyncio.sleep(0.2)
    assert script.calls == []  # dropped while speaking
    await client.publish(T.TTS_STATUS, TtsStatus(event="ended", text="Turn on the lights."),
                         site_id="den")
    await asyncio.sleep(0.4)  # past the duplex tail
    await stream_audio(client, "den", utterance, speed=0, start_s=20.0)
    for _ in range(100):
        if worker.dropped_finals:
            break
        await asyncio.sleep(0.05)
    assert worker.dropped_finals == 1 and finals.heard == []  # echo of what TTS just said
    await stream_audio(client, "den", utterance, speed=0, start_s=40.0)
    assert [h.final.text for h in await finals.wait(1)] == ["Second one please."]


async def test_partials_carry_the_utterance_correlation_id(utterance: Speech) -> None:
    broker = InMemoryBroker()
    worker_svc = Service("stt", InMemoryBus(broker), heartbeat_s=3600)
    script = ScriptedTranscriber(["partial words", "final words"])
    settings = load_settings(Settings, audio_source="mqtt", endpointer={"partial_interval_s": 0.5})
    await setup(settings, worker_svc, transcriber=script)
    client = Service("client", InMemoryBus(broker), heartbeat_s=3600)
    finals = FinalCollector()
    partials = Collector()
    client.handle(T.STT_FINAL, finals)
    await worker_svc.start()
    await client.start()
    await client.bus.subscribe(T.STT_PARTIAL.filter, partials)
    await stream_audio(client, "den", utterance, speed=2.0)
    heard = await finals.wait(1, timeout_s=10)
    await partials.wait_for(1)
    assert decode(partials.messages[0].payload).correlation_id == heard[0].correlation_id
    await client.stop()
    await worker_svc.stop()


def test_settings_reject_a_bad_source() -> None:
    from tars.runtime import ConfigError

    with pytest.raises(ConfigError, match="audio_source"):
        load_settings(Settings, audio_source="speaker")



async def _speculate_then_end(utterance: Speech, said: str) -> float:
    """Stream ``utterance`` (real time) to a worker whose Whisper hears ``said``; check the
    speculative partial and the final that reuses it; return the final's audio length."""
    broker = InMemoryBroker()
    worker_svc = Service("stt", InMemoryBus(broker), heartbeat_s=3600)
    script = ScriptedTranscriber([said])
    settings = load_settings(Settings, audio_source="mqtt", endpointer={"partial_interval_s": 0.0},
                             endpoint="transcript")
    worker = await setup(settings, worker_svc, transcriber=script)
    client = Service("client", InMemoryBus(broker), heartbeat_s=3600)
    finals, partials = FinalCollector(), Collector()
    client.handle(T.STT_FINAL, finals)
    await worker_svc.start()
    await client.start()
    await client.bus.subscribe(T.STT_PARTIAL.filter, partials)
    try:
        await stream_audio(client, "den", utterance, speed=1.0, trailing_s=1.5)
        heard = await finals.wait(1, timeout_s=10)
        spec = [decode(m.payload) for m in partials.messages]
        assert spec and all(e.payload(SttPartial).speculative for e in spec)
        assert spec[-1].correlation_id == heard[0].correlation_id
        assert heard[0].final.text == said
        # the final reused a speculative transcript: no Whisper call of its own
        assert len(script.calls) == worker.transcripts.speculated >= len(spec)
        return heard[0].final.audio_s
    finally:
        await client.stop()
        await worker_svc.stop()


async def test_speculative_transcript_is_published_and_ends_the_utterance_by_how_it_ends(
    utterance: Speech,
) -> None:
    """The same speech, heard three ways: a finished sentence ends after complete_silence_s,
    one Whisper left unpunctuated after plausible_silence_s, a trailing one after
    max_end_silence_s (the difference in audio each final carries is the difference in
    silence waited for)."""
    s = Settings()
    complete = await _speculate_then_end(utterance, "Turn on the lights in the kitchen please.")
    plausible = await _speculate_then_end(utterance, "turn on the lights in the kitchen please")
    unfinished = await _speculate_then_end(utterance, "Turn on the lights in the")
    print(f"audio: {complete:.2f} / {plausible:.2f} / {unfinished:.2f} s")
    assert abs((plausible - complete) - (s.plausible_silence_s - s.complete_silence_s)) < 0.15
    assert abs((unfinished - complete) - (s.max_end_silence_s - s.complete_silence_s)) < 0.15


async def test_a_site_whose_audio_clock_starts_again_dates_its_speech_by_the_new_clock(
    utterance: Speech,
) -> None:
    """A satellite (or `tars converse`) that starts a new session on the same site restarts its
    audio clock at 0: the speech it sends then is dated when it arrived, not by the old session."""
    broker = InMemoryBroker()
    worker_svc = Service("stt", InMemoryBus(broker), heartbeat_s=3600)
    settings = load_settings(Settings, audio_source="mqtt", endpointer={"partial_interval_s": 0.0})
    await setup(settings, worker_svc, transcriber=ScriptedTranscriber(["Turn the lights on."]))
    client = Service("client", InMemoryBus(broker), heartbeat_s=3600)
    finals = FinalCollector()
    client.handle(T.STT_FINAL, finals)
    await worker_svc.start()
    await client.start()
    try:
        await stream_audio(client, "den", utterance, speed=4.0, trailing_s=1.5)
        first = (await finals.wait(1, timeout_s=10))[0].final
        await asyncio.sleep(1.0)
        sent_again = time.time()
        await stream_audio(client, "den", utterance, speed=4.0, trailing_s=1.5)  # clock at 0 again
        second = (await finals.wait(2, timeout_s=10))[1].final
        assert second.speech_start_ts >= sent_again > first.final_ts
        assert sent_again <= second.speech_end_ts <= second.final_ts
    finally:
        await client.stop()
        await worker_svc.stop()


async def tts_says(client: Service, worker: SttWorker, state: Literal["online", "offline"],
                   instance: str) -> None:
    """Publish the tts worker's status; return once the stt worker has handled it."""
    await announce(client, worker.tts, "tts", state, instance)


async def test_the_tts_worker_going_away_or_restarting_ends_its_speaking(
    rig: tuple[Service, SttWorker, ScriptedTranscriber, FinalCollector],
) -> None:
    client, worker, _script, _finals = rig
    duplex = worker.engine.duplex

    async def speaking() -> None:
        await client.publish(T.TTS_STATUS, TtsStatus(event="started", text="Hello there."), site_id="den")
        for _ in range(200):
            if duplex.tts_speaking("den"):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("tts never started speaking")

    await tts_says(client, worker, "online", "tts-1")
    await speaking()
    await tts_says(client, worker, "online", "tts-1")  # announced again (a reconnect): still speaking
    assert duplex.tts_speaking("den")
    await tts_says(client, worker, "online", "tts-2")  # a new instance: the old one's reply is gone
    assert not duplex.tts_speaking("den")
    await speaking()
    await tts_says(client, worker, "offline", "tts-2")
    assert not duplex.tts_speaking("den")
