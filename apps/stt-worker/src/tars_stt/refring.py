"""The echo reference by wall clock: what the site's speaker played, 16 kHz, addressed by time."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE, resample

Int16Array = npt.NDArray[np.int16]


class ReferenceRing:
    """The last ``max_s`` seconds of speaker audio; sample ``i`` played at ``i / rate`` (wall).

    Written in any order (a frame overwrites what it covers; a gap before it is silence); reading
    a span never written, or already forgotten, gives silence. A frame stamped within
    ``jitter_s`` of where the last one ended continues it exactly, unless the recent frames agree
    that the stream moved (their median is ``snap_s`` off): a loaded speaker's stamps jitter by
    milliseconds, one frame now and then by tens, and an echo canceller needs a sample-exact
    reference. Not thread safe.
    """

    def __init__(self, max_s: float = 10.0, rate: int = SAMPLE_RATE, *,
                 snap_s: float = 0.01, jitter_s: float = 0.06) -> None:
        self.rate = rate
        self.snap = round(snap_s * rate)
        self.jitter = round(jitter_s * rate)
        self._devs: deque[int] = deque(maxlen=8)
        self.size = int(max_s * rate)
        self._buf = np.zeros(self.size, dtype=np.int16)
        self._end: int | None = None  # absolute index one past the newest sample written
        self.written = 0
        self.anchors = 0
        """Frames placed by their own stamp (not continuing the last one)."""

    @property
    def end_ts(self) -> float:
        """Wall time just after the newest sample (0.0 when empty)."""
        return 0.0 if self._end is None else self._end / self.rate

    def write(self, ts: float, samples: Int16Array, rate: int | None = None) -> None:
        """Speaker samples whose first one reached the DAC at wall time ``ts``."""
        if rate is not None and rate != self.rate:
            samples = resample(samples, rate, self.rate)
        n = int(samples.size)
        if n == 0:
            return
        if n > self.size:
            ts += (n - self.size) / self.rate
            samples, n = samples[-self.size:], self.size
        start = round(ts * self.rate)
        dev = start - self._end if self._end is not None else None
        if dev is not None and abs(dev) <= self.jitter:
            self._devs.append(dev)
            if abs(float(np.median(self._devs))) <= self.snap:
                start = self._end  # type: ignore[assignment]
            else:
                self._devs.clear()
                self.anchors += 1
        else:
            self._devs.clear()
            self.anchors += 1
        end = start + n
        if self._end is None or start - self._end >= self.size:
            self._buf[:] = 0
        elif start > self._end:  # a gap: the speaker was silent
            self._put(self._end, np.zeros(start - self._end, dtype=np.int16))
        elif end <= self._end - self.size:
            return  # older than anything kept
        self._put(start, samples)
        self._end = end if self._end is None else max(self._end, end)
        self.written += n

    def _put(self, start: int, samples: Int16Array) -> None:
        n = samples.size
        i = start % self.size
        first = min(n, self.size - i)
        self._buf[i:i + first] = samples[:first]
        if first < n:
            self._buf[:n - first] = samples[first:]

    def read(self, ts: float, n: int) -> Int16Array:
        """``n`` samples from wall time ``ts``; silence where nothing is known."""
        out = np.zeros(n, dtype=np.int16)
        if self._end is None or not math.isfinite(ts):
            return out
        start = round(ts * self.rate)
        lo, hi = max(start, self._end - self.size), min(start + n, self._end)
        if hi <= lo:
            return out
        i = lo % self.size
        count = hi - lo
        first = min(count, self.size - i)
        out[lo - start:lo - start + first] = self._buf[i:i + first]
        if first < count:
            out[lo - start + first:hi - start] = self._buf[:count - first]
        return out


__all__ = ["ReferenceRing"]
