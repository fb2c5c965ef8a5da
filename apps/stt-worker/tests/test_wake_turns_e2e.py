"""stt and wake workers as processes on the real broker: the wake word names and cuts the turn."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tars.audio import SAMPLE_RATE
from tars.clients.stt import FinalCollector, Heard, stream_audio
from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.wake import WakeEvent
from tars.runtime import Service
from tars.runtime.connect import client_bus
from tars.testing.bus_contract import Collector
from tars.testing.speech import words
from tars_stt.metrics import word_error_rate

pytestmark = [pytest.mark.models, pytest.mark.e2e]
Speech = np.ndarray  # type: ignore[type-arg]

FAKE_TTS = """
import asyncio, sys
from tars.contracts import topics as T
from tars.contracts.tts import TtsStatus
from tars.runtime.runner import make_service
from tars.runtime.settings import CoreSettings

async def main() -> None:
    svc = make_service("tts", CoreSettings())
    await svc.start()
    await svc.publish(T.TTS_STATUS, TtsStatus(event="started", text="A long reply."),
                      correlation_id="reply-1", site_id=sys.argv[1])
    print("speaking", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def said(text: str) -> str:
    return " ".join(words(text))


@pytest.fixture(scope="module")
def ns() -> str:
    return f"w{uuid.uuid4().hex[:10]}/"


@pytest.fixture(scope="module")
def workers(mqtt_url: str, ns: str, tmp_path_factory: pytest.TempPathFactory,
            start_worker: Callable[..., Any]) -> Iterator[Path]:
    logs = tmp_path_factory.mktemp("turns")
    with start_worker("tars_wake", "wake", mqtt_url, ns, logs / "wake.log", phrase_mode="false"), \
            start_worker("tars_stt", "stt", mqtt_url, ns, logs / "stt.log", audio_source="mqtt",
                         duplex__idle_s="30"):
        yield logs


@pytest.fixture
async def client(mqtt_url: str, ns: str, workers: Path) -> AsyncIterator[Service]:
    svc = Service("test", client_bus(mqtt_url, "test", namespace=ns),
                  heartbeat_s=3600, announce=False)
    yield svc
    await svc.stop()


async def listen(client: Service, site: str) -> tuple[FinalCollector, Collector]:
    finals, wakes = FinalCollector(site), Collector()
    client.handle(T.STT_FINAL, finals)
    await client.start()
    await client.bus.subscribe(T.WAKE_EVENT.filter, wakes)
    return finals, wakes


def wake_ids(wakes: Collector, site: str) -> list[str]:
    envs = [decode(m.payload) for m in wakes.messages]
    return [e.correlation_id for e in envs if e.site_id == site
            and e.payload(WakeEvent).purpose == "turn"]


async def test_wake_and_command_in_one_breath_is_one_turn_without_the_wake_word(
    client: Service, say: Callable[[str, str], Speech]
) -> None:
    finals, wakes = await listen(client, "breath")
    await stream_audio(client, "breath", say("piper", "Hey Jarvis, what time is it?"), speed=1.5,
                       final=False)
    heard = await finals.settle(idle_s=2.0, first_timeout_s=30)
    assert [said(h.final.text) for h in heard] == ["what time is it"], heard
    assert heard[0].correlation_id == wake_ids(wakes, "breath")[0]
    f = heard[0].final
    assert f.purpose == "turn"
    assert 0 < f.speech_start_ts <= f.speech_end_ts <= f.endpoint_ts <= f.final_ts


async def test_wake_word_alone_then_a_pause_then_the_command(
    client: Service, say: Callable[[str, str], Speech]
) -> None:
    finals, wakes = await listen(client, "pause")
    gap = np.zeros(int(0.6 * SAMPLE_RATE), dtype=np.int16)
    audio = np.concatenate([say("piper", "Hey Jarvis."), gap, say("piper", "What time is it?")])
    await stream_audio(client, "pause", audio, speed=1.5, final=False)
    heard = await finals.settle(idle_s=2.0, first_timeout_s=30)
    # The wake word said alone may come out as a final of its own before the wake event
    # arrives (the router's gate keeps listening on it); the command is one final, without it.
    heard = [h for h in heard if said(h.final.text) != "hey jarvis"]
    assert [said(h.final.text) for h in heard] == ["what time is it"], heard
    assert heard[0].correlation_id == wake_ids(wakes, "pause")[0]
    # a follow-up without the wake word: a fresh correlation id
    before = len(finals.heard)
    # (1.5 s of silence after it, as a microphone goes on: a transcript without its "?" ends
    # after max_end_silence_s, not after complete_silence_s)
    await stream_audio(client, "pause", say("piper", "And the date?"), speed=2.0,
                       start_s=20.0, final=False, trailing_s=1.5)
    await finals.wait(before + 1, timeout_s=30)
    assert "date" in said(finals.heard[-1].final.text)
    assert finals.heard[-1].correlation_id not in wake_ids(wakes, "pause")


async def test_transcription_never_wakes_and_comes_back_to_the_client(
    client: Service, say: Callable[[str, str], Speech]
) -> None:
    finals, wakes = await listen(client, "gateway")
    cid = uuid.uuid4().hex
    await stream_audio(client, "gateway", say("piper", "Hey Jarvis, what time is it?"),
                       speed=2.0, purpose="transcription", correlation_id=cid)
    heard = await finals.settle(idle_s=1.5, first_timeout_s=30)
    assert heard and all(h.correlation_id == cid and h.final.purpose == "transcription"
                         for h in heard)
    assert "what time is it" in said(" ".join(h.final.text for h in heard))
    await asyncio.sleep(1.0)
    assert wakes.messages == []


async def test_concurrent_client_transcriptions_on_one_site(
    client: Service, say: Callable[[str, str], Speech]
) -> None:
    finals, _ = await listen(client, "shared")
    texts = {uuid.uuid4().hex: t for t in ("Turn on the lights.", "Set a timer for ten minutes.")}
    await asyncio.gather(*(stream_audio(client, "shared", say("piper", t), speed=2.0,
                                        purpose="transcription", correlation_id=c)
                           for c, t in texts.items()))
    heard = await finals.wait(2, timeout_s=30)
    by_id: dict[str, list[Heard]] = {}
    for h in heard:
        by_id.setdefault(h.correlation_id, []).append(h)
    assert set(by_id) == set(texts)
    pairs = [(t, " ".join(h.final.text for h in by_id[c])) for c, t in texts.items()]
    assert word_error_rate(pairs) <= 0.2, pairs


async def test_a_crashed_tts_does_not_leave_stt_deaf(
    client: Service, mqtt_url: str, ns: str, say: Callable[[str, str], Speech]
) -> None:
    finals, _ = await listen(client, "den")
    env = {**os.environ, "TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": ns}
    tts = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-c", FAKE_TTS, "den"], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert tts.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(tts.stdout.readline), 30)
        assert line.strip() == b"speaking"
        await asyncio.sleep(0.5)
        utterance = say("piper", "Please close the garage door.")
        await stream_audio(client, "den", utterance, speed=3.0, final=False)
        await asyncio.sleep(2.0)
        assert finals.heard == []  # half duplex: the assistant is speaking
        tts.send_signal(signal.SIGKILL)  # no "ended", only its last will
        await asyncio.to_thread(tts.wait, 10)
        await asyncio.sleep(1.0)
        await stream_audio(client, "den", utterance, speed=3.0, start_s=30.0, final=False)
        heard = await finals.wait(1, timeout_s=20)
        assert "garage door" in said(heard[0].final.text)
    finally:
        if tts.poll() is None:
            tts.kill()
            tts.wait()
