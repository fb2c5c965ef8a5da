"""Audio sinks for replies: WAV files and a coroutine callback, and the real-time pacer."""

from __future__ import annotations

import asyncio
import re
import time
import wave
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

Int16Array = npt.NDArray[np.int16]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Pacer:
    """Holds a writer to ``pace`` x real time, letting it run at most ``lead_s`` ahead.

    ``pace`` 0 means as fast as possible; 1.0 is real time. A writer that falls behind
    (a pause) is not allowed to burst to catch up: the clock restarts from now.
    """

    def __init__(self, pace: float = 0.0, lead_s: float = 0.0) -> None:
        if pace < 0 or lead_s < 0:
            raise ValueError("pace and lead_s must be >= 0")
        self.pace = pace
        self.lead_s = lead_s
        self._due = 0.0

    def reset(self) -> None:
        self._due = time.monotonic()

    async def wait(self, n_samples: int, sample_rate: int) -> None:
        """Sleep until ``n_samples`` more may be accepted, then account for them."""
        if self.pace <= 0:
            return
        now = time.monotonic()
        delay = self._due - self.lead_s - now
        if delay > 0:
            await asyncio.sleep(delay)
            now = time.monotonic()
        self._due = max(self._due, now) + n_samples / sample_rate * self.pace

    async def drain(self) -> None:
        """Sleep until everything accepted so far has played."""
        if self.pace > 0:
            delay = self._due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)


class WavFileSink:
    """Writes each reply to ``folder/<n>-<correlation id>.wav`` (as fast as possible by default).

    An aborted reply keeps the audio written up to the abort. ``pace=1.0`` makes the sink
    accept audio in real time, like a speaker (useful to test stop latency).
    """

    def __init__(self, folder: str | Path, *, pace: float = 0.0, lead_s: float = 0.0) -> None:
        self.folder = Path(folder)
        self.pacer = Pacer(pace, lead_s)
        self.paths: list[Path] = []
        self.samples_written = 0
        self._wav: wave.Wave_write | None = None
        self._rate = 0
        self._count = 0

    @property
    def pace(self) -> float:
        return self.pacer.pace

    async def begin(self, reply_id: str, sample_rate: int) -> None:
        if self._wav is not None:
            await self.abort()
        self._count += 1
        path = self.folder / f"{self._count:04d}-{_UNSAFE.sub('_', reply_id)[:80]}.wav"
        self._wav = await asyncio.to_thread(_open_wav, path, sample_rate)
        self._rate = sample_rate
        self.samples_written = 0
        self.paths.append(path)
        self.pacer.reset()

    async def write(self, samples: Int16Array) -> None:
        await self.pacer.wait(int(samples.size), self._rate)
        if self._wav is None:
            raise RuntimeError("WavFileSink.write() before begin()")
        self._wav.writeframes(samples.astype("<i2", copy=False).tobytes())  # buffered, tiny
        self.samples_written += int(samples.size)

    async def end(self) -> None:
        await self.pacer.drain()
        await self._close()

    async def abort(self) -> None:
        await self._close()

    async def _close(self) -> None:
        wav, self._wav = self._wav, None
        if wav is not None:
            await asyncio.to_thread(wav.close)


def _open_wav(path: Path, rate: int) -> wave.Wave_write:
    path.parent.mkdir(parents=True, exist_ok=True)
    wf = wave.open(str(path), "wb")  # noqa: SIM115 - stays open for the whole reply
    wf.setnchannels(1)
    wf.setsampwidth(2)
    wf.setframerate(rate)
    return wf


AudioCallback = Callable[[str, Int16Array, int], Awaitable[None]]
BoundaryCallback = Callable[[str, int], Awaitable[None]]
EndCallback = Callable[[str, bool], Awaitable[None]]


class CallbackSink:
    """Hands each block of a reply to a coroutine (e.g. to publish PCM to a satellite).

    ``on_audio(reply_id, samples, sample_rate)`` gets every block; ``on_begin(reply_id,
    sample_rate)`` and ``on_end(reply_id, aborted)`` mark the reply's edges. Paced at real
    time by default so that a stop reaches the listener within one ``lead_s``.
    """

    def __init__(
        self,
        on_audio: AudioCallback,
        *,
        on_begin: BoundaryCallback | None = None,
        on_end: EndCallback | None = None,
        pace: float = 1.0,
        lead_s: float = 0.3,
    ) -> None:
        self.on_audio = on_audio
        self.on_begin = on_begin
        self.on_end = on_end
        self.pacer = Pacer(pace, lead_s)
        self._reply: str | None = None
        self._rate = 0

    @property
    def pace(self) -> float:
        return self.pacer.pace

    async def begin(self, reply_id: str, sample_rate: int) -> None:
        self._reply, self._rate = reply_id, sample_rate
        self.pacer.reset()
        if self.on_begin is not None:
            await self.on_begin(reply_id, sample_rate)

    async def write(self, samples: Int16Array) -> None:
        if self._reply is None:
            raise RuntimeError("CallbackSink.write() before begin()")
        await self.pacer.wait(int(samples.size), self._rate)
        await self.on_audio(self._reply, samples, self._rate)

    async def end(self) -> None:
        await self.pacer.drain()
        await self._finish(aborted=False)

    async def abort(self) -> None:
        await self._finish(aborted=True)

    async def _finish(self, *, aborted: bool) -> None:
        reply, self._reply = self._reply, None
        if reply is not None and self.on_end is not None:
            await self.on_end(reply, aborted)


__all__ = ["CallbackSink", "Pacer", "WavFileSink"]
