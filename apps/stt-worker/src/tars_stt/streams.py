"""Listening streams: one per site microphone or client request, each with its endpointer,
a ring of recent audio on the audio clock, and the wake window that names its next utterance."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE
from tars.contracts.audio import AudioPurpose
from tars_stt.endpointer import Endpointer
from tars_stt.transcriber import Transcription

Int16Array = npt.NDArray[np.int16]


class AudioRing:
    """The last ``max_s`` seconds of a stream's audio, addressed by audio-clock time."""

    def __init__(self, max_s: float) -> None:
        self.max_samples = int(max_s * SAMPLE_RATE)
        self._chunks: deque[tuple[float, Int16Array]] = deque()
        self._size = 0

    @property
    def start_s(self) -> float:
        return self._chunks[0][0] if self._chunks else 0.0

    @property
    def end_s(self) -> float:
        if not self._chunks:
            return 0.0
        t, chunk = self._chunks[-1]
        return t + chunk.size / SAMPLE_RATE

    def append(self, start_s: float, samples: Int16Array) -> None:
        if self.max_samples <= 0 or samples.size == 0:
            return
        self._chunks.append((start_s, samples))
        self._size += samples.size
        while self._size - self._chunks[0][1].size >= self.max_samples:
            self._size -= self._chunks.popleft()[1].size

    def clear(self) -> None:
        self._chunks.clear()
        self._size = 0

    def since(self, t_s: float) -> tuple[float, Int16Array]:
        """Audio from ``t_s`` (or the oldest kept, if later) to the end: (its start, samples)."""
        parts: list[Int16Array] = []
        start = None
        for c_start, chunk in self._chunks:
            c_end = c_start + chunk.size / SAMPLE_RATE
            if c_end <= t_s:
                continue
            skip = max(0, round((t_s - c_start) * SAMPLE_RATE))
            if start is None:
                start = c_start + skip / SAMPLE_RATE
            parts.append(chunk[skip:])
        if start is None:
            return max(t_s, self.end_s), np.zeros(0, dtype=np.int16)
        return start, np.concatenate(parts)


@dataclass
class PendingWake:
    """A wake word heard on the site: the next utterance is the turn ``correlation_id``."""

    correlation_id: str
    audio_time_s: float
    expires_at: float
    """Monotonic time after which the window is closed."""


@dataclass
class Speculation:
    """Whisper started at a pause: the transcript if the utterance ends at ``end_s``."""

    end_s: float
    result: asyncio.Future[Transcription]
    end_after_s: float | None = None
    """The silence after which its transcript ends the utterance: short for a finished one,
    longer for a plausible one; None waits for ``max_end_silence_s``."""


@dataclass
class InFlight:
    """A final being transcribed; a wake event may supersede it (it held the wake word)."""

    start_s: float
    end_s: float
    superseded: bool = False


@dataclass
class Stream:
    """One audio stream: a site's microphone ("turn") or one client request ("transcription")."""

    key: str
    site: str
    purpose: AudioPurpose
    endpointer: Endpointer
    ring: AudioRing
    client_cid: str | None = None
    correlation_id: str | None = None
    """Of the utterance in flight."""
    speech_start_ts: float = 0.0
    wake: PendingWake | None = None
    cut_until_s: float = float("-inf")
    """Audio before this audio-clock time is not fed (it was the wake word)."""
    partial_busy: bool = False
    spec: Speculation | None = None
    arrivals: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=512))
    inflight: list[InFlight] = field(default_factory=list)
    last_seen: float = field(default_factory=time.monotonic)

    def arrived_at(self, audio_s: float, fallback: float) -> float:
        """Wall clock at which the audio at ``audio_s`` had arrived (best estimate)."""
        for audio_end, wall in self.arrivals:
            if audio_end >= audio_s - 1e-6:
                return wall
        return fallback


def stream_key(site: str, purpose: AudioPurpose, correlation_id: str) -> str:
    """A site's microphone is one stream; each client transcription request is its own."""
    return site if purpose == "turn" else f"{site}\x00{correlation_id}"


class StreamTable:
    """Streams by key, at most ``max_streams``; idle ones (``idle_s``) are evicted first."""

    def __init__(self, max_streams: int, idle_s: float) -> None:
        self.max_streams = max_streams
        self.idle_s = idle_s
        self._streams: OrderedDict[str, Stream] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._streams)

    def __contains__(self, key: str) -> bool:
        return key in self._streams

    def get(self, key: str) -> Stream | None:
        stream = self._streams.get(key)
        if stream is not None:
            stream.last_seen = time.monotonic()
            self._streams.move_to_end(key)
        return stream

    def values(self) -> list[Stream]:
        return list(self._streams.values())

    def for_site(self, site: str) -> Stream | None:
        return self._streams.get(site)

    def add(self, stream: Stream) -> list[Stream]:
        """Add ``stream``; returns the streams evicted to make room (idle or oldest)."""
        now = time.monotonic()
        gone = [s for s in self._streams.values() if now - s.last_seen > self.idle_s]
        for s in gone:
            del self._streams[s.key]
        while len(self._streams) >= self.max_streams:
            gone.append(self._streams.popitem(last=False)[1])
        self._streams[stream.key] = stream
        self.evicted += len(gone)
        return gone

    def remove(self, key: str) -> Stream | None:
        return self._streams.pop(key, None)
