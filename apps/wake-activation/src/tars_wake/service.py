"""The wake worker on the bus: microphone frames and transcripts in, wake events out."""

from __future__ import annotations

import logging
import time

from tars.audio import AudioFormatError, BadFrames, frame_samples
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame, AudioPurpose
from tars.contracts.envelope import new_id
from tars.contracts.llm import LlmCancel
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsControl, TtsStatus
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, ModelExecutor, PeerEvent, Peers, Service
from tars_wake.arbiter import Candidate, WakeArbiter, level_dbfs
from tars_wake.detector import WakeDetection, WakeDetector
from tars_wake.phrase import PhraseWakeMatcher
from tars_wake.settings import Settings
from tars_wake.sites import Chunk, SiteStream, SiteTable

log = logging.getLogger("tars_wake.service")

LIVE_S = 1.0


def site_of(topic: str) -> str:
    """``tars/audio/<site>/mic`` -> ``<site>``."""
    parts = topic.split("/")
    return parts[-2] if len(parts) >= 2 else ""


class WakeWorker:
    """One WakeDetector per site (bounded), fed in order by a per-site task through one executor."""

    def __init__(self, settings: Settings, service: Service, executor: ModelExecutor,
                 first: WakeDetector | None = None) -> None:
        self.settings = settings
        self.service = service
        self.executor = executor
        self.matcher = PhraseWakeMatcher(settings.phrases)
        self.sites = SiteTable(settings.max_sites, settings.site_idle_s, settings.sites)
        if first is not None:
            self.sites.spare.append(first)
        self.speaking: dict[str, str] = {}
        """site -> correlation id of the reply TTS is speaking there."""
        self.tts = Peers(service, settings.tts_service)
        self.bad_frames = BadFrames(service)
        self.arbiter = WakeArbiter(settings.arbitration_window_s, self._answer, self.listening,
                                   level_weight=settings.arbitration_level_weight)
        service.add_cleanup(self.arbiter.close)

    def register(self) -> None:
        self.service.handle(T.AUDIO_MIC, self.on_audio)
        self.service.handle(T.TTS_STATUS, self.on_tts_status)
        self.tts.listen(self.on_tts_presence)
        if self.settings.phrase_mode:
            self.service.handle(T.STT_FINAL, self.on_final)

    async def on_audio(self, msg: Inbound[AudioFrame]) -> None:
        site, frame = site_of(msg.topic), msg.payload
        if not msg.pcm and frame.final:  # the sender's stream ended: its slot can go
            ended = self.sites.get(site, frame.purpose)
            if ended is not None:
                ended.ended = True
        if not msg.pcm or frame.purpose == "transcription":
            return  # end-of-stream markers; clients that want text only
        try:
            samples = frame_samples(frame, msg.pcm)
        except AudioFormatError as exc:
            await self.bad_frames.report(site, msg.topic, str(exc))
            return
        stream = self.sites.admit(site, frame.purpose)
        if stream is None:
            await self.bad_frames.report(site, msg.topic, "refused: no detector free for another "
                                         f"site (max_sites = {self.settings.max_sites})", key="refused")
            return
        if stream.task is None:
            stream.task = self.service.spawn(self._consume(stream), name=f"wake-{site}")
        stream.put(Chunk(samples, frame.audio_time_s, msg.correlation_id))

    async def _detector(self, origin_s: float) -> WakeDetector:
        if self.sites.spare:
            det = self.sites.spare.pop()
        else:
            det = WakeDetector(self.settings.detector)
            await self.executor.run(det.load)
        det.restart(origin_s)
        return det

    async def _consume(self, stream: SiteStream) -> None:
        while True:
            chunk = await stream.queue.get()
            det = stream.detector
            if det is None:
                det = stream.detector = await self._detector(chunk.audio_time_s)
            elif abs(det.clock_s - chunk.audio_time_s) > self.settings.max_clock_gap_s:
                det.restart(chunk.audio_time_s)
            stream.remember(chunk.samples)
            for hit in await self.executor.run(det.process, chunk.samples):
                if stream.purpose == "turn":
                    level = level_dbfs(stream.recent())
                    await self.arbiter.offer(Candidate(stream.site, hit, level, time.monotonic()))
                else:
                    await self.wake(stream.site, hit, purpose=stream.purpose,
                                    correlation_id=chunk.correlation_id)

    def listening(self) -> set[str]:
        """Sites whose microphones sent turn audio in the last second (they may hear a wake)."""
        now = time.monotonic()
        return {s.site for s in self.sites.values()
                if s.purpose == "turn" and now - s.last_seen < LIVE_S}

    async def _answer(self, winner: Candidate, losers: list[Candidate]) -> None:
        """The arbitration's outcome: only the winning site's wake word opens a turn."""
        await self.wake(winner.site, winner.hit, level_db=winner.level_db,
                        stood_down=[c.site for c in losers])

    async def wake(self, site: str, hit: WakeDetection, *, phrase: str | None = None,
                   command: str | None = None, correlation_id: str | None = None,
                   purpose: AudioPurpose = "turn", level_db: float | None = None,
                   stood_down: list[str] | None = None) -> None:
        """Publish the wake event; while TTS speaks on the site, stop it first (barge-in).

        A wake word in "turn" audio gets a new correlation id: the turn id. A "detection" wake
        carries the client's id and never stops a reply."""
        reply = self.speaking.pop(site, None) if purpose == "turn" else None
        if reply is not None:
            await self.service.publish(T.TTS_CONTROL, TtsControl(action="stop", target=reply),
                                       correlation_id=reply, site_id=site)
            await self.service.publish(T.LLM_CANCEL, LlmCancel(reason="barge-in"),
                                       correlation_id=reply, site_id=site)
        event = WakeEvent(model=hit.model, score=round(hit.score, 4), audio_time_s=hit.at_s,
                          phrase=phrase, command=command, barge_in=reply is not None,
                          purpose=purpose, level_db=None if level_db is None else round(level_db, 1),
                          stood_down=stood_down or [])
        cid = correlation_id or new_id()
        await self.service.publish(T.WAKE_EVENT, event, correlation_id=cid, site_id=site)
        log.info("wake on %s: %s %.3f at %.2f s (%s %s)%s", site, hit.model, hit.score, hit.at_s,
                 purpose, cid[:12], " (barge-in)" if reply else "")

    async def on_final(self, msg: Inbound[SttFinal]) -> None:
        if msg.payload.purpose != "turn":
            return
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

    async def on_tts_presence(self, event: PeerEvent) -> None:
        """The tts worker went offline or restarted: no reply of its is playing any more."""
        st = event.status
        if (st.state == "offline" or event.restarted) and self.speaking:
            log.info("tts %s: no site is speaking", st.state)
            self.speaking.clear()


async def build(settings: Settings, service: Service) -> None:
    """The worker's ``build`` for ``run_worker``."""
    await setup(settings, service)


async def setup(settings: Settings, service: Service) -> WakeWorker:
    """Load the wake models once (in the executor), register the handlers."""
    executor = ModelExecutor("wake", max_pending=256)
    service.add_cleanup(executor.shutdown)
    first = WakeDetector(settings.detector)
    await executor.run(first.load)
    worker = WakeWorker(settings, service, executor, first)
    worker.register()
    service.models = {"wake": ",".join(settings.detector.models), "engine": "openWakeWord"}
    service.capabilities = (["wake.word", "wake.detection"]
                            + (["wake.phrase"] if settings.phrase_mode else []))
    return worker
