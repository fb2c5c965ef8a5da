"""Per-site detector state, bounded: a cap on sites, idle eviction, detectors reused."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from tars.contracts.audio import AudioPurpose
from tars_wake.detector import WakeDetector

Int16Array = npt.NDArray[np.int16]
MAX_QUEUED_FRAMES = 200
RECENT_SAMPLES = 24_000
"""Audio kept per site for the level of a wake word (1.5 s at 16 kHz)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """One frame waiting for its site's detector."""

    samples: Int16Array
    audio_time_s: float
    correlation_id: str


@dataclass
class SiteStream:
    """One site's audio of one purpose ("turn" or "detection"), fed to one detector in order."""

    site: str
    purpose: AudioPurpose
    queue: asyncio.Queue[Chunk] = field(default_factory=lambda: asyncio.Queue(MAX_QUEUED_FRAMES))
    detector: WakeDetector | None = None
    task: asyncio.Task[None] | None = None
    dropped: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    ended: bool = False
    """The sender said its stream ended (an end-of-stream frame): its slot may go at once."""
    _recent: deque[Int16Array] = field(default_factory=deque)
    _recent_n: int = 0

    def remember(self, samples: Int16Array) -> None:
        """Keep the last RECENT_SAMPLES samples the detector was fed."""
        self._recent.append(samples)
        self._recent_n += samples.size
        while self._recent and self._recent_n - self._recent[0].size >= RECENT_SAMPLES:
            self._recent_n -= self._recent.popleft().size

    def recent(self) -> Int16Array:
        """The audio just fed (the wake word just detected is in it)."""
        if not self._recent:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(list(self._recent))

    def put(self, chunk: Chunk) -> None:
        """Queue a frame; when the detector lags, the oldest frame is dropped (and counted)."""
        self.last_seen = time.monotonic()
        self.ended = False
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(chunk)


class SiteTable:
    """At most ``max_sites`` streams; a stream idle for ``idle_s``, or ended by its sender and
    drained, makes room for a new one.

    A new site while every slot is busy is refused (never evicts a site in use), so made-up
    site ids cannot load unbounded detectors. Detectors of evicted sites are kept for reuse.
    """

    def __init__(self, max_sites: int, idle_s: float, allowed: list[str] | None = None) -> None:
        self.max_sites = max_sites
        self.idle_s = idle_s
        self.allowed = set(allowed or [])
        self._streams: OrderedDict[tuple[str, str], SiteStream] = OrderedDict()
        self.spare: list[WakeDetector] = []
        self.refused = 0
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._streams)

    def values(self) -> list[SiteStream]:
        return list(self._streams.values())

    def get(self, site: str, purpose: AudioPurpose) -> SiteStream | None:
        return self._streams.get((site, purpose))

    def admit(self, site: str, purpose: AudioPurpose) -> SiteStream | None:
        """The site's stream, a new one if there is room, or None (refused)."""
        key = (site, purpose)
        stream = self._streams.get(key)
        if stream is not None:
            self._streams.move_to_end(key)
            return stream
        if self.allowed and site not in self.allowed:
            self.refused += 1
            return None
        if len(self._streams) >= self.max_sites:
            self._evict_idle()
        if len(self._streams) >= self.max_sites:
            self.refused += 1
            return None
        stream = self._streams[key] = SiteStream(site, purpose)
        return stream

    def _evict_idle(self) -> None:
        now = time.monotonic()
        for key, stream in list(self._streams.items()):
            if now - stream.last_seen > self.idle_s or (stream.ended and stream.queue.empty()):
                self.evict(key)

    def evict(self, key: tuple[str, str]) -> None:
        stream = self._streams.pop(key, None)
        if stream is None:
            return
        self.evicted += 1
        if stream.task is not None:
            stream.task.cancel()
        if stream.detector is not None:
            self.spare.append(stream.detector)
            stream.detector = None

    def loaded(self) -> int:
        """Detectors in memory (in use + spare): never more than ``max_sites`` + 1."""
        return len(self.spare) + sum(s.detector is not None for s in self._streams.values())
