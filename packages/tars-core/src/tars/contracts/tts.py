"""Text-to-speech payloads: say, status, control."""

from __future__ import annotations

from typing import Literal

from tars.contracts.envelope import Payload


class TtsSay(Payload):
    """Speak ``text``; a streamed reply arrives as several parts, the last with ``final``."""

    text: str
    voice: str | None = None
    stream: bool = False
    final: bool = True
    index: int = 0
    # Also stream this reply's audio as frames on tars/audio/{site}/out (the envelope's site),
    # whatever the worker's own sinks are: for a remote satellite or a client recording it.
    audio_out: bool = False
    # Only synthesize the text and keep its audio, playing nothing: the say of the same text (same
    # correlation id and index) that may follow starts at once. Sent on a speculative transcript.
    prepare: bool = False


class TtsStatus(Payload):
    event: Literal["started", "sentence_done", "ended", "paused", "resumed"]
    text: str = ""
    index: int = 0
    first_sample_ts: float | None = None
    """"started": wall clock of the first sample written to the sink."""
    first_audio_ts: float | None = None
    """"started": wall clock of the first audio synthesized for the reply."""
    audio_s: float = 0.0
    reason: str | None = None
    path: str | None = None


class TtsControl(Payload):
    """Stop (one correlation id, or all when none is given), pause, resume, or set volume."""

    action: Literal["stop", "pause", "resume", "volume"]
    target: str | None = None
    volume: float | None = None
