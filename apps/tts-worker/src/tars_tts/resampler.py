"""Block-by-block resampling of one continuous mono stream, without seams between blocks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import firwin, lfilter  # imported with the worker, never on the event loop

Int16Array = npt.NDArray[np.int16]


class StreamResampler:
    """Block-by-block resampling of one continuous mono stream, without seams between blocks.

    A causal low-pass FIR (state kept across blocks) removes what the target rate cannot hold,
    then linear interpolation at a continuous fractional position picks the output samples.
    """

    def __init__(self, src_rate: int, dst_rate: int, taps: int = 63) -> None:
        self.src_rate, self.dst_rate = src_rate, dst_rate
        self._step = src_rate / dst_rate
        self._pos = 0.0  # next output position, in input samples from the block's start
        self._tail = 0.0  # last (filtered) input sample of the previous block
        self._fir: npt.NDArray[np.float64] | None = None
        self._zi: npt.NDArray[np.float64] | None = None
        if dst_rate < src_rate:
            self._fir = firwin(taps, 0.45 * dst_rate, fs=src_rate)
            self._zi = np.zeros(taps - 1)

    def process(self, block: Int16Array) -> Int16Array:
        if self.src_rate == self.dst_rate or block.size == 0:
            return block
        x = block.astype(np.float64)
        if self._fir is not None:
            x, self._zi = lfilter(self._fir, 1.0, x, zi=self._zi)
        buf = np.concatenate(([self._tail], x))  # buf[i + 1] is block sample i
        last = float(block.size - 1)
        positions = np.arange(self._pos, last + 1e-9, self._step)
        self._tail = float(x[-1])
        if positions.size == 0:
            self._pos -= block.size
            return np.zeros(0, dtype=np.int16)
        self._pos = float(positions[-1]) + self._step - block.size
        out = np.interp(positions + 1.0, np.arange(buf.size, dtype=np.float64), buf)
        result: Int16Array = np.clip(np.round(out), -32768, 32767).astype(np.int16)
        return result


__all__ = ["StreamResampler"]
