"""The ASR server: ``transcribe`` + ``audio-start/chunk/stop`` → ``transcript``, via the stt worker.

Each stream goes out on a site of its own with ``purpose="transcription"`` (never a wake event,
never a turn); its last frame is ``final``. The stt worker's finals for that site come back and
are sent as ``transcript-start``, one ``transcript-chunk`` per utterance, ``transcript-stop``,
then the whole ``transcript``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop
from wyoming.event import Event

from tars.contracts.stt import SttFinal
from tars.runtime import Inbound
from tars_wyoming.audio import MicStream, audio_format, open_stream
from tars_wyoming.connection import Connection
from tars_wyoming.wire import BadEvent

log = logging.getLogger(__name__)
TAIL_S = 1.0
"""A final ending this close to the end of the stream is the stream's last."""
COVER_S = 0.8
"""A final ending this close to the last loud audio covers it."""
MIN_LOUD_S = 0.2


async def collect_finals(inbox: asyncio.Queue[Inbound[Any]], stream: MicStream, *,
                         settle_s: float, timeout_s: float) -> list[SttFinal]:
    """Finals of one stream, after its last frame: audio loud enough to hold speech is waited
    for until a final covers its end (the stt worker answers in order), up to ``timeout_s``;
    quiet audio only ``settle_s``."""
    finals: list[SttFinal] = []
    speech = stream.loud_s >= MIN_LOUD_S
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        wait = left if speech else min(settle_s, left)
        if wait <= 0:
            return finals
        try:
            msg = await asyncio.wait_for(inbox.get(), wait)
        except TimeoutError:
            return finals
        if not isinstance(msg.payload, SttFinal):
            continue
        final = msg.payload
        finals.append(final)
        if final.speech_end_s >= stream.audio_s - TAIL_S:
            return finals
        if final.speech_end_s >= stream.loud_end_s - COVER_S:
            return finals  # the last loud audio is covered: the stt worker answers in order


class AsrConnection(Connection):
    domain = "asr"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.language: str | None = None
        self.stream: MicStream | None = None
        self.inbox: asyncio.Queue[Inbound[Any]] | None = None

    async def handle(self, event: Event) -> bool:
        kind = event.type
        if kind == "transcribe":
            language = event.data.get("language")
            if language is not None and not isinstance(language, str):
                raise BadEvent("transcribe: language must be a string")
            self.language = language
        elif kind == "audio-start":
            await self.start(event.data)
        elif kind == "audio-chunk":
            await open_stream(self.stream, kind).write(event.data, event.payload)
        elif kind == "audio-stop":
            open_stream(self.stream, kind)
            await self.finish()
        else:
            return False
        return True

    async def start(self, data: dict[str, Any]) -> None:
        if self.stream is not None:
            raise BadEvent("audio-start while a stream is open", "stream-open")
        audio_format(data)
        site = self.new_site("asr")
        self.inbox = self.ctx.routes.open(site)
        self.stream = MicStream(self.ctx.service, site, "transcription", uuid.uuid4().hex,
                                max_s=self.ctx.settings.max_stream_s)

    async def finish(self) -> None:
        stream, inbox = self.stream, self.inbox
        assert stream is not None and inbox is not None
        settings = self.ctx.settings
        try:
            end_s = await stream.end()
            finals = await collect_finals(inbox, stream, settle_s=settings.asr_settle_s,
                                          timeout_s=settings.asr_timeout_s)
        finally:
            self.ctx.routes.close(stream.site)
            self.stream, self.inbox = None, None
        language = finals[0].language if finals else (self.language or settings.languages[0])
        text = " ".join(f.text.strip() for f in finals if f.text.strip())
        log.info("transcribed %.1f s for client %s: %r", end_s, self.id, text)
        await self.send(TranscriptStart(language=language))
        for final in finals:
            if final.text.strip():
                await self.send(TranscriptChunk(text=final.text.strip()))
        await self.send(TranscriptStop())
        await self.send(Transcript(text=text, language=language))
        self.language = None

    async def cleanup(self) -> None:
        stream = self.stream
        if stream is not None:
            self.ctx.routes.close(stream.site)
            await stream.end()  # flush the stt worker's utterance for a client that left
            self.stream = None
