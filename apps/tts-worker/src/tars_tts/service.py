"""The tts worker on the bus: say requests into the speech queue, controls, status events, audio out."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from tars.audio import AudioSink, NoAudioDeviceError
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.contracts.wake import WakeEvent
from tars.runtime import BusError, ConfigError, Inbound, Service
from tars_tts import build_synthesizer
from tars_tts.errors import EmptyTextError, SpeechQueueClosedError, TextRejectedError, TtsError
from tars_tts.events import SayRequest, SentenceSpoken, SpeakingEnded, SpeakingStarted, SpeechEvent
from tars_tts.outputs import MqttAudioSink, ReplyOutputs
from tars_tts.player import SpeechQueue
from tars_tts.ref import RefPublisher
from tars_tts.settings import Settings
from tars_tts.sinks import WavFileSink
from tars_tts.speaker import SpeakerSink, earcon
from tars_tts.synth import Synthesizer

log = logging.getLogger(__name__)
_REMEMBERED = 1024


@dataclass(slots=True)
class _ReplyInfo:
    site: str
    audio_out: bool


class TtsWorker:
    """Owns the speech queue of one service and turns its events into TtsStatus messages."""

    def __init__(self, settings: Settings, service: Service, synthesizer: Synthesizer,
                 local: list[AudioSink], voice_names: set[str]) -> None:
        self.settings = settings
        self.service = service
        self.voice_names = voice_names
        self._replies: OrderedDict[str, _ReplyInfo] = OrderedDict()
        self._errors: dict[str, str] = {}
        mqtt = MqttAudioSink(self._publish_frame, self._site_of, rate=settings.satellite_rate,
                             lead_s=settings.mqtt_lead_s)
        self.outputs = ReplyOutputs(local, mqtt, mqtt_all="mqtt" in settings.sink,
                                    wants_mqtt=self._wants_mqtt, is_remote=self._is_remote)
        engine = settings.engine()
        self.queue = SpeechQueue(synthesizer, self.outputs, text=engine.text, player=engine.player,
                                 on_event=self._on_event)

    # -- requests -------------------------------------------------------------------------
    async def on_say(self, msg: Inbound[TtsSay]) -> None:
        say, cid = msg.payload, msg.correlation_id
        site = msg.site_id or self.service.site_id or "default"
        if say.voice and say.voice not in self.voice_names:
            known = ", ".join(sorted(n for n in self.voice_names if n))
            await self._reject(msg, f"unknown voice {say.voice!r} (this worker speaks: {known})")
            return
        if say.prepare:
            self.service.spawn(self._prepare(say, cid), name=f"tts-prepare-{cid[:8]}")
            return
        part = say.stream and not say.final
        if part and not say.text.strip():
            return  # an empty chunk of a streamed reply adds nothing
        info = self._replies.get(cid)
        self._replies[cid] = _ReplyInfo(site, say.audio_out or (info is not None and info.audio_out))
        self._replies.move_to_end(cid)
        while len(self._replies) > _REMEMBERED:
            self._replies.popitem(last=False)
        try:
            await self.queue.say(SayRequest(say.text, cid, site_id=site, streamed_part=part,
                                            expires_at=msg.envelope.expires_at))
        except EmptyTextError as exc:
            if not part:
                await self._reject(msg, str(exc))
        except TextRejectedError as exc:
            await self._reject(msg, str(exc))
        except SpeechQueueClosedError:
            log.debug("say %s arrived while stopping", cid)

    async def _prepare(self, say: TtsSay, cid: str) -> None:
        """Synthesize a reply's text ahead of its say (a speculative transcript's answer)."""
        try:
            cached = await self.queue.prepare(say.text, first=say.index == 0)
        except TtsError as exc:  # text the say itself will reject, or a closing queue
            log.debug("prepare %s: %s", cid[:8], exc)
            return
        log.debug("prepared %s: %d piece(s) ready", cid[:8], cached)

    async def _reject(self, msg: Inbound[TtsSay], reason: str) -> None:
        """Bad input: an ``ended`` status with the reason (ending a streamed reply it belonged to)."""
        cid = msg.correlation_id
        await self.service.report_error("validation", reason, topic=msg.topic, correlation_id=cid)
        if msg.payload.stream:
            self._errors[cid] = reason
            if await self.queue.stop(cid):
                return  # the reply's own ended event carries the error
            self._errors.pop(cid, None)
        status = TtsStatus(event="ended", reason=f"error: {reason}", index=msg.payload.index)
        await self._status(status, cid, msg.site_id or self.service.site_id)

    async def on_control(self, msg: Inbound[TtsControl]) -> None:
        ctl = msg.payload
        if ctl.action == "stop":
            found = await self.queue.stop(ctl.target)
            log.info("stop %s: %s", ctl.target or "all", "stopped" if found else "nothing playing")
        elif ctl.action in ("pause", "resume"):
            (self.queue.pause if ctl.action == "pause" else self.queue.resume)()
            cid = self.queue.speaking
            if cid is not None:
                info = self._replies.get(cid)
                await self._status(TtsStatus(event="paused" if ctl.action == "pause" else "resumed"),
                                   cid, info.site if info else None)
        elif ctl.volume is None or not 0.0 <= ctl.volume <= 4.0:
            await self.service.report_error("validation", f"volume must be within 0..4, got {ctl.volume}",
                                            topic=msg.topic, correlation_id=msg.correlation_id)
        else:
            self.queue.volume = ctl.volume

    async def on_wake(self, msg: Inbound[WakeEvent]) -> None:
        """A wake word on a site: barge-in stops that site's reply, else the earcon plays."""
        wake = msg.payload
        if getattr(wake, "purpose", "turn") != "turn":
            return
        site = msg.site_id or self.service.site_id or "default"
        if wake.barge_in:
            cid = self.queue.speaking
            info = self._replies.get(cid) if cid else None
            if cid is not None and (info is None or info.site == site):
                await self.queue.stop(cid)
                log.info("barge-in on %s: stopped %s", site, cid[:12])
            return
        if not self.settings.earcon:
            return
        if site == (self.service.site_id or "default"):
            speaker = next((s for s in self.outputs.local if isinstance(s, SpeakerSink)), None)
            if speaker is not None:
                speaker.play_now(earcon(speaker.rate))
            return
        rate = self.settings.satellite_rate
        await self._publish_frame(site, msg.correlation_id, AudioFrame(sample_rate=rate, seq=0),
                                  earcon(rate).astype("<i2").tobytes())
        await self._publish_frame(site, msg.correlation_id,
                                  AudioFrame(sample_rate=rate, seq=1, final=True), b"")

    # -- events and audio out ---------------------------------------------------------------
    async def _on_event(self, event: SpeechEvent) -> None:
        cid = event.correlation_id
        if isinstance(event, SpeakingStarted):
            status = TtsStatus(event="started", first_sample_ts=event.first_sample_at,
                               first_audio_ts=event.first_audio_at)
        elif isinstance(event, SentenceSpoken):
            status = TtsStatus(event="sentence_done", text=event.text, index=event.index,
                               audio_s=round(event.audio_s, 4))
        else:
            status = self._ended(event)
            if event.reason == "error" and status.reason:
                await self.service.report_error("handler", status.reason, topic=T.TTS_SAY.topic(),
                                                correlation_id=cid)
        await self._status(status, cid, event.site_id)

    def _ended(self, event: SpeakingEnded) -> TtsStatus:
        cid = event.correlation_id
        reason: str = event.reason
        if cid in self._errors:
            reason = f"error: {self._errors.pop(cid)}"
        elif event.reason == "error":
            reason = f"error: {event.error or 'speaking failed'}"
        path = self.outputs.take_path(cid)
        log.info("reply %s %s: %.2f s of audio, %d sentence(s)", cid[:12], reason, event.audio_s,
                 event.sentences)
        return TtsStatus(event="ended", reason=reason, audio_s=round(event.audio_s, 4),
                         index=event.sentences, path=str(path) if path else None)

    async def _status(self, status: TtsStatus, cid: str, site: str | None) -> None:
        try:
            await self.service.publish(T.TTS_STATUS, status, correlation_id=cid, site_id=site)
        except BusError as exc:
            log.debug("could not publish %s status: %s", status.event, exc)

    def _site_of(self, reply_id: str) -> str:
        info = self._replies.get(reply_id)
        return info.site if info else (self.service.site_id or "default")

    def _is_remote(self, reply_id: str) -> bool:
        """A reply for another site than this worker's goes back to that site (a satellite)."""
        info = self._replies.get(reply_id)
        return info is not None and info.site != (self.service.site_id or "default")

    def _wants_mqtt(self, reply_id: str) -> bool:
        info = self._replies.get(reply_id)
        return info is not None and info.audio_out

    async def _publish_frame(self, site: str, reply_id: str, frame: AudioFrame, pcm: bytes) -> None:
        await self.service.publish(T.AUDIO_OUT, frame, correlation_id=reply_id, site_id=site,
                                   params={"site": site}, pcm=pcm)


async def open_local_sinks(settings: Settings, ref: RefPublisher | None = None,
                           ) -> tuple[list[AudioSink], list[str]]:
    """The speaker and/or WAV sinks; no speaker device means WAV files instead (one log line).

    A speaker that exists but cannot be opened (busy, wrong rate) is kept: it logs one line
    and is retried in the background."""
    wanted = [s for s in settings.sink if s != "mqtt"]
    sinks: list[AudioSink] = []
    names: list[str] = []
    for name in wanted:
        if name == "speaker":
            try:
                speaker = await asyncio.to_thread(
                    SpeakerSink, settings.speaker_device, rate=settings.speaker_rate,
                    latency_s=settings.speaker_latency_s, ref_delay_s=settings.speaker_ref_delay_s,
                    on_ref=ref.from_device if ref is not None else None)
                sinks.append(speaker)
                names.append("speaker")
                if speaker.output.up:
                    continue
                log.info("the speaker did not open (retried in the background): replies also "
                         "go to WAV files in %s", settings.wav_folder())
            except NoAudioDeviceError as exc:
                detail = "" if "device found" in str(exc) else f" ({exc})"
                log.warning("no audio output device: writing replies to WAV files in %s%s",
                            settings.wav_folder(), detail)
        if "wav" not in names:
            sinks.append(WavFileSink(settings.wav_folder(), pace=settings.wav_pace))
            names.append("wav")
    return sinks, names


def voice_name(settings: Settings, synthesizer: Synthesizer) -> str:
    """The loaded voice's name (its model file's stem)."""
    name = getattr(getattr(synthesizer, "inner", synthesizer), "voice_name", None)
    return name if isinstance(name, str) else Path(settings.voice.model).stem


def voice_names(settings: Settings, synthesizer: Synthesizer) -> set[str]:
    """Names a say request may give as ``voice`` for the one loaded voice."""
    model = settings.voice.model
    return {"default", model, Path(model).stem, Path(model).name, voice_name(settings, synthesizer)}


def _ref_publisher(settings: Settings, service: Service) -> Callable[[AudioFrame, bytes],
                                                                     Awaitable[None]]:
    site = settings.site_id or "default"

    async def publish(frame: AudioFrame, pcm: bytes) -> None:
        await service.publish(T.AUDIO_REF, frame, params={"site": site}, site_id=site, pcm=pcm)

    return publish


async def build(settings: Settings, service: Service) -> None:
    """The runner's build hook (see :func:`build_worker`)."""
    await build_worker(settings, service)


async def build_worker(settings: Settings, service: Service, *, synthesizer: Synthesizer | None = None,
                       local: list[AudioSink] | None = None) -> TtsWorker:
    """Open the sinks, load and warm the voice (off the loop), then register the handlers."""
    ref: RefPublisher | None = None
    if local is None:
        if settings.speaker_ref and "speaker" in settings.sink:
            ref = RefPublisher(_ref_publisher(settings, service), 48_000)
        local, sink_names = await open_local_sinks(settings, ref)
        if "speaker" not in sink_names:
            ref = None
    else:
        sink_names = [type(s).__name__ for s in local]
    synth = synthesizer or build_synthesizer(settings.engine())
    worker = TtsWorker(settings, service, synth, local, set())
    try:
        await worker.queue.start()  # loads the voice in the synthesis thread, with a warm-up
    except TtsError as exc:
        raise ConfigError(str(exc)) from exc
    worker.voice_names = voice_names(settings, synth)
    service.handle(T.TTS_SAY, worker.on_say)
    service.handle(T.TTS_CONTROL, worker.on_control)
    service.handle(T.WAKE_EVENT, worker.on_wake)
    service.add_cleanup(worker.queue.close)
    for sink in local:
        if isinstance(sink, SpeakerSink):
            service.add_cleanup(sink.close)
    if ref is not None:
        ref.start()
        service.add_cleanup(ref.close)
    if "mqtt" in settings.sink:
        sink_names.append("mqtt")
    service.models = {"voice": voice_name(settings, synth)}
    service.capabilities = ["say", "stream", "stop", "pause", "resume", "volume", "audio_out",
                            *(f"sink:{n}" for n in sink_names)]
    log.info("voice loaded; replies go to: %s", ", ".join(sink_names))
    return worker
