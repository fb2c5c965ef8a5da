"""A client's audio as tars microphone frames: checked, converted to 16 kHz mono s16le, published."""

from __future__ import annotations

from typing import Any

import numpy as np
from wyoming.audio import AudioChunk, AudioChunkConverter

from tars.audio import SAMPLE_RATE
from tars.clients.stt import MicPublisher
from tars.contracts.audio import AudioPurpose
from tars.runtime import Service
from tars_wyoming.wire import BadEvent


def audio_format(data: dict[str, Any]) -> tuple[int, int, int]:
    """``rate``, ``width``, ``channels`` of an audio-start / audio-chunk, or BadEvent."""
    rate, width, channels = data.get("rate"), data.get("width"), data.get("channels")
    for name, value, low, high in (("rate", rate, 8000, 96000), ("width", width, 1, 4),
                                   ("channels", channels, 1, 2)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise BadEvent(f"audio {name} must be an integer within {low}..{high}, got {value!r}",
                           "bad-audio")
    assert isinstance(rate, int) and isinstance(width, int) and isinstance(channels, int)
    return rate, width, channels


LOUD_RMS = 400.0
"""A 30 ms block above this RMS (of 32767) may be speech: the stt worker decides, but the bridge
knows how long to wait for its transcript."""
BLOCK = SAMPLE_RATE * 30 // 1000


class MicStream:
    """One stream on ``tars/audio/{site}/mic`` with a ``purpose``; the audio clock starts at 0."""

    def __init__(self, service: Service, site: str, purpose: AudioPurpose, correlation_id: str,
                 *, max_s: float) -> None:
        self.site = site
        self.max_s = max_s
        self.mic = MicPublisher(service, site, purpose=purpose, correlation_id=correlation_id)
        self.loud_s = 0.0
        """Seconds of blocks loud enough to be speech."""
        self.loud_end_s = 0.0
        """Where the last such block ends, on the stream's audio clock."""
        self._convert = AudioChunkConverter(rate=SAMPLE_RATE, width=2, channels=1)

    @property
    def audio_s(self) -> float:
        return self.mic.clock_s

    async def write(self, data: dict[str, Any], payload: bytes | None) -> None:
        rate, width, channels = audio_format(data)
        audio = payload or b""
        if len(audio) % (width * channels):
            raise BadEvent("audio-chunk is not a whole number of samples", "bad-audio")
        try:
            chunk = self._convert.convert(AudioChunk(rate, width, channels, audio))
        except Exception as exc:  # audioop.error (or pyaudioop's ValueError on 3.13+)
            raise BadEvent(f"audio-chunk cannot be converted: {exc}", "bad-audio") from exc
        if not chunk.audio:
            return
        if self.audio_s + len(chunk.audio) / 2 / SAMPLE_RATE > self.max_s:
            raise BadEvent(f"audio stream longer than {self.max_s:.0f} s", "stream-too-long")
        self._measure(np.frombuffer(chunk.audio, dtype="<i2"))
        await self.mic.send(chunk.audio)

    def _measure(self, samples: np.ndarray[Any, np.dtype[np.int16]]) -> None:
        for off in range(0, samples.size, BLOCK):
            block = samples[off:off + BLOCK].astype(np.float64)
            if block.size and float(np.sqrt(np.mean(block * block))) > LOUD_RMS:
                self.loud_s += block.size / SAMPLE_RATE
                self.loud_end_s = (self.mic.samples + off + block.size) / SAMPLE_RATE

    async def end(self) -> float:
        """The last frame (``final``): flushes the utterance in flight. Returns the stream length."""
        return await self.mic.end()


def open_stream(stream: MicStream | None, kind: str) -> MicStream:
    """The stream an ``audio-chunk`` / ``audio-stop`` belongs to; BadEvent before audio-start."""
    if stream is None:
        raise BadEvent(f"{kind} before audio-start", "no-stream")
    return stream
