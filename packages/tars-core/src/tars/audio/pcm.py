"""PCM helpers: tars moves audio as 16 kHz mono signed 16-bit little-endian unless stated."""

from __future__ import annotations

import wave
from math import gcd
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tars.errors import TarsError

SAMPLE_RATE = 16_000

Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float32]


class AudioFormatError(TarsError, ValueError):
    """The audio is not something tars can read (empty, corrupt, unsupported width)."""


def int16_to_float(samples: Int16Array) -> FloatArray:
    out: FloatArray = (samples.astype(np.float32) / 32768.0).astype(np.float32)
    return out


def resample(samples: Int16Array, src_rate: int, dst_rate: int) -> Int16Array:
    """Polyphase resampling (anti-aliased) of mono int16 audio."""
    if src_rate == dst_rate or samples.size == 0:
        return samples
    from scipy.signal import resample_poly

    g = gcd(src_rate, dst_rate)
    out = resample_poly(samples.astype(np.float32), dst_rate // g, src_rate // g)
    result: Int16Array = np.clip(np.round(out), -32768, 32767).astype(np.int16)
    return result


def read_wav(path: str | Path, *, rate: int = SAMPLE_RATE) -> Int16Array:
    """Read a PCM WAV file of any common rate/width/channels as mono int16 at ``rate``."""
    p = Path(path)
    if not p.is_file():
        raise AudioFormatError(f"{p}: no such file")
    try:
        with wave.open(str(p), "rb") as wf:
            channels = wf.getnchannels()
            width = wf.getsampwidth()
            src_rate = wf.getframerate()
            raw = wf.readframes(wf.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioFormatError(f"{p}: not a readable WAV file ({exc})") from exc
    if not raw:
        raise AudioFormatError(f"{p}: the file holds no audio")
    if width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    elif width == 1:
        data = ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    elif width == 4:
        data = (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    else:
        raise AudioFormatError(f"{p}: unsupported sample width {width} bytes")
    if channels > 1:
        data = data.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return resample(data, src_rate, rate)


def write_wav(path: str | Path, samples: Int16Array, rate: int = SAMPLE_RATE) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(p), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(rate)
        wf.writeframes(samples.astype("<i2").tobytes())
    return p
