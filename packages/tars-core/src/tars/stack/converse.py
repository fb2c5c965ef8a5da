"""One spoken turn through the running stack, as if a user spoke on a site (MQTT audio path)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tars.audio.pcm import SAMPLE_RATE, write_wav
from tars.clients.router import RouterWatch
from tars.contracts import topics as T
from tars.contracts.audio import AudioFrame
from tars.contracts.llm import LlmStreamChunk
from tars.contracts.stt import SttFinal
from tars.contracts.tts import TtsStatus
from tars.contracts.turn import TurnEvent, TurnResult
from tars.contracts.wake import WakeEvent
from tars.runtime.service import Inbound, Service

CHUNK_S = 0.06


def speech_end_s(samples: npt.NDArray[np.int16], rate: int = SAMPLE_RATE) -> float:
    """Where speech really ends in ``samples``: the last 20 ms frame within 35 dB of the peak."""
    frame = rate // 50
    n = len(samples) // frame
    if n == 0:
        return 0.0
    rms = np.sqrt(np.mean(samples[: n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1))
    loud = np.nonzero(rms > max(rms.max() * 10 ** (-35 / 20), 30.0))[0]
    return float((loud[-1] + 1) * frame / rate) if loud.size else 0.0


@dataclass
class TurnRecord:
    """Everything one conversational turn produced, as seen from the user's site."""

    site: str
    transcript: str = ""
    correlation_id: str = ""
    woke: bool = False
    """A wake word opened the turn: only a final with its correlation id is the question."""
    result: TurnResult | None = None
    first_sample_ts: float | None = None
    tts_ended: bool = False
    audio: list[npt.NDArray[np.int16]] = field(default_factory=list)
    audio_rate: int = SAMPLE_RATE
    events: list[tuple[float, str]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Conversation:
    """A client on the bus that speaks into a site and listens to what comes back."""

    def __init__(self, service: Service, site: str, tts_wait_s: float = 15.0) -> None:
        self.service = service
        self.record = TurnRecord(site)
        self.tts_wait_s = tts_wait_s
        service.handle(T.WAKE_EVENT, self._on_wake)
        service.handle(T.STT_FINAL, self._on_final)
        service.handle(T.TURN_EVENT, self._on_turn_event)
        service.handle(T.TURN_RESULT, self._on_result)
        self.router = RouterWatch(service, self._lost)
        service.handle(T.TTS_STATUS, self._on_tts)
        service.handle(T.LLM_STREAM, self._on_chunk)
        service.handle(T.AUDIO_OUT, self._on_audio, topic=T.AUDIO_OUT.topic(site=site))

    def _mine(self, msg: Inbound[Any]) -> bool:
        rec = self.record
        return bool(rec.correlation_id) and msg.correlation_id == rec.correlation_id

    async def _on_wake(self, msg: Inbound[WakeEvent]) -> None:
        """The wake word opens the turn: its correlation id is the turn's, from here to the end."""
        rec = self.record
        if msg.site_id == rec.site and msg.payload.purpose == "turn" and not rec.woke:
            if rec.correlation_id != msg.correlation_id:
                # a final already taken was the wake word said alone, published before this
                # event landed (the router keeps listening on it): the question is still to come
                rec.transcript = ""
                rec.events = [e for e in rec.events if e[1] != "stt.final"]
            rec.woke, rec.correlation_id = True, msg.correlation_id
            rec.events.append((msg.envelope.ts, "wake"))
            self.router.watch(msg.correlation_id)

    async def _on_final(self, msg: Inbound[SttFinal]) -> None:
        rec = self.record
        if msg.site_id != rec.site or not msg.payload.text or rec.transcript:
            return
        if rec.correlation_id and msg.correlation_id != rec.correlation_id:
            return
        rec.correlation_id = msg.correlation_id
        rec.transcript = msg.payload.text
        rec.events.append((msg.envelope.ts, "stt.final"))

    async def _on_turn_event(self, msg: Inbound[TurnEvent]) -> None:
        if self._mine(msg):
            ev = msg.payload
            self.record.events.append((msg.envelope.ts, f"turn.{ev.kind}:{ev.stage}"))

    async def _on_chunk(self, msg: Inbound[LlmStreamChunk]) -> None:
        if self._mine(msg) and msg.payload.seq == 0:
            self.record.events.append((msg.envelope.ts, "llm.first_chunk"))

    async def _lost(self, cid: str, result: TurnResult) -> None:
        """The router went offline with this turn: nothing more will come."""
        if cid == self.record.correlation_id and self.record.result is None:
            self.record.result = result.model_copy(update={"text": self.record.transcript})
            self.record.events.append((time.time(), "router.offline"))
            self.record.done.set()

    async def _on_result(self, msg: Inbound[TurnResult]) -> None:
        if not self._mine(msg):
            return
        self.router.forget(msg.correlation_id)
        self.record.result = msg.payload
        self.record.events.append((msg.envelope.ts, "turn.result"))
        if not msg.payload.spoken and not msg.payload.reply:
            self.record.done.set()
        else:
            self.service.spawn(self._finish_later(), name="converse-tts-wait")

    async def _finish_later(self) -> None:
        await asyncio.sleep(self.tts_wait_s)
        if self.record.first_sample_ts is None:  # nobody is speaking: headless stack
            self.record.done.set()

    async def _on_tts(self, msg: Inbound[TtsStatus]) -> None:
        if not self._mine(msg):
            return
        st = msg.payload
        if st.event == "started":
            self.record.first_sample_ts = st.first_sample_ts or msg.envelope.ts
            self.record.events.append((self.record.first_sample_ts, "tts.first_sample"))
        elif st.event == "ended":
            self.record.events.append((msg.envelope.ts, f"tts.ended:{st.reason or 'done'}"))
            self.record.tts_ended = True
            if self.record.result is not None:
                self.record.done.set()
            else:
                self.service.spawn(self._end_after_result(), name="converse-result-wait")

    async def _end_after_result(self) -> None:
        for _ in range(100):
            if self.record.result is not None:
                break
            await asyncio.sleep(0.05)
        self.record.done.set()

    async def _on_audio(self, msg: Inbound[AudioFrame]) -> None:
        if msg.pcm and (not self.record.correlation_id or self._mine(msg)):
            self.record.audio_rate = msg.payload.sample_rate
            self.record.audio.append(np.frombuffer(msg.pcm, dtype="<i2").astype(np.int16))

    async def speak(self, samples: npt.NDArray[np.int16], speed: float = 1.0,
                    trailing_silence_s: float = 1.2) -> float:
        """Stream ``samples`` as the site's microphone; return the wall time speech really ended."""
        end_s = speech_end_s(samples)
        pad = np.zeros(int(trailing_silence_s * SAMPLE_RATE), dtype=np.int16)
        audio = np.concatenate([samples, pad])
        step = int(CHUNK_S * SAMPLE_RATE)
        start = time.time()
        true_end_wall = 0.0
        for seq, i in enumerate(range(0, len(audio), step)):
            chunk = audio[i:i + step]
            t_audio = i / SAMPLE_RATE
            due = start + t_audio / speed
            delay = due - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not true_end_wall and t_audio + len(chunk) / SAMPLE_RATE >= end_s:
                # the frame holding the last voiced sample goes out now
                true_end_wall = time.time() + max(0.0, end_s - t_audio) / speed
            final = i + step >= len(audio)
            await self.service.publish(
                T.AUDIO_MIC, AudioFrame(seq=seq, audio_time_s=t_audio, final=final),
                pcm=chunk.astype("<i2").tobytes(), params={"site": self.record.site},
                site_id=self.record.site)
        return true_end_wall


def summarize(rec: TurnRecord, true_end_wall: float, out: Path | None) -> dict[str, Any]:
    res = rec.result
    v2v = (rec.first_sample_ts - true_end_wall) * 1000 if rec.first_sample_ts else None
    path_written = None
    audio_s = 0.0
    if rec.audio:
        audio = np.concatenate(rec.audio)
        audio_s = len(audio) / rec.audio_rate
        if out is not None:
            path_written = str(write_wav(out, audio, rec.audio_rate))
    return {
        "transcript": rec.transcript,
        "reply": res.reply if res else None,
        "path": res.path if res else None,
        "tools": res.tools if res else [],
        "reason": res.reason if res else "no reply",
        "correlation_id": rec.correlation_id,
        "voice_to_voice_ms": round(v2v, 1) if v2v is not None else None,
        "first_token_ms": res.first_token_ms if res else None,
        "stages": [{"stage": label, "offset_ms": round((ts - true_end_wall) * 1000, 1)}
                   for ts, label in sorted(rec.events)],
        "stage_ms": ({name: round((ts - true_end_wall) * 1000, 1)
                      for name, ts in sorted(res.stages.items(), key=lambda kv: kv[1])}
                     if res else {}),
        "reply_audio_s": round(audio_s, 3),
        "out": path_written,
    }


async def converse_once(url: str, samples: npt.NDArray[np.int16], *, namespace: str = "",
                        site: str | None = None, speed: float = 1.0, timeout_s: float = 90.0,
                        out: Path | None = None) -> dict[str, Any]:
    """Speak ``samples`` into the stack on ``site`` and return what the turn produced."""
    from tars.runtime.connect import client_bus

    site = site or f"converse{os.getpid()}x{time.monotonic_ns() % 10_000}"
    bus = client_bus(url, "tars-converse", namespace=namespace)
    service = Service("converse", bus, site_id=site, announce=False)
    conv = Conversation(service, site)
    await service.start()
    try:
        true_end = await conv.speak(samples, speed)
        try:
            await asyncio.wait_for(conv.record.done.wait(), timeout_s)
        except TimeoutError:
            pass
        await asyncio.sleep(0.2)  # the last audio frames
        return summarize(conv.record, true_end, out)
    finally:
        await service.stop()
