"""The stt worker's client: audio → T.AUDIO_MIC frames, T.STT_FINAL → what was heard."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

from tars.audio.pcm import SAMPLE_RATE, Int16Array
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame, AudioPurpose
from tars.contracts.envelope import new_id
from tars.contracts.stt import SttFinal
from tars.runtime import Inbound, Service


class MicPublisher:
    """One stream of T.AUDIO_MIC frames for ``site``, written piece by piece: each frame carries
    ``purpose``, ``correlation_id`` (a new one when None) and the audio clock, which starts at
    ``start_s`` and follows the samples sent; ``end`` sends the end-of-stream frame once."""

    def __init__(self, service: Service, site: str, *, purpose: AudioPurpose = "turn",
                 correlation_id: str | None = None, start_s: float = 0.0) -> None:
        self.service = service
        self.site = site
        self.purpose: AudioPurpose = purpose
        self.correlation_id = correlation_id or new_id()
        self.start_s = start_s
        self.seq = 0
        self.samples = 0
        self.ended = False

    @property
    def clock_s(self) -> float:
        """The audio clock after the samples sent so far."""
        return self.start_s + self.samples / SAMPLE_RATE

    async def send(self, pcm: bytes) -> None:
        """One frame of 16 kHz mono s16le ``pcm``."""
        await self._publish(AudioFrame(seq=self.seq, audio_time_s=round(self.clock_s, 6),
                                       purpose=self.purpose), pcm)
        self.samples += len(pcm) // 2

    async def end(self) -> float:
        """The last frame (``final``): flushes the utterance in flight. Returns the audio clock."""
        if not self.ended:
            self.ended = True
            await self._publish(AudioFrame(seq=self.seq, audio_time_s=round(self.clock_s, 6),
                                           final=True, purpose=self.purpose), b"")
        return self.clock_s

    async def _publish(self, frame: AudioFrame, pcm: bytes) -> None:
        await self.service.publish(T.AUDIO_MIC, frame, pcm=pcm, params={"site": self.site},
                                   site_id=self.site, correlation_id=self.correlation_id)
        self.seq += 1


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
    mic = MicPublisher(service, site, purpose=purpose, correlation_id=correlation_id, start_s=start_s)
    for off in range(0, audio.size, n):
        if speed > 0:
            due = started + off / SAMPLE_RATE / speed
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await mic.send(audio[off:off + n].astype("<i2").tobytes())
    return await mic.end() if final else mic.clock_s


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


class SttClient:
    """Transcribes audio with the stt worker: a "transcription" stream (text only, never a wake
    event or a turn) on a site, and the finals that carry its correlation id.

    Construct it before the service starts: it registers its T.STT_FINAL handler on ``service``.
    """

    def __init__(self, service: Service) -> None:
        self.service = service
        self._open: dict[str, FinalCollector] = {}
        service.handle(T.STT_FINAL, self._on_final)

    async def transcribe(self, samples: Int16Array, site: str, *, speed: float = 4.0,
                         idle_s: float = 2.0, first_timeout_s: float = 15.0,
                         correlation_id: str | None = None) -> list[Heard]:
        """Stream ``samples`` on ``site``; return its finals once none has come for ``idle_s``
        (none at all when the first does not come within ``first_timeout_s``)."""
        cid = correlation_id or new_id()
        finals = self._open[cid] = FinalCollector(site, correlation_id=cid)
        try:
            await stream_audio(self.service, site, samples, speed=speed, purpose="transcription",
                               correlation_id=cid)
            return await finals.settle(idle_s=idle_s, first_timeout_s=first_timeout_s)
        finally:
            self._open.pop(cid, None)

    async def _on_final(self, msg: Inbound[SttFinal]) -> None:
        finals = self._open.get(msg.correlation_id)
        if finals is not None:
            await finals(msg)
