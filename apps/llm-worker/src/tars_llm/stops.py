"""Incremental detokenising with stop strings held back until they can be ruled out."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class StopScanner:
    """Turns decoded bytes into text deltas and detects stop strings across token boundaries."""

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Add the bytes of one token; return the text that is safe to emit now."""
        if self.stopped:
            return ""
        self._pending += self._decoder.decode(data)
        for stop in self._stops:
            index = self._pending.find(stop)
            if index >= 0:
                self.stopped = True
                out, self._pending = self._pending[:index], ""
                return out
        keep = self._held_back()
        out = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(out) :]
        return out

    def flush(self) -> str:
        """Return whatever is still held back (the generation ended without a stop string)."""
        if self.stopped:
            return ""
        out = self._pending + self._decoder.decode(b"", final=True)
        self._pending = ""
        return out

    def _held_back(self) -> int:
        """Length of the longest suffix of the pending text that starts some stop string."""
        best = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(self._pending)), best, -1):
                if stop.startswith(self._pending[-n:]):
                    best = n
                    break
        return best
