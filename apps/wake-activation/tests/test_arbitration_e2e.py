"""The real wake worker as a process on the real broker, two sites fed the same generated speech
at different levels and delays: one wake event, for the louder site, even when it is slower."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tars.audio import SAMPLE_RATE
from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.wake import WakeEvent
from tars.runtime import Service
from tars.runtime.connect import client_bus
from tars.testing.bus_contract import Collector

pytestmark = [pytest.mark.models, pytest.mark.e2e, pytest.mark.broker]
Speech = np.ndarray  # type: ignore[type-arg]
FRAME = 480  # 30 ms


class Rooms:
    """Streams two sites' microphones in real time, frame by frame, with continuous clocks."""

    def __init__(self, client: Service, sites: tuple[str, str]) -> None:
        self.client = client
        self.sites = sites
        self.sent = {s: 0 for s in sites}

    async def play(self, a: Speech, b: Speech, delay_frames: int = 0) -> None:
        """``a`` on the first site, ``b`` on the second; ``delay_frames`` > 0 delays ``b`` by
        that many frames, < 0 delays ``a``."""
        pad = np.zeros(abs(delay_frames) * FRAME, dtype=np.int16)
        a, b = (a, np.concatenate([pad, b])) if delay_frames >= 0 else (np.concatenate([pad, a]), b)
        n = max(a.size, b.size)
        a = np.concatenate([a, np.zeros(n - a.size, dtype=np.int16)])
        b = np.concatenate([b, np.zeros(n - b.size, dtype=np.int16)])
        for off in range(0, n, FRAME):
            for site, audio in zip(self.sites, (a, b), strict=True):
                chunk = audio[off:off + FRAME]
                if chunk.size < FRAME:
                    chunk = np.concatenate([chunk, np.zeros(FRAME - chunk.size, dtype=np.int16)])
                frame = AudioFrame(seq=self.sent[site], audio_time_s=self.sent[site] * FRAME / SAMPLE_RATE)
                self.sent[site] += 1
                await self.client.publish(T.AUDIO_MIC, frame, pcm=chunk.astype("<i2").tobytes(),
                                          params={"site": site})
            await asyncio.sleep(FRAME / SAMPLE_RATE)


def silence(seconds: float) -> Speech:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


async def test_the_louder_site_answers_the_faster_stands_down(
    tmp_path: Path, mqtt_url: str, namespace: str, say: Callable[[str, str], Speech],
    start_worker: Callable[..., Any],
) -> None:
    speech = say("piper", "Hey Jarvis, what time is it?")
    quiet = (speech.astype(np.float32) * 0.2).astype(np.int16)  # -14 dB: a room further away
    bus = client_bus(mqtt_url, "arbitration-test", namespace=namespace)
    client = Service("client", bus, announce=False)
    wakes = Collector()
    await client.start()
    await bus.subscribe(T.WAKE_EVENT.filter, wakes)
    rooms = Rooms(client, ("far", "near"))
    proc = start_worker("tars_wake", "wake", mqtt_url, namespace, tmp_path / "wake.log",
                        arbitration_window_s="0.3", phrase_mode="false")
    await asyncio.to_thread(proc.__enter__)
    rounds: list[list[tuple[str, WakeEvent]]] = []
    try:
        await rooms.play(silence(1.0), silence(1.0), 0)  # both microphones live
        # 1: the far room alone (the near one hears silence): the quiet speech does wake
        # 2: both hear it, the far room 150 ms sooner: the near room answers
        # 3: both hear it, the near room sooner: the near room answers
        for a, b, delay in ((quiet, silence(speech.size / SAMPLE_RATE), 0), (quiet, speech, 5),
                            (quiet, speech, -5)):
            before = len(wakes.messages)
            await rooms.play(np.concatenate([a, silence(2.5)]), np.concatenate([b, silence(2.5)]), delay)
            got = [decode(m.payload) for m in wakes.messages[before:]]
            rounds.append([(env.site_id or "", env.payload(WakeEvent)) for env in got])
    finally:
        await asyncio.to_thread(proc.__exit__, None, None, None)
        await client.stop()
    alone, far_first, near_first = rounds
    assert [site for site, _ in alone] == ["far"], alone
    assert [site for site, _ in far_first] == ["near"], far_first
    assert far_first[0][1].stood_down == ["far"]
    assert [site for site, _ in near_first] == ["near"], near_first
    ev = near_first[0][1]
    assert ev.stood_down == ["far"] and ev.level_db is not None and ev.level_db > alone[0][1].level_db + 10  # type: ignore[operator]
