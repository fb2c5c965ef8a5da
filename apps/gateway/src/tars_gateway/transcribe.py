"""Transcription over the bus: audio frames (purpose "transcription") out, stt finals back."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from tars.audio.pcm import SAMPLE_RATE, Int16Array
from tars.clients.stt import stream_audio
from tars.contracts import topics as T
from tars.contracts.envelope import new_id
from tars.contracts.stt import SttFinal, SttPartial
from tars.runtime import Inbound, Service
from tars.stack.converse import speech_end_s
from tars_gateway.errors import Unavailable
from tars_gateway.routes import Routes

FRAME_MS = 100
# A final whose speech ends this close to the last loud sample of the audio is the last one.
END_TOLERANCE_S = 0.5
# Each use of a site starts its audio clock this far after the previous use ended.
CLOCK_GAP_S = 5.0


@dataclass(frozen=True)
class Segment:
    text: str
    start_s: float
    end_s: float
    confidence: float
    language: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    duration_s: float
    segments: list[Segment]
    elapsed_ms: float


@dataclass
class _Pending:
    correlation_id: str
    origin_s: float
    finals: list[SttFinal] = field(default_factory=list)
    progress: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class _Slot:
    site: str
    clock_s: float = 0.0


class SttClient:
    """Streams audio to the stt worker on a pool of the gateway's own sites (one request per
    site at a time) and collects the finals of that request."""

    def __init__(self, service: Service, routes: Routes, site_prefix: str, slots: int, *,
                 settle_s: float = 2.0) -> None:
        self.service = service
        self.settle_s = settle_s
        self.slots: asyncio.Queue[_Slot] = asyncio.Queue()
        for n in range(slots):
            self.slots.put_nowait(_Slot(f"{site_prefix}-t{n}"))
        self.waiting: dict[str, _Pending] = {}
        routes.handle(T.STT_FINAL, self.on_final)
        routes.handle(T.STT_PARTIAL, self.on_partial)

    async def on_final(self, msg: Inbound[SttFinal]) -> None:
        pending = self.waiting.get(msg.site_id or "")
        if pending is None:
            return
        final = msg.payload
        # our correlation id (the protocol); an older stt gives each utterance its own id
        if msg.correlation_id == pending.correlation_id or final.speech_start_s >= pending.origin_s - 0.05:
            pending.finals.append(final)
            pending.changed.set()

    async def on_partial(self, msg: Inbound[SttPartial]) -> None:
        """The stt worker is working on our audio: not done yet (the idle timer restarts)."""
        pending = self.waiting.get(msg.site_id or "")
        if pending is not None and (msg.correlation_id == pending.correlation_id
                                    or msg.payload.speech_start_s >= pending.origin_s - 0.05):
            pending.progress += 1
            pending.changed.set()

    async def transcribe(self, samples: Int16Array, *, timeout_s: float) -> Transcript:
        """The text of ``samples`` (16 kHz mono int16); Unavailable if stt does not answer."""
        started = time.monotonic()
        try:
            slot = await asyncio.wait_for(self.slots.get(), timeout_s)
        except TimeoutError:
            raise Unavailable("every transcription slot is busy", code="busy", status=503) from None
        duration = samples.size / SAMPLE_RATE
        origin = slot.clock_s + CLOCK_GAP_S
        pending = _Pending(new_id(), origin)
        self.waiting[slot.site] = pending
        try:
            # a little silence after the audio lets the endpointer close the last utterance
            await stream_audio(self.service, slot.site, samples, speed=0, frame_ms=FRAME_MS,
                               trailing_s=0.6, start_s=origin, purpose="transcription",
                               correlation_id=pending.correlation_id)
            quiet = self.settle_s * 4 + duration * 0.5
            await self._collect(pending, speech_end_s(samples), started + timeout_s, quiet)
        finally:
            self.waiting.pop(slot.site, None)
            slot.clock_s = origin + duration + 1.0
            self.slots.put_nowait(slot)
        finals = sorted(pending.finals, key=lambda f: f.speech_start_s)
        segments = [Segment(f.text.strip(), round(f.speech_start_s - origin, 3), round(f.speech_end_s - origin, 3),
                            f.confidence, f.language) for f in finals if f.text.strip()]
        return Transcript(" ".join(s.text for s in segments), segments[0].language if segments else "en",
                          round(duration, 3), segments, round((time.monotonic() - started) * 1000, 1))

    async def _collect(self, pending: _Pending, voiced_s: float, deadline: float, quiet_s: float) -> None:
        """Until the final covering the last loud sample came. Audio with no loud part waits
        settle_s for a final. After a final that does not reach the end, quiet_s with nothing
        new (no partial, no final) means a filter dropped the rest. Before the first final the
        request may wait its turn in a busy worker until the deadline."""
        started = last_change = time.monotonic()
        while True:
            if pending.finals and voiced_s > 0 and max(
                    f.speech_end_s for f in pending.finals) - pending.origin_s >= voiced_s - END_TOLERANCE_S:
                return
            now = time.monotonic()
            if voiced_s == 0:
                limit = started + self.settle_s
            elif pending.finals:
                limit = last_change + quiet_s
            else:  # a busy worker may take long to come to this request: wait for its final
                limit = deadline
            if now >= min(limit, deadline):
                if now >= deadline and not pending.finals and voiced_s > 0:
                    raise Unavailable("the speech-to-text worker did not answer in time", code="stt_timeout",
                                      status=504)
                return
            pending.changed.clear()
            try:
                await asyncio.wait_for(pending.changed.wait(), min(limit, deadline) - now)
                last_change = time.monotonic()
            except TimeoutError:
                pass
