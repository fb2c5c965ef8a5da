"""The stt worker process with a (virtual) microphone: hears speech played into it, and survives
the microphone being unplugged and plugged back in while MQTT audio is still transcribed."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from tars.clients.stt import FinalCollector, stream_audio
from tars.contracts import topics as T
from tars.runtime import Service
from tars.runtime.connect import client_bus
from tars.testing.logged import LoggedProcess, running
from tars.testing.soundcard import VirtualSoundCard
from tars.testing.speech import with_silence
from tars_stt.metrics import word_error_rate

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.models]
SITE = "kitchen"
Speech = np.ndarray  # type: ignore[type-arg]


@dataclass
class Worker:
    process: LoggedProcess
    namespace: str


@pytest.fixture(scope="module")
def worker(card: VirtualSoundCard, mqtt_url: str) -> Iterator[Worker]:
    namespace = f"t{uuid.uuid4().hex[:10]}/"
    env = {**card.env, "TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace,
           "TARS_SITE_ID": SITE, "TARS_AUDIO_SOURCE": "mic", "TARS_HEARTBEAT_S": "2"}
    with running("tars_stt", env) as process:
        yield Worker(process, namespace)


@pytest.fixture
async def client(worker: Worker, mqtt_url: str) -> AsyncIterator[tuple[Service, FinalCollector]]:
    svc = Service("test", client_bus(mqtt_url, "test", namespace=worker.namespace),
                  heartbeat_s=3600)
    finals = FinalCollector()
    svc.handle(T.STT_FINAL, finals)
    await svc.start()
    yield svc, finals
    await svc.stop()


async def _hears(card: VirtualSoundCard, finals: FinalCollector, audio: Speech, text: str,
                 worker: Worker) -> None:
    import asyncio

    finals.heard.clear()
    await asyncio.to_thread(card.play, with_silence(audio, before_s=0.3, after_s=1.2))
    heard = [h for h in await finals.settle(idle_s=1.5, first_timeout_s=20) if h.site == SITE]
    said = " ".join(h.final.text for h in heard)
    context = [line for line in worker.process.log if "microphone" in line or "final on" in line]
    assert word_error_rate([(text, said)]) <= 0.2, (said, context[-8:])


async def test_speech_played_into_the_microphone_is_transcribed(
        card: VirtualSoundCard, client: tuple[Service, FinalCollector],
        say: Callable[[str, str], Speech], worker: Worker) -> None:
    text = "Turn on the lights in the kitchen."
    await _hears(card, client[1], say("piper", text), text, worker)
    assert len(worker.process.lines("microphone open")) == 1


async def test_microphone_unplugged_then_back(
        card: VirtualSoundCard, client: tuple[Service, FinalCollector],
        say: Callable[[str, str], Speech], worker: Worker) -> None:
    import asyncio

    svc, finals = client
    await asyncio.to_thread(card.unload_sink, "mic")
    try:
        for _ in range(100):  # the loss is noticed within about a second
            if worker.process.lines("microphone lost"):
                break
            await asyncio.sleep(0.1)
        assert len(worker.process.lines("microphone lost")) == 1, "".join(worker.process.log[-10:])
        text = "Set a timer for ten minutes."  # MQTT audio of another site is still heard
        finals.heard.clear()
        await stream_audio(svc, "porch", say("piper", text), speed=2.0)
        heard = [h for h in await finals.settle(idle_s=1.5) if h.site == "porch"]
        assert word_error_rate([(text, " ".join(h.final.text for h in heard))]) <= 0.2, heard
        await asyncio.sleep(2.5)  # retries while it is away log nothing more
        assert len(worker.process.lines("microphone unavailable")) <= 1
    finally:
        await asyncio.to_thread(card.load_sink, "mic")
    for _ in range(100):
        if worker.process.lines("microphone is back"):
            break
        await asyncio.sleep(0.1)
    assert worker.process.lines("microphone is back"), "".join(worker.process.log[-10:])
    await asyncio.sleep(1.0)  # someone speaks a moment after plugging it back in
    text = "Please close the garage door in the evening."
    await _hears(card, finals, say("piper", text), text, worker)
    assert worker.process.proc.poll() is None


def test_a_missing_named_microphone_is_one_clear_line(card: VirtualSoundCard) -> None:
    code = ("from tars_stt import MicrophoneSource, NoAudioDeviceError\n"
            "try:\n    MicrophoneSource('no-such-mic-xyz')\n"
            "except NoAudioDeviceError as exc:\n    print('ERROR', exc)\n")
    run = subprocess.run([sys.executable, "-c", code], env={**os.environ, **card.env},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert run.stdout.splitlines() == ["ERROR no audio input device named 'no-such-mic-xyz'"]
