"""Push-to-talk from the browser: its microphone as MQTT audio of one site, the reply back."""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import numpy as np

from tars.audio.pcm import SAMPLE_RATE
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.envelope import new_id
from tars.contracts.stt import SttFinal
from tars.contracts.turn import TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound, Service
from tars_gateway.routes import Routes

QUEUE_MAX = 2000
RATE_HEADER = struct.Struct("<I")
MAX_FRAME_BYTES = SAMPLE_RATE * 2  # one second of 16 kHz int16 per WebSocket message at most


class TalkHub:
    """Everything said and heard on the browser site. Browser clients join to get the
    transcript, the turn's result and the reply audio (binary: u32 rate + s16le PCM)."""

    def __init__(self, service: Service, routes: Routes, site: str) -> None:
        self.service = service
        self.site = site
        self.clients: set[asyncio.Queue[dict[str, Any] | bytes]] = set()
        self.clock_s = 0.0
        self.seq = 0
        self.turn_id: str | None = None
        self.talking = False
        routes.handle(T.AUDIO_OUT, self.on_audio, topic=T.AUDIO_OUT.topic(site=site))
        routes.handle(T.STT_FINAL, self.on_final)
        routes.handle(T.TURN_RESULT, self.on_result)

    def join(self) -> asyncio.Queue[dict[str, Any] | bytes]:
        queue: asyncio.Queue[dict[str, Any] | bytes] = asyncio.Queue(QUEUE_MAX)
        self.clients.add(queue)
        return queue

    def leave(self, queue: asyncio.Queue[dict[str, Any] | bytes]) -> None:
        self.clients.discard(queue)

    def _send(self, item: dict[str, Any] | bytes) -> None:
        for queue in list(self.clients):
            if not queue.full():
                queue.put_nowait(item)

    # -- browser -> bus -----------------------------------------------------------------------
    async def press(self) -> str:
        """Push-to-talk pressed: a wake event opens the turn (its id is the turn id)."""
        if self.talking:
            await self.release()
        self.turn_id = new_id()
        self.talking = True
        self.clock_s += 1.0  # a gap keeps presses apart on the site's audio clock
        await self.service.publish(
            T.WAKE_EVENT, WakeEvent(model="push-to-talk", score=1.0, audio_time_s=round(self.clock_s, 4)),
            correlation_id=self.turn_id, site_id=self.site)
        self._send({"type": "turn", "correlation_id": self.turn_id})
        return self.turn_id

    async def audio(self, pcm: bytes) -> None:
        """16 kHz mono s16le from the browser while the button is held."""
        if not self.talking or not pcm:
            return
        pcm = pcm[: min(len(pcm), MAX_FRAME_BYTES) // 2 * 2]
        await self.service.publish(T.AUDIO_MIC, AudioFrame(seq=self.seq, audio_time_s=round(self.clock_s, 4)),
                                   pcm=pcm, params={"site": self.site}, site_id=self.site,
                                   correlation_id=self.turn_id)
        self.seq += 1
        self.clock_s += len(pcm) / 2 / SAMPLE_RATE

    async def release(self) -> None:
        """Button released: a final frame ends the utterance at once."""
        if not self.talking:
            return
        self.talking = False
        silence = np.zeros(int(0.3 * SAMPLE_RATE), dtype="<i2").tobytes()
        await self.service.publish(T.AUDIO_MIC, AudioFrame(seq=self.seq, audio_time_s=round(self.clock_s, 4),
                                                           final=True),
                                   pcm=silence, params={"site": self.site}, site_id=self.site,
                                   correlation_id=self.turn_id)
        self.seq += 1
        self.clock_s += 0.3

    # -- bus -> browser -----------------------------------------------------------------------
    async def on_final(self, msg: Inbound[SttFinal]) -> None:
        if msg.site_id == self.site:
            self._send({"type": "transcript", "text": msg.payload.text, "correlation_id": msg.correlation_id})

    async def on_result(self, msg: Inbound[TurnResult]) -> None:
        if msg.site_id == self.site:
            self._send({"type": "result", "correlation_id": msg.correlation_id,
                        **msg.payload.model_dump(mode="json")})

    async def on_audio(self, msg: Inbound[AudioFrame]) -> None:
        if msg.pcm:
            self._send(RATE_HEADER.pack(msg.payload.sample_rate) + msg.pcm)
        if msg.payload.final:
            self._send({"type": "audio_end", "correlation_id": msg.correlation_id})
