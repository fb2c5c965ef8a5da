"""Echo cancellation through a (virtual) sound card: the tts, stt and wake worker processes on one
site, the speaker routed back into the microphone; the echo is removed from the shared microphone
and "hey jarvis, stop" said over a reply stops it (whether "stop" is then transcribed is printed:
on this card it is not, with or without echo cancellation)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsSay, TtsStatus
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, Service
from tars.runtime.connect import client_bus
from tars.testing.logged import LoggedProcess, running
from tars.testing.soundcard import VirtualSoundCard
from tars.testing.speech import piper, with_silence

pytestmark = [pytest.mark.broker, pytest.mark.e2e, pytest.mark.models]
SITE = "den"
LONG = " ".join(f"This is sentence number {n} of a very long answer." for n in range(12))
Speech = npt.NDArray[np.int16]


@dataclass
class Stack:
    namespace: str
    stt: LoggedProcess


@pytest.fixture(scope="module")
def stack(card: VirtualSoundCard, mqtt_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("aec-card")
    namespace = f"t{uuid.uuid4().hex[:10]}/"
    (tmp / "tars.toml").write_text("")
    env = {**card.env, "TARS_MQTT_URL": mqtt_url, "TARS_NAMESPACE": namespace,
           "TARS_SITE_ID": SITE, "TARS_HEARTBEAT_S": "2", "TARS_DATA_DIR": str(tmp),
           "TARS_CONFIG": str(tmp / "tars.toml")}
    with running("tars_tts", {**env, "TARS_SINK": "speaker"}, ready_s=90), \
            running("tars_stt", {**env, "TARS_AUDIO_SOURCE": "mic", "TARS_AEC__ENABLED": "true"},
                    ready_s=90) as stt, \
            running("tars_wake", env, ready_s=90):
        yield Stack(namespace, stt)


class Listener:
    """The test's ear on the bus: shared mic frames, finals and tts statuses of the site."""

    def __init__(self, url: str, namespace: str) -> None:
        self.service = Service("client", client_bus(url, "client", namespace=namespace),
                               heartbeat_s=3600)
        self.mic: list[tuple[float, bytes]] = []
        self.finals: list[tuple[float, str, SttFinal]] = []
        self.statuses: list[tuple[float, str, TtsStatus]] = []
        self.wakes: list[tuple[float, str, WakeEvent]] = []
        self.service.handle(T.WAKE_EVENT, self._on_wake)
        self.service.handle(T.AUDIO_MIC, self._on_mic, topic=T.AUDIO_MIC.topic(site=SITE))
        self.service.handle(T.STT_FINAL, self._on_final)
        self.service.handle(T.TTS_STATUS, self._on_status)

    async def _on_mic(self, msg: Inbound[AudioFrame]) -> None:
        self.mic.append((time.time(), msg.pcm or b""))

    async def _on_final(self, msg: Inbound[SttFinal]) -> None:
        self.finals.append((time.time(), msg.correlation_id, msg.payload))

    async def _on_wake(self, msg: Inbound[WakeEvent]) -> None:
        self.wakes.append((time.time(), msg.correlation_id, msg.payload))

    async def _on_status(self, msg: Inbound[TtsStatus]) -> None:
        self.statuses.append((time.time(), msg.correlation_id, msg.payload))

    def mic_between(self, t0: float, t1: float) -> Speech:
        parts = [np.frombuffer(pcm, dtype="<i2") for ts, pcm in self.mic if t0 <= ts < t1]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    async def until(self, cond: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if cond():
                return True
            await asyncio.sleep(0.05)
        return cond()


@pytest.fixture
async def ear(stack: Stack, mqtt_url: str) -> AsyncIterator[Listener]:
    ear = Listener(mqtt_url, stack.namespace)
    await ear.service.start()
    yield ear
    await ear.service.stop()


def mean_square(a: Speech) -> float:
    return float(np.square(a.astype(np.float64)).mean()) if a.size else 0.0


@pytest.mark.parametrize("echo_db", [6.0, 12.0])
async def test_echo_is_removed_and_hey_jarvis_stop_over_a_reply_works(
        echo_db: float, card: VirtualSoundCard, ear: Listener, stack: Stack) -> None:
    card.set_echo(echo_db)
    await asyncio.sleep(0.5)
    cid = uuid.uuid4().hex
    await ear.service.publish(T.TTS_SAY, TtsSay(text=LONG), correlation_id=cid, site_id=SITE)
    assert await ear.until(lambda: any(c == cid and s.event == "started"
                                       for _, c, s in ear.statuses), 30)
    started = time.time()
    await asyncio.sleep(7.0)  # the echo delay is measured, the filter converges
    t0, t1 = started + 4.0, time.time()
    raw = card.mic(t0, t1).samples
    cancelled = ear.mic_between(t0 + 0.05, t1 + 0.05)
    erle = 10 * np.log10(mean_square(raw) / max(mean_square(cancelled), 1e-3))
    spoken = time.time()
    audio = with_silence(np.concatenate([piper("Hey Jarvis."), piper("stop.")]), before_s=0.1,
                         after_s=0.3)
    await asyncio.to_thread(card.play, audio)
    stopped = await ear.until(lambda: any(c == cid and s.event == "ended"
                                          for _, c, s in ear.statuses), 8)
    wakes = [(c, w) for ts, c, w in ear.wakes if ts > spoken]
    turn = wakes[0][0] if wakes else ""
    heard = await ear.until(lambda: any(c == turn and "stop" in f.text.lower()
                                        for _, c, f in ear.finals), 8)
    card.set_echo(None)
    got = [f.text for ts, _, f in ear.finals if ts > started]
    print(f"echo path -{echo_db:g} dB: {erle:.1f} dB removed; wake {[w.barge_in for _, w in wakes]}"
          f", reply stopped {stopped}, 'stop' transcribed {heard}; finals {got}")
    print("".join(stack.stt.lines("tars_stt.aec")))
    await asyncio.sleep(1.0)
    assert erle >= 6.0, "".join(stack.stt.lines("echo"))
    assert wakes and wakes[0][1].barge_in and stopped, wakes  # the wake word heard over it
