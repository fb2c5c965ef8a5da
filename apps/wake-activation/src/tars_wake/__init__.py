"""tars wake activation engine: openWakeWord detection and wake phrases in transcripts."""

from tars_wake.detector import (
    CHUNK_SAMPLES,
    WakeDetection,
    WakeDetector,
    WakeSettings,
    WakeWordDetector,
    builtin_models,
)
from tars_wake.errors import AudioFormatError, WakeError, WakeModelError, WakeNotLoadedError
from tars_wake.phrase import DEFAULT_PHRASES, PhraseMatch, PhraseWakeMatcher

__all__ = [
    "CHUNK_SAMPLES",
    "DEFAULT_PHRASES",
    "AudioFormatError",
    "PhraseMatch",
    "PhraseWakeMatcher",
    "WakeDetection",
    "WakeDetector",
    "WakeError",
    "WakeModelError",
    "WakeNotLoadedError",
    "WakeSettings",
    "WakeWordDetector",
    "builtin_models",
]
