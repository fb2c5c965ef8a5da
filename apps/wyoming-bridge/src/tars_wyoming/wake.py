"""The wake server: ``detect`` + ``audio-start/chunk/stop`` → ``detection`` / ``not-detected``,
via wake-activation (audio with ``purpose="detection"`` on a site of the stream's own)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from wyoming.event import Event
from wyoming.wake import Detection, NotDetected

from tars.contracts.wake import WakeEvent
from tars.runtime import Inbound
from tars_wyoming.audio import MicStream, audio_format, open_stream
from tars_wyoming.connection import Connection
from tars_wyoming.wire import BadEvent

log = logging.getLogger(__name__)


def model_key(name: str) -> str:
    """``"Hey Jarvis"`` / ``"hey_jarvis"`` / ``"hey_jarvis_v0.1"`` → ``"hey_jarvis"``."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return key.split("_v0")[0]


class WakeConnection(Connection):
    domain = "wake"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.names: set[str] | None = None
        self.stream: MicStream | None = None
        self.detections = 0
        self.relay: asyncio.Task[None] | None = None

    async def handle(self, event: Event) -> bool:
        kind = event.type
        if kind == "detect":
            names = event.data.get("names")
            if names is not None and (not isinstance(names, list)
                                      or not all(isinstance(n, str) for n in names)):
                raise BadEvent("detect: names must be a list of strings")
            self.names = {model_key(n) for n in names} if names else None
        elif kind == "audio-start":
            if self.stream is not None:
                raise BadEvent("audio-start while a stream is open", "stream-open")
            audio_format(event.data)
            site = self.new_site("wake")
            inbox = self.ctx.routes.open(site)
            self.stream = MicStream(self.ctx.service, site, "detection", uuid.uuid4().hex,
                                    max_s=self.ctx.settings.max_stream_s)
            self.detections = 0
            self.relay = asyncio.create_task(self._relay(inbox), name=f"wyoming-wake-{self.id}")
        elif kind == "audio-chunk":
            await open_stream(self.stream, kind).write(event.data, event.payload)
        elif kind == "audio-stop":
            open_stream(self.stream, kind)
            await self.finish()
        else:
            return False
        return True

    async def _relay(self, inbox: asyncio.Queue[Inbound[Any]]) -> None:
        while True:
            msg = await inbox.get()
            if not isinstance(msg.payload, WakeEvent):
                continue
            event = msg.payload
            if self.names is not None and model_key(event.model) not in self.names:
                continue
            self.detections += 1
            log.info("wake client %s: %s %.3f at %.2f s", self.id, event.model, event.score,
                     event.audio_time_s)
            await self.send(Detection(name=event.model, timestamp=round(event.audio_time_s * 1000)))

    async def finish(self) -> None:
        stream = self.stream
        assert stream is not None
        await stream.end()
        await asyncio.sleep(self.ctx.settings.wake_settle_s)  # frames still queued in the worker
        await self._stop_relay()
        if self.detections == 0:
            await self.send(NotDetected())

    async def _stop_relay(self) -> None:
        if self.stream is not None:
            self.ctx.routes.close(self.stream.site)
            self.stream = None
        if self.relay is not None:
            self.relay.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self.relay
            self.relay = None

    async def cleanup(self) -> None:
        await self._stop_relay()
