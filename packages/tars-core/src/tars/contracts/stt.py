"""Speech-to-text payloads."""

from __future__ import annotations

from typing import Literal

from tars.contracts.audio import AudioPurpose
from tars.contracts.envelope import Payload


class SttPartial(Payload):
    """Interim text while an utterance is still going."""

    text: str
    speech_start_s: float
    audio_s: float
    speculative: bool = False
    """True: the transcript of the audio up to a pause that may be the end of the utterance
    (the endpoint is not decided yet); the final follows, or speech resumes."""
    purpose: AudioPurpose = "turn"


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
    speech_start_ts: float = 0.0
    """Wall clock when the audio where speech started had arrived."""
    endpoint_ts: float = 0.0
    """Wall clock when the endpoint (end of the utterance) was decided."""
    final_ts: float = 0.0
    """Wall clock when this final was ready to publish."""
    purpose: AudioPurpose = "turn"
    """The purpose of the audio it came from: "transcription" finals never become turns."""


class SttControl(Payload):
    action: Literal["mute", "unmute"]


class SttState(Payload):
    muted: bool
    listening: bool = True
