"""tars speech-to-text engine: endpointing, Whisper transcription, filters, audio sources."""

from tars_stt.duplex import DuplexPolicy, DuplexSettings
from tars_stt.endpointer import (
    Endpointer,
    EndpointerSettings,
    EndpointEvent,
    PartialReady,
    SpeechStarted,
    UtteranceEnded,
)
from tars_stt.engine import DroppedTranscript, FinalTranscript, SttEngine
from tars_stt.errors import (
    AudioFormatError,
    ModelLoadError,
    ModelNotLoadedError,
    NoAudioDeviceError,
    SourceClosedError,
    SttError,
)
from tars_stt.filters import (
    DEFAULT_HALLUCINATIONS,
    EchoFilter,
    EchoSettings,
    EmptyFilter,
    FilterChain,
    HallucinationFilter,
    Rejection,
    TranscriptFilter,
    normalize,
)
from tars_stt.sources import AudioFanout, MicrophoneSource, QueueSource, WavFileSource, decode_pcm
from tars_stt.transcriber import (
    Transcriber,
    Transcription,
    WhisperSettings,
    WhisperTranscriber,
    bundled_model_path,
)
from tars_stt.vad import VoiceActivityDetector, WebRtcVad

__all__ = [
    "DEFAULT_HALLUCINATIONS",
    "AudioFanout",
    "AudioFormatError",
    "DroppedTranscript",
    "DuplexPolicy",
    "DuplexSettings",
    "EchoFilter",
    "EchoSettings",
    "EmptyFilter",
    "EndpointEvent",
    "Endpointer",
    "EndpointerSettings",
    "FilterChain",
    "FinalTranscript",
    "HallucinationFilter",
    "MicrophoneSource",
    "ModelLoadError",
    "ModelNotLoadedError",
    "NoAudioDeviceError",
    "PartialReady",
    "QueueSource",
    "Rejection",
    "SourceClosedError",
    "SpeechStarted",
    "SttEngine",
    "SttError",
    "Transcriber",
    "TranscriptFilter",
    "Transcription",
    "UtteranceEnded",
    "VoiceActivityDetector",
    "WavFileSource",
    "WebRtcVad",
    "WhisperSettings",
    "WhisperTranscriber",
    "bundled_model_path",
    "decode_pcm",
    "normalize",
]
