"""Test doubles for the tts seams: a tone synthesizer and an in-memory recording sink."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tars_tts.errors import SynthesisError
from tars_tts.sinks import Pacer
from tars_tts.synth import AudioChunk


class ToneSynthesizer:
    """Speaks every character as ``ms_per_char`` of a sine tone, after ``delay_s`` of "work".

    Deterministic and model-free: playback logic can be tested on it. Text containing
    ``fail_on`` raises SynthesisError, like a voice that cannot render it.
    """

    def __init__(
        self, *, sample_rate: int = 16_000, ms_per_char: float = 10.0, delay_s: float = 0.0,
        fail_on: str | None = None,
    ) -> None:
        self._rate = sample_rate
        self.ms_per_char = ms_per_char
        self.delay_s = delay_s
        self.fail_on = fail_on
        self.loaded = False
        self.calls: list[tuple[str, float, float]] = []  # (text, start, end) monotonic

    @property
    def sample_rate(self) -> int:
        return self._rate

    @property
    def cache_key(self) -> tuple[str, ...]:
        return ("tone", str(self._rate), str(self.ms_per_char))

    def load(self) -> None:
        self.loaded = True

    def stream(self, text: str) -> Iterator[AudioChunk]:
        start = time.monotonic()
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_on is not None and self.fail_on in text:
            raise SynthesisError(f"cannot synthesize {text!r}")
        n = int(len(text) * self.ms_per_char / 1000 * self._rate)
        t = np.arange(n, dtype=np.float32) / self._rate
        samples = (np.sin(2 * np.pi * 440.0 * t) * 8000).astype(np.int16)
        self.calls.append((text, start, time.monotonic()))
        yield AudioChunk(samples=samples, sample_rate=self._rate)


@dataclass
class RecordedReply:
    reply_id: str
    sample_rate: int
    blocks: list[npt.NDArray[np.int16]] = field(default_factory=list)
    write_times: list[float] = field(default_factory=list)  # monotonic
    ended: bool = False
    aborted: bool = False

    @property
    def samples(self) -> npt.NDArray[np.int16]:
        if not self.blocks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self.blocks)


class MemorySink:
    """Records every reply in memory; ``pace=1.0`` accepts audio in real time."""

    def __init__(self, *, pace: float = 0.0, lead_s: float = 0.0) -> None:
        self.pacer = Pacer(pace, lead_s)
        self.replies: list[RecordedReply] = []
        self._current: RecordedReply | None = None

    @property
    def pace(self) -> float:
        return self.pacer.pace

    async def begin(self, reply_id: str, sample_rate: int) -> None:
        self._current = RecordedReply(reply_id, sample_rate)
        self.replies.append(self._current)
        self.pacer.reset()

    async def write(self, samples: npt.NDArray[np.int16]) -> None:
        reply = self._current
        if reply is None:
            raise RuntimeError("MemorySink.write() before begin()")
        await self.pacer.wait(int(samples.size), reply.sample_rate)
        reply.blocks.append(samples.copy())
        reply.write_times.append(time.monotonic())

    async def end(self) -> None:
        await self.pacer.drain()
        if self._current is not None:
            self._current.ended = True
        self._current = None

    async def abort(self) -> None:
        if self._current is not None:
            self._current.aborted = True
        self._current = None


__all__ = ["MemorySink", "RecordedReply", "ToneSynthesizer"]
