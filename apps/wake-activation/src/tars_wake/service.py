"""The wake worker on the bus: microphone frames and transcripts in, wake events out."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.llm import LlmCancel
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsControl, TtsStatus
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, ModelExecutor, Service
from tars_wake.detector import WakeDetection, WakeDetector
from tars_wake.phrase import PhraseWakeMatcher
from tars_wake.settings import Settings

log = logging.getLogger("tars_wake.service")

Int16Array = npt.NDArray[np.int16]
ERROR_EVERY_S = 5.0
MAX_QUEUED_FRAMES = 200


def site_of(topic: str) -> str:
    """``tars/audio/<site>/mic`` -> ``<site>``."""
    parts = topic.split("/")
    return parts[-2] if len(parts) >= 2 else ""


@dataclass
class _Site:
    queue: asyncio.Queue[tuple[Int16Array, float]] = field(
        default_factory=lambda: asyncio.Queue(MAX_QUEUED_FRAMES))
    detector: WakeDetector | None = None
    dropped: int = 0
    last_error_at: float = float("-inf")


class WakeWorker:
    """One WakeDetector per site, fed in order by a per-site task through one executor."""

    def __init__(self, settings: Settings, service: Service, executor: ModelExecutor,
                 first: WakeDetector | None = None) -> None:
        self.settings = settings
        self.service = service
        self.executor = executor
        self.matcher = PhraseWakeMatcher(settings.phrases)
        self.sites: dict[str, _Site] = {}
        self.speaking: dict[str, str] = {}
        """site -> correlation id of the reply TTS is speaking there."""
        self._spare = first

    def register(self) -> None:
        self.service.handle(T.AUDIO_MIC, self.on_audio)
        self.service.handle(T.TTS_STATUS, self.on_tts_status)
        if self.settings.phrase_mode:
            self.service.handle(T.STT_FINAL, self.on_final)

    async def on_audio(self, msg: Inbound[AudioFrame]) -> None:
        site, frame = site_of(msg.topic), msg.payload
        if not msg.pcm:
            return
        if frame.sample_rate != SAMPLE_RATE or frame.channels != 1:
            await self._bad_frame(site, msg.topic, f"audio frame at {frame.sample_rate} Hz, "
                                  f"{frame.channels} channel(s); expected {SAMPLE_RATE} Hz mono")
            return
        state = self.sites.get(site)
        if state is None:
            state = self.sites[site] = _Site()
            self.service.spawn(self._consume(site, state), name=f"wake-{site}")
        samples = np.frombuffer(msg.pcm, dtype="<i2").astype(np.int16)
        if state.queue.full():
            state.queue.get_nowait()
            state.dropped += 1
        state.queue.put_nowait((samples, frame.audio_time_s))

    async def _bad_frame(self, site: str, topic: str, reason: str) -> None:
        state = self.sites.setdefault(site, _Site())
        now = time.monotonic()
        if now - state.last_error_at >= ERROR_EVERY_S:
            state.last_error_at = now
            await self.service.report_error("validation", f"site {site}: {reason}", topic=topic)

    async def _detector(self, origin_s: float) -> WakeDetector:
        det, self._spare = self._spare, None
        if det is None:
            det = WakeDetector(self.settings.wake())
            await self.executor.run(det.load)
        det.restart(origin_s)
        return det

    async def _consume(self, site: str, state: _Site) -> None:
        while True:
            samples, t = await state.queue.get()
            det = state.detector
            if det is None:
                det = state.detector = await self._detector(t)
            elif abs(det.clock_s - t) > self.settings.max_clock_gap_s:
                det.restart(t)
            for hit in await self.executor.run(det.process, samples):
                await self.wake(site, hit)

    async def wake(self, site: str, hit: WakeDetection, *, phrase: str | None = None,
                   command: str | None = None, correlation_id: str | None = None) -> None:
        """Publish the wake event; while TTS speaks on the site, stop it first (barge-in)."""
        reply = self.speaking.pop(site, None)
        if reply is not None:
            await self.service.publish(T.TTS_CONTROL, TtsControl(action="stop", target=reply),
                                       correlation_id=reply, site_id=site)
            await self.service.publish(T.LLM_CANCEL, LlmCancel(reason="barge-in"),
                                       correlation_id=reply, site_id=site)
        event = WakeEvent(model=hit.model, score=round(hit.score, 4), audio_time_s=hit.at_s,
                          phrase=phrase, command=command, barge_in=reply is not None)
        await self.service.publish(T.WAKE_EVENT, event, correlation_id=correlation_id,
                                   site_id=site)
        log.info("wake on %s: %s %.3f at %.2f s%s", site, hit.model, hit.score, hit.at_s,
                 " (barge-in)" if reply else "")

    async def on_final(self, msg: Inbound[SttFinal]) -> None:
        found = self.matcher.match(msg.payload.text)
        if found is None:
            return
        hit = WakeDetection("phrase", 1.0, msg.payload.speech_start_s)
        await self.wake(msg.site_id or self.settings.site_id, hit, phrase=found.phrase,
                        command=found.command, correlation_id=msg.correlation_id)

    async def on_tts_status(self, msg: Inbound[TtsStatus]) -> None:
        site = msg.site_id or self.settings.site_id
        if msg.payload.event == "started":
            self.speaking[site] = msg.correlation_id
        elif msg.payload.event == "ended" and self.speaking.get(site) == msg.correlation_id:
            del self.speaking[site]


async def build(settings: Settings, service: Service) -> None:
    """The worker's ``build`` for ``run_worker``."""
    await setup(settings, service)


async def setup(settings: Settings, service: Service) -> WakeWorker:
    """Load the wake models once (in the executor), register the handlers."""
    executor = ModelExecutor("wake", max_pending=256)
    service.add_cleanup(executor.shutdown)
    first = WakeDetector(settings.wake())
    await executor.run(first.load)
    worker = WakeWorker(settings, service, executor, first)
    worker.register()
    service.models = {"wake": ",".join(settings.models), "engine": "openWakeWord"}
    service.capabilities = ["wake.word"] + (["wake.phrase"] if settings.phrase_mode else [])
    return worker
