"""The stt worker process with a (virtual) microphone: hears speech played into it, and survives
the microphone being unplugged and plugged back in while MQTT audio is still transcribed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

import numpy as np
import pytest

from tars.contracts import topics as T
from tars.runtime import Service
from tars.runtime.mqtt import MqttBus
from tars.testing.fixtures import require_sound_card
from tars.testing.soundcard import VirtualSoundCard, virtual_sound_card
from tars.testing.speech import with_silence
from tars_stt.client import FinalCollector, stream_audio
from tars_stt.metrics import word_error_rate

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.models]
SITE = "kitchen"
Speech = np.ndarray  # type: ignore[type-arg]


@dataclass
class Worker:
    proc: subprocess.Popen[str]
    namespace: str
    log: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)

    def pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.log.append(line)
            if "Ready:" in line:
                self.ready.set()

    def lines(self, needle: str) -> list[str]:
        return [line for line in self.log if needle in line]


@pytest.fixture(scope="module")
def card() -> Iterator[VirtualSoundCard]:
    require_sound_card()
    with virtual_sound_card() as c:
        yield c


@pytest.fixture(scope="module")
def worker(card: VirtualSoundCard, mqtt_url: str) -> Iterator[Worker]:
    namespace = f"t{uuid.uuid4().hex[:10]}/"
    env = {**os.environ, **card.env, "TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace,
           "TARS_SITE_ID": SITE, "TARS_AUDIO_SOURCE": "mic", "TARS_HEARTBEAT_S": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "tars_stt"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    w = Worker(proc, namespace)
    assert proc.stderr is not None
    threading.Thread(target=w.pump, args=(proc.stderr,), daemon=True).start()
    if not w.ready.wait(120):
        proc.kill()
        pytest.fail("stt worker not ready:\n" + "".join(w.log))
    yield w
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, "".join(w.log)
    assert not w.lines("Traceback"), "".join(w.log)


@pytest.fixture
async def client(worker: Worker, mqtt_url: str) -> AsyncIterator[tuple[Service, FinalCollector]]:
    svc = Service("test", MqttBus(mqtt_url, f"test-{uuid.uuid4().hex[:8]}",
                                  namespace=worker.namespace), heartbeat_s=3600)
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
    context = [line for line in worker.log if "microphone" in line or "final on" in line]
    assert word_error_rate([(text, said)]) <= 0.2, (said, context[-8:])


async def test_speech_played_into_the_microphone_is_transcribed(
        card: VirtualSoundCard, client: tuple[Service, FinalCollector],
        say: Callable[[str, str], Speech], worker: Worker) -> None:
    text = "Turn on the lights in the kitchen."
    await _hears(card, client[1], say("piper", text), text, worker)
    assert len(worker.lines("microphone open")) == 1


async def test_microphone_unplugged_then_back(
        card: VirtualSoundCard, client: tuple[Service, FinalCollector],
        say: Callable[[str, str], Speech], worker: Worker) -> None:
    import asyncio

    svc, finals = client
    await asyncio.to_thread(card.unload_sink, "mic")
    try:
        for _ in range(100):  # the loss is noticed within about a second
            if worker.lines("microphone lost"):
                break
            await asyncio.sleep(0.1)
        assert len(worker.lines("microphone lost")) == 1, "".join(worker.log[-10:])
        text = "Set a timer for ten minutes."  # MQTT audio of another site is still heard
        finals.heard.clear()
        await stream_audio(svc, "porch", say("piper", text), speed=2.0)
        heard = [h for h in await finals.settle(idle_s=1.5) if h.site == "porch"]
        assert word_error_rate([(text, " ".join(h.final.text for h in heard))]) <= 0.2, heard
        await asyncio.sleep(2.5)  # retries while it is away log nothing more
        assert len(worker.lines("microphone unavailable")) <= 1
    finally:
        await asyncio.to_thread(card.load_sink, "mic")
    for _ in range(100):
        if worker.lines("microphone is back"):
            break
        await asyncio.sleep(0.1)
    assert worker.lines("microphone is back"), "".join(worker.log[-10:])
    await asyncio.sleep(1.0)  # someone speaks a moment after plugging it back in
    text = "Please close the garage door in the evening."
    await _hears(card, finals, say("piper", text), text, worker)
    assert worker.proc.poll() is None


def test_a_missing_named_microphone_is_one_clear_line(card: VirtualSoundCard) -> None:
    code = ("from tars_stt import MicrophoneSource, NoAudioDeviceError\n"
            "try:\n    MicrophoneSource('no-such-mic-xyz')\n"
            "except NoAudioDeviceError as exc:\n    print('ERROR', exc)\n")
    run = subprocess.run([sys.executable, "-c", code], env={**os.environ, **card.env},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert run.stdout.splitlines() == ["ERROR no audio input device named 'no-such-mic-xyz'"]
