"""The TTS server: ``synthesize`` (or streaming ``synthesize-start/chunk/stop``) → audio, via
the tts worker.

A request is a TtsSay with ``audio_out=True`` on a site of the connection's own; the reply's
frames come back on ``tars/audio/{site}/out`` and go out as ``audio-start``, ``audio-chunk``...,
``audio-stop``; its ``ended`` status closes it. A streamed request sends each text chunk as a
streamed part (the tts worker speaks sentence by sentence as they complete) and ends with
``synthesize-stopped``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from typing import Any

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import SynthesizeStopped

from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.tts import TtsControl, TtsSay, TtsStatus
from tars.runtime import Inbound
from tars_wyoming.connection import Connection
from tars_wyoming.wire import BadEvent

log = logging.getLogger(__name__)
MAX_TEXT = 4000
_SENTENCE_END = re.compile(r"[.!?;:](?:[\"')\]]*)\s|\n")


def complete_sentences(buffer: str) -> tuple[str, str]:
    """Split streamed text into the complete sentences so far and the rest."""
    ends = [m.end() for m in _SENTENCE_END.finditer(buffer)]
    if not ends:
        return "", buffer
    return buffer[:ends[-1]], buffer[ends[-1]:]


def _text(data: dict[str, Any], event: str, *, allow_empty: bool = False) -> str:
    text = data.get("text")
    if not isinstance(text, str) or (not allow_empty and not text.strip()):
        raise BadEvent(f"{event}: text must be a non-empty string", "bad-text")
    if len(text) > MAX_TEXT:
        raise BadEvent(f"{event}: text longer than {MAX_TEXT} characters", "bad-text")
    return text


def _voice(data: dict[str, Any]) -> str | None:
    voice = data.get("voice")
    if voice is None:
        return None
    if not isinstance(voice, dict):
        raise BadEvent("voice must be an object", "bad-voice")
    name = voice.get("name")
    if name is not None and not isinstance(name, str):
        raise BadEvent("voice.name must be a string", "bad-voice")
    return name


class Reply:
    """One tars reply being relayed to the client."""

    def __init__(self, conn: TtsConnection, *, streamed: bool, voice: str | None) -> None:
        self.conn = conn
        self.site = conn.new_site("tts")
        self.cid = uuid.uuid4().hex
        self.streamed = streamed
        self.voice = voice
        self.parts = 0
        self.buffer = ""
        self.inbox = conn.ctx.routes.open(self.site)
        self.task: asyncio.Task[None] | None = None

    async def say(self, text: str, *, final: bool) -> None:
        say = TtsSay(text=text, voice=self.voice, stream=self.streamed, final=final,
                     index=self.parts, audio_out=True)
        self.parts += 1
        await self.conn.ctx.service.publish(T.TTS_SAY, say, correlation_id=self.cid,
                                            site_id=self.site,
                                            expiry_s=self.conn.ctx.settings.tts_timeout_s)

    async def add(self, text: str) -> None:
        """A streamed text chunk: sentences go to the tts worker as soon as they are complete."""
        self.buffer += text
        done, self.buffer = complete_sentences(self.buffer)
        if done.strip():
            await self.say(done, final=False)

    async def close(self) -> bool:
        """The streamed text ended: speak the rest. False when nothing at all was sent."""
        rest, self.buffer = self.buffer, ""
        if rest.strip():
            await self.say(rest, final=True)
        elif self.parts:
            await self.say("", final=True)
        return self.parts > 0

    async def relay(self) -> None:
        """Frames → audio events until the reply's ``ended`` status (and its last frame)."""
        conn, started, ended = self.conn, False, False
        deadline = time.monotonic() + conn.ctx.settings.tts_timeout_s
        rate = 16_000
        audio_done = False
        try:
            while not (ended and audio_done):
                wait = deadline - time.monotonic()
                if ended:
                    wait = min(wait, 2.0)  # the last frames may trail the status a little
                msg: Inbound[Any] = await asyncio.wait_for(self.inbox.get(), max(wait, 0.01))
                if msg.correlation_id != self.cid:
                    continue
                if isinstance(msg.payload, AudioFrame):
                    rate = msg.payload.sample_rate
                    if msg.pcm:
                        if not started:
                            await conn.send(AudioStart(rate=rate, width=2, channels=1, timestamp=0))
                            started = True
                        await conn.send(AudioChunk(rate=rate, width=2, channels=1, audio=msg.pcm))
                    if msg.payload.final:
                        audio_done = True
                elif isinstance(msg.payload, TtsStatus) and msg.payload.event == "ended":
                    ended = True
                    reason = msg.payload.reason or ""
                    if reason.startswith("error"):
                        await conn.reject(BadEvent(reason, "tts-error"), "synthesize")
                        return
                    if msg.payload.audio_s == 0:
                        audio_done = True
        except TimeoutError:
            if not ended:
                await conn.reject(BadEvent("the tts worker did not answer in time", "timeout"),
                                  "synthesize")
                return
        finally:
            conn.ctx.routes.close(self.site)
        if not started:
            await conn.send(AudioStart(rate=rate, width=2, channels=1, timestamp=0))
        await conn.send(AudioStop())
        if self.streamed:
            await conn.send(SynthesizeStopped())

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.conn.ctx.routes.close(self.site)


class TtsConnection(Connection):
    domain = "tts"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.streaming: Reply | None = None
        self.replies: set[Reply] = set()

    async def handle(self, event: Event) -> bool:
        kind, data = event.type, event.data
        if kind == "synthesize":
            text = _text(data, kind)
            if self.streaming is not None:
                return True  # the non-streaming copy a streaming client also sends
            reply = Reply(self, streamed=False, voice=_voice(data))
            await self.start(reply)
            await reply.say(text, final=True)
        elif kind == "synthesize-start":
            if self.streaming is not None:
                raise BadEvent("synthesize-start while a streamed request is open", "stream-open")
            self.streaming = Reply(self, streamed=True, voice=_voice(data))
            await self.start(self.streaming)
        elif kind == "synthesize-chunk":
            text = _text(data, kind, allow_empty=True)
            if self.streaming is None:
                raise BadEvent("synthesize-chunk before synthesize-start", "no-stream")
            if text:
                await self.streaming.add(text)
        elif kind == "synthesize-stop":
            if self.streaming is None:
                raise BadEvent("synthesize-stop before synthesize-start", "no-stream")
            reply, self.streaming = self.streaming, None
            if not await reply.close():
                reply.cancel()
                await self.send(SynthesizeStopped())
        else:
            return False
        return True

    async def start(self, reply: Reply) -> None:
        self.replies.add(reply)
        reply.task = asyncio.create_task(reply.relay(), name=f"wyoming-tts-{reply.cid[:8]}")
        reply.task.add_done_callback(lambda _t: self.replies.discard(reply))

    async def cleanup(self) -> None:
        """A client that left: stop its replies in the tts worker and forget them."""
        for reply in list(self.replies):
            reply.cancel()
            await self.ctx.service.publish(T.TTS_CONTROL, TtsControl(action="stop", target=reply.cid),
                                           correlation_id=reply.cid, site_id=reply.site)
