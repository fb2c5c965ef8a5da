"""Both workers as processes on the real broker; the stt worker plays a WAV as its microphone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tars.audio import write_wav
from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.stt import SttFinal
from tars.contracts.wake import WakeEvent
from tars.runtime.connect import client_bus
from tars.testing.bus_contract import Collector
from tars.testing.speech import with_silence

pytestmark = [pytest.mark.models, pytest.mark.e2e]
Speech = np.ndarray  # type: ignore[type-arg]


async def test_wav_source_shared_with_wake_over_the_broker(
    tmp_path: Path, mqtt_url: str, namespace: str, say: Callable[[str, str], Speech],
    start_worker: Callable[..., Any],
) -> None:
    wake_audio = say("piper", "Hey Jarvis, what time is it?")
    plain = say("piper", "Please close the garage door.")
    audio = np.concatenate([with_silence(wake_audio, before_s=0.5, after_s=1.0), plain,
                            np.zeros(16_000, dtype=np.int16)])
    wav = write_wav(tmp_path / "porch.wav", audio)
    bus = client_bus(mqtt_url, "test", namespace=namespace)
    await bus.start()
    wakes, finals = Collector(), Collector()
    await bus.subscribe(T.WAKE_EVENT.filter, wakes)
    await bus.subscribe(T.STT_FINAL.filter, finals)
    wake = start_worker("tars_wake", "wake", mqtt_url, namespace, tmp_path / "wake.log")
    stt = start_worker("tars_stt", "stt", mqtt_url, namespace, tmp_path / "stt.log",
                       audio_source=f"wav:{wav}", site_id="porch")
    entered = []
    try:
        for proc in (wake, stt):  # blocking start-up waits run off the loop
            await asyncio.to_thread(proc.__enter__)
            entered.append(proc)
        got = await finals.wait_for(2, timeout=90)
        await asyncio.sleep(0.5)
    finally:
        for proc in reversed(entered):
            await asyncio.to_thread(proc.__exit__, None, None, None)
        await bus.stop()
    texts = [decode(m.payload).payload(SttFinal).text.lower() for m in got]
    assert "what time is it" in texts[0] and "garage door" in texts[1]
    assert len(wakes.messages) == 1, [m.payload for m in wakes.messages]
    env = decode(wakes.messages[0].payload)
    event = env.payload(WakeEvent)
    assert env.site_id == "porch" and event.model == "hey_jarvis"
    assert 0.5 < event.audio_time_s < 0.5 + wake_audio.size / 16_000 + 0.3
