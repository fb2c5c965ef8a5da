"""The voice-activity seam and its WebRTC VAD implementation (webrtcvad-wheels)."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from tars.audio import SAMPLE_RATE


class VoiceActivityDetector(Protocol):
    """Classifies fixed-size frames of 16 kHz mono int16 audio as speech or not."""

    frame_samples: int

    def is_speech(self, frame: npt.NDArray[np.int16]) -> bool: ...


class WebRtcVad:
    """WebRTC VAD; ``aggressiveness`` 0 (keeps most audio) .. 3 (drops most non-speech)."""

    def __init__(self, aggressiveness: int = 2, frame_ms: int = 30) -> None:
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"VAD aggressiveness must be 0..3, got {aggressiveness}")
        if frame_ms not in (10, 20, 30):
            raise ValueError(f"WebRTC VAD frames are 10, 20 or 30 ms, got {frame_ms}")
        import webrtcvad  # type: ignore[import-untyped,unused-ignore]

        self._vad = webrtcvad.Vad(aggressiveness)
        self.frame_samples = SAMPLE_RATE * frame_ms // 1000

    def is_speech(self, frame: npt.NDArray[np.int16]) -> bool:
        return bool(self._vad.is_speech(frame.astype("<i2").tobytes(), SAMPLE_RATE))
