"""The tts worker's client: T.TTS_SAY → its T.TTS_STATUS events and (``audio_out``) its frames."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np

from tars.audio.pcm import Int16Array
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.envelope import new_id
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.runtime.errors import RequestTimeout
from tars.runtime.service import Inbound, Service

AUDIO_GRACE_S = 5.0
"""After the ``ended`` status, how long the last audio frames may take to arrive."""


@dataclass(frozen=True)
class Chunk:
    """A piece of reply audio: 16-bit mono PCM at ``sample_rate``."""

    sample_rate: int
    pcm: bytes


@dataclass
class Spoken:
    """What one say request produced, as seen by the client that sent it."""

    correlation_id: str
    requested_at: float
    ended: TtsStatus
    started: TtsStatus | None = None
    samples: Int16Array = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    sample_rate: int = 16_000

    @property
    def first_audio_ms(self) -> float | None:
        if self.started is None or self.started.first_sample_ts is None:
            return None
        return (self.started.first_sample_ts - self.requested_at) * 1000


class Speech:
    """One say request as the tts worker answers it: the ``started`` / ``ended`` statuses, and the
    audio frames sent to the client's site in ``audio`` (arrival order; None after the last
    frame, or at ``ended`` when no audio came). ``keep`` also keeps the frames for ``samples``."""

    def __init__(self, correlation_id: str, site: str | None, *, keep: bool = False) -> None:
        self.correlation_id = correlation_id
        self.site = site
        self.keep = keep
        self.requested_at = time.time()
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[TtsStatus] = loop.create_future()
        self.ended: asyncio.Future[TtsStatus] = loop.create_future()
        self.audio: asyncio.Queue[Chunk | None] = asyncio.Queue()
        self.audio_done = asyncio.Event()
        self.got_audio = False
        self.sample_rate = 16_000
        self.error: str | None = None
        """The ``ended`` reason when it is neither "done" nor "stopped"."""
        self._frames: dict[int, bytes] = {}

    def on_status(self, status: TtsStatus) -> None:
        fut = {"started": self.started, "ended": self.ended}.get(status.event)
        if fut is None or fut.done():
            return
        fut.set_result(status)
        if status.event == "ended":
            reason = status.reason or "done"
            if reason not in ("done", "stopped"):
                self.error = reason
            if not self.got_audio:
                self.audio.put_nowait(None)

    def on_audio(self, frame: AudioFrame, pcm: bytes) -> None:
        self.sample_rate = frame.sample_rate
        if pcm:
            self.got_audio = True
            self.audio.put_nowait(Chunk(frame.sample_rate, pcm))
            if self.keep:
                self._frames[frame.seq] = pcm
        if frame.final:
            self.audio_done.set()
            self.audio.put_nowait(None)

    def samples(self) -> Int16Array:
        """The kept audio, in frame order."""
        raw = b"".join(self._frames[k] for k in sorted(self._frames))
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)


class TtsClient:
    """Sends say requests to the tts worker and follows each by its correlation id.

    Construct it before the service starts: it registers its handlers on ``service`` (the audio
    frames of ``audio_site`` when given: a client hears the replies it asked to be sent to it).
    """

    def __init__(self, service: Service, *, audio_site: str | None = None) -> None:
        self.service = service
        self.audio_site = audio_site
        self.speeches: dict[str, Speech] = {}
        service.handle(T.TTS_STATUS, self._on_status)
        if audio_site is not None:
            service.handle(T.AUDIO_OUT, self._on_audio, topic=T.AUDIO_OUT.topic(site=audio_site))

    async def say(self, say: TtsSay, *, site_id: str | None = None, expiry_s: float | None = None,
                  correlation_id: str | None = None, keep: bool = False) -> Speech:
        """Publish ``say`` (its audio to ``audio_site`` with ``audio_out``) and follow it until
        ``forget``."""
        site = site_id or self.audio_site
        speech = Speech(correlation_id or new_id(), site, keep=keep)
        self.speeches[speech.correlation_id] = speech
        await self.service.publish(T.TTS_SAY, say, correlation_id=speech.correlation_id,
                                   site_id=site, expiry_s=expiry_s)
        return speech

    def forget(self, speech: Speech) -> None:
        self.speeches.pop(speech.correlation_id, None)

    async def stop(self, speech: Speech) -> None:
        """Stop synthesizing ``speech`` (its caller went away or gave up)."""
        await self.service.publish(T.TTS_CONTROL, TtsControl(action="stop", target=speech.correlation_id),
                                   site_id=speech.site)

    async def speak(self, text: str, *, site_id: str | None = None, record: bool = False,
                    timeout_s: float) -> Spoken:
        """Say ``text`` and wait for its ``ended`` status (RequestTimeout after ``timeout_s``);
        ``record``: with the reply's audio (sent to ``audio_site``)."""
        speech = await self.say(TtsSay(text=text, audio_out=record), site_id=site_id,
                                expiry_s=timeout_s, keep=record)
        try:
            try:
                ended = await asyncio.wait_for(asyncio.shield(speech.ended), timeout_s)
            except TimeoutError:
                raise RequestTimeout(
                    f"the tts worker did not finish speaking within {timeout_s:.0f} s") from None
            if record and ended.audio_s > 0:
                try:
                    await asyncio.wait_for(speech.audio_done.wait(), AUDIO_GRACE_S)
                except TimeoutError:
                    pass  # keep what arrived
        finally:
            self.forget(speech)
        started = speech.started.result() if speech.started.done() else None
        return Spoken(speech.correlation_id, speech.requested_at, ended, started, speech.samples(),
                      speech.sample_rate)

    async def _on_status(self, msg: Inbound[TtsStatus]) -> None:
        speech = self.speeches.get(msg.correlation_id)
        if speech is not None:
            speech.on_status(msg.payload)

    async def _on_audio(self, msg: Inbound[AudioFrame]) -> None:
        speech = self.speeches.get(msg.correlation_id)
        if speech is not None:
            speech.on_audio(msg.payload, msg.pcm)
