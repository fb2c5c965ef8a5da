"""Errors raised by the tts engine.

TtsError
├── TextRejectedError      (also a ValueError)
│   ├── EmptyTextError     nothing speakable is left after cleaning
│   └── TextTooLongError   the cleaned text is longer than ``max_chars``
├── VoiceNotFoundError     the configured voice model / config file does not exist
├── VoiceConfigError       the voice exists but a setting does not fit it (speaker, scales)
├── SynthesisError         piper failed while synthesizing
└── SpeechQueueClosedError the queue was closed; no more requests are accepted

A missing sound device is ``tars.audio.NoAudioDeviceError`` (shared by every worker).
"""

from __future__ import annotations


class TtsError(Exception):
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
