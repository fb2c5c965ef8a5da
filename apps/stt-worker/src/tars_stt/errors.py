"""Errors raised by the speech-to-text engine, all under ``SttError`` (a ``TarsError``).

The tree of every tars error is drawn in ``tars.runtime.errors``. Bad audio raises
``tars.audio.AudioFormatError`` (a ``ValueError``) and a missing sound device raises
``tars.audio.NoAudioDeviceError``; both come from tars-core and are re-exported here.
"""

from __future__ import annotations

from tars.audio import AudioFormatError, NoAudioDeviceError
from tars.errors import TarsError


class SttError(TarsError):
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
