"""One intake of MQTT audio frames: an AudioFrame's PCM as samples, bad frames reported."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from tars.audio.pcm import SAMPLE_RATE, AudioFormatError
from tars.contracts.audio import AudioFrame

if TYPE_CHECKING:
    from tars.runtime.service import Service

Int16Array = npt.NDArray[np.int16]

REPORT_EVERY_S = 5.0
"""A key (a site) gets at most one "validation" error event this often; the rest are counted."""


def frame_samples(frame: AudioFrame, pcm: bytes, *, rate: int = SAMPLE_RATE) -> Int16Array:
    """The frame's PCM as mono int16 samples at ``rate``; AudioFormatError says what is wrong."""
    if frame.sample_format != "s16le":
        raise AudioFormatError(f"unsupported sample format {frame.sample_format!r}, expected s16le")
    if frame.sample_rate != rate or frame.channels != 1:
        raise AudioFormatError(f"audio frame at {frame.sample_rate} Hz, {frame.channels} "
                               f"channel(s); expected {rate} Hz mono")
    if len(pcm) % 2:
        raise AudioFormatError(f"s16le frame of {len(pcm)} bytes: not a whole sample count")
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)


class BadFrames:
    """Bad audio input as "validation" errors of ``service``: reported at most every
    ``every_s`` per key (the site, unless told), counted always; ``keep`` keys remembered."""

    def __init__(self, service: Service, every_s: float = REPORT_EVERY_S, keep: int = 256) -> None:
        self.service = service
        self.every_s = every_s
        self.keep = keep
        self._last: OrderedDict[str, tuple[float, int]] = OrderedDict()
        """key -> (when it was last reported, reports suppressed since)."""

    async def report(self, site: str, topic: str, reason: str, *, key: str | None = None) -> None:
        now = time.monotonic()
        key = site if key is None else key
        last, suppressed = self._last.pop(key, (float("-inf"), 0))
        if now - last < self.every_s:
            self.service.counters.errors += 1
            self._last[key] = (last, suppressed + 1)
        else:
            self._last[key] = (now, 0)
            more = f" ({suppressed} more since the last report)" if suppressed else ""
            await self.service.report_error("validation", f"site {site}: {reason}{more}", topic=topic)
        while len(self._last) > self.keep:
            self._last.popitem(last=False)

