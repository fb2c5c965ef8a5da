"""The stt worker on the bus: audio frames in, partial and final transcripts out."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE, AudioFormatError, AudioSource
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.envelope import new_id
from tars.contracts.stt import SttControl, SttFinal, SttPartial, SttState
from tars.contracts.tts import TtsStatus
from tars.runtime import BusError, Inbound, ModelExecutor, Service
from tars_stt.duplex import DuplexPolicy
from tars_stt.endpointer import EndpointEvent, PartialReady, SpeechStarted, UtteranceEnded
from tars_stt.engine import DroppedTranscript, SttEngine
from tars_stt.errors import NoAudioDeviceError
from tars_stt.filters import EchoFilter, FilterChain
from tars_stt.settings import Settings
from tars_stt.sources import MicrophoneSource, WavFileSource, decode_pcm
from tars_stt.transcriber import Transcriber, WhisperTranscriber

log = logging.getLogger("tars_stt.service")

Int16Array = npt.NDArray[np.int16]
NO_DEVICE = "no audio input device: listening to MQTT audio only (%s)"
ERROR_EVERY_S = 5.0


def site_of(topic: str) -> str:
    """``tars/audio/<site>/mic`` -> ``<site>``."""
    parts = topic.split("/")
    return parts[-2] if len(parts) >= 2 else ""


@dataclass
class _Site:
    correlation_id: str | None = None
    partial_busy: bool = False
    arrivals: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=256))
    last_error_at: float = float("-inf")
    suppressed_errors: int = 0


class SttWorker:
    """Per-site endpointing on the loop; transcription in the model's executor."""

    def __init__(self, settings: Settings, service: Service, engine: SttEngine,
                 executor: ModelExecutor) -> None:
        self.settings = settings
        self.service = service
        self.engine = engine
        self.executor = executor
        self.sites: dict[str, _Site] = {}
        self.muted_all = False
        self.finals_pending = 0
        self.published_finals = 0
        self.dropped_finals = 0

    def register(self) -> None:
        svc = self.service
        svc.handle(T.AUDIO_MIC, self.on_audio)
        svc.handle(T.TTS_STATUS, self.on_tts_status)
        svc.handle(T.STT_CONTROL, self.on_control)
        svc.on_start(self.publish_state)

    def _site(self, site_id: str) -> _Site:
        state = self.sites.get(site_id)
        if state is None:
            state = self.sites[site_id] = _Site()
        return state

    # -- audio in ------------------------------------------------------------------------------
    async def on_audio(self, msg: Inbound[AudioFrame]) -> None:
        if msg.envelope.source == self.service.instance:
            return  # our own microphone frames, already fed locally
        site = site_of(msg.topic)
        frame = msg.payload
        if not msg.pcm and frame.final:
            self.end_stream(site)
            return
        try:
            samples = decode_pcm(msg.pcm, sample_rate=frame.sample_rate,
                                 sample_format=frame.sample_format, channels=frame.channels)
        except AudioFormatError as exc:
            await self._bad_frame(site, msg.topic, str(exc))
            return
        self.accept(site, samples, frame.audio_time_s, time.time())
        if frame.final:
            self.end_stream(site)

    async def _bad_frame(self, site: str, topic: str, reason: str) -> None:
        state = self._site(site)
        now = time.monotonic()
        if now - state.last_error_at < ERROR_EVERY_S:
            state.suppressed_errors += 1
            return
        more = f" ({state.suppressed_errors} more since the last report)" if state.suppressed_errors else ""
        state.last_error_at, state.suppressed_errors = now, 0
        await self.service.report_error("validation", f"site {site}: {reason}{more}", topic=topic)

    def accept(self, site: str, samples: Int16Array, audio_time_s: float, arrived: float) -> None:
        """Feed one frame (sync, cheap): frames of a site must arrive here in order."""
        state = self._site(site)
        events: list[EndpointEvent] = []
        if not self.engine.has_site(site):
            self.engine.endpointer(site, origin_s=audio_time_s)
        elif abs(self.engine.endpointer(site).clock_s - audio_time_s) > self.settings.max_clock_gap_s:
            events += self.engine.restart_site(site, audio_time_s)
        if self.muted_all:
            self.engine.endpointer(site).skip(int(samples.size))
        else:
            events += self.engine.feed(site, samples)
        state.arrivals.append((audio_time_s + samples.size / SAMPLE_RATE, arrived))
        self._dispatch(site, events, arrived)

    def end_stream(self, site: str) -> None:
        """The sender said its stream ended: close an utterance in flight now."""
        if self.engine.has_site(site):
            self._dispatch(site, self.engine.end_of_stream(site), time.time())

    def _dispatch(self, site: str, events: list[EndpointEvent], arrived: float) -> None:
        state = self._site(site)
        for ev in events:
            if isinstance(ev, SpeechStarted):
                state.correlation_id = new_id()
            elif isinstance(ev, PartialReady):
                if not state.partial_busy and self.finals_pending == 0:
                    state.partial_busy = True
                    cid = state.correlation_id or new_id()
                    state.correlation_id = cid
                    self.service.spawn(self._partial(site, ev, cid), name=f"stt-partial-{site}")
            elif isinstance(ev, UtteranceEnded):
                cid = state.correlation_id or new_id()
                state.correlation_id = None
                end_ts = self._speech_end_ts(site, ev.end_s, arrived)
                self.finals_pending += 1
                self.service.spawn(self._final(site, ev, cid, end_ts), name=f"stt-final-{site}")

    def _speech_end_ts(self, site: str, end_s: float, arrived: float) -> float:
        """Wall clock at which the audio that ended speech had arrived (best estimate)."""
        for audio_end, wall in self._site(site).arrivals:
            if audio_end >= end_s - 1e-6:
                return wall
        trailing = self.engine.endpointer(site).clock_s - end_s
        return arrived - max(0.0, trailing)

    # -- transcription -------------------------------------------------------------------------
    async def _partial(self, site: str, ev: PartialReady, cid: str) -> None:
        try:
            result = await self.executor.run(self.engine.transcriber.transcribe, ev.samples)
            if result.text.strip():
                await self.service.publish(
                    T.STT_PARTIAL, SttPartial(text=result.text, speech_start_s=ev.start_s,
                                              audio_s=ev.samples.size / SAMPLE_RATE),
                    correlation_id=cid, site_id=site)
        finally:
            self._site(site).partial_busy = False

    async def _final(self, site: str, ev: UtteranceEnded, cid: str, end_ts: float) -> None:
        try:
            result = await self.executor.run(self.engine.transcriber.transcribe, ev.samples)
        finally:
            self.finals_pending -= 1
        verdict = self.engine.judge(site, ev, result)
        if isinstance(verdict, DroppedTranscript):
            self.dropped_finals += 1
            log.info("dropped transcript on %s (%s): %s", site, verdict.rejection.filter,
                     verdict.rejection.reason)
            return
        final = SttFinal(
            text=result.text, language=result.language, confidence=round(result.confidence, 4),
            speech_start_s=ev.start_s, speech_end_s=ev.end_s, speech_end_ts=end_ts,
            audio_s=ev.samples.size / SAMPLE_RATE, transcribe_ms=round(result.elapsed_s * 1000, 1),
        )
        await self.service.publish(T.STT_FINAL, final, correlation_id=cid, site_id=site)
        self.published_finals += 1
        log.info("final on %s (%.0f ms): %s", site, final.transcribe_ms, final.text)

    # -- control -------------------------------------------------------------------------------
    async def on_tts_status(self, msg: Inbound[TtsStatus]) -> None:
        site = msg.site_id or self.settings.site_id
        st = msg.payload
        if st.event == "started":
            self.engine.tts_started(site, st.text)
        elif st.event == "ended":
            self.engine.tts_ended(site, st.text)
        elif st.text:
            self.engine.echo.note_spoken(st.text, site_id=site)

    async def on_control(self, msg: Inbound[SttControl]) -> None:
        muted = msg.payload.action == "mute"
        site = msg.site_id
        if site is None:
            self.muted_all = muted
            if not muted:  # "unmute" with no site clears every per-site mute too
                for known in self.sites:
                    self.engine.duplex.unmute(known)
        elif muted:
            self.engine.duplex.mute(site)
        else:
            self.engine.duplex.unmute(site)
        log.info("%s %s", "muted" if muted else "unmuted", site or "every site")
        await self.publish_state(site)

    async def publish_state(self, site: str | None = None) -> None:
        muted = self.muted_all or (site is not None and self.engine.duplex.is_muted(site))
        await self.service.publish(T.STT_STATE, SttState(muted=muted, listening=not muted),
                                   site_id=site)

    # -- a local audio source (this process owns the microphone or plays a file) ---------------
    async def run_local(self, source: AudioSource, site: str) -> None:
        """Feed ``source`` as ``site``'s microphone and share its frames on T.AUDIO_MIC."""
        seq, t, bus_ok = 0, 0.0, True
        try:
            async for frame in source.frames():
                self.accept(site, frame, t, time.time())
                try:
                    await self.service.publish(T.AUDIO_MIC, AudioFrame(seq=seq, audio_time_s=t),
                                               pcm=frame.astype("<i2").tobytes(),
                                               params={"site": site}, site_id=site)
                    bus_ok = True
                except BusError as exc:
                    if bus_ok:
                        log.warning("cannot share microphone audio: %s", exc)
                    bus_ok = False
                seq += 1
                t += frame.size / SAMPLE_RATE
        except NoAudioDeviceError as exc:
            log.warning(NO_DEVICE, exc)
            return
        except AudioFormatError as exc:
            await self.service.report_error("config", f"audio source: {exc}")
            return
        self.end_stream(site)
        log.info("audio source for %s ended after %.1f s", site, t)


def local_source(settings: Settings) -> AudioSource | None:
    """The source this worker owns, or None (MQTT audio only); no device is one log line."""
    if settings.audio_source == "mqtt":
        return None
    if settings.audio_source.startswith("wav:"):
        return WavFileSource(Path(settings.audio_source[4:]), realtime=True)
    try:
        return MicrophoneSource(settings.audio_device)
    except NoAudioDeviceError as exc:
        log.warning(NO_DEVICE, exc)
        return None


def make_engine(settings: Settings, transcriber: Transcriber) -> SttEngine:
    echo = EchoFilter(settings.echo())
    return SttEngine(transcriber, endpointing=settings.endpointing(), echo=echo,
                     filters=FilterChain.default(echo), duplex=DuplexPolicy(settings.duplex()))


async def build(settings: Settings, service: Service) -> None:
    """The worker's ``build`` for ``run_worker``."""
    await setup(settings, service)


async def setup(settings: Settings, service: Service,
                transcriber: Transcriber | None = None) -> SttWorker:
    """Load the model (in its executor), register handlers, start the local source if any."""
    executor = ModelExecutor("whisper", max_pending=64)
    service.add_cleanup(executor.shutdown)
    model = transcriber or WhisperTranscriber(settings.whisper())
    await executor.run(model.load)
    worker = SttWorker(settings, service, make_engine(settings, model), executor)
    worker.register()
    desc = model.describe()
    service.models = {"stt": str(desc.get("model", "")), "engine": str(desc.get("engine", ""))}
    service.capabilities = ["stt.final", "stt.partial", "audio.mic.consume"]
    source = local_source(settings)
    if source is not None:
        service.capabilities.append("audio.mic.publish")
        site = settings.site_id

        async def start_source() -> None:
            service.spawn(worker.run_local(source, site), name="stt-audio-source")

        service.on_start(start_source)
        service.add_cleanup(source.close)
    return worker
