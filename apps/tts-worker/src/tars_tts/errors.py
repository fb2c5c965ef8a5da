"""Errors raised by the tts engine, all under ``TtsError`` (a ``TarsError``).

The tree of every tars error is drawn in ``tars.runtime.errors``. A missing sound device is
``tars.audio.NoAudioDeviceError`` (shared by every worker).
"""

from __future__ import annotations

from tars.errors import TarsError


class TtsError(TarsError):
    """Base class of every error the tts engine raises."""


class TextRejectedError(TtsError, ValueError):
    """The text cannot be spoken as given."""


class EmptyTextError(TextRejectedError):
    """Nothing speakable is left after cleaning."""


class TextTooLongError(TextRejectedError):
    """The cleaned text is longer than the configured limit."""

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(
            f"text too long to speak: {length} characters, limit is {limit} "
            "(setting tts.text.max_chars); send it in parts (stream=true) or shorten it"
        )
        self.length = length
        self.limit = limit


class VoiceNotFoundError(TtsError):
    """The configured voice model or its config file does not exist."""


class VoiceConfigError(TtsError):
    """A voice setting does not fit the loaded voice."""


class SynthesisError(TtsError):
    """Piper failed while synthesizing."""


class SpeechQueueClosedError(TtsError):
    """The speech queue was closed."""


__all__ = [
    "EmptyTextError",
    "SpeechQueueClosedError",
    "SynthesisError",
    "TextRejectedError",
    "TextTooLongError",
    "TtsError",
    "VoiceConfigError",
    "VoiceNotFoundError",
]
