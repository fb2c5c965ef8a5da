"""Speech over the bus: tts/say with ``audio_out`` to the gateway's site, PCM frames back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.envelope import new_id
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.runtime import Inbound, Service
from tars_gateway.errors import BadRequest, Unavailable
from tars_gateway.routes import Routes

# OpenAI's stock voice names: tars has its own voice, so these mean "the default voice".
OPENAI_VOICES = {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer",
                 "verse", "marin", "cedar"}
END_GRACE_S = 2.0


@dataclass(frozen=True)
class Chunk:
    sample_rate: int
    pcm: bytes


@dataclass
class _Stream:
    queue: asyncio.Queue[Chunk | None] = field(default_factory=asyncio.Queue)
    error: str | None = None
    got_audio: bool = False
    ended: bool = False


class TtsClient:
    """Asks the tts worker to speak to the gateway's own site and yields the frames it sends."""

    def __init__(self, service: Service, routes: Routes, site: str) -> None:
        self.service = service
        self.site = site
        self.streams: dict[str, _Stream] = {}
        routes.handle(T.AUDIO_OUT, self.on_audio, topic=T.AUDIO_OUT.topic(site=site))
        routes.handle(T.TTS_STATUS, self.on_status)

    async def on_audio(self, msg: Inbound[AudioFrame]) -> None:
        stream = self.streams.get(msg.correlation_id)
        if stream is None:
            return
        if msg.pcm:
            stream.got_audio = True
            stream.queue.put_nowait(Chunk(msg.payload.sample_rate, msg.pcm))
        if msg.payload.final:
            stream.queue.put_nowait(None)

    async def on_status(self, msg: Inbound[TtsStatus]) -> None:
        stream = self.streams.get(msg.correlation_id)
        if stream is None or msg.payload.event != "ended":
            return
        stream.ended = True
        reason = msg.payload.reason or "done"
        if reason not in ("done", "stopped") and not stream.got_audio:
            stream.error = reason
            stream.queue.put_nowait(None)
        elif not stream.got_audio:
            stream.queue.put_nowait(None)

    async def speak(self, text: str, voice: str | None, *, timeout_s: float) -> AsyncGenerator[Chunk, None]:
        """Yield the reply's audio as it arrives (the first chunk within ``timeout_s``)."""
        cid = new_id()
        stream = self.streams[cid] = _Stream()
        complete = False
        try:
            say = TtsSay(text=text, voice=None if voice in OPENAI_VOICES else voice, audio_out=True)
            await self.service.publish(T.TTS_SAY, say, correlation_id=cid, site_id=self.site,
                                       expiry_s=timeout_s)
            wait = timeout_s
            while True:
                try:
                    chunk = await asyncio.wait_for(stream.queue.get(), wait)
                except TimeoutError:
                    if not stream.got_audio:
                        raise Unavailable("the text-to-speech worker did not answer in time",
                                          code="tts_timeout", status=504) from None
                    complete = True  # the end frame was lost: what came is the reply
                    return
                if chunk is None:
                    complete = True
                    if stream.error is not None:
                        raise BadRequest(f"speech failed: {stream.error}", param="input", code="tts_error")
                    return
                wait = END_GRACE_S + 5.0
                yield chunk
        finally:
            self.streams.pop(cid, None)
            if not complete:  # the caller went away or gave up: stop synthesizing
                await self.service.publish(T.TTS_CONTROL, TtsControl(action="stop", target=cid),
                                           site_id=self.site)
