"""Where the command starts after a wake word: the pause after the wake word, found by VAD."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE
from tars_stt.vad import VoiceActivityDetector

Int16Array = npt.NDArray[np.int16]


def command_start(vad: VoiceActivityDetector, start_s: float, audio: Int16Array, wake_end_s: float,
                  *, search_s: float = 0.8, margin_s: float = 0.3) -> float:
    """The audio-clock time the command starts at, given the detector's ``wake_end_s``.

    openWakeWord fires a little after the wake word, often inside the next word: the cut goes
    to the start of the last pause (unvoiced frames after voiced ones) in the ``search_s`` before
    ``wake_end_s``; with no pause there (said in one run), ``margin_s`` before it.
    ``audio`` starts at ``start_s`` on the audio clock.
    """
    n = vad.frame_samples
    lo = max(0, round((wake_end_s - search_s - start_s) * SAMPLE_RATE))
    hi = min(audio.size, round((wake_end_s - start_s) * SAMPLE_RATE))
    flags = [vad.is_speech(audio[i:i + n]) for i in range(lo, hi - n + 1, n)]
    for k in range(len(flags) - 1, 0, -1):
        if not flags[k] and flags[k - 1]:
            return start_s + (lo + k * n) / SAMPLE_RATE
    return wake_end_s - margin_s
