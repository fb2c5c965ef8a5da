"""Speech-to-text payloads."""

from __future__ import annotations

from typing import Literal

from tars.contracts.envelope import Payload


class SttPartial(Payload):
    """Interim text while an utterance is still going."""

    text: str
    speech_start_s: float
    audio_s: float


class SttFinal(Payload):
    """The transcript of one utterance, with timings on the audio clock and the wall clock."""

    text: str
    language: str = "en"
    confidence: float = 0.0
    speech_start_s: float = 0.0
    speech_end_s: float = 0.0
    speech_end_ts: float = 0.0
    audio_s: float = 0.0
    transcribe_ms: float = 0.0


class SttControl(Payload):
    action: Literal["mute", "unmute"]


class SttState(Payload):
    muted: bool
    listening: bool = True
