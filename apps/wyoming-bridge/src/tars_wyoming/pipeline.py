"""The pipeline server: a Wyoming satellite's audio → a tars turn → the reply audio back.

After ``run-pipeline`` the satellite's audio goes out as a microphone (``purpose="turn"``) on a
site of the connection's own, kept for the whole connection (so follow-ups work).
``start_stage="wake"`` leaves the wake word to wake-activation; ``start_stage="asr"`` (the
satellite heard the wake word itself) opens the turn with a WakeEvent from the bridge. What the
workers say about that site comes back as ``detection``, ``transcript``, ``synthesize`` (the
reply text) and ``audio-start/chunk/stop`` (the reply audio).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from wyoming.asr import Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.tts import Synthesize
from wyoming.wake import Detection

from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsControl, TtsStatus
from tars.contracts.turn import TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound
from tars_wyoming.audio import MicStream, audio_format, open_stream
from tars_wyoming.connection import Connection
from tars_wyoming.wire import BadEvent

log = logging.getLogger(__name__)
STAGES = ("wake", "asr", "intent", "handle", "tts")


class PipelineConnection(Connection):
    domain = "pipeline"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.site = self.new_site("sat")
        self.inbox = self.ctx.routes.open(self.site)
        self.stream: MicStream | None = None
        self.running = False
        self.start_stage = "wake"
        self.wake_name = "wyoming"
        self.speaking: str | None = None
        self.relay = asyncio.create_task(self._relay(), name=f"wyoming-sat-{self.id}")

    async def handle(self, event: Event) -> bool:
        kind, data = event.type, event.data
        if kind == "run-pipeline":
            start, end = data.get("start_stage"), data.get("end_stage")
            if start not in STAGES[:2] or end not in STAGES or STAGES.index(end) < STAGES.index(start):
                raise BadEvent(f"run-pipeline: stages {start!r} → {end!r} are not served "
                               "(start at wake or asr)", "bad-stage")
            name = data.get("wake_word_name")
            self.start_stage = str(start)
            self.wake_name = name if isinstance(name, str) and name else "wyoming"
            self.running = True
            if self.stream is not None and self.start_stage == "asr":
                await self._open_turn()
        elif kind == "audio-start":
            audio_format(event.data)
            if self.stream is None:
                self.stream = MicStream(self.ctx.service, self.site, "turn", uuid.uuid4().hex,
                                        max_s=float("inf"))
                if self.running and self.start_stage == "asr":
                    await self._open_turn()
        elif kind == "audio-chunk":
            await open_stream(self.stream, kind).write(event.data, event.payload)
        elif kind == "audio-stop":
            await open_stream(self.stream, kind).end()
            self.stream = None
        else:
            return False
        return True

    async def _open_turn(self) -> None:
        """The satellite heard its wake word: a WakeEvent on our site opens the turn now."""
        at = self.stream.audio_s if self.stream is not None else 0.0
        await self.ctx.service.publish(
            T.WAKE_EVENT, WakeEvent(model=self.wake_name, score=1.0, audio_time_s=at),
            site_id=self.site)

    async def _relay(self) -> None:
        started = False
        while True:
            msg = await self.inbox.get()
            payload = msg.payload
            if isinstance(payload, WakeEvent) and payload.purpose == "turn":
                if self.start_stage == "wake":
                    await self.send(Detection(name=payload.model,
                                              timestamp=round(payload.audio_time_s * 1000)))
            elif isinstance(payload, SttFinal) and payload.purpose == "turn":
                await self.send(Transcript(text=payload.text.strip(), language=payload.language))
            elif isinstance(payload, TurnResult) and payload.reply:
                await self.send(Synthesize(text=payload.reply))
            elif isinstance(payload, AudioFrame):
                started = await self._audio(msg, payload, started)
            elif isinstance(payload, TtsStatus) and payload.event == "ended":
                if started:
                    await self.send(AudioStop())
                    started = False
                self.speaking = None

    async def _audio(self, msg: Inbound[Any], frame: AudioFrame, started: bool) -> bool:
        rate = frame.sample_rate
        self.speaking = msg.correlation_id
        if msg.pcm:
            if not started:
                await self.send(AudioStart(rate=rate, width=2, channels=1, timestamp=0))
            await self.send(AudioChunk(rate=rate, width=2, channels=1, audio=msg.pcm))
            return True
        if frame.final and started:
            await self.send(AudioStop())
            return False
        return started

    async def cleanup(self) -> None:
        self.relay.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await self.relay
        self.ctx.routes.close(self.site)
        if self.stream is not None:
            await self.stream.end()
        if self.speaking is not None:
            await self.ctx.service.publish(T.TTS_CONTROL, TtsControl(action="stop", target=self.speaking),
                                           correlation_id=self.speaking, site_id=self.site)
