"""Errors raised by the speech-to-text engine.

Hierarchy::

    SttError
    ├── ModelLoadError        the Whisper model could not be found or loaded
    ├── ModelNotLoadedError   transcribe() called before load()
    └── SourceClosedError     push() into a QueueSource that was closed

Bad audio raises ``tars.audio.AudioFormatError`` (a ``ValueError``) and a missing sound device
raises ``tars.audio.NoAudioDeviceError``; both come from tars-core and are re-exported here.
"""

from __future__ import annotations

from tars.audio import AudioFormatError, NoAudioDeviceError


class SttError(Exception):
    """Base class of every error the speech-to-text engine raises itself."""


class ModelLoadError(SttError):
    """The speech model could not be located or loaded."""


class ModelNotLoadedError(SttError):
    """An inference call came before ``load()``."""


class SourceClosedError(SttError):
    """Audio was pushed into a source that has been closed."""


__all__ = [
    "AudioFormatError",
    "ModelLoadError",
    "ModelNotLoadedError",
    "NoAudioDeviceError",
    "SourceClosedError",
    "SttError",
]
