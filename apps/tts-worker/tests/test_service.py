"""The tts service on the InMemoryBus with a tone synthesizer: statuses, streams, errors, controls, audio out."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from tars.audio import read_wav
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.errors import ErrorEvent
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Service
from tars_tts.cache import CachingSynthesizer
from tars_tts.outputs import StreamResampler
from tars_tts.service import TtsWorker, build_worker
from tars_tts.settings import Settings
from tars_tts.sinks import WavFileSink
from tars_tts.synth import Synthesizer
from tars_tts.testing import MemorySink, ToneSynthesizer


@dataclass
class Client:
    service: Service
    statuses: dict[str, list[TtsStatus]] = field(default_factory=lambda: defaultdict(list))
    sites: dict[str, str | None] = field(default_factory=dict)
    frames: list[tuple[str, AudioFrame, bytes]] = field(default_factory=list)
    errors: list[ErrorEvent] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def on_status(self, msg: Inbound[TtsStatus]) -> None:
        self.statuses[msg.correlation_id].append(msg.payload)
        self.sites[msg.correlation_id] = msg.site_id
        self.changed.set()

    async def on_frame(self, msg: Inbound[AudioFrame]) -> None:
        self.frames.append((msg.topic, msg.payload, msg.pcm))

    async def on_error(self, msg: Inbound[ErrorEvent]) -> None:
        self.errors.append(msg.payload)

    async def say(self, text: str, cid: str, site: str = "hall", **kw: object) -> None:
        await self.service.publish(T.TTS_SAY, TtsSay(text=text, **kw), correlation_id=cid,  # type: ignore[arg-type]
                                   site_id=site)

    async def ended(self, cid: str, timeout: float = 5.0) -> TtsStatus:
        async with asyncio.timeout(timeout):
            while True:
                done = [s for s in self.statuses[cid] if s.event == "ended"]
                if done:
                    return done[0]
                self.changed.clear()
                await self.changed.wait()

    def events(self, cid: str) -> list[str]:
        return [s.event for s in self.statuses[cid]]


@dataclass
class Rig:
    worker: TtsWorker
    client: Client
    sink: MemorySink | WavFileSink


async def _rig(tmp_path: Path, sink: MemorySink | WavFileSink, synth: Synthesizer | None = None,
               **settings: object) -> AsyncIterator[Rig]:
    broker = InMemoryBroker()
    service = Service("tts", InMemoryBus(broker, client_id="tts-1"), site_id="hall")
    cfg = Settings(data_dir=tmp_path, sink=["wav"], **settings)  # type: ignore[arg-type]
    worker = await build_worker(cfg, service, synthesizer=synth or ToneSynthesizer(sample_rate=22_050),
                                local=[sink])
    client = Client(Service("client", InMemoryBus(broker, client_id="client-1")))
    client.service.handle(T.TTS_STATUS, client.on_status)
    client.service.handle(T.AUDIO_OUT, client.on_frame)
    client.service.handle(T.SYSTEM_ERROR, client.on_error)
    await service.start()
    await client.service.start()
    yield Rig(worker, client, sink)
    await client.service.stop()
    await service.stop()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for r in _rig(tmp_path, WavFileSink(tmp_path / "wav")):
        yield r


@pytest.fixture
async def paced(tmp_path: Path) -> AsyncIterator[Rig]:
    async for r in _rig(tmp_path, MemorySink(pace=1.0)):
        yield r


async def test_say_reports_started_sentences_and_ended_with_the_wav_path(rig: Rig) -> None:
    before = time.time()
    await rig.client.say("Hello there. This is two sentences.", "c1")
    ended = await rig.client.ended("c1")
    assert rig.client.events("c1") == ["started", "sentence_done", "sentence_done", "ended"]
    started, first, second = rig.client.statuses["c1"][:3]
    assert started.first_sample_ts is not None and started.first_sample_ts >= before
    assert (first.text, first.index, second.text, second.index) == (
        "Hello there.", 0, "This is two sentences.", 1)
    assert ended.reason == "done" and ended.audio_s > 0 and rig.client.sites["c1"] == "hall"
    assert ended.path is not None
    samples = await asyncio.to_thread(read_wav, ended.path, rate=22_050)
    assert abs(samples.size / 22_050 - ended.audio_s) < 0.01


async def test_a_prepared_say_is_synthesized_silently_and_its_say_plays_from_the_cache(
        tmp_path: Path) -> None:
    tone = ToneSynthesizer(sample_rate=22_050)
    async for rig in _rig(tmp_path, MemorySink(), CachingSynthesizer(tone)):
        warm_calls = len(tone.calls)  # the worker's warm-up
        await rig.client.say("It's 8:21 PM.", "c-prep", prepare=True)
        await asyncio.sleep(0.3)
        assert [c[0] for c in tone.calls[warm_calls:]] == ["It's 8:21 PM."]
        assert not rig.client.statuses["c-prep"] and not rig.sink.replies  # nothing said
        await rig.client.say("It's 8:21 PM.", "c-prep")
        assert (await rig.client.ended("c-prep")).reason == "done"
        assert len(tone.calls) == warm_calls + 1  # played from the cache
        await rig.client.say("It's 8:22 PM.", "c-next")  # what was not prepared is synthesized
        assert (await rig.client.ended("c-next")).reason == "done"
        assert [c[0] for c in tone.calls[warm_calls:]] == ["It's 8:21 PM.", "It's 8:22 PM."]


async def test_streamed_parts_make_one_reply_in_order(rig: Rig) -> None:
    parts = ["First part.", "Second part.", "Third part."]
    for i, text in enumerate(parts):
        await rig.client.say(text, "s1", stream=True, final=False, index=i)
    await rig.client.say("", "s1", stream=True, final=True, index=3)
    ended = await rig.client.ended("s1")
    spoken = [s.text for s in rig.client.statuses["s1"] if s.event == "sentence_done"]
    assert spoken == parts and ended.reason == "done"
    assert isinstance(rig.sink, WavFileSink) and len(rig.sink.paths) == 1


@pytest.mark.parametrize(("text", "voice", "needle"), [
    ("   ", None, "nothing to speak"),
    ("word " * 10_000, None, "too long"),
    ("Hello.", "en_GB-nobody-low", "unknown voice"),
])
async def test_bad_input_ends_with_an_error_and_the_worker_keeps_serving(
        rig: Rig, text: str, voice: str | None, needle: str) -> None:
    await rig.client.say(text, "bad", voice=voice)
    ended = await rig.client.ended("bad")
    assert ended.reason is not None and ended.reason.startswith("error: ") and needle in ended.reason
    await asyncio.sleep(0.05)
    assert any(e.kind == "validation" and needle in e.reason for e in rig.client.errors)
    await rig.client.say("Still here.", "good", voice="en_US-joe-medium")
    assert (await rig.client.ended("good")).reason == "done"


async def test_a_bad_part_ends_its_streamed_reply_with_the_error(paced: Rig) -> None:
    await paced.client.say("A first part that is fine.", "s2", stream=True, final=False)
    await paced.client.say("x" * 50_000, "s2", stream=True, final=False, index=1)
    ended = await paced.client.ended("s2")
    assert ended.reason is not None and "too long" in ended.reason
    assert paced.client.events("s2").count("ended") == 1


async def test_stop_pause_resume_and_volume(paced: Rig) -> None:
    await paced.client.say("A long reply. " * 10, "long")
    await paced.client.say("Queued after it.", "next")
    async with asyncio.timeout(5):
        while "started" not in paced.client.events("long"):
            paced.client.changed.clear()
            await paced.client.changed.wait()
    await paced.client.service.publish(T.TTS_CONTROL, TtsControl(action="pause"))
    ended_pause = await _status_named(paced.client, "long", "paused")
    assert ended_pause.event == "paused" and paced.worker.queue.paused
    await paced.client.service.publish(T.TTS_CONTROL, TtsControl(action="resume"))
    await _status_named(paced.client, "long", "resumed")
    await paced.client.service.publish(T.TTS_CONTROL, TtsControl(action="volume", volume=0.5))
    await paced.client.service.publish(T.TTS_CONTROL, TtsControl(action="volume", volume=9.0))
    t0 = time.monotonic()
    await paced.client.service.publish(T.TTS_CONTROL, TtsControl(action="stop", target="long"))
    ended = await paced.client.ended("long")
    assert ended.reason == "stopped" and time.monotonic() - t0 < 0.5
    assert paced.worker.queue.volume == 0.5
    assert any(e.kind == "validation" and "volume" in e.reason for e in paced.client.errors)
    assert (await paced.client.ended("next")).reason == "done"  # only the target stopped


async def _status_named(client: Client, cid: str, event: str) -> TtsStatus:
    async with asyncio.timeout(5):
        while True:
            hits = [s for s in client.statuses[cid] if s.event == event]
            if hits:
                return hits[0]
            client.changed.clear()
            await client.changed.wait()


async def test_audio_out_streams_frames_for_the_site_at_the_satellite_rate(rig: Rig) -> None:
    await rig.client.say("Only the asking site hears this.", "a1", site="porch", audio_out=True)
    ended = await rig.client.ended("a1")
    await asyncio.sleep(0.05)
    frames = [(t, f, p) for t, f, p in rig.client.frames]
    assert frames and all(t == T.AUDIO_OUT.topic(site="porch") for t, _, _ in frames)
    assert [f.seq for _, f, _ in frames] == list(range(len(frames)))
    assert frames[-1][1].final and not frames[-1][2]
    assert all(f.sample_rate == 16_000 and not f.final for _, f, _ in frames[:-1])
    total = sum(len(p) for _, _, p in frames) // 2
    assert abs(total / 16_000 - ended.audio_s) < 0.01
    rig.client.frames.clear()
    await rig.client.say("No audio out for this one.", "a2")
    await rig.client.ended("a2")
    assert rig.client.frames == []
    await rig.client.say("A satellite hears its own reply.", "a3", site="porch")
    await rig.client.ended("a3")
    assert rig.client.frames and all(t == T.AUDIO_OUT.topic(site="porch") for t, _, _ in rig.client.frames)


def test_stream_resampler_is_seamless_and_keeps_the_pitch() -> None:
    rate = 22_050
    t = np.arange(rate, dtype=np.float64) / rate
    tone = (np.sin(2 * np.pi * 440 * t) * 10_000).astype(np.int16)
    whole = StreamResampler(rate, 16_000).process(tone)
    blocked = StreamResampler(rate, 16_000)
    pieces = [blocked.process(tone[i:i + 882]) for i in range(0, tone.size, 882)]
    joined = np.concatenate(pieces)
    assert abs(joined.size - 16_000) <= 1
    assert np.max(np.abs(joined[: whole.size].astype(int) - whole[: joined.size].astype(int))) <= 1
    spectrum = np.abs(np.fft.rfft(joined[:16_000].astype(np.float64)))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1
