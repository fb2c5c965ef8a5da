"""Client side of the stt worker: stream PCM as T.AUDIO_MIC frames and collect stt/final."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame, AudioPurpose
from tars.contracts.envelope import new_id
from tars.contracts.stt import SttFinal
from tars.runtime import Inbound, Service

Int16Array = npt.NDArray[np.int16]


async def stream_audio(service: Service, site: str, samples: Int16Array, *,
                       speed: float = 4.0, frame_ms: int = 30, trailing_s: float = 1.0,
                       start_s: float = 0.0, final: bool = True, purpose: AudioPurpose = "turn",
                       correlation_id: str | None = None) -> float:
    """Publish ``samples`` (16 kHz mono int16) as ``site``'s microphone, then ``trailing_s`` of
    silence and (with ``final``) an end-of-stream frame. ``speed`` is the pace relative to real
    time (0 = as fast as the bus takes it); ``audio_time_s`` always follows the audio clock.
    Every frame carries ``purpose`` and ``correlation_id`` (a new one when None): a
    "transcription" stream's finals come back with that correlation id.
    Returns the audio clock at the end of the stream."""
    pad = np.zeros(int(trailing_s * SAMPLE_RATE), dtype=np.int16)
    audio = np.concatenate([samples.astype(np.int16), pad])
    n = SAMPLE_RATE * frame_ms // 1000
    started = time.monotonic()
    seq = 0
    cid = correlation_id or new_id()
    for off in range(0, audio.size, n):
        if speed > 0:
            due = started + off / SAMPLE_RATE / speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        chunk = audio[off:off + n]
        frame = AudioFrame(seq=seq, audio_time_s=start_s + off / SAMPLE_RATE, purpose=purpose)
        await service.publish(T.AUDIO_MIC, frame, pcm=chunk.astype("<i2").tobytes(),
                              params={"site": site}, site_id=site, correlation_id=cid)
        seq += 1
    end_s = start_s + audio.size / SAMPLE_RATE
    if final:
        await service.publish(T.AUDIO_MIC, AudioFrame(seq=seq, audio_time_s=end_s, final=True,
                                                       purpose=purpose),
                              pcm=b"", params={"site": site}, site_id=site, correlation_id=cid)
    return end_s


@dataclass(frozen=True)
class Heard:
    """One stt/final with its envelope time and the latency it implies."""

    final: SttFinal
    correlation_id: str
    published_ts: float
    site: str = ""

    @property
    def latency_ms(self) -> float:
        """End of speech (``speech_end_ts``) to stt/final published (envelope ``ts``)."""
        return (self.published_ts - self.final.speech_end_ts) * 1000.0


class FinalCollector:
    """Register with ``service.handle(T.STT_FINAL, collector)`` before start; keeps the finals
    of one site and/or one correlation id (None: any)."""

    def __init__(self, site: str | None = None, correlation_id: str | None = None) -> None:
        self.site = site
        self.correlation_id = correlation_id
        self.heard: list[Heard] = []
        self._changed = asyncio.Event()

    async def __call__(self, msg: Inbound[SttFinal]) -> None:
        if self.site is not None and msg.site_id != self.site:
            return
        if self.correlation_id is not None and msg.correlation_id != self.correlation_id:
            return
        self.heard.append(Heard(msg.payload, msg.correlation_id, msg.envelope.ts, msg.site_id or ""))
        self._changed.set()

    async def wait(self, n: int = 1, timeout_s: float = 30.0) -> list[Heard]:
        """Wait until ``n`` finals arrived; raises TimeoutError."""
        async def until() -> None:
            while len(self.heard) < n:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout_s)
        return self.heard

    async def settle(self, idle_s: float = 2.0, first_timeout_s: float = 30.0) -> list[Heard]:
        """Wait for a first final, then until none has come for ``idle_s`` (more segments)."""
        try:
            await self.wait(1, first_timeout_s)
        except TimeoutError:
            return self.heard
        while True:
            count = len(self.heard)
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), idle_s)
            except TimeoutError:
                if len(self.heard) == count:
                    return self.heard
