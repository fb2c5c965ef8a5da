"""The audio intake: an AudioFrame's PCM as samples or a reason, bad frames reported on a budget."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tars.audio import AudioFormatError, BadFrames, frame_samples
from tars.contracts import decode
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.errors import ErrorEvent
from tars.runtime import InMemoryBroker, InMemoryBus, Service
from tars.testing.bus_contract import Collector


def test_a_good_frame_is_its_samples() -> None:
    pcm = np.array([0, 1, -2, 32767, -32768], dtype="<i2").tobytes()
    samples = frame_samples(AudioFrame(), pcm)
    assert samples.dtype == np.int16 and samples.tolist() == [0, 1, -2, 32767, -32768]
    assert frame_samples(AudioFrame(), b"").size == 0


@pytest.mark.parametrize(("frame", "pcm", "reason"), [
    (AudioFrame(), b"\0\0\0", "3 bytes: not a whole sample count"),
    (AudioFrame(sample_rate=48_000), b"\0\0", "48000 Hz, 1 channel(s); expected 16000 Hz mono"),
    (AudioFrame(channels=2), b"\0\0\0\0", "2 channel(s); expected 16000 Hz mono"),
    (AudioFrame.model_construct(sample_format="f32le", sample_rate=16_000, channels=1), b"\0" * 4,
     "unsupported sample format 'f32le'"),
])
def test_a_bad_frame_says_why(frame: AudioFrame, pcm: bytes, reason: str) -> None:
    with pytest.raises(AudioFormatError, match=re.escape(reason)):
        frame_samples(frame, pcm)


async def test_bad_frames_are_reported_once_per_site_and_counted_always() -> None:
    broker = InMemoryBroker()
    svc, client = (Service(name, InMemoryBus(broker), heartbeat_s=3600) for name in ("w", "c"))
    await svc.start()
    await client.start()
    errors = Collector()
    await client.bus.subscribe(T.SYSTEM_ERROR.filter, errors)
    bad = BadFrames(svc, every_s=3600)
    try:
        for site in ("den", "den", "den", "hall"):
            await bad.report(site, T.AUDIO_MIC.topic(site=site), "odd bytes")
        got = [decode(m.payload).payload(ErrorEvent) for m in await errors.wait_for(2)]
        assert [(e.kind, e.reason) for e in got] == [
            ("validation", "site den: odd bytes"), ("validation", "site hall: odd bytes")]
        assert svc.counters.errors == 4 and svc.counters.by_kind == {"validation": 2}
        bad.every_s = 0.0
        await bad.report("den", "t", "odd bytes")
        last = decode((await errors.wait_for(3))[-1].payload).payload(ErrorEvent)
        assert last.reason == "site den: odd bytes (2 more since the last report)"
    finally:
        await client.stop()
        await svc.stop()
