"""Echo path delay: where the speaker reference shows up in the microphone (GCC-PHAT)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tars_stt.refring import ReferenceRing

Int16Array = npt.NDArray[np.int16]


@dataclass(frozen=True)
class DelayEstimate:
    delay_s: float
    """The microphone hears the reference this long after its (estimated) wall time."""
    confidence: float
    """Correlation peak over its background (PHAT): about 5 for no echo, 40 and more for a clear one."""


def estimate_delay(mic: Int16Array, mic_ts: float, ring: ReferenceRing, *,
                   max_lag_s: float = 0.8, decimate: int = 4) -> DelayEstimate | None:
    """The delay of the reference's echo in ``mic`` (first sample at wall time ``mic_ts``),
    searched in [-max_lag_s, max_lag_s]; None when the reference is silent there."""
    rate = ring.rate
    lag = int(max_lag_s * rate)
    ref = ring.read(mic_ts - max_lag_s, mic.size + 2 * lag)
    if not np.abs(ref).max(initial=0) > 100 or not np.abs(mic).max(initial=0) > 100:
        return None
    m = _down(mic, decimate)
    r = _down(ref, decimate)
    n = 1 << int(np.ceil(np.log2(m.size + r.size)))
    cross = np.conj(np.fft.rfft(m, n)) * np.fft.rfft(r, n)
    cross /= np.abs(cross) + 1e-9
    c = np.fft.irfft(cross, n)[: r.size - m.size + 1]  # c[k] = sum_i m[i] r[i + k]
    k = int(np.argmax(c))
    background = float(np.std(c)) or 1e-9
    return DelayEstimate((lag / decimate - k) * decimate / rate, float(c[k]) / background)


def _down(x: Int16Array, factor: int) -> npt.NDArray[np.float64]:
    n = x.size // factor * factor
    out: npt.NDArray[np.float64] = x[:n].astype(np.float64).reshape(-1, factor).mean(axis=1)
    return out


__all__ = ["DelayEstimate", "estimate_delay"]
