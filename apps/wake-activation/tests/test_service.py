"""The wake service on the InMemoryBus with the real openWakeWord models."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from typing import Literal

import numpy as np
import orjson
import pytest

from tars.audio import SAMPLE_RATE
from tars.clients.stt import MicPublisher
from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame, AudioPurpose
from tars.contracts.envelope import Envelope
from tars.contracts.errors import ErrorEvent
from tars.contracts.llm import LlmCancel
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsControl, TtsStatus
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, InMemoryBroker, InMemoryBus, Service, load_settings
from tars.testing.bus_contract import Collector
from tars.testing.peers import announce
from tars_wake.service import WakeWorker, setup
from tars_wake.settings import Settings

pytestmark = pytest.mark.models
Speech = np.ndarray  # type: ignore[type-arg]


async def send(client: Service, site: str, audio: Speech, start_s: float = 0.0,
               purpose: AudioPurpose = "turn", cid: str | None = None) -> None:
    n = 480
    for off in range(0, audio.size, n):
        frame = AudioFrame(seq=off // n, audio_time_s=start_s + off / SAMPLE_RATE, purpose=purpose)
        await client.publish(T.AUDIO_MIC, frame, pcm=audio[off:off + n].astype("<i2").tobytes(),
                             params={"site": site}, correlation_id=cid)


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Service, WakeWorker, Collector]]:
    broker = InMemoryBroker()
    svc = Service("wake", InMemoryBus(broker), heartbeat_s=3600)
    worker = await setup(load_settings(Settings), svc)
    client = Service("client", InMemoryBus(broker), heartbeat_s=3600)
    wakes = Collector()
    await svc.start()
    await client.start()
    await client.bus.subscribe(T.WAKE_EVENT.filter, wakes)
    yield client, worker, wakes
    await client.stop()
    await svc.stop()


async def drained(worker: WakeWorker) -> None:
    for _ in range(400):
        if all(s.queue.empty() for s in worker.sites.values()):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)


async def test_hey_jarvis_wakes_and_ordinary_speech_does_not(
    rig: tuple[Service, WakeWorker, Collector], say: Callable[[str, str], Speech]
) -> None:
    client, worker, wakes = rig
    await send(client, "hall", say("espeak", "Turn on the lights in the kitchen."))
    await send(client, "hall", say("piper", "Please close the garage door."), start_s=5.0)
    await drained(worker)
    assert wakes.messages == []
    await send(client, "hall", say("piper", "Hey Jarvis, what time is it?"), start_s=20.0)
    msg = (await wakes.wait_for(1, timeout=20))[0]
    env = decode(msg.payload)
    event = env.payload(WakeEvent)
    assert env.site_id == "hall" and event.model == "hey_jarvis" and event.score >= 0.5
    assert 20.0 < event.audio_time_s < 20.0 + 2.5 and not event.barge_in


async def test_wake_while_speaking_is_a_barge_in(
    rig: tuple[Service, WakeWorker, Collector], say: Callable[[str, str], Speech]
) -> None:
    client, _worker, wakes = rig
    controls, cancels = Collector(), Collector()
    await client.bus.subscribe(T.TTS_CONTROL.filter, controls)
    await client.bus.subscribe(T.LLM_CANCEL.filter, cancels)
    await client.publish(T.TTS_STATUS, TtsStatus(event="started", text="A long answer"),
                         correlation_id="reply-1", site_id="hall")
    await asyncio.sleep(0.05)
    await send(client, "hall", say("piper", "Hey Jarvis, stop."))
    event = decode((await wakes.wait_for(1, timeout=20))[0].payload).payload(WakeEvent)
    assert event.barge_in
    stop = decode((await controls.wait_for(1))[0].payload)
    assert stop.payload(TtsControl).action == "stop" and stop.payload(TtsControl).target == "reply-1"
    cancel = decode((await cancels.wait_for(1))[0].payload)
    assert cancel.correlation_id == "reply-1" and cancel.payload(LlmCancel).reason == "barge-in"


async def test_wake_phrase_in_a_transcript(rig: tuple[Service, WakeWorker, Collector]) -> None:
    client, _worker, wakes = rig
    await client.publish(T.STT_FINAL, SttFinal(text="Okay, thanks."), site_id="den")
    await client.publish(T.STT_FINAL, SttFinal(text="Hey TARS, what's the weather?",
                                               speech_start_s=3.0),
                         correlation_id="turn-7", site_id="den")
    env = decode((await wakes.wait_for(1))[0].payload)
    event = env.payload(WakeEvent)
    assert (event.phrase, event.command, event.model) == ("hey tars", "what's the weather?", "phrase")
    assert env.correlation_id == "turn-7" and env.site_id == "den" and event.audio_time_s == 3.0
    await asyncio.sleep(0.1)
    assert len(wakes.messages) == 1


async def test_wrong_rate_is_reported(rig: tuple[Service, WakeWorker, Collector]) -> None:
    client, _worker, _wakes = rig
    errors = Collector()
    await client.bus.subscribe(T.SYSTEM_ERROR.filter, errors)
    await client.publish(T.AUDIO_MIC, AudioFrame(sample_rate=8000), pcm=b"\x00\x00" * 80,
                         params={"site": "hall"})
    event = decode((await errors.wait_for(1))[0].payload)
    assert event.data["kind"] == "validation" and "8000 Hz" in event.data["reason"]


async def test_odd_bytes_and_stereo_are_reported_and_the_worker_keeps_serving(
    rig: tuple[Service, WakeWorker, Collector], say: Callable[[str, str], Speech]
) -> None:
    client, worker, wakes = rig
    errors = Collector()
    await client.bus.subscribe(T.SYSTEM_ERROR.filter, errors)
    frame, topic = AudioFrame(), T.AUDIO_MIC.topic(site="hall")
    env = Envelope(type=T.AUDIO_MIC.type, site_id="hall", data=frame.model_dump(mode="json"))
    await worker.on_audio(Inbound(env, frame, topic, b"\0\0\0"))  # as an in-process feed
    await client.publish(T.AUDIO_MIC, AudioFrame(channels=2), pcm=b"\0\0" * 160,
                         params={"site": "porch"})
    got = [decode(m.payload).payload(ErrorEvent) for m in await errors.wait_for(2)]
    assert [(e.kind, e.topic) for e in got] == [("validation", topic),
                                                ("validation", T.AUDIO_MIC.topic(site="porch"))]
    assert "3 bytes: not a whole sample count" in got[0].reason and "2 channel(s)" in got[1].reason
    assert len(worker.sites) == 0
    await send(client, "hall", say("piper", "Hey Jarvis, what time is it?"))
    assert decode((await wakes.wait_for(1, timeout=20))[0].payload).site_id == "hall"


async def test_each_detection_is_a_new_turn_id(
    rig: tuple[Service, WakeWorker, Collector], say: Callable[[str, str], Speech]
) -> None:
    client, _worker, wakes = rig
    audio = say("piper", "Hey Jarvis, what time is it?")
    await send(client, "hall", audio)
    await drained(_worker)
    await send(client, "hall", audio, start_s=10.0)
    got = await wakes.wait_for(2, timeout=30)
    envs = [decode(m.payload) for m in got]
    assert envs[0].correlation_id != envs[1].correlation_id
    assert all(e.payload(WakeEvent).purpose == "turn" for e in envs)


async def test_purposes_detection_answers_the_client_and_transcription_never_wakes(
    rig: tuple[Service, WakeWorker, Collector], say: Callable[[str, str], Speech]
) -> None:
    client, worker, wakes = rig
    audio = say("piper", "Hey Jarvis, what time is it?")
    await send(client, "gw", audio, purpose="transcription", cid="client-t")
    await drained(worker)
    assert wakes.messages == []
    await client.publish(T.TTS_STATUS, TtsStatus(event="started", text="reply"),
                         correlation_id="reply-9", site_id="gw")
    await send(client, "gw", audio, start_s=10.0, purpose="detection", cid="client-d")
    env = decode((await wakes.wait_for(1, timeout=20))[0].payload)
    event = env.payload(WakeEvent)
    assert event.purpose == "detection" and env.correlation_id == "client-d"
    assert not event.barge_in and worker.speaking == {"gw": "reply-9"}  # never stops a reply


async def test_made_up_sites_are_bounded_and_malformed_headers_reported(
    say: Callable[[str, str], Speech],
) -> None:
    broker = InMemoryBroker()
    svc = Service("wake", InMemoryBus(broker), heartbeat_s=3600)
    worker = await setup(load_settings(Settings, max_sites=3), svc)
    client = Service("client", InMemoryBus(broker), heartbeat_s=3600)
    errors, wakes = Collector(), Collector()
    await svc.start()
    await client.start()
    await client.bus.subscribe(T.SYSTEM_ERROR.filter, errors)
    await client.bus.subscribe(T.WAKE_EVENT.filter, wakes)
    try:
        await send(client, "real", say("piper", "Please close the garage door."))
        quiet = np.zeros(480, dtype=np.int16)
        for i in range(200):
            await send(client, f"fake{i}", quiet)
        await drained(worker)
        assert len(worker.sites) == 3 and worker.sites.loaded() <= 3
        assert worker.sites.refused >= 197
        env = decode((await errors.wait_for(1))[0].payload)
        assert "refused" in env.data["reason"]
        # headers that do not validate, odd byte counts: decode errors, no traceback, still serving
        bad = [{"sample_rate": "fast"}, {"channels": 0}, {"sample_rate": -5}, {"seq": [1]}]
        for data in bad:
            header = orjson.dumps({"type": "audio.frame", "data": data})
            await client.bus.publish(T.AUDIO_MIC.topic(site="real"),
                                     b"TPCM" + struct.pack(">I", len(header)) + header + b"\0\0")
        await client.publish(T.AUDIO_MIC, AudioFrame(), pcm=b"\0\0\0", params={"site": "real"})
        got = await errors.wait_for(6, timeout=10)
        kinds = [decode(m.payload).data["kind"] for m in got[1:]]
        assert kinds == ["decode"] * 5
        await send(client, "real", say("piper", "Hey Jarvis, what time is it?"), start_s=30.0)
        await wakes.wait_for(1, timeout=20)
    finally:
        await client.stop()
        await svc.stop()


async def test_a_stream_its_sender_ended_makes_room_for_a_new_site(
    say: Callable[[str, str], Speech],
) -> None:
    """`tars converse` speaks on a new site each run: a finished run's slot goes at once, not
    after site_idle_s (a site still streaming is never evicted)."""
    broker = InMemoryBroker()
    svc = Service("wake", InMemoryBus(broker), heartbeat_s=3600)
    worker = await setup(load_settings(Settings, max_sites=2), svc)
    client = Service("client", InMemoryBus(broker), heartbeat_s=3600)
    wakes = Collector()
    await svc.start()
    await client.start()
    await client.bus.subscribe(T.WAKE_EVENT.filter, wakes)
    try:
        quiet = np.zeros(4800, dtype=np.int16)
        await send(client, "still-streaming", quiet)
        for run in range(3):  # three runs one after another on new sites
            mic = MicPublisher(client, f"run{run}")
            await mic.send(quiet.astype("<i2").tobytes())
            await mic.end()
            await drained(worker)
        await send(client, "run3", say("piper", "Hey Jarvis, what time is it?"))
        await wakes.wait_for(1, timeout=20)
        assert worker.sites.refused == 0
        assert worker.sites.get("still-streaming", "turn") is not None
    finally:
        await client.stop()
        await svc.stop()


async def test_the_tts_worker_going_away_or_restarting_leaves_no_site_speaking(
    rig: tuple[Service, WakeWorker, Collector],
) -> None:
    client, worker, _wakes = rig

    async def tts_says(state: Literal["online", "offline"], instance: str) -> None:
        await announce(client, worker.tts, "tts", state, instance)

    async def speaking(cid: str) -> None:
        await client.publish(T.TTS_STATUS, TtsStatus(event="started"), site_id="hall", correlation_id=cid)
        for _ in range(200):
            if worker.speaking.get("hall") == cid:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("tts never started speaking")

    await tts_says("online", "tts-1")
    await speaking("r-1")
    await tts_says("online", "tts-1")  # announced again (a reconnect): still speaking
    assert worker.speaking == {"hall": "r-1"}
    await tts_says("online", "tts-2")  # a new instance: the old one's reply is gone
    assert worker.speaking == {}
    await speaking("r-2")
    await tts_says("offline", "tts-2")
    assert worker.speaking == {}
