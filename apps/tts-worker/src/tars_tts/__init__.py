"""tars text-to-speech engine: piper synthesis, speech text cleaning, a phrase cache, queued playback."""

from tars_tts.cache import CacheStats, CachingSynthesizer, PhraseCache
from tars_tts.config import (
    DEFAULT_VOICE,
    CacheSettings,
    PlayerSettings,
    TextSettings,
    TtsSettings,
    VoiceSettings,
)
from tars_tts.errors import (
    EmptyTextError,
    SpeechQueueClosedError,
    SynthesisError,
    TextRejectedError,
    TextTooLongError,
    TtsError,
    VoiceConfigError,
    VoiceNotFoundError,
)
from tars_tts.events import (
    EndReason,
    EventHandler,
    SayRequest,
    SentenceSpoken,
    SpeakingEnded,
    SpeakingStarted,
    SpeechEvent,
)
from tars_tts.player import SpeechQueue
from tars_tts.sinks import CallbackSink, Pacer, WavFileSink
from tars_tts.speaker import SpeakerSink
from tars_tts.synth import AudioChunk, PiperSynthesizer, Synthesizer, resolve_voice
from tars_tts.text import clean_for_speech, speak_url, split_sentences

__version__ = "0.1.0"


def build_synthesizer(settings: TtsSettings | None = None) -> CachingSynthesizer:
    """The default engine: a piper voice behind a phrase cache (not loaded yet)."""
    s = settings or TtsSettings()
    cache = PhraseCache(s.cache.max_entries, s.cache.max_phrase_chars)
    return CachingSynthesizer(PiperSynthesizer(s.voice), cache)


__all__ = [
    "DEFAULT_VOICE",
    "AudioChunk",
    "CacheSettings",
    "CacheStats",
    "CachingSynthesizer",
    "CallbackSink",
    "EmptyTextError",
    "EndReason",
    "EventHandler",
    "Pacer",
    "PhraseCache",
    "PiperSynthesizer",
    "PlayerSettings",
    "SayRequest",
    "SentenceSpoken",
    "SpeakerSink",
    "SpeakingEnded",
    "SpeakingStarted",
    "SpeechEvent",
    "SpeechQueue",
    "SpeechQueueClosedError",
    "SynthesisError",
    "Synthesizer",
    "TextRejectedError",
    "TextSettings",
    "TextTooLongError",
    "TtsError",
    "TtsSettings",
    "VoiceConfigError",
    "VoiceNotFoundError",
    "VoiceSettings",
    "WavFileSink",
    "build_synthesizer",
    "clean_for_speech",
    "resolve_voice",
    "speak_url",
    "split_sentences",
]
