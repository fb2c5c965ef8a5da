"""Decode an uploaded audio file to 16 kHz mono int16 (soundfile; ffmpeg when installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from tars.audio.pcm import SAMPLE_RATE, Int16Array, resample
from tars.errors import TarsError
from tars_gateway.errors import BadRequest

FFMPEG_TIMEOUT_S = 120.0


def decode_audio(path: Path, *, max_s: float) -> Int16Array:
    """Read ``path`` (WAV, FLAC, OGG, MP3, ... ) as 16 kHz mono int16; BadRequest if it is not
    audio, holds none, or is longer than ``max_s``."""
    if path.stat().st_size == 0:
        raise BadRequest("the file is empty", param="file", code="empty_file")
    try:
        samples, rate = _soundfile(path, max_s)
    except _NotDecodable as exc:
        if shutil.which("ffmpeg") is None:
            raise BadRequest(f"the file is not audio that can be decoded ({exc})", param="file",
                             code="invalid_audio") from None
        samples, rate = _ffmpeg(path, max_s), SAMPLE_RATE
    if samples.size == 0:
        raise BadRequest("the file holds no audio samples", param="file", code="empty_audio")
    return resample(samples, rate, SAMPLE_RATE)


class _NotDecodable(TarsError):
    pass


def _soundfile(path: Path, max_s: float) -> tuple[Int16Array, int]:
    import soundfile as sf  # type: ignore[import-untyped]

    try:
        with sf.SoundFile(str(path)) as f:
            rate = int(f.samplerate)
            if f.frames > 0 and f.frames / rate > max_s:
                raise BadRequest(f"the audio is longer than {max_s:.0f} s", param="file", code="audio_too_long")
            data = f.read(dtype="int16", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise _NotDecodable(str(exc).splitlines()[0][:200]) from exc
    mono: Int16Array = (data.mean(axis=1).astype(np.int16) if data.shape[1] > 1
                        else data[:, 0].astype(np.int16))
    if mono.size / rate > max_s:
        raise BadRequest(f"the audio is longer than {max_s:.0f} s", param="file", code="audio_too_long")
    return mono, rate


def _ffmpeg(path: Path, max_s: float) -> Int16Array:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-t", str(max_s + 1),
           "-f", "s16le", "-ac", "1", "-ar", str(SAMPLE_RATE), "pipe:1"]
    try:
        res = subprocess.run(cmd, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise BadRequest("decoding the file took too long", param="file", code="invalid_audio") from None
    if res.returncode != 0:
        reason = res.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["unknown format"]
        raise BadRequest(f"the file is not audio that can be decoded ({reason[0][:200]})", param="file",
                         code="invalid_audio")
    samples: Int16Array = np.frombuffer(res.stdout[: len(res.stdout) // 2 * 2], dtype="<i2").astype(np.int16)
    if samples.size / SAMPLE_RATE > max_s:
        raise BadRequest(f"the audio is longer than {max_s:.0f} s", param="file", code="audio_too_long")
    return samples
