"""The stt worker on the bus: audio frames in, partial and final transcripts out."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE, AudioFormatError, AudioSource, BadFrames, frame_samples
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame, AudioPurpose
from tars.contracts.envelope import new_id
from tars.contracts.stt import SttControl, SttState
from tars.contracts.tts import TtsStatus
from tars.contracts.wake import WakeEvent
from tars.runtime import BusError, Inbound, ModelExecutor, PeerEvent, Peers, Service
from tars_stt.aecrun import EchoCancelling
from tars_stt.duplex import DuplexPolicy
from tars_stt.endpointer import (
    Endpointer,
    EndpointEvent,
    PartialReady,
    PauseStarted,
    SpeechResumed,
    SpeechStarted,
    UtteranceEnded,
)
from tars_stt.engine import SttEngine
from tars_stt.errors import NoAudioDeviceError
from tars_stt.filters import EchoFilter, FilterChain
from tars_stt.finals import Transcripts
from tars_stt.settings import Settings
from tars_stt.smartturn import SmartTurn, open_smart_turn
from tars_stt.sources import MicrophoneSource, WavFileSource
from tars_stt.streams import (
    AudioRing,
    InFlight,
    PendingWake,
    Speculation,
    Stream,
    StreamTable,
    stream_key,
)
from tars_stt.transcriber import Transcriber, WhisperTranscriber
from tars_stt.vad import WebRtcVad
from tars_stt.wakecut import command_start

log = logging.getLogger("tars_stt.service")

Int16Array = npt.NDArray[np.int16]
NO_DEVICE = "no audio input device: listening to MQTT audio only (%s)"
SUPERSEDE_S = 1.0
"""A final in flight that ended less than this before a wake word's end held the wake word."""


def site_of(topic: str) -> str:
    """``tars/audio/<site>/mic`` -> ``<site>``."""
    parts = topic.split("/")
    return parts[-2] if len(parts) >= 2 else ""


class SttWorker:
    """Per-stream endpointing on the loop; transcription in the model's executor."""

    def __init__(self, settings: Settings, service: Service, engine: SttEngine,
                 executor: ModelExecutor, turn: SmartTurn | None = None) -> None:
        self.settings = settings
        self.service = service
        self.engine = engine
        self.streams = StreamTable(settings.max_streams, settings.stream_idle_s)
        self.transcripts = Transcripts(service, engine, executor, turn)
        self.muted_all = False
        self.tts = Peers(service, settings.tts_service)
        self.bad_frames = BadFrames(service)
        self.vad = WebRtcVad(settings.endpointer.vad_aggressiveness, 30)
        self.aec: EchoCancelling | None = None
        """The local microphone's echo canceller (``aec.enabled`` or ``duplex.mode = "aec"``)."""

    @property
    def published_finals(self) -> int:
        return self.transcripts.published

    @property
    def dropped_finals(self) -> int:
        return self.transcripts.dropped

    def register(self) -> None:
        svc = self.service
        svc.handle(T.AUDIO_MIC, self.on_audio)
        svc.handle(T.TTS_STATUS, self.on_tts_status)
        self.tts.listen(self.on_tts_presence)
        svc.handle(T.WAKE_EVENT, self.on_wake)
        svc.handle(T.STT_CONTROL, self.on_control)
        if self.aec is not None:
            svc.handle(T.AUDIO_REF, self.aec.on_ref,
                       topic=T.AUDIO_REF.topic(site=self.settings.site_id))
        svc.on_start(self.publish_state)

    # -- audio in ------------------------------------------------------------------------------
    async def on_audio(self, msg: Inbound[AudioFrame]) -> None:
        if msg.envelope.source == self.service.instance:
            return  # our own microphone frames, already fed locally
        site, frame = site_of(msg.topic), msg.payload
        if frame.purpose == "detection":
            return  # wake word detection only
        key = stream_key(site, frame.purpose, msg.correlation_id)
        if msg.pcm:
            try:
                samples = frame_samples(frame, msg.pcm)
            except AudioFormatError as exc:
                await self.bad_frames.report(site, msg.topic, str(exc))
                return
            self.accept(site, samples, frame.audio_time_s, time.time(), purpose=frame.purpose,
                        correlation_id=msg.correlation_id)
        if frame.final:
            self.end_stream(key)

    def _stream(self, site: str, purpose: AudioPurpose, cid: str | None,
                audio_time_s: float) -> Stream:
        key = stream_key(site, purpose, cid or "")
        stream = self.streams.get(key)
        if stream is None:
            ring_s = self.settings.wake_ring_s if purpose == "turn" else 0.0
            stream = Stream(key, site, purpose, self._endpointer(audio_time_s), AudioRing(ring_s),
                            client_cid=cid if purpose == "transcription" else None)
            for gone in self.streams.add(stream):
                log.info("forgot idle audio stream %s", gone.key.replace("\x00", " "))
        return stream

    def _endpointer(self, origin_s: float) -> Endpointer:
        return Endpointer(self.engine.endpointing, origin_s=origin_s)

    def accept(self, site: str, samples: Int16Array, audio_time_s: float, arrived: float, *,
               purpose: AudioPurpose = "turn", correlation_id: str | None = None) -> None:
        """Feed one frame (sync, cheap): frames of a stream must arrive here in order."""
        stream = self._stream(site, purpose, correlation_id, audio_time_s)
        events: list[EndpointEvent] = []
        if abs(stream.endpointer.clock_s - audio_time_s) > self.settings.max_clock_gap_s:
            events += stream.endpointer.flush()
            stream.endpointer = self._endpointer(audio_time_s)
            stream.ring.clear()
            stream.arrivals.clear()  # times of the old clock: they would date the new audio
            stream.cut_until_s = float("-inf")
        stream.ring.append(audio_time_s, samples)
        stream.arrivals.append((audio_time_s + samples.size / SAMPLE_RATE, arrived))
        ep = stream.endpointer
        if self.muted_all or (purpose == "turn" and self.engine.duplex.should_drop(site)):
            ep.skip(int(samples.size))
        else:
            if stream.cut_until_s > audio_time_s:  # the end of a wake word: not the command
                cut = min(samples.size, round((stream.cut_until_s - audio_time_s) * SAMPLE_RATE))
                ep.skip(cut)
                samples = samples[cut:]
            if samples.size:
                events += ep.feed(samples)
        self._dispatch(stream, events, arrived)
        self.maybe_end(stream)

    def end_stream(self, key: str) -> None:
        """The sender said its stream ended: close an utterance in flight now."""
        stream = self.streams.get(key)
        if stream is None:
            return
        self._dispatch(stream, stream.endpointer.flush(), time.time())
        if stream.purpose == "transcription":
            self.streams.remove(key)

    def _dispatch(self, stream: Stream, events: list[EndpointEvent], arrived: float) -> None:
        for ev in events:
            if isinstance(ev, SpeechStarted):
                stream.correlation_id = self._utterance_id(stream)
                stream.speech_start_ts = stream.arrived_at(ev.start_s, arrived)
            elif isinstance(ev, PartialReady):
                if not stream.partial_busy and self.transcripts.pending == 0:
                    stream.partial_busy = True
                    cid = stream.correlation_id = stream.correlation_id or self._utterance_id(stream)
                    self.service.spawn(self.transcripts.partial(stream, ev, cid),
                                       name=f"stt-partial-{stream.site}")
            elif isinstance(ev, PauseStarted):
                if stream.correlation_id is not None:
                    self._speculate(stream, ev, stream.correlation_id)
            elif isinstance(ev, SpeechResumed):
                stream.spec = None  # that pause was not the end: its transcript is dropped
            elif isinstance(ev, UtteranceEnded):
                cid = stream.correlation_id or self._utterance_id(stream)
                stream.correlation_id = None
                spec, stream.spec = stream.spec, None
                ready = spec.result if spec is not None and abs(spec.end_s - ev.end_s) < 1e-6 \
                    else None
                end_ts = stream.arrived_at(ev.end_s, arrived)
                job = InFlight(ev.start_s, ev.end_s)
                stream.inflight.append(job)
                self.service.spawn(
                    self.transcripts.final(stream, ev, cid, job, speech_end_ts=end_ts,
                                           speech_start_ts=stream.speech_start_ts or end_ts,
                                           endpoint_ts=time.time(), ready=ready),
                    name=f"stt-final-{stream.site}")

    def _speculate(self, stream: Stream, ev: PauseStarted, cid: str) -> None:
        """Transcribe while deciding: Whisper starts at the pause, the endpoint confirms it."""
        spec = Speculation(ev.end_s, asyncio.get_running_loop().create_future())
        stream.spec = spec

        async def run() -> None:
            grade = await self.transcripts.speculate(stream, spec, ev, cid)
            wait = {"complete": self.settings.complete_silence_s,
                    "plausible": self.settings.plausible_silence_s}.get(grade)
            if wait is not None and self.settings.endpoint == "transcript" and stream.spec is spec:
                spec.end_after_s = wait
                self.maybe_end(stream)

        self.service.spawn(run(), name=f"stt-speculate-{stream.site}")

    def maybe_end(self, stream: Stream) -> None:
        """End the utterance now if its speculative transcript ends it and silence held."""
        spec, ep = stream.spec, stream.endpointer
        if spec is None or spec.end_after_s is None or not ep.in_speech:
            return
        if ep.silence_s + 1e-6 >= spec.end_after_s:
            ended = ep.end_now()
            if ended is not None:
                self._dispatch(stream, [ended], time.time())

    def _utterance_id(self, stream: Stream) -> str:
        """The client's id for a transcription; the wake's id in a wake window; else a new one."""
        if stream.purpose == "transcription" and stream.client_cid:
            return stream.client_cid
        wake, stream.wake = stream.wake, None
        if wake is not None and time.monotonic() < wake.expires_at:
            return wake.correlation_id
        return new_id()

    # -- the wake word -------------------------------------------------------------------------
    async def on_wake(self, msg: Inbound[WakeEvent]) -> None:
        """The next utterance on the site is the turn: restart listening at the wake word's end."""
        ev, site = msg.payload, msg.site_id or self.settings.site_id
        if ev.purpose != "turn" or ev.phrase is not None:
            return  # detection only, or a phrase found in one of our own transcripts
        if self.muted_all or self.engine.duplex.is_muted(site):
            return
        if self.engine.duplex.tts_speaking(site):
            self.engine.duplex.tts_ended(site, at=time.monotonic() - self.engine.duplex.settings.tail_s)
        stream = self._stream(site, "turn", None, ev.audio_time_s)
        margin = self.settings.wake_cut_margin_s
        heard_s, heard = stream.ring.since(ev.audio_time_s - 1.0)
        t_w = (command_start(self.vad, heard_s, heard, ev.audio_time_s, margin_s=margin)
               if heard.size else ev.audio_time_s - margin)
        for job in stream.inflight:
            if job.start_s < t_w and job.end_s > t_w - SUPERSEDE_S:
                job.superseded = True
        stream.wake = PendingWake(msg.correlation_id, ev.audio_time_s,
                                  time.monotonic() + self.settings.wake_window_s)
        stream.correlation_id = None
        stream.cut_until_s = t_w
        start, replay = stream.ring.since(t_w)
        if not stream.ring.end_s or t_w >= stream.ring.end_s:
            start = stream.endpointer.clock_s  # not heard that far yet: cut as it arrives
        stream.endpointer = self._endpointer(start)
        events = stream.endpointer.feed(replay) if replay.size else []
        log.info("wake on %s (%s): listening from %.2f s, %.2f s replayed", site,
                 msg.correlation_id[:12], t_w, replay.size / SAMPLE_RATE)
        self._dispatch(stream, events, time.time())

    # -- the speaker ---------------------------------------------------------------------------
    async def on_tts_status(self, msg: Inbound[TtsStatus]) -> None:
        site = msg.site_id or self.settings.site_id
        st = msg.payload
        if st.event == "started":
            self.engine.tts_started(site, st.text)
        elif st.event == "ended":
            self.engine.tts_ended(site, st.text)
            if self.aec is not None and site == self.settings.site_id:
                self.aec.report()
        else:
            self.engine.duplex.tts_activity(site)
            if st.text:
                self.engine.echo.note_spoken(st.text, site_id=site)

    async def on_tts_presence(self, event: PeerEvent) -> None:
        """The tts worker went offline (or restarted): nothing it was saying plays any more."""
        st = event.status
        if st.state == "offline" or event.restarted:
            sites = self.engine.duplex.speaker_gone()
            if sites:
                log.warning("tts %s: listening again on %s", "offline" if st.state == "offline"
                            else "restarted", ", ".join(sites))

    # -- control -------------------------------------------------------------------------------
    async def on_control(self, msg: Inbound[SttControl]) -> None:
        muted = msg.payload.action == "mute"
        site = msg.site_id
        if site is None:
            self.muted_all = muted
            if not muted:  # "unmute" with no site clears every per-site mute too
                for known in self.streams.values():
                    self.engine.duplex.unmute(known.site)
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
                if self.aec is not None:  # the echo-cancelled microphone is the microphone
                    frame = await self.aec.cancel(frame, time.time())
                    if not frame.size:
                        continue
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
    echo = EchoFilter(settings.echo)
    return SttEngine(transcriber, endpointing=settings.endpointing(), echo=echo,
                     filters=FilterChain.default(echo), duplex=DuplexPolicy(settings.duplex))


async def build(settings: Settings, service: Service) -> None:
    """The worker's ``build`` for ``run_worker``."""
    await setup(settings, service)


async def setup(settings: Settings, service: Service,
                transcriber: Transcriber | None = None) -> SttWorker:
    """Load the model (in its executor), register handlers, start the local source if any."""
    executor = ModelExecutor("whisper", max_pending=64)
    service.add_cleanup(executor.shutdown)
    model = transcriber or WhisperTranscriber(settings.whisper)
    await executor.run(model.load)
    turn = await open_smart_turn(settings, executor)
    worker = SttWorker(settings, service, make_engine(settings, model), executor, turn)
    source = local_source(settings)
    if source is not None and settings.cancels_echo():
        worker.aec = await EchoCancelling.open(settings.aec)
        if worker.aec is not None:
            worker.engine.duplex.cancelled.add(settings.site_id)
            service.add_cleanup(worker.aec.close)
    worker.register()
    desc = model.describe()
    service.models = {"stt": str(desc.get("model", "")), "engine": str(desc.get("engine", ""))}
    if turn is not None:
        service.models["turn"] = str(turn.describe()["model"])
    service.capabilities = ["stt.final", "stt.partial", "audio.mic.consume", "stt.transcription"]
    if source is not None:
        service.capabilities.append("audio.mic.publish")
        site = settings.site_id

        async def start_source() -> None:
            service.spawn(worker.run_local(source, site), name="stt-audio-source")

        service.on_start(start_source)
        service.add_cleanup(source.close)
    return worker
